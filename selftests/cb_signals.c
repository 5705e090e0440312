// SPDX-License-Identifier: GPL-2.0
/*
 * Which signals a breaker may take as a call's outcome (issue 10), in the
 * guest:
 *  - a handshake its owner abandons (close() or connect(AF_UNSPEC) in
 *    SYN_SENT) after the slow threshold is a failure ("abandoned"), one
 *    abandoned sooner counts neither way: curl --connect-timeout against a
 *    blackhole trips the breaker, and it recovers by itself;
 *  - breakers are per network namespace;
 *  - outcomes the owner provoked (IP_TTL 1 against a router) do not count;
 *  - ICMP errors count only for datagrams we admitted, at most once each:
 *    forged ICMP port unreachables from the test host change nothing;
 *  - a socket's note cannot credit another destination;
 *  - a policy's connect-timeout makes a program without a timeout of its
 *    own give up after it, as a failure, and leaves connections that are
 *    done, and timeouts their owners set, as the kernel would.
 */
#include "cb_test.h"

#include <grp.h>
#include <sched.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <netinet/udp.h>

#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbsig"
#define POLICY(fmt, ...) ASSERT_EQ(0, cb_sh("cbctl policy add " fmt, ##__VA_ARGS__))
#define JSTATE(s) "\"state\":\"" s "\""

/* The JSON of one breaker in @out; cbctl's exit status. */
static int show_json(char *out, size_t len, const char *where, const char *ip,
		     unsigned short port, const char *proto)
{
	return cb_sh_out(out, len, "cbctl -j breaker show %sdst %s port %u proto %s",
			 where, ip, port, proto);
}

/* Run @fn(@arg) in a child moved into network namespace @ns; its exit code. */
static int in_netns(const char *ns, int (*fn)(const void *), const void *arg)
{
	char path[128];
	int status, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		fd = open(path, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(254);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A TCP connect from inside a namespace: 0 or the errno. */
struct dial {
	const char *ip;
	unsigned short port;
};

static int dial_fn(const void *arg)
{
	const struct dial *d = arg;

	return -cb_connect(d->ip, d->port, SOCK_STREAM);
}

static int ns_connect(const char *ns, const char *ip, unsigned short port)
{
	struct dial d = { ip, port };

	return in_netns(ns, dial_fn, &d);
}

/* connect(AF_UNSPEC): the owner drops the handshake, keeps the socket. */
static int disconnect(int fd)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	return connect(fd, &sa, sizeof(sa));
}

/* ------------------------------------------------------------------ */
/*
 * A test host in namespace cbsig behind veth cs0 (10.77.0.2, fd77::2)
 * serving HTTP. Its neighbour entries are permanent, so that with netem
 * dropping everything the host sends, SYNs and datagrams vanish instead of
 * failing on ARP/ND (EHOSTUNREACH, or a local ICMP error).
 */
#define NS "ip netns exec cbsig "
#define MAC "02:77:00:00:00:02"

FIXTURE(sig) {
	char url[64];
};

FIXTURE_VARIANT(sig) {
	const char *ip;
	const char *me;		/* this host's address on the link */
	const char *url;	/* host part of a URL */
	const char *lo;		/* an untracked destination */
};

FIXTURE_VARIANT_ADD(sig, v4) {
	.ip = "10.77.0.2", .me = "10.77.0.1", .url = "10.77.0.2", .lo = "127.0.0.1",
};
FIXTURE_VARIANT_ADD(sig, v6) {
	.ip = "fd77::2", .me = "fd77::1", .url = "[fd77::2]", .lo = "::1",
};

static const char *sig_down =
	"ip link del cs0 2>/dev/null; "
	"for p in $(ip netns pids cbsig 2>/dev/null); do kill $p; done; "
	"ip netns del cbsig 2>/dev/null; "
	"sysctl -qw net.ipv4.tcp_syn_retries=6";

FIXTURE_SETUP(sig)
{
	cb_sh("cbctl unload 2>/dev/null; %s", sig_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("ip netns add cbsig && "
			   "ip link add cs0 type veth peer name eth0 netns cbsig && "
			   "ip -n cbsig link set eth0 address " MAC " && "
			   "ip addr add 10.77.0.1/24 dev cs0 && "
			   "ip addr add fd77::1/64 dev cs0 nodad && "
			   "ip link set cs0 up && "
			   "ip -n cbsig addr add 10.77.0.2/24 dev eth0 && "
			   "ip -n cbsig addr add fd77::2/64 dev eth0 nodad && "
			   "ip -n cbsig link set eth0 up && ip -n cbsig link set lo up"));
	ASSERT_EQ(0, cb_sh("ip neigh replace 10.77.0.2 dev cs0 lladdr " MAC " nud permanent && "
			   "ip -6 neigh replace fd77::2 dev cs0 lladdr " MAC " nud permanent && "
			   NS "sysctl -qw net.ipv4.icmp_ratelimit=0 && "
			   NS "sysctl -qw net.ipv6.icmp.ratelimit=0 && "
			   "mkdir -p /tmp/www && echo hello >/tmp/www/index.html && "
			   NS "httpd -p 80 -h /tmp/www"));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
	snprintf(self->url, sizeof(self->url), "http://%s/", variant->url);
	/* the link is up and the server answers (no policy yet: untracked) */
	ASSERT_EQ(0, cb_sh("for i in 1 2 3 4 5 6 7 8 9 10; do "
			   "curl -sf -m 2 %s >/dev/null && exit 0; "
			   "sleep 0.5; done; exit 1", self->url));
}

FIXTURE_TEARDOWN(sig)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload; %s", sig_down);
	rmdir(CG);
}

