// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker table in the guest: walks over it (policy del, reset all,
 * the sweeper), policy changes reaching every breaker at once, dumps, and
 * operator commands on single breakers. Loopback only: 127/8 answers every
 * address, so thousands of destinations cost no network setup.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbtable"

FIXTURE(table) {};

FIXTURE_SETUP(table)
{
	cb_sh("cbctl unload 2>/dev/null");
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(table)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload");
	rmdir(CG);
}

static long long status_num(const char *name)
{
	char out[8192];

	if (cb_sh_out(out, sizeof(out), "cbctl -j status"))
		return -1;
	return cb_json_num(out, name);
}

/* One datagram to each of @n addresses 127.@net.x.y, port 9. */
static int udp_fan_out(unsigned int net, unsigned int n)
{
	char ip[32];
	unsigned int i;
	int err;

	for (i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "127.%u.%u.%u", net, i / 250, i % 250 + 1);
		err = cb_sendto(ip, 9);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Deleting a policy forgets every breaker it governed, however many others
 * share the table: the walk must not restart after each deletion.
 */
TEST_F_TIMEOUT(table, policy_del_forgets_every_breaker_of_the_policy, 300)
{
	char out[256];

	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.1.0.0/16 proto udp && "
			   "cbctl policy add dst 127.2.0.0/16 proto udp"));
	ASSERT_EQ(0, udp_fan_out(1, 1000));
	ASSERT_EQ(0, udp_fan_out(2, 1000));
	ASSERT_EQ(2000, status_num("breakers"));
	ASSERT_EQ(0, cb_sh("cbctl policy del dst 127.1.0.0/16 proto udp"));
	EXPECT_EQ(1000, status_num("breakers"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl breaker list | grep -c '^127\\.1\\.'; true"));
	EXPECT_EQ(0, atoi(out));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl breaker list | grep -c '^127\\.2\\.'; true"));
	EXPECT_EQ(1000, atoi(out));
}

/* A TCP port on 127.0.0.1 where nothing listens: connects get a reset. */
static unsigned short closed_port(void)
{
	unsigned short port = 0;
	int fd = cb_listener("127.0.0.1", SOCK_STREAM, &port);

	if (fd >= 0)
		close(fd);
	return port;
}

/* Open the breaker of 127.0.0.1 @port with two resets. */
static int open_by_resets(unsigned short port)
{
	if (cb_sh("cbctl policy add dst 127.0.0.1 port %u window 2 min-calls 2 "
		  "open 60s", port))
		return -1;
	if (cb_connect("127.0.0.1", port, SOCK_STREAM) != -ECONNREFUSED ||
	    cb_connect("127.0.0.1", port, SOCK_STREAM) != -ECONNREFUSED)
		return -1;
	return cb_sh("cbctl -j breaker show dst 127.0.0.1 port %u | "
		     "grep -q '\"state\":\"open\"'", port);
}

/*
 * A mode change reaches an open breaker's next call at once, both ways,
 * without anything reading the breaker in between.
 */
TEST_F(table, a_mode_change_reaches_an_open_breaker_at_once)
{
	unsigned short port = closed_port();
	long long refused, passed;

	ASSERT_NE(0, port);
	ASSERT_EQ(0, open_by_resets(port));
	refused = status_num("refused");
	passed = status_num("dry_run_passed");
	ASSERT_EQ(-ECONNREFUSED, cb_connect("127.0.0.1", port, SOCK_STREAM));
	EXPECT_EQ(refused + 1, status_num("refused"));

	ASSERT_EQ(0, cb_sh("cbctl policy change dst 127.0.0.1 port %u mode dry-run",
			   port));
	ASSERT_EQ(-ECONNREFUSED, cb_connect("127.0.0.1", port, SOCK_STREAM));
	EXPECT_EQ(refused + 1, status_num("refused"));
	EXPECT_EQ(passed + 1, status_num("dry_run_passed"));

	ASSERT_EQ(0, cb_sh("cbctl policy change dst 127.0.0.1 port %u mode enforce",
			   port));
	ASSERT_EQ(-ECONNREFUSED, cb_connect("127.0.0.1", port, SOCK_STREAM));
	EXPECT_EQ(refused + 2, status_num("refused"));
	EXPECT_EQ(passed + 1, status_num("dry_run_passed"));
}

/*
 * Breakers deleted while the table is dumped make the module's walk start
 * again; the dump is flagged interrupted and cbctl asks again, so a list
 * never shows a breaker twice (nor misses one that stayed).
 */
TEST_F_TIMEOUT(table, a_list_under_deletions_shows_each_breaker_once, 300)
{
	char out[256];
	pid_t pid;
	int i, st;

	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.2.0.0/16 proto udp"));
	ASSERT_EQ(0, udp_fan_out(2, 300));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* breakers come and go under the lists */
		for (i = 0; i < 10; i++) {
			if (cb_sh("cbctl policy add dst 127.3.0.0/16 proto udp") ||
			    udp_fan_out(3, 1500) ||
			    cb_sh("cbctl policy del dst 127.3.0.0/16 proto udp"))
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < 30; i++) {
		ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
				       "cbctl breaker list >/tmp/cbl || exit 1; "
				       "grep -c '^127\\.2\\.' /tmp/cbl; "
				       "sort /tmp/cbl | uniq -d | wc -l"));
		EXPECT_STREQ("300\n0\n", out);
		if (waitpid(pid, &st, WNOHANG) == pid) {
			pid = 0;
			break;
		}
	}
	if (pid)
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st));
	TH_LOG("%d lists while breakers came and went", i);
}

