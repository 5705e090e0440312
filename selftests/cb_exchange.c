// SPDX-License-Identifier: GPL-2.0
/*
 * calls exchanges: a pooled client's requests on a kept connection are the
 * calls. A backend that answers slowly, vanishes, pushes, or is left idle,
 * as the design counts each; and calls connects as before.
 */
#include "cb_test.h"

#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbxchg"
#define NS "ip netns exec cbxsrv "
#define PEER "02:cb:00:00:00:12"

/* What the backend does, shared with its processes. */
struct cb_backend {
	int delay_ms;		/* before each reply */
	int push;		/* send a line as soon as a connection comes */
	int served;		/* requests answered */
};

FIXTURE(xchg) {
	struct cb_backend *be;
	pid_t server;
	unsigned short port;
	const char *ip;
};

FIXTURE_VARIANT(xchg) {
	const char *lo;		/* the backend on loopback */
	const char *far;	/* the backend behind a veth, in a namespace */
};

FIXTURE_VARIANT_ADD(xchg, v4) {
	.lo = "127.0.0.1", .far = "10.78.0.2",
};
FIXTURE_VARIANT_ADD(xchg, v6) {
	.lo = "::1", .far = "fd78::2",
};

static const char *cb_net_up =
	"ip netns add cbxsrv && "
	"ip link add cbx0 type veth peer name eth0 address " PEER " netns cbxsrv && "
	"ip addr add 10.78.0.1/24 dev cbx0 && "
	"ip addr add fd78::1/64 dev cbx0 nodad && "
	"ip link set cbx0 up && "
	"ip neigh replace 10.78.0.2 lladdr " PEER " nud permanent dev cbx0 && "
	"ip neigh replace fd78::2 lladdr " PEER " nud permanent dev cbx0 && "
	"ip -n cbxsrv addr add 10.78.0.2/24 dev eth0 && "
	"ip -n cbxsrv addr add fd78::2/64 dev eth0 nodad && "
	"ip -n cbxsrv link set eth0 up && ip -n cbxsrv link set lo up";

static const char *cb_net_down =
	"ip link del cbx0 2>/dev/null; ip netns del cbxsrv 2>/dev/null";

/* One connection of the backend: a line in, @delay_ms, a line out. */
static void cb_serve(int c, struct cb_backend *be)
{
	char buf[64];

	if (be->push && write(c, "push\n", 5) != 5)
		_exit(0);
	while (read(c, buf, sizeof(buf)) > 0) {
		usleep(be->delay_ms * 1000);
		if (write(c, "reply\n", 6) != 6)
			break;
		__atomic_fetch_add(&be->served, 1, __ATOMIC_RELAXED);
	}
	_exit(0);
}

/* The backend: a process per connection, in a group of its own, until killed. */
static void __attribute__((noreturn)) cb_backend(int lfd, struct cb_backend *be)
{
	int c;

	signal(SIGCHLD, SIG_IGN);
	setpgid(0, 0);
	fcntl(lfd, F_SETFL, 0);
	for (;;) {
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		if (!fork())
			cb_serve(c, be);
		close(c);
	}
}

static pid_t cb_backend_start(int lfd, struct cb_backend *be)
{
	pid_t pid = fork();

	if (!pid)
		cb_backend(lfd, be);
	return pid;
}

/* The backend on @ip @port in the network namespace at @ns. */
static pid_t cb_backend_in(const char *ns, const char *ip, unsigned short port,
			   struct cb_backend *be)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	pid_t pid = fork();
	int fd, lfd, one = 1;

	if (pid)
		return pid;
	fd = open(ns, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		_exit(1);
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)&ss, len) || listen(lfd, 16))
		_exit(1);
	cb_backend(lfd, be);
}

/*
 * A pool of one kept connection, as database and HTTP clients keep them:
 * a request waits @timeout_ms for its reply (0: for ever); one that times
 * out drops its connection, and the next request dials anew.
 */
struct cb_pool {
	const char *ip;
	unsigned short port;
	int fd, timeout_ms, user_timeout_ms;
};

/* One request: 0, or -errno (ETIMEDOUT: the pool's own timeout). */
static int cb_pool_request(struct cb_pool *p, long long *ms)
{
	unsigned long long t0 = cb_now_ms();
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(p->ip, p->port, &ss);
	struct pollfd pfd;
	char buf[64];
	int err = 0, n;

	if (p->fd < 0) {
		p->fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (p->user_timeout_ms)
			setsockopt(p->fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
				   &p->user_timeout_ms,
				   sizeof(p->user_timeout_ms));
		if (connect(p->fd, (void *)&ss, len)) {
			err = -errno;
			goto drop;
		}
	}
	if (write(p->fd, "query\n", 6) != 6) {
		err = -errno;
		goto drop;
	}
	pfd = (struct pollfd){ .fd = p->fd, .events = POLLIN };
	n = poll(&pfd, 1, p->timeout_ms ? p->timeout_ms : -1);
	if (n == 0) {
		err = -ETIMEDOUT;
		goto drop;
	}
	n = read(p->fd, buf, sizeof(buf));
	if (n <= 0) {
		err = n ? -errno : -ECONNRESET;
		goto drop;
	}
	*ms = cb_now_ms() - t0;
	return 0;
drop:
	close(p->fd);
	p->fd = -1;
	*ms = cb_now_ms() - t0;
	return err;
}

