// Command xdpdnsctl controls a running xdpdnsd over its control socket.
//
// Usage:
//
//	xdpdnsctl [--control PATH] [--timeout DURATION] COMMAND [--json] [ARGS]
//
//	reload [ZONE]   reload one zone, or every zone; a zone that does not
//	                load is reported as FILE:LINE: reason and nothing changes
//	status          version, uptime, listen addresses, zones, XDP state
//	stats           query counters by transport and answer kind, XDP counters
//	bgp             BGP peers, announced routes, health and drain state
//	drain           withdraw the anycast routes until undrain
//	undrain         announce again once (and while) healthy
//
// --json prints the daemon's result as JSON instead of a table. Exit
// status: 0 on success, 1 when the daemon refused or failed the command,
// 2 when the daemon cannot be reached or on a usage error.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
