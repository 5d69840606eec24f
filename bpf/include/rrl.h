/* rrl.h: response rate limiting, the decision of package rrl (see its
 * documentation) on the replies the XDP and tc programs are about to
 * send: a GCRA meter per (client prefix, class, name) in rrl_buckets. */
#ifndef XDPDNS_RRL_H
#define XDPDNS_RRL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shared.h"
#include "maps.h"
#include "common.h"
#include "reply.h"

#define RRL_NS_PER_SEC 1000000000LL

/* What becomes of one reply. */
enum rrl_decision {
	RRL_SEND, /* within the limit, exempt, or limiting off */
	RRL_SLIP, /* over: sent truncated (TC=1, the question and OPT only) */
	RRL_DROP, /* over: not sent */
};

/* rrl_mask4 keeps the first bits bits of a big-endian IPv4 address. */
static __always_inline __u32 rrl_mask4(__u32 a, __u32 bits)
{
	if (bits >= 32)
		return a;
	if (bits == 0)
		return 0;
	return a & bpf_htonl(~((1U << (32 - bits)) - 1));
}

/* rrl_mask64 keeps the first bits bits of a big-endian 64-bit half. */
static __always_inline __u64 rrl_mask64(__u64 a, __u32 bits)
{
	if (bits >= 64)
		return a;
	if (bits == 0)
		return 0;
	return a & bpf_cpu_to_be64(~((1ULL << (64 - bits)) - 1));
}

/* rrl_name is the hash of the bucket's name for template t: a suffix of
 * the query name, its whole, or the wildcard below a suffix (the hash
 * folds bytes from the name's end, so "*" and its length byte extend the
 * suffix's hash). */
static __always_inline __u64 rrl_name(const struct scratch *s, const struct query *q,
                                      const struct tmpl *t)
{
	__u32 k = t->rrl_labels == XDPDNS_RRL_QNAME ? q->nlabels : t->rrl_labels;
	__u64 h;

	if (t->rrl_class == RRL_CLASS_ERROR)
		return 0;
	if (k > q->nlabels)
		k = q->nlabels;
	if (k > XDPDNS_MAX_LABELS)
		return 0;
	h = s->hash[k].h1;
	if (t->rrl_wild) {
		h = (h ^ '*') * XDPDNS_HASH_H1_PRIME;
		h = (h ^ 1) * XDPDNS_HASH_H1_PRIME;
	}
	return h;
}

/* rrl_decide charges the reply planned from template t to its bucket and
 * says what to send. */
static __always_inline int rrl_decide(const struct config *cfg, const struct scratch *s,
                                      const struct query *q, const struct tmpl *t)
{
	struct rrl_bucket fresh = {}, *b;
	struct rrl_key key = {};
	struct addr_key ak = {};
	__s64 now, next, cap;
	__u64 *p;

	if (!cfg->rrl_interval || q->cookie_valid) /* a valid cookie proves the address */
		return RRL_SEND;
	if (cfg->rrl_exempt) {
		ak.prefixlen = 128;
		if (q->v6) {
			__builtin_memcpy(ak.addr, q->saddr, 16);
		} else {
			ak.addr[10] = 0xff;
			ak.addr[11] = 0xff;
			__builtin_memcpy(&ak.addr[12], q->saddr, 4);
		}
		if (bpf_map_lookup_elem(&rrl_exempt, &ak))
			return RRL_SEND;
	}

	key.v6 = q->v6;
	key.class = t->rrl_class;
	key.name = rrl_name(s, q, t);
	if (q->v6) {
		__u64 hi, lo;

		__builtin_memcpy(&hi, q->saddr, 8);
		__builtin_memcpy(&lo, &q->saddr[8], 8);
		if (cfg->rrl_prefix6 <= 64) {
			hi = rrl_mask64(hi, cfg->rrl_prefix6);
			lo = 0;
		} else {
			lo = rrl_mask64(lo, cfg->rrl_prefix6 - 64);
		}
		p = (__u64 *)key.prefix;
		p[0] = hi;
		p[1] = lo;
	} else {
		__u32 a;

		__builtin_memcpy(&a, q->saddr, 4);
		a = rrl_mask4(a, cfg->rrl_prefix4);
		__builtin_memcpy(key.prefix, &a, 4);
	}

	b = bpf_map_lookup_elem(&rrl_buckets, &key);
	if (!b) {
		bpf_map_update_elem(&rrl_buckets, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&rrl_buckets, &key);
		if (!b)
			return RRL_SEND;
	}
	now = (__s64)bpf_ktime_get_ns();
	next = (b->tat > now ? b->tat : now) + (__s64)cfg->rrl_interval;
	cap = now + (__s64)cfg->rrl_window;
	b->tat = next < cap ? next : cap;
	if (next <= now + RRL_NS_PER_SEC)
		return RRL_SEND;
	b->slips++;
	if (cfg->rrl_slip && b->slips % cfg->rrl_slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}

/* limit_reply charges the reply planned in *r (rrl_decide) and makes it
 * what is to be sent: unchanged, or truncated (slipped, counted). Returns
 * 0 to send *r, 1 to send nothing (dropped, counted), -1 when the plan
 * cannot be truncated (never). Shared by the XDP and tc programs. */
static __always_inline int limit_reply(const struct config *cfg, struct scratch *s, struct query *q,
                                       struct reply *r)
{
	switch (rrl_decide(cfg, s, q, r->t)) {
	case RRL_DROP:
		count(CNT_RRL_DROPPED);
		return 1;
	case RRL_SLIP:
		count(CNT_RRL_SLIPPED);
		return truncate_reply(q, r);
	}
	return 0;
}

#endif
