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

#define CB_BPF_NO_MODULE

static volatile __u32 cb_seen;	/* keeps the stand-ins' arguments alive */

static __always_inline int cb_admit(void *key, __u32 key__sz)
{
	cb_seen += key__sz;
	return 0;
}

static __always_inline void cb_record(void *key, __u32 key__sz, __u32 outcome,
				      __u64 latency_ns, __u32 epoch)
{
	cb_seen += outcome + (__u32)latency_ns + epoch;
}

static __always_inline int cb_map_attach(void *map, __u32 id)
{
	return 0;
}

#include "../bpf/cbreaker.bpf.c"

/*
 * Where the host refuses the sensors (fentry), this stands in for them on
 * tracked connects: the sensor's work, at close rather than at the
 * handshake's end, so that it is timed and the LRU does not fill up.
 */
SEC("cgroup/sock_release")
int cb_release(struct bpf_sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct cb_key key = {};
	struct cb_conn *c;

	c = bpf_map_lookup_elem(&cb_conns, &cookie);
	if (!c)
		return 1;
	key.scope = c->scope;
	cb_record(&key, sizeof(key), CB_OUT_SUCCESS,
		  bpf_ktime_get_ns() - c->start, c->epoch);
	bpf_map_delete_elem(&cb_conns, &cookie);
	return 1;
}
