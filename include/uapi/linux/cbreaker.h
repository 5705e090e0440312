/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cbreaker: circuit breaking for outgoing connections.
 *
 * Every type that crosses the kernel module, the BPF programs and userspace
 * lives here, so that the three can never disagree about a layout.
 */
#ifndef _UAPI_LINUX_CBREAKER_H
#define _UAPI_LINUX_CBREAKER_H

#ifndef __VMLINUX_H__	/* BPF programs get these from vmlinux.h */
#include <linux/types.h>
#endif

#define CB_GENL_NAME		"cbreaker"
#define CB_GENL_VERSION		1
#define CB_VERSION		"0.1.0"

/* Where cbctl pins maps, programs and links (bpffs). */
#define CB_PIN_DIR		"/sys/fs/bpf/cbreaker"

/* Default and largest number of breakers (entries in the breaker map). */
#define CB_BREAKERS_DEFAULT	65536
#define CB_BREAKERS_MAX		(1U << 22)

enum cb_state {
	CB_STATE_CLOSED,
	CB_STATE_OPEN,
	CB_STATE_HALF_OPEN,
	__CB_STATE_MAX,
};

/* Operator overrides: "trip" forces OPEN, "hold" forces CLOSED. */
enum cb_force {
	CB_FORCE_NONE,
	CB_FORCE_OPEN,
	CB_FORCE_CLOSED,
	__CB_FORCE_MAX,
};

enum cb_mode {
	CB_MODE_ENFORCE,
	CB_MODE_DRY_RUN,	/* full state machine, nothing refused */
	__CB_MODE_MAX,
};

/* What a policy counts as a call (policy key "calls"). */
enum cb_calls {
	CB_CALLS_CONNECTS,	/* connection attempts */
	CB_CALLS_EXCHANGES,	/* request/response exchanges on TCP connections */
	__CB_CALLS_MAX,
};

/* What a breaker does to its established TCP connections when it opens. */
enum cb_on_open {
	CB_ON_OPEN_KEEP,	/* nothing: they carry on */
	CB_ON_OPEN_CLOSE,	/* abort them (dry-run: count them) */
	__CB_ON_OPEN_MAX,
};

/* Why a breaker changed state (events). */
enum cb_reason {
	CB_REASON_NONE,
	CB_REASON_FAILURE_RATE,	/* CLOSED -> OPEN */
	CB_REASON_SLOW_RATE,	/* CLOSED -> OPEN */
	CB_REASON_OPEN_ELAPSED,	/* OPEN -> HALF_OPEN */
	CB_REASON_PROBES_OK,	/* HALF_OPEN -> CLOSED */
	CB_REASON_PROBE_FAILED,	/* HALF_OPEN -> OPEN */
	CB_REASON_PROBE_TIMEOUT, /* HALF_OPEN -> OPEN or CLOSED at probe-wait */
	CB_REASON_TRIP,		/* operator: forced open */
	CB_REASON_HOLD,		/* operator: forced closed */
	CB_REASON_RESET,	/* operator: reset */
	CB_REASON_MAX_OPEN,	/* CLOSED -> CLOSED: its policy's max-open held
				 * a trip back (not a state change)
				 */
	__CB_REASON_MAX,
};

/* How an admitted call ended, as sensed in the kernel. */
enum cb_outcome {
	CB_OUT_SUCCESS,		/* handshake done (latency given) */
	CB_OUT_REFUSED,		/* RST to the SYN */
	CB_OUT_TIMEOUT,		/* SYN retries exhausted */
	CB_OUT_UNREACH,		/* host/net unreachable (ICMP, or no route) */
	CB_OUT_PORT_UNREACH,	/* UDP: ICMP port unreachable */
	CB_OUT_ABANDONED,	/* closed or disconnected by its owner in SYN_SENT */
	/* after a handshake done, its success turned into a failure: */
	CB_OUT_RESET,		/* RST while ESTABLISHED */
	CB_OUT_DROPPED,		/* FIN while ESTABLISHED, before any byte */
	/* an exchange (calls exchanges) its owner gave up on, waiting for a reply */
	CB_OUT_STALLED,
	__CB_OUT_MAX,
	/*
	 * Not an outcome: the result of a socket whose owner changed what the
	 * result depends on (TTL, source address, device). Counted, not judged.
	 */
	CB_OUT_IGNORED = __CB_OUT_MAX,
	/* an ending that is no outcome: with CB_RECORD_CALL, the call counts */
	CB_OUT_NONE,
};

/*
 * With an outcome to cb_record(): the call was admitted by the gate (struct
 * cb_gate_set), which counts it nowhere in its breaker; the module does.
 */
