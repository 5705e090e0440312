// SPDX-License-Identifier: GPL-2.0
/*
 * The hooks: cgroup connect4/6 (TCP, connected UDP) and sendmsg4/6
 * (unconnected UDP). They look the destination up and, if it has a breaker,
 * ask the module for a verdict. Refusal is ECONNREFUSED at once, with no
 * packet sent. Everything else admits: cbreaker fails open.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <linux/cbreaker.h>

#define ECONNREFUSED	111	/* vmlinux.h carries no errno values */
#define SOCK_ALLOW	1
#define SOCK_DENY	0

/* Module kfuncs (cbreaker.ko) */
extern int cb_admit(void *key, __u32 key__sz) __ksym;
extern int cb_map_attach(void *map, __u32 id) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CB_BREAKERS_DEFAULT);
	__type(key, struct cb_key);
	__type(value, struct cb_breaker);
} cb_breakers SEC(".maps");

static __always_inline int cb_check(struct cb_key *key)
{
	if (!bpf_map_lookup_elem(&cb_breakers, key))
		return SOCK_ALLOW;
	if (cb_admit(key, sizeof(*key)) != CB_REFUSE)
		return SOCK_ALLOW;
	/* Without a retval the caller would see EPERM. */
	bpf_set_retval(-ECONNREFUSED);
	return SOCK_DENY;
}

static __always_inline int cb_check4(struct bpf_sock_addr *ctx)
{
	struct cb_key key = {};
	__u32 ip = ctx->user_ip4;
	__u32 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return SOCK_ALLOW;
	key.addr[10] = 0xff;
	key.addr[11] = 0xff;
	__builtin_memcpy(&key.addr[12], &ip, sizeof(ip));
	key.port = (__be16)ctx->user_port;	/* network order, low 16 bits */
	key.proto = proto;
	return cb_check(&key);
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
	key.port = (__be16)ctx->user_port;
	key.proto = proto;
	return cb_check(&key);
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

/* Run once by cbctl load: hands the maps to the module. */
SEC("syscall")
int cb_register(void *ctx)
{
	return cb_map_attach(&cb_breakers, CB_MAP_BREAKERS);
}

char LICENSE[] SEC("license") = "GPL";
