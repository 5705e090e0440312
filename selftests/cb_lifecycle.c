// SPDX-License-Identifier: GPL-2.0
/*
 * Module and program lifecycle in the guest: kfunc registration, load, pin,
 * attach, unload, rmmod, and the errors around them.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#define PIN "/sys/fs/bpf/cbreaker"

static int cb_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/*
 * Each test starts without the module, so its counters start at zero
 * whatever ran before, and what it changed is undone after it, even when
 * a failed assertion ended it early: the programs unloaded, the module's
 * idle time its default again.
 */
FIXTURE(lifecycle) {};
FIXTURE_SETUP(lifecycle)
{
	cb_sh("cbctl unload 2>/dev/null; rmmod cbreaker 2>/dev/null");
}

FIXTURE_TEARDOWN(lifecycle)
{
	cb_sh("cbctl unload 2>/dev/null; [ ! -d /sys/module/cbreaker ] || "
	      "echo 60000 >/sys/module/cbreaker/parameters/idle_ms");
}

TEST_F(lifecycle, module_registers_its_kfuncs)
{
	char out[8192];

	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	/* module BTF present: kfunc registration could work */
	ASSERT_TRUE(cb_exists("/sys/kernel/btf/cbreaker"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "dmesg | grep 'cbreaker:'"));
	EXPECT_NE(NULL, strstr(out, "cbreaker: version"));
	EXPECT_EQ(NULL, strstr(out, "registering"));
}

TEST_F(lifecycle, load_pin_attach_unload_rmmod)
{
	char out[4096];

	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("cbctl load"));
	EXPECT_TRUE(cb_exists(PIN "/breakers"));
	EXPECT_TRUE(cb_exists(PIN "/prog_connect4"));
	EXPECT_TRUE(cb_exists(PIN "/prog_sendmsg6"));
	EXPECT_EQ(0, cb_sh("ls " PIN " | grep -q '^link_[0-9]*_connect6$'"));
	/* pins are root's alone */
	EXPECT_EQ(0, cb_sh("[ \"$(stat -c %%a " PIN ")\" = 700 ]"));

	/* loaded programs hold the module */
	EXPECT_NE(0, cb_sh("rmmod cbreaker 2>/dev/null"));
	/* one attachment per cgroup */
	EXPECT_NE(0, cb_sh_out(out, sizeof(out), "cbctl load 2>&1"));
	EXPECT_NE(NULL, strstr(out, "already attached"));

	ASSERT_EQ(0, cb_sh("cbctl unload"));
	EXPECT_FALSE(cb_exists(PIN));
	ASSERT_EQ(0, cb_sh("rmmod cbreaker"));
	EXPECT_FALSE(cb_exists("/sys/module/cbreaker"));
	EXPECT_FALSE(cb_exists("/sys/kernel/btf/cbreaker"));
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
}

TEST_F(lifecycle, errors_without_module_or_programs)
{
	char out[4096];

	cb_sh("cbctl unload 2>/dev/null");
	cb_sh("rmmod cbreaker 2>/dev/null");
	ASSERT_FALSE(cb_exists("/sys/module/cbreaker"));

	EXPECT_EQ(1, cb_sh_out(out, sizeof(out), "cbctl load 2>&1"));
	EXPECT_NE(NULL, strstr(out, "modprobe cbreaker"));
	EXPECT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_NE(NULL, strstr(out, "\"loaded\":false"));
	EXPECT_FALSE(cb_exists("/sys/module/cbreaker"));

	/* the control family autoloads the module, as genetlink does */
	EXPECT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl breaker list 2>&1"));
	EXPECT_NE(NULL, strstr(out, "no breakers"));
	ASSERT_TRUE(cb_exists("/sys/module/cbreaker"));
	EXPECT_EQ(1, cb_sh_out(out, sizeof(out), "cbctl unload 2>&1"));
	EXPECT_NE(NULL, strstr(out, "not loaded"));
	EXPECT_EQ(1, cb_sh_out(out, sizeof(out),
			       "cbctl breaker trip dst 192.0.2.1 port 80 2>&1"));
	EXPECT_NE(NULL, strstr(out, "cbctl load"));
	EXPECT_EQ(1, cb_sh_out(out, sizeof(out), "cbctl load cgroup /tmp 2>&1"));
	EXPECT_NE(NULL, strstr(out, "not a cgroup v2 directory"));
	EXPECT_FALSE(cb_exists(PIN));
}

/* With the hooks attached to the root, every process is covered. */
TEST_F(lifecycle, root_cgroup_covers_everyone)
{
	ASSERT_EQ(0, cb_sh("modprobe cbreaker && cbctl load"));
	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port 9 proto udp"));
	EXPECT_EQ(-ECONNREFUSED, cb_sendto("127.0.0.1", 9));
	EXPECT_EQ(-ECONNREFUSED, cb_sendto("::ffff:127.0.0.1", 9));
	ASSERT_EQ(0, cb_sh("cbctl unload"));
	/* gone: everything goes through again */
	EXPECT_EQ(0, cb_sendto("127.0.0.1", 9));
}

/*
 * A bounded table: when it is full a new destination is let through
 * without a breaker and counted (table_full); once a breaker has been idle long enough, it is
 * evicted to make room.
 */
TEST_F(lifecycle, full_table_lets_calls_through_then_evicts_idle)
{
	unsigned short ports[6];
	char out[4096];
	int fds[6], i;

	ASSERT_EQ(0, cb_sh("modprobe cbreaker && cbctl unload 2>/dev/null; "
			   "cbctl load table 4"));
	ASSERT_EQ(0, cb_sh("echo 1000 >/sys/module/cbreaker/parameters/idle_ms"));
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 window 100 min-calls 100"));
	for (i = 0; i < 6; i++)
		ASSERT_LE(0, fds[i] = cb_listener("127.0.0.1", SOCK_STREAM, &ports[i]));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cb_connect("127.0.0.1", ports[i], SOCK_STREAM));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	TH_LOG("%s", out);
	EXPECT_EQ(4, cb_json_num(out, "breakers"));
	EXPECT_EQ(4, cb_json_num(out, "breakers_max"));
	EXPECT_EQ(1, cb_json_num(out, "table_full"));
	EXPECT_EQ(0, cb_json_num(out, "evicted"));
	/* the fifth got through, without a breaker */
	EXPECT_EQ(1, cb_got(fds[4], SOCK_STREAM, 1000));
	EXPECT_NE(0, cb_sh("cbctl breaker show dst 127.0.0.1 port %u 2>/dev/null",
			   ports[4]));

	usleep(1200000);
	ASSERT_EQ(0, cb_connect("127.0.0.1", ports[5], SOCK_STREAM));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_EQ(4, cb_json_num(out, "breakers"));
	EXPECT_EQ(1, cb_json_num(out, "evicted"));
	EXPECT_EQ(0, cb_sh("cbctl breaker show dst 127.0.0.1 port %u >/dev/null",
			   ports[5]));

	ASSERT_EQ(0, cb_sh("echo 60000 >/sys/module/cbreaker/parameters/idle_ms"));
	ASSERT_EQ(0, cb_sh("cbctl unload"));
	for (i = 0; i < 6; i++)
		close(fds[i]);
}

TEST_HARNESS_MAIN
