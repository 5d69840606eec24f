//go:build ignore

/* xdpdns.c: the XDP program. It parses a UDP DNS query, finds the longest
 * existing suffix of the query name in the live generation's maps and
 * answers from a template the zone compiler rendered with the userspace
 * engine (XDP_TX), byte for byte what the engine would send; everything
 * else goes to the kernel (XDP_PASS) with a counted reason. Its companion
 * at tc ingress (xdpdns_tc) answers, from the same maps and code, the
 * replies that did not fit the XDP frame. */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "shared.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* EDNS options examined in one OPT record (the engine's MaxOptions). */
#define XDPDNS_MAX_OPTIONS 64

#define BUF_MASK (XDPDNS_BUF_SIZE - 1)

#define DNS_HDR_LEN 12
#define DNS_QR      0x8000
#define DNS_OPCODE  0x7800
#define DNS_TC      0x0200
#define DNS_RD      0x0100
#define DNS_CD      0x0010
#define TYPE_OPT    41
#define TYPE_RRSIG  46
#define TYPE_TKEY   249
#define TYPE_ANY    255
#define CLASS_IN    1
#define CLASS_CH    3
#define EDNS_DO     0x8000
#define OPT_NSID    3
#define OPT_RR_LEN  11
#define MIN_UDP     512
#define REPLY_TTL   64

#define H1_BASIS 0xcbf29ce484222325ULL
#define H1_PRIME 0x100000001b3ULL
#define H2_BASIS 0x84222325cbf29ce4ULL
#define H2_MULT  0x9e3779b97f4a7c15ULL

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += 1;
}

static __always_inline int pass(__u32 reason)
{
	count(reason);
	return XDP_PASS;
}

/* bound masks a buffer offset in a way the compiler cannot drop even when
 * it proves the mask redundant: the verifier needs it on the register that
 * indexes the buffer. */
static __always_inline __u32 bound(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & BUF_MASK;
}

static __always_inline __u16 get16(const struct scratch *s, __u32 off)
{
	return (__u16)s->buf[bound(off)] << 8 | s->buf[bound(off + 1)];
}

static __always_inline void put16(struct scratch *s, __u32 off, __u16 v)
{
	s->buf[bound(off)] = v >> 8;
	s->buf[bound(off + 1)] = v & 0xff;
}

static __always_inline __u8 lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
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
 * the frame [data, data_end). Returns -1 to go on, or the counter of the
 * reason to pass. */
static __always_inline int parse_l2l4(void *data, void *data_end, const struct config *cfg,
                                      struct query *q)
{
	struct cursor c = {.pos = data, .end = data_end};
	struct addr_key key = {.prefixlen = 128};
	struct ethhdr *eth;
	struct iphdr *ip;
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	__u32 frame = data_end - data;
	__u32 ulen;
	int proto;

	proto = parse_ethhdr(&c, &eth);
	if (proto < 0)
		return CNT_PASS_NOT_DNS;
	proto = parse_vlans(&c, proto);
	if (proto < 0)
		return CNT_PASS_NOT_DNS;
	q->l3_off = c.pos - data;
	if (proto == bpf_htons(ETH_P_IP)) {
		if (parse_iphdr(&c, &ip) < 0 || ip->protocol != IPPROTO_UDP)
			return CNT_PASS_NOT_DNS;
		if (ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_)))
			return CNT_PASS_IPV4_FRAG;
		if (bpf_ntohs(ip->tot_len) > frame - q->l3_off)
			return CNT_PASS_MALFORMED;
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->daddr, 4);
		q->v6 = 0;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (parse_ipv6hdr(&c, &ip6) < 0)
			return CNT_PASS_NOT_DNS;
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
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		q->v6 = 1;
	} else {
		return CNT_PASS_NOT_DNS;
	}
	q->l4_off = c.pos - data;
	if (parse_udphdr(&c, &udp) < 0)
		return CNT_PASS_NOT_DNS;
	if (!served_port(cfg, bpf_ntohs(udp->dest)))
		return CNT_PASS_NOT_DNS;
	if (!cfg->any_addr && !bpf_map_lookup_elem(&served_addrs, &key))
		return CNT_PASS_NOT_DNS;
	ulen = bpf_ntohs(udp->len);
	if (ulen < sizeof(*udp) + DNS_HDR_LEN || ulen > frame - q->l4_off)
		return CNT_PASS_MALFORMED;
	if (!q->v6 && ulen > bpf_ntohs(ip->tot_len) - sizeof(*ip))
		return CNT_PASS_MALFORMED;
	q->dns_off = q->l4_off + sizeof(*udp);
	q->dlen = ulen - sizeof(*udp);
	return -1;
}

