/* shared.h: the ABI between the XDP program and the Go side. Every limit,
 * flag, mode, answer kind and counter the two sides share is defined here
 * once: bpf2go generates the Go types of the structs (bpf/xdp_bpfel.go),
 * and abigen (bpf/internal/abigen, run by `go generate ./bpf`) generates
 * package bpf/abi from the #defines and enums below, plus the counter
 * table in docs/CONFIG.md. abigen's parser is strict: a #define's value is
 * an integer expression over literals and earlier XDPDNS_ names, and every
 * enum entry carries a comment "name: meaning". */
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
#define XDPDNS_MAX_BODY 1152
/* Chunks of the longest body. */
#define XDPDNS_MAX_CHUNKS (XDPDNS_MAX_BODY / XDPDNS_CHUNK_SIZE)
/* Most compression pointers one template may need relocated. */
#define XDPDNS_MAX_RELOCS 40
/* Relocations a template holds itself (most need no more: a referral's
 * owner, name servers and glue), so that struct tmpl fills two cache
 * lines; the rest, up to XDPDNS_MAX_RELOCS, are in the chunk
 * tmpl.reloc_chunk (XDPDNS_CHUNK_SIZE / 2 of them fit one). */
#define XDPDNS_INLINE_RELOCS 10
/* Longest NSID the program sends. */
#define XDPDNS_MAX_NSID 32
/* Most UDP ports the program serves. */
#define XDPDNS_MAX_PORTS 4
/* EDNS options examined in one OPT record, by the program and by the
 * userspace query parser alike. */
#define XDPDNS_MAX_EDNS_OPTIONS 64
/* Interfaces whose MAC address the program knows (iface_macs). */
#define XDPDNS_MAX_IFACES 64
/* VLAN ids (12 bits): the size of vlan_ids. */
#define XDPDNS_VLAN_IDS 4096
/* UDP source ports dropped, as a bitmap of this many 64-bit words. */
#define XDPDNS_PORT_WORDS 1024

/* Bytes of the query and of the reply a dnstap sample carries. */
#define XDPDNS_TAP_BYTES 256
/* Paths a dnstap sample comes from (tap_event.program). */
#define XDPDNS_TAP_XDP 0
/* tap_event.program: the tc ingress companion. */
#define XDPDNS_TAP_TC 1

/* Longest NSEC3 salt the program hashes with; a zone with a longer salt,
 * extra iterations or another hash algorithm keeps its NSEC3 denial in
 * userspace. */
#define XDPDNS_MAX_SALT 32
/* SHA-1 blocks of the longest message hashed: a name, the salt and at
 * least 9 bytes of padding. */
#define XDPDNS_SHA1_MAX_BLOCKS ((XDPDNS_MAX_QNAME + XDPDNS_MAX_SALT + 9 + 63) / 64)
/* Label bytes an NSEC search key holds (denial_entry.key); a query whose
 * next closer label is longer is passed up. */
#define XDPDNS_DENIAL_LABEL 31
/* Length of an NSEC3 hash label (base32hex SHA-1): a query whose next
 * closer label is as long may name an NSEC3 owner, which the engine
 * compresses against the question, so it is passed up. */
#define XDPDNS_NSEC3_LABEL 32
/* Most compression pointers in one denial piece (denial_entry.relocs). */
#define XDPDNS_MAX_PIECE_RELOCS 6
/* Most bits of a zone's denial index (2^bits buckets by key prefix). */
#define XDPDNS_DENIAL_INDEX_BITS 16
/* Steps of the binary search inside one index bucket: enough for 2^24
 * entries in one bucket. */
#define XDPDNS_DENIAL_SEARCH_STEPS 25
/* A relocation offset with this bit set points into its own piece (a
 * denial piece: add the slot's offset too) or, in a template with a
 * denial slot, from the tail into the tail (add the piece's length). */