/* A datagram an ICMP error answered is a failure, not a success as well. */
TEST_F(table, an_amended_datagram_counts_once_module_wide)
{
	long long success, fails, dgrams;
	int i;

	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.4.0.0/16 proto udp"));
	success = status_num("success");
	fails = status_num("fail_port_unreachable");
	dgrams = status_num("udp_datagrams");
	ASSERT_EQ(0, cb_sendto("127.4.0.1", 9));
	for (i = 0; i < 20 && status_num("fail_port_unreachable") == fails; i++)
		usleep(100000);
	EXPECT_EQ(fails + 1, status_num("fail_port_unreachable"));
	EXPECT_EQ(success, status_num("success"));
	EXPECT_EQ(dgrams + 1, status_num("udp_datagrams"));
}

/*
 * The hook admits a closed breaker's TCP calls itself: each is counted in
 * the breaker's calls and in the module's admitted counter all the same.
 */
TEST_F(table, calls_the_hook_admits_itself_are_counted)
{
	long long admitted;
	unsigned short port;
	char out[4096];
	int lfd, i;

	lfd = cb_listener("127.5.0.1", SOCK_STREAM, &port);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.5.0.0/16"));
	admitted = status_num("admitted");
	/* the first makes the breaker (the module), the rest are the hook's */
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cb_connect("127.5.0.1", port, SOCK_STREAM));
	EXPECT_EQ(admitted + 5, status_num("admitted"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker show dst 127.5.0.1 port %u", port));
	EXPECT_EQ(5, cb_json_num(out, "calls"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	close(lfd);
}

/* trip for a while: refuses now, then half-opens and closes by itself. */
TEST_F(table, trip_for_a_while_recovers_by_itself)
{
	unsigned short port;
	char out[4096];
	long long refused;
	int fd;

	ASSERT_LE(0, fd = cb_listener("127.0.0.1", SOCK_STREAM, &port));
	EXPECT_NE(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port %u for 1s "
			   "2>/dev/null", port));		/* no policy */
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 port %u probes 1 "
			   "probe-success 100", port));
	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port %u for 1s", port));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker show dst 127.0.0.1 port %u", port));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"forced\":\"none\""));
	EXPECT_LT(0, cb_json_num(out, "open_until"));
	refused = status_num("refused");
	ASSERT_EQ(-ECONNREFUSED, cb_connect("127.0.0.1", port, SOCK_STREAM));
	EXPECT_EQ(refused + 1, status_num("refused"));
	EXPECT_EQ(0, cb_got(fd, SOCK_STREAM, 100));

	usleep(1100000);
	ASSERT_EQ(0, cb_connect("127.0.0.1", port, SOCK_STREAM));	/* the probe */
	EXPECT_EQ(1, cb_got(fd, SOCK_STREAM, 1000));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker show dst 127.0.0.1 port %u", port));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
	close(fd);
}

/* A breaker's last changes, with the rates that made them. */
TEST_F(table, history_shows_the_changes_and_their_rates)
{
	unsigned short port = closed_port();
	char out[8192];

	ASSERT_NE(0, port);
	ASSERT_EQ(0, open_by_resets(port));
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst 127.0.0.1 port %u", port));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker history dst 127.0.0.1 port %u", port));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"from\":\"closed\",\"to\":\"open\","
				    "\"reason\":\"failure-rate\",\"window_calls\":2,"
				    "\"window_failures\":2"));
	EXPECT_NE(NULL, strstr(out, "\"failure_rate\":1000"));
	EXPECT_NE(NULL, strstr(out, "\"from\":\"open\",\"to\":\"closed\","
				    "\"reason\":\"reset\""));
	/* the window that opened it is visible while open: see show */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl breaker history dst 127.0.0.1 port %u", port));
	EXPECT_NE(NULL, strstr(out, "2 changes kept"));
	EXPECT_NE(NULL, strstr(out, "closed -> open (failure-rate)"));
}

/* The results that opened a breaker stay in its window while it is open. */
TEST_F(table, show_keeps_the_rates_that_opened_the_breaker)
{
	unsigned short port = closed_port();
	char out[4096];

	ASSERT_NE(0, port);
	ASSERT_EQ(0, open_by_resets(port));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker show dst 127.0.0.1 port %u", port));
	EXPECT_EQ(1000, cb_json_num(out, "failure_rate"));
	EXPECT_EQ(2, cb_json_num(out, "window_failures"));
}

TEST_HARNESS_MAIN