/* edns_option reads one EDNS option at s->w.p; it stops the walk at the
 * end of the OPT RDATA or on a truncated option. The walk's state is in
 * the scratch map (bpf_loop callback context: a pointer to the map value on
 * the stack), so the verifier sees one state however many options. */
static long edns_option(__u32 i, void *data)
{
	struct scratch *s = *(struct scratch **)data;
	struct walk *w = &s->w;
	__u32 p = w->p;
	__u16 olen;

	if (p >= w->end)
		return 1;
	if (p + 4 > w->end) {
		w->reason = CNT_PASS_MALFORMED;
		return 1;
	}
	if (p + 4 > w->avail) {
		w->reason = CNT_PASS_EDNS;
		return 1;
	}
	olen = get16(s, p + 2);
	if (p + 4 + olen > w->end) {
		w->reason = CNT_PASS_MALFORMED;
		return 1;
	}
	if (get16(s, p) == OPT_NSID)
		w->nsid = 1;
	w->p = p + 4 + olen;
	return 0;
}

/* hash_suffixes folds the lower-cased qname bytes, from the last label's
 * last byte back to the first, into both hashes; at each label start it
 * records the hash of the suffix from there (hash[k]: last k labels;
 * hash[0], the root, is the basis folded with the root's 0 byte). The
 * running hashes stay in registers; the label bookkeeping (w.next, w.k)
 * lives in the scratch map so that the verifier sees one state per byte
 * position. Returns the number of suffixes recorded. */
static __always_inline __u32 hash_suffixes(struct scratch *s, const struct query *q)
{
	__u64 h1 = (H1_BASIS ^ 0) * H1_PRIME, h2 = (H2_BASIS ^ 0) * H2_MULT + 1;
	__u32 qlen = q->qlen, i;

	s->hash[0].h1 = h1;
	s->hash[0].h2 = h2;
	s->w.next = q->nlabels;
	s->w.k = 0;
	for (i = 0; i < XDPDNS_MAX_QNAME - 1; i++) {
		__u32 pos, next;
		__u8 c;

		if (i + 2 > qlen)
			break;
		pos = qlen - 2 - i;
		c = lower(s->buf[bound(DNS_HDR_LEN + pos)]);
		h1 = (h1 ^ c) * H1_PRIME;
		h2 = (h2 ^ c) * H2_MULT + 1;
		next = s->w.next;
		if (next > 0 && pos == s->starts[(next - 1) & (XDPDNS_MAX_LABELS - 1)]) {
			__u32 k = s->w.k + 1;

			if (k > XDPDNS_MAX_LABELS)
				break;
			s->w.next = next - 1;
			s->w.k = k;
			s->hash[k].h1 = h1;
			s->hash[k].h2 = h2;
		}
	}
	return s->w.k;
}

/* parse_dns reads the DNS header, the question and the OPT record from the
 * scratch buffer and hashes every suffix of the lower-cased qname. Returns
 * -1 to go on, or the counter of the reason to pass. */
