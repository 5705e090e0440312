// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker driven by real connection outcomes, in the guest: a test host
 * in a network namespace behind a veth pair (10.77.0.2, fd77::2) serving
 * HTTP with busybox httpd; resets from closed ports, SYNs dropped by netem,
 * netem delay, ICMP host and port unreachable; real clients (sockets, curl).
 */
#define _GNU_SOURCE	/* before any header: sched_setaffinity() */
#include <linux/bpf.h>
#include <sched.h>
#include <sys/syscall.h>

#include "linux/cbreaker.h"
#include "cb_test.h"
#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbsense"
#define NS "ip netns exec cbsrv "
#define TX "/sys/class/net/cb0/statistics/tx_packets"

FIXTURE(sense) {
	char show[256];		/* "cbctl -j breaker show dst IP port " */
};

FIXTURE_VARIANT(sense) {
	const char *ip;
	const char *url;	/* host part of a URL */
	const char *far;	/* behind the test host, which has no route there */
};

FIXTURE_VARIANT_ADD(sense, v4) {
	.ip = "10.77.0.2", .url = "10.77.0.2", .far = "10.77.5.5",
};
FIXTURE_VARIANT_ADD(sense, v6) {
	.ip = "fd77::2", .url = "[fd77::2]", .far = "fd77:5::5",
};

/*
 * The server's neighbour entries are permanent: once an entry aged (a test
 * that takes minutes, as on the debug kernel), with every packet lost its
 * resolution fails in 3 s and ends a blackholed handshake as unreachable
 * (an ICMP error from our own host), where the tests expect the client to
 * give up or time out.
 */
#define PEER "02:cb:00:00:00:02"

static const char *cb_net_up =
	"ip netns add cbsrv && "
	"ip link add cb0 type veth "
	"peer name eth0 address " PEER " netns cbsrv && "
	"ip addr add 10.77.0.1/24 dev cb0 && "
	"ip addr add fd77::1/64 dev cb0 nodad && "
	"ip link set cb0 up && "
	"ip neigh replace 10.77.0.2 lladdr " PEER " nud permanent dev cb0 && "
	"ip neigh replace fd77::2 lladdr " PEER " nud permanent dev cb0 && "
	"ip -n cbsrv addr add 10.77.0.2/24 dev eth0 && "
	"ip -n cbsrv addr add fd77::2/64 dev eth0 nodad && "
	"ip -n cbsrv link set eth0 up && ip -n cbsrv link set lo up && "
	NS "sysctl -qw net.ipv4.icmp_ratelimit=0 && "
	NS "sysctl -qw net.ipv6.icmp.ratelimit=0 && "
	"mkdir -p /tmp/www && echo hello >/tmp/www/index.html && "
	NS "httpd -p 80 -h /tmp/www";

/*
 * The veth goes first: a namespace outlives "netns del" while its processes
 * exit and is torn down later by a workqueue, so its cb0 could still exist
 * when the next test adds it. "link del" removes both ends before it returns.
 */
static const char *cb_net_down =
	"ip link del cb0 2>/dev/null; "
	"for p in $(ip netns pids cbsrv 2>/dev/null); do kill $p; done; "
	"ip netns del cbsrv 2>/dev/null; "
	"sysctl -qw net.ipv4.tcp_syn_retries=6";

FIXTURE_SETUP(sense)
{
	cb_sh("cbctl unload 2>/dev/null; %s", cb_net_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("%s", cb_net_up));
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
	snprintf(self->show, sizeof(self->show),
		 "cbctl -j breaker show dst %s port ", variant->ip);
	/* the link is up and the server answers */
	ASSERT_EQ(0, cb_sh("for i in 1 2 3 4 5 6 7 8 9 10; do "
			   "curl -sf -m 2 http://%s/ >/dev/null && exit 0; "
			   "sleep 0.5; done; exit 1", variant->url));
}

FIXTURE_TEARDOWN(sense)
{
	cb_join_cgroup(CB_CGROOT);
	cb_sh("cbctl unload; %s", cb_net_down);
	rmdir(CG);
}

