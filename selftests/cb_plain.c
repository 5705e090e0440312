// SPDX-License-Identifier: GPL-2.0
/*
 * Only a plain socket's failures count (issue 31, items 1 and 2), in the
 * guest. A user, without privilege, can make its own calls to a healthy
 * destination fail: a TCP_MD5SIG key or an IPv6 routing header the
 * listener drops, a datagram sent by IP_PKTINFO, IP_UNICAST_IF or
 * IPV6_PKTINFO out of an interface where its destination does not answer.
 * None of these may open the breaker for everyone else: they are counted
 * as ignored. A forged ICMP error for an unconnected UDP socket without
 * IP_RECVERR, which the kernel discards, counts for nothing. And the
 * failures of sockets that only look unusual (a TTL at or above the
 * default, a loopback source bound toward loopback, a connected or
 * IP_RECVERR UDP socket) still count.
 *
 * A test host in namespace cbpl behind veth cp0 (10.79.0.2, fd79::2)
 * answers UDP on port 5353 (a socket that never replies). Veth cq0 leads
 * to namespace cbpq, where nothing answers; a route of low preference to
 * the test host's subnet goes that way, so only a socket that names cq0
 * takes it.
 */
#include "cb_test.h"

#include <grp.h>
#include <sched.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <netinet/udp.h>

#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbplain"
#define JSTATE(s) "\"state\":\"" s "\""
#define POLICY(fmt, ...) ASSERT_EQ(0, cb_sh("cbctl policy add " fmt, ##__VA_ARGS__))
#define TRIPS_AT_2 "window 10 min-calls 2 failure-rate 50 open 30s"

FIXTURE(plain) {
	int udp;	/* the test host's UDP socket, port 5353 */
	int tcp;	/* and its TCP listener, port 80 */
};

FIXTURE_VARIANT(plain) {
	const char *lo;
	const char *srv;
	int v6;
};

FIXTURE_VARIANT_ADD(plain, v4) {
	.lo = "127.0.0.1", .srv = "10.79.0.2", .v6 = 0,
};
FIXTURE_VARIANT_ADD(plain, v6) {
	.lo = "::1", .srv = "fd79::2", .v6 = 1,
};

static const char *plain_down =
	"ip link del cp0 2>/dev/null; ip link del cq0 2>/dev/null; "
	"ip netns del cbpl 2>/dev/null; ip netns del cbpq 2>/dev/null";

/* A socket of @type bound to @ip @port in namespace @ns (listening), or -1. */
static int socket_in_netns(const char *ns, int type, const char *ip,
			   unsigned short port)
{
	int self_ns = open("/proc/self/ns/net", O_RDONLY), ns_fd, fd = -1;
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	ns_fd = open(path, O_RDONLY);
	if (self_ns >= 0 && ns_fd >= 0 && !setns(ns_fd, CLONE_NEWNET)) {
		fd = socket(ss.ss_family, type, 0);
		if (fd >= 0 && (bind(fd, (void *)&ss, len) ||
				(type == SOCK_STREAM && listen(fd, 16)))) {
			close(fd);
			fd = -1;
		}
		if (setns(self_ns, CLONE_NEWNET)) {
			close(fd);
			fd = -1;
		}
	}
	close(ns_fd);
	close(self_ns);
	return fd;
}

