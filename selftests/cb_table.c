// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker table in the guest: walks over it (policy del, reset all,
 * the sweeper), policy changes reaching every breaker at once, dumps,
 * operator commands on single breakers, and max-open, the share of a
 * policy's breakers that may be open at once. Loopback only: 127/8
 * answers every address, so thousands of destinations cost no network
 * setup.
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

	struct sockaddr_storage ss;
	socklen_t len = cb_addr("127.4.0.1", 9, &ss);
	int fd;

	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.4.0.0/16 proto udp"));
	success = status_num("success");
	fails = status_num("fail_port_unreachable");
	dgrams = status_num("udp_datagrams");
	/* connected: the kernel tells it of the error (an unconnected one
	 * would have to ask, IP_RECVERR)
	 */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, connect(fd, (void *)&ss, len));
	ASSERT_EQ(1, send(fd, "x", 1, 0));
	for (i = 0; i < 20 && status_num("fail_port_unreachable") == fails; i++)
		usleep(100000);
	EXPECT_EQ(fails + 1, status_num("fail_port_unreachable"));
	EXPECT_EQ(success, status_num("success"));
	EXPECT_EQ(dgrams + 1, status_num("udp_datagrams"));
	close(fd);
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

/*
 * trip for a while: refuses now, then half-opens and closes by itself. A
 * refusal shows the trip only if it came before the trip ran out, which a
 * loaded machine may miss: then again, twice as long.
 */
TEST_F(table, trip_for_a_while_recovers_by_itself)
{
	unsigned long long until = 0, now;
	unsigned int secs;
	unsigned short port;
	char out[4096];
	long long refused = 0;
	int fd, err = 0;

	ASSERT_LE(0, fd = cb_listener("127.0.0.1", SOCK_STREAM, &port));
	EXPECT_NE(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port %u for 1s "
			   "2>/dev/null", port));		/* no policy */
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 port %u probes 1 "
			   "probe-success 100", port));
	for (secs = 1; secs <= 16; secs *= 2) {
		ASSERT_EQ(0, cb_sh("cbctl breaker trip dst 127.0.0.1 port %u for %us",
				   port, secs));
		ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
				       "cbctl -j breaker show dst 127.0.0.1 port %u", port));
		until = cb_json_num(out, "open_until");	/* 0 if null */
		refused = status_num("refused");
		err = cb_connect("127.0.0.1", port, SOCK_STREAM);
		if (cb_now_ns() < until)	/* ktime_get_ns(): the same clock */
			break;
		while (cb_got(fd, SOCK_STREAM, 0))	/* a probe, maybe */
			;
		ASSERT_EQ(0, cb_sh("cbctl breaker reset dst 127.0.0.1 port %u", port));
	}
	TH_LOG("tripped for %u s", secs);
	ASSERT_GE(16, secs);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"forced\":\"none\""));
	ASSERT_EQ(-ECONNREFUSED, err);
	EXPECT_EQ(refused + 1, status_num("refused"));
	EXPECT_EQ(0, cb_got(fd, SOCK_STREAM, 100));

	for (now = cb_now_ns(); now < until; now = cb_now_ns())
		usleep((until - now) / 1000 + 1);
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

/*
 * max-open: ten (or forty) destinations 127.0.0.1.. on a port where
 * nothing listens, under one policy; every connect gets a reset, a
 * failure.
 */
#define N 10

/* One connect to 127.0.0.@i: refused, by the destination or the breaker. */
static int fail(unsigned short port, int i)
{
	char ip[32];

	snprintf(ip, sizeof(ip), "127.0.0.%d", i);
	return cb_connect(ip, port, SOCK_STREAM) == -ECONNREFUSED ? 0 : -1;
}

/* Each of 127.0.0.@from..@to once. */
static int fail_each(unsigned short port, int from, int to)
{
	int i;

	for (i = from; i <= to; i++)
		if (fail(port, i))
			return -1;
	return 0;
}