/* The breaker of @port as JSON in @out; cbctl's exit status. */
static int show(struct _test_data_sense *self, unsigned short port,
		const char *proto, char *out, size_t len)
{
	return cb_sh_out(out, len, "%s%u proto %s", self->show, port, proto);
}

/* The breaker of @ip @port (TCP) as JSON in @out; cbctl's exit status. */
static int show_at(const char *ip, unsigned short port, char *out, size_t len)
{
	return cb_sh_out(out, len, "cbctl -j breaker show dst %s port %u", ip,
			 port);
}

/* The loopback address of @ip's family. */
static const char *loopback(const char *ip)
{
	return strchr(ip, ':') ? "::1" : "127.0.0.1";
}

#define POLICY(fmt, ...) ASSERT_EQ(0, cb_sh("cbctl policy add " fmt, ##__VA_ARGS__))

TEST_F(sense, resets_trip_then_refusal_sends_nothing)
{
	unsigned long long tx;
	char out[4096];
	int i;

	POLICY("dst %s port 81 window 10 min-calls 3 open 60s", variant->ip);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(3, cb_json_num(out, "failures"));

	tx = cb_read_ull(TX);
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	EXPECT_EQ(tx, cb_read_ull(TX));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
	EXPECT_EQ(3, cb_json_num(out, "failures"));	/* refusals are not failures */
	/* other ports of the host are not affected */
	ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
}

/* An fd of the map cbctl pinned as @name, or -1. */
static int cb_pinned(const char *name)
{
	char path[128];
	union bpf_attr a = { .pathname = (__u64)(unsigned long)path };

	snprintf(path, sizeof(path), "%s/%s", CB_PIN_DIR, name);
	return syscall(__NR_bpf, BPF_OBJ_GET, &a, sizeof(a));
}

/* The filled ways of the hooks' gate (struct cb_gate_set), or -1. */
static int cb_gate_ways(void)
{
	int fd = cb_pinned("gate"), w, n = 0;
	struct cb_gate_set g;
	union bpf_attr a;
	__u32 i;

	for (i = 0; fd >= 0 && i < CB_GATE_SETS && n >= 0; i++) {
		memset(&a, 0, sizeof(a));
		a.map_fd = fd;
		a.key = (__u64)(unsigned long)&i;
		a.value = (__u64)(unsigned long)&g;
		if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)))
			n = -1;
		for (w = 0; n >= 0 && w < CB_GATE_WAYS; w++)
			n += !!g.way[w];
	}
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : n;
}

/*
 * After its first connects a healthy breaker's are admitted by the hooks'
 * gate, without the breaker: they count as calls all the same, and a
 * forced state, a reset and a trip by failures each reach the next connect.
 */
TEST_F(sense, connects_the_gate_admits_count_and_follow_every_change)
{
	unsigned long long tx;
	char out[4096];
	int i;

	POLICY("dst %s port 80 window 10 min-calls 3 open 60s", variant->ip);
	ASSERT_EQ(0, cb_gate_ways());
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
	EXPECT_EQ(1, cb_gate_ways());	/* the gate holds it */
	ASSERT_EQ(0, show(self, 80, "tcp", out, sizeof(out)));
	EXPECT_EQ(5, cb_json_num(out, "calls"));
	EXPECT_EQ(5, cb_json_num(out, "successes"));

	ASSERT_EQ(0, cb_sh("cbctl breaker trip dst %s port 80", variant->ip));
	EXPECT_EQ(0, cb_gate_ways());
	tx = cb_read_ull(TX);
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 80, SOCK_STREAM));
	EXPECT_EQ(tx, cb_read_ull(TX));
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst %s port 80", variant->ip));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
	EXPECT_EQ(1, cb_gate_ways());

	/* a trip by failures, the last of them admitted by the gate */
	POLICY("dst %s port 81 window 10 min-calls 5 open 60s", variant->ip);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	tx = cb_read_ull(TX);
	EXPECT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	EXPECT_EQ(tx, cb_read_ull(TX));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(5, cb_json_num(out, "calls"));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
	EXPECT_EQ(1, cb_gate_ways());	/* port 80's only */
}

