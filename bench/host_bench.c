// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF side's cost on real hardware: our hooks and sensors (bench/
 * host.bpf.c: bpf/cbreaker.bpf.c with stand-ins for the module's kfuncs)
 * on the host itself, which runs BPF natively but cannot load modules.
 * Rounds interleave connect()+accept()+close() over loopback without
 * cbreaker, with it for a destination no policy covers, with it for one
 * that has a breaker, and the same with a million breakers in the map (a
 * second instance of the object). Prints a table on stderr and JSON members on
 * stdout (merged into bench/results.json by make bench).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/cbreaker.h>

#include "cb_bench.h"
#include "host.skel.h"

#define ROUNDS		31
#define CONNECTS	2000
#define BIG		1000000	/* breakers */
#define FILL_BATCH	10000

struct stat_ {
	double v[ROUNDS];
	double med, lo, hi;
};

static char cg_on[300], cg_off[300];

/* The first cgroup v2 mount. */
static void cgroup_root(char *buf, size_t len)
{
	FILE *m = setmntent("/proc/mounts", "r");
	struct mntent *e;

	while (m && (e = getmntent(m)))
		if (!strcmp(e->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", e->mnt_dir);
			endmntent(m);
			return;
		}
	errno = ENOENT;
	cb_die("no cgroup v2 mount");
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* The BPF object, with or without the outcome sensors (fentry). */
static struct host_bpf *load(bool sensors, unsigned int table)
{
	/* some hosts refuse tracing programs: no need to print that */
	libbpf_print_fn_t print = sensors ? libbpf_set_print(quiet) : NULL;
	struct host_bpf *skel = host_bpf__open();

	if (skel) {
		bpf_map__set_max_entries(skel->maps.cb_breakers, table);
		bpf_program__set_autoload(skel->progs.cb_tcp_done, sensors);
		bpf_program__set_autoload(skel->progs.cb_tcp_failed, false);
		bpf_program__set_autoload(skel->progs.cb_tcp_close, false);
		bpf_program__set_autoload(skel->progs.cb_tcp_disconnect, false);
		bpf_program__set_autoload(skel->progs.cb_udp4_err, false);
		bpf_program__set_autoload(skel->progs.cb_udp4_lookup, false);
		bpf_program__set_autoload(skel->progs.cb_udp6_err, false);
		bpf_program__set_autoload(skel->progs.cb_udp6_lookup, false);
		bpf_program__set_autoload(skel->progs.cb_release, !sensors);
		if (host_bpf__load(skel)) {
			host_bpf__destroy(skel);
			skel = NULL;
		}
	}
	if (sensors)
		libbpf_set_print(print);
	return skel;
}

static unsigned long long runtimes(struct host_bpf *skel, bool sensors)
{
	struct bpf_program *done = sensors ? skel->progs.cb_tcp_done :
					     skel->progs.cb_release;

	return cb_prog_runtime(bpf_program__fd(skel->progs.cb_connect4)) +
	       cb_prog_runtime(bpf_program__fd(done));
}

/*
 * cb_connects() from inside @cg with @skel's hooks attached (connect4 to @cg,
 * and the sensor, or its stand-in if @tracked); our programs' run time per
 * connect is added to *bpf, averaged over the rounds.
 */
static double hooked(struct host_bpf *skel, bool sensors, bool tracked, int cg,
		     const struct sockaddr_in *sa, int lfd, double *bpf)
{
	struct bpf_link *c4, *done = NULL;
	unsigned long long rt;
	double wall;

	c4 = bpf_program__attach_cgroup(skel->progs.cb_connect4, cg);
	if (sensors)
		done = bpf_program__attach(skel->progs.cb_tcp_done);
	else if (tracked)
		done = bpf_program__attach_cgroup(skel->progs.cb_release, cg);
	if (!c4 || ((sensors || tracked) && !done))
		cb_die("attaching");
	cb_join(cg_on);
	rt = runtimes(skel, sensors);
	wall = cb_connects(sa, lfd, CONNECTS);
	*bpf += (double)(runtimes(skel, sensors) - rt) / CONNECTS / ROUNDS;
	cb_join(cg_off);
	bpf_link__destroy(c4);
	bpf_link__destroy(done);
	return wall;
}

/* @key's breaker and BIG - 1 others (10.x.y.z:80), in batches. */
static void fill(struct host_bpf *skel, const struct cb_key *key)
{
	static struct cb_key keys[FILL_BATCH];
	static struct cb_breaker vals[FILL_BATCH];
	int fd = bpf_map__fd(skel->maps.cb_breakers);
	unsigned int i, n, done = 0;
	__u32 count;

	while (done < BIG) {
		for (n = 0; n < FILL_BATCH && done < BIG; n++, done++) {
			memset(&keys[n], 0, sizeof(keys[n]));
			if (!done) {
				keys[n] = *key;
				continue;
			}
			keys[n].addr[10] = keys[n].addr[11] = 0xff;
			keys[n].addr[12] = 10;
			for (i = 0; i < 3; i++)
				keys[n].addr[13 + i] = done >> (16 - 8 * i);
			keys[n].port = htons(80);
			keys[n].proto = IPPROTO_TCP;
			keys[n].netns = key->netns;
		}
		count = n;
		if (bpf_map_update_batch(fd, keys, vals, &count, NULL) || count != n)
			cb_die("filling the breaker map");
	}
}

static __u64 netns_cookie(void)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cb_die("SO_NETNS_COOKIE");
	close(fd);
	return cookie;
}

static void summarize(struct stat_ *s)
{
	double v[ROUNDS];

	memcpy(v, s->v, sizeof(v));
	qsort(v, ROUNDS, sizeof(v[0]), cb_cmp_double);
	s->med = v[ROUNDS / 2];
	s->lo = v[ROUNDS / 4];
	s->hi = v[3 * ROUNDS / 4];
}

static void put(const char *name, double v)
{
	printf("\"%s\": %.3f,\n", name, v);
}

int main(void)
{
	struct stat_ none = { 0 }, untracked = { 0 }, tracked = { 0 }, million = { 0 };
	double bpf_untracked = 0, bpf_tracked = 0, bpf_million = 0;
	struct sockaddr_in s1, s2;
	struct cb_breaker b = { 0 };
	struct cb_key key = { 0 };
	struct host_bpf *skel, *big;
	char root[200], parent[256];
	int l1, l2, r, cg, stats;
	bool sensors;

	cgroup_root(root, sizeof(root));
	snprintf(parent, sizeof(parent), "%s/cbhostbench", root);
	snprintf(cg_on, sizeof(cg_on), "%s/on", parent);
	snprintf(cg_off, sizeof(cg_off), "%s/off", parent);
	if ((mkdir(parent, 0755) && errno != EEXIST) ||
	    (mkdir(cg_on, 0755) && errno != EEXIST) ||
	    (mkdir(cg_off, 0755) && errno != EEXIST))
		cb_die("mkdir cgroup");

	skel = load(true, CB_BREAKERS_DEFAULT);
	sensors = skel != NULL;
	if (!skel)	/* some hosts refuse tracing programs (EPERM) */
		skel = load(false, CB_BREAKERS_DEFAULT);
	big = load(sensors, BIG + 1);
	if (!skel || !big)
		cb_die("loading the BPF object");
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0)
		cb_die("bpf_enable_stats");
	cg = open(cg_on, O_RDONLY | O_DIRECTORY);
	if (cg < 0)
		cb_die(cg_on);

	/* 127.0.0.2 has a breaker: its connects take the tracked path */
	key.addr[10] = key.addr[11] = 0xff;
	inet_pton(AF_INET, "127.0.0.2", &key.addr[12]);
	l1 = cb_listener("127.0.0.1", &s1);
	l2 = cb_listener("127.0.0.2", &s2);
	key.port = s2.sin_port;
	key.proto = IPPROTO_TCP;
	key.netns = netns_cookie();	/* the hooks key breakers by namespace */
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");
	fill(big, &key);

	for (r = 0; r < ROUNDS; r++) {
		/* without cbreaker: nothing attached anywhere */
		cb_join(cg_off);
		none.v[r] = cb_connects(&s1, l1, CONNECTS);
		untracked.v[r] = hooked(skel, sensors, false, cg, &s1, l1, &bpf_untracked);
		tracked.v[r] = hooked(skel, sensors, true, cg, &s2, l2, &bpf_tracked);
		/* the same tracked destination among a million breakers */
		million.v[r] = hooked(big, sensors, true, cg, &s2, l2, &bpf_million);
	}
	summarize(&million);
	summarize(&none);
	summarize(&untracked);
	summarize(&tracked);

	fprintf(stderr, "host, BPF side alone (kfuncs stood in for), ns per connect()+accept()+close()\n"
		"(median and quartiles of %d interleaved rounds of %d):\n", ROUNDS, CONNECTS);
	if (!sensors)
		fprintf(stderr, "  (this host refuses tracing programs: connect4, and on tracked\n"
			"   connects a sock_release program doing the sensor's work)\n");
	fprintf(stderr, "  no cbreaker            %7.0f  (%.0f..%.0f)\n", none.med, none.lo, none.hi);
	fprintf(stderr, "  no policy matches      %7.0f  (%+.0f ns, %+.2f%%); programs %.0f ns\n",
		untracked.med, untracked.med - none.med,
		100 * (untracked.med - none.med) / none.med, bpf_untracked);
	fprintf(stderr, "  a breaker, tracked     %7.0f  (%+.0f ns, %+.2f%%); programs %.0f ns\n",
		tracked.med, tracked.med - none.med,
		100 * (tracked.med - none.med) / none.med, bpf_tracked);
	fprintf(stderr, "  tracked, 1M breakers   %7.0f  (%+.0f ns, %+.2f%%); programs %.0f ns: %.2fx of 1 breaker\n",
		million.med, million.med - none.med,
		100 * (million.med - none.med) / none.med, bpf_million,
		bpf_million / bpf_tracked);
	put("host_sensors_included", sensors);
	put("host_bpf_ns_1M_breakers", bpf_million);
	put("host_cost_ratio_1M_vs_1", bpf_million / bpf_tracked);
	put("host_wall_cost_ratio_1M_vs_1", million.med / tracked.med);
	put("host_connect_ns", none.med);
	put("host_untracked_overhead_ns", untracked.med - none.med);
	put("host_untracked_overhead_pct", 100 * (untracked.med - none.med) / none.med);
	put("host_untracked_bpf_ns", bpf_untracked);
	put("host_tracked_bpf_side_overhead_ns", tracked.med - none.med);
	put("host_tracked_bpf_side_overhead_pct", 100 * (tracked.med - none.med) / none.med);
	put("host_tracked_bpf_ns", bpf_tracked);

	cb_join(root);
	rmdir(cg_on);
	rmdir(cg_off);
	rmdir(parent);
	close(stats);
	host_bpf__destroy(skel);
	host_bpf__destroy(big);
	return 0;
}
