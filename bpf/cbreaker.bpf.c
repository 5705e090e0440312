// SPDX-License-Identifier: GPL-2.0
/*
 * The hooks.
 *
 * cgroup connect4/6 (TCP, connected UDP) and sendmsg4/6 (unconnected UDP):
 * a destination with a breaker or a matching rule is handed to the module
 * (cb_admit), which admits or refuses. Refusal is ECONNREFUSED at once, with
 * no packet sent. A breaker is per destination, network namespace and
 * attached cgroup (cb_scope, set by cbctl for each cgroup it attaches to).
 *
 * A TCP connect to a closed breaker is admitted here without the module
 * (cb_admit_closed), as the module's own fast path would, and after one
 * such connect from the gate (struct cb_gate_set), one cache line of a
 * small table rather than the breaker's bucket and element. An admitted TCP
 * connect under a policy with a connect timeout gets it as its
 * TCP_USER_TIMEOUT until the handshake is done (cb_sockops); under one with
 * max-conns it holds one of its destination's connections until it ends
 * (closed or disconnected by its owner, reset, failed), and when they are
 * all held a connect fails at once (EAGAIN) before the breaker admits it.
 *
 * Sensing, only for calls admitted here: an admitted TCP connect is noted
 * by socket cookie, and the end of its handshake (done, reset, timed out,
 * unreachable, or abandoned by its owner) is reported to the module
 * (cb_record) with the destination read from the socket itself. Under a
 * policy whose fail-on counts resets or drops, a handshake the module took
 * as a success leaves a mark of the call on its socket, and an RST, or a
 * FIN before any byte, while it is ESTABLISHED is reported too (once). An
 * admitted UDP datagram is noted by socket and destination; an ICMP error
 * counts only if the kernel matches it to such a socket, at most once per
 * datagram, and only where the kernel reports it to the socket. A result
 * counts only for a plain socket, one that carries nothing its owner could
 * use to make its own call fail (cb_plain()); any other is reported as
 * ignored.
 *
 * Everything else admits: cbreaker fails open.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <linux/cbreaker.h>

/* vmlinux.h carries no macros */
#define AF_INET		2
#define AF_INET6	10
#define ECONNREFUSED	111
#define ECONNRESET	104
#define ETIMEDOUT	110
#define EPIPE		32
#define ECONNABORTED	103
#define EAGAIN		11
#define EHOSTUNREACH	113
#define ENETUNREACH	101
#define SOCK_ALLOW	1
#define SOCK_DENY	0
#define ICMP_DEST_UNREACH	3
#define ICMP_PORT_UNREACH	3
#define ICMP_FRAG_NEEDED	4
#define ICMPV6_DEST_UNREACH	1
#define ICMPV6_PORT_UNREACH	4
#define SOL_TCP		6
#define TCP_USER_TIMEOUT	18
#define SOCK_BINDADDR_LOCK	4
/* ICMP unreachable codes whose error a socket is told without IP_RECVERR */
#define CB_ICMP_FATAL	0xe7cc	/* icmp_err_convert[].fatal, codes 0-15 */
#define CB_ICMP6_FATAL	0x72	/* tab_unreach[].fatal, codes 0-6; the rest 1 */

/*
 * Module kfuncs (cbreaker.ko). bench/host.bpf.c builds these programs with
 * stand-ins, to time the BPF side alone on a host that cannot load modules.
 */
#ifndef CB_BPF_NO_MODULE
extern int cb_admit(void *key, __u32 key__sz) __ksym;
extern __u64 cb_gate_hash(void *key, __u32 key__sz, __u64 k0, __u64 k1) __ksym;
extern int cb_record(void *key, __u32 key__sz, __u64 how, __u64 start_ns,
		     __u64 now_ns) __ksym;
extern int cb_map_attach(void *map, __u32 id) __ksym;
#endif

/*
 * The attached cgroup these hook programs serve; cbctl sets it at load
 * (each cgroup gets its own copy of the programs and of this variable).
 */
__u32 cb_scope;

/*
 * Whether cb_sockops is attached with the hooks, to end the connect
 * timeouts they set and see max-conns connections close: cbctl leaves it
 * out where another tool's sock_ops program would lose its place, and
 * these hooks then apply neither.
 */
__u32 cb_sockops_on;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CB_BREAKERS_DEFAULT);
	__type(key, struct cb_key);
	__type(value, struct cb_breaker);
} cb_breakers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CB_RULES_MAX);
	__type(key, struct cb_rule_key);
	__type(value, struct cb_policy);
} cb_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CB_RULES_MAX);
	__type(key, struct cb_port_rule_key);
	__type(value, struct cb_policy);
} cb_port_rules SEC(".maps");

/*
 * A TCP connect admitted and not finished yet: the note its outcome sensor
 * needs (when it began, in which epoch and scope). Where it went is read
 * from the socket when it ends, so a socket that is reconnected elsewhere
 * can never credit the destination it first dialed.
 *
 * Notes live in an array indexed by the socket's cookie, which is unique
 * and never reused: a slot is ours while it holds our cookie. A plain
 * array costs a few loads and stores where the LRU hash it replaced cost
 * about 0.55 us per connect (insert, lookup, delete) and socket storage
 * about 1.7 us (bench/host_bench, on this host). A connect takes the first
 * of CB_CONN_WAYS slots from its cookie on that is free or stale, never
 * one a live handshake holds, so a note outlives any number of later
 * connects; when all are live (thousands of handshakes in flight) the
 * connect goes unnoted and its outcome uncounted. A note is stale once it
 * is older than any default handshake: what connect() failed before its
 * SYN leaves behind, or a note whose socket outlived that.
 */
struct cb_conn {
	__u64 cookie;	/* whose note this is; 0: none */
	__u64 start;
	__u32 epoch;	/* and CB_CONN_LATE */
	__u32 scope;
	__u32 gated;	/* admitted by the gate: the module counts the call */
};

/* in cb_conn.epoch (epochs are 31 bits): its policy counts resets or drops */
#define CB_CONN_LATE	0x80000000U

#define CB_CONNS_MAX	16384	/* power of two */
#define CB_CONN_WAYS	4
#define CB_CONN_STALE	137000000000ULL	/* ns: past the SYN retries' 127 s */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CB_CONNS_MAX);
	__type(key, __u32);
	__type(value, struct cb_conn);
} cb_conns SEC(".maps");

/* See struct cb_gate_set. */
#define CB_GATE_NONE	(~0ULL)	/* no version taken: no fill */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CB_GATE_SETS + 1);	/* and its key */
	__type(key, __u32);
	__type(value, struct cb_gate_set);
} cb_gate SEC(".maps");

/*
 * Calls admitted by cb_admit_closed(), which the module counts among its
 * own (CB_STAT_ADMITTED): per CPU, so no connect writes a shared line.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __CB_COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} cb_counts SEC(".maps");

/* UDP datagrams admitted, per socket and destination. */
struct cb_dgram_key {
	__u64 cookie;
	__u8 addr[16];
	__be16 port;
	__u16 pad;
	__u32 pad2;
};

struct cb_dgram {
	__u32 pending;	/* admitted and not yet failed by an ICMP error */
	__u32 scope;
	__u32 epoch;	/* of the newest */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CB_CONNS_MAX);
	__type(key, struct cb_dgram_key);
	__type(value, struct cb_dgram);
} cb_dgrams SEC(".maps");

/*
 * An ICMP error for a UDP datagram, between the error handler's entry and
 * its socket lookup (same CPU, softirq): what the error quotes.
 */
struct cb_icmp {
	__u8 raddr[16];	/* the datagram's destination, IPv4-mapped or v6 */
	__u8 laddr[16];	/* and its source */
	__be16 rport, lport;
	__u8 out;
	__u8 active;	/* CB_ICMP_* */
	__u8 v6;	/* an ICMPv6 error */
	__u8 fatal;	/* a hard error, told to a connected socket */
	__u64 cookie;	/* CB_ICMP_TOLD: of the socket it is told to */
};