FIXTURE_SETUP(plain)
{
	cb_sh("cbctl unload 2>/dev/null; %s", plain_down);
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	ASSERT_EQ(0, cb_sh("ip netns add cbpl && ip netns add cbpq && "
			   "ip link add cp0 type veth peer name eth0 netns cbpl && "
			   "ip link add cq0 type veth peer name eth0 netns cbpq && "
			   "ip addr add 10.79.0.1/24 dev cp0 && "
			   "ip addr add fd79::1/64 dev cp0 nodad && ip link set cp0 up && "
			   "ip addr add 10.79.9.1/24 dev cq0 && "
			   "ip addr add fd79:9::1/64 dev cq0 nodad && ip link set cq0 up && "
			   "ip route add 10.79.0.0/24 dev cq0 metric 2000 && "
			   "ip route add 10.79.0.0/16 dev cq0 && "
			   "ip route add 10.79.5.0/24 via 10.79.0.2 && "
			   "ip -n cbpl addr add 10.79.5.2/32 dev lo && "
			   "ip -6 route add fd79::/64 dev cq0 metric 2000 && "
			   "ip -n cbpl addr add 10.79.0.2/24 dev eth0 && "
			   "ip -n cbpl addr add fd79::2/64 dev eth0 nodad && "
			   "ip -n cbpl link set eth0 up && ip -n cbpl link set lo up && "
			   "ip -n cbpq link set eth0 up"));
	self->udp = socket_in_netns("cbpl", SOCK_DGRAM,
				    variant->v6 ? "::" : "0.0.0.0", 5353);
	ASSERT_LE(0, self->udp);
	self->tcp = socket_in_netns("cbpl", SOCK_STREAM, variant->srv, 80);
	ASSERT_LE(0, self->tcp);
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(plain)
{
	cb_join_cgroup(CB_CGROOT);
	close(self->udp);
	close(self->tcp);
	cb_sh("cbctl unload; %s", plain_down);
	rmdir(CG);
}

/* The breaker of @ip @port @proto as JSON in @out; cbctl's exit status. */
static int show(const char *ip, unsigned short port, const char *proto,
		char *out, size_t len)
{
	return cb_sh_out(out, len, "cbctl -j breaker show dst %s port %u proto %s",
			 ip, port, proto);
}

/* Run @fn(@arg) in a child as nobody (uid and gid 65534); its exit code. */
static int as_nobody(int (*fn)(const void *), const void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(255);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- TCP ---- */

enum tcp_trick { MD5SIG, TCP_AO, RTHDR, TTL_DEFAULT, BIND_LOOPBACK, BIND_CQ0 };

/*
 * setsockopt(TCP_AO_ADD_KEY)'s argument (uapi struct tcp_ao_add, 6.7 on),
 * which glibc's headers lack and <linux/tcp.h> cannot join.
 */
#define CB_TCP_AO_ADD_KEY	38
struct cb_tcp_ao_add {
	struct sockaddr_storage addr;
	char alg_name[64];
	int ifindex;
	unsigned int set_current:1, set_rnext:1, reserved:30;
	unsigned short reserved2;
	unsigned char prefix, sndid, rcvid, maclen, keyflags, keylen;
	unsigned char key[80];
} __attribute__((aligned(8)));

struct dial {
	const char *ip;
	unsigned short port;
	enum tcp_trick trick;
	int n;
};

/* Set up socket @fd, of @ss's family, with @trick. */
static int tcp_trick(int fd, const struct sockaddr_storage *ss, socklen_t len,
		     enum tcp_trick trick)
{
	int v6 = ss->ss_family == AF_INET6, hops = 255;
	struct sockaddr_storage src;
	struct tcp_md5sig md5 = { .tcpm_keylen = 4 };
	struct cb_tcp_ao_add ao = {
		.alg_name = "hmac(sha1)", .prefix = v6 ? 128 : 32,
		.sndid = 100, .rcvid = 100, .keylen = 4,
	};
	/* type 4 (segment routing), two segments, both the destination */
	struct {
		unsigned char nexthdr, hdrlen, type, segments_left;
		unsigned char first_segment, flags;
		unsigned short tag;
		struct in6_addr seg[2];
	} srh = {
		.hdrlen = 4, .type = 4, .segments_left = 1, .first_segment = 1,
	};

	switch (trick) {
	case MD5SIG:
		memcpy(&md5.tcpm_addr, ss, len);
		memcpy(md5.tcpm_key, "cbcb", 4);
		return setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md5, sizeof(md5));
	case TCP_AO:	/* a key for the peer's address, any port */
		memcpy(&ao.addr, ss, len);
		((struct sockaddr_in *)&ao.addr)->sin_port = 0;
		memcpy(ao.key, "cbcb", 4);
		return setsockopt(fd, IPPROTO_TCP, CB_TCP_AO_ADD_KEY, &ao, sizeof(ao));
	case RTHDR:
		srh.seg[0] = ((const struct sockaddr_in6 *)ss)->sin6_addr;
		srh.seg[1] = srh.seg[0];
		return setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, &srh, sizeof(srh));
	case TTL_DEFAULT:
		return v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops,
				       sizeof(hops)) :
			    setsockopt(fd, IPPROTO_IP, IP_TTL, &hops, sizeof(hops));
	case BIND_LOOPBACK:
		len = cb_addr(v6 ? "::1" : "127.0.0.1", 0, &src);
		return bind(fd, (void *)&src, len);
	case BIND_CQ0:	/* ours, on the other link */
		len = cb_addr(v6 ? "fd79:9::1" : "10.79.9.1", 0, &src);
		return bind(fd, (void *)&src, len);
	}
	return -1;
}

