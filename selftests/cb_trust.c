// SPDX-License-Identifier: GPL-2.0
/*
 * Who may make the module act: only cbreaker's own programs call its
 * kfuncs, a tc program on a packet path cannot hand it maps, nor anyone
 * maps of another shape than the module's, a hook that hands them no key
 * harms nothing, two loads at once leave one working instance, and
 * attached cgroups keep breakers of their own.
 */
#include <net/if.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
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

TEST_HARNESS_MAIN