#define CB_RECORD_CALL	0x100

/*
 * With an outcome to cb_record(): the call was an exchange on a kept
 * connection (calls exchanges) begun at @start_ns: a reset or drop is its
 * own result, not a handshake's success turned into a failure.
 */
#define CB_RECORD_EXCHANGE	0x200

/*
 * An exchange's epoch, for one that is not the first on its connection:
 * the breaker's own, if it was closed and has not changed since the
 * exchange began; else the exchange decides nothing.
 */
#define CB_EPOCH_SINCE		0xffffffffU	/* no epoch is (31 bits) */

/*
 * cb_record()'s @how: the outcome (and CB_RECORD_CALL) in the low half, the
 * epoch cb_admit() returned in the high (a kfunc takes five arguments).
 */
#define CB_RECORD_HOW(out, epoch)	((__u64)(epoch) << 32 | (__u32)(out))

/*
 * Classes of failed outcomes, for a policy's fail-on: bits. Port
 * unreachable is UDP's refused. Reset and dropped are seen after the
 * handshake (within the policy's fail-window of the connect), or while an
 * exchange waits for its reply (calls exchanges); stalled only then.
 */
enum cb_class {
	CB_CLASS_REFUSED	= 1 << 0,
	CB_CLASS_TIMEOUT	= 1 << 1,
	CB_CLASS_UNREACHABLE	= 1 << 2,
	CB_CLASS_ABANDONED	= 1 << 3,
	CB_CLASS_RESET		= 1 << 4,
	CB_CLASS_DROPPED	= 1 << 5,
	CB_CLASS_STALLED	= 1 << 6,
	CB_CLASS_ALL		= (1 << 7) - 1,
	CB_CLASS_DEFAULT	= CB_CLASS_REFUSED | CB_CLASS_TIMEOUT |
				  CB_CLASS_UNREACHABLE | CB_CLASS_ABANDONED |
				  CB_CLASS_STALLED,
	CB_CLASS_LATE		= CB_CLASS_RESET | CB_CLASS_DROPPED,
};

/*
 * What cb_admit() returns to a hook: a refusal, a silent admission whose
 * outcome is not to be reported (no policy, table full, dry-run, forced),
 * or an admission whose outcome is reported with this value (the
 * breaker's epoch).
 */
#define CB_ADMIT_REFUSE		(-1)
#define CB_ADMIT_SILENT		(-2)

/* Maps the BPF object hands to the module (cb_map_attach kfunc). */
enum cb_map_id {
	CB_MAP_BREAKERS,
	CB_MAP_RULES,		/* policies without a port: struct cb_rule_key */
	CB_MAP_PORT_RULES,	/* policies with a port: struct cb_port_rule_key */
	CB_MAP_COUNTS,		/* per CPU, __u64 by enum cb_count: what the
				 * hooks count themselves, which the module
				 * adds to its counters
				 */
	CB_MAP_GATE,		/* struct cb_gate_set: closed breakers the
				 * hooks admit without the breaker
				 */
	__CB_MAP_MAX,
};

/* What the hooks count without the module (CB_MAP_COUNTS), by index. */
enum cb_count {
	CB_COUNT_ADMITTED,	/* TCP calls to closed breakers: CB_STAT_ADMITTED */
	CB_COUNT_BULKHEAD,	/* connects max-conns refused: CB_STAT_BULKHEAD */
	CB_COUNT_UNBOUNDED,	/* and let through unbounded: CB_STAT_UNBOUNDED */
	__CB_COUNT_MAX,
};

/*
 * A breaker's identity: a destination as seen from one network namespace
 * by the processes of one attached cgroup. IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d), so one table and one key serve both families, and a v6
 * socket dialing a mapped address meets the same breaker as a v4 socket.
 */
struct cb_key {
	__u8	addr[16];
	__be16	port;
	__u8	proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8	pad;		/* must be zero */
	__u32	scope;		/* the attached cgroup: low 32 bits of its id */
	__u64	netns;		/* the network namespace's cookie */
};

/*
 * The gate: TCP breakers the hooks admit without reading the breaker, so a
 * connect to one touches a single cache line of a small dense table rather
 * than the breaker's hash bucket and element (cold at a large fan-out). A
 * key hashes (cb_key_hash, under a random key the module writes in the
 * last element when it is handed the map) to one set; a way holds (tag <<
 * 32 | epoch) of a closed breaker whose policy needs nothing of the hooks
 * (no max-conns, no fail-on reset or dropped, no connect timeout where
 * cb_sockops applies it), or 0. The hooks fill a way from the breaker
 * after admitting through it; the module empties it on every change of
 * what it stands for, and when the breaker goes, and bumps the set's
 * version first, so a fill racing with that sees it and takes its way
 * back. A way missing or taken by another key costs only the slower path.
 * Two keys alike in all 46 bits of their hash share a way, the second
 * admitted as the first is: by chance, one table in about 30,000 of the
 * default 65,536 breakers has such a pair (one in 140 at a million); the
 * hash is keyed so that nobody can make one.
 */