static __always_inline int parse_dns(struct scratch *s, const struct config *cfg, struct query *q)
{
	__u32 off = DNS_HDR_LEN, qend, i;
	struct scratch *sp = s; /* bpf_loop context */
	__u16 ar, cls;

	q->flags = get16(s, 2);
	ar = get16(s, 10);
	if ((q->flags & (DNS_QR | DNS_OPCODE | DNS_TC)) || get16(s, 4) != 1 || get16(s, 6) != 0 ||
	    get16(s, 8) != 0 || ar > 1)
		return CNT_PASS_OPCODE;

	/* qname: uncompressed labels, at most XDPDNS_MAX_LABELS. */
	q->nlabels = 0;
	for (i = 0; i <= XDPDNS_MAX_LABELS; i++) {
		__u8 l;

		if (off >= q->avail)
			return CNT_PASS_MALFORMED;
		l = s->buf[bound(off)];
		if (l & 0xc0)
			return CNT_PASS_MALFORMED;
		if (l == 0)
			break;
		if (i == XDPDNS_MAX_LABELS)
			return CNT_PASS_QNAME;
		s->starts[i] = off - DNS_HDR_LEN;
		q->nlabels = i + 1;
		off += l + 1;
		if (off - DNS_HDR_LEN > XDPDNS_MAX_QNAME)
			return CNT_PASS_QNAME;
	}
	off++;
	q->qlen = off - DNS_HDR_LEN;
	if (q->qlen > XDPDNS_MAX_QNAME)
		return CNT_PASS_QNAME;
	qend = off + 4;
	if (qend > q->avail)
		return CNT_PASS_MALFORMED;
	q->qtype = get16(s, off);
	q->qclass = get16(s, off + 2);

	/* EDNS: one OPT record ending the packet, or nothing after the
	 * question. */
	q->edns = 0;
	q->dobit = 0;
	q->nsid = 0;
	q->size = MIN_UDP;
	if (ar == 1) {
		__u32 o = qend, end;
		__u16 rdlen;

		if (o + OPT_RR_LEN > q->avail || s->buf[bound(o)] != 0 ||
		    get16(s, o + 1) != TYPE_OPT)
			return CNT_PASS_EDNS;
		rdlen = get16(s, o + 9);
		end = o + OPT_RR_LEN + rdlen;
		if (end != q->dlen)
			return CNT_PASS_EDNS;
		if (s->buf[bound(o + 6)] != 0) /* version */
			return CNT_PASS_EDNS;
		q->edns = 1;
		q->dobit = (get16(s, o + 7) & EDNS_DO) != 0;
		cls = get16(s, o + 3);
		if (cls > MIN_UDP)
			q->size = cls;
		if (q->size > cfg->udp_size)
			q->size = cfg->udp_size;
		s->w.p = o + OPT_RR_LEN;
		s->w.end = end;
		s->w.avail = q->avail;
		s->w.reason = -1;
		s->w.nsid = 0;
		bpf_loop(XDPDNS_MAX_OPTIONS, edns_option, &sp, 0);
		if (s->w.reason >= 0)
			return s->w.reason;
		q->nsid = s->w.nsid;
	} else if (qend != q->dlen) {
		return CNT_PASS_MALFORMED;
	}

	/* Suffix hashes, from the root's 0 byte backwards; hash[k] is the
	 * suffix of the last k labels. */
	if (hash_suffixes(s, q) != q->nlabels)
		return CNT_PASS_QNAME;
	return -1;
}

/* never_in_xdp lists the class IN query types the engine treats specially;
 * the program always passes them up. */
static __always_inline int never_in_xdp(__u16 t)
{
	return t == 0 || t == TYPE_OPT || t == TYPE_RRSIG || (t >= TYPE_TKEY && t <= TYPE_ANY);
}

/* find_template returns the template id for the query (0: none) or, via
 * *reason, a pass reason. gen is the live generation. */
