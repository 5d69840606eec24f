/* denial.h: signed denial in the program. A template with a denial slot
 * (tmpl.slot_off) is an NXDOMAIN or wildcard answer whose proof needs the
 * NSEC or NSEC3 RRset covering the query name, the one part of it that
 * depends on the name. The program makes the name's search key (NSEC3:
 * SHA-1 of the next closer name and the salt, RFC 5155 §5, no extra
 * iterations; NSEC: the next closer label below the apex), finds the
 * covering interval among the zone's sorted entries (an index bucket by
 * the key's top bits, then a bounded binary search) and plans its piece
 * into the reply (reply.h copies it). */
#ifndef XDPDNS_DENIAL_H
#define XDPDNS_DENIAL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"
#include "maps.h"
#include "common.h"
#include "dns.h"

#define SHA1_MSG_MASK (XDPDNS_SHA1_MSG - 1)

/* msg_bound masks an offset into the SHA-1 message buffer where the
 * verifier sees it (as bound() does for the scratch buffer). */
static __always_inline __u32 msg_bound(__u32 off)
{
	asm volatile("" : "+r"(off));
	return off & SHA1_MSG_MASK;
}

static __always_inline __u32 rol32(__u32 x, __u32 n)
{
	return (x << n) | (x >> (32 - n));
}

/* lower8 lower-cases the eight bytes of v at once: a byte in 'A'..'Z'
 * gains 0x20, every other byte stays. */
static __always_inline __u64 lower8(__u64 v)
{
	const __u64 hi = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	__u64 t = v & ~hi;
	__u64 ge_a = t + ones * (0x80 - 'A');
	__u64 gt_z = t + ones * (0x80 - 'Z' - 1);

	return v | ((ge_a & ~gt_z & ~v & hi) >> 2);
}

/* SHA1_ROUNDS runs rounds from..to-1 of one block with round function F
 * and constant K over the 16-word schedule w in the scratch map. */
#define SHA1_ROUNDS(from, to, F, K)                                                                \
	for (j = (from); j < (to); j++) {                                                          \
		__u32 f, t;                                                                        \
                                                                                                   \
		if (j >= 16)                                                                       \
			w[j & 15] = rol32(                                                         \
			    w[(j + 13) & 15] ^ w[(j + 8) & 15] ^ w[(j + 2) & 15] ^ w[j & 15], 1);  \
		f = (F);                                                                           \
		t = rol32(a, 5) + f + e + (K) + w[j & 15];                                         \
		e = d;                                                                             \
		d = c;                                                                             \
		c = rol32(b, 30);                                                                  \
		b = a;                                                                             \
		a = t;                                                                             \
	}

/* sha1_block is a bpf_loop callback: it folds block i of s->sha.msg into
 * s->sha.h (FIPS 180-4 §6.1.2, the message schedule kept in 16 words). */
static long sha1_block(__u32 i, void *data)
{
	struct scratch *s = *(struct scratch **)data;
	struct sha1_work *h = &s->sha;
	__u32 *w = h->w, a, b, c, d, e, j;

	if (i >= XDPDNS_SHA1_MAX_BLOCKS)
		return 1;
	for (j = 0; j < 16; j++)
		w[j] = __builtin_bswap32(*(__u32 *)&h->msg[msg_bound(i * 64 + j * 4)]);
	a = h->h[0];
	b = h->h[1];
	c = h->h[2];
	d = h->h[3];
	e = h->h[4];
	SHA1_ROUNDS(0, 20, (b & c) | (~b & d), 0x5a827999)
	SHA1_ROUNDS(20, 40, b ^ c ^ d, 0x6ed9eba1)
	SHA1_ROUNDS(40, 60, (b & c) | (b & d) | (c & d), 0x8f1bbcdc)
	SHA1_ROUNDS(60, 80, b ^ c ^ d, 0xca62c1d6)
	h->h[0] += a;
	h->h[1] += b;
	h->h[2] += c;
	h->h[3] += d;
	h->h[4] += e;
	return 0;
}

/* nsec3_key sets s->dkey to the NSEC3 hash of the lower-cased name at
 * qname offset start (to the qname's end) with the zone's salt. Returns 0,
 * or -1 if the name cannot be hashed here. */
