// SPDX-License-Identifier: GPL-2.0
/*
 * Does the module loaded serve this cbctl's BPF object? A module older
 * than cbctl lacks a kfunc the object calls, and libbpf would refuse the
 * object in its own words ("extern ... not found").
 */
#include <string.h>
#include <bpf/btf.h>

#include "cbctl.h"

/* The name of @obj's type @id if it is one of our kfuncs (cb_*), else NULL. */
const char *cb_kfunc_ours(const struct btf *obj, uint32_t id)
{
	const struct btf_type *t = btf__type_by_id(obj, id);
	const char *name;

	/* a FUNC keeps its linkage in vlen */
	if (!t || !btf_is_func(t) || btf_vlen(t) != BTF_FUNC_EXTERN)
		return NULL;
	name = btf__name_by_offset(obj, t->name_off);
	return name && !strncmp(name, "cb_", 3) ? name : NULL;
}

/*
 * The first of our kfuncs @obj calls that @mod lacks, or NULL. All are
 * required: BTF does not tell a __weak extern from another.
 */
const char *cb_kfunc_missing(const struct btf *obj, const struct btf *mod)
{
	__u32 i, n = btf__type_cnt(obj);
	const char *name;

	for (i = 1; i < n; i++) {
		name = cb_kfunc_ours(obj, i);
		if (name && btf__find_by_name_kind(mod, name, BTF_KIND_FUNC) < 0)
			return name;
	}
	return NULL;
}
