// SPDX-License-Identifier: GPL-2.0
/*
 * cbreaker's cost and win, measured side by side in one run, in the guest.
 * Figures are ratios or counts: scenarios are interleaved round by round and
 * reported as median and spread. Prints a table on stderr and JSON members
 * on stdout (bench/results.json).
 *
 * Under QEMU/TCG absolute times are inflated many times over; the ratios
 * still compare.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cb_bench.h"
#include "cb_memlock.h"

#define CG	"/sys/fs/cgroup/cbbench"
#define CG_EMPTY "/sys/fs/cgroup/cbbench_empty"
#define ROOT	"/sys/fs/cgroup"
#define PIN	"/sys/fs/bpf/cbreaker"
#define ROUNDS	15
#define CONNECTS 400

static FILE *json;
static const char *prefix = "";	/* of every JSON name: CB_BENCH_PREFIX */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd)) {
		fprintf(stderr, "bench: failed: %s\n", cmd);
		exit(1);
	}
}

static struct sockaddr_in sa(const char *ip, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &s.sin_addr);
	return s;
}

/* ns in connect() until it fails (socket() and close() not counted). */
static double failing(const char *ip, int port, int n, int want)
{
	struct sockaddr_in s = sa(ip, port);
	unsigned long long t0, sum = 0;
	int i, fd;

	for (i = 0; i < n; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		t0 = cb_now_ns();
		if (!connect(fd, (void *)&s, sizeof(s)) || errno != want) {
			fprintf(stderr, "bench: %s:%d: expected %s, got %s\n", ip, port,
				strerror(want), strerror(errno));
			exit(1);
		}
		sum += cb_now_ns() - t0;
		close(fd);
	}
	return (double)sum / n;
}

struct stat_ {
	double med, lo, hi;
	double v[ROUNDS];
};

static void summarize(struct stat_ *s, int n)
{
	struct cb_summary m = cb_summarize(s->v, n);

	s->med = m.med;
	s->lo = m.min;
	s->hi = m.max;
}

static void put(const char *name, double v)
{
	fprintf(json, "\"%s%s\": %.3f,\n", prefix, name, v);
}

static void put_raw(const char *name, const struct stat_ *s, int n)
{
	int i;

	fprintf(json, "\"%s%s_samples\": [", prefix, name);
	for (i = 0; i < n; i++)
		fprintf(json, "%s%.1f", i ? ", " : "", s->v[i]);
	fprintf(json, "],\n");
}

/* kernel accounting of a map (cb_memlock.h); a failure ends the run */
static unsigned long long map_memlock(const char *pin)
{
	unsigned long long v = cb_map_memlock(pin);

	if (!v)
		cb_die(pin);
	return v;
}

static unsigned long long meminfo(const char *key)
{
	unsigned long long v = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	size_t n = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10) * 1024;
	if (f)
		fclose(f);
	return v;
}

static unsigned int breakers(void)
{
	char out[4096] = "";
	FILE *p = popen("cbctl -j status", "r");
	char *s;

	if (!p || !fread(out, 1, sizeof(out) - 1, p))
		cb_die("cbctl status");
	pclose(p);
	s = strstr(out, "\"breakers\":");
	return s ? strtoul(s + 11, NULL, 10) : 0;
}

/* Breakers made by grow() since the table was last loaded. */
static unsigned int made;

/* More breakers: UDP datagrams to distinct 127.16.0.0/12 addresses. */
static void grow(unsigned int upto)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in s = sa("127.16.0.0", 9);

	for (; made < upto; made++) {
		s.sin_addr.s_addr = htonl(0x7f100000 + 1 + made);
		sendto(fd, "x", 1, MSG_DONTWAIT, (void *)&s, sizeof(s));
	}
	close(fd);
}

/* More rules: a batch of /32 rules in 10.0.0.0/8 (they match nothing here). */
static void rules(unsigned int upto)
{
	static unsigned int made;
	FILE *f;

	if (made >= upto)
		return;
	f = fopen("/tmp/rules.batch", "w");
	for (; made < upto; made++)
		fprintf(f, "policy add dst 10.%u.%u.%u window 10 min-calls 5\n",
			(made >> 16) & 255, (made >> 8) & 255, made & 255);
	fclose(f);
	sh("cbctl -b /tmp/rules.batch");
}