static __always_inline __u32 find_template(struct scratch *s, struct query *q, __u32 gen,
                                           int *reason)
{
	struct answer_key ak = {};
	struct answer_val *av;
	struct name_val *nv = 0;
	void *nmap, *amap;
	__u32 i, found = 0;

	amap = bpf_map_lookup_elem(&answers, &gen);
	if (!amap) {
		*reason = CNT_PASS_NOZONE;
		return 0;
	}
	if (q->qclass == CLASS_CH) {
		__u32 n = q->nlabels;

		if (n > XDPDNS_MAX_LABELS)
			return 0;
		ak.h1 = s->hash[n].h1;
		ak.h2 = s->hash[n].h2;
		ak.qtype = q->qtype;
		ak.mode = XDPDNS_MODE_CHAOS;
		av = bpf_map_lookup_elem(amap, &ak);
		if (!av)
			return 0;
		return q->dobit ? av->tmpl[1] : av->tmpl[0];
	}
	if (q->qclass != CLASS_IN || never_in_xdp(q->qtype)) {
		*reason = CNT_PASS_QTYPE;
		return 0;
	}
	nmap = bpf_map_lookup_elem(&names, &gen);
	if (!nmap) {
		*reason = CNT_PASS_NOZONE;
		return 0;
	}
	/* Longest existing suffix: every ancestor of a name exists, so stop
	 * at the first miss. */
	for (i = 0; i <= XDPDNS_MAX_LABELS; i++) {
		struct name_val *v;

		if (i > q->nlabels)
			break;
		v = bpf_map_lookup_elem(nmap, &s->hash[i]);
		if (!v)
			break;
		nv = v;
		found = i;
		if (v->flags & XDPDNS_NF_LEAF)
			break; /* nothing below: no lookup that would miss */
	}
	if (!nv) {
		*reason = CNT_PASS_NOZONE;
		return 0;
	}
	ak.h1 = s->hash[found].h1;
	ak.h2 = s->hash[found].h2;
	ak.qtype = q->qtype;
	ak.mode = found == q->nlabels ? XDPDNS_MODE_EXACT : XDPDNS_MODE_BELOW;
	if (nv->flags &
	    (ak.mode == XDPDNS_MODE_EXACT ? XDPDNS_NF_EXACT_TYPED : XDPDNS_NF_BELOW_TYPED)) {
		av = bpf_map_lookup_elem(amap, &ak);
		if (av)
			return q->dobit ? av->tmpl[1] : av->tmpl[0];
	}
	if (ak.mode == XDPDNS_MODE_EXACT)
		return q->dobit ? nv->exact_default[1] : nv->exact_default[0];
	return q->dobit ? nv->below_default[1] : nv->below_default[0];
}

/* copy_chunks appends the template body after the question and relocates
 * its compression pointers. Returns the body's end offset, or 0 if the
 * template is inconsistent. */
static __always_inline __u32 copy_body(struct scratch *s, const struct tmpl *t, __u32 gen,
                                       __u32 qlen)
{
	__u32 bo = DNS_HDR_LEN + qlen + 4, n, i, j;
	void *cmap;

	if (t->body_len > XDPDNS_MAX_BODY || bo > DNS_HDR_LEN + XDPDNS_MAX_QNAME + 4)
		return 0;
	cmap = bpf_map_lookup_elem(&chunks, &gen);
	if (!cmap)
		return 0;
	n = (t->body_len + XDPDNS_CHUNK_SIZE - 1) / XDPDNS_CHUNK_SIZE;
	for (i = 0; i < XDPDNS_MAX_CHUNKS; i++) {
		__u32 idx = t->first_chunk + i, d = bo + i * XDPDNS_CHUNK_SIZE;
		const struct chunk *ch;
		const __u64 *src;
		__u64 *dst;

		if (i >= n)
			break;
		ch = bpf_map_lookup_elem(cmap, &idx);
		if (!ch || d > XDPDNS_BUF_SIZE - XDPDNS_CHUNK_SIZE)
			return 0;
		src = (const __u64 *)ch->b;
		dst = (__u64 *)&s->buf[bound(d)];
#pragma unroll
		for (j = 0; j < XDPDNS_CHUNK_SIZE / 8; j++)
			dst[j] = src[j];
	}
	for (i = 0; i < XDPDNS_MAX_RELOCS; i++) {
		__u32 r;

		if (i >= t->nrelocs)
			break;
		r = t->relocs[i];
		if (r + 2 > t->body_len)
			return 0;
		put16(s, bo + r, get16(s, bo + r) + qlen);
	}
	return bo + t->body_len;
}