/* How many of our breakers are in @state. */
static int in_state(unsigned short port, const char *state)
{
	char out[64];

	if (cb_sh_out(out, sizeof(out),
		      "cbctl breaker list state %s | grep -c '^127\\.0\\.0\\..* %u '; true",
		      state, port))
		return -1;
	return atoi(out);
}

static int is_open(unsigned short port, int i)
{
	return !cb_sh("cbctl -j breaker show dst 127.0.0.%d port %u | "
		      "grep -q '\"state\":\"open\"'", i, port);
}

static int policy(unsigned short port, const char *verb,
		  const char *keys)
{
	if (!port)
		return -1;
	return cb_sh("cbctl policy %s dst 127.0.0.0/24 port %u %s", verb,
		     port, keys);
}

#define KEYS "window 2 min-calls 2 open 60s"

/* Under max-open 30, each of the ten destinations fails twice: 3 open. */
static int three_of_ten_open(unsigned short port)
{
	if (policy(port, "add", KEYS " max-open 30") ||
	    fail_each(port, 1, N) || fail_each(port, 1, N))
		return -1;
	return in_state(port, "open");
}

/*
 * The case: ten destinations of one policy all fail, max-open 30
 * leaves exactly 3 open and the other 7 closed, each of the 7 counted and
 * reported once however often it fails after; when one open breaker is
 * reset, the next failure of a held one opens it. An operator's trip is
 * never held back.
 */
TEST_F(table, max_open_30_of_10_failing_destinations_leaves_3_open)
{
	unsigned short port = closed_port();
	long long capped, trans;
	char out[16384], want[512];
	const char *p;
	int n;

	ASSERT_EQ(0, policy(port, "add", KEYS " max-open 30"));
	ASSERT_EQ(0, cb_sh("cbctl -j monitor >/tmp/mon 2>&1 & echo $! >/tmp/mon.pid"));
	ASSERT_EQ(0, cb_monitor_listens("/tmp/mon.pid", 10000));
	capped = status_num("trip_capped");
	ASSERT_LE(0, capped);
	ASSERT_EQ(0, fail_each(port, 1, N));	/* ten breakers, below min-calls */
	EXPECT_EQ(N, in_state(port, "closed"));
	trans = status_num("transitions");

	ASSERT_EQ(0, fail_each(port, 1, N));	/* each would trip now */
	EXPECT_EQ(3, in_state(port, "open"));
	EXPECT_EQ(N - 3, in_state(port, "closed"));
	EXPECT_EQ(capped + N - 3, status_num("trip_capped"));
	EXPECT_EQ(trans + 3, status_num("transitions"));
	/* in the order they failed: 10 breakers, 30 % */
	EXPECT_TRUE(is_open(port, 1) && is_open(port, 2) && is_open(port, 3));

	/* failing on, the held ones stay closed and are not counted again */
	ASSERT_EQ(0, fail_each(port, 1, N));
	ASSERT_EQ(0, fail_each(port, 1, N));
	EXPECT_EQ(3, in_state(port, "open"));
	EXPECT_EQ(capped + N - 3, status_num("trip_capped"));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker history dst 127.0.0.4 port %u",
			       port));
	TH_LOG("%s", out);
	p = strstr(out, "\"from\":\"closed\",\"to\":\"closed\",\"reason\":\"max-open\","
			"\"window_calls\":2,\"window_failures\":2");
	ASSERT_NE(NULL, p);
	EXPECT_EQ(NULL, strstr(p + 40, "\"reason\":\"max-open\""));	/* once */
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl breaker history dst 127.0.0.4 port %u",
			       port));
	EXPECT_NE(NULL, strstr(out, "closed -> closed (max-open)"));

	/* every way the counter is exported */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl status | tr ' ' '\\n' | grep -A1 -x trip_capped | tail -n 1; "
			       "cbctl metrics | awk '$1 == \"trip_capped\" { print $2 }'; "
			       "cbctl -j metrics | grep -o '\"trip_capped\":[0-9]*'; "
			       "cbctl metrics format prometheus | "
			       "grep -A3 -- '^# HELP cbreaker_trips_capped_total' | "
			       "grep -v '^# HELP'"));
	TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "%lld\n%lld\n\"trip_capped\":%lld\n"
		 "# TYPE cbreaker_trips_capped_total counter\n"
		 "cbreaker_trips_capped_total %lld\n",
		 capped + N - 3, capped + N - 3, capped + N - 3, capped + N - 3);
	EXPECT_STREQ(want, out);

	/* room made: the next failure of a held breaker opens it */
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst 127.0.0.1 port %u", port));
	EXPECT_EQ(2, in_state(port, "open"));
	ASSERT_EQ(0, fail(port, 4));
	EXPECT_TRUE(is_open(port, 4));
	ASSERT_EQ(0, fail(port, 5));
	EXPECT_FALSE(is_open(port, 5));
	EXPECT_EQ(3, in_state(port, "open"));
	EXPECT_EQ(capped + N - 3, status_num("trip_capped"));

	/* an operator's trip is not held back */
	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst 127.0.0.5 port %u", port));
	EXPECT_EQ(4, in_state(port, "open"));

	usleep(300000);
	cb_sh("kill $(cat /tmp/mon.pid)");
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cat /tmp/mon"));
	for (n = 0, p = out; (p = strstr(p, "\"to\":\"closed\",\"reason\":\"max-open\"")); p++)
		n++;
	EXPECT_EQ(N - 3, n);
	for (n = 0, p = out; (p = strstr(p, "\"to\":\"open\",\"reason\":\"failure-rate\"")); p++)
		n++;
	EXPECT_EQ(4, n);
	EXPECT_EQ(NULL, strstr(out, "lost"));
}