/* cb_icmp.active: what is known of the error */
#define CB_ICMP_QUOTED	1	/* in its handler: what it quotes */
#define CB_ICMP_TOLD	2	/* the kernel is telling the socket found */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_icmp);
} cb_icmps SEC(".maps");

/* Does a rule cover @key? (It has no breaker yet.) */
static __always_inline bool cb_ruled(struct cb_key *key)
{
	struct cb_port_rule_key pk;
	struct cb_rule_key rk;

	cb_rule_keys(key, &pk, &rk);
	return bpf_map_lookup_elem(&cb_port_rules, &pk) ||
	       bpf_map_lookup_elem(&cb_rules, &rk);
}

/* One more of what the hooks count themselves (enum cb_count). */
static __always_inline void cb_count(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&cb_counts, &i);

	if (n)	/* atomic: another task may preempt this one on this CPU */
		__sync_fetch_and_add(n, 1);
}

/*
 * A TCP connect to a closed breaker (or one held closed) is admitted here,
 * without asking the module: the same answer and the same counts as its
 * fast path (cb_engine_admit_fast), the call counted with an atomic add as
 * the module counts it. Anything else (open, half-open, forced open, no
 * breaker yet) is the module's to decide: -1. A change the module makes
 * meanwhile is one made just after this admission: the epoch is read
 * before the state, so the result is of an earlier epoch than the
 * breaker's, which counts in its totals and decides nothing. (A CPU that
 * reorders the two loads at worst pairs a closed state with the epoch of
 * the open one that follows it: a result judged in an open state, where
 * results decide nothing either.)
 */
static __always_inline int cb_admit_closed(struct cb_breaker *b, __u64 now)
{
	__u32 tick = now >> 20, epoch;

	epoch = b->epoch;
	barrier();	/* the epoch first (see above) */
	if (b->forced != CB_FORCE_CLOSED &&
	    (b->forced != CB_FORCE_NONE || b->state != CB_STATE_CLOSED))
		return -1;
	if (b->xchg)
		return -1;	/* exchanges to fold in first */
	__sync_fetch_and_add(&b->calls, 1);
	cb_count(CB_COUNT_ADMITTED);
	if (b->last_call != tick)	/* for idle eviction: ~1 ms ticks */
		b->last_call = tick;
	return epoch & 0x7fffffff;
}

/*
 * The gate's set for @key, and its hash in *@h; none before the module,
 * handed the map, wrote the hash's key in it (cb_maps_attach).
 */
static __always_inline struct cb_gate_set *cb_gate_set(struct cb_key *key,
						       __u64 *h)
{
	__u32 i = CB_GATE_KEY;
	struct cb_gate_set *k = bpf_map_lookup_elem(&cb_gate, &i);

	if (!k || !k->way[0])
		return NULL;
	*h = cb_gate_hash(key, sizeof(*key), k->way[0], k->way[1]);
	i = CB_GATE_SET(*h);
	return bpf_map_lookup_elem(&cb_gate, &i);
}

/* The epoch @g holds for the key of hash @h, or -1: ask its breaker. */
static __always_inline int cb_gate_find(struct cb_gate_set *g, __u64 h)
{
	__u64 tag = CB_GATE_TAG(h), w;
	__u32 i;

	for (i = 0; i < CB_GATE_WAYS; i++) {
		w = g->way[i];
		if ((w & CB_GATE_TAGS) == tag)
			return w & 0x7fffffff;
	}
	return -1;
}

/* May the gate admit to @b? Its policy needs nothing of the hooks. */
static __always_inline bool cb_gate_ok(const struct cb_breaker *b)
{
	return !CB_BULKHEAD_MAX(b->bulkhead) && !b->fail_late &&
	       !((b->connect_timeout_ms || b->exchanges) && cb_sockops_on);
}

/*
 * cb_admit_closed() admitted through @b at @epoch, and @ver is the version
 * @g had before @b was found: a way for the key of hash @h (its own, else a
 * free one, else one taken from another key). If the module changed or
 * deleted the breaker meanwhile, it bumped the version before it looked
 * for the way: then the way is taken back here, or emptied there.
 */
static __always_inline void cb_gate_fill(struct cb_gate_set *g, __u64 h,
					 __u64 ver,
					 const struct cb_breaker *b,
					 __u32 epoch)
{
	__u32 i, victim = (__u32)(h >> 32) % CB_GATE_WAYS;
	__u64 tag = CB_GATE_TAG(h), *own = NULL, *way = NULL, w;

	if (!cb_gate_ok(b))
		return;
	for (i = 0; i < CB_GATE_WAYS; i++) {
		w = g->way[i];
		if ((w & CB_GATE_TAGS) == tag)
			own = &g->way[i];
		else if (!w || (i == victim && !way))
			way = &g->way[i];
	}
	if (own)
		way = own;
	if (!way)
		return;
	w = *way;
	if (__sync_val_compare_and_swap(way, w, tag | epoch) != w)
		return;
	if (g->ver != ver)
		__sync_val_compare_and_swap(way, tag | epoch, 0);
}

/* One more datagram to @key admitted on this socket, at @epoch. */
static __always_inline void cb_dgram_note(__u64 cookie, const struct cb_key *key,
					  __u32 epoch)
{
	struct cb_dgram_key dk = { .cookie = cookie, .port = key->port };
	struct cb_dgram *d, fresh = {
		.pending = 1, .scope = key->scope, .epoch = epoch,
	};

	__builtin_memcpy(dk.addr, key->addr, sizeof(dk.addr));
	d = bpf_map_lookup_elem(&cb_dgrams, &dk);
	if (!d) {
		bpf_map_update_elem(&cb_dgrams, &dk, &fresh, BPF_ANY);
		return;
	}
	__sync_fetch_and_add(&d->pending, 1);
	d->epoch = epoch;
}

static __always_inline struct cb_conn *cb_conn_way(__u64 cookie, __u32 i)
{
	__u32 slot = (cookie + i) & (CB_CONNS_MAX - 1);

	return bpf_map_lookup_elem(&cb_conns, &slot);
}

/*
 * A slot for the note of @cookie's connect: the one it already holds (a
 * connect() again after one that failed before its SYN; none if the cookie
 * is @fresh, made for this connect), else the first
 * free or stale one. It is ours from the moment it holds our cookie (a
 * full barrier), and the sensor gives it back (compare-and-swap) only
 * after reading the note: a later connect that takes the slot in between
 * makes the sensor's take fail, never lends it its note.
 */
static __always_inline struct cb_conn *cb_conn_claim(__u64 cookie, bool fresh,
						     __u64 now)
{
	struct cb_conn *c;
	__u64 old;
	__u32 i;

	for (i = 0; !fresh && i < CB_CONN_WAYS; i++) {
		c = cb_conn_way(cookie, i);
		if (c && c->cookie == cookie)
			return c;
	}
	for (i = 0; i < CB_CONN_WAYS; i++) {
		c = cb_conn_way(cookie, i);
		if (!c)
			return NULL;
		old = c->cookie;
		if (old && now - c->start < CB_CONN_STALE)
			continue;
		if (__sync_val_compare_and_swap(&c->cookie, old, cookie) == old)
			return c;
	}
	return NULL;
}

/*
 * The socket cookie of @ctx, made if it has none yet: then *@fresh, and no
 * note can hold it. Most connects make it; one already made costs a load.
 */
static __always_inline __u64 cb_cookie(struct bpf_sock_addr *ctx, bool *fresh)
{
	struct sock *sk = bpf_core_cast(ctx->sk, struct sock);
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	*fresh = !cookie;
	return cookie ?: bpf_get_socket_cookie(ctx);
}

