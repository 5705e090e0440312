// SPDX-License-Identifier: GPL-2.0
/*
 * on-open close, in the guest: a kept, healthy connection of the attached
 * cgroup is aborted when its breaker is tripped, its owner sees the error
 * on its next read, its redial is refused at once, and after a reset a new
 * connection works. on-open keep leaves it alone; dry-run closes nothing
 * and counts it; connections of another namespace, of a process outside
 * the cgroup, and those a local server accepted are untouched.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#include <sched.h>

#define CG CB_CGROOT "/cbonopen"

FIXTURE(cb) {
	int lfd;			/* the server's listener */
	unsigned short port;
};

FIXTURE_VARIANT(cb) {
	const char *ip;
};

FIXTURE_VARIANT_ADD(cb, v4) { .ip = "127.0.0.1" };
FIXTURE_VARIANT_ADD(cb, v6) { .ip = "::1" };

FIXTURE_SETUP(cb)
{
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	cb_sh("cbctl unload 2>/dev/null");	/* what a killed test left */
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	/* the server, outside the cgroup */
	self->lfd = cb_listener(variant->ip, SOCK_STREAM, &self->port);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(cb)
{
	cb_join_cgroup(CB_CGROOT);
	if (self->lfd >= 0)
		close(self->lfd);
	EXPECT_EQ(0, cb_sh("cbctl unload"));
	rmdir(CG);
}

static int cb_policy(const char *ip, unsigned short port, const char *keys)
{
	return cb_sh("cbctl policy add dst %s port %u %s", ip, port, keys);
}

static int cb_act(const char *act, const char *ip, unsigned short port)
{
	return cb_sh("cbctl breaker %s dst %s port %u", act, ip, port);
}

/*
 * A connection from a socket bound to @ip port @from (0: any) to @ip
 * @port, accepted on @lfd: the client's end in *@c, the server's in *@s.
 */
static int cb_pair_from(const char *ip, unsigned short from,
			unsigned short port, int lfd, int *c, int *s)
{
	struct sockaddr_storage ss, src;
	socklen_t len = cb_addr(ip, port, &ss);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int one = 1;

	*c = socket(ss.ss_family, SOCK_STREAM, 0);
	*s = -1;
	if (*c < 0)
		return -errno;
	if (from && (setsockopt(*c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		     bind(*c, (void *)&src, cb_addr(ip, from, &src))))
		return -errno;
	if (connect(*c, (void *)&ss, len))
		return -errno;
	if (poll(&p, 1, 2000) != 1)
		return -ETIMEDOUT;
	*s = accept(lfd, NULL, NULL);
	return *s < 0 ? -errno : 0;
}

static int cb_pair(const char *ip, unsigned short port, int lfd, int *c,
		   int *s)
{
	return cb_pair_from(ip, 0, port, lfd, c, s);
}

/* One request and its reply over a kept connection: 0, or -errno. */
static int cb_exchange(int c, int s)
{
	char buf[8];

	if (send(c, "ping", 4, MSG_NOSIGNAL) != 4 ||
	    recv(s, buf, sizeof(buf), 0) != 4 ||
	    send(s, "pong", 4, MSG_NOSIGNAL) != 4)
		return -errno ?: -EIO;
	if (recv(c, buf, sizeof(buf), 0) != 4)
		return -errno ?: -EPIPE;
	return 0;
}

/* Has @fd been aborted (an error or a hangup) within @ms? */
static int cb_dead(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The error the next read of @fd gives: -errno, or 0. */
static int cb_read_err(int fd)
{
	char buf[8];

	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 ? -errno : 0;
}

/*
 * @name ("closed" or "would_close") of the newest change in @ip port's
 * history once the module has counted it (within 3 s), or -1.
 */
static long long cb_history_closed(const char *ip, unsigned short port,
				   const char *name)
{
	char out[8192], key[32];
	const char *last;
	int i;

	snprintf(key, sizeof(key), "\"%s\":", name);
	for (i = 0; i < 60; i++) {
		if (!cb_sh_out(out, sizeof(out),
			       "cbctl -j breaker history dst %s port %u", ip,
			       port)) {
			last = strrchr(out, '{');
			if (last && strstr(last, key))
				return cb_json_num(last, name);
		}
		usleep(50000);
	}
	return -1;
}

TEST_F(cb, close_aborts_a_kept_connection)
{
	long long closed = cb_status_num("connections_closed");
	int c, s, c2, s2;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port, "on-open close"));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_exchange(c, s));

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->port));
	ASSERT_EQ(1, cb_dead(c, 3000));
	EXPECT_EQ(-ECONNABORTED, cb_read_err(c));
	/* the peer was told too */
	EXPECT_EQ(1, cb_dead(s, 3000));
	/* the redial meets the open breaker */
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->port, SOCK_STREAM));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "closed"));
	EXPECT_EQ(closed + 1, cb_status_num("connections_closed"));
	EXPECT_EQ(0, cb_sh("cbctl breaker history dst %s port %u | grep -q 'closed 1 connection$'",
			   variant->ip, self->port));
	EXPECT_EQ(0, cb_sh("cbctl metrics format prometheus | grep -q '^cbreaker_connections_closed_total %lld$'",
			   closed + 1));
	close(c);
	close(s);

	ASSERT_EQ(0, cb_act("reset", variant->ip, self->port));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c2, &s2));
	EXPECT_EQ(0, cb_exchange(c2, s2));
	close(c2);
	close(s2);
}