static long long count_lines(const char *path, const char *what)
{
	char cmd[256], out[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "grep -c '%s' %s", what, path);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return strtoll(out, NULL, 10);
}

static unsigned long long dropped(void)
{
	char out[8192] = "", *s;
	FILE *p = popen("cbctl -j status", "r");

	if (!p || !fread(out, 1, sizeof(out) - 1, p))
		cb_die("cbctl status");
	pclose(p);
	s = strstr(out, "\"events_dropped\":");
	return s ? strtoull(s + 17, NULL, 10) : 0;
}

/*
 * @n trip/reset pairs in one batch: 2n state changes as fast as the module
 * takes them. A monitor that reads keeps up; one that is stopped loses
 * events, and the module's drop counter and the monitor both say so.
 */
static void events(int n)
{
	unsigned long long t0, d0, d1;
	double secs, delivered_s;
	FILE *f = fopen("/tmp/events.batch", "w");
	long long got;
	int i;

	for (i = 0; i < n; i++)
		fprintf(f, "breaker trip dst 127.0.0.9 port 9\nbreaker reset dst 127.0.0.9 port 9\n");
	fclose(f);
	sh("cbctl -j monitor >/tmp/mon.json 2>&1 & echo $! >/tmp/mon.pid; sleep 0.5");
	d0 = dropped();
	t0 = cb_now_ns();
	sh("cbctl -b /tmp/events.batch >/dev/null");
	secs = (cb_now_ns() - t0) / 1e9;
	/* until the monitor has them all, or they stop coming */
	for (i = 0, got = -1; i < 300 && got < 2 * n; i++) {
		long long was = got;

		got = count_lines("/tmp/mon.json", "\"seq\"");
		if (got == was && i > 20)
			break;
		usleep(100000);
	}
	delivered_s = (cb_now_ns() - t0) / 1e9;
	d1 = dropped();
	sh("kill $(cat /tmp/mon.pid)");
	fprintf(stderr, "\nevents: %d made in %.2f s (%.0f/s); monitor got %lld in %.2f s (%.0f/s), dropped %llu\n",
		2 * n, secs, 2 * n / secs, got, delivered_s, got / delivered_s, d1 - d0);
	put("events_made_per_s", 2 * n / secs);
	put("events_per_s", got / delivered_s);
	put("events_delivered", got);
	put("events_dropped_reading", d1 - d0);

	/* a monitor that does not read */
	sh("cbctl -j monitor >/tmp/mon2.json 2>&1 & echo $! >/tmp/mon.pid; sleep 0.5; "
	   "kill -STOP $(cat /tmp/mon.pid)");
	d0 = dropped();
	sh("cbctl -b /tmp/events.batch >/dev/null");
	sleep(1);
	d1 = dropped();
	sh("kill -CONT $(cat /tmp/mon.pid); sleep 1; kill $(cat /tmp/mon.pid)");
	fprintf(stderr, "events, monitor stopped: dropped %llu, monitor reported loss: %s\n",
		d1 - d0, count_lines("/tmp/mon2.json", "lost") ? "yes" : "no");
	put("events_dropped_stopped_monitor", d1 - d0);
	put("monitor_reported_loss", count_lines("/tmp/mon2.json", "lost") > 0);
}

/* run_time_ns / run_cnt and sizes of a pinned program, by its id */
static void prog_stats(const char *what, int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	char name[64];

	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		cb_die("prog info");
	fprintf(stderr, "  %-14s %8.0f ns/run (%llu runs), %u xlated insns, %u jited bytes\n",
		what, info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0,
		(unsigned long long)info.run_cnt, info.xlated_prog_len / 8,
		info.jited_prog_len);
	snprintf(name, sizeof(name), "bpf_%s_ns_per_run", what);
	put(name, info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0);
	snprintf(name, sizeof(name), "bpf_%s_xlated_insns", what);
	put(name, info.xlated_prog_len / 8);
	snprintf(name, sizeof(name), "bpf_%s_jited_bytes", what);
	put(name, info.jited_prog_len);
}

static int link_prog_fd(const char *pin)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pin);

	if (fd < 0 || bpf_link_get_info_by_fd(fd, &info, &len))
		cb_die(pin);
	close(fd);
	return bpf_prog_get_fd_by_id(info.prog_id);
}