FIXTURE_SETUP(xchg)
{
	int lfd;

	cb_sh("cbctl unload 2>/dev/null; %s", cb_net_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	self->be = mmap(NULL, sizeof(*self->be), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->be);
	memset(self->be, 0, sizeof(*self->be));
	self->ip = variant->lo;
	lfd = cb_listener(self->ip, SOCK_STREAM, &self->port);
	ASSERT_LE(0, lfd);
	/* outside the cgroup cbreaker serves: the backend is not a client */
	self->server = cb_backend_start(lfd, self->be);
	ASSERT_LT(0, self->server);
	close(lfd);
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(xchg)
{
	cb_join_cgroup(CB_CGROOT);
	kill(-self->server, SIGKILL);
	waitpid(self->server, NULL, 0);
	cb_sh("cbctl unload; %s", cb_net_down);
	rmdir(CG);
}

/* A number of @ip @port's breaker ("calls", "state", ...), or -1. */
static long long cb_breaker_num(const char *ip, unsigned short port,
				const char *name)
{
	char out[2048];

	if (cb_sh_out(out, sizeof(out), "cbctl -j breaker show dst %s port %u",
		      ip, port))
		return -1;
	return cb_json_num(out, name);
}

static int cb_breaker_state_is(const char *ip, unsigned short port,
			       const char *state)
{
	return !cb_sh("cbctl -j breaker show dst %s port %u | grep -q '\"state\":\"%s\"'",
		      ip, port, state);
}

#define POLICY(fmt, ...) \
	ASSERT_EQ(0, cb_sh("cbctl policy add dst %s port %u " fmt, \
			   self->ip, self->port, ##__VA_ARGS__))

#define AMBUSH "window 10 min-calls 4 failure-rate 50 slow 500ms slow-rate 50"

/*
 * The seed's slow call ambush: every query takes 5 s and never fails; the
 * pool gives up after 1 s and redials. Its exchanges are what stalls.
 */
TEST_F_TIMEOUT(xchg, a_pool_on_a_slow_backend_trips_and_recovers, 120)
{
	struct cb_pool pool = {
		.ip = self->ip, .port = self->port, .fd = -1, .timeout_ms = 1000,
	};
	long long ms, stalled_before = cb_status_num("fail_stalled");
	int i, ret, fast = 0, stalled = 0;

	/* one connection: one probe, its first exchange */
	POLICY(AMBUSH " open 2s jitter 0 probes 1 calls exchanges");
	self->be->delay_ms = 5000;
	for (i = 0; i < 12; i++) {
		ret = cb_pool_request(&pool, &ms);
		if (ret == -ECONNREFUSED && ms < 100)
			fast++;
		else if (ret == -ETIMEDOUT)
			stalled++;
	}
	/* min-calls of them stalled, then the breaker refused at once */
	EXPECT_EQ(4, stalled);
	EXPECT_EQ(8, fast);
	EXPECT_TRUE(cb_breaker_state_is(self->ip, self->port, "open"));
	EXPECT_LE(4, cb_breaker_num(self->ip, self->port, "abandoned"));
	EXPECT_LE(4, cb_status_num("fail_stalled") - stalled_before);

	/* the backend is fast again: requests work by themselves */
	self->be->delay_ms = 0;
	for (i = 0; i < 40; i++) {
		ret = cb_pool_request(&pool, &ms);
		if (!ret)
			break;
		usleep(250 * 1000);
	}
	EXPECT_EQ(0, ret);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(0, cb_pool_request(&pool, &ms));
	EXPECT_TRUE(cb_breaker_state_is(self->ip, self->port, "closed"));
	if (pool.fd >= 0)
		close(pool.fd);
}

/* Under calls connects, as before: every redial is a fast success. */
TEST_F_TIMEOUT(xchg, calls_connects_sees_only_fast_handshakes, 120)
{
	struct cb_pool pool = {
		.ip = self->ip, .port = self->port, .fd = -1, .timeout_ms = 1000,
	};
	int i, waited = 0;
	long long ms;

	POLICY(AMBUSH);
	self->be->delay_ms = 5000;
	for (i = 0; i < 6; i++)
		if (cb_pool_request(&pool, &ms) == -ETIMEDOUT && ms >= 900)
			waited++;
	EXPECT_EQ(6, waited);
	EXPECT_TRUE(cb_breaker_state_is(self->ip, self->port, "closed"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "failures"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "abandoned"));
}

/*
 * Requests on one kept connection are calls: each a success, slow or not
 * by how long its reply took; the handshake itself is none.
 */
TEST_F(xchg, each_request_is_a_call_and_its_reply_times_it)
{
	struct cb_pool pool = {
		.ip = self->ip, .port = self->port, .fd = -1,
	};
	long long ms, before = cb_status_num("exchanges");
	int i;

	POLICY("window 100 min-calls 50 slow 500ms calls exchanges");
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	/* just under slow: not slow; over it: slow */
	self->be->delay_ms = 350;
	ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	self->be->delay_ms = 700;
	ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	self->be->delay_ms = 0;
	/* the reply of the last one is seen when the socket next sends */
	ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	usleep(300 * 1000);	/* a delayed ACK, at most */
	EXPECT_EQ(8, cb_breaker_num(self->ip, self->port, "calls"));
	EXPECT_EQ(8, cb_breaker_num(self->ip, self->port, "successes"));
	EXPECT_EQ(1, cb_breaker_num(self->ip, self->port, "slow"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "failures"));
	EXPECT_EQ(before + 8, cb_status_num("exchanges"));
	EXPECT_EQ(0, cb_sh("cbctl -j breaker show dst %s port %u | "
			   "grep -q '\"calls_are\":\"exchanges\"' && "
			   "cbctl breaker show dst %s port %u | "
			   "grep -q 'window 8 exchanges, 0 failed, 1 slow'",
			   self->ip, self->port, self->ip, self->port));
	EXPECT_EQ(0, cb_sh("cbctl metrics format prometheus | "
			   "grep -q '^cbreaker_exchanges_total [1-9]'"));
	close(pool.fd);
}

/*
 * Server push with no request outstanding is no exchange; an idle
 * connection closed by its owner is no failure; a request given up on
 * sooner than slow counts neither way.
 */
TEST_F(xchg, push_idle_close_and_a_short_wait_count_nothing)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(self->ip, self->port, &ss);
	long long before = cb_status_num("exchanges");
	char buf[64];
	int fd;

	POLICY("window 100 min-calls 50 slow 2s calls exchanges");
	self->be->push = 1;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(fd, (void *)&ss, len));
	ASSERT_EQ(5, read(fd, buf, sizeof(buf)));	/* pushed */
	usleep(300 * 1000);
	close(fd);					/* idle */
	self->be->push = 0;
	self->be->delay_ms = 5000;
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(fd, (void *)&ss, len));
	ASSERT_EQ(6, write(fd, "query\n", 6));
	usleep(200 * 1000);
	close(fd);					/* given up soon */
	usleep(100 * 1000);
	EXPECT_EQ(2, cb_breaker_num(self->ip, self->port, "calls"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "successes"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "failures"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "abandoned"));
	EXPECT_EQ(before, cb_status_num("exchanges"));
}

/* A policy changed back to calls connects: its kept connections count no more. */
TEST_F(xchg, back_to_calls_connects_a_kept_connection_counts_nothing)
{
	struct cb_pool pool = {
		.ip = self->ip, .port = self->port, .fd = -1,
	};
	long long ms, calls;
	int i;

	POLICY("window 100 min-calls 50 calls exchanges");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port %u calls connects",
			   self->ip, self->port));
	calls = cb_breaker_num(self->ip, self->port, "calls");
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_pool_request(&pool, &ms));
	self->be->delay_ms = 5000;
	pool.timeout_ms = 1000;
	ASSERT_EQ(-ETIMEDOUT, cb_pool_request(&pool, &ms));	/* closes it */
	usleep(100 * 1000);
	/* at most the one exchange that was waiting when it changed */
	EXPECT_GE(calls + 1, cb_breaker_num(self->ip, self->port, "calls"));
	EXPECT_EQ(0, cb_breaker_num(self->ip, self->port, "failures"));
}