/* put_opt writes our OPT record at off and returns the offset after it. */
static __always_inline __u32 put_opt(struct scratch *s, const struct config *cfg,
                                     const struct query *q, __u32 off, __u32 nsid_len)
{
	__u32 rdlen = nsid_len ? 4 + nsid_len : 0, j;
	const __u64 *src;
	__u64 *dst;

	if (off > XDPDNS_BUF_SIZE - 64)
		return 0;
	s->buf[off] = 0;
	put16(s, off + 1, TYPE_OPT);
	put16(s, off + 3, cfg->udp_size);
	put16(s, off + 5, 0); /* extended RCODE, version */
	put16(s, off + 7, q->dobit ? EDNS_DO : 0);
	put16(s, off + 9, rdlen);
	off += OPT_RR_LEN;
	if (!nsid_len)
		return off;
	put16(s, off, OPT_NSID);
	put16(s, off + 2, nsid_len);
	off += 4;
	/* The whole NSID field is copied; bytes past nsid_len lie beyond
	 * the reply or are overwritten. */
	src = (const __u64 *)cfg->nsid;
	dst = (__u64 *)&s->buf[bound(off)];
#pragma unroll
	for (j = 0; j < XDPDNS_MAX_NSID / 8; j++)
		dst[j] = src[j];
	return off + nsid_len;
}

/* udp_csum sums the reply payload in the scratch buffer (len bytes, zero
 * padded to a multiple of 4) in bpf_csum_diff-sized chunks. */
static __always_inline __u64 payload_csum(struct scratch *s, __u32 len, __u64 seed)
{
	__u32 padded = (len + 3) & ~3U, i;
	__s64 r;

	for (i = 0; i < XDPDNS_BUF_SIZE / XDPDNS_CSUM_CHUNK; i++) {
		__u32 off = i * XDPDNS_CSUM_CHUNK, n;

		if (off >= padded)
			break;
		n = padded - off;
		if (n > XDPDNS_CSUM_CHUNK)
			n = XDPDNS_CSUM_CHUNK;
		r = bpf_csum_diff(0, 0, (__be32 *)&s->buf[off], n & 0x3fc, seed);
		if (r < 0)
			return seed;
		seed = r;
	}
	return seed;
}

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

	/* Header offsets are at most 14 + 2 * 4 + 40: mask them where the
	 * verifier sees it. */
	asm volatile("" : "+r"(l3), "+r"(l4));
	l3 &= 127;
	l4 &= 127;
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
		struct {
			struct in6_addr src, dst;
			__be32 len;
			__u8 zero[3];
			__u8 next;
		} ph = {};

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = REPLY_TTL;
		ip6->payload_len = bpf_htons(ulen);
		ph.src = ip6->saddr;
		ph.dst = ip6->daddr;
		ph.len = bpf_htonl(ulen);
		ph.next = IPPROTO_UDP;
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), sum);
	} else {
		struct iphdr *ip = data + l3;
		__be32 a;
		struct {
			__be32 src, dst;
			__u8 zero;
			__u8 proto;
			__be16 len;
		} ph = {};

		if ((void *)(ip + 1) > data_end)
			return -1;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->ttl = REPLY_TTL;
		ip->tot_len = bpf_htons(sizeof(*ip) + ulen);
		ipv4_csum(ip);
		ph.src = ip->saddr;
		ph.dst = ip->daddr;
		ph.proto = IPPROTO_UDP;
		ph.len = bpf_htons(ulen);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), sum);
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

/* reply is what plan_reply decided for one query. */
struct reply {
	const struct tmpl *t; /* the template (a value in the live generation) */
	__u32 len;            /* reply payload bytes */
	__u32 kind;           /* engine answer kind (counter index offset) */
	__u32 nsid_len;       /* NSID bytes in the OPT record */
	int tc;               /* sent truncated (TC=1) */
};

/* plan_reply parses the DNS query loaded at the start of the scratch
 * buffer (q->avail bytes), picks the live generation's template and
 * decides the reply's size. Returns -1 with *r filled in, or the counter
 * of the reason to pass the query to userspace. Nothing is written yet,
 * so the XDP program can find out whether the frame has room before it
 * builds the reply. The XDP and the tc programs share plan_reply and
 * fill_reply, so both send the same bytes. */
