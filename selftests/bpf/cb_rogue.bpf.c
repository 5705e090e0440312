// SPDX-License-Identifier: GPL-2.0
/*
 * Programs that must not get to use cbreaker's kfuncs (selftests/cb_trust):
 * an outcome reported from an attach point that is not one of our sensors,
 * and a map handed over from a tc program on a packet path; a map of
 * another shape than the module's; and a connect hook that may hand the
 * kfuncs no key at all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <linux/cbreaker.h>

extern int cb_record(void *key, __u32 key__sz, __u64 how, __u64 start_ns,
		     __u64 now_ns) __ksym;
extern int cb_map_attach(void *map, __u32 id) __ksym;
extern int cb_admit(void *key, __u32 key__sz) __ksym;
extern __u64 cb_gate_hash(void *key, __u32 key__sz, __u64 k0, __u64 k1) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16);
	__type(key, struct cb_key);
	__type(value, struct cb_breaker);
} rogue_breakers SEC(".maps");

/* the gate's value with one set: no gate the hooks could use */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_gate_set);
} rogue_gate SEC(".maps");

int attach_ret = 1;	/* what cb_map_attach() said on the packet path */
int shape_ret = 1;	/* and of rogue_gate, in a test run */
int attach_runs;
int null_runs, null_admit = 1;
__u64 null_hash = 1;

/* Every TCP connect would be a "refused" for the destination in @key. */
SEC("fentry/tcp_v4_connect")
int BPF_PROG(rogue_record, struct sock *sk)
{
	struct cb_key key = { .proto = IPPROTO_TCP };

	cb_record(&key, sizeof(key), CB_RECORD_HOW(CB_OUT_REFUSED, 0), 0, 0);
	return 0;
}

SEC("tcx/ingress")
int rogue_attach(struct __sk_buff *skb)
{
	attach_ret = cb_map_attach(&rogue_breakers, CB_MAP_BREAKERS);
	attach_runs++;
	return 0;	/* TC_ACT_OK */
}

SEC("tc")
int rogue_shape(struct __sk_buff *skb)
{
	shape_ret = cb_map_attach(&rogue_gate, CB_MAP_GATE);
	return 0;
}

/*
 * A lookup's result, unchecked: the verifier takes a maybe-NULL pointer
 * for a __sz argument (6.12), here always NULL (the map is empty).
 */
SEC("cgroup/connect4")
int rogue_null(struct bpf_sock_addr *ctx)
{
	struct cb_key key = { .proto = IPPROTO_TCP };
	void *none = bpf_map_lookup_elem(&rogue_breakers, &key);

	null_hash = cb_gate_hash(none, sizeof(key), 1, 2);
	null_admit = cb_admit(none, sizeof(key));
	null_runs++;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
