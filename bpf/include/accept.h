/* accept.h: what the program accepts beyond a well-formed query, so that it
 * answers only frames the kernel would have delivered to our socket: sent
 * to our MAC on a configured VLAN, from a possible source (RFC 1122
 * §3.2.1.3), not from a reflection port, with correct checksums. Each check
 * returns -1 to go on, or the counter of the reason to pass (or drop). */
#ifndef XDPDNS_ACCEPT_H
#define XDPDNS_ACCEPT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "shared.h"
#include "maps.h"
#include "common.h"
#include "csum.h"

/* No VLAN tag taken off by the kernel (tc: skb->vlan_present clear). */
#define XDPDNS_NO_VLAN (-1)

/* accept_mac: the destination MAC is unicast and, on an interface the
 * loader recorded (iface_macs), that interface's. */
static __always_inline int accept_mac(const struct ethhdr *eth, __u32 ifindex)
{
	const struct mac_val *m;

	if (eth->h_dest[0] & 1) /* group bit: broadcast or multicast */
		return CNT_PASS_NOT_OUR_MAC;
	m = bpf_map_lookup_elem(&iface_macs, &ifindex);
	if (m && (*(const __u32 *)eth->h_dest != *(const __u32 *)m->mac ||
	          *(const __u16 *)&eth->h_dest[4] != *(const __u16 *)&m->mac[4]))
		return CNT_PASS_NOT_OUR_MAC;
	return -1;
}

/* accept_vlan: VLAN id vid (from a tag's TCI, host order) is served. */
static __always_inline int accept_vlan(__u32 vid)
{
	const __u8 *ok;

	vid &= XDPDNS_VLAN_IDS - 1;
	ok = bpf_map_lookup_elem(&vlan_ids, &vid);
	return ok && *ok ? -1 : CNT_PASS_VLAN;
}

/* The loopback interface's index in every network namespace: there, and
 * only there, the host talks to itself (127/8 and ::1, source ==
 * destination), as the kernel allows. */
#define XDPDNS_LOOPBACK_IFINDEX 1

/* accept_source4: not 0.0.0.0/8, multicast or 240.0.0.0/4 (broadcast
 * included); off loopback, not 127.0.0.0/8 nor the destination itself. */
static __always_inline int accept_source4(const struct iphdr *ip, __u32 ifindex)
{
	__u32 a = bpf_ntohl(ip->saddr);

	if ((a >> 24) == 0 || (a >> 28) >= 0xe)
		return CNT_PASS_BAD_SOURCE;
	if (ifindex != XDPDNS_LOOPBACK_IFINDEX && ((a >> 24) == 127 || ip->saddr == ip->daddr))
		return CNT_PASS_BAD_SOURCE;
	return -1;
}

/* accept_dest4: never a multicast or broadcast destination (with any_addr
 * the served set is every other address). */
static __always_inline int accept_dest4(const struct iphdr *ip)
{
	return (bpf_ntohl(ip->daddr) >> 28) >= 0xe ? CNT_PASS_NOT_OUR_ADDR : -1;
}

/* accept_source6: not ::, IPv4-mapped or multicast; off loopback, not ::1
 * nor the destination itself. */
static __always_inline int accept_source6(const struct ipv6hdr *ip6, __u32 ifindex)
{
	const __u32 *a = ip6->saddr.in6_u.u6_addr32;
	const __u32 *d = ip6->daddr.in6_u.u6_addr32;

	if (a[0] == 0 && a[1] == 0 && ((a[2] == 0 && a[3] == 0) || a[2] == bpf_htonl(0xffff)))
		return CNT_PASS_BAD_SOURCE;
	if ((a[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000))
		return CNT_PASS_BAD_SOURCE;
	if (ifindex == XDPDNS_LOOPBACK_IFINDEX)
		return -1;
	if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1))
		return CNT_PASS_BAD_SOURCE;
	if (a[0] == d[0] && a[1] == d[1] && a[2] == d[2] && a[3] == d[3])
		return CNT_PASS_BAD_SOURCE;
	return -1;
}

/* accept_dest6: never a multicast destination. */
static __always_inline int accept_dest6(const struct ipv6hdr *ip6)
{
	return ip6->daddr.in6_u.u6_addr8[0] == 0xff ? CNT_PASS_NOT_OUR_ADDR : -1;
}

/* accept_source_port: the source port (host order) is not in drop_ports:
 * port 0 and the well-known services that answer anything (a reply there
 * starts a loop); those queries are dropped, counted. */
static __always_inline int accept_source_port(__u16 port)
{
	__u32 w = port >> 6;
	const __u64 *bits = bpf_map_lookup_elem(&drop_ports, &w);

	if (bits && (*bits >> (port & 63)) & 1)
		return CNT_DROP_SOURCE_PORT;
	return -1;
}

/* ipv4_header_ok: the 20-byte IPv4 header's checksum verifies. */
static __always_inline int ipv4_header_ok(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	return csum_fold(sum) == 0;
}

/* udp_query_ok verifies the query's UDP checksum: the pseudo-header and
 * UDP header from the frame [data, data_end) at the offsets the parser
 * found, the payload from the scratch buffer (loaded whole: q->avail ==
 * q->dlen, zero padded). A zero checksum is "none" over IPv4 and invalid
 * over IPv6 (RFC 8200 §8.1). Returns 1 when it verifies.
 *
 * On loopback the check is skipped: the host's own datagrams carry only
 * the partial sum of checksum offload (CHECKSUM_PARTIAL), which the kernel
 * trusts. A frame from a NIC always carries the full checksum; so does a
 * forwarded one. (A veth carrying a local socket's datagrams from another
 * namespace carries partial sums too: test rigs turn tx checksum offload
 * off on the sending end.) */
static __always_inline int udp_query_ok(void *data, void *data_end, struct scratch *s,
                                        const struct query *q, __u32 ifindex)
{
	__u32 l3 = q->l3_off, l4 = q->l4_off;
	struct udphdr *udp;
	__u64 sum;

	BOUND_HDR_OFFSETS(l3, l4);
	udp = data + l4;
	if ((void *)(udp + 1) > data_end)
		return 0;
	if (udp->check == 0)
		return !q->v6;
	if (ifindex == XDPDNS_LOOPBACK_IFINDEX)
		return 1;
	if (q->avail != q->dlen)
		return 0;
	sum = payload_csum(s, q->dlen, 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)udp, sizeof(*udp), sum);
	if (q->v6) {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		sum = pseudo6_csum(&ip6->saddr, &ip6->daddr, bpf_ntohs(udp->len), sum);
	} else {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > data_end)
			return 0;
		sum = pseudo4_csum(ip->saddr, ip->daddr, bpf_ntohs(udp->len), sum);
	}
	return csum_fold(sum) == 0;
}

#endif