/* One socket, two handshakes: each outcome counts once, for its own port. */
TEST_F(sense, a_socket_that_connects_again_counts_each_handshake)
{
	struct sockaddr_storage ss;
	char out[4096];
	socklen_t len;
	int fd;

	POLICY("dst %s window 10 min-calls 5", variant->ip);
	len = cb_addr(variant->ip, 81, &ss);
	ASSERT_LE(0, fd = socket(ss.ss_family, SOCK_STREAM, 0));
	ASSERT_NE(0, connect(fd, (void *)&ss, len));
	ASSERT_EQ(ECONNREFUSED, errno);
	len = cb_addr(variant->ip, 80, &ss);
	ASSERT_EQ(0, connect(fd, (void *)&ss, len));
	close(fd);
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "failures"));
	EXPECT_EQ(0, cb_json_num(out, "successes"));
	ASSERT_EQ(0, show(self, 80, "tcp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
}

/* Wait for non-blocking connects to end; returns how many timed out. */
static int wait_timeouts(int *fds, int n, int ms)
{
	unsigned long long end = cb_now_ms() + ms;
	int i, done = 0, timedout = 0, err;
	socklen_t len = sizeof(err);

	while (done < n && cb_now_ms() < end) {
		for (i = 0; i < n; i++) {
			struct pollfd p = { .fd = fds[i], .events = POLLOUT };

			if (fds[i] < 0 || poll(&p, 1, 0) != 1)
				continue;
			getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
			timedout += err == ETIMEDOUT;
			close(fds[i]);
			fds[i] = -1;
			done++;
		}
		usleep(50000);
	}
	return timedout;
}

TEST_F(sense, syn_timeouts_trip)
{
	char out[4096];
	int fds[2], i;

	POLICY("dst %s port 80 window 4 min-calls 2 open 60s", variant->ip);
	ASSERT_EQ(0, cb_sh("sysctl -qw net.ipv4.tcp_syn_retries=1 && "
			   "tc qdisc add dev cb0 root netem loss 100%%"));
	for (i = 0; i < 2; i++)
		ASSERT_LE(0, fds[i] = cb_connect_start(variant->ip, 80));
	/* 1 s + 2 s of retransmission, and TCG's slowness */
	ASSERT_EQ(2, wait_timeouts(fds, 2, 15000));
	ASSERT_EQ(0, show(self, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(2, cb_json_num(out, "failures"));
	/* a blackhole costs nothing more: refused, not another 3 s wait */
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 80, SOCK_STREAM));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_LE(2, cb_json_num(out, "fail_timeout"));	/* since the module loaded */
}

/* The test host routes for a network it cannot reach: SYNs get ICMP errors. */
TEST_F(sense, icmp_unreachable_answers_to_syns_trip)
{
	char out[4096];
	int i, err;

	ASSERT_EQ(0, cb_sh(NS "sysctl -qw net.ipv4.ip_forward=1 && "
			   NS "sysctl -qw net.ipv6.conf.all.forwarding=1 && "
			   NS "ip route add unreachable 10.77.5.0/24 && "
			   NS "ip -6 route add unreachable fd77:5::/64 && "
			   "ip route add 10.77.5.0/24 via 10.77.0.2 && "
			   "ip -6 route add fd77:5::/64 via fd77::2"));
	POLICY("dst %s window 4 min-calls 2 open 60s", variant->far);
	for (i = 0; i < 2; i++) {
		err = cb_connect(variant->far, 80, SOCK_STREAM);
		/* host unreachable (IPv4), no route (IPv6) */
		ASSERT_TRUE(err == -EHOSTUNREACH || err == -ENETUNREACH);
	}
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker show dst %s port 80",
			       variant->far));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(2, cb_json_num(out, "failures"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->far, 80, SOCK_STREAM));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_LE(2, cb_json_num(out, "fail_unreachable"));
}