static __always_inline int plan_reply(struct scratch *s, const struct config *cfg, __u32 gen,
                                      struct reply *r)
{
	struct query *q = &s->q;
	struct tmpl *t;
	void *tmap;
	__u32 id, len, full, req, opt_len = 0, nsid_len = 0;
	int reason, tc = 0;

	reason = parse_dns(s, cfg, q);
	if (reason >= 0)
		return reason;

	reason = CNT_PASS_NOTMPL;
	id = find_template(s, q, gen, &reason);
	if (id == XDPDNS_PASS)
		return reason;
	tmap = bpf_map_lookup_elem(&templates, &gen);
	if (!tmap)
		return CNT_PASS_NOTMPL;
	t = bpf_map_lookup_elem(tmap, &id);
	if (!t)
		return CNT_PASS_NOTMPL;

	if (q->edns) {
		opt_len = OPT_RR_LEN;
		if (q->nsid && cfg->nsid_len) {
			nsid_len = cfg->nsid_len;
			if (nsid_len > XDPDNS_MAX_NSID)
				nsid_len = XDPDNS_MAX_NSID;
			opt_len += 4 + nsid_len;
		}
	}
	full = DNS_HDR_LEN + q->qlen + 4 + t->body_len + opt_len;
	req = DNS_HDR_LEN + q->qlen + 4 + t->req_len + opt_len;
	if ((t->flags & XDPDNS_TF_TOOBIG) || full > q->size) {
		if (req <= q->size)
			return CNT_PASS_SIZE;
		tc = 1;
	}
	len = tc ? DNS_HDR_LEN + q->qlen + 4 + opt_len : full;
	if (len > XDPDNS_BUF_SIZE - 8 || q->l3_off > 127 || q->l4_off > 127)
		return CNT_PASS_TAIL;
	len = bound(len);
	if (len < DNS_HDR_LEN)
		return CNT_PASS_TAIL;
	r->t = t;
	r->len = len;
	r->kind = t->kind > 8 ? 8 : t->kind;
	r->nsid_len = nsid_len;
	r->tc = tc;
	return -1;
}

/* fill_reply builds the reply planned in *r over the query in the scratch
 * buffer: header, the question as received, the template's body with its
 * pointers relocated, OPT, and zero padding for the checksum. Returns 0,
 * or -1 if the maps do not hold what the plan read (a broken image). */
static __always_inline int fill_reply(struct scratch *s, const struct config *cfg, __u32 gen,
                                      const struct reply *r)
{
	const struct query *q = &s->q;
	const struct tmpl *t = r->t;
	__u16 hflags, an, ns, ar;
	__u32 len;

	hflags =
	    DNS_QR | (q->flags & (DNS_RD | DNS_CD)) | (t->flags & (XDPDNS_TF_AA | XDPDNS_TF_RCODE));
	an = t->ancount;
	ns = t->nscount;
	ar = t->arcount;
	if (r->tc) {
		hflags |= DNS_TC;
		an = ns = ar = 0;
		len = DNS_HDR_LEN + q->qlen + 4;
	} else {
		len = copy_body(s, t, gen, q->qlen);
		if (!len)
			return -1;
	}
	if (q->edns) {
		ar++;
		len = put_opt(s, cfg, q, len, r->nsid_len);
		if (!len)
			return -1;
	}
	if (len != r->len)
		return -1;
	put16(s, 2, hflags);
	put16(s, 4, 1);
	put16(s, 6, an);
	put16(s, 8, ns);
	put16(s, 10, ar);
	*(__u32 *)&s->buf[bound(len)] = 0;
	return 0;
}

/* load_len bounds the DNS payload bytes loaded into the scratch buffer;
 * 0 means too short to be a query. */
static __always_inline __u32 load_len(const struct query *q)
{
	__u32 n = q->dlen;

	if (n > XDPDNS_MAX_QUERY)
		n = XDPDNS_MAX_QUERY;
	return n < DNS_HDR_LEN ? 0 : n;
}

/* begin looks up the config and the caller's scratch entry (key) and
 * reads the live generation once: the whole packet is answered from it.
 * Returns the scratch entry, or 0 if a map lookup failed. */
