// SPDX-License-Identifier: GPL-2.0
/*
 * cbreaker: circuit breaking for outgoing connections.
 *
 * BPF programs on the cgroup connect/sendmsg hooks ask this module, through
 * kfuncs, whether a destination may be dialed; the module owns the breaker
 * state and the control interface (generic netlink).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/capability.h>
#include <linux/hardirq.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <net/net_namespace.h>

#include "cb_core.h"

/* The maps serve every namespace: only the initial one hands them over. */
static bool cb_in_init_net(void)
{
	return net_eq(current->nsproxy->net_ns, &init_net);
}

/*
 * Whoever loads a program that calls our kfuncs speaks for the whole host
 * (cb_admit() and cb_record() take any key): the loader must hold CAP_BPF
 * in the initial user namespace itself, not by a BPF token, which a
 * container may be delegated. The verifier runs in the loader's task, and
 * keeps the token it loads by in prog->aux->token.
 */
static bool cb_loader_trusted(const struct bpf_prog *prog)
{
	return !prog->aux->token && bpf_capable();
}

__bpf_kfunc_start_defs();

/**
 * cb_map_attach - hand a map of the BPF object to the module
 * @map__map: the map
 * @id: which one (enum cb_map_id)
 *
 * Called once by cbctl's registration program (a tc program run with
 * BPF_PROG_TEST_RUN), in BPF context: it must not sleep. Returns 0 or -errno.
 */
__bpf_kfunc int cb_map_attach(void *map__map, u32 id)
{
	/*
	 * The loader's privilege was checked when the program was verified
	 * (cb_register_filter). Run, it must be by a task that has it too (a
	 * test run), never from a packet path in softirq.
	 */
	if (!in_task() || !capable(CAP_NET_ADMIN) || !cb_in_init_net())
		return -EPERM;
	return cb_maps_attach(map__map, id);
}

/**
 * cb_admit - may this destination be dialed now?
 * @key: a struct cb_key
 * @key__sz: its size
 *
 * Returns the epoch to report the outcome with (>= 0), CB_ADMIT_REFUSE, or
 * CB_ADMIT_SILENT (admit, report nothing). Anything unexpected admits.
 */
__bpf_kfunc int cb_admit(void *key, u32 key__sz)
{
	/* the verifier lets a maybe-NULL pointer through a __sz argument */
	if (!key || key__sz != sizeof(struct cb_key))
		return CB_ADMIT_SILENT;
	return cb_breaker_admit(key);
}

/**
 * cb_record - how a call admitted by cb_admit() ended
 * @key: a struct cb_key
 * @key__sz: its size
 * @how: CB_RECORD_HOW(enum cb_outcome, what cb_admit() returned), with
 *	CB_RECORD_CALL or CB_RECORD_EXCHANGE (then the epoch may be
 *	CB_EPOCH_SINCE)
 * @start_ns: when the call began (CLOCK_MONOTONIC, bpf_ktime_get_ns()), or 0
 * @now_ns: when it ended, on the same clock, if the sensor has that time
 *	(a handshake's end: the time its socket took when the SYN-ACK came);
 *	else 0, and the one clock read the result needs is taken here
 *
 * Return: 1 if it was a success the breaker counted (in its window, or as
 * a good probe), which a reset or drop may later amend; else 0.
 */
__bpf_kfunc int cb_record(void *key, u32 key__sz, u64 how, u64 start_ns,
			  u64 now_ns)
{
	u32 flags = (u32)how & (CB_RECORD_CALL | CB_RECORD_EXCHANGE);
	u32 outcome = (u32)how & ~flags;
	u64 now = now_ns;

	if (!key || key__sz != sizeof(struct cb_key) || outcome > CB_OUT_NONE ||
	    in_nmi())
		return 0;
	if (!now)
		now = ktime_get_ns();
	return cb_breaker_record(key, outcome, start_ns && start_ns < now ?
				 now - start_ns : 0, how >> 32, flags, now);
}

/**
 * cb_gate_hash - the gate's hash of a breaker's key
 * @key: a struct cb_key
 * @key__sz: its size
 * @k0: the hash's key, as the gate holds it (struct cb_gate_set)
 * @k1: its second word
 *
 * cb_key_hash(), for the connect hooks: BPF has no rotate, so SipHash costs
 * a hook more than twice the instructions it costs here. Returns the hash,
 * or 0 for no key or one of another size.
 */