TEST_F(sense, slow_handshakes_trip_on_the_slow_rate)
{
	char out[4096];
	int i;

	POLICY("dst %s port 80 window 5 min-calls 3 slow 100ms slow-rate 60 open 60s",
	       variant->ip);
	ASSERT_EQ(0, cb_sh("tc qdisc add dev cb0 root netem delay 250ms"));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_connect(variant->ip, 80, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(3, cb_json_num(out, "slow"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(3, cb_json_num(out, "successes"));
}

/* The backend dies, the breaker opens; it comes back, the breaker closes
 * by itself: nobody touches cbctl. Watched with cbctl monitor.
 */
TEST_F(sense, recovers_by_itself_when_the_backend_returns)
{
	char out[8192], *a, *b, *c;
	int i;

	POLICY("dst %s port 8081 window 4 min-calls 2 open 1s jitter 0 probes 2 probe-success 100",
	       variant->ip);
	ASSERT_EQ(0, cb_sh("cbctl -j monitor >/tmp/mon 2>&1 & echo $! >/tmp/mon.pid"));
	ASSERT_EQ(0, cb_monitor_listens("/tmp/mon.pid", 10000));
	for (i = 0; i < 2; i++)	/* busybox nc: another unmodified client */
		EXPECT_NE(0, cb_sh("nc -w 5 %s 8081 </dev/null 2>/dev/null", variant->ip));
	ASSERT_EQ(0, show(self, 8081, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));

	ASSERT_EQ(0, cb_sh(NS "httpd -p 8081 -h /tmp/www"));
	usleep(1300000);
	ASSERT_EQ(0, show(self, 8081, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"half-open\""));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, cb_sh("curl -sf -m 5 http://%s:8081/ >/dev/null", variant->url));
	ASSERT_EQ(0, show(self, 8081, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));

	usleep(300000);
	cb_sh("kill $(cat /tmp/mon.pid)");
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cat /tmp/mon"));
	TH_LOG("%s", out);
	a = strstr(out, "\"from\":\"closed\",\"to\":\"open\",\"reason\":\"failure-rate\"");
	b = strstr(out, "\"from\":\"open\",\"to\":\"half-open\",\"reason\":\"open-elapsed\"");
	c = strstr(out, "\"from\":\"half-open\",\"to\":\"closed\",\"reason\":\"probes-ok\"");
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, c);
	EXPECT_LT(a, b);
	EXPECT_LT(b, c);
	EXPECT_EQ(NULL, strstr(out, "lost"));
}

/* Nobody calls or looks: the sweeper alone moves the breaker, and says so. */
TEST_F(sense, time_alone_half_opens_with_an_event)
{
	char out[8192];
	int i;

	POLICY("dst %s port 81 window 4 min-calls 2 open 1s jitter 0", variant->ip);
	ASSERT_EQ(0, cb_sh("cbctl -j monitor >/tmp/mon 2>&1 & echo $! >/tmp/mon.pid"));
	/* the monitor listens before the trip */
	ASSERT_EQ(0, cb_monitor_listens("/tmp/mon.pid", 10000));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	sleep(3 * cb_timeout_scale());
	cb_sh("kill $(cat /tmp/mon.pid)");
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cat /tmp/mon"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"from\":\"closed\",\"to\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"from\":\"open\",\"to\":\"half-open\",\"reason\":\"open-elapsed\""));
}

TEST_F(sense, a_time_window_ages_out_old_successes)
{
	char out[4096];
	int i;

	/* successes to port 81 while a server listens there ... */
	ASSERT_EQ(0, cb_sh(NS "httpd -f -p 81 -h /tmp/www & echo $! >/tmp/h81.pid"));
	for (i = 0; i < 50 && cb_connect(variant->ip, 81, SOCK_STREAM); i++)
		usleep(100000);
	POLICY("dst %s port 81 window 2s min-calls 3 failure-rate 50 open 60s",
	       variant->ip);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, cb_connect(variant->ip, 81, SOCK_STREAM));
	/* ... then it dies; 3 failures of 9 calls would not trip, */
	cb_sh("kill $(cat /tmp/h81.pid)");
	usleep(2600000);
	/* but the successes left the window */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_EQ(5, cb_json_num(out, "successes"));
}