/* The note of a connect admitted at @now and @epoch; @gated: by the gate. */
static __always_inline void cb_conn_fill(struct cb_conn *c, __u64 now,
					 __u32 epoch, __u32 scope, bool gated)
{
	c->start = now;
	c->epoch = epoch;
	c->scope = scope;
	c->gated = gated;
}

/*
 * What a socket of ours holds: the connect timeout we set, until its
 * handshake is done and cb_sockops gives it back the kernel's own
 * (TCP_USER_TIMEOUT would otherwise bound its data too); one of its
 * destination's max-conns places, until the connection ends; and, under a
 * policy whose fail-on counts resets or drops, the call its handshake was
 * (when it began, in which epoch and scope), until one is reported.
 */
struct cb_sock {
	__u32 timeout_ms;	/* 0: none */
	__u16 slot;		/* holds one of key's connections */
	__u16 late;		/* a reset or drop of it is to be reported */
	__u64 start;
	__u32 epoch;
	__u32 scope;
	struct cb_key key;	/* of the place it holds; where its exchanges go */
	/* calls exchanges: enum cb_xchg, and the exchange waiting for a reply */
	__u8 xchg;
	__u8 first;		/* its next exchange is its connect's call (epoch) */
	__u8 steered;		/* UDP: a datagram chose its own path */
	__u8 flagged;		/* we asked for its segments (sock_ops flag) */
	__u32 xstart_j;		/* when it began, in jiffies (as lrcvtime) */
	__u64 xstart;		/* and in ns */
	__u64 rcvd;		/* bytes_received then */
	__u32 seq;		/* snd_nxt then: the request's first byte */
	__u32 pad2;
};

/* A watched connection (calls exchanges), from its connect on. */
enum cb_xchg {
	CB_XCHG_NONE,		/* not watched */
	CB_XCHG_CONNECTING,	/* its handshake's success is no call's result */
	CB_XCHG_IDLE,		/* nothing asked: the next data sent begins one */
	CB_XCHG_WAITING,	/* data sent, no reply yet */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cb_sock);
} cb_socks SEC(".maps");

/*
 * Our storage of socket @sk, or NULL. Most sockets have no BPF storage at
 * all, which one load from the socket tells; the lookup is a helper call
 * (about 60 guest instructions, on every connect).
 */
static __always_inline struct cb_sock *cb_sock_find(void *sk)
{
	if (!sk || !bpf_core_cast(sk, struct sock)->sk_bpf_storage)
		return NULL;
	return bpf_sk_storage_get(&cb_socks, sk, 0, 0);
}

