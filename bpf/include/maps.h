/* maps.h: every map the XDP program reads, with its key and value. The
 * zone data lives in inner maps of two-slot outer maps; config.gen picks
 * the live slot, so a reload fills the other slot and flips one u32. */
#ifndef XDPDNS_MAPS_H
#define XDPDNS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "shared.h"

/* Scratch buffer: the DNS query is loaded at offset 0 and the reply is
 * built over it in place (header and question stay where they are). */
#define XDPDNS_BUF_SIZE 2048
/* Slack after the buffer so fixed-size copies at bounded offsets fit. */
#define XDPDNS_BUF_SLACK 64
/* Bound (a power of two) on the Ethernet + VLAN + IP + UDP headers moved
 * when a reply grows at the front (at most 14 + 2 * 4 + 40 + 8). */
#define XDPDNS_MAX_HDRS 128
/* Most bytes a reply may grow at the front (XDP_PACKET_HEADROOM). */
#define XDPDNS_MAX_HEAD_GROW 256
/* Default size of the dnstap ring buffer (a power of two pages; the loader
 * may set another). */
#define XDPDNS_TAP_RING_SIZE (256 * 1024)
/* Longest DNS query payload read into the scratch buffer. */
#define XDPDNS_MAX_QUERY 512

/* XDPDNS_INNER_ARRAY(vtype): the body of an inner array map template,
 * __u32 index -> vtype (the loader sets max_entries per generation). */
#define XDPDNS_INNER_ARRAY(vtype)                                                                  \
	{                                                                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, 1);                                                            \
		__uint(map_flags, BPF_F_INNER_MAP);                                                \
		__type(key, __u32);                                                                \
		__type(value, vtype);                                                              \
	}

/* XDPDNS_INNER_MMAP_ARRAY(vtype): XDPDNS_INNER_ARRAY that the loader can
 * map into its memory (BPF_F_MMAPABLE) to fill a new generation with one
 * copy instead of a syscall per batch of entries. */
#define XDPDNS_INNER_MMAP_ARRAY(vtype)                                                             \
	{                                                                                          \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, 1);                                                            \
		__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);                               \
		__type(key, __u32);                                                                \
		__type(value, vtype);                                                              \
	}

/* XDPDNS_GENERATIONS(inner): an outer map, generation (0/1) -> an inner map
 * of type struct inner. */
#define XDPDNS_GENERATIONS(inner)                                                                  \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);                                          \
		__uint(max_entries, XDPDNS_GENS);                                                  \
		__type(key, __u32);                                                                \
		__array(values, struct inner);                                                     \
	}

/* Inner map templates (one instance per generation, created by the
 * loader with max_entries sized to the image). */

/* names: __u32 slot -> struct name_slot: the hash table (shared.h,
 * XDPDNS_TABLE_PROBES) of struct name_key (hash of a lower-case wire name
 * that exists in a served zone) -> struct name_ent (default templates for
 * that name, packed). Mmapable: the loader builds it in place and changes
 * entries with ordered atomic stores (the key last, the word last). */
struct names_inner XDPDNS_INNER_MMAP_ARRAY(struct name_slot);

/* names_side: __u32 index -> struct name_val: the versions of the names
 * entries an update is changing (a name_ent word with XDPDNS_NF_SIDE names
 * its index), both versions written before the word points here. */
struct names_side_inner XDPDNS_INNER_ARRAY(struct name_val);

/* answers: __u32 slot -> struct answer_slot: the hash table (as names) of
 * answer keys (name hash, qtype and mode: shared.h,
 * XDPDNS_ANSWER_KEY_MULT) -> struct answer_val (per-type templates
 * overriding the name's default). Mmapable, written as names. */
struct answers_inner XDPDNS_INNER_MMAP_ARRAY(struct answer_slot);

/* templates: __u32 template id -> struct tmpl (0 unused). Mmapable: a
 * TLD's are hundreds of thousands, which batch syscalls wrote at ~2 µs
 * each. */
struct templates_inner XDPDNS_INNER_MMAP_ARRAY(struct tmpl);

/* shared_templates: __u32 template id without XDPDNS_SHARED_TMPL ->
 * struct tmpl_versions (0 unused). */
struct shared_templates_inner XDPDNS_INNER_ARRAY(struct tmpl_versions);

/* chunks: __u32 chunk index -> struct chunk (64 body bytes). Mmapable:
 * a signed TLD's are hundreds of MB. */
struct chunks_inner XDPDNS_INNER_MMAP_ARRAY(struct chunk);

