// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/cbreaker.bpf.c without the module, for bench/host_bench: the hooks,
 * maps and sensors as they are, with stand-ins for the kfuncs (every call
 * admitted, every outcome dropped), so that the BPF side's own cost can be
 * timed natively on a host booted with "nomodule"; and a stand-in for the
 * sensors where the host refuses those.
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

static __always_inline int cb_record(void *key, __u32 key__sz, __u64 how,
				     __u64 start_ns, __u64 now_ns)
{
	cb_seen += how + (__u32)start_ns + (__u32)now_ns;
	return 1;
}

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

/* Nothing at all: what bpf_stats reports for a program that does nothing. */
SEC("cgroup/connect4")
int cb_empty(struct bpf_sock_addr *ctx)
{
	return 1;
}
