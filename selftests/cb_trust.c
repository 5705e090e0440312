// SPDX-License-Identifier: GPL-2.0
/*
 * Who may make the module act: only cbreaker's own programs call its
 * kfuncs, a tc program on a packet path cannot hand it maps, nor anyone
 * maps of another shape than the module's, a hook that hands them no key
 * harms nothing, two loads at once leave one working instance, and
 * attached cgroups keep breakers of their own.
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <sched.h>
#include <linux/if_ether.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/cbreaker.h>

#include "cb_test.h"
#include "kselftest_harness.h"
#include "cb_rogue.skel.h"

#define CGA CB_CGROOT "/cbtrust_a"
#define CGB CB_CGROOT "/cbtrust_b"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

FIXTURE(trust) {
};

/* cb_rogue opened with only @name of its programs to load, or NULL. */
static struct cb_rogue *cb_rogue_only(const char *name)
{
	struct cb_rogue *skel = cb_rogue__open();
	struct bpf_program *prog;

	if (!skel)
		return NULL;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog,
					  !strcmp(bpf_program__name(prog), name));
	return skel;
}

/* 0 if the module holds an instance's maps, as cbctl says */
static int cb_maps_attached(void)
{
	return cb_sh("cbctl -j status | grep -q '\"maps_attached\":true'");
}

/* A loopback port nothing listens on, under a policy that trips at 3. */
static unsigned short cb_refusing_port(void)
{
	unsigned short port = 0;
	int fd = cb_listener("127.0.0.1", SOCK_STREAM, &port);

	if (fd < 0)
		return 0;
	close(fd);
	if (cb_sh("cbctl policy add dst 127.0.0.1 port %u window 10 "
		  "min-calls 3 failure-rate 50 open 30s", port))
		return 0;
	return port;
}

/* @n connects to @port, each refused (by the kernel or by us). */
static void cb_fail(unsigned short port, int n)
{
	while (n--)
		cb_connect("127.0.0.1", port, SOCK_STREAM);
}

FIXTURE_SETUP(trust)
{
	cb_sh("cbctl unload 2>/dev/null");
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, mkdir(CGA, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, mkdir(CGB, 0755) && errno != EEXIST ? -1 : 0);
	libbpf_set_print(quiet);
}

FIXTURE_TEARDOWN(trust)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload 2>/dev/null");
	rmdir(CGA);
	rmdir(CGB);
}

TEST_F(trust, cb_record_serves_only_our_sensors)
{
	struct cb_rogue *skel = cb_rogue_only("rogue_record");
	int err;

	ASSERT_NE(NULL, skel);
	err = cb_rogue__load(skel);
	/* the verifier refuses the kfunc call on tcp_v4_connect */
	EXPECT_NE(0, err);
	EXPECT_EQ(-EACCES, err);
	cb_rogue__destroy(skel);
}

TEST_F(trust, a_tc_program_on_a_packet_path_cannot_hand_over_maps)
{
	struct bpf_link *link;
	struct cb_rogue *skel;
	int i;

	ASSERT_EQ(0, cb_sh("cbctl load"));
	skel = cb_rogue_only("rogue_attach");
	ASSERT_NE(NULL, skel);
	/* a root loader passes the verifier: the run-time check is the point */
	ASSERT_EQ(0, cb_rogue__load(skel));
	link = bpf_program__attach_tcx(skel->progs.rogue_attach,
				       if_nametoindex("lo"), NULL);
	ASSERT_NE(NULL, link);
	/* packets on lo: the program runs in softirq, for whoever sent them */
	for (i = 0; i < 5 && !skel->bss->attach_runs; i++) {
		cb_sendto("127.0.0.1", 9);
		usleep(100 * 1000);
	}
	ASSERT_LT(0, skel->bss->attach_runs);
	/* refused for its context, not merely because maps are held (-EBUSY) */
	EXPECT_EQ(-EPERM, skel->data->attach_ret);
	bpf_link__destroy(link);
	cb_rogue__destroy(skel);
	/* the module still serves cbctl's maps */
	EXPECT_EQ(0, cb_maps_attached());
}

