// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl apply as config management drives it, in the guest: the module's
 * policies made equal to a file (adds, changes, deletes), nothing touched
 * the second time (breakers keep their state), --diff prints a batch that
 * does the same and exits 1 only when something would change, and a file
 * with one bad line changes nothing and names FILE:LINE.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#define F "/tmp/apply.conf"
#define SNAPSHOT "{ cbctl policy show; cbctl breaker list; } 2>&1"

/* What the module holds before: one rule kept, one changed, one deleted. */
#define BEFORE								\
	"cbctl policy add default window 50 min-calls 5 && "		\
	"cbctl policy add dst 10.1.0.0/16 open 5s probes 2 && "		\
	"cbctl policy add dst 10.9.0.0/16 port 80 && "			\
	"cbctl breaker trip dst 10.1.2.3 port 80"

/* What is wanted: default kept, 10.1/16 changed, 10.9/16:80 gone, two new. */
#define WANTED								\
	"# the fleet's policies\n"					\
	"policy add default window 50 min-calls 5\n"			\
	"policy add dst 10.1.0.0/16 open 7s   # probes back to default\n" \
	"\n"								\
	"policy add dst 2001:db8::/32 port 443 mode dry-run\n"		\
	"policy add dst 10.2.0.0/16 proto udp failure-rate 30\n"

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

FIXTURE(apply) {
	char snap[8192];
};

FIXTURE_SETUP(apply)
{
	ASSERT_EQ(0, cb_sh("modprobe cbreaker && { cbctl unload 2>/dev/null; true; } && "
			   "cbctl load"));
	/* no rule but ours, whatever tests before left */
	ASSERT_EQ(0, cb_sh("cbctl apply /dev/null >/dev/null"));
	ASSERT_EQ(0, cb_sh(BEFORE));
	ASSERT_EQ(0, write_file(F, WANTED));
}

FIXTURE_TEARDOWN(apply)
{
	cb_sh("cbctl apply /dev/null >/dev/null; cbctl unload");
}