#define CB_GATE_SETS	32768	/* a power of two: 2 MiB */
#define CB_GATE_WAYS	7
#define CB_GATE_KEY	CB_GATE_SETS	/* the last: way[0], way[1] the key */

struct cb_gate_set {
	__u64	ver;
	__u64	way[CB_GATE_WAYS];
};

static __inline__ __u64 cb_rotl64(__u64 x, int b)
{
	return x << b | x >> (64 - b);
}

static __inline__ void cb_sipround(__u64 *v)
{
	v[0] += v[1];
	v[1] = cb_rotl64(v[1], 13) ^ v[0];
	v[0] = cb_rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = cb_rotl64(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = cb_rotl64(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = cb_rotl64(v[1], 17) ^ v[2];
	v[2] = cb_rotl64(v[2], 32);
}

static __inline__ void cb_sipblock(__u64 *v, __u64 m)
{
	v[3] ^= m;
	cb_sipround(v);
	v[0] ^= m;
}

/*
 * SipHash-1-3 (as the kernel's hsiphash on 64 bits) of @key under @k: the
 * module's, for its own use and the hooks' (the cb_gate_hash kfunc);
 * bench/host.bpf.c's stand-in for that kfunc; the unit tests' vector.
 */
static __inline__ __u64 cb_key_hash(const struct cb_key *key, const __u64 *k)
{
	__u64 v[4], m;
	int i;

	v[0] = k[0] ^ 0x736f6d6570736575ULL;
	v[1] = k[1] ^ 0x646f72616e646f6dULL;
	v[2] = k[0] ^ 0x6c7967656e657261ULL;
	v[3] = k[1] ^ 0x7465646279746573ULL;
	/* word by word: a copy of the key would be a stack array to guard */
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&m, (const __u8 *)key + i * sizeof(m), sizeof(m));
		cb_sipblock(v, m);
	}
	cb_sipblock(v, (__u64)(4 * sizeof(m)) << 56);	/* the length */
	v[2] ^= 0xff;
	for (i = 0; i < 3; i++)
		cb_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#define CB_GATE_SET(h)	((__u32)(h) & (CB_GATE_SETS - 1))
#define CB_GATE_TAG(h)	((__u64)((__u32)((h) >> 32) | 1) << 32)
#define CB_GATE_TAGS	0xffffffff00000000ULL

/*
 * Policy rules live in two LPM tries: one keyed (proto, addr) for rules
 * without a port, one keyed (proto, port, addr) for rules with one. A rule
 * with a port beats any rule without; within a trie the longest prefix
 * wins. "default" is the (proto) rule with no address bits.
 */
struct cb_rule_key {
	__u32	prefixlen;	/* 8 + address bits */
	__u8	proto;
	__u8	addr[16];
};

struct cb_port_rule_key {
	__u32	prefixlen;	/* 8 + 16 + address bits */
	__u8	proto;
	__u8	port[2];	/* network order */
	__u8	addr[16];
};

#define CB_RULE_BITS(addr_bits)		(8 + (addr_bits))
#define CB_PORT_RULE_BITS(addr_bits)	(8 + 16 + (addr_bits))
#define CB_RULES_MAX			131072	/* per trie */

/* The rule keys that look up the rules covering @key: with its port, without. */
static __inline__ void cb_rule_keys(const struct cb_key *key,
				    struct cb_port_rule_key *pk,
				    struct cb_rule_key *rk)
{
	__builtin_memset(pk, 0, sizeof(*pk));
	pk->prefixlen = CB_PORT_RULE_BITS(128);
	pk->proto = key->proto;
	__builtin_memcpy(pk->port, &key->port, sizeof(pk->port));
	__builtin_memcpy(pk->addr, key->addr, sizeof(pk->addr));
	__builtin_memset(rk, 0, sizeof(*rk));
	rk->prefixlen = CB_RULE_BITS(128);
	rk->proto = key->proto;
	__builtin_memcpy(rk->addr, key->addr, sizeof(rk->addr));
}

/* Limits of policy values */
#define CB_WINDOW_CALLS_MAX	128	/* count window: exact, one bit per call */
#define CB_TIME_BUCKETS		8	/* time window: buckets of window/8 */
#define CB_AGE_TICKS		4	/* max-age resolution: max-age/4, in whole ms */

/* A policy: the value of both rule tries. Times in ns, rates in percent. */
struct cb_policy {
	__u64	window_ns;	/* time window length; 0: count window */
	__u64	slow_ns;	/* a handshake this slow or slower is slow */
	__u64	open_ns;	/* first open period */
	__u64	backoff_max_ns;	/* longest open period */
	__u64	probe_wait_ns;	/* half-open gives up on probes after this */
	__u64	max_age_ns;	/* count window results older drop out; 0: never */
	__u64	connect_timeout_ns; /* TCP connects give up after this; 0: never */
	__u64	fail_window_ns;	/* reset and dropped count this long after connect */
	__u32	window_calls;	/* count window size */
	__u32	min_calls;	/* calls in the window before any decision */
	__u16	backoff;	/* open period factor per consecutive trip, percent */
	__u16	probes;		/* calls admitted in half-open */
	__u8	failure_rate;	/* trip at this failure percentage or more */
	__u8	slow_rate;	/* trip at this slow percentage or more */
	__u8	jitter;		/* open period + up to this percentage */
	__u8	probe_success;	/* close when this percentage of probes succeeded */
	__u8	mode;		/* enum cb_mode */
	__u8	prefixlen;	/* set by the module: its rule's address bits */
	__u8	max_open;	/* at most this percentage of its breakers not closed */
	__u8	fail_on;	/* enum cb_class bits: the failures it counts */
	__u16	max_conns;	/* TCP connections at once per destination; 0: any */
	__u8	calls;		/* enum cb_calls */
	__u8	on_open;	/* enum cb_on_open */
	/* set by the module: where max-open counts its breakers; 0: nowhere */
	__u16	cap_slot, cap_gen;
};

/* Nanoseconds, for the policy keys' limits and defaults. */
#define CB_NS_MS		1000000ULL
#define CB_NS_S			1000000000ULL
#define CB_NS_DAY		(86400 * CB_NS_S)

/* How a policy key is written: it decides parsing, printing and JSON. */
enum cb_unit {
	CB_UNIT_N,		/* a whole number */
	CB_UNIT_PCT,		/* a percentage, 0..100 */
	CB_UNIT_NS,		/* a duration, N(ns|us|ms|s|m|h) */
	CB_UNIT_NS_OFF,		/* a duration, or 0: off */
	CB_UNIT_FACTOR,		/* "2" or "1.5", kept as a percentage */
	CB_UNIT_MODE,		/* enum cb_mode: enforce or dry-run */
	CB_UNIT_WINDOW_N,	/* window in calls: sets window_ns to 0 */
	CB_UNIT_WINDOW_NS,	/* window in time: 0 means in calls */
	CB_UNIT_CLASSES,	/* enum cb_class bits, as a list of their names */
	CB_UNIT_CALLS,		/* enum cb_calls: connects or exchanges */
	CB_UNIT_ON_OPEN,	/* enum cb_on_open: keep or close */
};

/* The policy keys themselves are listed once, in <linux/cbreaker_keys.h>. */

/* Count window: the last window_calls results, as bits of a ring. */
struct cb_count_window {
	__u64	fail[CB_WINDOW_CALLS_MAX / 64];
	__u64	slow[CB_WINDOW_CALLS_MAX / 64];
	/* runs of consecutive results with the same age tick, oldest first
	 * (the tick: cb_breaker.age_tick_ms)
	 */
	__u32	run_tick[CB_AGE_TICKS + 1];
	__u8	run_len[CB_AGE_TICKS + 1];
	__u8	run_first, runs;
	__u8	size, head, count;	/* ring size, next slot, results held */
	__u8	fails, slows;		/* of the results held */
};

/* Time window: CB_TIME_BUCKETS buckets of width_ns; counts saturate. */
struct cb_time_window {
	__u64	width_ns;
	__u64	newest;		/* number of the newest bucket: now / width_ns */
	__u16	calls[CB_TIME_BUCKETS];
	__u16	fails[CB_TIME_BUCKETS];
	__u16	slows[CB_TIME_BUCKETS];
};

/*
 * A breaker: the value of the breaker map. The module writes it; the
 * hooks only add to @calls and set @last_call of a closed breaker they
 * admit themselves; bpftool may read it. Times are CLOCK_MONOTONIC ns.
 */
/* cb_breaker.bulkhead: the limit, the connections open (below 60000: no carry) */
#define CB_BULKHEAD_MAX(v)		((v) >> 16)
#define CB_BULKHEAD_OPEN(v)	((v) & 0xffff)
#define CB_BULKHEAD_LIMIT		60000

struct cb_breaker {
	__u8	state;		/* enum cb_state, as last applied */
	__u8	forced;		/* enum cb_force */
	__u8	trips;		/* consecutive trips, for backoff */
	/* bits: every byte counts, a map element is 256 bytes at most */
	__u8	time_window:1,	/* which member of the window union */
		dry_run:1,	/* its policy refuses nothing (dry-run, or none) */
		datagram:1,	/* UDP: a probe no ICMP error answers by probe-wait succeeded */
		cap_open:1,	/* counted by max-open as not closed (cap_slot) */
		held:1,		/* a trip max-open held back, until it opens or
				 * its window no longer says trip
				 */
		fail_late:1,	/* its policy counts resets or drops (hooks) */
		exchanges:1;	/* its policy's calls are exchanges (hooks) */
	/*
	 * max-conns, one word for the hooks' atomics: its policy's limit
	 * (CB_BULKHEAD_MAX, set by the module) and the TCP connections the
	 * hooks admitted that have not ended (CB_BULKHEAD_OPEN, their count)
	 */
	__u32	bulkhead;
	__u32	epoch;		/* counts state changes; stale results are known by it */
	__u32	last_call;	/* last admission, in 2^20 ns (~1 ms), for idle eviction */
	__u32	probes_placed:10,	/* of at most 1000 */
		probes_ok:10,
		probes_failed:10;
	__u16	rules_gen;	/* generation of the rules dry_run was taken from */
	__u16	connect_timeout_ms; /* its policy's, for the hook; taken with dry_run */
	__u64	calls;		/* admitted calls */
	__u64	successes;
	__u64	failures;
	__u32	slow;		/* per breaker, these three wrap at 2^32 */
	__u32	abandoned;	/* failures that were calls given up by their owner:
				 * handshakes, or exchanges (stalled)
				 */
	__u32	rejected;	/* refused by us (or would have been, dry-run); never failures */
	__u32	slow_us;	/* its policy's slow threshold, in whole us; 0: none */
	/*
	 * Exchanges the hooks saw succeed (calls exchanges), fast and slow
	 * (CB_XCHG_OK, CB_XCHG_SLOW), not yet in the window: the module folds
	 * them in before anything else reads or changes the breaker
	 * (cb_engine_fold).
	 */
	__u32	xchg;
	__u32	open_ms;	/* half-open: how long it was open before, in ms */
	union {			/* one or the other, by state */
		__u64	open_until;	/* open: 0 while forced open (until reset) */
		__u64	probe_deadline;	/* half-open: unfinished probes count as failed */
	};
	__u64	changed_at;	/* last state change */
	__u64	seen;		/* newest time applied: an older one counts as this */
	/* where its policy's max-open counts it (the module's); 0: nowhere */
	__u16	cap_slot, cap_gen;
	__u32	age_tick_ms;	/* count window: max-age / CB_AGE_TICKS; 0: no ageing */
	union {
		struct cb_count_window cw;
		struct cb_time_window tw;
	};
};

/* cb_breaker.xchg: successes, and slow ones in the upper bits; they saturate */
#define CB_XCHG_SLOW_SHIFT	20
#define CB_XCHG_SLOW_ONE	(1U << CB_XCHG_SLOW_SHIFT)
#define CB_XCHG_OK(v)		((v) & (CB_XCHG_SLOW_ONE - 1))
#define CB_XCHG_SLOW(v)		((v) >> CB_XCHG_SLOW_SHIFT)
#define CB_XCHG_ROOM		1024	/* kept free below each half's top */

/* Module-wide counters (CB_A_STATS), for status and metrics. */
enum cb_stat {
	CB_STAT_ADMITTED,	/* calls admitted to tracked destinations */
	CB_STAT_REFUSED,	/* calls refused by an open breaker */
	CB_STAT_DRY_RUN,	/* calls dry-run let through that would be refused */
	CB_STAT_SUCCESS,	/* outcomes, by class */
	CB_STAT_FAIL_REFUSED,
	CB_STAT_FAIL_TIMEOUT,
	CB_STAT_FAIL_UNREACH,
	CB_STAT_FAIL_PORT_UNREACH,
	CB_STAT_SLOW,
	CB_STAT_TABLE_FULL,	/* let through: a policy matched, the table had no room */
	CB_STAT_CREATED,	/* breakers made */
	CB_STAT_EVICTED,	/* idle breakers evicted to make room */
	CB_STAT_TRANSITIONS,	/* state changes */
	CB_STAT_EVENTS_DROPPED,	/* state-change events a consumer missed */
	CB_STAT_DATAGRAMS,	/* UDP datagrams let through (not in SUCCESS:
				 * an ICMP error may make one a failure later)
				 */
	CB_STAT_FAIL_ABANDONED,	/* handshakes given up by their owner after slow */
	CB_STAT_IGNORED,	/* results counted neither way: of a class not in
				 * their policy's fail-on, or of a socket its
				 * owner steered
				 */
	CB_STAT_TRIP_CAPPED,	/* trips max-open held back, once per breaker
				 * until it opens or its window recovers
				 */
	CB_STAT_BULKHEAD,	/* connects refused by max-conns: no failures */
	CB_STAT_FAIL_RESET,	/* successes turned into failures: reset, */
	CB_STAT_FAIL_DROPPED,	/* and dropped (fail-on) */
	CB_STAT_UNBOUNDED,	/* connects max-conns let through without a
				 * place: no socket storage could be made
				 */
	CB_STAT_FAIL_STALLED,	/* exchanges given up by their owner after slow */
	CB_STAT_EXCHANGES,	/* exchanges that ended: calls exchanges */
	CB_STAT_CONNS_CLOSED,	/* connections on-open close aborted */
	CB_STAT_CONNS_WOULD_CLOSE, /* and that dry-run would have aborted */
	__CB_STAT_MAX,
};

/*
 * Generic netlink family CB_GENL_NAME: its commands, and the attributes
 * (enum cb_attr) each takes and returns. Attributes are one flat space;
 * the groups named here are:
 *
 *   BREAKER := CB_A_ADDR, CB_A_PORT, [CB_A_PROTO] (default TCP),
 *              [CB_A_SCOPE] (default 0), [CB_A_NETNS] (default: the
 *              caller's namespace; only the initial one may name another)
 *   RULE    := [CB_A_PROTO] (default TCP), and CB_A_DEFAULT, or CB_A_ADDR
 *              and CB_A_PREFIXLEN (no bits set beyond it) [CB_A_PORT]
 *   KEYS    := the CB_A_P_ attributes of <linux/cbreaker_keys.h>, each
 *              in its range; CB_A_P_WINDOW_CALLS or CB_A_P_WINDOW_NS
 *   VIEW    := CB_A_ADDR, CB_A_PORT, CB_A_PROTO, CB_A_SCOPE, CB_A_NETNS,
 *              CB_A_STATE, CB_A_FORCED, CB_A_TRIPS, CB_A_MODE, CB_A_P_CALLS,
 *              CB_A_TRACKED, CB_A_CALLS, CB_A_SUCCESSES, CB_A_FAILURES,
 *              CB_A_SLOW, CB_A_ABANDONED, CB_A_REJECTED,
 *              CB_A_OPENED_AT, CB_A_OPEN_UNTIL, CB_A_NOW, CB_A_WINDOW_CALLS,
 *              CB_A_WINDOW_FAILURES, CB_A_WINDOW_SLOW,
 *              CB_A_PROBES_PLACED, CB_A_PROBES_OK, CB_A_PROBES_FAILED,
 *              CB_A_CONNS
 *
 * Reading is open to everyone; the commands marked admin need
 * CAP_NET_ADMIN in the initial user namespace, and those marked host-wide
 * also a socket in the initial network namespace (-EPERM from another:
 * policies and maps serve every namespace). A failure comes with an
 * extack message naming the problem; -ENODEV: no BPF object loaded.
 * Unknown attributes are refused (strict validation).
 *
 * Nested attribute sets per object were considered and not chosen: they
 * would change every message on the wire (cbctl, the fuzzer, any other
 * client) for little gain over the groups above, which the module
 * already checks per command.
 */
enum cb_cmd {
	CB_CMD_UNSPEC,
	/*
	 * Module and table state, counters. Takes: nothing. Returns:
	 * CB_A_VERSION, CB_A_MAPS_ATTACHED, CB_A_BREAKERS, CB_A_BREAKERS_MAX,
	 * CB_A_RULES, CB_A_NOW, CB_A_STATS.
	 */
	CB_CMD_STATUS_GET,
	/*
	 * doit: takes BREAKER; returns VIEW and CB_A_HISTORY (-ENOENT: no
	 * such breaker). dump: takes nothing; one VIEW per breaker the
	 * caller's namespace may see (all of them from the initial one).
	 * A dump the table changed under is flagged NLM_F_DUMP_INTR and goes
	 * on: it may repeat a breaker (keep the last), never misses a live
	 * one; -EAGAIN if it had to start over more than 64 times.
	 */
	CB_CMD_BREAKER_GET,
	/*
	 * admin. Takes CB_A_ACTION and BREAKER, [CB_A_DURATION_NS] with
	 * CB_ACTION_TRIP (then the policy's half-open path; -EINVAL without
	 * a policy); or CB_ACTION_RESET and CB_A_ALL (every breaker from the
	 * initial namespace, the caller's namespace's own from another).
	 * Trip and hold make the breaker if there is none (-E2BIG: table
	 * full); reset of none: -ENOENT. Returns: nothing.
	 */
	CB_CMD_BREAKER_SET,
	/*
	 * admin, host-wide. The module drops its map references. Takes,
	 * returns: nothing.
	 */
	CB_CMD_MAPS_RELEASE,
	/*
	 * admin, host-wide. Takes RULE and KEYS (keys not given: their defaults); the
	 * whole policy must be valid. -EEXIST if the rule exists. Returns:
	 * nothing.
	 */
	CB_CMD_POLICY_NEW,
	/*
	 * admin, host-wide. Takes RULE and the KEYS to change; -ENOENT: no
	 * such rule.
	 */
	CB_CMD_POLICY_SET,
	/* admin, host-wide. Takes RULE; -ENOENT: no such rule. Returns: nothing. */
	CB_CMD_POLICY_DEL,
	/*
	 * doit: takes RULE (that very rule, not one covering it); returns
	 * it: [CB_A_DEFAULT], CB_A_ADDR, CB_A_PREFIXLEN, [CB_A_PORT],
	 * CB_A_PROTO and every key in force (one of the two windows).
	 * dump: takes nothing; every rule, the same way.
	 */
	CB_CMD_POLICY_GET,
	/*
	 * Multicast, group CB_MCGRP_EVENTS: a breaker changed state.
	 * CB_A_ADDR, CB_A_PORT, CB_A_PROTO, CB_A_SCOPE, CB_A_NETNS,
	 * CB_A_FROM, CB_A_STATE (to), CB_A_REASON, CB_A_SEQ, CB_A_TIME;
	 * opening under on-open close, CB_A_CLOSED (or CB_A_WOULD_CLOSE,
	 * dry-run): the connections it aborted, sent after them.
	 */
	CB_CMD_EVENT,
	/*
	 * admin, host-wide. Policy changes applied as one: takes CB_A_OP
	 * attributes, one per change, in order, and nothing else. Each is
	 * checked as its command would be against the rules the changes
	 * before it leave; then the whole against the tries' room (-ENOSPC)
	 * and max-open's slots (-EDQUOT). Only then is anything changed; a
	 * trie that finds no memory for a rule (-ENOMEM) has everything the
	 * batch changed undone, and breakers are forgotten or follow their
	 * new rules only once all of it is in. A failure's extack points
	 * into the CB_A_OP it comes from. Returns: nothing.
	 */
	CB_CMD_POLICY_BATCH,
	__CB_CMD_MAX,
};

#define CB_CMD_MAX (__CB_CMD_MAX - 1)

#define CB_MCGRP_EVENTS "events"

enum cb_action {
	CB_ACTION_TRIP = 1,	/* force open until reset (or CB_A_DURATION_NS) */
	CB_ACTION_HOLD,		/* force closed until reset */
	CB_ACTION_RESET,	/* clear forcing, window and backoff */
	__CB_ACTION_MAX,
};

enum cb_attr {
	CB_A_UNSPEC,
	CB_A_PAD,
	CB_A_ADDR,		/* binary, 16 bytes, IPv6 or IPv4-mapped */
	CB_A_PORT,		/* u16, host order */
	CB_A_PROTO,		/* u8, IPPROTO_TCP or IPPROTO_UDP */
	CB_A_ACTION,		/* u8, enum cb_action */
	CB_A_ALL,		/* flag: the action applies to every breaker */
	CB_A_STATE,		/* u8, enum cb_state, in force now */
	CB_A_FORCED,		/* u8, enum cb_force */
	CB_A_CALLS,		/* u64 */
	CB_A_SUCCESSES,		/* u64 */
	CB_A_FAILURES,		/* u64 */
	CB_A_SLOW,		/* u64 */
	CB_A_REJECTED,		/* u64 */
	CB_A_OPENED_AT,		/* u64 ns */
	CB_A_OPEN_UNTIL,	/* u64 ns */
	CB_A_NOW,		/* u64 ns, module's clock when the reply was made */
	CB_A_VERSION,		/* string */
	CB_A_MAPS_ATTACHED,	/* u8 */
	CB_A_BREAKERS,		/* u32, breakers in the table */
	CB_A_BREAKERS_MAX,	/* u32, table capacity */
	CB_A_WINDOW_CALLS,	/* u32, results in the window now */
	CB_A_WINDOW_FAILURES,	/* u32 */
	CB_A_WINDOW_SLOW,	/* u32 */
	CB_A_TRIPS,		/* u8, consecutive trips (backoff) */
	CB_A_MODE,		/* u8, enum cb_mode of the breaker's policy */
	CB_A_TRACKED,		/* u8: a policy governs this breaker */
	/* rules */
	CB_A_DEFAULT,		/* flag: the default rule of CB_A_PROTO */
	CB_A_PREFIXLEN,		/* u8, 0..128, of the 128-bit (mapped) address */
	CB_A_RULES,		/* u32, rules in both tries */
	CB_A_P_WINDOW_CALLS,	/* the policy keys: <linux/cbreaker_keys.h> */
	CB_A_P_WINDOW_NS,	/* u64 */
	CB_A_P_MIN_CALLS,	/* u32 */
	CB_A_P_FAILURE_RATE,	/* u8 */
	CB_A_P_SLOW_NS,		/* u64 */
	CB_A_P_SLOW_RATE,	/* u8 */
	CB_A_P_OPEN_NS,		/* u64 */
	CB_A_P_JITTER,		/* u8 */
	CB_A_P_BACKOFF,		/* u16, percent */
	CB_A_P_BACKOFF_MAX_NS,	/* u64 */
	CB_A_P_PROBES,		/* u16 */
	CB_A_P_PROBE_SUCCESS,	/* u8 */
	CB_A_P_PROBE_WAIT_NS,	/* u64 */
	CB_A_P_MAX_AGE_NS,	/* u64 */
	CB_A_P_MODE,		/* u8 */
	/* events */
	CB_A_FROM,		/* u8, enum cb_state */
	CB_A_REASON,		/* u8, enum cb_reason */
	CB_A_SEQ,		/* u64, event sequence number; gaps are losses */
	CB_A_TIME,		/* u64 ns */
	CB_A_STATS,		/* nested: u64 attributes of type enum cb_stat + 1 */
	CB_A_PROBES_PLACED,	/* u16, half-open probes let through */
	CB_A_PROBES_OK,		/* u16 */
	CB_A_PROBES_FAILED,	/* u16 */
	CB_A_DURATION_NS,	/* u64: CB_ACTION_TRIP for this long, then the
				 * policy's half-open path (without: until reset)
				 */
	CB_A_HISTORY,		/* nested, in a breaker's doit reply: its last
				 * changes, oldest first, each nested (type:
				 * 1, 2, ...) of CB_A_TIME, CB_A_FROM,
				 * CB_A_STATE (to), CB_A_REASON, the window
				 * (CB_A_WINDOW_*) and probes (CB_A_PROBES_*)
				 * at that moment
				 */
	CB_A_NETNS,		/* u64, network namespace cookie; default: the caller's */
	CB_A_SCOPE,		/* u32, attached cgroup of a breaker (low 32 bits of its id) */
	CB_A_ABANDONED,		/* u64, calls given up by their owner after slow:
				 * handshakes, or exchanges (stalled)
				 */
	CB_A_P_CONNECT_TIMEOUT_NS, /* u64, a policy key (see above) */
	CB_A_P_MAX_OPEN,	/* u8, a policy key (see above) */
	CB_A_P_MAX_CONNS,	/* u16, a policy key */
	CB_A_CONNS,		/* u32, a breaker's open connections (max-conns) */
	CB_A_P_FAIL_ON,		/* u8, a policy key */
	CB_A_P_FAIL_WINDOW_NS,	/* u64, a policy key */
	CB_A_P_CALLS,		/* u8, a policy key; in VIEW, what its calls are */
	CB_A_P_ON_OPEN,		/* u8, a policy key */
	CB_A_CLOSED,		/* u32, in an event or a history entry: the
				 * connections on-open close aborted as the
				 * breaker opened
				 */
	CB_A_WOULD_CLOSE,	/* u32, the same under dry-run: none aborted */
	CB_A_OP,		/* nested, in CB_CMD_POLICY_BATCH: one change,
				 * CB_A_OP_CMD and what that command takes
				 */
	CB_A_OP_CMD,		/* u8: CB_CMD_POLICY_NEW, _SET or _DEL */
	__CB_A_MAX,
};

#define CB_A_MAX (__CB_A_MAX - 1)

#endif /* _UAPI_LINUX_CBREAKER_H */