static __always_inline struct scratch *begin(__u32 key, struct config **cfg, __u32 *gen)
{
	__u32 zero = 0;
	struct scratch *s;

	*cfg = bpf_map_lookup_elem(&config_map, &zero);
	s = bpf_map_lookup_elem(&scratch, &key);
	if (!*cfg || !s)
		return 0;
	*gen = *(volatile __u32 *)&(*cfg)->gen & 1;
	return s;
}

SEC("xdp")
int xdpdns(struct xdp_md *ctx)
{
	struct config *cfg;
	struct scratch *s;
	struct reply r;
	struct query *q;
	__u32 gen;
	int reason;

	count(CNT_RX);
	s = begin(SCRATCH_XDP, &cfg, &gen);
	if (!s)
		return XDP_PASS;
	q = &s->q;

	reason = parse_l2l4((void *)(long)ctx->data, (void *)(long)ctx->data_end, cfg, q);
	if (reason >= 0)
		return pass(reason);
	q->avail = load_len(q);
	if (!q->avail || bpf_xdp_load_bytes(ctx, q->dns_off, s->buf, q->avail))
		return pass(CNT_PASS_MALFORMED);
	reason = plan_reply(s, cfg, gen, &r);
	if (reason >= 0)
		return pass(reason);
	/* Room first: a frame that cannot grow goes to tc ingress before any
	 * work is spent on a reply it could not carry. */
	if (resize_xdp(ctx, q, r.len))
		return pass(CNT_PASS_TAIL);
	if (fill_reply(s, cfg, gen, &r))
		return XDP_ABORTED; /* the frame is already resized */
	if (bpf_xdp_store_bytes(ctx, q->dns_off, s->buf, r.len))
		return XDP_ABORTED;
	if (rewrite_headers((void *)(long)ctx->data, (void *)(long)ctx->data_end, s, q, r.len))
		return XDP_ABORTED;
	count(CNT_ANSWER_BASE + r.kind);
	if (r.tc)
		count(CNT_TC);
	return XDP_TX;
}

/* xdpdns_tc is the same answer at tc ingress, for the queries the XDP
 * program passed because the frame could not grow to the reply's size
 * (native XDP on veth and generic XDP hand the program frames with little
 * room; an skb can grow). It answers from the same maps with the same
 * plan_reply and fill_reply, and sends the reply back out of the
 * interface it came in on; anything else goes on up the stack
 * (TC_ACT_OK). Without XDP it would answer every query it can; the
 * loader attaches it beside XDP. */
SEC("tc")
int xdpdns_tc(struct __sk_buff *skb)
{
	struct config *cfg;
	struct scratch *s;
	struct reply r;
	struct query *q;
	__u32 gen;

	count(CNT_SKB_RX);
	s = begin(SCRATCH_TC, &cfg, &gen);
	if (!s)
		return TC_ACT_OK;
	q = &s->q;

	/* The headers must be in the linear part for direct access. */
	if (skb->data_end - skb->data < skb->len && bpf_skb_pull_data(skb, skb->len))
		return TC_ACT_OK;
	if (parse_l2l4((void *)(long)skb->data, (void *)(long)skb->data_end, cfg, q) >= 0)
		return TC_ACT_OK;
	q->avail = load_len(q);
	if (!q->avail || bpf_skb_load_bytes(skb, q->dns_off, s->buf, q->avail))
		return TC_ACT_OK;
	if (plan_reply(s, cfg, gen, &r) >= 0 || fill_reply(s, cfg, gen, &r))
		return TC_ACT_OK;
	if (bpf_skb_change_tail(skb, q->dns_off + r.len, 0) ||
	    bpf_skb_store_bytes(skb, q->dns_off, s->buf, r.len, 0))
		return TC_ACT_SHOT;
	if (rewrite_headers((void *)(long)skb->data, (void *)(long)skb->data_end, s, q, r.len))
		return TC_ACT_SHOT;
	count(CNT_SKB_ANSWER);
	return bpf_redirect(skb->ifindex, 0);
}
