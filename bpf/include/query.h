/* query.h: parsing the DNS query loaded into the scratch buffer: the
 * header, the question, the OPT record and its options, and the hashes of
 * every suffix of the lower-cased qname (the keys of the names map). */
#ifndef XDPDNS_QUERY_H
#define XDPDNS_QUERY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"
#include "maps.h"
#include "dns.h"
#include "common.h"

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
	if (get16(s, p) == OPT_COOKIE) {
		w->cookie++;
		w->cookie_off = p + 4;
		w->cookie_len = olen;
	}
	w->p = p + 4 + olen;
	return 0;
}

/* read_cookie copies the COOKIE option (count of them, data at off, len
 * bytes) out of the buffer the reply will overwrite. Returns -1 when it is
 * malformed (RFC 7873 §5.2.2: not 8 or 16 to 40 bytes, or several). */
static __always_inline int read_cookie(struct scratch *s, struct query *q, __u32 count, __u32 off,
                                       __u32 len)
{
	__u32 i;

	if (count != 1 || len < 8 || (len > 8 && len < 16) || len > 40)
		return -1;
#pragma unroll
	for (i = 0; i < 8; i++)
		q->cc[i] = s->buf[bound(off + i)];
	q->sc_len = len - 8;
	if (len == 24) {
#pragma unroll
		for (i = 0; i < 16; i++)
			q->sc[i] = s->buf[bound(off + 8 + i)];
	}
	q->cookie = 1;
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
	__u64 h1 = (XDPDNS_HASH_H1_BASIS ^ 0) * XDPDNS_HASH_H1_PRIME,
	      h2 = (XDPDNS_HASH_H2_BASIS ^ 0) * XDPDNS_HASH_H2_MULT + 1;
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
		h1 = (h1 ^ c) * XDPDNS_HASH_H1_PRIME;
		h2 = (h2 ^ c) * XDPDNS_HASH_H2_MULT + 1;
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
	q->cookie = 0;
	q->cookie_valid = 0;
	q->sc_len = 0;
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
		s->w.cookie = 0;
		bpf_loop(XDPDNS_MAX_EDNS_OPTIONS, edns_option, &sp, 0);
		if (s->w.reason >= 0)
			return s->w.reason;
		q->nsid = s->w.nsid;
		if (s->w.cookie && cfg->cookies != XDPDNS_COOKIES_OFF &&
		    read_cookie(s, q, s->w.cookie, s->w.cookie_off, s->w.cookie_len))
			return CNT_PASS_COOKIE; /* malformed: FORMERR from userspace */
	} else if (qend != q->dlen) {
		return CNT_PASS_MALFORMED;
	}

	/* Suffix hashes, from the root's 0 byte backwards; hash[k] is the
	 * suffix of the last k labels. */
	if (hash_suffixes(s, q) != q->nlabels)
		return CNT_PASS_QNAME;
	return -1;
}

#endif
