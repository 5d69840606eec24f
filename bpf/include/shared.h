/* shared.h: constants and structs shared between the XDP program and the Go
 * zone compiler/loader (bpf2go generates the Go types from these). */
#ifndef XDPDNS_SHARED_H
#define XDPDNS_SHARED_H

#include <linux/types.h>

/* Longest qname in wire form (RFC 1035 §2.3.4). */
#define XDPDNS_MAX_QNAME 255
/* Most labels the XDP program walks; a longer qname is passed up. */
#define XDPDNS_MAX_LABELS 32
/* Template bodies are stored in chunks of this many bytes. */
#define XDPDNS_CHUNK_SIZE 64
/* Longest template body served from XDP (1232 - header - shortest
 * question - OPT with a short NSID, rounded down to whole chunks). */
#define XDPDNS_MAX_BODY   1152
#define XDPDNS_MAX_CHUNKS (XDPDNS_MAX_BODY / XDPDNS_CHUNK_SIZE)
/* Most compression pointers one template may need relocated. */
#define XDPDNS_MAX_RELOCS 40
/* Longest NSID the program sends. */
#define XDPDNS_MAX_NSID 32

/* Template id 0 means "no template: pass the query to userspace". */
#define XDPDNS_PASS 0

/* Hash of a lower-case wire-format name suffix. Both halves are computed
 * over the suffix's bytes from the last (the root label's 0) to the first:
 *   h1 = (h1 ^ byte) * 0x100000001b3,     h1 starts at 0xcbf29ce484222325
 *   h2 = (h2 ^ byte) * 0x9e3779b97f4a7c15 + 1,  h2 starts at 0x84222325cbf29ce4
 * so the hash of a longer suffix continues from the hash of the shorter. */
struct name_key {
	__u64 h1;
	__u64 h2;
};

/* names: key struct name_key (a name that exists in a served zone,
 * empty non-terminals included); value: what to answer when this name is
 * the longest existing suffix of the qname. Index [do] = DO bit. */
struct name_val {
	__u32 exact_default[2]; /* qname == this name, qtype not in answers */
	__u32 below_default[2]; /* qname strictly below this name */
	__u32 flags;            /* XDPDNS_NF_* */
};

/* name_val.flags: which lookups the walk can skip. */
#define XDPDNS_NF_EXACT_TYPED 0x1 /* answers has exact-mode entries for the name */
#define XDPDNS_NF_BELOW_TYPED 0x2 /* answers has below-mode entries for the name */
#define XDPDNS_NF_LEAF        0x4 /* no name below this one: stop the walk here */

/* answers: per-qtype templates that differ from the name's default. */
struct answer_key {
	__u64 h1;
	__u64 h2;
	__u16 qtype;
	__u16 mode; /* XDPDNS_MODE_* */
	__u32 pad;
};

#define XDPDNS_MODE_EXACT 0 /* class IN, qname == name */
#define XDPDNS_MODE_BELOW 1 /* class IN, qname strictly below name */
#define XDPDNS_MODE_CHAOS 2 /* class CH, qname == name (id.server...) */

struct answer_val {
	__u32 tmpl[2]; /* index [do]; XDPDNS_PASS = answer in userspace */
};

/* templates: array indexed by template id (0 unused). The reply's DNS
 * payload is: header (ID, RD and CD from the query; QR; AA and RCODE from
 * flags; the four counts), the query's question copied byte for byte, the
 * body, then for an EDNS query the OPT record. Every compression pointer
 * in the body holds (target - qname length); the program adds the qname's
 * wire length at each offset in relocs. */
struct tmpl {
	__u32 first_chunk; /* index in chunks of the body's first 64 bytes */
	__u16 body_len;    /* body bytes (0..XDPDNS_MAX_BODY; larger: see flags) */
	__u16 req_len;     /* body bytes up to the end of required records */
	__u16 ancount;
	__u16 nscount;
	__u16 arcount; /* additional records in the body (OPT not counted) */
	__u16 flags;   /* XDPDNS_TF_* */
	__u16 nrelocs;
	__u16 kind; /* engine answer kind, for counters */
	__u16 relocs[XDPDNS_MAX_RELOCS];
};

#define XDPDNS_TF_AA    0x0400 /* set AA */
#define XDPDNS_TF_RCODE 0x000f /* RCODE bits */
#define XDPDNS_TF_TOOBIG                                                                           \
	0x8000 /* body longer than XDPDNS_MAX_BODY: never sent                                     \
	          from XDP, only TC or pass */

/* chunks: array of body bytes, XDPDNS_CHUNK_SIZE per entry. */
struct chunk {
	__u8 b[XDPDNS_CHUNK_SIZE];
};

/* Most UDP ports the program serves. */
#define XDPDNS_MAX_PORTS 4

/* config: array with one entry, written by the loader. */
struct config {
	__u32 gen;      /* which generation of the outer maps is live (0/1) */
	__u16 udp_size; /* the server's EDNS UDP size, also the OPT class */
	__u16 nsid_len; /* 0: no NSID configured */
	__u8 nsid[XDPDNS_MAX_NSID];
	__u16 ports[XDPDNS_MAX_PORTS]; /* served UDP ports, 0 = unused slot */
	__u32 any_addr;                /* 1: serve every destination address, else served_addrs */
};

/* served_addrs: LPM trie of destination prefixes served from XDP; IPv4
 * addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefixlen + 96). */
struct addr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Counters, per CPU: array index = enum counter. */
enum counter {
	CNT_RX = 0,              /* packets seen by the program */
	CNT_ANSWER_BASE = 1,     /* + engine kind (0..8): answered in XDP */
	CNT_TC = 10,             /* answered in XDP with TC=1 */
	CNT_PASS_NOT_DNS = 11,   /* not UDP to a served address/port */
	CNT_PASS_MALFORMED = 12, /* DNS header or question unparsable */
	CNT_PASS_OPCODE = 13,    /* not a standard QUERY, or flags/counts */
	CNT_PASS_EDNS = 14,      /* EDNS version != 0, bad or several OPTs */
	CNT_PASS_QNAME = 15,     /* qname too long / too many labels */
	CNT_PASS_QTYPE = 16,     /* qtype or qclass left to userspace */
	CNT_PASS_NOZONE = 17,    /* name in no served zone */
	CNT_PASS_NOTMPL = 18,    /* no template (engine answers it) */
	CNT_PASS_SIZE = 19,      /* fits only without optional records */
	CNT_PASS_TAIL = 20,      /* could not grow the packet */
	CNT_PASS_IPV6_EXT = 21,  /* IPv6 extension headers */
	CNT_PASS_IPV4_FRAG = 22, /* IPv4 fragment or options */
	CNT_SKB_RX = 23,         /* packets seen by the tc ingress program */
	CNT_SKB_ANSWER = 24,     /* answered at tc ingress (did not fit the XDP frame) */
	CNT_MAX = 26,
};

#endif
