/* lookup.h: finding the template for a parsed query in the live
 * generation's maps: the longest existing suffix of the qname in names,
 * then the per-type entry in answers or the name's default. */
#ifndef XDPDNS_LOOKUP_H
#define XDPDNS_LOOKUP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"
#include "maps.h"
#include "dns.h"

/* One range of XDPDNS_NEVER_IN_XDP as a condition; the chain starts with 0
 * so that the compiler sees the same expression as a hand-written one. */
#define XDPDNS_NEVER_IN_XDP_RANGE(lo, hi) || ((lo) == (hi) ? t == (lo) : (t >= (lo) && t <= (hi)))

/* never_in_xdp reports whether the program always passes qtype t up
 * (XDPDNS_NEVER_IN_XDP in shared.h). */
static __always_inline int never_in_xdp(__u16 t)
{
	return 0 XDPDNS_NEVER_IN_XDP(XDPDNS_NEVER_IN_XDP_RANGE);
}

/* filter_has reports whether the Bloom filter (shift s, map fmap) may hold
 * the name hash h: 0 means the name certainly does not exist. */
static __always_inline int filter_has(void *fmap, const struct name_key *h, __u64 s)
{
	__u64 b = h->h2 >> s;
	__u32 w = 1 + (__u32)(b >> 6);
	__u64 *word = bpf_map_lookup_elem(fmap, &w);

	return word && ((*word >> (b & 63)) & 1);
}

/* table_probe returns the slot of the key {h1, h2} in the hash table
 * tmap of n slots and seed seed (shared.h, XDPDNS_TABLE_PROBES), or 0.
 * Every table slot starts with its struct name_key. */
static __always_inline int table_probe(void *tmap, __u64 h1, __u64 h2, __u32 n, __u64 seed)
{
	__u64 f = ((h1 ^ seed) * XDPDNS_TABLE_HOME_MULT) >> 32;
	__u32 home = (__u32)((f * n) >> 32);
	__u32 p;

	for (p = 0; p < XDPDNS_TABLE_PROBES; p++) {
		__u32 i = home + p, idx;
		struct name_key *e;

		if (i >= n)
			i -= n;
		idx = 1 + i;
		e = bpf_map_lookup_elem(tmap, &idx);

		if (!e)
			return 0;
		if (e->h1 == h1 && e->h2 == h2)
			return (int)idx;
		if (!e->h1 && !e->h2)
			return 0;
	}
	return 0;
}

/* name_id unpacks template id p of a names entry (XDPDNS_NAME_ID_*). */
static __always_inline __u32 name_id(__u32 p)
{
	if (p == XDPDNS_NAME_ID_ABSENT)
		return XDPDNS_ABSENT;
	if (p & XDPDNS_NAME_ID_SHARED)
		return (p & ~XDPDNS_NAME_ID_SHARED) | XDPDNS_SHARED_TMPL;
	return p;
}

/* A names entry as the walk finds it: its version's flags and cover,
 * read at every label, and its template ids, of which the query needs
 * one (name_hit_id): left packed as the slot holds them (packed = 1:
 * struct name_ent.ids), or the names_side version's (packed = 0: ids in
 * struct name_ver's order). */
struct name_hit {
	__u32 flags; /* XDPDNS_NF_* */
	__u32 cover;
	__u32 packed;
	__u32 ids[4];
};

/* name_hit_id returns template id i of h: 0 exact_default[0], 1
 * exact_default[1], 2 below_default[0], 3 below_default[1]. */
static __always_inline __u32 name_hit_id(const struct name_hit *h, __u32 i)
{
	if (!h->packed)
		return i == 0 ? h->ids[0] : i == 1 ? h->ids[1] : i == 2 ? h->ids[2] : h->ids[3];
	if (i == 3)
		return name_id((h->ids[0] >> 24) | ((h->ids[1] >> 24) << 8) |
		               ((h->ids[2] >> 24) << 16));
	return name_id((i == 0 ? h->ids[0] : i == 1 ? h->ids[1] : h->ids[2]) & 0xffffff);
}

