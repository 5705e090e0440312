// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl metrics serve [listen ADDR:PORT] [limit N] [connections N] [user NAME]
 *
 * A Prometheus exporter: GET /metrics answers what "cbctl metrics format
 * prometheus" prints, anything else 404. HTTP is libmicrohttpd's, run from
 * this one thread (no thread of its own), so requests are served one at a
 * time and a fork is safe. It is opened (dlopen) only here: linked in, it
 * and GnuTLS would be loaded by every cbctl command, several times their
 * start-up time.
 *
 * Each scrape runs in a child process with a deadline: a fresh netlink
 * socket every time (the module may have been reloaded, its family id with
 * it), nothing a scrape does can crash or bloat the exporter, and a stuck
 * scrape is killed. Reading needs no privilege: started as root, it becomes
 * an unprivileged user (nobody) once it listens, keeping nothing of root.
 * Bounds: a few connections at once, an idle timeout, a small buffer per
 * connection (long request heads are refused), and one scrape of the
 * module per CB_SERVE_MIN_MS at most, however many clients ask. A client
 * that stalls (says nothing, stops half-way, never reads) cannot keep
 * others out: a connection that comes when all are taken pushes out the
 * one that moved least recently (cb_serve_evict).
 */
#define _GNU_SOURCE	/* pipe2 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cbctl.h"

#define CB_SERVE_PORT		9559
#define CB_SERVE_CONNS		16	/* at once, all clients */
#define CB_SERVE_USER		"nobody"	/* who serves, when started as root */
#define CB_SERVE_IDLE_S		10	/* a connection idle this long is closed */
#define CB_SERVE_MEM		(16 * 1024)	/* per connection: request head */
#define CB_SERVE_DEADLINE_MS	5000	/* a scrape taking longer is killed */
#define CB_SERVE_MIN_MS		250	/* scrapes closer than this share one */
#define CB_SERVE_MAX_OUT	(64u << 20)
#define CB_SERVE_LIMIT_MAX	100000

#define CB_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A connection, and when it last moved: came, asked, was answered. */
struct cb_client {
	int fd;
	bool used;
	bool evicted;	/* shut down, MHD has yet to close it */
	uint64_t moved_ms;
};

struct cb_serve {
	unsigned int limit;
	struct cb_client *clients;	/* conns + 1: MHD's limit */
	unsigned int conns, live;	/* live: used and not evicted */
	char *out;		/* the last scrape's text */
	size_t len;
	uint64_t at_ms;		/* when it was taken */
	bool up;		/* the module answered it */
	bool logged_down;
};

/* libmicrohttpd's functions, from dlopen; with its header's types. */
#define CB_MHD_LIB "libmicrohttpd.so.12"
#define CB_MHD_FUNCS(X) X(MHD_start_daemon) X(MHD_run_wait) X(MHD_stop_daemon) \
	X(MHD_create_response_from_buffer) X(MHD_add_response_header) \
	X(MHD_queue_response) X(MHD_destroy_response) X(MHD_get_connection_info)
#define CB_MHD_PTR(f) static __typeof__(f) *cb_##f;
CB_MHD_FUNCS(CB_MHD_PTR)