/*
 * A map of another shape than the module's (an object of another version)
 * is refused as such, with nothing held: then the real object goes in.
 */
TEST_F(trust, a_map_of_another_shape_is_refused)
{
	char pkt[ETH_HLEN] = { 0 };	/* a tc program's test run needs a frame */
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt,
		    .data_size_in = sizeof(pkt));
	struct cb_rogue *skel = cb_rogue_only("rogue_shape");

	ASSERT_NE(NULL, skel);
	ASSERT_EQ(0, cb_rogue__load(skel));
	ASSERT_EQ(0, bpf_prog_test_run_opts(bpf_program__fd(skel->progs.rogue_shape),
					    &run));
	EXPECT_EQ(-EINVAL, skel->data->shape_ret);
	cb_rogue__destroy(skel);
	EXPECT_EQ(0, cb_sh("cbctl load"));
	EXPECT_EQ(0, cb_maps_attached());
}

/*
 * A connect hook passes the kfuncs a lookup's unchecked result, which is
 * NULL: a kernel whose verifier lets that through must see the kfuncs
 * answer (no hash, admit silently), not oops.
 */
TEST_F(trust, a_hook_that_hands_the_kfuncs_no_key_harms_nothing)
{
	struct bpf_link *link;
	struct cb_rogue *skel;
	unsigned short port = 0;
	int cg, lfd, err;

	ASSERT_EQ(0, cb_sh("cbctl load"));	/* the module holds maps */
	skel = cb_rogue_only("rogue_null");
	ASSERT_NE(NULL, skel);
	err = cb_rogue__load(skel);
	if (err) {
		/* refused by the verifier: as safe, and all a kernel owes */
		TH_LOG("the verifier refuses the program: %d", err);
		EXPECT_EQ(-EACCES, err);
		cb_rogue__destroy(skel);
		return;
	}
	ASSERT_LE(0, cg = open(CGA, O_RDONLY | O_DIRECTORY));
	link = bpf_program__attach_cgroup(skel->progs.rogue_null, cg);
	close(cg);
	ASSERT_NE(NULL, link);
	ASSERT_LE(0, lfd = cb_listener("127.0.0.1", SOCK_STREAM, &port));
	ASSERT_EQ(0, cb_join_cgroup(CGA));
	err = cb_connect("127.0.0.1", port, SOCK_STREAM);
	cb_join_cgroup(CB_CGROOT);
	EXPECT_EQ(0, err);
	EXPECT_EQ(1, skel->bss->null_runs);
	EXPECT_EQ(0, skel->data->null_hash);
	EXPECT_EQ(CB_ADMIT_SILENT, skel->data->null_admit);
	close(lfd);
	bpf_link__destroy(link);
	cb_rogue__destroy(skel);
}

TEST_F(trust, concurrent_loads_leave_one_working_instance)
{
	unsigned short port;
	int round;

	for (round = 0; round < 3; round++) {
		cb_sh("cbctl unload 2>/dev/null");
		/* eight loads at once: one loads, the rest attach or say so */
		cb_sh("for i in 1 2 3 4 5 6 7 8; do cbctl load >/dev/null 2>&1 & done; wait");
		ASSERT_EQ(0, cb_maps_attached());
		ASSERT_EQ(0, cb_sh("test -e /sys/fs/bpf/cbreaker/breakers"));
	}
	/* and it works: a closed port trips its breaker */
	port = cb_refusing_port();
	ASSERT_NE(0, port);
	cb_fail(port, 5);
	EXPECT_EQ(0, cb_sh("cbctl -j breaker show dst 127.0.0.1 port %u | "
			   "grep -q '\"state\":\"open\"'", port));
}

