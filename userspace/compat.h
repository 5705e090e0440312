/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels cbreaker runs on, each behind a check of
 * the running kernel (not of a version number) and named after the kernel
 * change that made it, as in WireGuard's compat/.
 */
#ifndef CB_COMPAT_H
#define CB_COMPAT_H

#include <errno.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

/*
 * ICMPv6 errors for UDP: up to 7.0 udpv6_err() is a wrapper that cannot be
 * traced and __udp6_lib_err() does the work; the removal of UDP-Lite in 7.1
 * (net-next d6e0f04bf22d and its series) folded __udp6_lib_err() into
 * udpv6_err(). Both take (skb, opt, type, code, offset, info) first, so the
 * one program follows whichever function this kernel has.
 */
static inline int cb_compat_udp6_err(struct bpf_program *prog)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err = 0;

	if (!btf)
		return -errno;
	if (btf__find_by_name_kind(btf, "__udp6_lib_err", BTF_KIND_FUNC) < 0 &&
	    btf__find_by_name_kind(btf, "udpv6_err", BTF_KIND_FUNC) >= 0)
		err = bpf_program__set_attach_target(prog, 0, "udpv6_err");
	btf__free(btf);
	return err;
}

#endif /* CB_COMPAT_H */