TEST_F(sense, a_probe_that_never_completes_cannot_hang_half_open)
{
	/* seconds, as many as the debug kernel needs to see each state */
	unsigned int k = cb_timeout_scale();
	char out[4096];
	int fd, i;

	POLICY("dst %s port 81 window 2 min-calls 2 open %us jitter 0 probes 1 "
	       "probe-wait %us", variant->ip, k, k);
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, cb_sh("tc qdisc add dev cb0 root netem loss 100%%"));
	usleep(1200000 * k);
	fd = cb_connect_start(variant->ip, 81);	/* the probe: into a blackhole */
	ASSERT_LE(0, fd);
	/* only one probe is placed */
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"half-open\""));
	/*
	 * The unfinished probe fails at its deadline: the breaker opens
	 * again (its second trip), however late this look comes; a slow
	 * machine may find it half-open once more by then.
	 */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
		if (cb_json_num(out, "trips") >= 2)
			break;
		usleep(100000 * k);
	}
	TH_LOG("%s", out);
	EXPECT_EQ(2, cb_json_num(out, "trips"));
	EXPECT_EQ(NULL, strstr(out, "\"state\":\"closed\""));
	close(fd);
}

/*
 * One datagram from a new UDP socket connected to @ip @port, which waits
 * @ms for an error to come back; 0, or the errno connect() or send() got.
 */
static int udp_connected_send(const char *ip, unsigned short port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&ss, len) || send(fd, "x", 1, 0) != 1)
		err = -errno;
	else
		usleep(ms * 1000);
	close(fd);
	return err;
}

/*
 * Port unreachable for a connected socket, which the kernel reports to it
 * (an unconnected one hears of it only with IP_RECVERR: cb_plain).
 */
TEST_F(sense, udp_port_unreachable_trips)
{
	char out[4096];
	int i, err = 0;

	POLICY("dst %s port 5353 proto udp window 5 min-calls 3 open 60s", variant->ip);
	for (i = 0; i < 10; i++) {
		/* for the ICMP error to come back */
		err = udp_connected_send(variant->ip, 5353, 300);
		if (err)
			break;
	}
	ASSERT_EQ(-ECONNREFUSED, err);
	ASSERT_EQ(0, show(self, 5353, "udp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_LE(2, cb_json_num(out, "failures"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_LE(2, cb_json_num(out, "fail_port_unreachable"));
	/* a datagram to a port that answers is another destination */
	ASSERT_EQ(0, cb_sendto(variant->ip, 5354));
}

TEST_F(sense, dry_run_measures_and_refuses_nothing)
{
	long long passed, refused;
	unsigned long long tx;
	char out[4096];
	int i;

	/* module-wide counters: compare before and after */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	passed = cb_json_num(out, "dry_run_passed");
	refused = cb_json_num(out, "refused");
	POLICY("dst %s port 81 window 2 min-calls 2 open 60s mode dry-run", variant->ip);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	tx = cb_read_ull(TX);
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	EXPECT_LT(tx, cb_read_ull(TX));		/* the SYN went out */
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"mode\":\"dry-run\""));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	EXPECT_EQ(passed + 1, cb_json_num(out, "dry_run_passed"));
	EXPECT_EQ(refused, cb_json_num(out, "refused"));
}

/*
 * A rule with a port beats one without; among those, the longest prefix.
 * A destination that no rule covers is never tracked.
 */
TEST_F(sense, the_most_specific_policy_governs)
{
	const char *net = strchr(variant->ip, ':') ? "fd77::/64" : "10.77.0.0/24";
	char out[4096];
	int i;

	POLICY("dst %s window 10 min-calls 2", net);
	POLICY("dst %s port 81 window 10 min-calls 3", variant->ip);
	POLICY("dst %s window 100 min-calls 50", variant->ip);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 82, SOCK_STREAM));
	}
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));	/* 2 < 3 */
	ASSERT_EQ(0, show(self, 82, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));	/* /32 beats /24 */
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));

	/* the /32 without port goes: the /24 governs port 82 now */
	ASSERT_EQ(0, cb_sh("cbctl policy del dst %s", variant->ip));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 82, SOCK_STREAM));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 82, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 82, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));

	/* no rule, no default: never tracked */
	ASSERT_EQ(-ECONNREFUSED, cb_connect(loopback(variant->ip), 9, SOCK_STREAM));
	EXPECT_NE(0, cb_sh("cbctl breaker show dst %s port 9 2>/dev/null",
			   loopback(variant->ip)));
}

