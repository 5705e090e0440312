// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/cbreaker.bpf.c without the module, for bench/host_bench: the hooks,
 * maps and sensors as they are, with stand-ins for the kfuncs (every call
 * admitted; a success recorded as the module's common path records it),
 * so that the BPF side's own cost can be timed natively on a host booted
 * with "nomodule"; and a stand-in for the sensors where the host refuses
 * those.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <linux/cbreaker.h>

#define CB_BPF_NO_MODULE

static volatile __u32 cb_seen;	/* keeps the stand-ins' arguments alive */

static __always_inline int cb_admit(void *key, __u32 key__sz)
{
	cb_seen += key__sz;
	return 0;
}

/* below: it works on the breaker map, which the programs' source defines */
static __always_inline int cb_record(void *key, __u32 key__sz, __u64 how,
				     __u64 start_ns, __u64 now_ns);

/* the module's is cb_key_hash() in C: here it costs BPF's instructions */
static __always_inline __u64 cb_gate_hash(void *key, __u32 key__sz, __u64 k0,
					  __u64 k1)
{
	const __u64 k[2] = { k0, k1 };

	return cb_key_hash(key, k);
}

static __always_inline int cb_map_attach(void *map, __u32 id)
{
	return 0;
}

#include "../bpf/cbreaker.bpf.c"

/* the module's lock stripes: cb_locks[hash_64(key's words, CB_LOCK_BITS)] */
#define CB_STRIPE_BITS	8
#define CB_GOLDEN_RATIO	0x61c8864680b583ebULL	/* GOLDEN_RATIO_64 */
#define CB_RUNS		(CB_AGE_TICKS + 1)	/* the count window's runs */

struct cb_stripe {
	struct bpf_spin_lock lock;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << CB_STRIPE_BITS);
	__type(key, __u32);
	__type(value, struct cb_stripe);
} cb_stripes SEC(".maps");

/* the module's per-CPU counters (cb_stat_add) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cb_stand_stats SEC(".maps");

__u16 cb_rules_gen;	/* the module's cb_gen(): its breakers' rules_gen */
__u32 cb_record_off;	/* host_bench: the record returns at once */

/*
 * The module's common record, a success of a healthy closed breaker
 * (cb_record_fast: cb_engine_record_fast, cb_engine_call, cw_add with
 * max-age, cw_drop): the same lookup of the breaker, the same conditions,
 * the same fields read and written under a lock stripe. Anything else is
 * dropped, where the module would take its slow path; so is the rare
 * record that ages runs out. An approximation: BPF rather than C, two map
 * lookups for the stripe and the statistic where the module indexes
 * arrays, bounds the verifier wants; no kfunc call chain, no indirect
 * call for the lookup.
 */
