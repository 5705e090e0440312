// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress, in the guest: threads connect to healthy, refusing,
 * blackholed and slow destinations while policies are added, changed and
 * removed and breakers are tripped, held and reset, for SECONDS. Then, with
 * every connection ended, the invariants of every breaker are checked, and
 * the events a monitor saw against the module's state-change counter.
 *
 *   cb_stress SECONDS [THREADS]
 *
 * Prints TAP; exits non-zero on any failure.
 */
#include <pthread.h>

/* the guest selftests' helpers: shell, sockets, clock, JSON numbers */
#include "../selftests/cb_test.h"

#define CG "/sys/fs/cgroup/cbstress"

static volatile int stop;
static unsigned long long deadline;
static unsigned long counts[4];	/* ok, refused (by us or RST), timeout, other */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int tests, failed;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", ok ? "" : "not ", ++tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	failed += !ok;
}

/* healthy 10.66.0.2:80/8080, refusing 10.66.0.2:81-89, blackholed
 * 10.66.1.2:80-84, slow 10.66.2.2:80 */
static void pick(char *ip, int *port, unsigned int r)
{
	switch (r % 4) {
	case 0:
		strcpy(ip, "10.66.0.2");
		*port = r & 4 ? 8080 : 80;
		break;
	case 1:
		strcpy(ip, "10.66.0.2");
		*port = 81 + (r >> 2) % 9;
		break;
	case 2:
		strcpy(ip, "10.66.1.2");
		*port = 80 + (r >> 2) % 5;
		break;
	default:
		strcpy(ip, "10.66.2.2");
		*port = 80;
	}
}

