// SPDX-License-Identifier: GPL-2.0
/*
 * Reliability and security, in the guest, in short: the stress suites of
 * make stress with small numbers, and privilege. make stress runs them at
 * full size (a million fuzzed messages, a million destinations, 100
 * reload cycles) with SLUB debugging and KFENCE.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

FIXTURE(hostile) {};
FIXTURE_SETUP(hostile) {}
FIXTURE_TEARDOWN(hostile) {}

TEST_F_TIMEOUT(hostile, stress_suites_in_short, 900)
{
	char out[16384];
	int st;

	st = cb_sh("FUZZ=20000 STRESS_SECS=20 CYCLES=5 DESTS=100000 HTTP_SECS=20 /stress/run "
		   ">/tmp/stress.out 2>&1");
	/* its TAP lines as comments here: they are not this program's */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "sed 's/^/#   /' /tmp/stress.out"));
	TH_LOG("\n%s", out);
	EXPECT_EQ(0, st);
	EXPECT_NE(0, cb_sh("grep -q '^not ok' /tmp/stress.out"));
	EXPECT_EQ(0, cb_sh("grep -q '^ok [0-9]* kernel log' /tmp/stress.out"));
}

/*
 * Only CAP_NET_ADMIN in the initial namespace changes anything: not an
 * unprivileged user, not root of a user namespace.
 */
TEST(no_change_without_cap_net_admin)
{
	static const char *const cmds[] = {
		"cbctl policy add dst 10.99.0.0/16",
		"cbctl policy del default",
		"cbctl breaker trip dst 10.99.0.1 port 80",
		"cbctl breaker reset all",
		"cbctl unload",
		"echo 'policy add dst 10.98.0.0/16' | cbctl -b -",
		"rm -rf /sys/fs/bpf/cbreaker",
		"echo 1 >/sys/module/cbreaker/parameters/idle_ms",
	};
	char before[8192], after[8192];
	unsigned int i;

	ASSERT_EQ(0, cb_sh("modprobe cbreaker && { cbctl unload 2>/dev/null; true; } && "
			   "cbctl load && cbctl policy add default"));
	ASSERT_EQ(0, cb_sh_out(before, sizeof(before),
			       "{ cbctl policy show; cbctl breaker list; ls -l /sys/fs/bpf/cbreaker; "
			       "cat /sys/module/cbreaker/parameters/idle_ms; } 2>&1"));
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_NE(0, cb_sh("su nobody -s /bin/sh -c \"%s\" 2>/dev/null", cmds[i]));
		/* root of its own user namespace, with every capability there */
		EXPECT_NE(0, cb_sh("su nobody -s /bin/sh -c 'unshare -r sh -c \"%s\"' 2>/dev/null",
				   cmds[i]));
	}
	/* even real root, in a user namespace, lacks CAP_NET_ADMIN where it counts */
	EXPECT_EQ(0, cb_sh("unshare -r cbctl policy add dst 10.99.0.0/16 2>&1 | "
			   "grep -q CAP_NET_ADMIN"));
	EXPECT_EQ(0, cb_sh("unshare -r cbctl breaker reset all 2>&1 | grep -q CAP_NET_ADMIN"));
	ASSERT_EQ(0, cb_sh_out(after, sizeof(after),
			       "{ cbctl policy show; cbctl breaker list; ls -l /sys/fs/bpf/cbreaker; "
			       "cat /sys/module/cbreaker/parameters/idle_ms; } 2>&1"));
	EXPECT_STREQ(before, after);
	/* pinned objects are root's alone, nothing world-writable */
	EXPECT_EQ(0, cb_sh("[ \"$(stat -c %%a /sys/fs/bpf/cbreaker)\" = 700 ]"));
	EXPECT_EQ(0, cb_sh("[ -z \"$(find /sys/fs/bpf/cbreaker -perm /022)\" ]"));
	/* reading stays open */
	EXPECT_EQ(0, cb_sh("su nobody -s /bin/sh -c 'cbctl policy show' >/dev/null"));
	EXPECT_EQ(0, cb_sh("cbctl unload"));
}

TEST_HARNESS_MAIN