#define BLACKHOLE() ASSERT_EQ(0, cb_sh("tc qdisc add dev cs0 root netem loss 100%%"))
#define HEAL() ASSERT_EQ(0, cb_sh("tc qdisc del dev cs0 root"))

static int sig_show(const FIXTURE_VARIANT(sig) *variant, unsigned short port,
		    const char *proto, char *out, size_t len)
{
	return show_json(out, len, "", variant->ip, port, proto);
}

/* curl as a user runs it: its exit code, the time it took in *@ms. */
static int curl(const char *url, unsigned long long *ms)
{
	unsigned long long t0 = cb_now_ms();
	int rc = cb_sh("curl -s -o /dev/null --connect-timeout 1 %s", url);

	*ms = cb_now_ms() - t0;
	return rc;
}

/* curl(), and in *@total the time curl itself took (-w time_total) */
static int curl_total(const char *url, unsigned long long *ms,
		      unsigned long long *total)
{
	unsigned long long t0 = cb_now_ms(), sec = 0, us = 0;
	char out[64];
	int rc = cb_sh_out(out, sizeof(out),
			   "curl -s -o /dev/null -w '%%{time_total}' --connect-timeout 1 %s",
			   url);

	*ms = cb_now_ms() - t0;
	/* seconds with six decimals */
	*total = sscanf(out, "%llu.%6llu", &sec, &us) == 2 ? sec * 1000 + us / 1000 : ~0ULL;
	return rc;
}

/*
 * curl gives up on a blackholed backend after 1 s: each abandoned handshake
 * is a failure, the breaker opens and curl then fails at once; the backend
 * returns and the breaker closes by itself. Kernel defaults untouched
 * (tcp_syn_retries 6: the SYNs never time out in the kernel within the test).
 * The policy's slow threshold is the default, 1 s, as curl's: curl starts
 * its clock a moment before connect(), and that still counts.
 */
TEST_F_TIMEOUT(sig, curl_connect_timeouts_trip_and_it_recovers, 150)
{
	unsigned long long ms, total;
	char out[4096];
	int i, fd, rc = 0, opened = 0;

	/* open long enough that the checks of the open breaker come first */
	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 10s",
	       variant->ip);
	BLACKHOLE();
	for (i = 0; i < 6 && !opened; i++) {
		rc = curl(self->url, &ms);
		TH_LOG("curl %d: exit %d after %llu ms", i, rc, ms);
		ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
		opened = !!strstr(out, JSTATE("open"));
	}
	TH_LOG("%s", out);
	ASSERT_TRUE(opened);
	EXPECT_EQ(3, i);	/* min-calls 3, every one a failure */
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_EQ(3, cb_json_num(out, "abandoned"));
	EXPECT_EQ(0, cb_json_num(out, "successes"));

	/*
	 * Refused at once: "couldn't connect" (7) where the blackhole made
	 * curl wait out its 1 s and give up (28). The bound is the 1 s curl
	 * would wait, on curl's own clock (its time_total): starting curl
	 * took 2 s on a loaded machine (stretched like the timeouts on the
	 * debug kernel; the exit code alone tells refused from timed out).
	 */
	rc = curl_total(self->url, &ms, &total);
	TH_LOG("curl against the open breaker: exit %d after %llu ms, %llu ms its own",
	       rc, ms, total);
	EXPECT_EQ(7, rc);
	EXPECT_GT(1000ULL * cb_timeout_scale(), total);
	/* no handshake in flight: refused, not EINPROGRESS */
	fd = cb_connect_start(variant->ip, 80);
	EXPECT_EQ(-ECONNREFUSED, fd);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	EXPECT_LE(2, cb_json_num(out, "rejected"));
	EXPECT_EQ(3, cb_json_num(out, "failures"));	/* refusals are not failures */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_LE(3, cb_json_num(out, "fail_abandoned"));

	/* the backend is back: nobody touches cbctl */
	HEAL();
	for (i = 0; i < 80; i++) {
		rc = cb_sh("curl -s -o /dev/null --connect-timeout 1 -m 5 %s", self->url);
		ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
		if (!rc && strstr(out, JSTATE("closed")))
			break;
		usleep(250000);
	}
	TH_LOG("%s", out);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
}

/* A blocking connect, as a program without a timeout of its own makes it. */
static int timed_connect(const char *ip, unsigned short port,
			 unsigned long long *ms)
{
	unsigned long long t0 = cb_now_ms();
	int err = cb_connect(ip, port, SOCK_STREAM);

	*ms = cb_now_ms() - t0;
	return err;
}

