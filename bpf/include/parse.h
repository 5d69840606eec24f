/* parse.h: a header cursor and one bounds-checked parser per header
 * (Ethernet, VLAN tags, IPv4, IPv6, UDP), each advancing the cursor, and
 * parse_l2l4, which walks them up to the DNS payload of a query to one of
 * our ports and addresses, with the checks of accept.h. */
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

#include "shared.h"
#include "maps.h"
#include "dns.h"
#include "accept.h"

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

/* parse_vlans walks the VLAN tags after the Ethernet header, at most
 * budget of them (XDPDNS_MAX_VLANS less any tag the kernel already took
 * off), each of a served VLAN id. Returns the inner EtherType (network
 * order), or -(counter) of the reason to pass. */
static __always_inline int parse_vlans(struct cursor *c, __be16 proto, int budget)
{
	int i;

#pragma unroll
	for (i = 0; i < XDPDNS_MAX_VLANS; i++) {
		struct vlan_hdr *v = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			return proto;
		if (i >= budget)
			return -CNT_PASS_VLAN;
		if ((void *)(v + 1) > c->end)
			return -CNT_PASS_NOT_DNS;
		if (accept_vlan(bpf_ntohs(v->tci) & 0x0fff) >= 0)
			return -CNT_PASS_VLAN;
		proto = v->proto;
		c->pos = v + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q_) || proto == bpf_htons(ETH_P_8021AD_))
		return -CNT_PASS_VLAN; /* more tags than walked */
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

/* served_port reports whether port (host order) is in config.ports. */
static __always_inline int served_port(const struct config *cfg, __u16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < XDPDNS_MAX_PORTS; i++)
		if (cfg->ports[i] != 0 && cfg->ports[i] == port)
			return 1;
	return 0;
}

/* parse_l2l4 walks Ethernet, VLANs, IP and UDP up to the DNS payload of
 * the frame [data, data_end), received on ifindex with vid the VLAN tag
 * the kernel took off (XDPDNS_NO_VLAN: none), and judges everything a
 * kernel would before delivering it to our socket (accept.h) except the
 * UDP checksum, which needs the payload (udp_query_ok). Returns -1 to go
 * on, or the counter of the reason to pass (CNT_DROP_SOURCE_PORT: drop). */
static __always_inline int parse_l2l4(void *data, void *data_end, const struct config *cfg,
                                      __u32 ifindex, int vid, struct query *q)
{
	struct cursor c = {.pos = data, .end = data_end};
	struct addr_key key = {.prefixlen = 128};
	struct iphdr *ip;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	struct udphdr *udp;
	__u32 frame = data_end - data, ulen, iplen;
	int proto, r, ipr, budget = XDPDNS_MAX_VLANS;

	proto = parse_ethhdr(&c, &eth);
	if (proto < 0)
		return CNT_PASS_NOT_DNS;
	if (vid != XDPDNS_NO_VLAN) {
		if (accept_vlan(vid) >= 0)
			return CNT_PASS_VLAN;
		budget--;
	}
	proto = parse_vlans(&c, proto, budget);
	if (proto < 0)
		return -proto;
	q->l3_off = c.pos - data;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (parse_iphdr(&c, &ip) < 0)
			return CNT_PASS_NOT_DNS;
		if (ip->version != 4)
			return CNT_PASS_BAD_HEADER;
		if (ip->protocol != IPPROTO_UDP)
			return CNT_PASS_NOT_DNS;
		if (ip->ihl < 5)
			return CNT_PASS_BAD_HEADER;
		if (ip->ihl > 5)
			return CNT_PASS_IPV4_OPTIONS;
		if (ip->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_))
			return CNT_PASS_IPV4_FRAG;
		iplen = bpf_ntohs(ip->tot_len);
		if (iplen < sizeof(*ip) + sizeof(*udp) || iplen > frame - q->l3_off)
			return CNT_PASS_BAD_HEADER;
		iplen -= sizeof(*ip); /* the IP payload */
		/* Judged here, reported once the packet is known to be for a
		 * served port: anything else is not_dns whatever its state. */
		ipr = accept_dest4(ip);
		if (ipr < 0 && !ipv4_header_ok(ip))
			ipr = CNT_PASS_BAD_CSUM;
		if (ipr < 0)
			ipr = accept_source4(ip, ifindex);
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->daddr, 4);
		__builtin_memcpy(q->saddr, &ip->saddr, 4);
		q->v6 = 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (parse_ipv6hdr(&c, &ip6) < 0)
			return CNT_PASS_NOT_DNS;
		if (ip6->version != 6)
			return CNT_PASS_BAD_HEADER;
		switch (ip6->nexthdr) {
		case IPPROTO_UDP:
			break;
		case IPPROTO_TCP:
		case IPPROTO_ICMPV6:
		case IPPROTO_NONE:
			return CNT_PASS_NOT_DNS;
		default:
			return CNT_PASS_IPV6_EXT;
		}
		iplen = bpf_ntohs(ip6->payload_len);
		if (iplen < sizeof(*udp) || iplen > frame - q->l3_off - sizeof(*ip6))
			return CNT_PASS_BAD_HEADER; /* 0: a jumbogram */
		ipr = accept_dest6(ip6);
		if (ipr < 0)
			ipr = accept_source6(ip6, ifindex);
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		__builtin_memcpy(q->saddr, &ip6->saddr, 16);
		q->v6 = 1;
	} else {
		return CNT_PASS_NOT_DNS;
	}
	q->l4_off = c.pos - data;
	if (parse_udphdr(&c, &udp) < 0)
		return CNT_PASS_NOT_DNS;
	if (!served_port(cfg, bpf_ntohs(udp->dest)))
		return CNT_PASS_NOT_DNS;
	r = accept_mac(eth, ifindex);
	if (r >= 0)
		return r;
	if (ipr == CNT_PASS_NOT_OUR_ADDR)
		return ipr;
	if (!cfg->any_addr && !bpf_map_lookup_elem(&served_addrs, &key))
		return CNT_PASS_NOT_OUR_ADDR;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) || ulen > iplen)
		return CNT_PASS_BAD_HEADER;
	if (ulen < sizeof(*udp) + DNS_HDR_LEN)
		return CNT_PASS_MALFORMED;
	if (ipr >= 0)
		return ipr;
	if (q->v6 && udp->check == 0)
		return CNT_PASS_BAD_CSUM;
	r = accept_source_port(bpf_ntohs(udp->source));
	if (r >= 0)
		return r;
	q->dns_off = q->l4_off + sizeof(*udp);
	q->dlen = ulen - sizeof(*udp);
	return -1;
}

#endif