/* Changing a policy applies to its breakers and keeps what they measured. */
TEST_F(sense, a_policy_change_keeps_the_breakers_state)
{
	char out[4096];
	int i;

	POLICY("dst %s port 81 window 10 min-calls 5 open 60s", variant->ip);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
	EXPECT_EQ(3, cb_json_num(out, "window_failures"));

	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port 81 min-calls 4", variant->ip));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_EQ(3, cb_json_num(out, "window_failures"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	/* and the rest of the policy is as it was */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j policy show dst %s port 81",
			       variant->ip));
	EXPECT_EQ(4, cb_json_num(out, "min_calls"));
	EXPECT_EQ(60000000000LL, cb_json_num(out, "open_ns"));
	EXPECT_EQ(10, cb_json_num(out, "window_calls"));
}

/* Processes outside the attached cgroup are neither refused nor counted. */
TEST_F(sense, outside_the_cgroup_is_neither_refused_nor_counted)
{
	char out[4096];
	int status;
	pid_t pid;

	POLICY("dst %s port 81 window 2 min-calls 2 open 60s", variant->ip);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int i, refused = 0;

		if (cb_join_cgroup(CB_CGROOT))
			_exit(2);
		for (i = 0; i < 4; i++)
			refused += cb_connect(variant->ip, 81, SOCK_STREAM) == -ECONNREFUSED;
		_exit(refused == 4 ? 0 : 1);	/* 4 real resets */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* nothing was measured: no breaker at all */
	EXPECT_NE(0, show(self, 81, "tcp", out, sizeof(out)));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "calls"));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
}

/* Breakers opened together do not probe together. */
TEST_F(sense, jitter_spreads_breakers_opened_together)
{
	long long lo = -1, hi = -1, d, at, until;
	char out[65536], *p;
	int port, n = 0;

	POLICY("dst %s window 1 min-calls 1 open 10s jitter 50", variant->ip);
	for (port = 2000; port < 2020; port++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, port, SOCK_STREAM));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker list state open"));
	for (p = out; (p = strstr(p, "\"opened_at\":")); p++) {
		at = cb_json_num(p, "opened_at");
		until = cb_json_num(p, "open_until");
		d = until - at;
		ASSERT_LE(10000000000LL, d);
		ASSERT_GE(15000000000LL, d);
		lo = lo < 0 || d < lo ? d : lo;
		hi = d > hi ? d : hi;
		n++;
	}
	ASSERT_EQ(20, n);
	TH_LOG("open periods from %lld to %lld ns", lo, hi);
	EXPECT_LT(1000000000LL, hi - lo);
}