static __always_inline int nsec3_key(struct scratch *s, const struct denial_zone *dz, __u32 start,
                                     __u32 qlen)
{
	struct sha1_work *h = &s->sha;
	struct scratch *sp = s; /* bpf_loop context */
	__u32 n, m, nb, i, salt = dz->salt_len;

	if (start >= qlen || qlen > XDPDNS_MAX_QNAME || salt > XDPDNS_MAX_SALT ||
	    s->buf[bound(DNS_HDR_LEN + start)] == XDPDNS_NSEC3_LABEL)
		return -1;
	n = qlen - start;
	for (i = 0; i < (XDPDNS_MAX_QNAME + 7) / 8; i++) {
		if (i * 8 >= n)
			break;
		*(__u64 *)&h->msg[msg_bound(i * 8)] =
		    lower8(*(__u64 *)&s->buf[bound(DNS_HDR_LEN + start + i * 8)]);
	}
	for (i = 0; i < XDPDNS_MAX_SALT; i++) {
		if (i >= salt)
			break;
		h->msg[msg_bound(n + i)] = dz->salt[i];
	}
	m = n + salt;
	nb = (m + 9 + 63) / 64;
	if (nb > XDPDNS_SHA1_MAX_BLOCKS)
		return -1;
	/* Padding: 0x80, zeros, the length in bits (big-endian) at the end. */
	for (i = 0; i < 72 / 8 + 1; i++) {
		__u32 off = m + 1 + i * 8;

		if (off >= nb * 64)
			break;
		*(__u64 *)&h->msg[msg_bound(off)] = 0;
	}
	h->msg[msg_bound(m)] = 0x80;
	*(__u64 *)&h->msg[msg_bound(nb * 64 - 8)] = __builtin_bswap64((__u64)m * 8);
	h->h[0] = 0x67452301;
	h->h[1] = 0xefcdab89;
	h->h[2] = 0x98badcfe;
	h->h[3] = 0x10325476;
	h->h[4] = 0xc3d2e1f0;
	if (bpf_loop(nb, sha1_block, &sp, 0) != nb)
		return -1;
	s->dkey[0] = (__u64)h->h[0] << 32 | h->h[1];
	s->dkey[1] = (__u64)h->h[2] << 32 | h->h[3];
	s->dkey[2] = (__u64)h->h[4] << 32;
	s->dkey[3] = 0;
	return 0;
}

/* nsec_key sets s->dkey to the NSEC key of the label at qname offset
 * start: its bytes lower-cased and zero-padded, its length last. Returns
 * 0, or -1 for a label longer than the key holds. */
static __always_inline int nsec_key(struct scratch *s, __u32 start)
{
	__u32 l = s->buf[bound(DNS_HDR_LEN + start)], j;

	if (l > XDPDNS_DENIAL_LABEL)
		return -1;
#pragma unroll
	for (j = 0; j < 4; j++) {
		__u64 v = lower8(*(__u64 *)&s->buf[bound(DNS_HDR_LEN + start + 1 + j * 8)]);
		__s32 keep = (__s32)l - (__s32)(j * 8);

		if (keep <= 0)
			v = 0;
		else if (keep < 8)
			v &= (1ULL << (keep * 8)) - 1;
		if (j == 3)
			v = (v & 0x00ffffffffffffffULL) | (__u64)l << 56;
		s->dkey[j] = __builtin_bswap64(v);
	}
	return 0;
}

/* key_less compares two keys as four words, most significant first. */
static __always_inline int key_less(const __u64 *a, const __u64 *b)
{
	if (a[0] != b[0])
		return a[0] < b[0];
	if (a[1] != b[1])
		return a[1] < b[1];
	if (a[2] != b[2])
		return a[2] < b[2];
	return a[3] < b[3];
}

/* find_cover returns the index in denial_entries of the interval that
 * covers s->dkey in zone dz: the last entry whose key is below it,
 * wrapping to the zone's last entry (zone.NSEC3Cover, zone.NSECCover);
 * -1 if the maps are inconsistent. */