/*
 * Changing the policy keeps its count: a higher max-open lets held
 * breakers open on their next failure; max-open 100 lets all open; a cap
 * set again counts the breakers already there, open ones included; reset
 * all makes room again.
 */
TEST_F(table, max_open_a_policy_change_keeps_the_count)
{
	unsigned short port = closed_port();

	ASSERT_EQ(3, three_of_ten_open(port));

	ASSERT_EQ(0, policy(port, "change", "max-open 50"));
	ASSERT_EQ(0, fail_each(port, 1, N));
	EXPECT_EQ(5, in_state(port, "open"));

	ASSERT_EQ(0, policy(port, "change", "max-open 100"));
	ASSERT_EQ(0, fail_each(port, 1, N));
	EXPECT_EQ(N, in_state(port, "open"));

	/* 10 open under a new cap of 2: none closes, none more may open */
	ASSERT_EQ(0, policy(port, "change", "max-open 20"));
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst 127.0.0.1 port %u", port));
	ASSERT_EQ(0, fail_each(port, 1, 1));
	ASSERT_EQ(0, fail_each(port, 1, 1));
	EXPECT_FALSE(is_open(port, 1));
	EXPECT_EQ(N - 1, in_state(port, "open"));

	ASSERT_EQ(0, cb_sh("cbctl breaker reset all"));
	EXPECT_EQ(0, in_state(port, "open"));
	ASSERT_EQ(0, fail_each(port, 1, N));
	ASSERT_EQ(0, fail_each(port, 1, N));
	EXPECT_EQ(2, in_state(port, "open"));
}

/*
 * A rule deleted forgets its breakers and their count: the same rule added
 * again starts afresh. A more specific rule takes its breakers out of the
 * count of the rule that governed them.
 */