static __always_inline int cb_record(void *key, __u32 key__sz, __u64 how,
				     __u64 start_ns, __u64 now_ns)
{
	struct cb_count_window *cw;
	__u32 head, first, newest, i;
	struct cb_breaker *b;
	struct cb_stripe *l;
	__u64 *stat, lat, tick;
	const __u64 *w;
	__u32 zero = 0;
	int ret = 0;

	if (cb_record_off || key__sz != sizeof(struct cb_key) ||
	    ((__u32)how & ~CB_RECORD_CALL) != CB_OUT_SUCCESS)
		return 0;
	if (!now_ns)
		now_ns = bpf_ktime_get_ns();
	lat = start_ns && start_ns < now_ns ? now_ns - start_ns : 0;
	w = key;
	i = (w[0] ^ w[1] ^ w[2] ^ w[3]) * CB_GOLDEN_RATIO >>
	    (64 - CB_STRIPE_BITS);
	l = bpf_map_lookup_elem(&cb_stripes, &i);
	/* under the stripe's lock in the module: no helper runs under it */
	b = bpf_map_lookup_elem(&cb_breakers, key);
	stat = bpf_map_lookup_elem(&cb_stand_stats, &zero);
	if (!l || !b || !stat)
		return 0;
	cw = &b->cw;
	bpf_spin_lock(&l->lock);
	if (b->forced || b->state != CB_STATE_CLOSED || b->held ||
	    b->rules_gen != cb_rules_gen || !b->slow_us ||
	    lat >= (__u64)b->slow_us * 1000 ||
	    (how >> 32) != (b->epoch & 0x7fffffff) || b->time_window ||
	    cw->fails || cw->slows || !cw->size ||
	    cw->size > CB_WINDOW_CALLS_MAX || cw->head >= cw->size ||
	    cw->run_first >= CB_RUNS || cw->runs > CB_RUNS)
		goto out;
	if (now_ns > b->seen)
		b->seen = now_ns;
	tick = b->age_tick_ms ?
	       b->seen / ((__u64)b->age_tick_ms * 1000000) : 0;
	first = cw->run_first;
	/* cw_age_to would drop results: not stood in for */
	if (b->age_tick_ms && cw->runs &&
	    tick - cw->run_tick[first] >= CB_AGE_TICKS)
		goto out;
	b->successes++;
	head = cw->head & (CB_WINDOW_CALLS_MAX - 1);
	/* cw_drop: full, the oldest result is the one head overwrites */
	if (cw->count >= cw->size) {
		cw->fails -= cw->fail[head / 64] >> (head % 64) & 1;
		cw->slows -= cw->slow[head / 64] >> (head % 64) & 1;
		cw->count--;
		if (b->age_tick_ms && cw->runs && !--cw->run_len[first]) {
			first = first + 1 < CB_RUNS ? first + 1 : 0;
			cw->run_first = first;
			cw->runs--;
		}
	}
	cw->fail[head / 64] &= ~(1ULL << (head % 64));
	cw->slow[head / 64] &= ~(1ULL << (head % 64));
	cw->head = head + 1 < cw->size ? head + 1 : 0;
	cw->count++;
	if (b->age_tick_ms) {	/* the newest run takes it, or a new one */
		newest = first + cw->runs;
		newest = newest >= CB_RUNS ? newest - CB_RUNS : newest;
		if (cw->runs) {
			newest = newest ? newest - 1 : CB_AGE_TICKS;
			if (newest >= CB_RUNS)	/* for the verifier */
				goto counted;
			if (cw->run_tick[newest] >= (__u32)tick ||
			    cw->runs == CB_RUNS) {
				cw->run_len[newest]++;
				goto counted;
			}
			newest = newest + 1 < CB_RUNS ? newest + 1 : 0;
		}
		if (newest >= CB_RUNS)
			goto counted;
		cw->run_tick[newest] = tick;
		cw->run_len[newest] = 1;
		cw->runs++;
	}
counted:
	if (how & CB_RECORD_CALL) {
		__sync_fetch_and_add(&b->calls, 1);
		b->last_call = b->seen >> 20;
	}
	ret = 1;
out:
	bpf_spin_unlock(&l->lock);
	if (ret)
		*stat += 1;
	return ret;
}

/*
 * Where the host refuses the sensors (fentry), this stands in for them on
 * tracked connects: the same sensor code (cb_tcp_outcome), on the same
 * socket at the same moment (the handshake done, from tcp_finish_connect),
 * reached through sock_ops rather than a trampoline. Its other callbacks
 * (the listener's side, connection setup) only return: the bench counts
 * them as runs and subtracts the bpf_stats floor per run.
 */
SEC("sockops")
int cb_sockops(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *sk;
	struct tcp_sock *tp;

	if (ctx->op == BPF_SOCK_OPS_HDR_OPT_LEN_CB) {
		cb_xchg_tx(ctx);	/* as the real cb_sockops does */
		return 1;
	}
	if (ctx->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		cb_slot_watch(ctx);	/* as the real cb_sockops does */
		return 1;
	}
	sk = ctx->sk;
	if (!sk)
		return 1;
	cb_timeout_done(ctx);	/* as the real cb_sockops does, on its op */
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		cb_tcp_outcome((struct sock *)tp, CB_OUT_SUCCESS,
			       tp->tcp_clock_cache);
	cb_xchg_established(ctx);
	return 1;
}

/*
 * One line of the gate for each destination and nothing else: round-robin
 * over many, less the same for one, what a cold line costs here.
 */
SEC("cgroup/connect4")
int cb_line(struct bpf_sock_addr *ctx)
{
	__u32 i = bpf_ntohl(ctx->user_ip4) * 0x9e3779b1U >> 17;
	struct cb_gate_set *g = bpf_map_lookup_elem(&cb_gate, &i);

	if (g)
		cb_seen += g->way[0];
	return 1;
}

/*
 * The bench's reference: the least bookkeeping a tracked call can have,
 * its destination's 32-byte key looked up in a hash map holding as many
 * keys as the breaker map and one atomic add to its value. Tracked and
 * untracked costs are stated as multiples of it, measured in the same run.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);	/* host_bench's BIG */
	__type(key, struct cb_key);
	__type(value, __u64);
} cb_bare_counts SEC(".maps");

SEC("cgroup/connect4")
int cb_bare(struct bpf_sock_addr *ctx)
{
	struct cb_key key = {};
	__u64 *n;

	cb_key4(&key, ctx->user_ip4, (__u16)ctx->user_port, IPPROTO_TCP);
	key.netns = bpf_get_netns_cookie(ctx);
	n = bpf_map_lookup_elem(&cb_bare_counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

/* Nothing at all: what bpf_stats reports for a program that does nothing. */
SEC("cgroup/connect4")
int cb_empty(struct bpf_sock_addr *ctx)
{
	return 1;
}