#define XDPDNS_RELOC_INTERNAL 0x8000
/* tmpl.slot_off of a template without a denial slot. */
#define XDPDNS_NO_SLOT 0xffff
/* tmpl.denial_head/denial_tail: no NSEC or NSEC3 RRset there. */
#define XDPDNS_NO_DENIAL 0xffffffff
/* denial_zone.kind: the cover is found by the next closer label (NSEC: a
 * view per closest encloser). */
#define XDPDNS_DENIAL_NSEC 1
/* denial_zone.kind: the cover is found by the SHA-1 of the next closer
 * name and the salt (NSEC3, no extra iterations). */
#define XDPDNS_DENIAL_NSEC3 2

/* name_filter: a one-hash Bloom filter of the keys of names, so that the
 * walk stops at a name that does not exist without a lookup in the names
 * hash (at TLD scale a lookup that misses costs cache and TLB misses).
 * Word 0 holds the shift s (0: no filter): a name's bit is b = h2 >> s,
 * among 2^(64 - s) bits, kept in word 1 + b / 64 as bit b % 64. The
 * filter has at least this many bits per name (a false positive only
 * costs the lookup). */
#define XDPDNS_FILTER_BITS_PER_NAME 8
/* The walk checks the filter from this many labels on (the root and the
 * TLDs are few and hot). */
#define XDPDNS_FILTER_FROM_LABELS 2

/* Template id that means "no template: pass the query to userspace". */
#define XDPDNS_PASS 0

/* Query types the program always passes up, as inclusive ranges X(lo, hi):
 * 0, OPT, RRSIG and TKEY..ANY (TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY);
 * the engine treats them specially and no template is rendered for them. */
#define XDPDNS_NEVER_IN_XDP(X) X(0, 0) X(41, 41) X(46, 46) X(249, 255)

/* Parameters of the name hash (see struct name_key). */
#define XDPDNS_HASH_H1_BASIS 0xcbf29ce484222325
#define XDPDNS_HASH_H1_PRIME 0x100000001b3
#define XDPDNS_HASH_H2_BASIS 0x84222325cbf29ce4
#define XDPDNS_HASH_H2_MULT  0x9e3779b97f4a7c15

/* Hash of a lower-case wire-format name suffix. Both halves are computed
 * over the suffix's bytes from the last (the root label's 0) to the first:
 *   h1 = (h1 ^ byte) * 0x100000001b3,     h1 starts at 0xcbf29ce484222325
 *   h2 = (h2 ^ byte) * 0x9e3779b97f4a7c15 + 1,  h2 starts at 0x84222325cbf29ce4
 * so the hash of a longer suffix continues from the hash of the shorter. */
struct name_key {
	__u64 h1;
	__u64 h2;
};

/* Versions held in every answers value and names_side entry, one per
 * generation slot (config.gen): an update writes the idle slot's
 * version, flips config.gen, then copies the new version into the other
 * (loader Update), so a packet reads one version throughout. */
#define XDPDNS_GENS 2

/* One version of a name's entry: what to answer when this name is the
 * longest existing suffix of the qname. Index [do] = DO bit. The names
 * table holds it packed (struct name_ent); names_side in full. */
struct name_ver {
	__u32 exact_default[2]; /* qname == this name, qtype not in answers */
	__u32 below_default[2]; /* qname strictly below this name */
	__u32 flags;            /* XDPDNS_NF_* */
	/* 1 + the index, among its denial zone's entries, of the entry
	 * covering this name's own NSEC3 hash, for a template with
	 * XDPDNS_TF_SLOT_SELF (an insecure delegation's opt-out proof):
	 * found without hashing; 0: none, the program hashes the name. */
	__u32 cover;
};

/* names_side: an entry an update is changing, in both versions, [gen]
 * read by a packet of generation gen. */
struct name_val {
	struct name_ver v[XDPDNS_GENS];
};

/* struct name_ent.word: the flags (XDPDNS_NF_*, below 1 << 8) in its top
 * bits, from this one; below them the cover (or, with XDPDNS_NF_SIDE, the
 * names_side index). */
