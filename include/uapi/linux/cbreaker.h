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

/* What the module tells a connect/sendmsg hook to do. */
enum cb_verdict {
	CB_ADMIT,
	CB_REFUSE,
};

/* Maps the BPF object hands to the module (cb_map_attach kfunc). */
enum cb_map_id {
	CB_MAP_BREAKERS,
	__CB_MAP_MAX,
};

/*
 * A destination. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so one table
 * and one key serve both families, and a v6 socket dialing a mapped address
 * meets the same breaker as a v4 socket.
 */
struct cb_key {
	__u8	addr[16];
	__be16	port;
	__u8	proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8	pad;		/* must be zero */
};

/*
 * A breaker: the value of the breaker map. Only the module writes it;
 * BPF programs and bpftool may read it. Times are CLOCK_MONOTONIC ns.
 */
struct cb_breaker {
	__u32	state;		/* enum cb_state, as last written */
	__u32	forced;		/* enum cb_force */
	__u64	calls;		/* admitted calls */
	__u64	successes;
	__u64	failures;
	__u64	slow;
	__u64	rejected;	/* refused by us; never counted as failures */
	__u64	opened_at;
	__u64	open_until;	/* 0 while forced open: until reset */
	__u64	changed_at;	/* last state change */
	__u32	transitions;
	__u32	pad;
};

/* Generic netlink commands. */
enum cb_cmd {
	CB_CMD_UNSPEC,
	CB_CMD_STATUS_GET,	/* module and table state */
	CB_CMD_BREAKER_GET,	/* one breaker (doit) or all (dump) */
	CB_CMD_BREAKER_SET,	/* CB_A_ACTION on one breaker, or CB_A_ALL */
	CB_CMD_MAPS_RELEASE,	/* drop the module's map references */
	__CB_CMD_MAX,
};

#define CB_CMD_MAX (__CB_CMD_MAX - 1)

enum cb_action {
	CB_ACTION_TRIP = 1,	/* force open until reset */
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
	CB_A_STATE,		/* u8, enum cb_state, effective now */
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
	__CB_A_MAX,
};

#define CB_A_MAX (__CB_A_MAX - 1)

#endif /* _UAPI_LINUX_CBREAKER_H */