/* denial_zones: __u32 index (tmpl.denial_zone; 0 unused) -> struct
 * denial_zone_versions (a chain view in each version: where its entries
 * and index are, the NSEC3 salt). */
struct denial_zones_inner XDPDNS_INNER_ARRAY(struct denial_zone_versions);

/* denial_entries: __u32 index -> struct denial_entry (one interval of a
 * chain: its sort key and the covering RRset's piece). Mmapable, as
 * templates. */
struct denial_entries_inner XDPDNS_INNER_MMAP_ARRAY(struct denial_entry);

/* denial_index: __u32 index_base + bucket -> __u32 first entry of the
 * bucket (keys by their top index_bits bits). */
struct denial_index_inner XDPDNS_INNER_ARRAY(__u32);

/* name_filter: __u32 word -> __u64: word 0 the shift, then the bits of
 * a Bloom filter of the names keys (shared.h, XDPDNS_FILTER_*). */
struct name_filter_inner XDPDNS_INNER_ARRAY(__u64);

/* names: generation (0/1) -> names inner map. */
XDPDNS_GENERATIONS(names_inner) names SEC(".maps");

/* names_side: generation (0/1) -> names_side inner map. */
XDPDNS_GENERATIONS(names_side_inner) names_side SEC(".maps");

/* answers: generation (0/1) -> answers inner map. */
XDPDNS_GENERATIONS(answers_inner) answers SEC(".maps");

/* templates: generation (0/1) -> templates inner map. */
XDPDNS_GENERATIONS(templates_inner) templates SEC(".maps");

/* shared_templates: generation (0/1) -> shared_templates inner map. */
XDPDNS_GENERATIONS(shared_templates_inner) shared_templates SEC(".maps");

/* chunks: generation (0/1) -> chunks inner map. */
XDPDNS_GENERATIONS(chunks_inner) chunks SEC(".maps");

/* denial_zones: generation (0/1) -> denial_zones inner map. */
XDPDNS_GENERATIONS(denial_zones_inner) denial_zones SEC(".maps");

/* denial_entries: generation (0/1) -> denial_entries inner map. */
XDPDNS_GENERATIONS(denial_entries_inner) denial_entries SEC(".maps");

/* denial_index: generation (0/1) -> denial_index inner map. */
XDPDNS_GENERATIONS(denial_index_inner) denial_index SEC(".maps");

/* name_filter: generation (0/1) -> name_filter inner map. */
XDPDNS_GENERATIONS(name_filter_inner) name_filter SEC(".maps");

/* config_map: key 0 -> struct config. Mmapable so the loader flips gen with
 * one atomic 32-bit store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct config);
} config_map SEC(".maps");

/* served_addrs: struct addr_key (destination prefix, IPv4 mapped into
 * IPv6) -> __u8 (unused, 1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct addr_key);
	__type(value, __u8);
} served_addrs SEC(".maps");

/* rrl_buckets: struct rrl_key (client prefix, class, name) -> struct
 * rrl_bucket, a rate-limiting meter of each CPU's own (rrl.h): per-CPU
 * values and per-CPU LRU lists, so no lock is taken. The loader sizes it
 * (rrl-table-size). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct rrl_key);
	__type(value, struct rrl_bucket);
} rrl_buckets SEC(".maps");

/* rrl_exempt: struct addr_key (client prefix, IPv4 mapped into IPv6) ->
 * __u8 (unused, 1): clients never rate-limited (rrl-exempt). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct addr_key);
	__type(value, __u8);
} rrl_exempt SEC(".maps");

/* iface_macs: ifindex -> struct mac_val, the MAC of each interface the
 * program is attached to (written by the loader on attach). A frame that
 * arrives on such an interface is answered only when sent to that MAC. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPDNS_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct mac_val);
} iface_macs SEC(".maps");

/* vlan_ids: VLAN id (0..4095) -> 1 if frames tagged with it are served
 * (VLANs configured on the attached interfaces, or given to the loader). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPDNS_VLAN_IDS);
	__type(key, __u32);
	__type(value, __u8);
} vlan_ids SEC(".maps");

/* drop_ports: word (source port / 64) -> bitmap of the UDP source ports
 * whose queries are dropped (drop-source-ports: no reply may go there). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPDNS_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} drop_ports SEC(".maps");

/* tap_events: struct tap_event records of sampled answered queries, read
 * by the loader (dnstap). The loader sets the size. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPDNS_TAP_RING_SIZE);
} tap_events SEC(".maps");

/* tap_state: key 0 -> this CPU's sampling state (per CPU). */
struct tap_state {
	__u64 window_start; /* ktime of the current one-second window */
	__u32 in_window;    /* samples taken in it */
	__u32 seen;         /* answered queries seen, for one in tap_sample */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tap_state);
} tap_state SEC(".maps");

