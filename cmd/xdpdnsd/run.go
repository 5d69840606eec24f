package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/xdpdns/xdpdns/daemon"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run is the whole daemon: it parses args, starts serving, and handles
// signals from sigs until told to stop. It returns the exit code.
func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: --log-level: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := buildConfig(o)
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	if o.checkConfig {
		return checkConfig(cfg, stdout, stderr)
	}
	if len(cfg.Zones) == 0 {
		log.Warn("no zones configured; every query will be refused")
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	if cfg.Anycast() {
		ann, err := newAnnouncer(cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "xdpdnsd: bgp: %v\n", err)
			d.Close()
			return exitError
		}
		d.SetAnnouncer(ann)
	}
	if len(cfg.XDP) > 0 {
		if err := startXDP(cfg, d, log); err != nil {
			fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
			d.Close()
			return exitError
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	setupSystemd(ctx, d, log)
	if err := d.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	addrs := make([]string, 0, len(d.Addrs()))
	for _, a := range d.Addrs() {
		addrs = append(addrs, a.String())
	}
	fmt.Fprintf(stdout, "xdpdnsd: serving %d zones on %s\n", len(d.Engine().Zones().Zones()), strings.Join(addrs, " "))
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			log.Info("SIGHUP: reloading zones")
			d.Reload() // logs its own failure and keeps the old zones
			continue
		}
		log.Info("stopping", "signal", sig.String())
		break
	}
	if err := d.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return exitError
	}
	log.Info("stopped")
	return exitOK
}
