// Package e2e holds xdpdns's end-to-end tests: the real xdpdnsd and
// xdpdnsctl binaries, a pair of network namespaces joined by a veth pair
// (with an 802.1Q VLAN on top), native XDP on the server's veth, and
// dig, kdig, dnsperf and a Go client in the client namespace.
//
// The tests need root (CAP_SYS_ADMIN for namespaces, CAP_BPF and
// CAP_NET_ADMIN for XDP) and skip without it. Every namespace, process
// and XDP attachment a test makes is removed in its cleanup, also when
// it fails.
package e2e
