/* cookie.h: DNS Cookies (RFC 7873) with RFC 9018 server cookies, as
 * package cookie makes them: version 1, three reserved zero bytes, the
 * timestamp (seconds, UTC, big-endian) and SipHash-2-4, under the server
 * secret, of the client cookie, those eight bytes and the client's
 * address, stored little-endian. */
#ifndef XDPDNS_COOKIE_H
#define XDPDNS_COOKIE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shared.h"
#include "maps.h"
#include "dns.h"
#include "common.h"

/* A cookie is valid this long after its timestamp, and this far ahead
 * (RFC 9018 §4.3: package cookie's MaxAge and MaxSkew). */
#define COOKIE_MAX_AGE  3600
#define COOKIE_MAX_SKEW 300
/* The COOKIE option of a reply: header, client cookie, server cookie. */
#define COOKIE_OPT_LEN 28

#define SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 13) ^ v0;                                                        \
		v0 = SIP_ROTL(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 16) ^ v2;                                                        \
		v0 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 21) ^ v0;                                                        \
		v2 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 17) ^ v2;                                                        \
		v2 = SIP_ROTL(v2, 32);                                                             \
	} while (0)

/* le64 reads 8 bytes as a little-endian word. */
static __always_inline __u64 le64(const __u8 *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* cookie_mac is SipHash-2-4 under key of client cookie cc, the server
 * cookie's first eight bytes hdr and the client's address (4 bytes, or
 * 16 for IPv6): 20 or 32 bytes, so two or four whole words and a last one
 * holding the length. */
static __always_inline __u64 cookie_mac(const __u8 *key, const __u8 *cc, const __u8 *hdr,
                                        const __u8 *ip, int v6)
{
	__u64 k0 = le64(key), k1 = le64(key + 8);
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	__u64 m[4], last;
	int n, i;

	m[0] = le64(cc);
	m[1] = le64(hdr);
	if (v6) {
		m[2] = le64(ip);
		m[3] = le64(ip + 8);
		n = 4;
		last = 32ULL << 56;
	} else {
		n = 2;
		last = 20ULL << 56 | (__u64)ip[0] | (__u64)ip[1] << 8 | (__u64)ip[2] << 16 |
		       (__u64)ip[3] << 24;
	}
#pragma unroll
	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		v3 ^= m[i];
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v3 ^= last;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* cookie_now is the time in UTC seconds, mod 2^32. */
static __always_inline __u32 cookie_now(const struct config *cfg)
{
	return (__u32)((__s64)(bpf_ktime_get_tai_ns() / 1000000000ULL) - cfg->cookie_tai_offset);
}

/* cookie_check sets q->cookie_valid: the query's server cookie is one of
 * ours (the current or the previous secret), for this client, in its
 * window (package cookie's Valid). */
static __always_inline void cookie_check(const struct config *cfg, struct query *q, __u32 now)
{
	__u32 ts;
	__s32 age;
	__u64 got;

	q->cookie_valid = 0;
	if (!q->cookie || q->sc_len != 16 || q->sc[0] != 1)
		return;
	ts = (__u32)q->sc[4] << 24 | (__u32)q->sc[5] << 16 | (__u32)q->sc[6] << 8 | q->sc[7];
	age = (__s32)(now - ts);
	if (age > COOKIE_MAX_AGE || age < -COOKIE_MAX_SKEW)
		return;
	got = le64(&q->sc[8]);
	if (cookie_mac(cfg->cookie_secret, q->cc, q->sc, q->saddr, q->v6) == got ||
	    (cfg->cookie_has_prev &&
	     cookie_mac(cfg->cookie_prev, q->cc, q->sc, q->saddr, q->v6) == got))
		q->cookie_valid = 1;
}

/* cookie_put writes the COOKIE option of the reply at off: the client
 * cookie and a fresh server cookie, stamped with the time plan_reply read
 * (q->cookie_now). Returns the offset after it, or 0. */
static __always_inline __u32 cookie_put(struct scratch *s, const struct config *cfg,
                                        const struct query *q, __u32 off)
{
	__u8 hdr[8] = {1, 0, 0, 0};
	__u32 now = q->cookie_now, i;
	__u64 mac;

	if (off > XDPDNS_BUF_SIZE - 32)
		return 0;
	hdr[4] = now >> 24;
	hdr[5] = now >> 16;
	hdr[6] = now >> 8;
	hdr[7] = now;
	mac = cookie_mac(cfg->cookie_secret, q->cc, hdr, q->saddr, q->v6);
	put16(s, off, OPT_COOKIE);
	put16(s, off + 2, 24);
#pragma unroll
	for (i = 0; i < 8; i++) {
		s->buf[bound(off + 4 + i)] = q->cc[i];
		s->buf[bound(off + 12 + i)] = hdr[i];
		s->buf[bound(off + 20 + i)] = mac >> (8 * i);
	}
	return off + 28;
}

#endif