static void *client(void *arg)
{
	unsigned int seed = (unsigned long)arg;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char ip[32];
	int port, fd, err, kind;
	socklen_t len;

	while (!stop) {
		struct pollfd p;

		pick(ip, &port, rand_r(&seed));
		inet_pton(AF_INET, ip, &sa.sin_addr);
		sa.sin_port = htons(port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		err = connect(fd, (void *)&sa, sizeof(sa)) ? errno : 0;
		if (err == EINPROGRESS) {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			poll(&p, 1, 10000);
			len = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		}
		kind = !err ? 0 : err == ECONNREFUSED ? 1 : err == ETIMEDOUT ? 2 : 3;
		pthread_mutex_lock(&lock);
		counts[kind]++;
		pthread_mutex_unlock(&lock);
		close(fd);
	}
	return NULL;
}

/* Policies come and go, breakers are forced and reset: through cbctl. */
static void *control(void *arg)
{
	static const char *const ops[] = {
		"cbctl policy change default window %u >/dev/null 2>&1",
		"cbctl policy add dst 10.66.0.2 port %u window 5 min-calls 2 open 300ms probes 2 >/dev/null 2>&1",
		"cbctl policy del dst 10.66.0.2 port %u >/dev/null 2>&1",
		"cbctl policy change dst 10.66.1.0/24 probes %u >/dev/null 2>&1",
		"cbctl breaker trip dst 10.66.0.2 port %u >/dev/null 2>&1",
		"cbctl breaker hold dst 10.66.0.2 port %u >/dev/null 2>&1",
		"cbctl breaker reset dst 10.66.0.2 port %u >/dev/null 2>&1",
		"cbctl breaker reset all >/dev/null 2>&1 # %u",
		"cbctl policy change dst 10.66.2.0/24 mode %s >/dev/null 2>&1",
	};
	unsigned int seed = 42, r, n = 0;
	char cmd[256];

	(void)arg;
	while (!stop) {
		r = rand_r(&seed) % (sizeof(ops) / sizeof(ops[0]));
		if (r == 8)
			snprintf(cmd, sizeof(cmd), ops[r], rand_r(&seed) % 2 ? "dry-run" : "enforce");
		else
			snprintf(cmd, sizeof(cmd), ops[r], r == 0 ? 5 + rand_r(&seed) % 20 :
				 r == 3 ? 1 + rand_r(&seed) % 3 : 80 + rand_r(&seed) % 10);
		sh("%s", cmd);
		n++;
		usleep(20000);
	}
	printf("# %u control operations\n", n);
	return NULL;
}

static char *slurp(const char *cmd, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	FILE *p = popen(cmd, "r");

	while (p && buf && (n += fread(buf + n, 1, cap - 1 - n, p)) < cap - 1 && !feof(p))
		;
	if (p)
		pclose(p);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 60;
	int threads = argc > 2 ? atoi(argv[2]) : 8;
	pthread_t tid[64], ctl;
	long long calls, succ, fail, placed, transitions, dropped, seen;
	long long transitions0, dropped0;
	int i, n = 0, bad_count = 0, bad_probes = 0;
	char *all, *p, cmd[256];
	size_t len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (sh("modprobe cbreaker && { cbctl unload 2>/dev/null; true; } && mkdir -p " CG " && "
	       "for n in 0 1 2; do ip netns add cbst$n && "
	       "ip link add cbst$n type veth peer name eth0 netns cbst$n && "
	       "ip addr add 10.66.$n.1/24 dev cbst$n && ip link set cbst$n up && "
	       "ip -n cbst$n addr add 10.66.$n.2/24 dev eth0 && "
	       "ip -n cbst$n link set eth0 up && ip -n cbst$n link set lo up && "
	       "mkdir -p /tmp/www && echo hi >/tmp/www/index.html && "
	       "ip netns exec cbst$n httpd -p 80 -h /tmp/www && "
	       "ip netns exec cbst$n httpd -p 8080 -h /tmp/www || exit 1; done && "
	       "tc qdisc add dev cbst1 root netem loss 100%% && "
	       "tc qdisc add dev cbst2 root netem delay 150ms && "
	       "sysctl -qw net.ipv4.tcp_syn_retries=1 && "
	       "cbctl load cgroup " CG " >/dev/null && "
	       "cbctl policy add default window 10 min-calls 3 open 500ms jitter 20 probes 2 "
	       "probe-wait 1s backoff-max 2s >/dev/null && "
	       "cbctl policy add dst 10.66.1.0/24 window 4 min-calls 2 open 200ms probes 3 "
	       "probe-wait 500ms >/dev/null && "
	       "cbctl policy add dst 10.66.2.0/24 window 4 min-calls 2 slow 100ms slow-rate 50 "
	       "open 300ms >/dev/null && "
	       "{ cbctl -j monitor >/tmp/stress-mon.json 2>&1 & echo $! >/tmp/stress-mon.pid; } && "
	       "sleep 0.5")) {
		tap(0, "setup");
		return 1;
	}
	/* the module's counters run since it loaded: from here on */
	all = slurp("cbctl -j status", &len);
	transitions0 = cb_json_num(all, "transitions");
	dropped0 = cb_json_num(all, "events_dropped");
	free(all);
	/* the clients run in the attached cgroup, this process too */
	if (sh("echo %d >" CG "/cgroup.procs", getpid())) {
		tap(0, "joining the cgroup");
		return 1;
	}

	deadline = cb_now_ms() + secs * 1000ULL;
	for (i = 0; i < threads && i < 64; i++)
		pthread_create(&tid[i], NULL, client, (void *)(unsigned long)(i + 1));
	pthread_create(&ctl, NULL, control, NULL);
	while (cb_now_ms() < deadline)
		sleep(1);
	stop = 1;
	for (i = 0; i < threads && i < 64; i++)
		pthread_join(tid[i], NULL);
	pthread_join(ctl, NULL);
	printf("# connections: %lu ok, %lu refused, %lu timed out, %lu other\n",
	       counts[0], counts[1], counts[2], counts[3]);
	tap(counts[0] && counts[1] && counts[2], "all kinds of outcome happened");
	sleep(4);	/* the last SYN timeouts are reported */

	all = slurp("cbctl -j breaker list", &len);
	for (p = all; p && (p = strstr(p, "{\"dst\"")); p++, n++) {
		calls = cb_json_num(p, "calls");
		succ = cb_json_num(p, "successes");
		fail = cb_json_num(p, "failures");
		placed = cb_json_num(p, "probes_placed");
		if (succ + fail > calls) {
			bad_count++;
			printf("# %.80s: successes %lld + failures %lld > calls %lld\n", p,
			       succ, fail, calls);
		}
		if (placed > 3) {
			bad_probes++;
			printf("# %.80s: %lld probes placed\n", p, placed);
		}
	}
	free(all);
	tap(n > 0 && !bad_count,
	    "%d breakers: admitted = successes + failures + in flight (never negative)", n);
	tap(!bad_probes, "probes placed never exceed the policy's probes");

	/*
	 * Breakers still change by themselves (open -> half-open ...): take
	 * the count now, let the monitor catch up to it, and compare what it
	 * saw up to there.
	 */
	all = slurp("cbctl -j status", &len);
	transitions = cb_json_num(all, "transitions");
	dropped = cb_json_num(all, "events_dropped");
	free(all);
	for (i = 0; i < 100; i++) {
		all = slurp("grep -o '\"seq\":[0-9]*' /tmp/stress-mon.json | tail -n 1 | cut -d: -f2",
			    &len);
		seen = strtoll(all, NULL, 10);
		free(all);
		if (seen >= transitions)
			break;
		usleep(200000);
	}
	sh("kill $(cat /tmp/stress-mon.pid)");
	snprintf(cmd, sizeof(cmd), "grep -o '\"seq\":[0-9]*' /tmp/stress-mon.json | "
		 "cut -d: -f2 | awk '$1 > %lld && $1 <= %lld' | wc -l", transitions0,
		 transitions);
	all = slurp(cmd, &len);
	seen = strtoll(all, NULL, 10);
	free(all);
	printf("# state changes %lld, events seen %lld, dropped %lld\n",
	       transitions - transitions0, seen, dropped - dropped0);
	tap(seen + dropped - dropped0 == transitions - transitions0,
	    "every state change was seen by the monitor or counted as dropped");
	tap(!sh("cbctl status >/dev/null"), "the module answers");
	tap(!sh("cbctl unload >/dev/null && for n in 0 1 2; do "
		"for p in $(ip netns pids cbst$n); do kill $p; done; ip netns del cbst$n; done; "
		"sysctl -qw net.ipv4.tcp_syn_retries=6"), "cleanup");
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