#define XDPDNS_NAME_FLAGS_SHIFT 24
/* struct name_ent.word: the mask of the cover (below 1 << 24). */
#define XDPDNS_NAME_COVER_MASK 0xffffff
/* A packed template id (struct name_ent): 24 bits, this value for
 * XDPDNS_ABSENT, */
#define XDPDNS_NAME_ID_ABSENT 0xffffff
/* this bit for XDPDNS_SHARED_TMPL; */
#define XDPDNS_NAME_ID_SHARED 0x800000
/* template and shared template ids are below this one. */
#define XDPDNS_NAME_ID_LIMIT 0x7fffff

/* A name's entry in the names table: its one version (the live one) in
 * 16 bytes, so that a slot is half a cache line. word: flags << 24 |
 * cover (XDPDNS_NAME_*). The four template ids exact_default[0],
 * exact_default[1], below_default[0], below_default[1] packed in 24 bits
 * each (XDPDNS_NAME_ID_*): the first three in the low 24 bits of ids[0],
 * ids[1], ids[2], the fourth's bytes (low first) in their top bytes.
 * While an update changes it, word is XDPDNS_NF_SIDE << 24 | i: the
 * entry's versions are names_side entry i (loader Update). */
struct name_ent {
	__u32 word;
	__u32 ids[3];
};

/* names and answers are open-addressing hash tables in array maps, so
 * that finding a key reads one cache line holding it and its value (a
 * kernel hash map reads a bucket, then an element elsewhere). Slot 0 is
 * the header: its key.h1 is the table's size n (any number of slots, so
 * that a table is sized to its keys, not to a power of two), its key.h2
 * the table's random seed; the table is slots 1 .. n. A key's home is
 * 1 + ((f * n) >> 32), f = ((h1 ^ seed) * XDPDNS_TABLE_HOME_MULT) >> 32
 * (the seed, drawn for each table, keeps a zone's names from being
 * chosen to crowd one home); the key is at most XDPDNS_TABLE_PROBES - 1
 * slots after it (wrapping from slot n to slot 1), before the first
 * empty slot (key {0, 0}). A slot whose versions are all absent
 * (XDPDNS_NF_ABSENT, XDPDNS_ABSENT) is a removed entry: a lookup treats
 * it as missing, and an update may reuse it. */
#define XDPDNS_TABLE_PROBES    128
#define XDPDNS_TABLE_HOME_MULT 0x9e3779b97f4a7c15

/* One slot of names: the key struct name_key of a name that exists in a
 * served zone (empty non-terminals included) and its entry, half a cache
 * line. */
struct name_slot {
	struct name_key key;
	struct name_ent ent;
};

/* name_ver.flags (which lookups the walk can skip): answers has
 * exact-mode entries for the name. */
#define XDPDNS_NF_EXACT_TYPED 0x1
/* name_ver.flags: answers has below-mode entries for the name. */
#define XDPDNS_NF_BELOW_TYPED 0x2
/* name_ver.flags: no name below this one: the walk stops here. */
#define XDPDNS_NF_LEAF 0x4
/* name_ver.flags: the name is not in this version (added or removed by
 * an update): the walk treats it as missing. */
#define XDPDNS_NF_ABSENT 0x8
/* name_ver.flags: a zone cut seen from its parent (a delegation):
 * exact_default is the answer to a DS query alone (the parent's, for
 * qname == the name); any other qtype not in answers takes below_default
 * (the referral, the same for qname == the name as below it). This keeps
 * the DS answer of every delegation out of answers. */
#define XDPDNS_NF_CUT 0x10
/* name_ent.word's flags: the entry's versions are in names_side, at the
 * index in the word's low bits (never in a name_ver). */
#define XDPDNS_NF_SIDE 0x80

/* answers: per-qtype templates that differ from the name's default,
 * keyed by the name's struct name_key {h1, h2} made into
 *   {h1 + (((qtype << 2) | mode) + 1) * XDPDNS_ANSWER_KEY_MULT, h2}
 * (an odd multiplier: distinct qtype and mode give distinct keys for one
 * name), so that the table holds 16-byte keys like names. */
#define XDPDNS_ANSWER_KEY_MULT 0xff51afd7ed558ccd