static __always_inline bool cb_key_eq(const struct cb_key *a,
				      const struct cb_key *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Give back the max-conns place @s (may be NULL) holds, if any. */
static __always_inline void cb_slot_give(struct cb_sock *s)
{
	struct cb_breaker *b;
	__u32 n, i;

	if (!s || !s->slot)
		return;
	s->slot = 0;
	b = bpf_map_lookup_elem(&cb_breakers, &s->key);
	if (!b)
		return;
	/*
	 * Never below 0 (a breaker made anew meanwhile never counted this
	 * one), nor borrowing from the limit in the word's upper half.
	 */
	for (i = 0; i < 16; i++) {
		n = b->bulkhead;
		if (!CB_BULKHEAD_OPEN(n) ||
		    __sync_val_compare_and_swap(&b->bulkhead, n, n - 1) == n)
			return;
	}
}

/*
 * One of @b's max-conns connections for the socket connecting to @key;
 * false when they are all held. Add, then back out: never more than
 * max-conns at once, at worst a connect refused while another backs out.
 * A socket that cannot be marked is let through uncounted (fails open).
 */
static __always_inline bool cb_slot_take(struct bpf_sock_addr *ctx,
					 struct cb_breaker *b,
					 const struct cb_key *key)
{
	struct bpf_sock *sk = ctx->sk;
	struct cb_sock *s;
	__u32 n;

	if (!sk)
		return true;
	s = bpf_sk_storage_get(&cb_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		/*
		 * No memory, or (7.x) a storage lock given up on: the bound
		 * fails open, and says so.
		 */
		cb_count(CB_COUNT_UNBOUNDED);
		return true;
	}
	if (s->slot && cb_key_eq(&s->key, key))
		return true;	/* a connect() again: it holds one already */
	cb_slot_give(s);
	n = __sync_fetch_and_add(&b->bulkhead, 1);
	if (CB_BULKHEAD_OPEN(n) >= CB_BULKHEAD_MAX(n)) {
		__sync_fetch_and_sub(&b->bulkhead, 1);
		return false;
	}
	s->key = *key;
	s->slot = 1;
	return true;
}

/* Does max-conns count @b's TCP connections (cb_sockops sees them end)? */
static __always_inline bool cb_bulkhead_on(const struct cb_breaker *b)
{
	return b && CB_BULKHEAD_MAX(b->bulkhead) && cb_sockops_on;
}

/* A connect max-conns refuses: at once, counted, and no failure. */
static __always_inline int cb_bulkhead(void)
{
	cb_count(CB_COUNT_BULKHEAD);
	bpf_set_retval(-EAGAIN);
	return SOCK_DENY;
}

/*
 * Give the socket of @ctx (a sock_addr or sock_ops context) the kernel's
 * own user timeout back, unless its owner has set one since ours.
 */
static __always_inline void cb_timeout_undo(void *ctx, struct cb_sock *s)
{
	int cur = 0, zero = 0;

	if (!s->timeout_ms)
		return;
	if (!bpf_getsockopt(ctx, SOL_TCP, TCP_USER_TIMEOUT, &cur, sizeof(cur)) &&
	    cur == s->timeout_ms)
		bpf_setsockopt(ctx, SOL_TCP, TCP_USER_TIMEOUT, &zero, sizeof(zero));
	s->timeout_ms = 0;
}

/*
 * An admitted TCP connect under a policy whose connect timeout is @ms.
 * The kernel gives up in SYN_SENT at the socket's user timeout, with
 * ETIMEDOUT, which the sensor counts as a timeout. A timeout the owner set
 * (or ours, from a connect() before) stays; no mark, no timeout.
 */
static __always_inline void cb_connect_timeout(struct bpf_sock_addr *ctx,
					       struct cb_sock *s, __u32 ms)
{
	struct bpf_sock *sk = ctx->sk;
	int cur = 0, val = ms;

	if (!sk || bpf_getsockopt(ctx, SOL_TCP, TCP_USER_TIMEOUT, &cur,
				  sizeof(cur)) || cur)
		return;
	if (!s)
		s = bpf_sk_storage_get(&cb_socks, sk, 0,
				       BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return;
	if (!bpf_setsockopt(ctx, SOL_TCP, TCP_USER_TIMEOUT, &val, sizeof(val)))
		s->timeout_ms = val;
}

/*
 * An admitted TCP connect under calls exchanges, at @epoch: its socket is
 * watched from its handshake on (cb_sockops). One whose storage cannot be
 * made goes unwatched, its handshake a call as under calls connects.
 */
static __always_inline void cb_xchg_watch(struct bpf_sock_addr *ctx,
					  const struct cb_key *key, __u32 epoch)
{
	struct cb_sock *s;

	if (!ctx->sk)
		return;
	s = bpf_sk_storage_get(&cb_socks, ctx->sk, 0,
			       BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return;
	s->key = *key;
	s->epoch = epoch;
	s->first = 1;
	s->xchg = CB_XCHG_CONNECTING;
}

static __always_inline int cb_check(struct bpf_sock_addr *ctx,
				    struct cb_key *key)
{
	__u64 cookie, now, h = 0, ver = CB_GATE_NONE;
	struct cb_gate_set *g = NULL;
	struct cb_breaker *b = NULL;
	struct cb_sock *s = NULL;
	struct cb_conn *c;
	bool limited, fresh;
	int ret = -1;

	/*
	 * A connect() again after one that ran under our timeout and failed:
	 * that timeout, and the mark of that call, were the other
	 * destination's.
	 */
	if (key->proto == IPPROTO_TCP && ctx->sk) {
		s = cb_sock_find(ctx->sk);
		if (s) {
			cb_timeout_undo(ctx, s);
			s->late = 0;
			s->xchg = CB_XCHG_NONE;
		}
	}
	key->scope = cb_scope;
	key->netns = bpf_get_netns_cookie(ctx);
	if (key->proto == IPPROTO_TCP) {
		g = cb_gate_set(key, &h);
		ret = g ? cb_gate_find(g, h) : -1;
		/*
		 * Its call is counted with its outcome, so only with a note:
		 * without one it goes the way that counts it now.
		 */
		if (ret >= 0) {
			now = bpf_ktime_get_ns();
			cookie = cb_cookie(ctx, &fresh);
			c = cb_conn_claim(cookie, fresh, now);
			if (c) {
				cb_count(CB_COUNT_ADMITTED);
				cb_conn_fill(c, now, ret, key->scope, true);
				return SOCK_ALLOW;
			}
			ret = -1;
		}
	}
	b = bpf_map_lookup_elem(&cb_breakers, key);
	if (b && g && cb_gate_ok(b)) {
		/*
		 * For a fill: the set's version (a full barrier), then the
		 * breaker found again. One the module deletes or changes
		 * meanwhile is gone by now, or bumps the version later.
		 */
		ver = __sync_fetch_and_add(&g->ver, 0);
		b = bpf_map_lookup_elem(&cb_breakers, key);
	}
	if (!b && !cb_ruled(key))
		return SOCK_ALLOW;
	now = bpf_ktime_get_ns();
	limited = cb_bulkhead_on(b) && key->proto == IPPROTO_TCP;
	/* before the breaker: a connect max-conns refuses was never admitted */
	if (limited && !cb_slot_take(ctx, b, key))
		return cb_bulkhead();
	if (b && key->proto == IPPROTO_TCP) {
		ret = cb_admit_closed(b, now);
		if (ret >= 0 && ver != CB_GATE_NONE)
			cb_gate_fill(g, h, ver, b, ret);
	}
	if (ret < 0)
		ret = cb_admit(key, sizeof(*key));
	if (ret == CB_ADMIT_REFUSE) {
		if (limited && ctx->sk)
			cb_slot_give(cb_sock_find(ctx->sk));
		/* Without a retval the caller would see EPERM. */
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_DENY;
	}
	if (ret < 0)
		return SOCK_ALLOW;
	cookie = cb_cookie(ctx, &fresh);
	if (key->proto != IPPROTO_TCP) {
		cb_dgram_note(cookie, key, ret);
		return SOCK_ALLOW;
	}
	if (!b) {	/* the module made it: a first connect, or a race */
		b = bpf_map_lookup_elem(&cb_breakers, key);
		if (cb_bulkhead_on(b) && !cb_slot_take(ctx, b, key))
			return cb_bulkhead();	/* admitted, never made */
	}
	if (b && b->connect_timeout_ms && cb_sockops_on)
		cb_connect_timeout(ctx, s, b->connect_timeout_ms);
	if (b && b->exchanges && cb_sockops_on)
		cb_xchg_watch(ctx, key, ret);
	c = cb_conn_claim(cookie, fresh, now);
	if (c)
		cb_conn_fill(c, now, ret | (b && b->fail_late ? CB_CONN_LATE : 0),
			     key->scope, false);
	return SOCK_ALLOW;
}

static __always_inline void cb_addr4(__u8 *addr, __u32 ip)
{
	__builtin_memset(addr, 0, 10);
	addr[10] = 0xff;
	addr[11] = 0xff;
	__builtin_memcpy(&addr[12], &ip, sizeof(ip));
}

static __always_inline void cb_key4(struct cb_key *key, __u32 ip, __u16 port,
				    __u8 proto)
{
	cb_addr4(key->addr, ip);
	key->port = port;
	key->proto = proto;
}

static __always_inline int cb_check4(struct bpf_sock_addr *ctx)
{
	struct cb_key key = {};
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return SOCK_ALLOW;
	/* user_port: network order, low 16 bits */
	cb_key4(&key, ctx->user_ip4, (__u16)ctx->user_port, proto);
	return cb_check(ctx, &key);
}

static __always_inline int cb_check6(struct bpf_sock_addr *ctx)
{
	struct cb_key key = {};
	__u32 proto = ctx->protocol;
	__u32 ip[4];

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return SOCK_ALLOW;
	/* The context allows only 4-byte loads of user_ip6. */
	ip[0] = ctx->user_ip6[0];
	ip[1] = ctx->user_ip6[1];
	ip[2] = ctx->user_ip6[2];
	ip[3] = ctx->user_ip6[3];
	__builtin_memcpy(key.addr, ip, sizeof(ip));
	key.port = (__u16)ctx->user_port;
	key.proto = proto;
	return cb_check(ctx, &key);
}

SEC("cgroup/connect4")
int cb_connect4(struct bpf_sock_addr *ctx)
{
	return cb_check4(ctx);
}

SEC("cgroup/connect6")
int cb_connect6(struct bpf_sock_addr *ctx)
{
	return cb_check6(ctx);
}

SEC("cgroup/sendmsg4")
int cb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return cb_check4(ctx);
}

SEC("cgroup/sendmsg6")
int cb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return cb_check6(ctx);
}

/*
 * A handshake is done: a socket that ran it under our connect timeout gets
 * the kernel's own back, unless its owner has set one since. Attached with
 * the connect hooks; the other sock_ops callbacks only return.
 */
static __always_inline void cb_timeout_done(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct cb_sock *s;

	if (!sk)
		return;
	s = cb_sock_find(sk);
	if (!s || !s->timeout_ms)
		return;
	cb_timeout_undo(ctx, s);
	if (!s->slot && !s->late && !s->xchg)
		bpf_sk_storage_delete(&cb_socks, sk);
}

/*
 * A connect that holds a max-conns place asks to hear of its socket's
 * state changes (here, before its SYN), so that the kernel's own close of
 * the connection (reset, timed out, disconnected, or closed to the end)
 * gives the place back: a cgroup program, which the kernel never skips,
 * unlike a tracing one that another interrupted on the same CPU.
 */
static __always_inline void cb_slot_watch(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct cb_sock *s;

	if (!sk)
		return;
	if (ctx->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		s = cb_sock_find(sk);
		if (s && s->slot)
			bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags |
						  BPF_SOCK_OPS_STATE_CB_FLAG);
	} else if (ctx->op == BPF_SOCK_OPS_STATE_CB &&
		   ctx->args[1] == BPF_TCP_CLOSE) {
		cb_slot_give(cb_sock_find(sk));
	}
}

/*
 * Exchanges (calls exchanges). A watched connection sends, and the first
 * segment it sends after a reply began to arrive sees that the socket
 * received bytes since its request went: the reply's first byte came at
 * the socket's last data receipt (icsk_ack.lrcvtime, in jiffies), which
 * the kernel does not tell a sock_ops program as it happens (the fast path
 * of established receive runs no callback) but writes down. The ACK of the
 * reply follows it at once or by the delayed-ACK timer; a request that
 * follows carries it.
 */

/* ns from @x->xstart to the last data receipt, scaled from jiffies */
static __always_inline __u64 cb_xchg_latency(struct sock *sk,
					     const struct cb_sock *x)
{
	struct inet_connection_sock *icsk =
		bpf_core_cast(sk, struct inet_connection_sock);
	__u32 now_j = bpf_jiffies64(), rcv_j = icsk->icsk_ack.lrcvtime;
	__u64 ns = bpf_ktime_get_ns() - x->xstart;
	__u32 all = now_j - x->xstart_j, to = rcv_j - x->xstart_j;

	/*
	 * The jiffy of the receipt, as a share of the jiffies waited till
	 * now: no HZ needed. Within a jiffy of its start, it was fast.
	 */
	if (!all || to > all)
		return to > all ? ns : 0;
	if (ns > 1ULL << 40)	/* about 18 minutes: no overflow below */
		ns = 1ULL << 40;
	if (all >= 1U << 20)	/* nor with this many jiffies */
		return ns * (to >> 10) / (all >> 10);
	return ns * to / all;
}