/*
 * @d->n connects to @d->ip @d->port, each on a socket set up with
 * @d->trick; how many failed with ETIMEDOUT (in the exit code's bits 0-3)
 * and ECONNREFUSED (bits 4-7).
 */
static int tcp_dials(const void *arg)
{
	const struct dial *d = arg;
	int i, fd, timedout = 0, refused = 0;
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(d->ip, d->port, &ss);

	for (i = 0; i < d->n && i < 15; i++) {
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0 || tcp_trick(fd, &ss, len, d->trick))
			return 255;
		if (connect(fd, (void *)&ss, len)) {
			timedout += errno == ETIMEDOUT;
			refused += errno == ECONNREFUSED;
		}
		close(fd);
	}
	return timedout | refused << 4;
}

/*
 * As nobody, three connects with @trick to a healthy listener under a
 * policy whose connect timeout is 1 s: each handshake is dropped by the
 * listener's side and times out. Root's connect then goes through, the
 * breaker is closed with no failure, and the three are ignored.
 */
static void dropped_handshakes_do_not_count(struct __test_metadata *_metadata,
					    const char *ip, unsigned short port,
					    enum tcp_trick trick)
{
	struct dial d = { .ip = ip, .port = port, .trick = trick, .n = 3 };
	long long ignored = cb_status_num("ignored");
	char out[4096];
	int lfd = -1;

	if (!port)	/* a listener of our own */
		ASSERT_LE(0, lfd = cb_listener(ip, SOCK_STREAM, &d.port));
	POLICY("dst %s port %u " TRIPS_AT_2 " connect-timeout 1s", ip, d.port);
	ASSERT_EQ(3, as_nobody(tcp_dials, &d));		/* all timed out */
	EXPECT_EQ(0, cb_connect(ip, d.port, SOCK_STREAM));
	ASSERT_EQ(0, show(ip, d.port, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_LE(0, ignored);
	EXPECT_LE(ignored + 3, cb_status_num("ignored"));
	close(lfd);
}

TEST_F_TIMEOUT(plain, tcp_md5sig_handshakes_do_not_count, 60)
{
	dropped_handshakes_do_not_count(_metadata, variant->lo, 0, MD5SIG);
}

/* Where the kernel has TCP-AO (not Debian's 6.12) and its hash. */
TEST_F_TIMEOUT(plain, tcp_ao_handshakes_do_not_count, 60)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(variant->lo, 80, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), err;

	ASSERT_LE(0, fd);
	err = tcp_trick(fd, &ss, len, TCP_AO) ? errno : 0;
	close(fd);
	if (err)
		SKIP(return, "no TCP-AO here: %s", strerror(err));
	dropped_handshakes_do_not_count(_metadata, variant->lo, 0, TCP_AO);
}

/* A type-4 routing header with segments left: ::1 drops it (seg6 off). */
TEST_F_TIMEOUT(plain, ipv6_routing_header_handshakes_do_not_count, 60)
{
	if (!variant->v6)
		SKIP(return, "IPv6 only");
	dropped_handshakes_do_not_count(_metadata, variant->lo, 0, RTHDR);
}

/*
 * A source address of ours that the test host has no route back to: its
 * SYN-ACKs go nowhere.
 */
TEST_F_TIMEOUT(plain, a_bound_source_the_peer_cannot_reach_does_not_count, 60)
{
	dropped_handshakes_do_not_count(_metadata, variant->srv, 80, BIND_CQ0);
}

/*
 * Sockets that only look unusual, as nobody: a TTL (hop limit) at or above
 * the default, a loopback source bound toward loopback. Their refused
 * connects count and open the breaker.
 */
static void refusals_count(struct __test_metadata *_metadata, const char *ip,
			   enum tcp_trick trick)
{
	struct dial d = { .ip = ip, .trick = trick, .n = 3 };
	char out[4096];
	int lfd;