/* Answer key mode: class IN, qname == name. */
#define XDPDNS_MODE_EXACT 0
/* Answer key mode: class IN, qname strictly below name. */
#define XDPDNS_MODE_BELOW 1
/* Answer key mode: class CH, qname == name (id.server...). */
#define XDPDNS_MODE_CHAOS 2

/* One version of a per-type entry. */
struct answer_ver {
	__u32 tmpl[2]; /* index [do]; XDPDNS_PASS = answer in userspace */
};

/* answers value: the entry in each version, [gen] read by generation gen. */
struct answer_val {
	struct answer_ver v[XDPDNS_GENS];
};

/* answer_ver.tmpl[0]: the entry is not in this version (the name's
 * default applies). */
#define XDPDNS_ABSENT 0xffffffff

/* One slot of answers: a key and its value, half a cache line. */
struct answer_slot {
	struct name_key key;
	struct answer_val val;
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
	__u16 kind; /* enum answer_kind, for counters */
	/* Rate limiting: the class (enum rrl_class) and the bucket's name, the
	 * query name's suffix of rrl_labels labels (XDPDNS_RRL_QNAME: the whole
	 * name), with a "*" label prepended when rrl_wild. */
	__u8 rrl_class;
	__u8 rrl_labels;
	__u16 rrl_wild;
	/* Signed denial (denial.h): the covering NSEC or NSEC3 RRset of the
	 * query name goes at body offset slot_off (XDPDNS_NO_SLOT: none),
	 * found in denial_zones[denial_zone]. The body before the slot (the
	 * head) starts at first_chunk, the rest (the tail) at tail_chunk. The
	 * cover is left out when it is the RRset denial_head (in the head)
	 * or denial_tail (first in the tail), places among the zone's
	 * entries (from its entry_base on, so that a zone's entries can move
	 * without its templates changing), as the engine adds an RRset
	 * once (XDPDNS_NO_DENIAL: none). */
	__u16 slot_off;
	__u16 denial_zone;
	__u32 tail_chunk;
	__u32 denial_head;
	__u32 denial_tail;
	/* The chunk holding relocations XDPDNS_INLINE_RELOCS .. nrelocs - 1
	 * (used when nrelocs > XDPDNS_INLINE_RELOCS): the one after the
	 * body's last. */
	__u32 reloc_chunk;
	/* The body's first XDPDNS_CHUNK_SIZE bytes (before the slot, if it
	 * has one), so that a short body (most referrals) is read with the
	 * header instead of from another page: the rest of the body before
	 * the slot is in chunks from first_chunk on. */
	__u8 head[XDPDNS_CHUNK_SIZE];
	/* Offsets in the body of its first relocations. */
	__u16 relocs[XDPDNS_INLINE_RELOCS];
};

/* A template id with this bit set names an entry of shared_templates:
 * a template many names refer to, which an update may rewrite in place
 * (each generation reads its own version), so that a change such as a
 * new SOA serial rewrites one template, not every entry using it. */
#define XDPDNS_SHARED_TMPL 0x80000000

/* shared_templates value: the template in each version, [gen] read by
 * generation gen. */
struct tmpl_versions {
	struct tmpl v[XDPDNS_GENS];
};

/* tmpl.flags: set AA. */
#define XDPDNS_TF_AA 0x0400
/* tmpl.flags: the RCODE bits. */
#define XDPDNS_TF_RCODE 0x000f
/* tmpl.flags: the body is longer than XDPDNS_MAX_BODY and never sent from
 * XDP (only a TC=1 reply, or pass). */
#define XDPDNS_TF_TOO_BIG 0x8000
/* tmpl.flags: the denial slot takes the cover of the name found itself,
 * not of the next label below it: a DS query at an insecure delegation of
 * an NSEC3 opt-out zone, whose closest encloser is the zone above it (one
 * template for every such delegation, whatever its hash); in an NSEC
 * zone's view, the name's own NSEC (the entry of its label: the last one
 * at or below its key). */
#define XDPDNS_TF_SLOT_SELF 0x4000