/*
 * connect-timeout 1s against a blackholed backend: each connect gives up
 * with ETIMEDOUT after 1 s instead of ~127 s, as a timeout (not abandoned:
 * the kernel gave up, not the program); after min-calls the breaker is
 * open and connects are refused at once.
 */
TEST_F_TIMEOUT(sig, connect_timeout_ends_a_connect_without_one_of_its_own, 120)
{
	unsigned long long ms;
	char out[4096];
	int i, err;

	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s "
	       "connect-timeout 1s", variant->ip);
	BLACKHOLE();
	for (i = 0; i < 3; i++) {
		err = timed_connect(variant->ip, 80, &ms);
		TH_LOG("connect %d: %s after %llu ms", i, strerror(-err), ms);
		EXPECT_EQ(-ETIMEDOUT, err);
		EXPECT_LE(900ULL, ms);
		/* TCG: a 1 s timer, late */
		EXPECT_GT(5000ULL * cb_timeout_scale(), ms);
	}
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("open")));
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_EQ(0, cb_json_num(out, "abandoned"));
	EXPECT_LE(3, cb_status_num("fail_timeout"));

	err = timed_connect(variant->ip, 80, &ms);
	TH_LOG("connect against the open breaker: %s after %llu ms",
	       strerror(-err), ms);
	EXPECT_EQ(-ECONNREFUSED, err);
	EXPECT_GT(500ULL * cb_timeout_scale(), ms);
}

static int user_timeout(int fd)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &len))
		return -errno;
	return v;
}

/* A non-blocking connect to @ip:80 of a socket with @own as its user timeout. */
static int start_with_timeout(const char *ip, int own)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, 80, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if ((own && setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &own,
			       sizeof(own))) ||
	    (connect(fd, (void *)&ss, len) && errno != EINPROGRESS)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Wait up to @ms for @fd's connect to end; its SO_ERROR, or -1. */
static int connect_end(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = -1;

	if (poll(&p, 1, ms) == 1)
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return err;
}

/*
 * The policy's timeout is the socket's TCP_USER_TIMEOUT only while its
 * handshake runs: a connection that is done has the kernel's own (0)
 * back, so its data is not held to 1 s; a timeout the owner set before
 * connect() is the owner's, during the handshake and after.
 */
TEST_F(sig, connect_timeout_is_the_handshakes_alone)
{
	int fd, own;

	POLICY("dst %s port 80 connect-timeout 1s", variant->ip);
	for (own = 0; own <= 7000; own += 7000) {
		fd = start_with_timeout(variant->ip, own);
		ASSERT_LE(0, fd);
		/* TCG is slow enough to see SYN_SENT; the kernel's is 0 */
		if (connect_end(fd, 0) < 0)
			EXPECT_EQ(own ? own : 1000, user_timeout(fd));
		EXPECT_EQ(0, connect_end(fd, 5000));
		EXPECT_EQ(own, user_timeout(fd)) TH_LOG("own %d", own);
		close(fd);
	}

	/* during a handshake that does not end: the policy's */
	BLACKHOLE();
	fd = start_with_timeout(variant->ip, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(1000, user_timeout(fd));
	EXPECT_EQ(ETIMEDOUT, connect_end(fd, 5000));
	close(fd);
}

/* connect() @fd again, to @ip:@port; 0 or the errno. */
static int reconnect(int fd, const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);

	return connect(fd, (void *)&ss, len) ? errno : 0;
}

/*
 * The policy of @ip port 80 changes to a 2 s connect timeout, which the
 * next connect (blackholed) gets as its user timeout.
 */
static void timeout_changes_to_2s(struct __test_metadata *_metadata,
				  const char *ip)
{
	int fd;

	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port 80 connect-timeout 2s",
			   ip));
	BLACKHOLE();
	fd = start_with_timeout(ip, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2000, user_timeout(fd));
	close(fd);
}

/*
 * The timeout is the policy's as it is now: a change reaches a closed
 * breaker's next connect at once; dry-run sets none; a connect() again
 * after one that timed out, to a destination without the policy, has the
 * kernel's own; a socket connected to itself (a simultaneous open, which
 * ends passively) gets the kernel's own back.
 */
TEST_F_TIMEOUT(sig, connect_timeout_follows_the_policy_as_it_is_now, 60)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	POLICY("dst %s port 80 connect-timeout 1s", variant->ip);
	fd = start_with_timeout(variant->ip, 0);	/* a closed breaker */
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, connect_end(fd, 5000));
	close(fd);
	timeout_changes_to_2s(_metadata, variant->ip);

	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port 80 mode dry-run",
			   variant->ip));
	fd = start_with_timeout(variant->ip, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, user_timeout(fd));
	close(fd);

	/* timed out at port 80, then to port 81, which no policy covers */
	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port 80 mode enforce "
			   "connect-timeout 1s", variant->ip));
	fd = start_with_timeout(variant->ip, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(ETIMEDOUT, connect_end(fd, 5000));
	/* the first says the last one failed and makes the socket new */
	EXPECT_EQ(ECONNABORTED, reconnect(fd, variant->ip, 81));
	EXPECT_EQ(EINPROGRESS, reconnect(fd, variant->ip, 81));
	EXPECT_EQ(0, user_timeout(fd));
	close(fd);
	HEAL();

	/* bound to the port it connects to: SYN meets SYN */
	POLICY("dst %s connect-timeout 1s", variant->lo);
	len = cb_addr(variant->lo, 0, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, bind(fd, (void *)&ss, len));
	ASSERT_EQ(0, getsockname(fd, (void *)&ss, &len));
	EXPECT_EQ(0, connect(fd, (void *)&ss, len));
	EXPECT_EQ(0, user_timeout(fd));
	close(fd);
}