/* A listener on @ip port @port (taken again: SO_REUSEADDR), or -1. */
static int cb_listen_on(const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (void *)&ss, len) || listen(fd, 4))
		return -1;
	return fd;
}

/* The reason of the newest change in @ip port's history is @reason. */
static int cb_newest_reason(const char *ip, unsigned short port,
			    const char *reason)
{
	return cb_sh("cbctl -j breaker history dst %s port %u | grep -o '\"reason\":\"[a-z-]*\"' | tail -n 1 | grep -q '\"%s\"'",
		     ip, port, reason);
}

/*
 * A backend that stops taking connections while one it took is kept:
 * the refusals open the breaker, which closes the kept one. Half-open, a
 * probe's connection is kept; a failed probe reopens, and closes it. Open
 * long enough for the checks of the opening to come first on a loaded
 * machine (the sweeper half-opens it when the time is up); the probe
 * waits for its end, not longer.
 */
TEST_F(cb, failures_and_a_failed_probe_close)
{
	unsigned long long until, now;
	char out[4096];
	int c, s, c2, s2, l2, i;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port,
			       "on-open close window 10 min-calls 2 failure-rate 50 "
			       "open 5s jitter 0 backoff 16 probes 2 probe-success 100"));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_exchange(c, s));
	close(self->lfd);
	self->lfd = -1;
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->port, SOCK_STREAM));
	ASSERT_EQ(1, cb_dead(c, 3000));
	EXPECT_EQ(-ECONNABORTED, cb_read_err(c));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "closed"));
	EXPECT_EQ(0, cb_newest_reason(variant->ip, self->port, "failure-rate"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker show dst %s port %u",
			       variant->ip, self->port));
	until = cb_json_num(out, "open_until");
	ASSERT_LT(0, until);
	close(c);
	close(s);

	/* back for one connection, half-open: the first probe is kept */
	l2 = cb_listen_on(variant->ip, self->port);
	ASSERT_LE(0, l2);
	for (now = cb_now_ns(); now < until; now = cb_now_ns())
		usleep((until - now) / 1000 + 1);
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, l2, &c2, &s2));
	EXPECT_EQ(0, cb_exchange(c2, s2));
	EXPECT_EQ(0, cb_dead(c2, 200));	/* going half-open closed nothing */
	close(l2);
	/* the second is refused: reopened, and the first probe's closed */
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->port, SOCK_STREAM));
	EXPECT_EQ(1, cb_dead(c2, 3000));
	EXPECT_EQ(-ECONNABORTED, cb_read_err(c2));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "closed"));
	EXPECT_EQ(0, cb_newest_reason(variant->ip, self->port, "probe-failed"));
	close(c2);
	close(s2);
}

/* A trip for a while closes too; then the policy's half-open path. */
TEST_F(cb, trip_for_closes_and_recovers)
{
	int c, s, i, ok = 0;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port,
			       "on-open close open 1s jitter 0 probes 1 probe-success 100"));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_exchange(c, s));
	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst %s port %u for 1s",
			   variant->ip, self->port));
	ASSERT_EQ(1, cb_dead(c, 3000));
	EXPECT_EQ(-ECONNABORTED, cb_read_err(c));
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->port, SOCK_STREAM));
	close(c);
	close(s);
	/* half-open by itself: the probe is a new connection, kept */
	for (i = 0; i < 40 && !ok; i++) {
		usleep(100000);
		if (cb_pair(variant->ip, self->port, self->lfd, &c, &s)) {
			close(c);
			continue;
		}
		ok = !cb_exchange(c, s);
		close(c);
		close(s);
	}
	EXPECT_TRUE(ok);
	/* closed as it opened, not as it went half-open or closed */
	EXPECT_EQ(0, cb_sh("test $(cbctl -j breaker history dst %s port %u | grep -o '\"closed\":' | wc -l) = 1",
			   variant->ip, self->port));
}

