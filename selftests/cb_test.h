/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the guest selftests, stress/ and bench/: shell,
 * sockets, cgroups, clock, JSON numbers, summary statistics.
 */
#ifndef _CB_TEST_H
#define _CB_TEST_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The harness arms alarm(timeout) around each test. On the debug kernel
 * (KASAN and lockdep under TCG, several times slower) make check-debug sets
 * CB_TIMEOUT_SCALE to stretch every timeout alike, and the few bounds a
 * test puts on how long something took (cb_timeout_scale()). The alarm
 * is there for a test that hangs, not one the machine slows: under TCG,
 * with other guests on the same cores, tests of a few seconds took over
 * 30, so it rings at CB_ALARM_SLACK times the timeout a test declares.
 */
#define CB_ALARM_SLACK 4
static inline unsigned int cb_timeout_scale(void)
{
	const char *scale = getenv("CB_TIMEOUT_SCALE");
	int k = scale ? atoi(scale) : 1;

	return k > 0 ? k : 1;
}

static inline unsigned int cb_alarm(unsigned int seconds)
{
	return alarm(seconds * cb_timeout_scale() * CB_ALARM_SLACK);
}
#define alarm cb_alarm

/* Run a shell command built from @fmt; returns its exit status, -1 if it
 * did not exit. Output goes to @out (if not NULL, NUL-terminated).
 */
static inline int cb_sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int cb_sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out) {
		while (n + 1 < len && !feof(p)) {
			n += fread(out + n, 1, len - 1 - n, p);
			if (ferror(p))
				break;
		}
		out[n] = '\0';
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define cb_sh(...) cb_sh_out(NULL, 0, __VA_ARGS__)

/* A sockaddr for "127.0.0.1" or "::1" style literals. */
static inline socklen_t cb_addr(const char *ip, unsigned short port,
				struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (void *)ss;
	struct sockaddr_in *s4 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
		return 0;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	return sizeof(*s6);
}

/* A bound (and, for TCP, listening) socket on @ip; its port in *@port. */
static inline int cb_listener(const char *ip, int type, unsigned short *port)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, 0, &ss);
	int fd = socket(ss.ss_family, type | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (void *)&ss, len) ||
	    (type == SOCK_STREAM && listen(fd, 16)) ||
	    getsockname(fd, (void *)&ss, &len))
		return -1;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* connect() a new socket; returns 0 or -errno. The socket is closed. */
static inline int cb_connect(const char *ip, unsigned short port, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, type, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&ss, len))
		err = -errno;
	close(fd);
	return err;
}

/* sendto() one datagram from a new UDP socket; returns 0 or -errno. */
static inline int cb_sendto(const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (sendto(fd, "x", 1, 0, (void *)&ss, len) != 1)
		err = -errno;
	close(fd);
	return err;
}

/* Did @fd get a connection or datagram within @ms? Accepts/reads it. */
static inline int cb_got(int fd, int type, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[16];
	int c;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (type == SOCK_DGRAM)
		return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	c = accept(fd, NULL, NULL);
	if (c < 0)
		return 0;
	close(c);
	return 1;
}