/*
 * A closed breaker's connects are admitted by the hooks' gate, without the
 * breaker, once one has been: a connect timeout its policy gains later
 * still reaches them.
 */
TEST_F_TIMEOUT(sig, connect_timeout_reaches_connects_the_gate_admits, 60)
{
	int i;

	POLICY("dst %s port 80", variant->ip);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
	timeout_changes_to_2s(_metadata, variant->ip);
	HEAL();
}

/* Start @n non-blocking connects to @ip:@port, all still in SYN_SENT. */
static int start_connects(int *fds, int n, const char *ip, unsigned short port)
{
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = cb_connect_start(ip, port);
		if (fds[i] < 0)
			return fds[i];
	}
	return 0;
}

/*
 * Non-blocking connects abandoned after 1.1 s (the default slow threshold
 * is 1 s), by close() or by connect(AF_UNSPEC), count like curl's.
 */
TEST_F(sig, nonblocking_connects_abandoned_late_count_as_failures)
{
	struct pollfd p[3];
	long long before;
	char out[4096];
	int fds[3], i;

	before = cb_status_num("fail_abandoned");
	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->ip);
	BLACKHOLE();
	ASSERT_EQ(0, start_connects(fds, 3, variant->ip, 80));
	for (i = 0; i < 3; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLOUT };
	ASSERT_EQ(0, poll(p, 3, 1100));		/* nothing answers */
	close(fds[0]);
	close(fds[1]);
	EXPECT_EQ(0, disconnect(fds[2]));
	usleep(200000);
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	close(fds[2]);
	EXPECT_EQ(3, cb_json_num(out, "abandoned"));
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_EQ(3, cb_json_num(out, "slow"));
	EXPECT_EQ(0, cb_json_num(out, "successes"));
	ASSERT_NE(NULL, strstr(out, JSTATE("open")));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 80, SOCK_STREAM));
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
	EXPECT_LE(0, before);
	EXPECT_LE(before + 3, cb_status_num("fail_abandoned"));
}

/*
 * A handshake abandoned 50 ms in, below the slow threshold (default 1 s),
 * is not a call result: admitted, but neither success nor failure.
 */
TEST_F(sig, connects_abandoned_early_count_neither_way)
{
	char out[4096];
	int i, fd;

	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->ip);
	ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
	BLACKHOLE();
	for (i = 0; i < 5; i++) {
		fd = cb_connect_start(variant->ip, 80);
		ASSERT_LE(0, fd);
		usleep(50000);
		if (i % 2)
			EXPECT_EQ(0, disconnect(fd));
		close(fd);
	}
	usleep(200000);
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(6, cb_json_num(out, "calls"));	/* admitted all the same */
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(0, cb_json_num(out, "slow"));
	EXPECT_EQ(0, cb_json_num(out, "abandoned"));
	EXPECT_EQ(1, cb_json_num(out, "window_calls"));	/* no result */
}

/*
 * One socket: a handshake to tracked A (blackholed) dropped early with
 * connect(AF_UNSPEC), then a connect to untracked B that succeeds. B's
 * success is not A's.
 */