/* counters: enum counter -> packets, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* query: what the parser learnt about one packet. It lives in the scratch
 * map rather than on the stack so that the verifier treats its fields as
 * unknown values and prunes states instead of following every label
 * count and flag combination separately. */
struct query {
	__u32 l3_off;      /* IP header offset in the frame */
	__u32 l4_off;      /* UDP header offset */
	__u32 dns_off;     /* DNS payload offset */
	__u32 dlen;        /* DNS payload length (UDP length - 8) */
	__u32 avail;       /* bytes of it loaded into the scratch buffer */
	__u32 qlen;        /* wire length of the qname */
	__u32 nlabels;     /* labels of the qname, root not counted */
	__u32 found;       /* labels of its longest suffix in names (lookup.h) */
	__u32 found_cover; /* that name's name_ver.cover */
	__u32 size;        /* reply size limit */
	__u16 flags;       /* DNS header flags as received */
	__u16 qtype;
	__u16 qclass;
	__u8 v6;
	__u8 edns;
	__u8 dobit;
	__u8 nsid;
	__u8 saddr[16];    /* the client's address (IPv4 in the first 4 bytes) */
	__u8 cookie;       /* the query has a well-formed COOKIE option */
	__u8 cookie_valid; /* ... with a valid server cookie of ours */
	__u8 cc[8];        /* its client cookie */
	__u8 sc[16];       /* its server cookie, if 16 bytes long */
	__u8 sc_len;       /* server cookie length (0, 8..32) */
	__u32 cookie_now;  /* UTC seconds when the query was planned (cookie.h) */
};

/* walk: state of the bpf_loop walks over the qname bytes and the EDNS
 * options (kept in the map for the same reason as struct query). */
struct walk {
	__u64 h1, h2;     /* running suffix hashes */
	__u32 qlen;       /* qname wire length */
	__u32 next;       /* labels whose start is still ahead (walking back) */
	__u32 k;          /* suffix hashes recorded after the root's */
	__u32 p;          /* next EDNS option */
	__u32 end;        /* end of the OPT RDATA */
	__u32 avail;      /* bytes loaded into buf */
	__s32 reason;     /* -1, or why to pass */
	__u8 nsid;        /* an NSID option was seen */
	__u8 cookie;      /* COOKIE options seen */
	__u32 cookie_off; /* the (last) COOKIE option's data */
	__u32 cookie_len;
};

/* Bytes of the SHA-1 message buffer (a power of two above
 * XDPDNS_SHA1_MAX_BLOCKS * 64, for masking offsets). */
#define XDPDNS_SHA1_MSG 512

/* sha1_work: the SHA-1 of one name (denial.h). */
struct sha1_work {
	__u32 h[5];
	__u32 w[16]; /* the message schedule, 16 words at a time */
	__u32 pad;
	__u8 msg[XDPDNS_SHA1_MSG + 8]; /* message and padding; 8 bytes of slack */
};

/* scratch: key SCRATCH_XDP (the XDP program) or SCRATCH_TC (the tc
 * program) -> per-CPU working memory for one packet. */
#define SCRATCH_XDP 0
#define SCRATCH_TC  1
struct scratch {
	__u8 buf[XDPDNS_BUF_SIZE + XDPDNS_BUF_SLACK]; /* query in, reply out */
	struct query q;
	struct walk w;
	struct name_key hash[XDPDNS_MAX_LABELS + 1]; /* [k]: suffix of k labels */
	struct tmpl tmpl;                            /* the query's template (load_template) */
	__u8 starts[XDPDNS_MAX_LABELS];              /* label offsets in qname */
	__u64 dkey[4];                               /* the query's denial search key */
	struct sha1_work sha;
	/* Unused: clang emits only forward declarations for the key and
	 * value types of inner map templates; naming them here puts their
	 * full definitions in BTF, where the loader and bpf2go need them. */
	struct {
		struct name_slot ns;
		struct name_ent ne;
		struct name_val nv;
		struct name_ver nver;
		struct answer_slot as;
		struct answer_val av;
		struct answer_ver aver;
		struct tmpl t;
		struct tmpl_versions tv;
		struct chunk c;
		struct denial_zone dz;
		struct denial_zone_versions dzv;
		struct denial_entry de;
		struct mac_val mv;
		struct tap_event te;
		enum counter cnt;
		enum answer_kind kind;
	} btf_types;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

#endif