TEST_F(trust, each_attached_cgroup_has_breakers_of_its_own)
{
	unsigned long long tx;
	unsigned short port;
	int fd;

	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CGA " cgroup " CGB));
	port = cb_refusing_port();
	ASSERT_NE(0, port);
	/* tenant a's failures open a's breaker */
	ASSERT_EQ(0, cb_join_cgroup(CGA));
	cb_fail(port, 5);
	fd = cb_connect("127.0.0.1", port, SOCK_STREAM);
	EXPECT_EQ(-ECONNREFUSED, fd);
	ASSERT_EQ(0, cb_join_cgroup(CB_CGROOT));
	EXPECT_EQ(0, cb_sh("cbctl -j breaker show cgroup " CGA " dst 127.0.0.1 port %u | "
			   "grep -q '\"state\":\"open\"'", port));
	/* tenant b's connect still goes out: its own breaker is not a's */
	tx = cb_lo_tx_packets();
	ASSERT_EQ(0, cb_join_cgroup(CGB));
	fd = cb_connect("127.0.0.1", port, SOCK_STREAM);
	ASSERT_EQ(0, cb_join_cgroup(CB_CGROOT));
	EXPECT_EQ(-ECONNREFUSED, fd);		/* the kernel's RST */
	EXPECT_LT(tx, cb_lo_tx_packets());	/* a SYN was sent */
	EXPECT_EQ(0, cb_sh("cbctl -j breaker show cgroup " CGB " dst 127.0.0.1 port %u | "
			   "grep -q '\"state\":\"closed\"'", port));
	/* with two cgroups attached, a destination alone is ambiguous */
	EXPECT_EQ(0, cb_sh("cbctl breaker show dst 127.0.0.1 port %u 2>&1 | "
			   "grep -q 'name one'", port));
	EXPECT_EQ(0, cb_sh("cbctl -j breaker list | grep -q '\"cgroup\":\"" CGA "\"'"));
}

/* the state and forcing of the initial namespace's breaker to @port */
static int cb_forced_open(unsigned short port)
{
	return cb_sh("cbctl -j breaker show dst 127.0.0.1 port %u | "
		     "grep '\"state\":\"open\"' | grep -q '\"forced\":\"open\"'",
		     port);
}

/*
 * Root in another network namespace (ip netns exec, unshare -n: every
 * capability, in the initial user namespace) acts for that namespace
 * alone: reset all resets its own breakers, never the host's; policies
 * and the maps, which serve every namespace, are refused with a reason.
 */
TEST_F(trust, another_network_namespace_cannot_act_for_the_host)
{
	static const char * const refused[] = {
		"policy add dst 10.98.0.0/16",
		"policy change dst 127.0.0.1 port %u min-calls 9",
		"policy del dst 127.0.0.1 port %u",
		"unload",
	};
	char before[4096], after[4096], cmd[256];
	unsigned short port;
	unsigned int i;

	ASSERT_EQ(0, cb_sh("cbctl load"));
	port = cb_refusing_port();
	ASSERT_NE(0, port);
	ASSERT_EQ(0, cb_sh("ip netns del cbtrust 2>/dev/null; ip netns add cbtrust && "
			   "ip -n cbtrust link set lo up"));
	/* the operator's trip, and one of the namespace's own */
	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port %u", port));
	ASSERT_EQ(0, cb_sh("ip netns exec cbtrust cbctl breaker trip dst 127.0.0.1 port %u",
			   port));

	EXPECT_EQ(0, cb_sh("ip netns exec cbtrust cbctl breaker reset all"));
	EXPECT_EQ(0, cb_forced_open(port));
	EXPECT_EQ(0, cb_sh("unshare -n cbctl breaker reset all"));
	EXPECT_EQ(0, cb_forced_open(port));
	/* its own breaker it did reset */
	EXPECT_NE(0, cb_sh("ip netns exec cbtrust cbctl -j breaker show dst 127.0.0.1 "
			   "port %u 2>/dev/null | grep -q '\"forced\":\"open\"'", port));

	ASSERT_EQ(0, cb_sh_out(before, sizeof(before),
			       "cbctl policy show; ls /sys/fs/bpf/cbreaker"));
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(cmd, sizeof(cmd), refused[i], port);
		EXPECT_EQ(0, cb_sh("unshare -n cbctl %s 2>&1 | "
				   "grep -q 'initial network namespace'", cmd)) {
			TH_LOG("unshare -n cbctl %s", cmd);
		}
		EXPECT_NE(0, cb_sh("unshare -n cbctl %s 2>/dev/null", cmd));
	}
	EXPECT_NE(0, cb_sh("ip netns exec cbtrust cbctl policy add dst 10.98.0.0/16 2>/dev/null"));
	ASSERT_EQ(0, cb_sh_out(after, sizeof(after),
			       "cbctl policy show; ls /sys/fs/bpf/cbreaker"));
	EXPECT_STREQ(before, after);
	EXPECT_EQ(0, cb_maps_attached());
	EXPECT_EQ(0, cb_forced_open(port));

	/* from the initial namespace all of it still works */
	EXPECT_EQ(0, cb_sh("cbctl policy change dst 127.0.0.1 port %u min-calls 4", port));
	EXPECT_EQ(0, cb_sh("cbctl breaker reset all"));
	EXPECT_NE(0, cb_forced_open(port));
	EXPECT_EQ(0, cb_sh("cbctl policy del dst 127.0.0.1 port %u", port));
	cb_sh("ip netns del cbtrust");
}