TEST_F(sig, a_note_cannot_credit_another_destination)
{
	struct sockaddr_storage ss;
	unsigned short bport;
	socklen_t len;
	char out[4096];
	int fd, l;

	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->ip);
	ASSERT_LE(0, l = cb_listener(variant->lo, SOCK_STREAM, &bport));
	BLACKHOLE();
	fd = cb_connect_start(variant->ip, 80);
	ASSERT_LE(0, fd);
	usleep(50000);
	ASSERT_EQ(0, disconnect(fd));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));	/* blocking again */
	len = cb_addr(variant->lo, bport, &ss);
	ASSERT_EQ(0, connect(fd, (void *)&ss, len));
	ASSERT_EQ(1, cb_got(l, SOCK_STREAM, 2000));
	close(fd);
	close(l);
	usleep(200000);
	ASSERT_EQ(0, sig_show(variant, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(1, cb_json_num(out, "calls"));
	EXPECT_EQ(0, cb_json_num(out, "successes"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	/* and B stays untracked */
	EXPECT_NE(0, cb_sh("cbctl breaker show dst %s port %u 2>/dev/null",
			   variant->lo, bport));
}

/* ---- forged ICMP ---- */

struct forgery {
	const char *client;		/* the victim, who sent the datagram */
	const char *server;		/* the destination quoted */
	unsigned short dport;
	unsigned short sports[10];	/* quoted source ports */
};

/*
 * From inside the test host: one ICMP port unreachable (ICMPv6 type 1
 * code 4) per source port, quoting client:sport -> server:dport over UDP.
 */
static int forge_fn(const void *arg)
{
	const struct forgery *f = arg;
	struct sockaddr_storage to;
	socklen_t tolen = cb_addr(f->client, 0, &to);
	int v6 = to.ss_family == AF_INET6, fd, i;

	fd = socket(to.ss_family, SOCK_RAW, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return 253;
	for (i = 0; i < 10; i++)
		if (cb_forge_unreach(fd, &to, tolen, f->client, f->server,
				     f->sports[i], f->dport))
			return 252;
	close(fd);
	return 0;
}

/*
 * One datagram admitted to the test host's UDP port 5353 (lost on the way:
 * no genuine answer). The test host then forges port unreachables: first
 * for source ports no socket used, then for the real socket's port. Neither
 * opens the breaker: no failure for traffic never sent, at most one for
 * the one datagram.
 */
TEST_F(sig, forged_icmp_port_unreachables_count_at_most_once)
{
	struct sockaddr_storage ss;
	struct forgery f = {
		.client = variant->me, .server = variant->ip, .dport = 5353,
	};
	unsigned short sport;
	char out[4096];
	socklen_t len;
	int fd, i;

	POLICY("dst %s port 5353 proto udp window 10 min-calls 3 failure-rate 50 open 30s",
	       variant->ip);
	BLACKHOLE();
	len = cb_addr(variant->ip, 5353, &ss);
	ASSERT_LE(0, fd = socket(ss.ss_family, SOCK_DGRAM, 0));
	ASSERT_EQ(1, sendto(fd, "x", 1, 0, (void *)&ss, len));
	len = sizeof(ss);
	ASSERT_EQ(0, getsockname(fd, (void *)&ss, &len));
	sport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	usleep(300000);
	ASSERT_EQ(0, sig_show(variant, 5353, "udp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "calls"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));

	/* source ports that no socket used */
	for (i = 0; i < 10; i++)
		f.sports[i] = sport == 40000 + i ? 40100 + i : 40000 + i;
	ASSERT_EQ(0, in_netns("cbsig", forge_fn, &f));
	usleep(500000);
	ASSERT_EQ(0, sig_show(variant, 5353, "udp", out, sizeof(out)));
	TH_LOG("after 10 forgeries for unused ports: %s", out);
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));

	/* the real socket's port: one datagram, at most one failure */
	for (i = 0; i < 10; i++)
		f.sports[i] = sport;
	ASSERT_EQ(0, in_netns("cbsig", forge_fn, &f));
	usleep(500000);
	ASSERT_EQ(0, sig_show(variant, 5353, "udp", out, sizeof(out)));
	TH_LOG("after 10 forgeries for the real port: %s", out);
	EXPECT_GE(1, cb_json_num(out, "failures"));
	EXPECT_LE(0, cb_json_num(out, "failures"));
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	close(fd);
	/* still closed: a datagram goes out */
	ASSERT_EQ(0, cb_sendto(variant->ip, 5353));
}

/* ------------------------------------------------------------------ */
/*
 * Breakers per network namespace. The host has no listener on loopback
 * port 8081; namespace cbns serves it. Both dial from the attached cgroup.
 */
FIXTURE(netns) {
};

FIXTURE_VARIANT(netns) {
	const char *lo;
};

FIXTURE_VARIANT_ADD(netns, v4) {
	.lo = "127.0.0.1",
};
FIXTURE_VARIANT_ADD(netns, v6) {
	.lo = "::1",
};

static const char *netns_down =
	"for p in $(ip netns pids cbns 2>/dev/null); do kill $p; done; "
	"ip netns del cbns 2>/dev/null";

FIXTURE_SETUP(netns)
{
	int i, err = -1;

	cb_sh("cbctl unload 2>/dev/null; %s", netns_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("ip netns add cbns && ip -n cbns link set lo up && "
			   "mkdir -p /tmp/www && echo hello >/tmp/www/index.html && "
			   "ip netns exec cbns httpd -p 8081 -h /tmp/www"));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
	for (i = 0; i < 50 && err; i++) {
		err = ns_connect("cbns", variant->lo, 8081);
		if (err)
			usleep(100000);
	}
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN(netns)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload; %s", netns_down);
	rmdir(CG);
}

/*
 * The object of "cbctl -j breaker list" (@json) that holds the @n-th
 * occurrence of @dst_port (e.g. "\"dst\":\"::1\""), copied into @obj.
 */
static int nth_object(const char *json, const char *needle, int n, char *obj, size_t len)
{
	const char *p = json;
	long s, e, depth;

	while ((p = strstr(p, needle)) && n--)
		p++;
	if (!p)
		return -1;
	for (s = p - json, depth = 0; s >= 0; s--) {
		if (json[s] == '}')
			depth++;
		else if (json[s] == '{' && !depth--)
			break;
	}
	for (e = p - json, depth = 0; json[e]; e++) {
		if (json[e] == '{')
			depth++;
		else if (json[e] == '}' && !depth--)
			break;
	}
	if (s < 0 || json[e] != '}' || (size_t)(e - s + 2) > len)
		return -1;
	memcpy(obj, json + s, e - s + 1);
	obj[e - s + 1] = '\0';
	return 0;
}

TEST_F(netns, each_namespace_has_its_own_breaker)
{
	char out[16384], obj[4096], needle[64], where[64];
	long long ns_host = -1, ns_cbns = -1;
	int i, n = 0;

	POLICY("dst %s port 8081 window 10 min-calls 3 failure-rate 50 open 30s", variant->lo);
	for (i = 0; i < 3; i++)	/* resets: nobody listens on the host */
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->lo, 8081, SOCK_STREAM));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->lo, 8081, "tcp"));
	TH_LOG("host: %s", out);
	ASSERT_NE(NULL, strstr(out, JSTATE("open")));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->lo, 8081, SOCK_STREAM));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->lo, 8081, "tcp"));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));

	/* the same destination in cbns is another breaker, closed */
	ASSERT_EQ(0, ns_connect("cbns", variant->lo, 8081));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker list"));
	TH_LOG("list: %s", out);
	snprintf(needle, sizeof(needle), "\"dst\":\"%s\"", variant->lo);
	for (i = 0; !nth_object(out, needle, i, obj, sizeof(obj)); i++) {
		if (cb_json_num(obj, "port") != 8081 || !strstr(obj, "\"proto\":\"tcp\""))
			continue;
		n++;
		if (strstr(obj, "\"netns_name\":\"cbns\"")) {
			ns_cbns = cb_json_num(obj, "netns");
			EXPECT_NE(NULL, strstr(obj, JSTATE("closed")));
			EXPECT_EQ(1, cb_json_num(obj, "successes"));
			EXPECT_EQ(0, cb_json_num(obj, "failures"));
		} else {
			ns_host = cb_json_num(obj, "netns");
			EXPECT_NE(NULL, strstr(obj, JSTATE("open")));
			EXPECT_EQ(3, cb_json_num(obj, "failures"));
		}
	}
	ASSERT_EQ(2, n);
	ASSERT_LT(0, ns_cbns);
	ASSERT_LT(0, ns_host);
	ASSERT_NE(ns_host, ns_cbns);

	/* cbns's breaker by name, by id, and from inside cbns */
	ASSERT_EQ(0, show_json(out, sizeof(out), "netns cbns ", variant->lo, 8081, "tcp"));
	EXPECT_EQ(ns_cbns, cb_json_num(out, "netns"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	snprintf(where, sizeof(where), "netns %lld ", ns_cbns);
	ASSERT_EQ(0, show_json(out, sizeof(out), where, variant->lo, 8081, "tcp"));
	EXPECT_EQ(ns_cbns, cb_json_num(out, "netns"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "nsenter --net=/run/netns/cbns "
			       "cbctl -j breaker show dst %s port 8081 2>&1", variant->lo));
	EXPECT_EQ(ns_cbns, cb_json_num(out, "netns"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	/* ip netns exec also remounts /sys: cbctl must not depend on it */
	EXPECT_EQ(0, cb_sh_out(out, sizeof(out),
			       "ip netns exec cbns cbctl -j breaker show dst %s port 8081 2>&1",
			       variant->lo));
	TH_LOG("ip netns exec cbns cbctl breaker show: %s", out);
	EXPECT_EQ(ns_cbns, cb_json_num(out, "netns"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));

	/* trip in cbns opens cbns's breaker only */
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst %s port 8081", variant->lo));
	ASSERT_EQ(0, cb_sh("cbctl breaker trip netns cbns dst %s port 8081", variant->lo));
	EXPECT_EQ(ECONNREFUSED, ns_connect("cbns", variant->lo, 8081));
	ASSERT_EQ(0, show_json(out, sizeof(out), "netns cbns ", variant->lo, 8081, "tcp"));
	EXPECT_NE(NULL, strstr(out, JSTATE("open")));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->lo, 8081, "tcp"));
	TH_LOG("host after the trip in cbns: %s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(ns_host, cb_json_num(out, "netns"));
}

/* ------------------------------------------------------------------ */
/*
 * Outcomes the owner provoked. Host (client) -> namespace cbrtr (a router)
 * -> namespace cbsv (a healthy HTTP server). A SYN sent with TTL (hop
 * limit) 1 dies at the router, which answers ICMP time exceeded: connect()
 * fails with EHOSTUNREACH, but the server is fine.
 */
FIXTURE(hops) {
};

FIXTURE_VARIANT(hops) {
	const char *srv;
	const char *foreign;	/* a source address nobody here owns */
};

FIXTURE_VARIANT_ADD(hops, v4) {
	.srv = "10.78.1.2", .foreign = "10.78.7.7",
};
FIXTURE_VARIANT_ADD(hops, v6) {
	.srv = "fd78:1::2", .foreign = "fd78:7::7",
};

static const char *hops_down =
	"ip link del ch0 2>/dev/null; ip -n cbrtr link del eth1 2>/dev/null; "
	"ip link del cbx0 2>/dev/null; sysctl -qw net.ipv4.tcp_syn_retries=6; "
	"ip netns del cbbad 2>/dev/null; "
	"for p in $(ip netns pids cbsv 2>/dev/null); do kill $p; done; "
	"ip netns del cbrtr 2>/dev/null; ip netns del cbsv 2>/dev/null";

#define RTR "ip netns exec cbrtr "

FIXTURE_SETUP(hops)
{
	int i, err = -1;

	cb_sh("cbctl unload 2>/dev/null; %s", hops_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("ip netns add cbrtr && ip netns add cbsv && "
			   "ip link add ch0 type veth peer name eth0 netns cbrtr && "
			   "ip -n cbrtr link add eth1 type veth peer name eth0 netns cbsv && "
			   "ip addr add 10.78.0.1/24 dev ch0 && "
			   "ip addr add fd78::1/64 dev ch0 nodad && ip link set ch0 up && "
			   "ip route add 10.78.1.0/24 via 10.78.0.2 && "
			   "ip -6 route add fd78:1::/64 via fd78::2"));
	ASSERT_EQ(0, cb_sh("ip -n cbrtr addr add 10.78.0.2/24 dev eth0 && "
			   "ip -n cbrtr addr add fd78::2/64 dev eth0 nodad && "
			   "ip -n cbrtr addr add 10.78.1.1/24 dev eth1 && "
			   "ip -n cbrtr addr add fd78:1::1/64 dev eth1 nodad && "
			   "ip -n cbrtr link set eth0 up && ip -n cbrtr link set eth1 up && "
			   "ip -n cbrtr link set lo up && "
			   RTR "sysctl -qw net.ipv4.ip_forward=1 && "
			   RTR "sysctl -qw net.ipv6.conf.all.forwarding=1 && "
			   RTR "sysctl -qw net.ipv4.icmp_ratelimit=0 && "
			   RTR "sysctl -qw net.ipv6.icmp.ratelimit=0"));
	ASSERT_EQ(0, cb_sh("ip -n cbsv addr add 10.78.1.2/24 dev eth0 && "
			   "ip -n cbsv addr add fd78:1::2/64 dev eth0 nodad && "
			   "ip -n cbsv link set eth0 up && ip -n cbsv link set lo up && "
			   "ip -n cbsv route add default via 10.78.1.1 && "
			   "ip -n cbsv -6 route add default via fd78:1::1 && "
			   "mkdir -p /tmp/www && echo hello >/tmp/www/index.html && "
			   "ip netns exec cbsv httpd -p 80 -h /tmp/www"));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
	/* routed and served (no policy yet: untracked) */
	for (i = 0; i < 50 && err; i++) {
		err = cb_connect(variant->srv, 80, SOCK_STREAM);
		if (err)
			usleep(200000);
	}
	ASSERT_EQ(0, err);
}

FIXTURE_TEARDOWN(hops)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload; %s", hops_down);
	rmdir(CG);
}

/* As nobody: @n connects with TTL/hop limit 1; how many got EHOSTUNREACH. */
static int ttl1_connects(const char *ip, int n)
{
	int status, i, got = 0, one = 1, fd;
	struct sockaddr_storage ss;
	socklen_t len;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(255);
		len = cb_addr(ip, 80, &ss);
		for (i = 0; i < n; i++) {
			fd = socket(ss.ss_family, SOCK_STREAM, 0);
			if (fd < 0)
				_exit(254);
			if (ss.ss_family == AF_INET6 ?
			    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &one, sizeof(one)) :
			    setsockopt(fd, IPPROTO_IP, IP_TTL, &one, sizeof(one)))
				_exit(253);
			if (connect(fd, (void *)&ss, len) && errno == EHOSTUNREACH)
				got++;
			close(fd);
		}
		_exit(got);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(hops, failures_provoked_with_ttl_1_do_not_count)
{
	long long ignored;
	char out[4096];

	ignored = cb_status_num("ignored");
	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->srv);
	/* an unprivileged user sets TTL 1 and dials, 8 times */
	ASSERT_EQ(8, ttl1_connects(variant->srv, 8));	/* not refused by us */
	/* the server is healthy: the breaker let a normal call through */
	ASSERT_EQ(0, cb_connect(variant->srv, 80, SOCK_STREAM));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->srv, 80, "tcp"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	EXPECT_LE(0, ignored);
	EXPECT_LT(ignored, cb_status_num("ignored"));
}

