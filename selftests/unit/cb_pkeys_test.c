// SPDX-License-Identifier: GPL-2.0
/*
 * The policy keys' list (<linux/cbreaker_keys.h>): consistent in itself, checked
 * key by key by cb_policy_invalid(), and named everywhere it must be: the
 * man page and the bash completion (which make fills in from the list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cb_engine.h"
#include "kselftest_harness.h"

#ifndef CB_BUILD
#define CB_BUILD "build"
#endif

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* @word in @s, not as part of a longer key name. */
static int has_word(const char *s, const char *end, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = strstr(s, word); p && p < end; p = strstr(p + 1, word)) {
		char before = p > s ? p[-1] : ' ', after = p[n];

		if (!strchr("abcdefghijklmnopqrstuvwxyz-", before) &&
		    !strchr("abcdefghijklmnopqrstuvwxyz-", after ? after : ' '))
			return 1;
	}
	return 0;
}

TEST(defaults_are_in_range_and_valid)
{
	struct cb_policy p;
	int i;

	cb_policy_default(&p);
	ASSERT_EQ(NULL, cb_policy_invalid(&p));
	for (i = 0; i < CB_NR_PKEYS; i++) {
		const struct cb_pkey *k = &cb_pkeys[i];

		ASSERT_LE(k->min, k->max);
		if (cb_pkey_in_force(&p, k)) {
			/* a key that can be off may be off by default */
			if (k->unit != CB_UNIT_NS_OFF || k->def)
				EXPECT_LE(k->min, k->def) TH_LOG("%s", k->name);
			EXPECT_GE(k->max, k->def) TH_LOG("%s", k->name);
			EXPECT_EQ(k->def, cb_pkey_get(&p, k));
		}
	}
}

TEST(one_attribute_per_row_and_a_field_its_size)
{
	int i, j;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		const struct cb_pkey *k = &cb_pkeys[i];

		EXPECT_GE(k->attr, CB_A_P_WINDOW_CALLS);
		EXPECT_LE(k->attr, CB_A_MAX);
		EXPECT_TRUE(k->size == 1 || k->size == 2 || k->size == 4 ||
			    k->size == 8);
		EXPECT_LE(k->offset + k->size, sizeof(struct cb_policy));
		for (j = 0; j < i; j++) {
			EXPECT_NE(cb_pkeys[j].attr, k->attr);
			EXPECT_NE(cb_pkeys[j].offset, k->offset);
		}
	}
}

/* The type a row gives is its field's: the attribute's size is taken from it. */
TEST(each_rows_type_is_its_fields)
{
#define CB_PKEY(attr, name, range, field, type, ...)			\
	EXPECT_EQ(sizeof(((struct cb_policy *)0)->field), sizeof(type))	\
		TH_LOG("%s", name);
#include <linux/cbreaker_keys.h>
#undef CB_PKEY
}

/* Just outside its range, every key is refused, and by its own name. */
TEST(each_key_checked_at_its_bounds)
{
	struct cb_policy p;
	const char *bad;
	int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		const struct cb_pkey *k = &cb_pkeys[i];
		__u64 top = k->size == 8 ? ~0ULL : (1ULL << (8 * k->size)) - 1;

		/* keys checked against others: at their own minimum */
		cb_policy_default(&p);
		p.min_calls = 1;
		p.open_ns = cb_pkeys[CB_PK_OPEN_NS].min;
		if (k->unit == CB_UNIT_WINDOW_NS)
			p.window_ns = k->min;
		cb_pkey_set(&p, k, k->min);
		EXPECT_EQ(NULL, cb_policy_invalid(&p)) TH_LOG("%s min", k->name);
		if (k->min > 1 || (k->min == 1 && k->unit != CB_UNIT_NS_OFF &&
				   k->unit != CB_UNIT_WINDOW_NS)) {
			cb_pkey_set(&p, k, k->min - 1);
			bad = cb_policy_invalid(&p);
			ASSERT_NE(NULL, bad) TH_LOG("%s below", k->name);
			EXPECT_EQ(0, strncmp(bad, k->name, strlen(k->name)));
		}
		if (k->max < top) {
			cb_pkey_set(&p, k, k->max + 1);
			bad = cb_policy_invalid(&p);
			ASSERT_NE(NULL, bad) TH_LOG("%s above", k->name);
			EXPECT_EQ(0, strncmp(bad, k->name, strlen(k->name)));
		}
	}
}

/*
 * The text of file @path from @start to @stop (not included): it must
 * name every key, as a word of its own.
 */
static void names_every_key(struct __test_metadata *_metadata,
			    const char *path, const char *start,
			    const char *stop)
{
	const char *text = slurp(path), *from, *to;
	int i;

	ASSERT_NE(NULL, text) TH_LOG("no %s", path);
	from = strstr(text, start);
	ASSERT_NE(NULL, from) TH_LOG("no \"%s\" in %s", start, path);
	from += strlen(start);
	to = strstr(from, stop);
	ASSERT_NE(NULL, to);
	for (i = 0; i < CB_NR_PKEYS; i++) {
		const char *name = cb_pkeys[i].name;

		EXPECT_TRUE(has_word(from, to, name))
			TH_LOG("%s does not name the key \"%s\"", path, name);
	}
}

TEST(the_man_page_names_every_key)
{
	names_every_key(_metadata, "docs/cbctl.8", ".SH POLICY KEYS", "\n.SH ");
}

TEST(the_bash_completion_lists_every_key)
{
	names_every_key(_metadata, CB_BUILD "/cbctl.bash-completion",
			"local keys=\"", "\"");
}

TEST_HARNESS_MAIN