TEST_F(table, max_open_rules_deleted_or_added_move_breakers_out_of_the_count)
{
	unsigned short port = closed_port();

	ASSERT_EQ(3, three_of_ten_open(port));
	ASSERT_EQ(0, cb_sh("cbctl policy del dst 127.0.0.0/24 port %u", port));
	EXPECT_EQ(0, status_num("breakers"));

	ASSERT_EQ(0, policy(port, "add", KEYS " max-open 25"));
	ASSERT_EQ(0, fail_each(port, 1, N));
	ASSERT_EQ(0, fail_each(port, 1, N));
	EXPECT_EQ(2, in_state(port, "open"));

	/*
	 * .1, open, goes to a rule of its own: 1 of 9 left open, and 25 %
	 * of 9 is still 2, so one held breaker may open (counted with .1,
	 * 2 of 10 would be open, at the cap).
	 */
	ASSERT_EQ(0, cb_sh("cbctl policy add dst 127.0.0.1 port %u " KEYS,
			   port));
	EXPECT_TRUE(is_open(port, 1));
	ASSERT_EQ(0, fail(port, 3));
	EXPECT_TRUE(is_open(port, 3));
	ASSERT_EQ(0, fail(port, 4));
	EXPECT_FALSE(is_open(port, 4));
	EXPECT_EQ(3, in_state(port, "open"));
}

/*
 * Exact under concurrency: breakers of one policy sit under different
 * stripe locks and trip on different CPUs at once; 40 destinations under
 * max-open 10 failing in 8 processes in different orders leave exactly 4
 * open, round after round.
 */
TEST_F_TIMEOUT(table, max_open_concurrent_trips_never_open_past_the_cap, 300)
{
	unsigned short port = closed_port();
	int round, k, st, ok;
	pid_t pids[8];

	ASSERT_EQ(0, policy(port, "add", KEYS " max-open 10"));
	ASSERT_EQ(0, fail_each(port, 1, 40));	/* 40 breakers: the cap is 4 */
	for (round = 0; round < 3; round++) {
		for (k = 0; k < 8; k++) {
			pids[k] = fork();
			ASSERT_LE(0, pids[k]);
			if (!pids[k]) {
				int i, j;

				for (j = 0; j < 3; j++)
					for (i = 0; i < 40; i++)
						fail(port, 1 + (i * 7 + k * 5) % 40);
				_exit(0);
			}
		}
		for (ok = 0, k = 0; k < 8; k++)
			ok += waitpid(pids[k], &st, 0) == pids[k] &&
			      WIFEXITED(st) && !WEXITSTATUS(st);
		ASSERT_EQ(8, ok);
		EXPECT_EQ(4, in_state(port, "open")) TH_LOG("round %d", round);
		EXPECT_EQ(36, in_state(port, "closed"));
		ASSERT_EQ(0, cb_sh("cbctl breaker reset all"));
	}
}

/* Out of range or not a number: a clear error, and nothing changes. */
TEST_F(table, max_open_out_of_range_is_refused_and_changes_nothing)
{
	unsigned short port = closed_port();
	static const char *const bad[][2] = {
		{ "0", "max-open (1..100)" },
		{ "101", "max-open \"101\" (1..100)" },
		{ "abc", "max-open \"abc\" (1..100)" },
		{ "-1", "max-open \"-1\" (1..100)" },
	};
	char out[4096];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_NE(0, cb_sh_out(out, sizeof(out), "cbctl policy add dst 127.0.0.0/24 "
				       "port %u max-open %s 2>&1", port, bad[i][0]));
		EXPECT_NE(NULL, strstr(out, bad[i][1])) TH_LOG("%s: %s", bad[i][0], out);
	}
	EXPECT_EQ(0, status_num("policies"));

	ASSERT_EQ(0, policy(port, "add", "max-open 30"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_NE(0, cb_sh_out(out, sizeof(out), "cbctl policy change dst 127.0.0.0/24 "
				       "port %u max-open %s 2>&1", port, bad[i][0]));
		EXPECT_NE(NULL, strstr(out, bad[i][1])) TH_LOG("%s: %s", bad[i][0], out);
	}
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j policy show dst 127.0.0.0/24 "
			       "port %u", port));
	EXPECT_EQ(30, cb_json_num(out, "max_open"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl policy show dst 127.0.0.0/24 "
			       "port %u", port));
	EXPECT_NE(NULL, strstr(out, "max-open 30"));
	/* the default, 100, is shown too: no cap */
	ASSERT_EQ(0, cb_sh("cbctl policy add default"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j policy show default"));
	EXPECT_EQ(100, cb_json_num(out, "max_open"));
}

TEST_HARNESS_MAIN