__bpf_kfunc u64 cb_gate_hash(void *key, u32 key__sz, u64 k0, u64 k1)
{
	const u64 k[2] = { k0, k1 };

	if (!key || key__sz != sizeof(struct cb_key))
		return 0;
	return cb_key_hash(key, k);
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(cb_register_kfuncs)
BTF_ID_FLAGS(func, cb_map_attach)
BTF_KFUNCS_END(cb_register_kfuncs)

BTF_KFUNCS_START(cb_sock_addr_kfuncs)
BTF_ID_FLAGS(func, cb_admit)
BTF_ID_FLAGS(func, cb_gate_hash)
BTF_KFUNCS_END(cb_sock_addr_kfuncs)

BTF_KFUNCS_START(cb_tracing_kfuncs)
BTF_ID_FLAGS(func, cb_record)
BTF_KFUNCS_END(cb_tracing_kfuncs)

/* The functions our sensors trace: the only callers cb_record() serves. */
static const char * const cb_sensor_targets[] = {
	"tcp_finish_connect", "tcp_done_with_error", "__tcp_close",
	"tcp_disconnect", "tcp_fin", "sk_error_report",
};

/*
 * Who may call which kfunc is decided when a program is verified, in the
 * loader's task. Each set is registered for one program type, and its
 * filter judges the set as a whole (not by BTF id: a module built with
 * distilled base BTF has its ids relocated when it loads).
 */

/* cb_record(): outcomes only from programs on our sensors' attach points */
static int cb_tracing_filter(const struct bpf_prog *prog, u32 kfunc_id)
{
	const char *name = prog->aux->attach_func_name;
	int i;

	if (!cb_loader_trusted(prog))
		return -EACCES;
	if (prog->expected_attach_type != BPF_TRACE_FENTRY &&
	    prog->expected_attach_type != BPF_TRACE_FEXIT)
		return -EACCES;
	for (i = 0; name && i < ARRAY_SIZE(cb_sensor_targets); i++)
		if (!strcmp(name, cb_sensor_targets[i]))
			return 0;
	return -EACCES;
}

/* cb_admit(), cb_gate_hash(): only for the connect and sendmsg hooks */
static int cb_sock_addr_filter(const struct bpf_prog *prog, u32 kfunc_id)
{
	if (!cb_loader_trusted(prog))
		return -EACCES;
	switch (prog->expected_attach_type) {
	case BPF_CGROUP_INET4_CONNECT:
	case BPF_CGROUP_INET6_CONNECT:
	case BPF_CGROUP_UDP4_SENDMSG:
	case BPF_CGROUP_UDP6_SENDMSG:
		return 0;
	default:
		return -EACCES;
	}
}

/*
 * cb_map_attach(): maps only from a program whose loader has CAP_NET_ADMIN
 * too, in the initial network namespace
 */
static int cb_register_filter(const struct bpf_prog *prog, u32 kfunc_id)
{
	return cb_loader_trusted(prog) && capable(CAP_NET_ADMIN) &&
	       cb_in_init_net() ? 0 : -EACCES;
}

static const struct btf_kfunc_id_set cb_kfunc_sets[] = {
	{ .owner = THIS_MODULE, .set = &cb_register_kfuncs,
	  .filter = cb_register_filter },
	{ .owner = THIS_MODULE, .set = &cb_sock_addr_kfuncs,
	  .filter = cb_sock_addr_filter },
	{ .owner = THIS_MODULE, .set = &cb_tracing_kfuncs,
	  .filter = cb_tracing_filter },
};

static const enum bpf_prog_type cb_kfunc_prog_types[] = {
	BPF_PROG_TYPE_SCHED_CLS,
	BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
	BPF_PROG_TYPE_TRACING,
};

static int __init cb_init(void)
{
	int err, i;

	cb_table_init();
	err = cb_events_init();
	if (err)
		return err;

	/*
	 * With CONFIG_MODULE_ALLOW_BTF_MISMATCH a module without usable BTF
	 * still loads; this is where that shows, so refuse to load then.
	 */
	for (i = 0; i < ARRAY_SIZE(cb_kfunc_sets); i++) {
		err = register_btf_kfunc_id_set(cb_kfunc_prog_types[i],
						&cb_kfunc_sets[i]);
		if (err) {
			pr_err("registering kfuncs for program type %d failed: %d\n",
			       cb_kfunc_prog_types[i], err);
			goto out_events;
		}
	}

	err = cb_netlink_init();
	if (err) {
		pr_err("registering generic netlink family failed: %d\n", err);
		goto out_events;
	}
	pr_info("version " CB_VERSION " loaded\n");
	return 0;

out_events:
	cb_events_exit();
	return err;
}

static void __exit cb_exit(void)
{
	cb_netlink_exit();
	cb_table_exit();
	cb_events_exit();
}

module_init(cb_init);
module_exit(cb_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Circuit breaking for outgoing connections");
MODULE_VERSION(CB_VERSION);