/* The slots of the hooks' connect notes (the pinned array's size), or 0. */
static __u32 cb_note_slots(void)
{
	struct bpf_map_info info = {};
	int fd = cb_pinned("conns");
	union bpf_attr a;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = fd;
	a.info.info_len = sizeof(info);
	a.info.info = (__u64)(unsigned long)&info;
	if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/*
 * A handshake's note outlives a later connect whose cookie falls on its
 * slot: that connect takes the next slot, and a blackholed SYN abandoned
 * afterwards still counts. Sockets made only for their cookie bring the
 * cookies round to the slot in seconds, where connects alone took longer
 * than a note lives (137 s) on the debug kernel.
 */
TEST_F_TIMEOUT(sense, a_handshake_outlives_a_later_one_on_its_slot, 300)
{
	const char *lo = loopback(variant->ip);
	unsigned long long t0, cookie, c;
	socklen_t clen = sizeof(c), len;
	struct sockaddr_storage ss;
	unsigned short port;
	int lfd, fd, s, hit = 0;
	char out[4096];
	__u32 slots, i;
	cpu_set_t cpu;

	/* one CPU's cookies come in runs of consecutive ones */
	CPU_ZERO(&cpu);
	CPU_SET(sched_getcpu(), &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	ASSERT_NE(0, slots = cb_note_slots());
	ASSERT_LE(0, lfd = cb_listener(lo, SOCK_STREAM, &port));
	len = cb_addr(lo, port, &ss);
	POLICY("dst %s port %u window 100 min-calls 100", lo, port);
	POLICY("dst %s port 80 window 4 min-calls 2 slow 1s", variant->ip);
	ASSERT_EQ(0, cb_sh("tc qdisc add dev cb0 root netem loss 100%%"));
	/* as minutes on the debug kernel leave it: the server's entry aged */
	ASSERT_EQ(0, cb_sh("ip neigh flush dev cb0"));
	t0 = cb_now_ms();
	ASSERT_LE(0, fd = cb_connect_start(variant->ip, 80));
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &clen));
	for (i = 0; !hit && i < 16 * slots; i++) {
		ASSERT_LE(0, s = socket(ss.ss_family, SOCK_STREAM, 0));
		ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_COOKIE, &c, &clen));
		hit = c % slots == cookie % slots;
		if (hit) {
			ASSERT_EQ(0, connect(s, (void *)&ss, len));
			ASSERT_EQ(1, cb_got(lfd, SOCK_STREAM, 2000));
		}
		close(s);
	}
	TH_LOG("cookie %llu's slot again after %u sockets: %llu", cookie, i, c);
	ASSERT_TRUE(hit);
	/* the later connect was noted and counted: in the next slot */
	ASSERT_EQ(0, show_at(lo, port, out, sizeof(out)));
	EXPECT_EQ(1, cb_json_num(out, "successes"));
	/* past the 3 s in which a neighbour resolution would have failed */
	while (cb_now_ms() - t0 < 4000)
		usleep(100 * 1000);
	close(fd);	/* abandoned after the slow threshold: a failure */
	ASSERT_EQ(0, show(self, 80, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(1, cb_json_num(out, "abandoned"));
	EXPECT_EQ(1, cb_json_num(out, "failures"));
	close(lfd);
}

/*
 * fail-on's classes after the handshake, against a backend (a listener of
 * this test, on loopback) that accepts and then does @how: BE_RESET closes
 * with an RST (SO_LINGER 0), BE_DROP closes before sending a byte, BE_SERVE
 * sends a byte and then closes. The client connects (its socket bound to
 * device @dev for the handshake only, if not NULL), waits @wait_ms, then
 * reads: -ECONNRESET, 0 (end of stream) or 1 (a byte), as it saw it.
 */
enum { BE_RESET, BE_DROP, BE_SERVE };

static int backend_call_dev(const char *ip, unsigned short port, int lfd,
			    int how, int wait_ms, const char *dev)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	struct pollfd p = { .events = POLLIN };
	socklen_t len = cb_addr(ip, port, &ss);
	int c, a, ret;
	char byte;

	c = socket(ss.ss_family, SOCK_STREAM, 0);
	if (c < 0)
		return -errno;
	if ((dev && setsockopt(c, SOL_SOCKET, SO_BINDTODEVICE, dev, strlen(dev))) ||
	    connect(c, (void *)&ss, len)) {
		ret = -errno;
		close(c);
		return ret;
	}
	if (dev)
		setsockopt(c, SOL_SOCKET, SO_BINDTODEVICE, "", 0);
	p.fd = lfd;
	a = poll(&p, 1, 2000) == 1 ? accept(lfd, NULL, NULL) : -1;
	if (a < 0) {
		close(c);
		return -EIO;
	}
	usleep(wait_ms * 1000);
	if (how == BE_RESET)
		setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (how == BE_SERVE && write(a, "x", 1) != 1)
		ret = -EIO;
	close(a);
	ret = recv(c, &byte, 1, 0);
	if (ret < 0)
		ret = -errno;
	close(c);
	return ret;
}

static int backend_call(const char *ip, unsigned short port, int lfd, int how,
			int wait_ms)
{
	return backend_call_dev(ip, port, lfd, how, wait_ms, NULL);
}

