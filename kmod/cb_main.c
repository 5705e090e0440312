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
#include <linux/module.h>

#include "cb_core.h"

__bpf_kfunc_start_defs();

/**
 * cb_map_attach - hand a map of the BPF object to the module
 * @map__map: the map
 * @id: which one (enum cb_map_id)
 *
 * Called once by cbctl's SEC("syscall") program. Returns 0 or -errno.
 */
__bpf_kfunc int cb_map_attach(void *map__map, u32 id)
{
	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	return cb_maps_attach(map__map, id);
}

/**
 * cb_admit - may this destination be dialed now?
 * @key: a struct cb_key
 * @key__sz: its size
 *
 * Returns CB_ADMIT or CB_REFUSE. Anything unexpected admits.
 */
__bpf_kfunc int cb_admit(void *key, u32 key__sz)
{
	if (key__sz != sizeof(struct cb_key))
		return CB_ADMIT;
	return cb_breaker_admit(key);
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(cb_syscall_kfuncs)
BTF_ID_FLAGS(func, cb_map_attach, KF_SLEEPABLE)
BTF_KFUNCS_END(cb_syscall_kfuncs)

BTF_KFUNCS_START(cb_sock_addr_kfuncs)
BTF_ID_FLAGS(func, cb_admit)
BTF_KFUNCS_END(cb_sock_addr_kfuncs)

static const struct btf_kfunc_id_set cb_syscall_set = {
	.owner = THIS_MODULE,
	.set = &cb_syscall_kfuncs,
};

static const struct btf_kfunc_id_set cb_sock_addr_set = {
	.owner = THIS_MODULE,
	.set = &cb_sock_addr_kfuncs,
};

static int __init cb_init(void)
{
	int err;

	cb_maps_init();

	/*
	 * With CONFIG_MODULE_ALLOW_BTF_MISMATCH a module without usable BTF
	 * still loads; this is where that shows, so refuse to load then.
	 */
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &cb_syscall_set);
	if (err) {
		pr_err("registering syscall kfuncs failed: %d\n", err);
		return err;
	}
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
					&cb_sock_addr_set);
	if (err) {
		pr_err("registering sock_addr kfuncs failed: %d\n", err);
		return err;
	}

	err = cb_netlink_init();
	if (err) {
		pr_err("registering generic netlink family failed: %d\n", err);
		return err;
	}
	pr_info("version " CB_VERSION " loaded\n");
	return 0;
}

static void __exit cb_exit(void)
{
	cb_netlink_exit();
	cb_maps_release();
}

module_init(cb_init);
module_exit(cb_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Circuit breaking for outgoing connections");
MODULE_VERSION(CB_VERSION);