enum trick { BINDDEV, FOREIGN };

/*
 * @n non-blocking connects to @ip port 80 at once, each socket bound to
 * device @arg (BINDDEV) or to the non-local source address @arg (FOREIGN:
 * IPV6_FREEBIND for IPv6; IPv4 TCP needs IP_TRANSPARENT for that, and so
 * CAP_NET_ADMIN: those stay root). As nobody unless told. How many ended
 * with @want within @ms.
 */
static int dials(const char *ip, int n, enum trick trick, const char *arg,
		 int nobody, int want, int ms)
{
	int status, i, got = 0, one = 1, err, fds[16];
	struct sockaddr_storage ss, src;
	socklen_t len, slen, elen;
	unsigned long long end;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid) {
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return -1;
		return WEXITSTATUS(status);
	}
	if (n > 16 || (nobody && (setgroups(0, NULL) || setgid(65534) || setuid(65534))))
		_exit(255);
	len = cb_addr(ip, 80, &ss);
	slen = cb_addr(arg, 0, &src);
	for (i = 0; i < n; i++) {
		fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			_exit(254);
		if (trick == BINDDEV ?
		    setsockopt(fds[i], SOL_SOCKET, SO_BINDTODEVICE, arg, strlen(arg) + 1) :
		    ss.ss_family == AF_INET6 ?
		    setsockopt(fds[i], IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) ||
		    bind(fds[i], (void *)&src, slen) :
		    setsockopt(fds[i], IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) ||
		    bind(fds[i], (void *)&src, slen))
			_exit(253);
		if (connect(fds[i], (void *)&ss, len)) {
			if (errno == EINPROGRESS)
				continue;
			got += errno == want;
		}
		close(fds[i]);
		fds[i] = -1;
	}
	for (end = cb_now_ms() + ms; cb_now_ms() < end; usleep(50000)) {
		int left = 0;

		for (i = 0; i < n; i++) {
			struct pollfd p = { .fd = fds[i], .events = POLLOUT };

			if (fds[i] < 0)
				continue;
			if (poll(&p, 1, 0) != 1) {
				left++;
				continue;
			}
			elen = sizeof(err);
			getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &elen);
			got += err == want;
			close(fds[i]);
			fds[i] = -1;
		}
		if (!left)
			break;
	}
	_exit(got);
}