/*
 * The reply to @x's exchange began: a success, slow or not, for its
 * breaker, counted by the hooks and folded in by the module. Only in the
 * state it began in: the first exchange of a connection is its connect's
 * call (a probe, in half-open); a later one counts only while the breaker
 * stays closed.
 */
static __always_inline void cb_xchg_ok(struct sock *sk, struct cb_sock *x)
{
	struct cb_breaker *b = bpf_map_lookup_elem(&cb_breakers, &x->key);
	__u64 lat = cb_xchg_latency(sk, x);
	bool first = x->first;
	__u32 w;

	x->xchg = CB_XCHG_IDLE;
	x->first = 0;
	if (!b)
		return;
	if (!b->exchanges) {	/* its policy no longer asks: unwatched */
		x->xchg = CB_XCHG_NONE;
		return;
	}
	if (first ? (b->epoch & 0x7fffffff) != x->epoch :
		    b->state != CB_STATE_CLOSED || b->changed_at > x->xstart)
		return;
	/*
	 * Full (the module folds each second; more than about 3,000 slow
	 * ones in one of them): this one is dropped, not counted, so that
	 * what is counted keeps the rates.
	 */
	w = b->xchg;
	if (CB_XCHG_SLOW(w) >= CB_XCHG_SLOW(~0U) - CB_XCHG_ROOM ||
	    CB_XCHG_OK(w) >= CB_XCHG_OK(~0U) - CB_XCHG_ROOM)
		return;
	if (!first) {
		__sync_fetch_and_add(&b->calls, 1);
		b->last_call = bpf_ktime_get_ns() >> 20;
	}
	__sync_fetch_and_add(&b->xchg, b->slow_us &&
			     lat >= (__u64)b->slow_us * 1000 ?
			     CB_XCHG_SLOW_ONE : 1);
}

/* A watched socket sends a segment (skb_len 0: an ACK, a FIN, or none yet). */
static __always_inline void cb_xchg_tx(struct bpf_sock_ops *ctx)
{
	struct sock *sk = bpf_core_cast(ctx->sk, struct sock);
	struct cb_sock *x = cb_sock_find(ctx->sk);

	if (!x)
		return;
	if (x->xchg < CB_XCHG_IDLE) {
		/* watched no more: its segments run no program (of ours) */
		if (x->flagged)
			bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags &
						  ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		x->flagged = 0;
		return;
	}
	if (x->xchg == CB_XCHG_WAITING && ctx->bytes_received != x->rcvd)
		cb_xchg_ok(sk, x);
	/* a request on a connection closing (CLOSE_WAIT, an orphan) is none */
	if (x->xchg == CB_XCHG_IDLE && ctx->skb_len &&
	    sk->__sk_common.skc_state == TCP_ESTABLISHED) {
		x->xchg = CB_XCHG_WAITING;
		x->seq = ctx->snd_nxt;
		x->xstart = bpf_ktime_get_ns();
		x->xstart_j = bpf_jiffies64();
		x->rcvd = ctx->bytes_received;
	}
}

/*
 * The handshake of a watched connection is done: from now on, every
 * segment it sends runs cb_sockops (HDR_OPT_LEN_CB), which reserves no
 * option room and so changes nothing on the wire.
 */
