// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile HTTP for the exporter (cbctl metrics serve), for a bounded time.
 *
 *   cb_httpfuzz ADDR:PORT SECONDS [SEED]
 *
 * Kinds of input: random bytes; a valid request with bytes flipped, cut,
 * repeated or inserted; request heads past the exporter's buffer; odd
 * methods, versions and paths; pipelined requests with garbage after them;
 * more idle connections at once than the exporter takes. They come from
 * 127.0.0.2; after every few, a client at 127.0.0.1 (Prometheus) must
 * still get GET /metrics answered with 200 and its metrics, and an unknown
 * path with 404, at once: connections that stall give way to a newcomer,
 * and cannot crowd out another's. Exit 0 only if it always did.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../selftests/cb_test.h"
#include "cb_rand.h"

#define REQ_MAX 65536
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define IDLE_CONNS 64

static struct sockaddr_in target;
static unsigned long long sent, answered[6], closed, checks;

/* A connection to the exporter, from 127.0.0.2 if @hostile. */
static int dial(int hostile)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };

	if (fd < 0)
		return -1;
	src.sin_addr.s_addr = htonl(hostile ? 0x7f000002 : 0x7f000001);
	if (bind(fd, (void *)&src, sizeof(src))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (void *)&target, sizeof(target))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send @len bytes and read what comes back within @ms; its length. */
static ssize_t exchange(int hostile, const char *req, size_t len, char *resp,
			size_t cap, int ms)
{
	struct pollfd p = { .events = POLLIN };
	size_t got = 0;
	ssize_t n;
	int fd = dial(hostile);

	if (fd < 0)
		return -1;
	p.fd = fd;
	if (len)
		n = send(fd, req, len, MSG_NOSIGNAL);	/* may fail: it may close on us */
	shutdown(fd, SHUT_WR);
	while (got + 1 < cap && poll(&p, 1, ms) == 1) {
		n = recv(fd, resp + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += n;
	}
	resp[got] = '\0';
	close(fd);
	return got;
}

static void count(const char *resp, ssize_t n)
{
	sent++;
	if (n <= 0 || strncmp(resp, "HTTP/1.", 7) || strlen(resp) < 12) {
		closed++;
		return;
	}
	answered[(resp[9] - '0') % 6]++;
}

/* The exporter still works: /metrics is 200 with metrics, /x is 404. */
static int check(void)
{
	static char resp[4 << 20];
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char nf[] = "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	ssize_t n;

	checks++;
	n = exchange(0, get, sizeof(get) - 1, resp, sizeof(resp), 5000);
	if (n <= 0 || strncmp(resp, "HTTP/1.1 200", 12) || !strstr(resp, "\ncbreaker_up ")) {
		fprintf(stderr, "cb_httpfuzz: GET /metrics after %llu inputs: %.80s\n",
			sent, n > 0 ? resp : "no answer");
		return -1;
	}
	n = exchange(0, nf, sizeof(nf) - 1, resp, sizeof(resp), 5000);
	if (n <= 0 || strncmp(resp, "HTTP/1.1 404", 12)) {
		fprintf(stderr, "cb_httpfuzz: GET /x after %llu inputs: %.80s\n",
			sent, n > 0 ? resp : "no answer");
		return -1;
	}
	return 0;
}

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT",
	"PRI", "get", "G\x01T", "", "GETGETGETGETGETGETGETGETGETGETGETGET",
};

static const char *const paths[] = {
	"/metrics", "/", "/metrics/", "/metrics?x=1", "//metrics", "/%00",
	"/../../etc/passwd", "*", "http://x/metrics", "/metrics#", "",
	"/%2e%2e/%zz", "/\xff\xfe",
};

static const char *const versions[] = {
	"HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/9.9", "HTTP/1.1x",
	"", "http/1.1", "HTTP/1.1\r\nHTTP/1.1",
};