/* A backend that accepts and resets: each reset is a failure, it trips. */
TEST_F(sense, fail_on_reset_counts_resets_after_the_handshake)
{
	const char *lo = loopback(variant->ip);
	long long resets = cb_status_num("fail_reset");
	unsigned short port;
	char out[4096];
	int lfd, i;

	ASSERT_LE(0, lfd = cb_listener(lo, SOCK_STREAM, &port));
	/* without reset in fail-on: successes, as the handshakes were */
	POLICY("dst %s port %u window 10 min-calls 3", lo, port);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(-ECONNRESET, backend_call(lo, port, lfd, BE_RESET, 0));
	ASSERT_EQ(0, show_at(lo, port, out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(3, cb_json_num(out, "successes"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));

	ASSERT_EQ(0, cb_sh("cbctl policy change dst %s port %u window 10 "
			   "min-calls 4 failure-rate 75 fail-on default,reset",
			   lo, port));
	ASSERT_EQ(0, cb_sh("cbctl breaker reset dst %s port %u", lo, port));
	/* served, then closed: a success */
	ASSERT_EQ(1, backend_call(lo, port, lfd, BE_SERVE, 0));
	/* a socket its owner steered (bound to a device) for its handshake:
	 * its success was not counted, nor is its reset once it is not
	 */
	ASSERT_EQ(-ECONNRESET, backend_call_dev(lo, port, lfd, BE_RESET, 0, "lo"));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(-ECONNRESET, backend_call(lo, port, lfd, BE_RESET, 0));
	ASSERT_EQ(0, show_at(lo, port, out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_EQ(4, cb_json_num(out, "successes"));	/* 7 counted in all */
	EXPECT_EQ(8, cb_json_num(out, "calls"));
	EXPECT_EQ(resets + 3, cb_status_num("fail_reset"));
	EXPECT_EQ(-ECONNREFUSED, cb_connect(lo, port, SOCK_STREAM));
	close(lfd);
}

/*
 * The overloaded server that accepts and then closes: dropped. One that
 * sends something first, or resets, is not dropped; nor is a drop later
 * than fail-window.
 */
TEST_F(sense, fail_on_dropped_counts_connections_closed_before_a_byte)
{
	const char *lo = loopback(variant->ip);
	long long drops = cb_status_num("fail_dropped");
	unsigned short port;
	char out[4096];
	int lfd, i;

	ASSERT_LE(0, lfd = cb_listener(lo, SOCK_STREAM, &port));
	POLICY("dst %s port %u window 10 min-calls 3 fail-on dropped "
	       "fail-window 500ms", lo, port);
	ASSERT_EQ(1, backend_call(lo, port, lfd, BE_SERVE, 0));
	ASSERT_EQ(-ECONNRESET, backend_call(lo, port, lfd, BE_RESET, 0));
	/* closed without a byte, but after fail-window: no result at all */
	ASSERT_EQ(0, backend_call(lo, port, lfd, BE_DROP, 800));
	ASSERT_EQ(0, show_at(lo, port, out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(3, cb_json_num(out, "successes"));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, backend_call(lo, port, lfd, BE_DROP, 0));
	ASSERT_EQ(0, show_at(lo, port, out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_EQ(3, cb_json_num(out, "failures"));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(drops + 3, cb_status_num("fail_dropped"));
	EXPECT_EQ(-ECONNREFUSED, cb_connect(lo, port, SOCK_STREAM));
	close(lfd);
}

/* A class left out of fail-on counts neither way: refused, here. */
TEST_F(sense, fail_on_without_refused_ignores_refused_handshakes)
{
	long long ignored = cb_status_num("ignored");
	char out[4096];
	int i;

	POLICY("dst %s port 81 window 10 min-calls 3 fail-on timeout,unreachable",
	       variant->ip);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, 81, SOCK_STREAM));
	ASSERT_EQ(0, show(self, 81, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_EQ(0, cb_json_num(out, "successes"));
	EXPECT_EQ(5, cb_json_num(out, "calls"));
	EXPECT_EQ(ignored + 5, cb_status_num("ignored"));
}

TEST_HARNESS_MAIN