static __always_inline void cb_xchg_established(struct bpf_sock_ops *ctx)
{
	struct cb_sock *x = cb_sock_find(ctx->sk);

	if (!x || x->xchg != CB_XCHG_CONNECTING)
		return;
	x->xchg = CB_XCHG_IDLE;
	x->flagged = !(ctx->bpf_sock_ops_cb_flags &
		       BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags |
				  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

/* bench/host.bpf.c has its own, which stands in for the sensors too */
#ifndef CB_BPF_NO_MODULE
SEC("sockops")
int cb_sockops(struct bpf_sock_ops *ctx)
{
	switch (ctx->op) {
	/* passive: a simultaneous open, or a socket connected to itself */
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		cb_timeout_done(ctx);
		cb_xchg_established(ctx);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		cb_xchg_tx(ctx);
		break;
	default:
		cb_slot_watch(ctx);
	}
	return 1;
}
#endif

/* @sk's destination, namespace and @scope as a breaker key. */
static __always_inline void cb_sk_key(struct sock *sk, struct cb_key *key,
				      __u8 proto, __u32 scope)
{
	struct sock_common *skc = &sk->__sk_common;

	if (skc->skc_family == AF_INET)
		cb_addr4(key->addr, skc->skc_daddr);
	else
		__builtin_memcpy(key->addr, &skc->skc_v6_daddr, sizeof(key->addr));
	key->port = skc->skc_dport;
	key->proto = proto;
	key->scope = scope;
	key->netns = skc->skc_net.net->net_cookie;
}

/* Key fields of a TCP socket that not every kernel has (CONFIG_TCP_AO). */
struct tcp_sock___cb {
	void *md5sig_info;
	void *ao_info;
} __attribute__((preserve_access_index));

/* Is @addr (a key's: IPv4-mapped or v6) a loopback address? */
static __always_inline bool cb_loopback(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	if (w[0] || w[1])
		return false;
	if (w[2] == bpf_htonl(0xffff))
		return addr[12] == 127;
	return !w[2] && w[3] == bpf_htonl(1);
}

/*
 * Is @sk, toward @daddr, a plain socket: one whose call goes the way the
 * kernel picks by default, so that its failure says something about the
 * destination? Anything the owner set that could make its own call fail
 * at a healthy destination, without privilege, makes it not plain: its
 * results are reported as ignored. Each condition below is what a socket
 * has unless its owner changed it:
 */
static __always_inline bool cb_plain(struct sock *sk, const __u8 *daddr)
{
	struct inet_sock *inet = bpf_core_cast(sk, struct inet_sock);
	struct net *net = sk->__sk_common.skc_net.net;
	unsigned long flags = inet->inet_flags;
	struct ipv6_pinfo *np;
	const __u32 *a;
	int ttl;

	/*
	 * No device of its choosing (SO_BINDTODEVICE, IP_UNICAST_IF): the
	 * route picks one, or the call may leave by a link where the
	 * destination is someone else, or no one.
	 */
	if (sk->__sk_common.skc_bound_dev_if || inet->uc_index)
		return false;
	/*
	 * No route of its own: IP options (source routing), or
	 * SO_DONTROUTE, which may take a shorter on-link route over the
	 * one the kernel would use.
	 */
	if (inet->inet_opt ||
	    sk->__sk_common.skc_flags &
	    1UL << bpf_core_enum_value(enum sock_flags, SOCK_LOCALROUTE))
		return false;
	/*
	 * A source the kernel picks: not a foreign one (freebind,
	 * transparent), whose answers go elsewhere, nor one bound by the
	 * owner, which the peer may not route back to. A bound source is
	 * kept only toward a loopback destination, reached by lo from any
	 * local source. (The route's own choice is not known here.)
	 */
	if (flags & (1UL << INET_FLAGS_FREEBIND | 1UL << INET_FLAGS_TRANSPARENT))
		return false;
	if (sk->sk_userlocks & SOCK_BINDADDR_LOCK && !cb_loopback(daddr))
		return false;
	/* A TTL at least the default: none that dies at a router. */
	ttl = inet->uc_ttl;
	if (ttl >= 0 && ttl < net->ipv4.sysctl_ip_default_ttl)
		return false;
	np = inet->pinet6;
	if (!np)
		return true;
	np = bpf_core_cast(np, struct ipv6_pinfo);
	/*
	 * IPv6: no extension headers of its own (a routing header, hop-by-
	 * hop or destination options, which a peer or router may drop), no
	 * interface (IPV6_UNICAST_IF, a sticky IPV6_PKTINFO) nor source of
	 * its choosing, no flow labels it picks (a label may carry options),
	 * a hop limit at least the default.
	 */
	a = (const __u32 *)&np->sticky_pktinfo.ipi6_addr;
	if (np->opt || np->ucast_oif || np->sticky_pktinfo.ipi6_ifindex ||
	    a[0] | a[1] | a[2] | a[3] || flags & 1UL << INET_FLAGS_SNDFLOW)
		return false;
	ttl = np->hop_limit;
	return ttl < 0 || ttl >= net->ipv6.devconf_all->hop_limit;
}

/*
 * A plain TCP socket: plain, and no TCP_MD5SIG or TCP-AO key, with which
 * a listener that has none drops the SYN. (Where the kernel has no such
 * field, a socket cannot have the key.)
 */
static __always_inline bool cb_tcp_plain(struct sock *sk, const __u8 *daddr)
{
	struct tcp_sock___cb *tp = (void *)bpf_core_cast(sk, struct tcp_sock);

	if (bpf_core_field_exists(tp->md5sig_info) && tp->md5sig_info)
		return false;
	if (bpf_core_field_exists(tp->ao_info) && tp->ao_info)
		return false;
	return cb_plain(sk, daddr);
}

/*
 * A plain UDP socket: plain, none of its datagrams chose its own path
 * (cb_dgram_steer(): an error cannot be matched to the datagram it is
 * about, so a socket that sent one has its errors ignored from then on),
 * and it shares its port with no other socket (SO_REUSEADDR,
 * SO_REUSEPORT), which could take the error of the other's datagram.
 */
static __always_inline bool cb_udp_plain(struct sock *sk, const __u8 *daddr)
{
	struct cb_sock *s;

	if (BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuse) ||
	    BPF_CORE_READ_BITFIELD(&sk->__sk_common, skc_reuseport))
		return false;
	s = cb_sock_find(sk);
	if (s && s->steered)
		return false;
	return cb_plain(sk, daddr);
}

/*
 * The end of a handshake: if we admitted it (its cookie is noted), report
 * @out for the destination the socket has now, as of @now (0: the module
 * reads the clock). Under a policy that counts resets or drops, a success
 * the module counted (cb_record() > 0: in the window, or as a good probe)
 * marks the socket.
 */
static __always_inline void cb_tcp_outcome(struct sock *sk, __u32 out,
					   __u64 now)
{
	/* read, not made: a socket without a cookie is none of ours */
	__u64 cookie = sk->__sk_common.skc_cookie.counter, start;
	struct cb_conn *c = NULL, *way;
	struct cb_key key = {};
	struct cb_sock *s;
	__u32 epoch, scope, i, call;

	if (!cookie)
		return;
	for (i = 0; i < CB_CONN_WAYS; i++) {
		way = cb_conn_way(cookie, i);
		if (way && way->cookie == cookie) {
			c = way;
			break;
		}
	}
	if (!c)
		return;
	start = c->start;
	epoch = c->epoch;
	scope = c->scope;
	call = c->gated ? CB_RECORD_CALL : 0;
	/* one outcome per handshake: whoever takes the note reports it */
	if (__sync_val_compare_and_swap(&c->cookie, cookie, 0) != cookie ||
	    (out == CB_OUT_NONE && !call))
		return;
	/* calls exchanges: its first exchange is this call's result */
	if (out == CB_OUT_SUCCESS && !call) {
		s = cb_sock_find(sk);
		if (s && s->xchg == CB_XCHG_CONNECTING)
			return;
	}
	cb_sk_key(sk, &key, IPPROTO_TCP, scope);
	if (out != CB_OUT_NONE && !cb_tcp_plain(sk, key.addr))
		out = CB_OUT_IGNORED;
	if (cb_record(&key, sizeof(key),
		      CB_RECORD_HOW(out | call, epoch & ~CB_CONN_LATE), start,
		      now) <= 0 ||
	    !(epoch & CB_CONN_LATE))
		return;
	/* a success a reset or drop may still turn into a failure */
	s = bpf_sk_storage_get(&cb_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return;
	s->start = start;
	s->epoch = epoch & ~CB_CONN_LATE;
	s->scope = scope;
	s->late = 1;
}

/*
 * Handshakes end in one of these, each called once per handshake, rather
 * than the inet_sock_set_state tracepoint, which every TCP socket on the
 * host hits about ten times per connection.
 */

/* SYN-ACK accepted: the socket is about to become ESTABLISHED. */
SEC("fentry/tcp_finish_connect")
int BPF_PROG(cb_tcp_done, struct sock *sk, struct sk_buff *skb)
{
	/*
	 * The socket took the time as it began on the SYN-ACK
	 * (tcp_mstamp_refresh(), CLOCK_MONOTONIC): no clock read of our own.
	 * Without one (TCP_REPAIR) its time may be old: the module reads it.
	 */
	cb_tcp_outcome(sk, CB_OUT_SUCCESS, skb ?
		       bpf_core_cast(sk, struct tcp_sock)->tcp_clock_cache : 0);
	return 0;
}

/*
 * After the handshake, on a socket marked by cb_tcp_outcome(): the
 * connection is reset, or its peer closes it before sending a byte. The
 * module judges it by the time since the connect (fail-window) and turns
 * the call's success into a failure, for the destination the success was
 * counted for. Once per connection; only for a plain socket.
 */
static __always_inline void cb_tcp_late(struct sock *sk, __u32 out)
{
	struct cb_sock *s = cb_sock_find(sk);
	struct cb_key key = {};

	if (!s || !s->late)
		return;
	s->late = 0;
	cb_sk_key(sk, &key, IPPROTO_TCP, s->scope);
	if (!cb_tcp_plain(sk, key.addr))
		return;
	cb_record(&key, sizeof(key), CB_RECORD_HOW(out, s->epoch), s->start, 0);
}

/*
 * A watched connection ends, or its peer closes it, while an exchange
 * waits: a reply begun by now makes it a success; else it ends as @out
 * (CB_OUT_NONE: as nothing, e.g. aborted by an operator). The first
 * exchange of a connection is its connect's call; a later one is a call of
 * its own, whose epoch the module takes from the time it began.
 */
static __always_inline void cb_xchg_end(struct sock *sk, __u32 out)
{
	struct tcp_sock *tp = bpf_core_cast(sk, struct tcp_sock);
	struct cb_sock *x = cb_sock_find(sk);
	__u32 how, epoch, fin = out == CB_OUT_DROPPED;

	if (!x || x->xchg != CB_XCHG_WAITING)
		return;
	/* a FIN is one sequence number, counted before tcp_fin() */
	if (tp->bytes_received - x->rcvd > fin) {
		cb_xchg_ok(sk, x);
		return;
	}
	x->xchg = CB_XCHG_IDLE;
	/*
	 * A reset or FIN that did not acknowledge the request's first byte
	 * crossed it: the peer closed an idle connection, as servers do.
	 */
	if ((out == CB_OUT_RESET || out == CB_OUT_DROPPED) &&
	    (int)(tp->snd_una - x->seq) <= 0)
		out = CB_OUT_NONE;
	if (out == CB_OUT_NONE)
		return;
	how = CB_RECORD_EXCHANGE | (x->first ? 0 : CB_RECORD_CALL);
	epoch = x->first ? x->epoch : CB_EPOCH_SINCE;
	x->first = 0;
	if (!cb_tcp_plain(sk, x->key.addr))
		out = CB_OUT_IGNORED;
	cb_record(&x->key, sizeof(x->key), CB_RECORD_HOW(out | how, epoch),
		  x->xstart, 0);
}

/* A FIN: before the state changes, so ESTABLISHED is the peer's close first. */
SEC("fentry/tcp_fin")
int BPF_PROG(cb_tcp_fin, struct sock *sk)
{
	struct tcp_sock *tp = bpf_core_cast(sk, struct tcp_sock);

	/* the FIN is already counted: one sequence number */
	if (sk->__sk_common.skc_state == TCP_ESTABLISHED &&
	    tp->bytes_received <= 1)
		cb_tcp_late(sk, CB_OUT_DROPPED);
	cb_xchg_end(sk, CB_OUT_DROPPED);
	return 0;
}

/* RST, SYN retries exhausted, or an ICMP error while in SYN_SENT. */
SEC("fentry/tcp_done_with_error")
int BPF_PROG(cb_tcp_failed, struct sock *sk, int err)
{
	__u32 out;

	if (sk->__sk_common.skc_state == TCP_ESTABLISHED && err == ECONNRESET)
		cb_tcp_late(sk, CB_OUT_RESET);
	if (sk->__sk_common.skc_state != TCP_SYN_SENT) {
		/* an abort (ss -K, on-open close) says nothing of the peer */
		cb_xchg_end(sk, err == ECONNRESET || err == EPIPE ? CB_OUT_RESET :
				err == ECONNABORTED ? CB_OUT_NONE :
				CB_OUT_TIMEOUT);
		return 0;
	}
	if (err == ECONNREFUSED)
		out = CB_OUT_REFUSED;
	else if (err == ETIMEDOUT)
		out = CB_OUT_TIMEOUT;
	else if (err == EHOSTUNREACH || err == ENETUNREACH)
		out = CB_OUT_UNREACH;
	else
		out = CB_OUT_NONE;
	cb_tcp_outcome(sk, out, 0);
	return 0;
}

/*
 * The owner gave up in SYN_SENT: close(), its own connect timeout, or
 * connect(AF_UNSPEC). The module judges it by how long it had waited.
 * Both run with the socket locked, so a SYN-ACK or RST meanwhile waits.
 * In any state, the socket gives back the max-conns place it holds, as
 * cb_slot_watch does when the kernel closes the connection: this one for
 * a socket whose connect failed before its SYN (no state change follows).
 */
SEC("fentry/__tcp_close")
int BPF_PROG(cb_tcp_close, struct sock *sk, long timeout)
{
	if (sk->__sk_common.skc_state == TCP_SYN_SENT)
		cb_tcp_outcome(sk, CB_OUT_ABANDONED, 0);
	else
		cb_xchg_end(sk, CB_OUT_STALLED);
	cb_slot_give(cb_sock_find(sk));
	return 0;
}

SEC("fentry/tcp_disconnect")
int BPF_PROG(cb_tcp_disconnect, struct sock *sk, int flags)
{
	if (sk->__sk_common.skc_state == TCP_SYN_SENT)
		cb_tcp_outcome(sk, CB_OUT_ABANDONED, 0);
	else
		cb_xchg_end(sk, CB_OUT_STALLED);
	cb_slot_give(cb_sock_find(sk));
	return 0;
}

/*
 * ICMP destination unreachable for a UDP datagram. The error handler's
 * entry notes what the error quotes; its socket lookup, on the same CPU,
 * says whose datagram it was; and the error counts only if the kernel
 * then tells that socket (sk_error_report()), which it does exactly as
 * __udp4_lib_err() and __udp6_lib_err() decide: always with IP_RECVERR
 * (IPV6_RECVERR), else only a hard error to a connected socket. An error
 * the kernel discards (an unconnected socket that did not ask) is no
 * failure: its owner never learns of it either. Only a socket of ours
 * that sent a datagram to that destination not failed yet takes the
 * failure, and only a plain one (cb_udp_plain()) counts it.
 */
static __always_inline struct cb_icmp *cb_icmp_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cb_icmps, &zero);
}