/* name_get finds the key {h1, h2} in generation gen's names table (its
 * header hdr: size and seed), and fills *out with its version for gen:
 * from the slot, or from names_side while an update changes it (struct
 * name_ent). Returns 1 if found, else 0. A global function: the verifier
 * checks its probe loop once, not once per label of the walk that calls
 * it. */
__attribute__((noinline)) int name_get(__u32 gen, __u64 h1, __u64 h2, const struct name_key *hdr,
                                       struct name_hit *out)
{
	void *nmap = bpf_map_lookup_elem(&names, &gen);
	struct name_slot *e;
	__u32 idx, word;

	if (!nmap || !hdr || !out)
		return 0;
	idx = (__u32)table_probe(nmap, h1, h2, (__u32)hdr->h1, hdr->h2);
	if (!idx)
		return 0;
	e = bpf_map_lookup_elem(nmap, &idx);
	if (!e)
		return 0;
	word = *(volatile __u32 *)&e->ent.word; /* before the fields it says how to read */
	if ((word >> XDPDNS_NAME_FLAGS_SHIFT) & XDPDNS_NF_SIDE) {
		void *smap = bpf_map_lookup_elem(&names_side, &gen);
		__u32 si = word & XDPDNS_NAME_COVER_MASK;
		struct name_val *sv;
		struct name_ver *v;

		if (!smap)
			return 0;
		sv = bpf_map_lookup_elem(smap, &si);
		if (!sv)
			return 0;
		v = &sv->v[gen & 1];
		out->flags = v->flags;
		out->cover = v->cover;
		out->packed = 0;
		out->ids[0] = v->exact_default[0];
		out->ids[1] = v->exact_default[1];
		out->ids[2] = v->below_default[0];
		out->ids[3] = v->below_default[1];
		return 1;
	}
	out->flags = word >> XDPDNS_NAME_FLAGS_SHIFT;
	out->cover = word & XDPDNS_NAME_COVER_MASK;
	out->packed = 1;
	out->ids[0] = e->ent.ids[0];
	out->ids[1] = e->ent.ids[1];
	out->ids[2] = e->ent.ids[2];
	return 1;
}

/* answer_probe returns the slot of the answer key of the name hash
 * {h1, h2}, qtype and mode (shared.h, XDPDNS_ANSWER_KEY_MULT) in
 * generation gen's answers table, or 0. A global function, as
 * name_get; it reads the table's header itself (one lookup a query). */
__attribute__((noinline)) int answer_probe(__u32 gen, __u64 h1, __u64 h2, __u32 qtype, __u32 mode)
{
	void *amap = bpf_map_lookup_elem(&answers, &gen);
	struct name_key *hdr;
	__u32 zero = 0;
	__u64 k1;

	if (!amap)
		return 0;
	hdr = bpf_map_lookup_elem(amap, &zero);
	if (!hdr)
		return 0;
	k1 = h1 + ((((__u64)(qtype & 0xffff) << 2) | (mode & 3)) + 1) * XDPDNS_ANSWER_KEY_MULT;
	return table_probe(amap, k1, h2, (__u32)hdr->h1, hdr->h2);
}

/* answer_find returns the template id of the answers entry of the name
 * hash h, qtype and mode in generation gen's table amap for the DO bit
 * dobit, or XDPDNS_ABSENT when there is none in this version. */
static __always_inline __u32 answer_find(void *amap, __u32 gen, const struct name_key *h,
                                         __u16 qtype, __u16 mode, __u8 dobit)
{
	__u32 idx = (__u32)answer_probe(gen, h->h1, h->h2, qtype, mode);
	struct answer_slot *e;

	if (!idx)
		return XDPDNS_ABSENT;
	e = bpf_map_lookup_elem(amap, &idx);
	if (!e || e->val.v[gen & 1].tmpl[0] == XDPDNS_ABSENT)
		return XDPDNS_ABSENT;
	return dobit ? e->val.v[gen & 1].tmpl[1] : e->val.v[gen & 1].tmpl[0];
}

/* find_template returns the template id for the query (0: none) or, via
 * *reason, a pass reason. gen is the live generation (0 or 1), which
 * also picks the version of each names and answers entry. */