/* chunks: array of body bytes, XDPDNS_CHUNK_SIZE per entry. */
struct chunk {
	__u8 b[XDPDNS_CHUNK_SIZE];
};

/* denial_zones: array indexed by tmpl.denial_zone (0 unused): a chain as
 * the program searches it (an NSEC3 zone's chain, or the NSEC covers of
 * the names below one closest encloser). Its entries are
 * denial_entries[entry_base .. entry_base + entry_count), sorted by key;
 * denial_index[index_base + b] is the first entry whose key's top
 * index_bits bits are at least b (2^index_bits + 1 words). */
struct denial_zone {
	__u32 entry_base;
	__u32 entry_count;
	__u32 index_base;
	__u8 kind; /* XDPDNS_DENIAL_NSEC or XDPDNS_DENIAL_NSEC3 */
	__u8 index_bits;
	__u8 salt_len;
	__u8 pad;
	__u8 salt[XDPDNS_MAX_SALT];
	/* To 64 bytes: each version of a denial_zone_versions value is one
	 * cache line, not two. */
	__u8 pad2[16];
};

/* denial_zones value: the zone in each version, [gen] read by generation
 * gen, so that an update can move a zone's entries (a changed chain)
 * for every template reading it at once. */
struct denial_zone_versions {
	struct denial_zone v[XDPDNS_GENS];
};

/* denial_entries: array of the chains' intervals. key is compared as four
 * unsigned words, most significant first: NSEC3, the SHA-1 owner hash
 * (20 bytes, zero-padded); NSEC, the owner's label below the closest encloser,
 * lower-case, zero-padded to XDPDNS_DENIAL_LABEL bytes, then its length
 * (0xff if longer). The piece is the covering RRset with its RRSIGs as
 * the engine writes it: len bytes from chunk first_chunk, nrecs records,
 * each pointer at relocs[i] holding (target - qname length), or with
 * XDPDNS_RELOC_INTERNAL (target - qname length - slot offset). */
struct denial_entry {
	__u64 key[4];
	__u32 first_chunk;
	__u16 len;
	__u16 nrecs;
	__u16 nrelocs;
	__u16 relocs[XDPDNS_MAX_PIECE_RELOCS];
};

/* config: array with one entry, written by the loader. */
struct config {
	__u32 gen;      /* which generation of the outer maps is live (0/1) */
	__u16 udp_size; /* the server's EDNS UDP size, also the OPT class */
	__u16 nsid_len; /* 0: no NSID configured */
	__u8 nsid[XDPDNS_MAX_NSID];
	__u16 ports[XDPDNS_MAX_PORTS]; /* served UDP ports, 0 = unused slot */
	/* 1: serve every unicast destination (tests, benchmarks), else served_addrs */
	__u32 any_addr;
	__u32 tap_sample; /* dnstap: copy one answered query in tap_sample to tap_events; 0: off */
	__u32 tap_rate;   /* dnstap: at most this many samples per second per CPU */
	/* Response rate limiting (package rrl; rrl.h): off when rrl_interval
	 * is 0. A bucket lets a response through while its theoretical time
	 * stays within a second of now; each response moves it on by
	 * rrl_interval ns, never more than rrl_window ns ahead. */
	__u32 rrl_slip;    /* every rrl_slip-th limited response sent TC=1; 0: none */
	__u32 rrl_prefix4; /* client prefix bits of a bucket, IPv4 */
	__u32 rrl_prefix6; /* and IPv6 */
	__u32 rrl_exempt;  /* entries in rrl_exempt (0: the lookup is skipped) */
	/* DNS Cookies (cookie.h): XDPDNS_COOKIES_*; the RFC 9018 server
	 * secret of new cookies and, while cookie_has_prev, the previous one,
	 * still accepted; cookie_tai_offset is TAI minus UTC in seconds (the
	 * cookie's timestamp is UTC, bpf_ktime_get_tai_ns TAI) */
	__u32 cookies;
	__u32 cookie_has_prev;
	__u8 cookie_secret[16];
	__u8 cookie_prev[16];
	__s64 cookie_tai_offset;
	__u64 rrl_interval; /* ns per response: 1e9 / rate; 0: off */
	__u64 rrl_window;   /* ns of debt a bucket may run up */
};