/*
 * Nor does another namespace load: the module's maps serve them all. The
 * module refuses, not only cbctl: a program that hands over maps does not
 * pass the verifier there.
 */
TEST_F(trust, another_network_namespace_cannot_load)
{
	struct cb_rogue *skel;
	int st;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (unshare(CLONE_NEWNET))
			_exit(2);
		skel = cb_rogue_only("rogue_shape");
		_exit(skel && cb_rogue__load(skel) == -EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	EXPECT_NE(0, cb_sh("unshare -n cbctl load 2>/dev/null"));
	EXPECT_NE(0, cb_maps_attached());
	EXPECT_EQ(0, cb_sh("unshare -n cbctl load 2>&1 | grep -q 'initial network namespace'"));
	EXPECT_EQ(0, cb_sh("cbctl load"));
	EXPECT_EQ(0, cb_maps_attached());
}

/* Pass @fd over the unix socket @sk (0), or receive one (the fd). */
static int cb_send_fd(int sk, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 0;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(sk, &msg, 0) == 1 ? 0 : -1;
}

static int cb_recv_fd(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sk, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/*
 * A connect4 program that calls cb_admit() with a key of its own making,
 * loaded with @token_fd (or none); its fd or -errno. The module's BTF
 * is at fd_array[1].
 */
static int cb_load_admit_caller(int btf_fd, int btf_id, int token_fd)
{
	int fd_array[2] = { -1, btf_fd };
	struct bpf_insn insns[] = {
		/* a zeroed struct cb_key at r10 - 32 */
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8 },
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -16 },
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -24 },
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -32 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_1, .imm = -32 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2,
		  .imm = sizeof(struct cb_key) },
		{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL,
		  .off = 1, .imm = btf_id },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o,
		    .expected_attach_type = BPF_CGROUP_INET4_CONNECT,
		    .fd_array = fd_array);
	int fd;

	if (token_fd >= 0) {
		o.token_fd = token_fd;
		o.prog_flags = BPF_F_TOKEN_FD;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cb_forger", "GPL",
			   insns, sizeof(insns) / sizeof(insns[0]), &o);
	return fd < 0 ? -errno : fd;
}

/*
 * In a user namespace (root there, nobody in the host's), with a BPF
 * token delegated by the host's root as a container manager would:
 * 0 if the program that calls cb_admit() loads, else -errno.
 */