/*
 * cb_connects(), and our programs' run time per connect meanwhile (the kernel's
 * accounting; the programs are looked up anew, as cbctl load replaces them).
 */
static double connects_bpf(const struct sockaddr_in *sa, int lfd, int n, double *bpf)
{
	int c4 = bpf_obj_get(PIN "/prog_connect4");
	int tp = link_prog_fd(PIN "/trace_cb_tcp_done");
	unsigned long long rt = cb_prog_runtime(c4) + cb_prog_runtime(tp);
	double wall = cb_connects(sa, lfd, n);

	*bpf = (double)(cb_prog_runtime(c4) + cb_prog_runtime(tp) - rt) / n;
	close(c4);
	close(tp);
	return wall;
}

/* What our programs did during some connects: run time and runs (bpf_stats). */
struct runs {
	unsigned long long ns, cnt;
};

static struct runs prog_runs(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct runs r = { 0 };

	if (!bpf_prog_get_info_by_fd(fd, &info, &len)) {
		r.ns = info.run_time_ns;
		r.cnt = info.run_cnt;
	}
	return r;
}

/*
 * An empty cgroup/connect4 program (return 1) attached to CG_EMPTY: what
 * bpf_stats reports for a program that does nothing, per run, is the floor
 * subtracted from our programs' readings.
 */
static int empty_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
	int fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cb_empty", "GPL",
			       insns, 2, &opts);
	int cg = open(CG_EMPTY, O_RDONLY | O_DIRECTORY);

	if (fd < 0 || cg < 0 || bpf_prog_attach(fd, cg, BPF_CGROUP_INET4_CONNECT, 0))
		cb_die("the empty program");
	close(cg);
	return fd;
}

/*
 * A listener in network namespace cbrtt (10.89.0.2), reached over a veth
 * whose outer end delays every packet by 50 us (netem): a connect with a
 * 50 us round trip, as on a real network.
 */
static int rtt_listener(struct sockaddr_in *s)
{
	int self = open("/proc/self/ns/net", O_RDONLY), ns, fd;
	socklen_t len = sizeof(*s);

	sh("ip netns add cbrtt && ip link add cbrtt0 type veth peer name eth0 netns cbrtt && "
	   "ip addr add 10.89.0.1/24 dev cbrtt0 && ip link set cbrtt0 up && "
	   "ip -n cbrtt addr add 10.89.0.2/24 dev eth0 && ip -n cbrtt link set eth0 up && "
	   "ip -n cbrtt link set lo up && tc qdisc add dev cbrtt0 root netem delay 50us");
	ns = open("/run/netns/cbrtt", O_RDONLY);
	if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET))
		cb_die("setns cbrtt");
	*s = sa("10.89.0.2", 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (void *)s, sizeof(*s)) || listen(fd, 1024) ||
	    getsockname(fd, (void *)s, &len) || setns(self, CLONE_NEWNET))
		cb_die("rtt listener");
	close(ns);
	close(self);
	return fd;
}

/*
 * A tracked connect with a 50 us round trip (netem), without and with
 * cbreaker; @floor: bpf_stats' per run. The policy's breaker stays closed.
 */
static void rtt(double floor)
{
	struct stat_ none = { 0 }, closed = { 0 }, closed_on = { 0 }, bpf = { 0 };
	struct sockaddr_in s;
	int l = rtt_listener(&s), r;
	double ns;

	sh("cbctl policy add dst 10.89.0.2 window 100 min-calls 100 >/dev/null");
	for (r = 0; r < ROUNDS; r++) {
		sh("sysctl -qw kernel.bpf_stats_enabled=0");
		cb_join(ROOT);
		none.v[r] = cb_connects(&s, l, CONNECTS / 4);
		cb_join(CG);
		closed.v[r] = cb_connects(&s, l, CONNECTS / 4);
		sh("sysctl -qw kernel.bpf_stats_enabled=1");
		closed_on.v[r] = connects_bpf(&s, l, CONNECTS / 4, &bpf.v[r]);
	}
	cb_join(ROOT);
	close(l);
	sh("ip netns del cbrtt");
	summarize(&none, ROUNDS);
	summarize(&closed, ROUNDS);
	summarize(&closed_on, ROUNDS);
	summarize(&bpf, ROUNDS);
	ns = bpf.med - 2 * floor;	/* admit and outcome: two runs */
	fprintf(stderr, "\n50 us RTT (netem), ns per connect()+accept()+close() (median, spread of %d rounds):\n"
		"  no cbreaker                  %9.0f  (%.0f..%.0f)\n"
		"  closed breaker               %9.0f  (%+.2f%%; bpf_stats off)\n"
		"  our programs less the floor  %9.0f  (%.2f%% of that connect)\n",
		ROUNDS, none.med, none.lo, none.hi, closed.med,
		100 * (closed.med - none.med) / none.med, ns, 100 * ns / none.med);
	put("connect_ns_50us_rtt", none.med);
	put("healthy_overhead_50us_rtt_ns", ns);
	put("healthy_overhead_50us_rtt_pct", 100 * ns / none.med);
	put("connect_ns_50us_rtt_closed_stats_on", closed_on.med);
	put("healthy_overhead_50us_rtt_wall_pct", 100 * (closed.med - none.med) / none.med);
	put_raw("connect_ns_50us_rtt", &none, ROUNDS);
	put_raw("connect_ns_50us_rtt_closed_breaker", &closed, ROUNDS);
}