	ASSERT_LE(0, lfd = cb_listener(ip, SOCK_STREAM, &d.port));
	close(lfd);	/* a closed port: the kernel resets */
	POLICY("dst %s port %u " TRIPS_AT_2, ip, d.port);
	/* two refused by the kernel, then by the open breaker */
	ASSERT_EQ(3 << 4, as_nobody(tcp_dials, &d));
	ASSERT_EQ(0, show(ip, d.port, "tcp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("open")));
	EXPECT_EQ(2, cb_json_num(out, "failures"));
	EXPECT_EQ(1, cb_json_num(out, "rejected"));
}

TEST_F(plain, a_ttl_at_least_the_default_still_counts)
{
	refusals_count(_metadata, variant->lo, TTL_DEFAULT);
}

TEST_F(plain, a_loopback_source_toward_loopback_still_counts)
{
	refusals_count(_metadata, variant->lo, BIND_LOOPBACK);
}

/* ---- UDP ---- */

enum udp_trick { PLAIN, RECVERR, PKTINFO, UNICAST_IF };

struct send {
	const char *ip;
	unsigned short port;
	enum udp_trick trick;
	int n;
};

/* One datagram to @ss on @fd, with the control message @trick asks for. */
static int udp_send(int fd, const struct sockaddr_storage *ss, socklen_t len,
		    enum udp_trick trick)
{
	int v6 = ss->ss_family == AF_INET6;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl = { 0 };
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr m = {
		.msg_name = (void *)ss, .msg_namelen = len,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *c = &ctl.align;

	if (trick == PKTINFO) {
		m.msg_control = ctl.buf;
		if (v6) {
			struct in6_pktinfo pi = { .ipi6_ifindex = if_nametoindex("cq0") };

			m.msg_controllen = CMSG_SPACE(sizeof(pi));
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else {
			struct in_pktinfo pi = { .ipi_ifindex = if_nametoindex("cq0") };

			m.msg_controllen = CMSG_SPACE(sizeof(pi));
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
	}
	return sendmsg(fd, &m, 0) == 1 ? 0 : -1;
}

/* A UDP socket set up with @trick (each but PLAIN asks for IP_RECVERR). */
static int udp_socket(int family, enum udp_trick trick)
{
	int fd = socket(family, SOCK_DGRAM, 0), one = 1;
	int idx = htonl(if_nametoindex("cq0"));	/* network order, both */
	int v6 = family == AF_INET6;

	if (fd < 0 || trick == PLAIN)
		return fd;
	if (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) :
		 setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)))
		goto fail;
	if (trick == UNICAST_IF &&
	    (v6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_IF, &idx, sizeof(idx)) :
		  setsockopt(fd, IPPROTO_IP, IP_UNICAST_IF, &idx, sizeof(idx))))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * @s->n datagrams at once, one per socket set up with @s->trick, then
 * long enough for any error to come back (neighbour resolution gives up
 * after 3 s); how many sockets were told of one.
 */
static int udp_sends(const void *arg)
{
	const struct send *s = arg;
	int i, told = 0, err, fds[8];
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(s->ip, s->port, &ss), elen;

	for (i = 0; i < s->n && i < 8; i++) {
		fds[i] = udp_socket(ss.ss_family, s->trick);
		if (fds[i] < 0 || udp_send(fds[i], &ss, len, s->trick))
			return 255;
	}
	sleep(5);
	for (i = 0; i < s->n && i < 8; i++) {
		elen = sizeof(err);
		if (!getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &elen) && err)
			told++;
		close(fds[i]);
	}
	return told;
}

/*
 * As nobody, datagrams to the test host sent out of cq0, where its address
 * resolves to nobody: our own host answers host unreachable, and tells the
 * sockets (IP_RECVERR). The test host is fine: the breaker stays closed and
 * root's datagram arrives.
 */
static void steered_datagrams_do_not_count(struct __test_metadata *_metadata,
					   FIXTURE_DATA(plain) *self,
					   const char *srv, enum udp_trick trick)
{
	struct send s = { .ip = srv, .port = 5353, .trick = trick, .n = 4 };
	long long ignored = cb_status_num("ignored");
	char out[4096];

	POLICY("dst %s port 5353 proto udp " TRIPS_AT_2, srv);
	/* each socket was told: the errors are real, for that path */
	EXPECT_EQ(4, as_nobody(udp_sends, &s));
	ASSERT_EQ(0, show(srv, 5353, "udp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	EXPECT_LE(0, ignored);
	EXPECT_LT(ignored, cb_status_num("ignored"));
	while (cb_got(self->udp, SOCK_DGRAM, 0))
		;
	EXPECT_EQ(0, cb_sendto(srv, 5353));
	EXPECT_EQ(1, cb_got(self->udp, SOCK_DGRAM, 1000));
}

TEST_F_TIMEOUT(plain, udp_pktinfo_out_of_another_interface_does_not_count, 60)
{
	steered_datagrams_do_not_count(_metadata, self, variant->srv, PKTINFO);
}

TEST_F_TIMEOUT(plain, udp_unicast_if_out_of_another_interface_does_not_count, 60)
{
	steered_datagrams_do_not_count(_metadata, self, variant->srv, UNICAST_IF);
}

/* ---- ICMP errors the kernel does or does not report ---- */

/*
 * A port unreachable from loopback, forged with a raw socket, quoting a
 * datagram from @lo:@sport to @lo:@dport.
 */
static int forge_port_unreach(const char *lo, unsigned short sport,
			      unsigned short dport)
{
	struct sockaddr_storage to;
	socklen_t tolen = cb_addr(lo, 0, &to);
	int fd, ret;

	fd = socket(to.ss_family, SOCK_RAW, to.ss_family == AF_INET6 ?
		    IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0)
		return -1;
	ret = cb_forge_unreach(fd, &to, tolen, lo, lo, sport, dport);
	close(fd);
	return ret;
}

/*
 * An unconnected UDP socket without IP_RECVERR sends to a healthy loopback
 * listener, and after each datagram someone forges a port unreachable that
 * quotes it. The kernel discards such an error for the socket (SO_ERROR
 * stays 0); it is no failure.
 */
TEST_F(plain, forged_icmp_the_kernel_discards_does_not_count)
{
	struct sockaddr_storage ss;
	unsigned short port, sport = 0;
	int lfd, fd, i, err = -1;
	socklen_t len, elen = sizeof(err);
	char out[4096];

	ASSERT_LE(0, lfd = cb_listener(variant->lo, SOCK_DGRAM, &port));
	POLICY("dst %s port %u proto udp " TRIPS_AT_2, variant->lo, port);
	len = cb_addr(variant->lo, port, &ss);
	ASSERT_LE(0, fd = socket(ss.ss_family, SOCK_DGRAM, 0));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(1, sendto(fd, "x", 1, 0, (void *)&ss, len));
		ASSERT_EQ(1, cb_got(lfd, SOCK_DGRAM, 1000));
		if (!i) {
			struct sockaddr_storage me;
			socklen_t mlen = sizeof(me);

			ASSERT_EQ(0, getsockname(fd, (void *)&me, &mlen));
			sport = ntohs(((struct sockaddr_in *)&me)->sin_port);
		}
		ASSERT_EQ(0, forge_port_unreach(variant->lo, sport, port));
		usleep(100000);
	}
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen));
	EXPECT_EQ(0, err);	/* the kernel told the socket nothing */
	ASSERT_EQ(0, show(variant->lo, port, "udp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("closed")));
	EXPECT_EQ(0, cb_json_num(out, "failures"));
	close(fd);
	close(lfd);
}

/*
 * Errors the kernel reports to the socket count: a port unreachable for a
 * connected socket (a hard error), or for an unconnected one that asked
 * with IP_RECVERR. As nobody, from a closed loopback port.
 */
static int udp_refused(const void *arg)
{
	const struct send *s = arg;
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(s->ip, s->port, &ss), elen;
	int i, fd, err, told = 0;

	for (i = 0; i < s->n; i++) {
		fd = udp_socket(ss.ss_family, s->trick);
		if (fd < 0)
			return 255;
		if (s->trick == PLAIN && connect(fd, (void *)&ss, len)) {
			told += errno == ECONNREFUSED;	/* by the breaker */
			close(fd);
			continue;
		}
		if (sendto(fd, "x", 1, 0, s->trick == PLAIN ? NULL : (void *)&ss,
			   s->trick == PLAIN ? 0 : len) != 1) {
			told += errno == ECONNREFUSED;
			close(fd);
			continue;
		}
		usleep(100000);
		elen = sizeof(err);
		if (!getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
			told += err == ECONNREFUSED;
		close(fd);
	}
	return told;
}

static void reported_errors_count(struct __test_metadata *_metadata,
				  const char *lo, enum udp_trick trick)
{
	struct send s = { .ip = lo, .trick = trick, .n = 3 };
	char out[4096];
	int lfd;

	ASSERT_LE(0, lfd = cb_listener(lo, SOCK_DGRAM, &s.port));
	close(lfd);
	POLICY("dst %s port %u proto udp " TRIPS_AT_2, lo, s.port);
	EXPECT_EQ(3, as_nobody(udp_refused, &s));
	ASSERT_EQ(0, show(lo, s.port, "udp", out, sizeof(out)));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, JSTATE("open")));
	EXPECT_EQ(2, cb_json_num(out, "failures"));
}

TEST_F(plain, a_connected_sockets_port_unreachable_counts)
{
	reported_errors_count(_metadata, variant->lo, PLAIN);
}

TEST_F(plain, an_ip_recverr_sockets_port_unreachable_counts)
{
	reported_errors_count(_metadata, variant->lo, RECVERR);
}

TEST_HARNESS_MAIN
