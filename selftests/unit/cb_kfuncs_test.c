// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl's check that the module loaded serves its BPF object
 * (cb_kfunc_missing): against the object as built, and modules' BTF
 * made here with some of its kfuncs, or all.
 */
#include <string.h>
#include <bpf/btf.h>

#include "cbctl.h"
#include "kselftest_harness.h"

#ifndef CB_BUILD
#define CB_BUILD "build"
#endif

/* A module's BTF with every kfunc of ours @obj calls but @skip. */
static struct btf *module_btf(const struct btf *obj, const char *skip, int *made)
{
	struct btf *mod = btf__new_empty();
	int proto = mod ? btf__add_func_proto(mod, 0) : -1;
	__u32 i, n = btf__type_cnt(obj);
	const char *name;

	*made = 0;
	for (i = 1; proto > 0 && i < n; i++) {
		name = cb_kfunc_ours(obj, i);
		if (!name || (skip && !strcmp(name, skip)))
			continue;
		if (btf__add_func(mod, name, BTF_FUNC_GLOBAL, proto) < 0)
			break;
		++*made;
	}
	return mod;
}

FIXTURE(kfuncs) {
	struct btf *obj;
};

FIXTURE_SETUP(kfuncs)
{
	self->obj = btf__parse_elf(CB_BUILD "/cbreaker.bpf.o", NULL);
	ASSERT_NE(NULL, self->obj);
}

FIXTURE_TEARDOWN(kfuncs)
{
	btf__free(self->obj);
}

TEST_F(kfuncs, a_module_with_them_all_serves)
{
	int made;
	struct btf *mod = module_btf(self->obj, NULL, &made);

	ASSERT_NE(NULL, mod);
	EXPECT_LE(4, made);	/* cb_admit, cb_record, cb_gate_hash, cb_map_attach */
	EXPECT_EQ(NULL, cb_kfunc_missing(self->obj, mod));
	btf__free(mod);
}

TEST_F(kfuncs, a_module_without_one_is_named_by_it)
{
	const char *missing;
	int made, all;
	struct btf *mod = module_btf(self->obj, NULL, &all);

	btf__free(mod);
	mod = module_btf(self->obj, "cb_gate_hash", &made);
	ASSERT_NE(NULL, mod);
	EXPECT_EQ(all - 1, made);
	missing = cb_kfunc_missing(self->obj, mod);
	ASSERT_NE(NULL, missing);
	EXPECT_STREQ("cb_gate_hash", missing);
	btf__free(mod);
}

TEST_F(kfuncs, a_module_with_none_is_refused)
{
	struct btf *mod = btf__new_empty();
	const char *missing;

	ASSERT_NE(NULL, mod);
	missing = cb_kfunc_missing(self->obj, mod);
	ASSERT_NE(NULL, missing);
	EXPECT_EQ(0, strncmp(missing, "cb_", 3));
	btf__free(mod);
}

TEST_HARNESS_MAIN
