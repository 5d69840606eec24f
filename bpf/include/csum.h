/* csum.h: Internet checksum helpers (RFC 1071): folding a 32-bit partial
 * sum, the IPv4 header checksum, and sums over a scratch buffer with
 * bpf_csum_diff in chunks of at most 512 bytes. */
#ifndef XDPDNS_CSUM_H
#define XDPDNS_CSUM_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maps.h"

/* bpf_csum_diff handles at most this many bytes per call. */
#define XDPDNS_CSUM_CHUNK 512

/* csum_fold folds a partial sum to 16 bits and complements it. Partial
 * sums are of words loaded in memory order, so the result is stored back
 * in memory order too. */
static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* ipv4_csum sets the header checksum of a 20-byte IPv4 header. */
static __always_inline void ipv4_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u64 sum = 0;
	int i;

	ip->check = 0;
#pragma unroll
	for (i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	ip->check = csum_fold(sum);
}

/* pseudo4_csum adds the IPv4 UDP pseudo-header (RFC 768) of a datagram
 * of udp_len bytes from src to dst (network order) to sum. */
static __always_inline __u64 pseudo4_csum(__be32 src, __be32 dst, __u16 udp_len, __u64 sum)
{
	struct {
		__be32 src, dst;
		__u8 zero;
		__u8 proto;
		__be16 len;
	} ph = {};

	ph.src = src;
	ph.dst = dst;
	ph.proto = IPPROTO_UDP;
	ph.len = bpf_htons(udp_len);
	return bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), sum);
}

/* pseudo6_csum adds the IPv6 UDP pseudo-header (RFC 8200 §8.1). */
static __always_inline __u64 pseudo6_csum(const struct in6_addr *src, const struct in6_addr *dst,
                                          __u32 udp_len, __u64 sum)
{
	struct {
		struct in6_addr src, dst;
		__be32 len;
		__u8 zero[3];
		__u8 next;
	} ph = {};

	ph.src = *src;
	ph.dst = *dst;
	ph.len = bpf_htonl(udp_len);
	ph.next = IPPROTO_UDP;
	return bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), sum);
}

/* payload_csum sums the reply payload in the scratch buffer (len bytes, zero
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

#endif
