/* reply.h: building the DNS reply in the scratch buffer: plan_reply
 * (parse, find the template, decide the size and TC) and fill_reply
 * (header, the question as received, the template body with its pointers
 * relocated, OPT). The XDP and tc programs share both, so they send the
 * same bytes. */
#ifndef XDPDNS_REPLY_H
#define XDPDNS_REPLY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"
#include "maps.h"
#include "dns.h"
#include "common.h"
#include "query.h"
#include "lookup.h"
#include "cookie.h"
#include "denial.h"

/* copy_chunks copies len bytes to buffer offset d, whole chunks at a time
 * (the last one may write past d + len: callers copy in order, so what
 * follows overwrites it): the first XDPDNS_CHUNK_SIZE bytes from head when
 * it is given (a template's first part), the rest from chunks first on.
 * Returns -1 if a chunk is missing or the copy would leave the buffer. */
static __always_inline int copy_chunks(struct scratch *s, void *cmap, __u32 first, __u32 d,
                                       __u32 len, const __u8 *head)
{
	__u32 n = (len + XDPDNS_CHUNK_SIZE - 1) / XDPDNS_CHUNK_SIZE, i, j;

	for (i = 0; i < XDPDNS_MAX_CHUNKS; i++) {
		__u32 idx = first + i - (head ? 1 : 0), o = d + i * XDPDNS_CHUNK_SIZE;
		const struct chunk *ch;
		const __u64 *src;
		__u64 *dst;

		if (i >= n)
			break;
		if (o > XDPDNS_BUF_SIZE - XDPDNS_CHUNK_SIZE)
			return -1;
		if (i == 0 && head) {
			src = (const __u64 *)head;
		} else {
			ch = bpf_map_lookup_elem(cmap, &idx);
			if (!ch)
				return -1;
			src = (const __u64 *)ch->b;
		}
		dst = (__u64 *)&s->buf[bound(o)];
#pragma unroll
		for (j = 0; j < XDPDNS_CHUNK_SIZE / 8; j++)
			dst[j] = src[j];
	}
	return 0;
}

_Static_assert(XDPDNS_MAX_RELOCS - XDPDNS_INLINE_RELOCS <= XDPDNS_CHUNK_SIZE / 2,
               "a template's relocations past its own fit one chunk");

/* relocate adds add to the compression pointer at buffer offset off. */
static __always_inline void relocate(struct scratch *s, __u32 off, __u32 add)
{
	put16(s, off, get16(s, off) + add);
}

/* copy_body appends the template body after the question and relocates
 * its compression pointers; with a denial slot, the head, the piece (if
 * any) and the tail, each pointer moved and relocated by where its part
 * and its target went. Returns the body's end offset, or 0 if the
 * template is inconsistent. */
static __always_inline __u32 copy_body(struct scratch *s, const struct tmpl *t,
                                       const struct denial_entry *piece, __u32 gen, __u32 qlen)
{
	__u32 bo = DNS_HDR_LEN + qlen + 4, slot = t->slot_off, plen = 0, i;
	const __u16 *more = 0; /* relocations past the template's own */
	void *cmap;

	if (t->body_len > XDPDNS_MAX_BODY || bo > DNS_HDR_LEN + XDPDNS_MAX_QNAME + 4)
		return 0;
	cmap = bpf_map_lookup_elem(&chunks, &gen);
	if (!cmap)
		return 0;
	if (slot == XDPDNS_NO_SLOT) {
		if (copy_chunks(s, cmap, t->first_chunk, bo, t->body_len, t->head))
			return 0;
		slot = t->body_len;
	} else {
		if (slot > t->body_len)
			return 0;
		if (piece) {
			plen = piece->len;
			if (plen > XDPDNS_MAX_BODY || t->body_len + plen > XDPDNS_MAX_BODY)
				return 0;
		}
		if (copy_chunks(s, cmap, t->first_chunk, bo, slot, t->head) ||
		    (piece && copy_chunks(s, cmap, piece->first_chunk, bo + slot, plen, 0)) ||
		    copy_chunks(s, cmap, t->tail_chunk, bo + slot + plen, t->body_len - slot, 0))
			return 0;
	}
	if (t->nrelocs > XDPDNS_INLINE_RELOCS) {
		__u32 rc = t->reloc_chunk;
		const struct chunk *ch = bpf_map_lookup_elem(cmap, &rc);

		if (!ch)
			return 0;
		more = (const __u16 *)ch->b;
	}
	for (i = 0; i < XDPDNS_MAX_RELOCS; i++) {
		__u32 r, off;

		if (i >= t->nrelocs)
			break;
		if (i < XDPDNS_INLINE_RELOCS) {
			r = t->relocs[i];
		} else {
			if (!more)
				return 0;
			r = more[(i - XDPDNS_INLINE_RELOCS) & (XDPDNS_CHUNK_SIZE / 2 - 1)];
		}
		off = r & ~XDPDNS_RELOC_INTERNAL;
		if (off + 2 > t->body_len)
			return 0;
		if (off < slot)
			relocate(s, bo + off, qlen);
		else
			relocate(s, bo + off + plen,
			         qlen + ((r & XDPDNS_RELOC_INTERNAL) ? plen : 0));
	}
	if (piece) {
		for (i = 0; i < XDPDNS_MAX_PIECE_RELOCS; i++) {
			__u32 r, off;

			if (i >= piece->nrelocs)
				break;
			r = piece->relocs[i];
			off = r & ~XDPDNS_RELOC_INTERNAL;
			if (off + 2 > plen)
				return 0;
			relocate(s, bo + slot + off,
			         qlen + ((r & XDPDNS_RELOC_INTERNAL) ? slot : 0));
		}
	}
	return bo + t->body_len + plen;
}