/*
 * SO_BINDTODEVICE onto another link, where the server's address belongs to
 * another host (namespace cbbad) that refuses: the owner chose the path and
 * got resets; the server is fine.
 */
TEST_F(hops, failures_of_sockets_bound_to_a_device_do_not_count)
{
	long long ignored;
	char out[4096];

	ASSERT_EQ(0, cb_sh("ip netns add cbbad && "
			   "ip link add cbx0 type veth peer name eth0 netns cbbad && "
			   "ip addr add 10.78.2.1/24 dev cbx0 && "
			   "ip addr add fd78:2::1/64 dev cbx0 nodad && ip link set cbx0 up && "
			   "ip route add 10.78.1.0/24 dev cbx0 metric 2000 && "
			   "ip -6 route add fd78:1::/64 dev cbx0 metric 2000"));
	ASSERT_EQ(0, cb_sh("ip -n cbbad addr add 10.78.1.2/24 dev eth0 && "
			   "ip -n cbbad addr add fd78:1::2/64 dev eth0 nodad && "
			   "ip -n cbbad link set eth0 up && "
			   "ip -n cbbad route add 10.78.2.0/24 dev eth0 && "
			   "ip -n cbbad -6 route add fd78:2::/64 dev eth0"));
	/* unbound sockets still take the real way */
	ASSERT_EQ(0, cb_connect(variant->srv, 80, SOCK_STREAM));
	ignored = cb_status_num("ignored");
	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->srv);
	ASSERT_EQ(8, dials(variant->srv, 8, BINDDEV, "cbx0", 1, ECONNREFUSED, 20000));
	ASSERT_EQ(0, cb_connect(variant->srv, 80, SOCK_STREAM));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->srv, 80, "tcp"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	EXPECT_LE(0, ignored);
	EXPECT_LT(ignored, cb_status_num("ignored"));
}

/*
 * A source address that is not ours (IPV6_FREEBIND as nobody; for IPv4,
 * IP_TRANSPARENT as root): the server's answers go elsewhere and the
 * handshakes time out (tcp_syn_retries 1: after 3 s).
 */
TEST_F_TIMEOUT(hops, failures_of_sockets_with_a_foreign_source_do_not_count, 60)
{
	int v6 = !!strchr(variant->srv, ':');
	long long ignored;
	char out[4096];

	ignored = cb_status_num("ignored");
	POLICY("dst %s port 80 window 10 min-calls 3 failure-rate 50 open 30s", variant->srv);
	ASSERT_EQ(0, cb_sh("sysctl -qw net.ipv4.tcp_syn_retries=1"));
	ASSERT_EQ(8, dials(variant->srv, 8, FOREIGN, variant->foreign, v6, ETIMEDOUT, 20000));
	ASSERT_EQ(0, cb_connect(variant->srv, 80, SOCK_STREAM));
	ASSERT_EQ(0, show_json(out, sizeof(out), "", variant->srv, 80, "tcp"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	EXPECT_LE(0, ignored);
	EXPECT_LT(ignored, cb_status_num("ignored"));
}

TEST_HARNESS_MAIN