/* Will the kernel tell @sk of error @e (as its UDP error handler decides)? */
static __always_inline bool cb_icmp_told(struct sock *sk,
					 const struct cb_icmp *e)
{
	unsigned long flags = bpf_core_cast(sk, struct inet_sock)->inet_flags;

	if (bpf_core_cast(sk, struct udp_sock)->encap_type)
		return false;	/* a tunnel's: no application to tell */
	/* the bits are the same on 6.12 and 7.3 */
	if (flags & 1UL << (e->v6 ? INET_FLAGS_RECVERR6 : INET_FLAGS_RECVERR))
		return true;
	return e->fatal && sk->__sk_common.skc_state == TCP_ESTABLISHED;
}

/* The lookup found @sk (may be NULL): keep the error if @sk will be told. */
static __always_inline void cb_udp_icmp(struct sock *sk, struct cb_icmp *e)
{
	e->active = 0;
	if (!sk || !cb_icmp_told(sk, e))
		return;
	e->cookie = sk->__sk_common.skc_cookie.counter;
	if (e->cookie)		/* none: none of ours */
		e->active = CB_ICMP_TOLD;
}

/*
 * The kernel tells a socket of an error. Only the one error the handler
 * just found for it, on this CPU, is ours to count, once (with
 * IP_RECVERR the socket is told twice: queue, then sk_err).
 */
SEC("fentry/sk_error_report")
int BPF_PROG(cb_udp_told, struct sock *sk)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct cb_icmp *e = cb_icmp_slot();
	struct cb_dgram_key dk = {};
	struct cb_key key = {};
	struct cb_dgram *d;
	__u32 n;

	if (!e || e->active != CB_ICMP_TOLD || e->cookie != cookie)
		return 0;
	e->active = 0;
	dk.cookie = cookie;
	dk.port = e->rport;
	__builtin_memcpy(dk.addr, e->raddr, sizeof(dk.addr));
	d = bpf_map_lookup_elem(&cb_dgrams, &dk);
	if (!d)
		return 0;
	n = d->pending;
	if (!n || __sync_val_compare_and_swap(&d->pending, n, n - 1) != n)
		return 0;	/* each datagram fails once at most */
	cb_sk_key(sk, &key, IPPROTO_UDP, d->scope);
	__builtin_memcpy(key.addr, e->raddr, sizeof(key.addr));
	key.port = e->rport;
	cb_record(&key, sizeof(key),
		  CB_RECORD_HOW(cb_udp_plain(sk, key.addr) ? e->out :
				CB_OUT_IGNORED, d->epoch), 0, 0);
	return 0;
}

SEC("fentry/udp_err")
int BPF_PROG(cb_udp4_err, struct sk_buff *skb, __u32 info)
{
	unsigned char *data = BPF_CORE_READ(skb, data);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	struct cb_icmp *e = cb_icmp_slot();
	struct icmphdr icmp;
	struct iphdr iph;
	struct udphdr uh;

	if (!e)
		return 0;
	e->active = 0;	/* whatever an earlier error left */
	if (bpf_probe_read_kernel(&icmp, sizeof(icmp), head + th) ||
	    icmp.type != ICMP_DEST_UNREACH || icmp.code == ICMP_FRAG_NEEDED ||
	    bpf_probe_read_kernel(&iph, sizeof(iph), data) ||
	    bpf_probe_read_kernel(&uh, sizeof(uh), data + iph.ihl * 4))
		return 0;
	cb_addr4(e->raddr, iph.daddr);
	cb_addr4(e->laddr, iph.saddr);
	e->rport = uh.dest;
	e->lport = uh.source;
	e->out = icmp.code == ICMP_PORT_UNREACH ? CB_OUT_PORT_UNREACH :
						  CB_OUT_UNREACH;
	e->v6 = 0;
	e->fatal = icmp.code < 16 && CB_ICMP_FATAL >> icmp.code & 1;
	e->active = CB_ICMP_QUOTED;
	return 0;
}

/*
 * Every UDP socket lookup: one per-CPU load unless an error is pending.
 * The arguments read here come first in every kernel's version of the
 * lookup (7.1 dropped the table argument after them), and the socket it
 * found is read with bpf_get_func_ret(), wherever that sits.
 */
