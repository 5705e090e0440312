// SPDX-License-Identifier: GPL-2.0
/*
 * The hooks.
 *
 * cgroup connect4/6 (TCP, connected UDP) and sendmsg4/6 (unconnected UDP):
 * a destination with a breaker or a matching rule is handed to the module
 * (cb_admit), which admits or refuses. Refusal is ECONNREFUSED at once, with
 * no packet sent. An admitted TCP connect is remembered by socket cookie.
 *
 * Sensing: the end of a remembered handshake (done, reset, timed out,
 * unreachable) and ICMP destination-unreachable errors for UDP are
 * reported to the module (cb_record).
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
#define ECONNREFUSED	111
#define ETIMEDOUT	110
#define EHOSTUNREACH	113
#define ENETUNREACH	101
#define SOCK_ALLOW	1
#define SOCK_DENY	0
#define ICMP_DEST_UNREACH	3
#define ICMP_PORT_UNREACH	3
#define ICMP_FRAG_NEEDED	4
#define ICMPV6_DEST_UNREACH	1
#define ICMPV6_PORT_UNREACH	4

/*
 * Module kfuncs (cbreaker.ko). bench/host.bpf.c builds these programs with
 * stand-ins, to time the BPF side alone on a host that cannot load modules.
 */
#ifndef CB_BPF_NO_MODULE
extern int cb_admit(void *key, __u32 key__sz) __ksym;
extern void cb_record(void *key, __u32 key__sz, __u32 outcome,
		      __u64 latency_ns, __u32 epoch) __ksym;
extern int cb_map_attach(void *map, __u32 id) __ksym;
#endif

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

/* A TCP connect admitted and not finished yet. */
struct cb_conn {
	struct cb_key key;
	__u32 epoch;
	__u64 start;
};

/*
 * Handshakes in flight, by socket cookie. Preallocated LRU rather than
 * socket storage, whose allocation and RCU-deferred free cost twice as much
 * per connect. A socket closed mid-handshake leaves its entry behind (a
 * cookie is never reused) until the LRU needs the room; so does, on an
 * overflowing host, the oldest handshake: its outcome is not counted.
 */
#define CB_CONNS_MAX	16384

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CB_CONNS_MAX);
	__type(key, __u64);
	__type(value, struct cb_conn);
} cb_conns SEC(".maps");

/* Is @key governed by a breaker or a rule? The module decides the rest. */
static __always_inline bool cb_tracked(struct cb_key *key)
{
	struct cb_port_rule_key pk = {
		.prefixlen = CB_PORT_RULE_BITS(128),
		.proto = key->proto,
	};
	struct cb_rule_key rk = {
		.prefixlen = CB_RULE_BITS(128),
		.proto = key->proto,
	};

	if (bpf_map_lookup_elem(&cb_breakers, key))
		return true;
	__builtin_memcpy(pk.port, &key->port, sizeof(pk.port));
	__builtin_memcpy(pk.addr, key->addr, sizeof(pk.addr));
	if (bpf_map_lookup_elem(&cb_port_rules, &pk))
		return true;
	__builtin_memcpy(rk.addr, key->addr, sizeof(rk.addr));
	return bpf_map_lookup_elem(&cb_rules, &rk);
}

static __always_inline int cb_check(struct bpf_sock_addr *ctx,
				    struct cb_key *key)
{
	struct cb_conn c;
	__u64 cookie;
	int ret;

	if (!cb_tracked(key))
		return SOCK_ALLOW;
	ret = cb_admit(key, sizeof(*key));
	if (ret == CB_ADMIT_REFUSE) {
		/* Without a retval the caller would see EPERM. */
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_DENY;
	}
	if (ret < 0 || key->proto != IPPROTO_TCP)
		return SOCK_ALLOW;
	c.key = *key;
	c.epoch = ret;
	c.start = bpf_ktime_get_ns();
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&cb_conns, &cookie, &c, BPF_ANY);
	return SOCK_ALLOW;
}