/* A request of random parts, maybe broken. */
static size_t build(char *buf)
{
	size_t n, i, k;

	n = snprintf(buf, REQ_MAX, "%s %s %s\r\n",
		     methods[below(ARRAY_SIZE(methods))], paths[below(ARRAY_SIZE(paths))],
		     versions[below(ARRAY_SIZE(versions))]);
	k = below(6);
	for (i = 0; i < k && n < REQ_MAX - 256; i++) {
		static const char *const heads[] = {
			"Host: x", "Transfer-Encoding: chunked", "Connection: keep-alive",
			"Expect: 100-continue", "X: \r\n \t folded", "Content-Length: -1",
		};

		if (below(4))
			n += sprintf(buf + n, "%s\r\n", heads[below(ARRAY_SIZE(heads))]);
		else
			n += sprintf(buf + n, "Content-Length: %d\r\n", (int)rnd());
	}
	n += sprintf(buf + n, "\r\n");
	return n;
}

static size_t mutate(char *buf, size_t n)
{
	unsigned int i, k = 1 + below(8);
	size_t at, len;

	for (i = 0; i < k && n > 0; i++) {
		at = below(n);
		switch (below(5)) {
		case 0:		/* flip */
			buf[at] ^= 1 << below(8);
			break;
		case 1:		/* cut */
			n = at;
			break;
		case 2:		/* a random byte in */
			if (n + 1 < REQ_MAX) {
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = rnd();
				n++;
			}
			break;
		case 3:		/* a stretch repeated */
			len = below(n - at) + 1;
			if (n + len < REQ_MAX) {
				memmove(buf + at + len, buf + at, n - at);
				n += len;
			}
			break;
		default:	/* NUL, CR or LF */
			buf[at] = "\0\r\n"[below(3)];
		}
	}
	return n;
}

/* More idle connections than the exporter serves; they are let go after. */
static void hold_idle(void)
{
	int fds[IDLE_CONNS], i;

	for (i = 0; i < IDLE_CONNS; i++)
		fds[i] = dial(1);
	usleep(200000);
	for (i = 0; i < IDLE_CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sent++;
}

int main(int argc, char **argv)
{
	static char req[REQ_MAX], resp[65536];
	double end, t0 = cb_now_ns() / 1e9;
	char host[64], *colon;
	size_t n, i;
	ssize_t got;

	colon = argc >= 3 ? strrchr(argv[1], ':') : NULL;
	if (!colon || (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, "usage: cb_httpfuzz ADDR:PORT SECONDS [SEED]\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[1]), argv[1]);
	target.sin_family = AF_INET;
	target.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
		fprintf(stderr, "cb_httpfuzz: bad address %s\n", host);
		return 2;
	}
	end = t0 + atof(argv[2]);
	rng = argc > 3 ? strtoull(argv[3], NULL, 0) : (unsigned long long)time(NULL);
	rng |= 1;
	printf("# cb_httpfuzz: seed %llu\n", rng);
	signal(SIGPIPE, SIG_IGN);
	if (check())
		return 1;
	while (cb_now_ns() / 1e9 < end) {
		switch (below(8)) {
		case 0:		/* random bytes */
			n = 1 + below(4096);
			for (i = 0; i < n; i++)
				req[i] = rnd();
			break;
		case 1:		/* a head past the exporter's buffer */
			n = snprintf(req, REQ_MAX, "GET /metrics HTTP/1.1\r\nX: ");
			i = 16384 + below(REQ_MAX - 16384 - n - 8);
			memset(req + n, 'a', i);
			n += i;
			n += sprintf(req + n, "\r\n\r\n");
			break;
		case 2:		/* pipelined, then garbage */
			n = 0;
			for (i = below(8); i > 0; i--)
				n += sprintf(req + n, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
			n += sprintf(req + n, "\x16\x03\x01garbage\r\n\r\n");
			break;
		case 3:
			hold_idle();
			continue;
		case 4:
		case 5:
			n = build(req);
			break;
		default:
			n = mutate(req, build(req));
		}
		got = exchange(1, req, n, resp, sizeof(resp), 1000);
		count(resp, got);
		if (sent % 50 == 0 && check())
			return 1;
	}
	if (check())
		return 1;
	printf("# %llu inputs in %.0f s: answered 1xx %llu, 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu, closed without an answer %llu; %llu checks passed\n",
	       sent, cb_now_ns() / 1e9 - t0, answered[1], answered[2], answered[3], answered[4],
	       answered[5], closed, checks);
	return 0;
}