/* rrl_buckets: struct rrl_key -> struct rrl_bucket, per CPU. */
struct rrl_key {
	__u8 prefix[16]; /* the client's prefix (IPv4 in the first 4 bytes) */
	__u64 name;      /* abi.HashName(name).h1 of the bucket's name; 0 for errors */
	__u8 v6;
	__u8 class; /* enum rrl_class */
	__u8 pad[6];
};
struct rrl_bucket {
	__s64 tat;   /* theoretical arrival time, ns (bpf_ktime_get_ns) */
	__u32 slips; /* limited responses so far */
	__u32 pad;
};

/* Response classes of rate limiting (rrl.Class; the template says which). */
enum rrl_class {
	RRL_CLASS_ANSWER,   /* answer: per query name (wildcard: per wildcard) */
	RRL_CLASS_NODATA,   /* nodata: per query name */
	RRL_CLASS_REFERRAL, /* referral: per delegation */
	RRL_CLASS_NXDOMAIN, /* nxdomain: per zone */
	RRL_CLASS_ERROR,    /* error: per client prefix */
	RRL_CLASS_MAX,      /* number of classes */
};

/* config.cookies: off (the COOKIE option is ignored), on (answered with a
 * fresh server cookie; a valid one exempts the client from rate limiting),
 * required (a UDP query without a valid server cookie goes to userspace,
 * which answers BADCOOKIE or TC=1). */
#define XDPDNS_COOKIES_OFF      0
#define XDPDNS_COOKIES_ON       1
#define XDPDNS_COOKIES_REQUIRED 2

/* tmpl.rrl_labels: the bucket's name is the whole query name. */
#define XDPDNS_RRL_QNAME 0xff

/* tap_events: one answered query sampled for dnstap (the loader's reader
 * turns it into AUTH_QUERY and AUTH_RESPONSE messages). */
struct tap_event {
	__u64 ktime_ns;  /* bpf_ktime_get_ns() when answered */
	__u8 saddr[16];  /* client address; IPv4 in the first 4 bytes */
	__u8 daddr[16];  /* our address */
	__u16 sport;     /* client port (host order) */
	__u16 dport;     /* our port */
	__u16 query_len; /* the query's DNS length (bytes kept: at most XDPDNS_TAP_BYTES) */
	__u16 reply_len; /* the reply's DNS length */
	__u8 v6;
	__u8 program; /* XDPDNS_TAP_XDP or XDPDNS_TAP_TC */
	__u16 pad;
	__u8 query[XDPDNS_TAP_BYTES];
	__u8 reply[XDPDNS_TAP_BYTES];
};

/* iface_macs: the MAC address of an interface the program is attached to;
 * a frame arriving there is answered only if sent to it. */
struct mac_val {
	__u8 mac[6];
	__u16 pad;
};

/* served_addrs: LPM trie of destination prefixes served from XDP; IPv4
 * addresses as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefixlen + 96). */
struct addr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* The engine's answer kinds (zonecompiler/engine.Kind uses these values). */
enum answer_kind {
	KIND_ANSWER,   /* answer: positive answer at the name itself */
	KIND_CNAME,    /* cname: answer through a CNAME or DNAME chain */
	KIND_WILDCARD, /* wildcard: answer synthesised from a wildcard */
	KIND_REFERRAL, /* referral: delegation to a child zone */
	KIND_NXDOMAIN, /* nxdomain: name does not exist */
	KIND_NODATA,   /* nodata: name exists, type does not */
	KIND_REFUSED,  /* refused: name in no served zone, or a refused class */
	KIND_CHAOS,    /* chaos: CHAOS-class identity answer */
	KIND_ERROR,    /* error: FORMERR, NOTIMP, BADVERS, SERVFAIL (expired zone) */
	KIND_MAX,      /* number of kinds */
};