TEST_F(cb, keep_leaves_it_alone)
{
	int c, s;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port, "on-open keep"));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->port));
	EXPECT_EQ(0, cb_dead(c, 500));
	EXPECT_EQ(0, cb_exchange(c, s));
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->port, SOCK_STREAM));
	EXPECT_NE(0, cb_sh("cbctl -j breaker history dst %s port %u | grep -q '\"closed\":'",
			   variant->ip, self->port));
	close(c);
	close(s);
}

TEST_F(cb, dry_run_counts_and_closes_nothing)
{
	long long closed = cb_status_num("connections_closed");
	long long would = cb_status_num("connections_would_close");
	int c, s;

	ASSERT_LE(0, would);
	ASSERT_EQ(0, cb_policy(variant->ip, self->port,
			       "on-open close mode dry-run"));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->port));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "would_close"));
	EXPECT_EQ(would + 1, cb_status_num("connections_would_close"));
	EXPECT_EQ(closed, cb_status_num("connections_closed"));
	EXPECT_EQ(0, cb_dead(c, 200));
	EXPECT_EQ(0, cb_exchange(c, s));
	close(c);
	close(s);
}

/* A process outside the attached cgroup: not the breaker's connection. */
TEST_F(cb, outside_the_cgroup_is_untouched)
{
	int c, s, oc, os;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port, "on-open close"));
	ASSERT_EQ(0, cb_join_cgroup(CB_CGROOT));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &oc, &os));
	ASSERT_EQ(0, cb_join_cgroup(CG));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->port));
	ASSERT_EQ(1, cb_dead(c, 3000));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "closed"));
	EXPECT_EQ(0, cb_dead(oc, 200));
	EXPECT_EQ(0, cb_exchange(oc, os));
	close(c);
	close(s);
	close(oc);
	close(os);
}

/*
 * The same address and port from another network namespace, by a process
 * of the cgroup: another breaker's connection.
 */
TEST_F(cb, another_namespace_is_untouched)
{
	int go[2], done[2], c, s, st;
	char b = 0;
	pid_t pid;

	ASSERT_EQ(0, cb_policy(variant->ip, self->port, "on-open close"));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int lfd, nc, ns;

		/* its own loopback, and a server on the same port there */
		if (unshare(CLONE_NEWNET) || cb_sh("ip link set lo up"))
			_exit(2);
		{
			struct sockaddr_storage ss;
			socklen_t len = cb_addr(variant->ip, self->port, &ss);

			lfd = socket(ss.ss_family, SOCK_STREAM, 0);
			if (lfd < 0 || bind(lfd, (void *)&ss, len) || listen(lfd, 4))
				_exit(4);
		}
		if (cb_pair(variant->ip, self->port, lfd, &nc, &ns) ||
		    cb_exchange(nc, ns))
			_exit(5);
		if (write(done[1], &b, 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(6);
		/* the parent's breaker opened, and its connection was closed */
		_exit(cb_dead(nc, 300) || cb_exchange(nc, ns) ? 7 : 0);
	}
	ASSERT_EQ(1, read(done[0], &b, 1));
	ASSERT_EQ(0, cb_pair(variant->ip, self->port, self->lfd, &c, &s));
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->port));
	ASSERT_EQ(1, cb_dead(c, 3000));
	EXPECT_EQ(1, cb_history_closed(variant->ip, self->port, "closed"));
	ASSERT_EQ(1, write(go[1], &b, 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(c);
	close(s);
}

/*
 * A connection a local server of the cgroup accepted, whose peer is the
 * tripped destination (the client dialed from that very port): the
 * breaker is about destinations dialed, not peers that dialed in.
 */
TEST_F(cb, accepted_connections_are_untouched)
{
	unsigned short port, from;
	int lfd, c, s, tmp;

	lfd = cb_listener(variant->ip, SOCK_STREAM, &port);	/* in the cgroup */
	ASSERT_LE(0, lfd);
	/* a free port for the client to dial from */
	tmp = cb_listener(variant->ip, SOCK_STREAM, &from);
	ASSERT_LE(0, tmp);
	close(tmp);
	ASSERT_EQ(0, cb_policy(variant->ip, from, "on-open close"));
	ASSERT_EQ(0, cb_pair_from(variant->ip, from, port, lfd, &c, &s));
	ASSERT_EQ(0, cb_exchange(c, s));

	ASSERT_EQ(0, cb_act("trip", variant->ip, from));
	EXPECT_EQ(0, cb_history_closed(variant->ip, from, "closed"));
	EXPECT_EQ(0, cb_dead(s, 200));
	EXPECT_EQ(0, cb_exchange(c, s));
	close(c);
	close(s);
	close(lfd);
}

TEST_HARNESS_MAIN