TEST_F(apply, makes_the_policies_equal_to_the_file)
{
	char out[8192], def[1024];

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl apply " F));
	ASSERT_STREQ("2 added, 1 changed, 1 deleted\n", out);
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl policy show"));
	TH_LOG("%s", out);
	ASSERT_EQ(4, count_lines(out));
	ASSERT_NE(NULL, strstr(out, "default proto tcp window 50 min-calls 5 "));
	ASSERT_NE(NULL, strstr(out, "dst 10.1.0.0/16 proto tcp "));
	ASSERT_NE(NULL, strstr(out, " open 7s "));
	ASSERT_NE(NULL, strstr(out, "dst 2001:db8::/32 port 443 proto tcp "));
	ASSERT_NE(NULL, strstr(out, " mode dry-run"));
	ASSERT_NE(NULL, strstr(out, "dst 10.2.0.0/16 proto udp "));
	ASSERT_EQ(NULL, strstr(out, "10.9.0.0"));
	/* a key the file does not give is its default, not what it was */
	ASSERT_EQ(0, cb_sh_out(def, sizeof(def),
			       "cbctl policy add dst 10.77.0.0/16 && "
			       "cbctl policy show dst 10.77.0.0/16 | grep -o ' probes [0-9]*' && "
			       "cbctl policy del dst 10.77.0.0/16"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl policy show dst 10.1.0.0/16 | grep -o ' probes [0-9]*'"));
	ASSERT_STREQ(def, out);
}

TEST_F(apply, twice_changes_nothing_and_breakers_keep_their_state)
{
	char before[4096], after[4096], out[1024];

	ASSERT_EQ(0, cb_sh("cbctl apply " F " >/dev/null"));
	ASSERT_EQ(0, cb_sh_out(before, sizeof(before),
			       "cbctl -j breaker show dst 10.1.2.3 port 80 | "
			       "sed 's/,\"now\":[0-9]*//'"));
	ASSERT_NE(NULL, strstr(before, "\"state\":\"open\""));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl apply " F));
	ASSERT_STREQ("0 added, 0 changed, 0 deleted\n", out);
	ASSERT_EQ(0, cb_sh_out(after, sizeof(after),
			       "cbctl -j breaker show dst 10.1.2.3 port 80 | "
			       "sed 's/,\"now\":[0-9]*//'"));
	/* the same breaker, still open since the same moment, its counts as they were */
	ASSERT_STREQ(before, after);
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j apply " F));
	ASSERT_NE(NULL, strstr(out, "\"added\":0,\"changed\":0,\"deleted\":0"));
}

TEST_F(apply, diff_prints_a_batch_and_changes_nothing)
{
	char out[4096], snap[8192], again[8192];

	ASSERT_EQ(0, cb_sh_out(snap, sizeof(snap), SNAPSHOT));
	ASSERT_EQ(1, cb_sh_out(out, sizeof(out), "cbctl apply --diff " F));
	TH_LOG("%s", out);
	ASSERT_EQ(4, count_lines(out));
	ASSERT_NE(NULL, strstr(out, "policy change dst 10.1.0.0/16 proto tcp open 7s probes "));
	ASSERT_NE(NULL, strstr(out, "# was: open 5s probes 2"));
	ASSERT_NE(NULL, strstr(out, "policy add dst 2001:db8::/32 port 443 proto tcp mode dry-run"));
	ASSERT_NE(NULL, strstr(out, "policy del dst 10.9.0.0/16 port 80 proto tcp"));
	ASSERT_EQ(0, cb_sh_out(again, sizeof(again), SNAPSHOT));
	ASSERT_STREQ(snap, again);

	/* what it prints, run as a batch, is what apply would have done */
	ASSERT_EQ(1, cb_sh("cbctl apply --diff " F " >/tmp/apply.batch"));
	ASSERT_EQ(0, cb_sh("cbctl -b /tmp/apply.batch"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl apply --diff " F));
	ASSERT_STREQ("", out);
	ASSERT_EQ(2, cb_sh("cbctl apply --diff /nonexistent 2>/dev/null"));
}

static const struct {
	const char *line;	/* put at line 3 of the wanted file */
	const char *says;
} cb_bad_lines[] = {
	{ "policy add dst 10.3.0.0/16 probs 3", "unknown key" },
	{ "policy add dst 10.3.0.0/33", "bad prefix" },
	{ "policy add dst 10.3.1.0/16", "bits set beyond the prefix" },
	{ "policy add dst 10.3.0.0/16 failure-rate 0", "failure-rate" },
	{ "policy add dst 10.3.0.0/16 window 129", "window" },
	{ "policy add dst 10.1.0.0/16", "the same rule as line 2" },
	{ "policy change dst 10.3.0.0/16 open 1s", "\"policy add\" lines only" },
	{ "policy del dst 10.1.0.0/16", "\"policy add\" lines only" },
	{ "breaker trip dst 10.1.2.3 port 80", "\"policy add\" lines only" },
	{ "load", "\"policy add\" lines only" },
};

TEST_F_TIMEOUT(apply, a_bad_line_changes_nothing_and_names_file_and_line, 120)
{
	char snap[8192], again[8192], err[1024], text[1024], want[128];
	unsigned int i;

	ASSERT_EQ(0, cb_sh_out(snap, sizeof(snap), SNAPSHOT));
	for (i = 0; i < sizeof(cb_bad_lines) / sizeof(cb_bad_lines[0]); i++) {
		snprintf(text, sizeof(text),
			 "policy add default window 50 min-calls 5\n"
			 "policy add dst 10.1.0.0/16 open 7s\n"
			 "%s\n"
			 "policy add dst 10.2.0.0/16 proto udp\n", cb_bad_lines[i].line);
		ASSERT_EQ(0, write_file(F, text));
		EXPECT_EQ(1, cb_sh("cbctl apply " F " >/dev/null 2>/tmp/apply.err"));
		cb_sh_out(err, sizeof(err), "cat /tmp/apply.err");
		snprintf(want, sizeof(want), "cbctl: " F ":3: ");
		EXPECT_EQ(0, strncmp(err, want, strlen(want))) TH_LOG("%s: %s", cb_bad_lines[i].line, err);
		EXPECT_NE(NULL, strstr(err, cb_bad_lines[i].says)) TH_LOG("%s: %s", cb_bad_lines[i].line, err);
		EXPECT_EQ(1, count_lines(err));
		EXPECT_EQ(2, cb_sh("cbctl apply --diff " F " >/dev/null 2>&1"));
		ASSERT_EQ(0, cb_sh_out(again, sizeof(again), SNAPSHOT));
		EXPECT_STREQ(snap, again) TH_LOG("after: %s", cb_bad_lines[i].line);
	}
	EXPECT_EQ(1, cb_sh("cbctl apply /nonexistent 2>/dev/null"));
	ASSERT_EQ(0, cb_sh_out(again, sizeof(again), SNAPSHOT));
	EXPECT_STREQ(snap, again);
}

TEST_HARNESS_MAIN