/*
 * The backend's host vanishes under a kept connection whose client has no
 * timeout of its own but a TCP user timeout: the kernel gives up on the
 * connection, and its exchange ends as a timeout, once.
 */
TEST_F_TIMEOUT(xchg, a_vanished_host_times_the_exchange_out_once, 120)
{
	struct cb_pool pool = { .fd = -1, .user_timeout_ms = 2000 };
	long long ms, before;
	pid_t far;

	ASSERT_EQ(0, cb_sh("%s", cb_net_up));
	pool.ip = variant->far;
	far = cb_backend_in("/run/netns/cbxsrv", pool.ip, 7078, self->be);
	ASSERT_LT(0, far);
	pool.port = 7078;
	ASSERT_EQ(0, cb_sh("cbctl policy add dst %s port 7078 window 10 "
			   "min-calls 5 slow 10s calls exchanges", pool.ip));
	for (int i = 0; i < 20; i++) {
		if (!cb_pool_request(&pool, &ms))
			break;
		usleep(250 * 1000);
	}
	ASSERT_LE(0, pool.fd);
	before = cb_status_num("fail_timeout");
	ASSERT_EQ(0, cb_sh("ip -n cbxsrv link set eth0 down"));
	EXPECT_EQ(-ETIMEDOUT, cb_pool_request(&pool, &ms));
	EXPECT_LE(1500, ms);
	usleep(200 * 1000);
	EXPECT_EQ(before + 1, cb_status_num("fail_timeout"));
	EXPECT_EQ(1, cb_breaker_num(pool.ip, 7078, "failures"));
	kill(-far, SIGKILL);
	waitpid(far, NULL, 0);
}

TEST_HARNESS_MAIN