static int cb_token_child(int sk, int btf_fd, int btf_id)
{
	char c;
	int fs_fd, mnt_fd, bpffs_fd, token_fd, fd;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) || write(sk, "u", 1) != 1 ||
	    read(sk, &c, 1) != 1)	/* the parent maps our ids */
		return -ECHILD;
	fs_fd = fsopen("bpf", 0);
	if (fs_fd < 0 || cb_send_fd(sk, fs_fd))
		return -ECHILD;
	mnt_fd = cb_recv_fd(sk);
	if (mnt_fd < 0)
		return -ECHILD;
	bpffs_fd = openat(mnt_fd, ".", O_RDONLY | O_DIRECTORY);
	token_fd = bpffs_fd < 0 ? -1 : bpf_token_create(bpffs_fd, NULL);
	if (token_fd < 0)
		return -ECHILD;
	fd = cb_load_admit_caller(btf_fd, btf_id, token_fd);
	return fd < 0 ? fd : 0;
}

/*
 * A container given a BPF token (6.9+) may load cgroup programs; one that
 * calls cb_admit() or cb_record() could forge any key, of any namespace.
 * The kfunc filters refuse a program loaded by a token.
 */
TEST_F(trust, a_program_loaded_by_a_bpf_token_gets_no_kfuncs)
{
	static const char * const opts[] = {
		"delegate_cmds", "delegate_maps", "delegate_progs", "delegate_attachs",
	};
	struct btf *vm, *mod;
	int sk[2], btf_fd, btf_id, fs_fd, mnt_fd, fd, st;
	char path[64], c;
	unsigned int i;
	pid_t pid;

	vm = btf__load_vmlinux_btf();
	ASSERT_NE(NULL, vm);
	mod = btf__load_module_btf("cbreaker", vm);
	ASSERT_NE(NULL, mod);
	btf_id = btf__find_by_name_kind(mod, "cb_admit", BTF_KIND_FUNC);
	ASSERT_LT(0, btf_id);
	btf__free(mod);
	btf__free(vm);
	for (i = 0, btf_fd = -1; btf_fd < 0 && !bpf_btf_get_next_id(i, &i);) {
		struct bpf_btf_info info = { 0 };
		char name[64] = "";
		__u32 len = sizeof(info);

		fd = bpf_btf_get_fd_by_id(i);
		info.name = (unsigned long)name;
		info.name_len = sizeof(name);
		if (fd >= 0 && !bpf_btf_get_info_by_fd(fd, &info, &len) &&
		    !strcmp(name, "cbreaker"))
			btf_fd = fd;
		else if (fd >= 0)
			close(fd);
	}
	ASSERT_LE(0, btf_fd);

	/* the program itself is sound: root without a token loads it */
	fd = cb_load_admit_caller(btf_fd, btf_id, -1);
	ASSERT_LE(0, fd);
	close(fd);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sk));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sk[0]);
		_exit(-cb_token_child(sk[1], btf_fd, btf_id));
	}
	close(sk[1]);
	ASSERT_EQ(1, read(sk[0], &c, 1));
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	cb_sh("echo deny > %s", path);
	ASSERT_EQ(0, cb_sh("echo '0 0 1' > /proc/%d/uid_map && "
			   "echo '0 0 1' > /proc/%d/gid_map", pid, pid));
	ASSERT_EQ(1, write(sk[0], "m", 1));
	fs_fd = cb_recv_fd(sk[0]);
	ASSERT_LE(0, fs_fd);
	/* the host's root delegates, as a container manager would */
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ASSERT_EQ(0, fsconfig(fs_fd, FSCONFIG_SET_STRING,
				     opts[i], "any", 0));
	ASSERT_EQ(0, fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	mnt_fd = fsmount(fs_fd, 0, 0);
	ASSERT_LE(0, mnt_fd);
	ASSERT_EQ(0, cb_send_fd(sk[0], mnt_fd));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_NE(ECHILD, WEXITSTATUS(st)) {
		TH_LOG("no token could be made in the child");
	}
	/* refused by the kfunc filter, as any call it may not make */
	EXPECT_EQ(EACCES, WEXITSTATUS(st));
	close(mnt_fd);
	close(fs_fd);
	close(btf_fd);
}

TEST_HARNESS_MAIN