/* Counters, per CPU: array index = enum counter. The name before the colon
 * is the counter's name in `xdpdnsctl stats` and the control protocol;
 * KIND stands for each answer kind's name. */
enum counter {
	CNT_RX,          /* rx: packets seen by the XDP program */
	CNT_ANSWER_BASE, /* answer.KIND: answered in XDP (XDP_TX), by answer kind */
	CNT_TC = CNT_ANSWER_BASE + KIND_MAX, /* tc: of those, sent truncated (TC=1) */
	CNT_PASS_NOT_DNS,      /* pass.not_dns: not UDP to a served address and port */
	CNT_PASS_MALFORMED,    /* pass.malformed: DNS header or question unparsable */
	CNT_PASS_OPCODE,       /* pass.opcode: not a standard QUERY, or flags or counts */
	CNT_PASS_EDNS,         /* pass.edns: EDNS version not 0, a bad OPT or several */
	CNT_PASS_QNAME,        /* pass.qname: qname too long or too many labels */
	CNT_PASS_QTYPE,        /* pass.qtype: qtype or qclass left to userspace */
	CNT_PASS_NOZONE,       /* pass.nozone: name in no served zone */
	CNT_PASS_NOTMPL,       /* pass.notmpl: no template: the engine answers it */
	CNT_PASS_SIZE,         /* pass.size: fits only without optional records */
	CNT_PASS_TAIL,         /* pass.tail: the frame could not grow to the reply */
	CNT_PASS_IPV6_EXT,     /* pass.ipv6_ext: IPv6 extension headers */
	CNT_PASS_IPV4_FRAG,    /* pass.ipv4_frag: IPv4 fragment */
	CNT_PASS_IPV4_OPTIONS, /* pass.ipv4_options: IPv4 header with options */
	CNT_PASS_BAD_HEADER,   /* pass.bad_header: IP version or IP/UDP lengths inconsistent (the
	                          kernel drops it) */
	CNT_PASS_BAD_CSUM, /* pass.bad_csum: IPv4 header or UDP checksum wrong, IPv6 UDP checksum 0
	                      (the kernel drops it) */
	CNT_PASS_BAD_SOURCE,  /* pass.bad_source: source broadcast, multicast, loopback, unspecified
	                         or the destination */
	CNT_PASS_NOT_OUR_MAC, /* pass.not_our_mac: sent to another host's MAC, or to a group MAC */
	CNT_PASS_VLAN, /* pass.vlan: a VLAN not configured on the interface, or more tags than
	                  walked */
	CNT_PASS_NOT_OUR_ADDR, /* pass.not_our_address: destination not an address the node serves
	                        */
	CNT_PASS_COOKIE, /* pass.cookie: no valid server cookie under cookie-require, or a malformed
	                    COOKIE option: userspace answers BADCOOKIE, TC=1 or FORMERR */
	CNT_PASS_DENIAL, /* pass.denial: the NSEC or NSEC3 proof of the query name cannot be built
	                    in XDP (a long label, a chain the program cannot search) */
	CNT_DROP_SOURCE_PORT, /* drop.source_port: dropped: from a drop-source-ports port (port 0,
	                         echo, chargen, NTP, ...) */
	CNT_SKB_RX,           /* tc_ingress.rx: packets seen by the tc ingress companion */
	CNT_SKB_ANSWER,  /* tc_ingress.answer: answered at tc ingress (too big for the XDP frame) */
	CNT_TAP_SAMPLED, /* tap.sampled: answered queries copied to the dnstap ring buffer */
	CNT_TAP_LOST,    /* tap.lost: samples lost: the ring buffer full, or over dnstap-xdp-rate */
	CNT_RRL_SLIPPED, /* rrl.slipped: replies over the rate limit sent truncated (TC=1) */
	CNT_RRL_DROPPED, /* rrl.dropped: replies over the rate limit not sent (XDP_DROP) */
	CNT_COOKIE_VALID, /* cookie.valid: queries answered that held a valid server cookie of ours
	                   */
	CNT_MAX,          /* number of counters */
};

#endif