int main(void)
{
	struct stat_ none = { 0 }, nopol = { 0 }, closed = { 0 }, loaded = { 0 };
	struct stat_ none2 = { 0 }, open_ = { 0 }, rst = { 0 }, floor_ = { 0 };
	struct stat_ un_ns = { 0 }, un_runs = { 0 }, ad_ns = { 0 }, se_ns = { 0 };
	struct stat_ tr_runs = { 0 };
	static const unsigned int sizes[] = { 1, 1000, 100000, 1000000 };
	double cost[4], bcost[4], mem[4], rcost[4], rbcost[4], slab_per, blackhole = 0;
	double untracked_ns, tracked_ns, loaded_ns = 0, ns;
	unsigned long long mem0, slab0;
	struct sockaddr_in s1, s2;
	int l1, l2, r, i, tp, c4, ep;
	char name[64];

	json = stdout;
	if (getenv("CB_BENCH_PREFIX"))
		prefix = getenv("CB_BENCH_PREFIX");
	setvbuf(stderr, NULL, _IONBF, 0);
	sh("modprobe cbreaker && mkdir -p " CG " " CG_EMPTY " && { cbctl unload 2>/dev/null; true; }");
	sh("cbctl load cgroup " CG " table 1100000 >/dev/null");
	sh("sysctl -qw kernel.bpf_stats_enabled=1");
	sh("cbctl policy add dst 127.0.0.2 window 100 min-calls 100 >/dev/null");
	sh("cbctl policy add dst 127.0.0.3 window 100 min-calls 100 >/dev/null");
	sh("cbctl policy add dst 127.16.0.0/12 proto udp window 100 min-calls 100 >/dev/null");
	l1 = cb_bench_listener("127.0.0.1", &s1);	/* no policy covers it */
	l2 = cb_bench_listener("127.0.0.2", &s2);	/* tracked: a closed breaker */

	/*
	 * 1. healthy path, interleaved. Each round runs every scenario with
	 * bpf_stats on, for our programs' run time and runs (kfuncs
	 * included), and again with it off, for wall time without the two
	 * clock reads bpf_stats adds to every program run. An empty program's
	 * reading is that floor, subtracted per run. Wall time under TCG
	 * varies by tens of percent between rounds; run times compare.
	 */
	c4 = bpf_obj_get(PIN "/prog_connect4");
	tp = link_prog_fd(PIN "/trace_cb_tcp_done");
	ep = empty_prog();
	if (c4 < 0 || tp < 0)
		cb_die("programs");
	for (r = 0; r < ROUNDS; r++) {
		struct runs a0, a1, t0, t1, e0, e1;

		sh("sysctl -qw kernel.bpf_stats_enabled=1");
		cb_join(CG_EMPTY);
		e0 = prog_runs(ep);
		cb_connects(&s1, l1, CONNECTS);
		e1 = prog_runs(ep);
		floor_.v[r] = e1.cnt > e0.cnt ? (double)(e1.ns - e0.ns) / (e1.cnt - e0.cnt) : 0;
		cb_join(CG);
		a0 = prog_runs(c4);
		t0 = prog_runs(tp);
		cb_connects(&s1, l1, CONNECTS);
		a1 = prog_runs(c4);
		t1 = prog_runs(tp);
		un_ns.v[r] = (double)(a1.ns - a0.ns + t1.ns - t0.ns) / CONNECTS;
		un_runs.v[r] = (double)(a1.cnt - a0.cnt + t1.cnt - t0.cnt) / CONNECTS;
		a0 = prog_runs(c4);
		t0 = prog_runs(tp);
		cb_connects(&s2, l2, CONNECTS);
		a1 = prog_runs(c4);
		t1 = prog_runs(tp);
		ad_ns.v[r] = (double)(a1.ns - a0.ns) / CONNECTS;
		se_ns.v[r] = (double)(t1.ns - t0.ns) / CONNECTS;
		tr_runs.v[r] = (double)(a1.cnt - a0.cnt + t1.cnt - t0.cnt) / CONNECTS;
		sh("sysctl -qw kernel.bpf_stats_enabled=0");
		cb_join(ROOT);
		none.v[r] = cb_connects(&s1, l1, CONNECTS);
		cb_join(CG);
		nopol.v[r] = cb_connects(&s1, l1, CONNECTS);
		closed.v[r] = cb_connects(&s2, l2, CONNECTS);
	}
	sh("sysctl -qw kernel.bpf_stats_enabled=1");
	summarize(&none, ROUNDS);
	summarize(&nopol, ROUNDS);
	summarize(&closed, ROUNDS);
	summarize(&floor_, ROUNDS);
	summarize(&un_ns, ROUNDS);
	summarize(&un_runs, ROUNDS);
	summarize(&ad_ns, ROUNDS);
	summarize(&se_ns, ROUNDS);
	summarize(&tr_runs, ROUNDS);
	untracked_ns = un_ns.med - un_runs.med * floor_.med;
	tracked_ns = ad_ns.med + se_ns.med - tr_runs.med * floor_.med;

	fprintf(stderr, "BPF programs (kernel.bpf_stats_enabled):\n");
	prog_stats("connect4", c4);
	prog_stats("tcp_done", tp);
	put("bpf_stats_floor_ns", floor_.med);
	put("healthy_overhead_ns", tracked_ns);
	put("healthy_overhead_pct", 100 * tracked_ns / none.med);
	put("admit_ns_with_floor", ad_ns.med);
	put("sensing_ns_with_floor", se_ns.med);
	put("tracked_runs_per_connect", tr_runs.med);
	put("untracked_overhead_ns", untracked_ns);
	put("untracked_overhead_pct", 100 * untracked_ns / none.med);
	put("healthy_overhead_wall_pct", 100 * (closed.med - none.med) / none.med);
	put("untracked_overhead_wall_pct", 100 * (nopol.med - none.med) / none.med);
	put("connect_ns_no_cbreaker", none.med);
	if (getenv("CB_BENCH_QUICK")) {
		fprintf(stderr, "quick: closed breaker: admit %.0f + outcome %.0f - floor %.0f x %.2f = %.0f ns, %.2f%% of a %.0f ns connect\n",
			ad_ns.med, se_ns.med, floor_.med, tr_runs.med, tracked_ns,
			100 * tracked_ns / none.med, none.med);
		fprintf(stderr, "quick: wall, bpf_stats off: no policy %+.2f%%, closed breaker %+.2f%% of a %.0f ns connect\n",
			100 * (nopol.med - none.med) / none.med,
			100 * (closed.med - none.med) / none.med, none.med);
		rtt(floor_.med);
		return 0;
	}

	/* with 10k rules and 100k breakers present */
	rules(10000);
	grow(100000);
	for (r = 0; r < ROUNDS; r++) {
		cb_join(ROOT);
		none2.v[r] = cb_connects(&s1, l1, CONNECTS);
		cb_join(CG);
		loaded.v[r] = connects_bpf(&s2, l2, CONNECTS, &ns);
		loaded_ns += ns / ROUNDS;
	}
	summarize(&none2, ROUNDS);
	summarize(&loaded, ROUNDS);
	rtt(floor_.med);

	fprintf(stderr, "\nhealthy path, ns per connect()+accept()+close(), bpf_stats off (median, spread of %d rounds):\n", ROUNDS);
	fprintf(stderr, "  no cbreaker                  %9.0f  (%.0f..%.0f)\n", none.med, none.lo, none.hi);
	fprintf(stderr, "  attached, no policy matches  %9.0f  (%+.2f%%)\n", nopol.med,
		100 * (nopol.med - none.med) / none.med);
	fprintf(stderr, "  policy, closed breaker       %9.0f  (%+.2f%%)\n", closed.med,
		100 * (closed.med - none.med) / none.med);
	fprintf(stderr, "  + 10k rules, 100k breakers   %9.0f  (%+.2f%% of %.0f; bpf_stats on)\n", loaded.med,
		100 * (loaded.med - none2.med) / none2.med, none2.med);
	fprintf(stderr, "our programs' run time per connect (kernel accounting), less the bpf_stats\n"
		"floor of %.0f ns per run (an empty program's reading):\n", floor_.med);
	fprintf(stderr, "  no policy matches            %9.0f  (%.2f runs; %.2f%% of a connect)\n",
		untracked_ns, un_runs.med, 100 * untracked_ns / none.med);
	fprintf(stderr, "  closed breaker: admit %.0f + outcome %.0f - floor = %.0f  (%.2f runs; %.2f%% of a connect)\n",
		ad_ns.med, se_ns.med, tracked_ns, tr_runs.med, 100 * tracked_ns / none.med);
	fprintf(stderr, "  + 10k rules, 100k breakers   %9.0f  (%.2f%% of a connect; floor not subtracted)\n",
		loaded_ns, 100 * loaded_ns / none2.med);
	put("loaded_overhead_ns", loaded_ns);
	put("loaded_overhead_pct", 100 * loaded_ns / none2.med);
	put("loaded_overhead_wall_pct", 100 * (loaded.med - none2.med) / none2.med);
	put_raw("connect_ns_no_cbreaker", &none, ROUNDS);
	put_raw("connect_ns_closed_breaker", &closed, ROUNDS);

	/* 2. fail fast: open breaker vs kernel RST vs blackholed SYN */
	sh("cbctl breaker trip dst 127.0.0.3 port 80 >/dev/null");
	for (r = 0; r < ROUNDS; r++) {
		cb_join(CG);
		open_.v[r] = failing("127.0.0.3", 80, CONNECTS, ECONNREFUSED);
		cb_join(ROOT);
		rst.v[r] = failing("127.0.0.1", 1, CONNECTS, ECONNREFUSED);
	}
	summarize(&open_, ROUNDS);
	summarize(&rst, ROUNDS);
	sh("ip netns add cbbh && ip link add cbbh0 type veth peer name eth0 netns cbbh && "
	   "ip addr add 10.88.0.1/24 dev cbbh0 && ip link set cbbh0 up && "
	   "ip -n cbbh addr add 10.88.0.2/24 dev eth0 && ip -n cbbh link set eth0 up && "
	   /* the SYNs go out and vanish; without a neighbour entry no
	    * ARP answer would come back and the connect would fail
	    * with EHOSTUNREACH instead */
	   "ip neigh replace 10.88.0.2 dev cbbh0 nud permanent lladdr "
	   "$(ip -n cbbh -br link show eth0 | awk '{print $3}') && "
	   "tc qdisc add dev cbbh0 root netem loss 100%% && "
	   "sysctl -qw net.ipv4.tcp_syn_retries=1");
	cb_join(ROOT);
	for (i = 0; i < 3; i++)
		blackhole += failing("10.88.0.2", 80, 1, ETIMEDOUT) / 3;
	sh("sysctl -qw net.ipv4.tcp_syn_retries=6 && ip netns del cbbh");
	fprintf(stderr, "\nfailing fast, ns until connect() fails:\n");
	fprintf(stderr, "  open breaker        %12.0f\n", open_.med);
	fprintf(stderr, "  kernel RST          %12.0f  (open is %.1fx faster)\n", rst.med,
		rst.med / open_.med);
	fprintf(stderr, "  blackholed SYN      %12.0f  (tcp_syn_retries=1: %.0fx; scaled to the default 6, 127 s: %.0fx)\n",
		blackhole, blackhole / open_.med, 127e9 / open_.med);
	put("open_refusal_ns", open_.med);
	put("rst_ns", rst.med);
	put("open_vs_rst_speedup", rst.med / open_.med);
	put("blackhole_ns_syn_retries_1", blackhole);
	put("open_vs_blackhole_speedup", blackhole / open_.med);
	put("open_vs_blackhole_default_retries_speedup", 127e9 / open_.med);

	/* 3. scale: 1 to 1M breakers, cost per connect and kernel memory */
	fprintf(stderr, "\nscale (breakers: ns per tracked connect, wall and our programs; "
		"kernel bytes per breaker):\n");
	close(c4);
	close(tp);
	sh("cbctl unload >/dev/null && cbctl load cgroup " CG " table 1100000 >/dev/null");
	made = 0;
	sh("cbctl policy add dst 127.0.0.2 window 100 min-calls 100 >/dev/null");
	sh("cbctl policy add dst 127.16.0.0/12 proto udp window 100 min-calls 100 >/dev/null");
	cb_join(CG);
	cb_connects(&s2, l2, 10);	/* one breaker */
	mem0 = map_memlock(PIN "/breakers");
	slab0 = meminfo("Slab") + meminfo("Percpu");
	for (i = 0; i < 4; i++) {
		struct stat_ s = { 0 }, b = { 0 };

		grow(sizes[i] - 1);
		for (r = 0; r < 3; r++)
			s.v[r] = connects_bpf(&s2, l2, CONNECTS, &b.v[r]);
		summarize(&s, 3);
		summarize(&b, 3);
		cost[i] = s.med;
		bcost[i] = b.med;
		mem[i] = breakers() > 1 ?
			(double)(map_memlock(PIN "/breakers") - mem0) / (breakers() - 1) : 0;
		fprintf(stderr, "  %8u breakers: %9.0f ns  programs %6.0f ns  %4.0f B (map accounting)\n",
			breakers(), cost[i], bcost[i], mem[i]);
		snprintf(name, sizeof(name), "connect_ns_%u_breakers", sizes[i]);
		put(name, cost[i]);
		snprintf(name, sizeof(name), "bpf_ns_%u_breakers", sizes[i]);
		put(name, bcost[i]);
	}
	slab_per = (double)(meminfo("Slab") + meminfo("Percpu") - slab0) / (breakers() - 1);
	fprintf(stderr, "  slab+percpu growth per breaker: %.0f B\n", slab_per);
	put("cost_ratio_1M_vs_1", bcost[3] / bcost[0]);
	put("wall_cost_ratio_1M_vs_1", cost[3] / cost[0]);
	put("kernel_bytes_per_breaker", mem[3]);
	put("slab_bytes_per_breaker", slab_per);

	/* policy lookup: 1 to 100k rules in the tries */
	fprintf(stderr, "\nrules (ns per tracked connect, wall and our programs):\n");
	cb_join(ROOT);
	sh("cbctl unload >/dev/null && cbctl load cgroup " CG " >/dev/null");
	sh("cbctl policy add dst 127.0.0.2 window 100 min-calls 100 >/dev/null");
	cb_join(CG);
	for (i = 0; i < 4; i++) {
		static const unsigned int nrules[] = { 0, 1000, 10000, 100000 };
		struct stat_ s = { 0 }, b = { 0 };

		rules(nrules[i]);
		for (r = 0; r < 3; r++)
			s.v[r] = connects_bpf(&s2, l2, CONNECTS, &b.v[r]);
		summarize(&s, 3);
		summarize(&b, 3);
		rcost[i] = s.med;
		rbcost[i] = b.med;
		fprintf(stderr, "  %6u rules: %9.0f ns  programs %6.0f ns\n", nrules[i] + 1,
			s.med, b.med);
		snprintf(name, sizeof(name), "connect_ns_%u_rules", nrules[i] + 1);
		put(name, s.med);
		snprintf(name, sizeof(name), "bpf_ns_%u_rules", nrules[i] + 1);
		put(name, b.med);
	}
	put("cost_ratio_100k_rules_vs_1", rbcost[3] / rbcost[0]);
	put("wall_cost_ratio_100k_rules_vs_1", rcost[3] / rcost[0]);

	/* events: how many a monitor keeps up with, and drops when it cannot */
	events(2000);
	cb_join(ROOT);
	sh("cbctl unload >/dev/null");
	fprintf(json, "\"guest_kernel\": \"");
	fflush(json);
	sh("uname -r | tr -d '\\n'");
	fprintf(json, "\"\n");
	return 0;
}
