/* common.h: helpers every part of the program uses: counting (and
 * passing with a counted reason), and bounded access to the per-CPU
 * scratch buffer the query is loaded into and the reply is built in. */
#ifndef XDPDNS_COMMON_H
#define XDPDNS_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"
#include "maps.h"

#define BUF_MASK (XDPDNS_BUF_SIZE - 1)

/* HDR_OFF_MASK bounds the IP and UDP header offsets in the frame (at most
 * 14 + 2 * 4 + 40; plan_reply passes a query whose offsets exceed it), and
 * BOUND_HDR_OFFSETS applies it where the verifier sees it: on the
 * registers, past what the compiler can prove. */
#define HDR_OFF_MASK 127
#define BOUND_HDR_OFFSETS(l3, l4)                                                                  \
	do {                                                                                       \
		asm volatile("" : "+r"(l3), "+r"(l4));                                             \
		(l3) &= HDR_OFF_MASK;                                                              \
		(l4) &= HDR_OFF_MASK;                                                              \
	} while (0)

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

#endif
