// SPDX-License-Identifier: GPL-2.0
/*
 * Module and program lifecycle in the guest: kfunc registration, load, pin,
 * attach, unload, rmmod, and the errors around them.
 */
#include "cb_test.h"

#include <linux/bpf.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>

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

/* Another tool's sock_ops program (returns 1): its fd, or -1. */
static int foreign_sock_ops(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a = {
		.prog_type = BPF_PROG_TYPE_SOCK_OPS,
		.insns = (unsigned long)insns,
		.insn_cnt = 2,
		.license = (unsigned long)"GPL",
	};

	return syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

/* How many sock_ops programs act in the cgroup at @path; -1 on error. */
static int effective_sock_ops(const char *path)
{
	__u32 ids[8];
	union bpf_attr a = {
		.query.attach_type = BPF_CGROUP_SOCK_OPS,
		.query.query_flags = BPF_F_QUERY_EFFECTIVE,
		.query.prog_ids = (unsigned long)ids,
		.query.prog_cnt = 8,
	};
	int fd = open(path, O_RDONLY | O_DIRECTORY), err;

	if (fd < 0)
		return -1;
	a.query.target_fd = fd;
	err = syscall(__NR_bpf, BPF_PROG_QUERY, &a, sizeof(a));
	close(fd);
	return err ? -1 : (int)a.query.prog_cnt;
}

#define FOREIGN CB_CGROOT "/cbforeign"

/*
 * A tool's sock_ops program attached exclusively above the cgroup keeps
 * it: cbctl attaches its hooks without its own sock_ops program, says
 * connect-timeout is off there, and sets no timeouts there.
 */
TEST_F(lifecycle, a_foreign_exclusive_sock_ops_program_keeps_its_place)
{
	union bpf_attr at = { .attach_type = BPF_CGROUP_SOCK_OPS };
	unsigned short port;
	char out[4096];
	int prog, cg, lfd, fd, first;
	socklen_t len = sizeof(int);
	int ut = -1;

	ASSERT_EQ(0, cb_sh("modprobe cbreaker && mkdir -p " FOREIGN "/child"));
	prog = foreign_sock_ops();
	ASSERT_LE(0, prog);
	cg = open(FOREIGN, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, cg);
	at.target_fd = cg;
	at.attach_bpf_fd = prog;
	ASSERT_EQ(0, syscall(__NR_bpf, BPF_PROG_ATTACH, &at, sizeof(at)));

	EXPECT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl load cgroup " FOREIGN "/child 2>&1"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "connect-timeout is off"));
	EXPECT_EQ(1, effective_sock_ops(FOREIGN "/child"));
	EXPECT_EQ(0, cb_sh("ls " PIN " | grep -q '^link_[0-9]*_connect4$'"));

	/* a handshake that stays in SYN_SENT: a full accept queue */
	lfd = cb_listener("127.0.0.1", SOCK_STREAM, &port);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, listen(lfd, 0));
	EXPECT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 port %u "
			   "connect-timeout 1s", port));
	EXPECT_EQ(0, cb_join_cgroup(FOREIGN "/child"));
	first = cb_connect_start("127.0.0.1", port);
	fd = cb_connect_start("127.0.0.1", port);	/* the queue is full */
	cb_join_cgroup(CB_CGROOT);
	ASSERT_LE(0, fd);
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, &len);
	EXPECT_EQ(0, ut);
	close(fd);
	close(first);
	close(lfd);

	cb_sh("cbctl unload");
	syscall(__NR_bpf, BPF_PROG_DETACH, &at, sizeof(at));
	close(prog);
	close(cg);
	cb_sh("rmdir " FOREIGN "/child " FOREIGN);
}

TEST_HARNESS_MAIN