static __always_inline __s64 find_cover(struct scratch *s, const struct denial_zone *dz, void *emap,
                                        void *imap)
{
	__u32 b = 0, i0, i1, lo, hi, step;
	__u32 *p0, *p1;

	if (dz->index_bits > XDPDNS_DENIAL_INDEX_BITS || !dz->entry_count)
		return -1;
	if (dz->index_bits)
		b = s->dkey[0] >> (64 - dz->index_bits);
	i0 = dz->index_base + b;
	i1 = i0 + 1;
	p0 = bpf_map_lookup_elem(imap, &i0);
	p1 = bpf_map_lookup_elem(imap, &i1);
	if (!p0 || !p1)
		return -1;
	lo = *p0;
	hi = *p1;
	for (step = 0; step < XDPDNS_DENIAL_SEARCH_STEPS; step++) {
		const struct denial_entry *e;
		__u32 mid;

		if (lo >= hi)
			break;
		mid = lo + (hi - lo) / 2;
		e = bpf_map_lookup_elem(emap, &mid);
		if (!e)
			return -1;
		if (key_less(e->key, s->dkey))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < hi || lo < dz->entry_base || lo > dz->entry_base + dz->entry_count)
		return -1;
	if (lo == dz->entry_base)
		return dz->entry_base + dz->entry_count - 1;
	return lo - 1;
}

/* plan_denial finds the piece for template t of the query: *piece is
 * left 0 when the cover is already in the template (the engine adds an
 * RRset once). A piece fits every template reading its zone: its pointers
 * target the question or the piece itself (the engine compresses a
 * proof's NSEC or NSEC3 RRset against nothing else). Returns -1 to go on,
 * or the counter of the reason to pass. */
static __always_inline int plan_denial(struct scratch *s, const struct query *q, __u32 gen,
                                       const struct tmpl *t, const struct denial_entry **piece)
{
	__u32 zi = t->denial_zone, start, ei;
	/* Labels of the name whose cover goes in the slot. */
	__u32 nc = q->found + ((t->flags & XDPDNS_TF_SLOT_SELF) ? 0 : 1);
	const struct denial_zone_versions *dzv;
	const struct denial_zone *dz;
	void *zmap, *emap, *imap;
	__s64 p;

	*piece = 0;
	zmap = bpf_map_lookup_elem(&denial_zones, &gen);
	emap = bpf_map_lookup_elem(&denial_entries, &gen);
	imap = bpf_map_lookup_elem(&denial_index, &gen);
	if (!zmap || !emap || !imap)
		return CNT_PASS_NOTMPL;
	dzv = bpf_map_lookup_elem(zmap, &zi);
	if (!dzv)
		return CNT_PASS_NOTMPL;
	dz = &dzv->v[gen & (XDPDNS_GENS - 1)];
	if (nc > q->nlabels)
		return CNT_PASS_DENIAL;
	if ((t->flags & XDPDNS_TF_SLOT_SELF) && q->found_cover) {
		/* The cover of the name found, known from its entry. */
		if (q->found_cover > dz->entry_count)
			return CNT_PASS_DENIAL;
		p = dz->entry_base + q->found_cover - 1;
	} else {
		start = s->starts[(q->nlabels - nc) & (XDPDNS_MAX_LABELS - 1)];
		if (dz->kind == XDPDNS_DENIAL_NSEC3) {
			if (nsec3_key(s, dz, start, q->qlen))
				return CNT_PASS_DENIAL;
		} else if (dz->kind == XDPDNS_DENIAL_NSEC) {
			if (nsec_key(s, start))
				return CNT_PASS_DENIAL;
			/* The name found owns its NSEC, the entry of its own
			 * label: the last entry at or below the key (its last
			 * byte, the label's length, is at most
			 * XDPDNS_DENIAL_LABEL: no carry). */
			if (t->flags & XDPDNS_TF_SLOT_SELF)
				s->dkey[3]++;
		} else {
			return CNT_PASS_DENIAL;
		}
		p = find_cover(s, dz, emap, imap);
		if (p < 0)
			return CNT_PASS_DENIAL;
	}
	if ((__u32)p - dz->entry_base == t->denial_head ||
	    (__u32)p - dz->entry_base == t->denial_tail)
		return -1;
	ei = (__u32)p;
	*piece = bpf_map_lookup_elem(emap, &ei);
	if (!*piece || (*piece)->len > XDPDNS_MAX_BODY)
		return CNT_PASS_NOTMPL;
	return -1;
}

#endif
