// Package e2e holds xdpdns's end-to-end tests: the real xdpdnsd and
// xdpdnsctl binaries, a pair of network namespaces joined by a veth pair,
// the XDP program on the server's veth (native and generic mode), and
// dig, kdig, dnsperf, a Go client and 802.1Q-tagged frames from a packet
// socket in the client namespace (the kernel here has no VLAN devices).
//
// The tests need root (CAP_SYS_ADMIN for namespaces, CAP_BPF and
// CAP_NET_ADMIN for XDP) and skip without it. Every namespace, process
// and XDP attachment a test makes is removed in its cleanup, also when
// it fails.
package e2e