static int cb_mhd_open(void)
{
	void *h = dlopen(CB_MHD_LIB, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return cb_err("metrics serve needs libmicrohttpd (Debian: libmicrohttpd12): %s",
			      dlerror());
#define CB_MHD_SYM(f)							\
	cb_##f = (__typeof__(f) *)dlsym(h, #f);				\
	if (!cb_##f)							\
		return cb_err("%s has no %s", CB_MHD_LIB, #f);
	CB_MHD_FUNCS(CB_MHD_SYM)
	return 0;
}

static volatile sig_atomic_t cb_serve_stop;

static void cb_serve_signal(int sig)
{
	(void)sig;
	cb_serve_stop = 1;
}

static uint64_t cb_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* The child: the metrics command itself, its stdout into @fd. */
static void __attribute__((noreturn))
cb_scrape_child(int fd, unsigned int limit)
{
	char lim[16], *argv[] = { "format", "prometheus", "limit", lim, NULL };

	snprintf(lim, sizeof(lim), "%u", limit);
	if (dup2(fd, STDOUT_FILENO) < 0)
		_exit(2);
	close(fd);
	cb_json = false;
	if (cb_cmd_metrics(4, argv))
		_exit(1);
	_exit(fflush(stdout) ? 2 : 0);
}

/*
 * Run one scrape; its output in @s->out. Returns 0, or -1 when the child
 * failed, timed out or said too much (then @s->out holds nothing of it).
 */
static int cb_scrape(struct cb_serve *s)
{
	uint64_t deadline = cb_ms() + CB_SERVE_DEADLINE_MS;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap), *grown;
	int p[2], st = -1, ret = -1;
	struct pollfd pfd;
	ssize_t n;
	pid_t pid;

	if (!buf || pipe2(p, O_CLOEXEC)) {
		free(buf);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		cb_scrape_child(p[1], s->limit);
	}
	close(p[1]);
	if (pid < 0)
		goto out;
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		int64_t left = (int64_t)(deadline - cb_ms());

		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			fprintf(stderr, "cbctl: a scrape took over %u ms: killed\n",
				CB_SERVE_DEADLINE_MS);
			break;
		}
		if (len == cap) {
			if (cap >= CB_SERVE_MAX_OUT)
				break;
			grown = realloc(buf, cap * 2);
			if (!grown)
				break;
			buf = grown;
			cap *= 2;
		}
		n = read(p[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n;	/* 0 at the end, -1 on error */
			break;
		}
		len += n;
	}
	kill(pid, SIGKILL);	/* harmless when it has exited */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (ret || !WIFEXITED(st) || WEXITSTATUS(st))
		ret = -1;
out:
	close(p[0]);
	if (ret) {
		free(buf);
		return -1;
	}
	free(s->out);
	s->out = buf;
	s->len = len;
	return 0;
}

/* The exporter's own metrics, after the module's. */
static void cb_serve_append(struct cb_serve *s, uint64_t took_us)
{
	char tail[512];
	char *grown;
	int n;

	n = snprintf(tail, sizeof(tail),
		     "# HELP cbreaker_up Whether the module answered this scrape.\n"
		     "# TYPE cbreaker_up gauge\n"
		     "cbreaker_up %d\n"
		     "# HELP cbreaker_exporter_scrape_duration_seconds How long reading the module took.\n"
		     "# TYPE cbreaker_exporter_scrape_duration_seconds gauge\n"
		     "cbreaker_exporter_scrape_duration_seconds %" PRIu64 ".%06" PRIu64 "\n",
		     s->up, took_us / 1000000, took_us % 1000000);
	grown = realloc(s->out, s->len + n);
	if (!grown)
		return;
	memcpy(grown + s->len, tail, n);
	s->out = grown;
	s->len += n;
}

static void cb_serve_refresh(struct cb_serve *s)
{
	uint64_t t0 = cb_ms(), t1;
	struct timespec a, b;

	if (s->out && t0 - s->at_ms < CB_SERVE_MIN_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* No module: no child needed to say so (and no message per scrape). */
	s->up = cb_module_loaded() && !cb_scrape(s);
	if (!s->up) {
		if (!s->logged_down)
			fputs("cbctl: the module did not answer: serving cbreaker_up 0\n",
			      stderr);
		s->logged_down = true;
		free(s->out);
		s->out = NULL;
		s->len = 0;
	} else {
		s->logged_down = false;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = (b.tv_sec - a.tv_sec) * 1000000ull + b.tv_nsec / 1000 - a.tv_nsec / 1000;
	cb_serve_append(s, t1);
	s->at_ms = cb_ms();
}

static void cb_serve_moved(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i;
	struct cb_client *cl;

	i = cb_MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cl = i ? i->socket_context : NULL;
	if (cl)
		cl->moved_ms = cb_ms();
}

/*
 * All connections taken: the one that moved least recently goes (shut
 * down here, closed by MHD in its next pass). A scrape in progress has
 * just moved; a client that stalls only ages.
 */
static void cb_serve_evict(struct cb_serve *s, const struct cb_client *keep)
{
	struct cb_client *cl, *old = NULL;

	for (cl = s->clients; cl < s->clients + s->conns + 1; cl++)
		if (cl->used && !cl->evicted && cl != keep &&
		    (!old || cl->moved_ms < old->moved_ms))
			old = cl;
	if (!old)
		return;
	shutdown(old->fd, SHUT_RDWR);
	old->evicted = true;
	s->live--;
}

static void cb_serve_notify(void *cls, struct MHD_Connection *c, void **ctx,
			    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *i;
	struct cb_serve *s = cls;
	struct cb_client *cl;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		cl = *ctx;
		if (!cl)
			return;
		if (!cl->evicted)
			s->live--;
		memset(cl, 0, sizeof(*cl));
		*ctx = NULL;
		return;
	}
	i = cb_MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	/* MHD holds at most conns + 1: a slot is free */
	for (cl = s->clients; i && cl < s->clients + s->conns + 1; cl++)
		if (!cl->used)
			break;
	if (!i || cl == s->clients + s->conns + 1)
		return;
	cl->used = true;
	cl->fd = i->connect_fd;
	cl->moved_ms = cb_ms();
	*ctx = cl;
	if (++s->live > s->conns)
		cb_serve_evict(s, cl);
}

static void cb_serve_completed(void *cls, struct MHD_Connection *c, void **req,
			       enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)req, (void)toe;
	cb_serve_moved(c);
}

static enum MHD_Result cb_serve_answer(struct MHD_Connection *c,
				       unsigned int code, const char *text,
				       size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = cb_MHD_create_response_from_buffer(len, (void *)text,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	cb_MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = cb_MHD_queue_response(c, code, r);
	cb_MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result cb_serve_request(void *cls, struct MHD_Connection *c,
					const char *url, const char *method,
					const char *version, const char *upload,
					size_t *upload_len, void **req)
{
	static const char nf[] = "404 not found: the metrics are at /metrics\n";
	static const char na[] = "405 method not allowed: GET or HEAD\n";
	struct cb_serve *s = cls;

	cb_serve_moved(c);
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return cb_serve_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, na,
				       sizeof(na) - 1, "text/plain");
	if (strcmp(url, "/metrics"))
		return cb_serve_answer(c, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1,
				       "text/plain");
	cb_serve_refresh(s);
	return cb_serve_answer(c, MHD_HTTP_OK, s->out ? s->out : "",
			       s->out ? s->len : 0, CB_PROM_TYPE);
}

/*
 * MHD's own messages (a malformed request, a client over its limit): a
 * hostile client could make one per connection, so at most
 * CB_SERVE_LOG_BURST a minute, then how many were left out.
 */
#define CB_SERVE_LOG_BURST 20

static void cb_serve_log(void *cls, const char *fmt, va_list ap)
{
	static uint64_t window;
	static unsigned int logged, dropped;
	uint64_t now = cb_ms() / 60000;

	(void)cls;
	if (now != window) {
		if (dropped)
			fprintf(stderr, "cbctl: http: %u more messages left out\n", dropped);
		window = now;
		logged = dropped = 0;
	}
	if (logged++ >= CB_SERVE_LOG_BURST) {
		dropped++;
		return;
	}
	fputs("cbctl: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ADDR:PORT, [V6ADDR]:PORT or :PORT (loopback); into @ss. */
static int cb_parse_listen(const char *arg, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (void *)ss;
	struct sockaddr_in *s4 = (void *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(arg, ':');
	uint32_t port;
	size_t hl;

	if (!colon || cb_parse_u32(colon + 1, 65535, &port) || !port)
		return -1;
	hl = colon - arg;
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	memset(s4, 0, sizeof(*s4));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	if (!hl) {
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

static void cb_serve_usage(void)
{
	printf("Usage: cbctl metrics serve [listen ADDR:PORT] [limit N] [connections N] [user NAME]\n"
	       "Serves the metrics for Prometheus at http://ADDR:PORT/metrics\n"
	       "(default 127.0.0.1:%u; [::1]:PORT for IPv6, 0.0.0.0:PORT for every\n"
	       "address) until SIGTERM or SIGINT. Needs no privilege.\n"
	       "limit: per-destination series for at most N breakers (default 1000)\n"
	       "connections: clients served at once (default %u)\n"
	       "user: started as root, serve as this user once listening (default %s)\n",
	       CB_SERVE_PORT, CB_SERVE_CONNS, CB_SERVE_USER);
}

/*
 * Started as root: become @pw once the socket is open (the scrapes open
 * their own netlink sockets, and reading needs no privilege). Changing
 * uid from 0 clears every capability; no new ones through exec either.
 */
static int cb_serve_drop(const struct passwd *pw)
{
	if (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		return cb_err("becoming user %s: %s", pw->pw_name, strerror(errno));
	if (!setuid(0) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return cb_err("user %s: root could not be left behind", pw->pw_name);
	return 0;
}

int cb_metrics_serve(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct cb_serve s = { .limit = 1000 };
	struct sigaction sa = { .sa_handler = cb_serve_signal };
	const char *user = NULL;
	struct passwd *pw = NULL;
	uint32_t conns = CB_SERVE_CONNS;
	unsigned int port;
	struct MHD_Daemon *d;
	char where[INET6_ADDRSTRLEN];
	int i;

	snprintf(where, sizeof(where), ":%u", CB_SERVE_PORT);
	cb_parse_listen(where, &ss);
	if (argc == 1 && cb_matches(argv[0], "help")) {
		cb_serve_usage();
		return 0;
	}
	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return cb_err("missing value after \"%s\"", argv[i]);
		if (cb_matches(argv[i], "listen")) {
			if (cb_parse_listen(argv[i + 1], &ss))
				return cb_err("bad listen address \"%s\" (ADDR:PORT or [V6ADDR]:PORT)",
					      argv[i + 1]);
		} else if (cb_matches(argv[i], "limit")) {
			if (cb_parse_u32(argv[i + 1], CB_SERVE_LIMIT_MAX, &s.limit))
				return cb_err("bad limit \"%s\" (0..%u)", argv[i + 1],
					      CB_SERVE_LIMIT_MAX);
		} else if (cb_matches(argv[i], "user")) {
			user = argv[i + 1];
		} else if (cb_matches(argv[i], "connections")) {
			if (cb_parse_u32(argv[i + 1], 1024, &conns) || !conns)
				return cb_err("bad connections \"%s\" (1..1024)",
					      argv[i + 1]);
		} else {
			return cb_err("unknown argument \"%s\" (try: cbctl metrics serve help)",
				      argv[i]);
		}
	}

	if (!geteuid()) {
		pw = getpwnam(user ? user : CB_SERVE_USER);
		if (!pw)
			return cb_err("no user %s to serve as (user NAME)",
				      user ? user : CB_SERVE_USER);
		if (!pw->pw_uid)
			return cb_err("user %s is root: name an unprivileged one",
				      pw->pw_name);
	} else if (user) {
		return cb_err("user %s: only root changes user (run it as that user)",
			      user);
	}
	if (cb_mhd_open())
		return -1;
	s.conns = conns;
	s.clients = calloc(conns + 1, sizeof(*s.clients));
	if (!s.clients)
		return cb_err("out of memory");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = cb_MHD_start_daemon(MHD_USE_AUTO | MHD_USE_ERROR_LOG |
			     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, cb_serve_request, &s,
			     MHD_OPTION_EXTERNAL_LOGGER, cb_serve_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     /* one over: the newcomer, until one is evicted */
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)conns + 1,
			     MHD_OPTION_NOTIFY_CONNECTION, cb_serve_notify, &s,
			     MHD_OPTION_NOTIFY_COMPLETED, cb_serve_completed, &s,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CB_SERVE_IDLE_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CB_SERVE_MEM,
			     MHD_OPTION_END);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);	/* v6: same place */
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			  where, sizeof(where));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  where, sizeof(where));
	if (!d) {
		free(s.clients);
		return cb_err("cannot serve on %s:%u: %s", where, port,
			      strerror(errno));
	}
	if (pw && cb_serve_drop(pw)) {
		cb_MHD_stop_daemon(d);
		free(s.clients);
		return -1;
	}
	fprintf(stderr, "cbctl: serving metrics on http://%s%s%s:%u/metrics\n",
		ss.ss_family == AF_INET6 ? "[" : "", where,
		ss.ss_family == AF_INET6 ? "]" : "", port);
	while (!cb_serve_stop)
		cb_MHD_run_wait(d, 1000);
	cb_MHD_stop_daemon(d);
	free(s.out);
	free(s.clients);
	return 0;
}
