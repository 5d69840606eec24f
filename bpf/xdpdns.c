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
#include <linux/if_packet.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "shared.h"
#include "maps.h"
#include "common.h"
#include "parse.h"
#include "reply.h"
#include "rewrite.h"
#include "rrl.h"
#include "tap.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

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
	struct tap_event *ev;
	struct reply r;
	struct query *q;
	__u32 gen, len;
	int reason;

	count(CNT_RX);
	s = begin(SCRATCH_XDP, &cfg, &gen);
	if (!s)
		return XDP_PASS;
	q = &s->q;

	reason = parse_l2l4((void *)(long)ctx->data, (void *)(long)ctx->data_end, cfg,
	                    ctx->ingress_ifindex, XDPDNS_NO_VLAN, q);
	if (reason == CNT_DROP_SOURCE_PORT) {
		count(reason);
		return XDP_DROP;
	}
	if (reason >= 0)
		return pass(reason);
	q->avail = load_len(q);
	if (!q->avail || bpf_xdp_load_bytes(ctx, q->dns_off, s->buf, q->avail))
		return pass(CNT_PASS_MALFORMED);
	pad_query(s, q);
	reason = plan_reply(s, cfg, gen, &r);
	if (reason >= 0)
		return pass(reason);
	/* The checksum last: only queries about to be answered pay for it. */
	if (!udp_query_ok((void *)(long)ctx->data, (void *)(long)ctx->data_end, s, q,
	                  ctx->ingress_ifindex))
		return pass(CNT_PASS_BAD_CSUM);
	/* Room first: a frame that cannot grow goes to tc ingress before any
	 * work is spent on a reply it could not carry. */
	if (resize_xdp(ctx, q, r.len))
		return pass(CNT_PASS_TAIL);
	/* Rate limiting, once the reply is certain to leave from here (a
	 * query passed for its size is charged at tc ingress instead). */
	len = r.len;
	switch (limit_reply(cfg, s, q, &r)) {
	case 1:
		return XDP_DROP;
	case -1:
		return XDP_ABORTED;
	}
	if (r.len != len && resize_xdp(ctx, q, r.len)) /* slipped: shrink */
		return XDP_ABORTED;
	ev = tap_begin(cfg, s, q, (void *)(long)ctx->data, (void *)(long)ctx->data_end,
	               XDPDNS_TAP_XDP);
	if (fill_reply(s, cfg, gen, &r)) {
		tap_discard(ev);
		return XDP_ABORTED; /* the frame is already resized */
	}
	tap_finish(ev, s, r.len);
	if (bpf_xdp_store_bytes(ctx, q->dns_off, s->buf, r.len))
		return XDP_ABORTED;
	if (rewrite_headers((void *)(long)ctx->data, (void *)(long)ctx->data_end, s, q, r.len))
		return XDP_ABORTED;
	count(CNT_ANSWER_BASE + r.kind);
	if (r.tc)
		count(CNT_TC);
	if (q->cookie_valid)
		count(CNT_COOKIE_VALID);
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
	struct tap_event *ev;
	struct reply r;
	struct query *q;
	__u32 gen;
	int reason;

	count(CNT_SKB_RX);
	s = begin(SCRATCH_TC, &cfg, &gen);
	if (!s)
		return TC_ACT_OK;
	q = &s->q;

	/* The kernel has classified the frame: only one to this host. */
	if (skb->pkt_type != PACKET_HOST)
		return TC_ACT_OK;
	/* The headers must be in the linear part for direct access. */
	if (skb->data_end - skb->data < skb->len && bpf_skb_pull_data(skb, skb->len))
		return TC_ACT_OK;
	/* A VLAN tag the kernel took off counts against the tags walked. */
	reason = parse_l2l4((void *)(long)skb->data, (void *)(long)skb->data_end, cfg, skb->ifindex,
	                    skb->vlan_present ? (int)(skb->vlan_tci & 0x0fff) : XDPDNS_NO_VLAN, q);
	if (reason == CNT_DROP_SOURCE_PORT)
		return TC_ACT_SHOT; /* counted by XDP, which saw it first */
	if (reason >= 0)
		return TC_ACT_OK;
	q->avail = load_len(q);
	if (!q->avail || bpf_skb_load_bytes(skb, q->dns_off, s->buf, q->avail))
		return TC_ACT_OK;
	pad_query(s, q);
	if (plan_reply(s, cfg, gen, &r) >= 0 ||
	    !udp_query_ok((void *)(long)skb->data, (void *)(long)skb->data_end, s, q, skb->ifindex))
		return TC_ACT_OK;
	switch (limit_reply(cfg, s, q, &r)) {
	case 1:
		return TC_ACT_SHOT;
	case -1:
		return TC_ACT_OK;
	}
	ev = tap_begin(cfg, s, q, (void *)(long)skb->data, (void *)(long)skb->data_end,
	               XDPDNS_TAP_TC);
	if (fill_reply(s, cfg, gen, &r)) {
		tap_discard(ev);
		return TC_ACT_OK;
	}
	tap_finish(ev, s, r.len);
	if (bpf_skb_change_tail(skb, q->dns_off + r.len, 0) ||
	    bpf_skb_store_bytes(skb, q->dns_off, s->buf, r.len, 0))
		return TC_ACT_SHOT;
	if (rewrite_headers((void *)(long)skb->data, (void *)(long)skb->data_end, s, q, r.len))
		return TC_ACT_SHOT;
	count(CNT_SKB_ANSWER);
	if (q->cookie_valid)
		count(CNT_COOKIE_VALID);
	return bpf_redirect(skb->ifindex, 0);
}