SEC("fexit/__udp4_lib_lookup")
int BPF_PROG(cb_udp4_lookup, struct net *net, __be32 saddr, __be16 sport,
	     __be32 daddr, __be16 dport)
{
	struct cb_icmp *e = cb_icmp_slot();
	__u64 sk = 0;

	/* the error handler looks up (its destination, its source) */
	if (!e || e->active != CB_ICMP_QUOTED || e->rport != sport ||
	    e->lport != dport ||
	    *(__u32 *)&e->raddr[12] != saddr || *(__u32 *)&e->laddr[12] != daddr)
		return 0;
	bpf_get_func_ret(ctx, &sk);
	cb_udp_icmp(bpf_core_cast((void *)sk, struct sock), e);
	return 0;
}

/*
 * udpv6_err() itself is not traceable on 6.12; what it calls is. From 7.1 on
 * it is the other way round: cbctl retargets this program (userspace/compat.h).
 */
SEC("fentry/__udp6_lib_err")
int BPF_PROG(cb_udp6_err, struct sk_buff *skb, struct inet6_skb_parm *opt,
	     __u8 type, __u8 code, int offset, __be32 info)
{
	unsigned char *data = BPF_CORE_READ(skb, data);
	struct cb_icmp *e = cb_icmp_slot();
	struct ipv6hdr ip6;
	struct udphdr uh;

	if (!e)
		return 0;
	e->active = 0;
	if (type != ICMPV6_DEST_UNREACH ||
	    bpf_probe_read_kernel(&ip6, sizeof(ip6), data) ||
	    bpf_probe_read_kernel(&uh, sizeof(uh), data + offset))
		return 0;
	__builtin_memcpy(e->raddr, &ip6.daddr, sizeof(e->raddr));
	__builtin_memcpy(e->laddr, &ip6.saddr, sizeof(e->laddr));
	e->rport = uh.dest;
	e->lport = uh.source;
	e->out = code == ICMPV6_PORT_UNREACH ? CB_OUT_PORT_UNREACH :
					       CB_OUT_UNREACH;
	e->v6 = 1;
	e->fatal = code > 6 || CB_ICMP6_FATAL >> code & 1;
	e->active = CB_ICMP_QUOTED;
	return 0;
}

SEC("fexit/__udp6_lib_lookup")
int BPF_PROG(cb_udp6_lookup, struct net *net, struct in6_addr *saddr,
	     __be16 sport, struct in6_addr *daddr, __be16 dport)
{
	struct cb_icmp *e = cb_icmp_slot();
	__u64 ra[2], la[2], er[2], el[2], sk = 0;

	if (!e || e->active != CB_ICMP_QUOTED || e->rport != sport ||
	    e->lport != dport ||
	    bpf_probe_read_kernel(ra, sizeof(ra), saddr) ||
	    bpf_probe_read_kernel(la, sizeof(la), daddr))
		return 0;
	__builtin_memcpy(er, e->raddr, sizeof(er));
	__builtin_memcpy(el, e->laddr, sizeof(el));
	if (ra[0] != er[0] || ra[1] != er[1] || la[0] != el[0] || la[1] != el[1])
		return 0;
	bpf_get_func_ret(ctx, &sk);
	cb_udp_icmp(bpf_core_cast((void *)sk, struct sock), e);
	return 0;
}

/*
 * A UDP datagram whose control messages choose its path: the socket is
 * marked, and its ICMP errors are ignored from then on (cb_udp_plain()).
 * The sendmsg hook alone cannot judge it: of what IP_PKTINFO asks, it sees
 * the source (msg_src_ip4/6) but not the interface; it sees no IP_TTL,
 * IPV6_HOPLIMIT, IP_RETOPTS or extension header; and it does not run for
 * a connected socket's send(). The kernel parses the control messages
 * before the hook runs and before the datagram leaves, so the mark is
 * there before any error about it can come back. Only a socket that
 * sends such a datagram gets the storage, once.
 */
static __always_inline void cb_dgram_steer(struct sock *sk)
{
	struct cb_sock *s;

	s = bpf_sk_storage_get(&cb_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s)
		s->steered = 1;
}

/* IPv4 (and IPv4-mapped from an IPv6 socket): what ip_cmsg_send() made. */
SEC("fexit/ip_cmsg_send")
int BPF_PROG(cb_cmsg4, struct sock *sk, struct msghdr *msg,
	     struct ipcm_cookie *ipc, bool allow_ipv6, int ret)
{
	struct net *net = sk->__sk_common.skc_net.net;

	if (ret || sk->sk_protocol != IPPROTO_UDP)
		return 0;
	/* it began as the socket's own: device bound, source bound */
	if (ipc->oif != sk->__sk_common.skc_bound_dev_if ||
	    ipc->addr != bpf_core_cast(sk, struct inet_sock)->inet_saddr ||
	    ipc->opt ||
	    (ipc->ttl && ipc->ttl < net->ipv4.sysctl_ip_default_ttl))
		cb_dgram_steer(sk);
	return 0;
}

/* IPv6: what ip6_datagram_send_ctl() made, for udpv6_sendmsg(). */
SEC("fexit/ip6_datagram_send_ctl")
int BPF_PROG(cb_cmsg6, struct net *net, struct sock *sk, struct msghdr *msg,
	     struct flowi6 *fl6, struct ipcm6_cookie *ipc6, int ret)
{
	struct ipv6_pinfo *np = bpf_core_cast(sk, struct inet_sock)->pinet6;
	struct ipv6_txoptions *opt = ipc6->opt;
	const __u32 *a = (const __u32 *)&fl6->saddr;
	struct sockaddr_in6 *sin6;
	__u32 scope = 0;
	int oif;

	if (ret || sk->sk_protocol != IPPROTO_UDP || !np)
		return 0;
	np = bpf_core_cast(np, struct ipv6_pinfo);
	/*
	 * The interface began as the destination's scope (link-local), the
	 * bound device or the sticky IPV6_PKTINFO's: any other is the
	 * message's. The source began unset (the bound one comes later).
	 */
	oif = fl6->__fl_common.flowic_oif;
	sin6 = msg->msg_name;
	/* the kernel takes a scope id only for a link-local or multicast one */
	if (sin6 && msg->msg_namelen >= sizeof(*sin6) &&
	    ((fl6->daddr.in6_u.u6_addr8[0] == 0xfe &&
	      (fl6->daddr.in6_u.u6_addr8[1] & 0xc0) == 0x80) ||
	     fl6->daddr.in6_u.u6_addr8[0] == 0xff))
		bpf_probe_read_kernel(&scope, sizeof(scope), &sin6->sin6_scope_id);
	if ((oif && oif != scope && oif != sk->__sk_common.skc_bound_dev_if &&
	     oif != np->sticky_pktinfo.ipi6_ifindex) ||
	    a[0] | a[1] | a[2] | a[3] ||
	    (opt && (opt->opt_nflen || opt->opt_flen)) ||
	    fl6->flowlabel & bpf_htonl(0xfffff) ||
	    (ipc6->hlimit >= 0 &&
	     ipc6->hlimit < net->ipv6.devconf_all->hop_limit))
		cb_dgram_steer(sk);
	return 0;
}

/*
 * Run once by cbctl load (BPF_PROG_TEST_RUN): hands the maps to the module.
 * A tc program, not SEC("syscall"): syscall programs must be sleepable and
 * sleepable programs may not use LPM tries.
 */
SEC("tc")
int cb_register(struct __sk_buff *skb)
{
	return cb_map_attach(&cb_breakers, CB_MAP_BREAKERS) ?:
	       cb_map_attach(&cb_rules, CB_MAP_RULES) ?:
	       cb_map_attach(&cb_port_rules, CB_MAP_PORT_RULES) ?:
	       cb_map_attach(&cb_counts, CB_MAP_COUNTS) ?:
	       cb_map_attach(&cb_gate, CB_MAP_GATE);
}

char LICENSE[] SEC("license") = "GPL";