static __always_inline __u32 find_template(struct scratch *s, struct query *q, __u32 gen,
                                           int *reason)
{
	struct name_hit nv, cur;
	void *nmap, *amap, *fmap;
	struct name_key hdr;
	__u32 i, t, found = 0, have = 0;
	__u16 mode;
	__u64 shift = 0;

	amap = bpf_map_lookup_elem(&answers, &gen);
	if (!amap) {
		*reason = CNT_PASS_NOZONE;
		return 0;
	}
	if (q->qclass == CLASS_CH) {
		__u32 n = q->nlabels;

		if (n > XDPDNS_MAX_LABELS)
			return 0;
		t = answer_find(amap, gen, &s->hash[n], q->qtype, XDPDNS_MODE_CHAOS, q->dobit);
		return t == XDPDNS_ABSENT ? 0 : t;
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
	{
		__u32 zero = 0;
		struct name_slot *h = bpf_map_lookup_elem(nmap, &zero);

		if (!h) {
			*reason = CNT_PASS_NOZONE;
			return 0;
		}
		hdr = h->key;
	}
	fmap = bpf_map_lookup_elem(&name_filter, &gen);
	if (fmap) {
		__u32 zero = 0;
		__u64 *sp = bpf_map_lookup_elem(fmap, &zero);

		shift = sp && *sp > 0 && *sp < 64 ? *sp : 0;
	}
	/* Longest existing suffix: every ancestor of a name exists, so stop
	 * at the first miss (or where the filter says there is none). */
	for (i = 0; i <= XDPDNS_MAX_LABELS; i++) {
		if (i > q->nlabels)
			break;
		if (shift && i >= XDPDNS_FILTER_FROM_LABELS &&
		    !filter_has(fmap, &s->hash[i], shift))
			break;
		if (!name_get(gen, s->hash[i].h1, s->hash[i].h2, &hdr, &cur))
			break;
		if (cur.flags & XDPDNS_NF_ABSENT)
			break;
		nv = cur;
		have = 1;
		found = i;
		if (cur.flags & XDPDNS_NF_LEAF)
			break; /* nothing below: no lookup that would miss */
	}
	if (!have) {
		*reason = CNT_PASS_NOZONE;
		return 0;
	}
	q->found = found;
	q->found_cover = nv.cover;
	mode = found == q->nlabels ? XDPDNS_MODE_EXACT : XDPDNS_MODE_BELOW;
	if (nv.flags &
	    (mode == XDPDNS_MODE_EXACT ? XDPDNS_NF_EXACT_TYPED : XDPDNS_NF_BELOW_TYPED)) {
		if (found > XDPDNS_MAX_LABELS)
			return 0;
		t = answer_find(amap, gen, &s->hash[found], q->qtype, mode, q->dobit);
		if (t != XDPDNS_ABSENT)
			return t;
	}
	if (mode == XDPDNS_MODE_EXACT && (!(nv.flags & XDPDNS_NF_CUT) || q->qtype == TYPE_DS))
		return name_hit_id(&nv, q->dobit ? 1 : 0);
	return name_hit_id(&nv, q->dobit ? 3 : 2);
}

/* load_template copies template id of generation gen into s->tmpl: from
 * templates, or for an id with XDPDNS_SHARED_TMPL, version gen of
 * shared_templates. The copy gives the rest of the program one kind of
 * template pointer to follow. Returns 0, or -1 if there is no such
 * template. */
static __always_inline int load_template(struct scratch *s, __u32 gen, __u32 id)
{
	const struct tmpl *src;
	void *m;

	if (id & XDPDNS_SHARED_TMPL) {
		__u32 sid = id & ~XDPDNS_SHARED_TMPL;
		struct tmpl_versions *tv;

		m = bpf_map_lookup_elem(&shared_templates, &gen);
		if (!m)
			return -1;
		tv = bpf_map_lookup_elem(m, &sid);
		if (!tv)
			return -1;
		src = &tv->v[gen & 1];
	} else {
		m = bpf_map_lookup_elem(&templates, &gen);
		if (!m)
			return -1;
		src = bpf_map_lookup_elem(m, &id);
		if (!src)
			return -1;
	}
	__builtin_memcpy(&s->tmpl, src, sizeof(s->tmpl));
	return 0;
}

#endif