static __always_inline void cb_key4(struct cb_key *key, __u32 ip, __u16 port,
				    __u8 proto)
{
	key->addr[10] = 0xff;
	key->addr[11] = 0xff;
	__builtin_memcpy(&key->addr[12], &ip, sizeof(ip));
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
 * The end of a handshake we admitted: done, or failed with an error. Two
 * functions each called once per handshake ending that way, rather than the
 * inet_sock_set_state tracepoint, which every TCP socket on the host hits
 * about ten times per connection. A socket closed by its owner
 * mid-handshake reaches neither: it neither succeeded nor failed.
 */
static __always_inline void cb_conn_done(__u64 cookie, __u32 out)
{
	struct cb_conn *c = bpf_map_lookup_elem(&cb_conns, &cookie);

	if (!c)
		return;
	if (out != __CB_OUT_MAX)
		cb_record(&c->key, sizeof(c->key), out,
			  bpf_ktime_get_ns() - c->start, c->epoch);
	bpf_map_delete_elem(&cb_conns, &cookie);
}

static __always_inline void cb_tcp_outcome(struct sock *sk, __u32 out)
{
	/* read, not made: a socket without a cookie is none of ours */
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	if (cookie)
		cb_conn_done(cookie, out);
}

/* SYN-ACK accepted: the socket is about to become ESTABLISHED. */
SEC("fentry/tcp_finish_connect")
int BPF_PROG(cb_tcp_done, struct sock *sk, struct sk_buff *skb)
{
	cb_tcp_outcome(sk, CB_OUT_SUCCESS);
	return 0;
}

/* RST, SYN retries exhausted, or an ICMP error while in SYN_SENT. */
SEC("fentry/tcp_done_with_error")
int BPF_PROG(cb_tcp_failed, struct sock *sk, int err)
{
	__u32 out;

	if (sk->__sk_common.skc_state != TCP_SYN_SENT)
		return 0;
	if (err == ECONNREFUSED)
		out = CB_OUT_REFUSED;
	else if (err == ETIMEDOUT)
		out = CB_OUT_TIMEOUT;
	else if (err == EHOSTUNREACH || err == ENETUNREACH)
		out = CB_OUT_UNREACH;
	else
		out = __CB_OUT_MAX;
	cb_tcp_outcome(sk, out);
	return 0;
}

/*
 * ICMP destination unreachable for a UDP datagram: the original headers are
 * at skb->data (IPv4) or skb->data + offset (UDP in IPv6).
 */
SEC("fentry/udp_err")
int BPF_PROG(cb_udp4_err, struct sk_buff *skb, __u32 info)
{
	unsigned char *data = BPF_CORE_READ(skb, data);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	struct cb_key key = {};
	struct icmphdr icmp;
	struct iphdr iph;
	struct udphdr uh;

	if (bpf_probe_read_kernel(&icmp, sizeof(icmp), head + th) ||
	    icmp.type != ICMP_DEST_UNREACH || icmp.code == ICMP_FRAG_NEEDED ||
	    bpf_probe_read_kernel(&iph, sizeof(iph), data) ||
	    bpf_probe_read_kernel(&uh, sizeof(uh), data + iph.ihl * 4))
		return 0;
	cb_key4(&key, iph.daddr, uh.dest, IPPROTO_UDP);
	if (bpf_map_lookup_elem(&cb_breakers, &key))
		cb_record(&key, sizeof(key), icmp.code == ICMP_PORT_UNREACH ?
			  CB_OUT_PORT_UNREACH : CB_OUT_UNREACH, 0, 0);
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
	struct cb_key key = {};
	struct ipv6hdr ip6;
	struct udphdr uh;

	if (type != ICMPV6_DEST_UNREACH ||
	    bpf_probe_read_kernel(&ip6, sizeof(ip6), data) ||
	    bpf_probe_read_kernel(&uh, sizeof(uh), data + offset))
		return 0;
	__builtin_memcpy(key.addr, &ip6.daddr, sizeof(key.addr));
	key.port = uh.dest;
	key.proto = IPPROTO_UDP;
	if (bpf_map_lookup_elem(&cb_breakers, &key))
		cb_record(&key, sizeof(key), code == ICMPV6_PORT_UNREACH ?
			  CB_OUT_PORT_UNREACH : CB_OUT_UNREACH, 0, 0);
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
	       cb_map_attach(&cb_port_rules, CB_MAP_PORT_RULES);
}

char LICENSE[] SEC("license") = "GPL";
