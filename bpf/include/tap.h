/* tap.h: dnstap samples. One answered query in config.tap_sample, at most
 * config.tap_rate a second per CPU, is copied with its reply (the first
 * XDPDNS_TAP_BYTES of each) into the tap_events ring buffer for the
 * loader's reader. Sampling never waits: a full ring buffer loses the
 * sample, counted. */
#ifndef XDPDNS_TAP_H
#define XDPDNS_TAP_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "shared.h"
#include "maps.h"
#include "common.h"

#define XDPDNS_NS_PER_SEC 1000000000ULL

/* tap_begin decides whether to sample this answered query and, if so,
 * reserves its record and fills in the addresses, ports and query bytes
 * (from the frame [data, data_end) and the scratch buffer, before the
 * reply overwrites the query). Returns the record, to be finished with
 * tap_finish or dropped with tap_discard, or 0. */
static __always_inline struct tap_event *tap_begin(const struct config *cfg, struct scratch *s,
                                                   const struct query *q, void *data,
                                                   void *data_end, __u8 program)
{
	struct tap_event *ev;
	struct tap_state *st;
	__u32 zero = 0, l3 = q->l3_off, l4 = q->l4_off;
	struct udphdr *udp;
	__u64 now;

	if (!cfg->tap_sample)
		return 0;
	st = bpf_map_lookup_elem(&tap_state, &zero);
	if (!st)
		return 0;
	if (++st->seen < cfg->tap_sample)
		return 0;
	st->seen = 0;
	now = bpf_ktime_get_ns();
	if (now - st->window_start >= XDPDNS_NS_PER_SEC) {
		st->window_start = now;
		st->in_window = 0;
	}
	if (st->in_window >= cfg->tap_rate) {
		count(CNT_TAP_LOST);
		return 0;
	}
	BOUND_HDR_OFFSETS(l3, l4);
	udp = data + l4;
	if ((void *)(udp + 1) > data_end)
		return 0;
	ev = bpf_ringbuf_reserve(&tap_events, sizeof(*ev), 0);
	if (!ev) {
		count(CNT_TAP_LOST);
		return 0;
	}
	st->in_window++;
	ev->ktime_ns = now;
	ev->v6 = q->v6;
	ev->program = program;
	ev->sport = bpf_ntohs(udp->source);
	ev->dport = bpf_ntohs(udp->dest);
	ev->query_len = q->dlen;
	ev->reply_len = 0;
	ev->pad = 0;
	__builtin_memset(ev->saddr, 0, sizeof(ev->saddr));
	__builtin_memset(ev->daddr, 0, sizeof(ev->daddr));
	if (q->v6) {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) <= data_end) {
			__builtin_memcpy(ev->saddr, &ip6->saddr, 16);
			__builtin_memcpy(ev->daddr, &ip6->daddr, 16);
		}
	} else {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) <= data_end) {
			__builtin_memcpy(ev->saddr, &ip->saddr, 4);
			__builtin_memcpy(ev->daddr, &ip->daddr, 4);
		}
	}
	__builtin_memcpy(ev->query, s->buf, XDPDNS_TAP_BYTES);
	return ev;
}

/* tap_finish copies the reply of len bytes from the scratch buffer and
 * hands the record to the reader. */
static __always_inline void tap_finish(struct tap_event *ev, const struct scratch *s, __u32 len)
{
	if (!ev)
		return;
	ev->reply_len = len;
	__builtin_memcpy(ev->reply, s->buf, XDPDNS_TAP_BYTES);
	bpf_ringbuf_submit(ev, 0);
	count(CNT_TAP_SAMPLED);
}

/* tap_discard gives a reserved record back unsent. */
static __always_inline void tap_discard(struct tap_event *ev)
{
	if (ev)
		bpf_ringbuf_discard(ev, 0);
}

#endif
