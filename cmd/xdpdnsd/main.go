// Command xdpdnsd is xdpdns's authoritative DNS server daemon.
//
// Usage:
//
//	xdpdnsd [-c FILE] [--zone ORIGIN=FILE]... [--listen ADDR:PORT]...
//	        [--identity S] [--nsid S|hex:H] [--version-string S] [--hide-version]
//	        [--axfr-allow PREFIX]... [--control PATH] [--xdp IFACE[:MODE]]...
//
// SIGHUP reloads the zones (keeping the old ones if the new ones fail to
// load); SIGTERM and SIGINT stop the daemon. xdpdnsctl talks to it over
// the control socket (--control). See docs/CONFIG.md.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sigs))
}
