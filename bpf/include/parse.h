/* parse.h: a header cursor and one bounds-checked parser per header
 * (Ethernet, VLAN tags, IPv4, IPv6, UDP); each advances the cursor. */
#ifndef XDPDNS_PARSE_H
#define XDPDNS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Most VLAN tags walked (802.1Q, and 802.1ad outer tag for QinQ). */
#define XDPDNS_MAX_VLANS 2

#define ETH_P_8021AD_ 0x88A8
#define ETH_P_8021Q_  0x8100

/* IPv4 flags/fragment-offset field: more fragments and offset bits. */
#define IP_MF_      0x2000
#define IP_OFFMASK_ 0x1fff

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* cursor walks the packet from pos; end is data_end. */
struct cursor {
	void *pos;
	void *end;
};

/* parse_ethhdr reads the Ethernet header and returns its EtherType
 * (network order), or -1 when the packet is too short. */
static __always_inline int parse_ethhdr(struct cursor *c, struct ethhdr **eth)
{
	struct ethhdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return -1;
	c->pos = h + 1;
	*eth = h;
	return h->h_proto;
}

/* parse_vlans skips up to XDPDNS_MAX_VLANS VLAN tags after the Ethernet
 * header and returns the inner EtherType (network order), or -1. */
static __always_inline int parse_vlans(struct cursor *c, __be16 proto)
{
	int i;

#pragma unroll
	for (i = 0; i < XDPDNS_MAX_VLANS; i++) {
		struct vlan_hdr *v = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			break;
		if ((void *)(v + 1) > c->end)
			return -1;
		proto = v->proto;
		c->pos = v + 1;
	}
	return proto;
}

/* parse_iphdr reads an IPv4 header; returns 0, or -1 when truncated.
 * Options and fragments are the caller's to judge. */
static __always_inline int parse_iphdr(struct cursor *c, struct iphdr **ip)
{
	struct iphdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return -1;
	c->pos = h + 1;
	*ip = h;
	return 0;
}

/* parse_ipv6hdr reads the fixed IPv6 header; returns 0, or -1. */
static __always_inline int parse_ipv6hdr(struct cursor *c, struct ipv6hdr **ip6)
{
	struct ipv6hdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return -1;
	c->pos = h + 1;
	*ip6 = h;
	return 0;
}

/* parse_udphdr reads the UDP header; returns 0, or -1. */
static __always_inline int parse_udphdr(struct cursor *c, struct udphdr **udp)
{
	struct udphdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return -1;
	c->pos = h + 1;
	*udp = h;
	return 0;
}

#endif
