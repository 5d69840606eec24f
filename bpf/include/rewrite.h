/* rewrite.h: turning the query frame into the reply frame: resizing it
 * (at the tail, or at the front when there is no tailroom) and rewriting
 * the L2-L4 headers (addresses and ports swapped, lengths, TTL, both
 * checksums). */
#ifndef XDPDNS_REWRITE_H
#define XDPDNS_REWRITE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.h"
#include "common.h"
#include "csum.h"

/* IPv4 TTL and IPv6 hop limit of every reply. */
#define REPLY_TTL 64

/* grow_head makes the frame delta bytes longer at the front when there is
 * no room at the tail (native XDP on veth often gives frames without
 * tailroom; the headroom is XDP_PACKET_HEADROOM), moving the L2-L4
 * headers to the new start so the DNS payload keeps its offset. */
static __always_inline int grow_head(struct xdp_md *ctx, const struct query *q, int delta)
{
	__u8 hdr[XDPDNS_MAX_HDRS];
	__u32 n = q->dns_off;

	if (delta <= 0 || delta > XDPDNS_MAX_HEAD_GROW || n >= XDPDNS_MAX_HDRS)
		return -1;
	/* Keep the mask where the verifier sees it (n is read from a map). */
	asm volatile("" : "+r"(n));
	n &= XDPDNS_MAX_HDRS - 1;
	if (n < sizeof(struct ethhdr))
		return -1;
	if (bpf_xdp_load_bytes(ctx, 0, hdr, n))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, hdr, n))
		return -1;
	return 0;
}

/* rewrite_headers turns the query frame [data, data_end), already resized
 * and holding the reply payload of len bytes from the scratch buffer at
 * q->dns_off, into the reply: MAC, IP addresses and ports swapped,
 * lengths, TTL/hop limit and both checksums set. Returns 0, or -1 if the
 * frame is shorter than the headers the parser found. */
static __always_inline int rewrite_headers(void *data, void *data_end, struct scratch *s,
                                           const struct query *q, __u32 len)
{
	__u32 l3 = q->l3_off, l4 = q->l4_off;
	__u16 ulen = sizeof(struct udphdr) + len;
	struct ethhdr *eth;
	struct udphdr *udp;
	__u8 mac[ETH_ALEN];
	__u64 sum;
	__u16 port;

	BOUND_HDR_OFFSETS(l3, l4);
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	udp = data + l4;
	if ((void *)(udp + 1) > data_end)
		return -1;
	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(ulen);
	udp->check = 0;
	sum = payload_csum(s, len, 0);

	if (q->v6) {
		struct ipv6hdr *ip6 = data + l3;
		struct in6_addr a;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = REPLY_TTL;
		ip6->payload_len = bpf_htons(ulen);
		sum = pseudo6_csum(&ip6->saddr, &ip6->daddr, ulen, sum);
	} else {
		struct iphdr *ip = data + l3;
		__be32 a;

		if ((void *)(ip + 1) > data_end)
			return -1;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->ttl = REPLY_TTL;
		ip->tot_len = bpf_htons(sizeof(*ip) + ulen);
		ipv4_csum(ip);
		sum = pseudo4_csum(ip->saddr, ip->daddr, ulen, sum);
	}
	/* The UDP header itself (checksum field 0). */
	sum = bpf_csum_diff(0, 0, (__be32 *)udp, sizeof(*udp), sum);
	udp->check = csum_fold(sum);
	if (udp->check == 0)
		udp->check = 0xffff;
	return 0;
}

/* resize_xdp makes the frame exactly long enough for a reply payload of
 * len bytes at q->dns_off: at the tail, or, when the frame has no
 * tailroom, at the front (grow_head). Returns 0, or -1 when it cannot grow
 * enough (the tc ingress program then answers, see xdpdns_tc). */
static __always_inline int resize_xdp(struct xdp_md *ctx, const struct query *q, __u32 len)
{
	int delta = (int)(q->dns_off + len) - (int)bpf_xdp_get_buff_len(ctx);

	if (delta && bpf_xdp_adjust_tail(ctx, delta) && grow_head(ctx, q, delta))
		return -1;
	return 0;
}

#endif
