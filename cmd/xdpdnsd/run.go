package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/xdpdns/xdpdns/daemon"
	"github.com/xdpdns/xdpdns/internal/buildinfo"
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
	if o.version {
		fmt.Fprintln(stdout, buildinfo.Version())
		return exitOK
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitUsage
	}
	cfg, err := buildConfig(o)
	if err != nil {
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	if o.configFile == "" && len(cfg.Zones) == 0 && len(cfg.Secondaries) == 0 {
		fmt.Fprint(stderr, "xdpdnsd: nothing to serve: give a configuration file or zones\n"+
			"usage: xdpdnsd -c FILE [FLAGS]  or  xdpdnsd --zone ORIGIN=FILE... [FLAGS]  (xdpdnsd --help lists the flags)\n")
		return exitUsage
	}
	if o.checkConfig {
		return checkConfig(cfg, stdout, stderr)
	}
	if len(cfg.Zones) == 0 {
		log.Warn("no zones configured; every query will be refused")
	}
	early := newEarlyXDP(cfg)
	d, err := daemon.NewWith(cfg, log, daemon.Hooks{BootImage: early.hook()})
	if err != nil {
		early.close()
		fmt.Fprintf(stderr, "xdpdnsd: %v\n", err)
		return exitError
	}
	if cfg.Anycast() {
		ann, err := newAnnouncer(cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "xdpdnsd: bgp: %v\n", err)
			early.close()
			d.Close()
			return exitError
		}
		d.SetAnnouncer(ann)
	}
	if len(cfg.XDP) > 0 {
		if err := startXDP(cfg, d, log, early); err != nil {
			early.close()
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
	// SIGHUP reloads in the background, so that the signal loop is
	// always free for SIGTERM; SIGHUPs that arrive while a reload runs
	// are folded into one more reload after it.
	hups := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hups:
				log.Info("SIGHUP: reloading zones")
				d.Reload() // logs its own failure and keeps the old zones
			}
		}
	}()
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			select {
			case hups <- struct{}{}:
			default: // a reload is already pending
			}
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