/* put_opt writes our OPT record at off (with the NSID option, then the
 * COOKIE option, as the engine orders them) and returns the offset after
 * it, or 0. */
static __always_inline __u32 put_opt(struct scratch *s, const struct config *cfg,
                                     const struct query *q, __u32 off, __u32 nsid_len)
{
	__u32 rdlen = (nsid_len ? 4 + nsid_len : 0) + (q->cookie ? COOKIE_OPT_LEN : 0), j;
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
		return q->cookie ? cookie_put(s, cfg, q, off) : off;
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
	off += nsid_len;
	return q->cookie ? cookie_put(s, cfg, q, off) : off;
}

/* reply is what plan_reply decided for one query. */
struct reply {
	const struct tmpl *t;             /* the template (s->tmpl, load_template) */
	const struct denial_entry *piece; /* the covering RRset for its slot, or 0 */
	__u32 len;                        /* reply payload bytes */
	__u32 kind;                       /* engine answer kind (counter index offset) */
	__u32 nsid_len;                   /* NSID bytes in the OPT record */
	int tc;                           /* sent truncated (TC=1) */
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
	__u32 id, len, full, req, opt_len = 0, nsid_len = 0, plen = 0;
	int reason, tc = 0;

	reason = parse_dns(s, cfg, q);
	if (reason >= 0)
		return reason;
	if (q->cookie) {
		q->cookie_now = cookie_now(cfg);
		cookie_check(cfg, q, q->cookie_now);
	}
	if (cfg->cookies == XDPDNS_COOKIES_REQUIRED && !q->cookie_valid)
		return CNT_PASS_COOKIE; /* BADCOOKIE or TC=1, from userspace */

	reason = CNT_PASS_NOTMPL;
	id = find_template(s, q, gen, &reason);
	if (id == XDPDNS_PASS)
		return reason;
	if (load_template(s, gen, id))
		return CNT_PASS_NOTMPL;
	t = &s->tmpl;
	r->piece = 0;
	if (t->slot_off != XDPDNS_NO_SLOT) {
		reason = plan_denial(s, q, gen, t, &r->piece);
		if (reason >= 0)
			return reason;
		if (r->piece)
			plen = r->piece->len;
	}

	if (q->edns) {
		opt_len = OPT_RR_LEN;
		if (q->nsid && cfg->nsid_len) {
			nsid_len = cfg->nsid_len;
			if (nsid_len > XDPDNS_MAX_NSID)
				nsid_len = XDPDNS_MAX_NSID;
			opt_len += 4 + nsid_len;
		}
		if (q->cookie)
			opt_len += COOKIE_OPT_LEN;
	}
	full = DNS_HDR_LEN + q->qlen + 4 + t->body_len + plen + opt_len;
	req = DNS_HDR_LEN + q->qlen + 4 + t->req_len + plen + opt_len;
	if ((t->flags & XDPDNS_TF_TOO_BIG) || t->body_len + plen > XDPDNS_MAX_BODY ||
	    full > q->size) {
		if (req <= q->size)
			return CNT_PASS_SIZE;
		tc = 1;
	}
	len = tc ? DNS_HDR_LEN + q->qlen + 4 + opt_len : full;
	if (len > XDPDNS_BUF_SIZE - 8 || q->l3_off > HDR_OFF_MASK || q->l4_off > HDR_OFF_MASK)
		return CNT_PASS_TAIL;
	len = bound(len);
	if (len < DNS_HDR_LEN)
		return CNT_PASS_TAIL;
	r->t = t;
	r->len = len;
	r->kind = t->kind >= KIND_MAX ? KIND_ERROR : t->kind;
	r->nsid_len = nsid_len;
	r->tc = tc;
	return -1;
}

/* truncate_reply turns the plan *r into the truncated reply: TC=1, the
 * header, the question and the OPT record (what rate limiting slips).
 * Returns 0, or -1 if the length is out of bounds (it never is). */
static __always_inline int truncate_reply(const struct query *q, struct reply *r)
{
	__u32 opt_len = 0, len;

	if (q->edns)
		opt_len = OPT_RR_LEN + (r->nsid_len ? 4 + r->nsid_len : 0) +
		          (q->cookie ? COOKIE_OPT_LEN : 0);
	len = bound(DNS_HDR_LEN + q->qlen + 4 + opt_len);
	if (len < DNS_HDR_LEN || len > r->len)
		return -1;
	r->tc = 1;
	r->len = len;
	return 0;
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
		len = copy_body(s, t, r->piece, gen, q->qlen);
		if (!len)
			return -1;
		if (r->piece)
			ns += r->piece->nrecs;
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

/* pad_query zeroes the four bytes after the query loaded into the
 * scratch buffer, so that a checksum over its length rounded up to whole
 * words (payload_csum) sees zeros. */
static __always_inline void pad_query(struct scratch *s, const struct query *q)
{
	*(__u32 *)&s->buf[bound(q->avail)] = 0;
}

#endif