static inline unsigned long long cb_read_ull(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static inline unsigned long long cb_lo_tx_packets(void)
{
	return cb_read_ull("/sys/class/net/lo/statistics/tx_packets");
}

/* Move the calling process into the cgroup at @dir. */
static inline int cb_join_cgroup(const char *dir)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

#define CB_CGROOT "/sys/fs/cgroup"

/* The number after "@name": in JSON text, or -1. */
static inline long long cb_json_num(const char *json, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	p = strstr(json, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* The module-wide counter @name of "cbctl -j status", or -1. */
static inline long long cb_status_num(const char *name)
{
	char out[8192];

	if (cb_sh_out(out, sizeof(out), "cbctl -j status"))
		return -1;
	return cb_json_num(out, name);
}

static inline unsigned long long cb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline unsigned long long cb_now_ms(void)
{
	return cb_now_ns() / 1000000;
}

static inline int cb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Order statistics of a set of samples: extremes, quartiles, median. */
struct cb_summary {
	double min, q1, med, q3, max;
};

/* Summarize @n (> 0) samples at @v; @v is left as it was. */
static inline struct cb_summary cb_summarize(const double *v, int n)
{
	struct cb_summary s = { 0 };
	double *t = malloc(sizeof(*t) * n);

	if (!t)
		return s;
	memcpy(t, v, sizeof(*t) * n);
	qsort(t, n, sizeof(*t), cb_cmp_double);
	s.min = t[0];
	s.q1 = t[n / 4];
	s.med = t[n / 2];
	s.q3 = t[3 * n / 4];
	s.max = t[n - 1];
	free(t);
	return s;
}

/* The Internet checksum of @len bytes at @data (RFC 1071), for forgeries. */
static inline unsigned short cb_csum(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/*
 * On raw ICMP(v6) socket @fd, to @to: one port unreachable (ICMPv6 type 1
 * code 4) quoting a UDP datagram @client:@sport -> @server:@dport.
 * 0, or -1.
 */
static inline int cb_forge_unreach(int fd, const struct sockaddr_storage *to,
				   socklen_t tolen, const char *client,
				   const char *server, unsigned short sport,
				   unsigned short dport)
{
	unsigned char pkt[128] = { 0 };
	struct udphdr *uh;
	int n;

	if (to->ss_family == AF_INET6) {
		struct icmp6_hdr *ic = (void *)pkt;
		struct ip6_hdr *ip = (void *)(ic + 1);

		ic->icmp6_type = ICMP6_DST_UNREACH;
		ic->icmp6_code = ICMP6_DST_UNREACH_NOPORT;
		ip->ip6_flow = htonl(6 << 28);
		ip->ip6_plen = htons(sizeof(*uh) + 1);
		ip->ip6_nxt = IPPROTO_UDP;
		ip->ip6_hlim = 64;
		inet_pton(AF_INET6, client, &ip->ip6_src);
		inet_pton(AF_INET6, server, &ip->ip6_dst);
		uh = (void *)(ip + 1);
		n = sizeof(*ic) + sizeof(*ip) + sizeof(*uh) + 1;
	} else {
		struct icmphdr *ic = (void *)pkt;
		struct iphdr *ip = (void *)(ic + 1);

		ic->type = ICMP_DEST_UNREACH;
		ic->code = ICMP_PORT_UNREACH;
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*uh) + 1);
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		inet_pton(AF_INET, client, &ip->saddr);
		inet_pton(AF_INET, server, &ip->daddr);
		ip->check = cb_csum(ip, sizeof(*ip));
		uh = (void *)(ip + 1);
		n = sizeof(*ic) + sizeof(*ip) + sizeof(*uh) + 1;
	}
	uh->source = htons(sport);
	uh->dest = htons(dport);
	uh->len = htons(sizeof(*uh) + 1);
	pkt[n - 1] = 'x';
	if (to->ss_family != AF_INET6)	/* the kernel sums ICMPv6 itself */
		((struct icmphdr *)pkt)->checksum = cb_csum(pkt, n);
	return sendto(fd, pkt, n, 0, (const void *)to, tolen) == n ? 0 : -1;
}

/* Start a non-blocking TCP connect; the socket, or -errno. */
static inline int cb_connect_start(const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&ss, len) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Wait until the process whose pid is in @pidfile (cbctl monitor started in
 * the background) listens: asleep in a netlink receive, or its generic
 * netlink socket in a multicast group. A fixed wait before the first event
 * missed it on a loaded machine. 0, or -1 after @ms.
 */
static inline int cb_monitor_listens(const char *pidfile, int ms)
{
	unsigned long long end = cb_now_ms() + (unsigned long long)ms * cb_timeout_scale();
	unsigned int proto, portid, groups;
	char path[64], line[256];
	int pid = (int)cb_read_ull(pidfile);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/wchan", pid);
	while (pid > 0) {
		f = fopen(path, "r");
		if (f) {
			if (fgets(line, sizeof(line), f) &&
			    strstr(line, "wait_for_more_packets")) {
				fclose(f);
				return 0;
			}
			fclose(f);
		}
		f = fopen("/proc/net/netlink", "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "%*s %u %u %x", &proto, &portid, &groups) == 3 &&
			    proto == 16 && portid == (unsigned int)pid && groups) {
				fclose(f);
				return 0;
			}
		if (f)
			fclose(f);
		if (cb_now_ms() > end)
			break;
		usleep(10000);
	}
	return -1;
}

#endif /* _CB_TEST_H */
