// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF side's cost on real hardware: our hooks and sensors (bench/
 * host.bpf.c: bpf/cbreaker.bpf.c with stand-ins for the module's kfuncs)
 * on the host itself, which runs BPF natively but cannot load modules.
 *
 * Each round runs every scenario twice, interleaved: once with bpf_stats
 * on, for our programs' own run time (and run count), and once with it
 * off, for wall time undisturbed by the two clock reads bpf_stats adds to
 * every program run. Scenarios: connect()+accept()+close() over loopback
 * without cbreaker (to one destination, and round-robin over the 100,000
 * below); with an empty connect4 program (what bpf_stats reports
 * for a program that does nothing: the floor, subtracted per run); with
 * cbreaker for a destination no policy covers; for one with a closed
 * breaker; the same among a million breakers; and round-robin over
 * 100,000 destinations that each have a breaker, so that every breaker
 * is cold in the cache when its connect comes (after one pass over them
 * all, as in a round-robin that has run a while: each was dialed before,
 * 100,000 connects ago, and the hooks' gate knows it); and the same
 * round-robin with a program that reads one line of the gate per
 * destination and nothing else (cb_line), and that program for one
 * destination: what one cold line costs more than a hot one here; and the
 * bare reference (cb_bare: one hash lookup and one atomic add), hot and
 * round-robin, which the targets' ratios divide by. The
 * tracked and cold scenarios run again with the record stand-in returning
 * at once: what the record costs, hot and cold. Then exchanges on one kept
 * connection: under calls exchanges (a sock_ops run on each segment the
 * client sends) and not (none). Prints a table on stderr
 * and JSON members on stdout (merged into bench/results.json by make
 * bench).
 *
 * Every scenario runs on one loaded object, whose breaker map each round
 * holds 5 breakers, then a million (filled, timed, emptied again): two
 * objects loaded one after the other differ by up to ~90 ns per connect
 * on this host whatever their maps hold (the second one slower), which
 * comparing across them would count as the table's cost.
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
#define BIG		1000000	/* breakers, and the map's size */
#define KEPT		5	/* breakers the map always holds */
#define COLD		100000	/* destinations round-robin */
#define FILL_BATCH	10000
#define EXCHANGES	2000	/* per round, on one kept connection */

enum scen {
	NONE, NONE_COLD, EMPTY, UNTRACKED, TRACKED, TRACKED_NOREC, MILLION,
	COLDRR, COLD_NOREC, LINE, LINE_HOT, BULKHEAD, FAIL_LATE, BARE, BARE_COLD,
	NSCEN
};

static const char *const scen_name[NSCEN] = {
	"no cbreaker", "no cbreaker, 100k dsts", "empty connect4", "no policy matches",
	"a breaker, tracked", "tracked, no record", "tracked, 1M breakers",
	"cold, 100k round-robin", "cold, no record", "one cold line alone",
	"one hot line alone", "tracked, max-conns", "tracked, fail-on reset",
	"bare reference", "bare, 100k round-robin",
};

static const char *const scen_key[NSCEN] = {
	"none", "none_cold", "empty", "untracked", "tracked", "tracked_no_record",
	"tracked_1M", "cold_100k", "cold_100k_no_record", "cold_line", "hot_line",
	"tracked_max_conns", "tracked_fail_on_reset", "bare", "bare_cold",
};

struct stat_ {
	double v[ROUNDS];
	double med, lo, hi;
};

/* per scenario: wall ns per connect (stats off, on); program ns and runs */
static struct stat_ wall[NSCEN], wall_on[NSCEN], prog[NSCEN], runs[NSCEN];
/* the record's share, hot and cold: per round, with it less without it */
static struct stat_ rec_hot, rec_cold;
static char cg_on[300], cg_off[300];
static struct sockaddr_in cold_sa[COLD];
static unsigned int cold_next;

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

/* The BPF object, its breaker map sized @table; no tracing programs. */
static struct host_bpf *load(unsigned int table)
{
	struct host_bpf *skel = host_bpf__open();
	struct cb_gate_set gk = { 0 };
	struct bpf_program *prog;
	__u32 i = CB_GATE_KEY;

	if (!skel)
		return NULL;
	bpf_map__set_max_entries(skel->maps.cb_breakers, table);
	skel->bss->cb_sockops_on = 1;	/* its sock_ops stand-in is attached */
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.cb_connect4, true);
	bpf_program__set_autoload(skel->progs.cb_sockops, true);
	bpf_program__set_autoload(skel->progs.cb_empty, true);
	bpf_program__set_autoload(skel->progs.cb_line, true);
	bpf_program__set_autoload(skel->progs.cb_bare, true);
	if (host_bpf__load(skel)) {
		host_bpf__destroy(skel);
		return NULL;
	}
	/* the gate's hash key, as the module writes it when handed the map */
	gk.way[0] = (__u64)random() << 33 | (__u64)random() << 2 | 1;
	gk.way[1] = (__u64)random() << 33 | (__u64)random() << 2;
	if (bpf_map__update_elem(skel->maps.cb_gate, &i, sizeof(i), &gk,
				 sizeof(gk), BPF_ANY)) {
		host_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* run time (ns) and run count of a program so far (bpf_stats) */
static void prog_stats(int fd, unsigned long long *ns, unsigned long long *cnt)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		cb_die("bpf_prog_get_info_by_fd");
	*ns += info.run_time_ns;
	*cnt += info.run_cnt;
}

/* bpf_stats on (run time and count of every program) until its fd closes */
static int stats_on(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0)
		cb_die("bpf_enable_stats");
	return fd;
}

/* connect()+accept()+close() round-robin over the cold destinations */
static double cold_connects(int lfd, int n)
{
	unsigned long long t0 = cb_now_ns();
	int i, fd, c;

	for (i = 0; i < n; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (void *)&cold_sa[cold_next], sizeof(cold_sa[0])))
			cb_die("connect (cold)");
		cold_next = (cold_next + 1) % COLD;
		c = accept(lfd, NULL, NULL);
		close(c);
		close(fd);
	}
	return (double)(cb_now_ns() - t0) / n;
}

/*
 * CONNECTS connects from inside cg_on with @skel's hooks attached there
 * (@alone: that connect4 program alone; else connect4 and the sensor's
 * stand-in), to @sa (NULL: the cold destinations). With @stats, our
 * programs' run time and runs per connect go to *ns and *cnt.
 */
static double hooked(struct host_bpf *skel, struct bpf_program *alone, int cg,
		     const struct sockaddr_in *sa, int lfd, bool stats,
		     double *ns, double *cnt)
{
	struct bpf_program *progs[2] = { skel->progs.cb_connect4, skel->progs.cb_sockops };
	unsigned long long t0 = 0, t1 = 0, c0 = 0, c1 = 0;
	struct bpf_link *l[2] = { NULL, NULL };
	double w;
	int i, np = 2;

	if (alone) {
		progs[0] = alone;
		np = 1;
	}
	for (i = 0; i < np; i++) {
		l[i] = bpf_program__attach_cgroup(progs[i], cg);
		if (!l[i])
			cb_die("attaching");
	}
	cb_join(cg_on);
	for (i = 0; stats && i < np; i++)
		prog_stats(bpf_program__fd(progs[i]), &t0, &c0);
	w = sa ? cb_connects(sa, lfd, CONNECTS) : cold_connects(lfd, CONNECTS);
	for (i = 0; stats && i < np; i++)
		prog_stats(bpf_program__fd(progs[i]), &t1, &c1);
	cb_join(cg_off);
	for (i = 0; i < np; i++)
		bpf_link__destroy(l[i]);
	if (stats) {
		*ns = (double)(t1 - t0) / CONNECTS;
		*cnt = (double)(c1 - c0) / CONNECTS;
	}
	return w;
}

/* hooked() with the record stand-in returning at once: the record's share */
static double unrecorded(struct host_bpf *skel, int cg,
			 const struct sockaddr_in *sa, int lfd, bool stats,
			 double *ns, double *cnt)
{
	double w;

	skel->bss->cb_record_off = 1;
	w = hooked(skel, NULL, cg, sa, lfd, stats, ns, cnt);
	skel->bss->cb_record_off = 0;
	return w;
}

static void key_of(struct cb_key *k, const struct sockaddr_in *sa, __u64 netns)
{
	memset(k, 0, sizeof(*k));
	k->addr[10] = k->addr[11] = 0xff;
	memcpy(&k->addr[12], &sa->sin_addr, 4);
	k->port = sa->sin_port;
	k->proto = IPPROTO_TCP;
	k->netns = netns;
}

/* The COLD destinations: 127.1.0.0 and on, @port. */
static void cold_init(__u16 port)
{
	unsigned int i;

	for (i = 0; i < COLD; i++) {
		cold_sa[i].sin_family = AF_INET;
		cold_sa[i].sin_port = port;
		cold_sa[i].sin_addr.s_addr = htonl(0x7f010000 + i);
	}
}

/*
 * A closed breaker under the default policy, as the module leaves one
 * (cb_engine_rules): slow at 1 s, a count window of 100 with max-age
 * 600 s; its window full of successes, as a breaker in use has it. Its
 * successes take the record stand-in's common path.
 */
static void breaker_init(struct cb_breaker *b)
{
	memset(b, 0, sizeof(*b));
	b->slow_us = 1000000;
	b->age_tick_ms = 600000 / CB_AGE_TICKS;
	b->cw.size = 100;
	b->cw.count = b->cw.size;
	b->cw.runs = 1;
	b->cw.run_len[0] = b->cw.size;
	b->cw.run_tick[0] = cb_now_ns() / (b->age_tick_ms * 1000000ULL);
}

/*
 * The @i-th of the keys that make a map a million (BIG in all with the
 * KEPT it always holds): the COLD destinations' and others (10.x.y.z:80).
 */
static void filler_key(struct cb_key *k, unsigned int i, __u64 netns)
{
	int j;

	if (i < COLD) {
		key_of(k, &cold_sa[i], netns);
		return;
	}
	memset(k, 0, sizeof(*k));
	k->addr[10] = k->addr[11] = 0xff;
	k->addr[12] = 10;
	for (j = 0; j < 3; j++)
		k->addr[13 + j] = i >> (16 - 8 * j);
	k->port = htons(80);
	k->proto = IPPROTO_TCP;
	k->netns = netns;
}

/*
 * The filler keys added to the map @fd (@add, with the values @vals, of
 * @vsize bytes each) or deleted from it, in batches.
 */
static void fill_map(int fd, __u64 netns, bool add, const void *vals,
		     const char *what)
{
	static struct cb_key keys[FILL_BATCH];
	unsigned int n, done = 0;
	__u32 count;
	int err;

	while (done < BIG - KEPT) {
		for (n = 0; n < FILL_BATCH && done < BIG - KEPT; n++, done++)
			filler_key(&keys[n], done, netns);
		count = n;
		err = add ? bpf_map_update_batch(fd, keys, vals, &count, NULL) :
			    bpf_map_delete_batch(fd, keys, &count, NULL);
		if (err || count != n)
			cb_die(what);
	}
}

/* The breakers that make the breaker map a million, added or deleted. */
static void fill(struct host_bpf *skel, __u64 netns, bool add)
{
	static struct cb_breaker vals[FILL_BATCH];
	static bool made;
	unsigned int i;

	for (i = 0; !made && i < FILL_BATCH; i++)
		breaker_init(&vals[i]);
	made = true;
	fill_map(bpf_map__fd(skel->maps.cb_breakers), netns, add, vals,
		 add ? "filling the breaker map" : "emptying the breaker map");
}

/* The bare reference's map: as many keys as the breaker map, for good. */
static void bare_fill(struct host_bpf *skel, const struct sockaddr_in *hot,
		      __u64 netns)
{
	static const __u64 zeros[FILL_BATCH];
	struct cb_key k;

	fill_map(bpf_map__fd(skel->maps.cb_bare_counts), netns, true, zeros,
		 "filling the bare reference's map");
	key_of(&k, hot, netns);
	if (bpf_map__update_elem(skel->maps.cb_bare_counts, &k, sizeof(k),
				 &zeros[0], sizeof(zeros[0]), BPF_ANY))
		cb_die("the bare reference's key");
}

/* What the bare reference counted for the COLD destinations, or for @sa. */
static __u64 bare_counted(struct host_bpf *skel, const struct sockaddr_in *sa,
			  __u64 netns)
{
	__u64 sum = 0, n;
	struct cb_key k;
	int i;

	for (i = 0; i < (sa ? 1 : COLD); i++) {
		key_of(&k, sa ?: &cold_sa[i], netns);
		if (!bpf_map__lookup_elem(skel->maps.cb_bare_counts, &k,
					  sizeof(k), &n, sizeof(n), 0))
			sum += n;
	}
	return sum;
}

/* @sa's breaker as the stand-ins left it in *@b (zeroed if it has none). */
static void breaker_of(struct host_bpf *skel, const struct sockaddr_in *sa,
		       __u64 netns, struct cb_breaker *b)
{
	struct cb_key k;

	key_of(&k, sa, netns);
	if (bpf_map__lookup_elem(skel->maps.cb_breakers, &k, sizeof(k), b,
				 sizeof(*b), 0))
		memset(b, 0, sizeof(*b));
}

/* The successes the record stand-in counted in @sa's breaker. */
static __u64 recorded(struct host_bpf *skel, const struct sockaddr_in *sa,
		      __u64 netns)
{
	struct cb_breaker b;

	breaker_of(skel, sa, netns, &b);
	return b.successes;
}

/*
 * The figures hold the record, and only where it is on, if the stand-in
 * counted each connect of @what once: within 1 %, for a note that found
 * no slot.
 */
static void check_recorded(__u64 got, __u64 want, const char *what)
{
	if (got * 100 < want * 99 || got * 100 > want * 101) {
		fprintf(stderr, "host_bench: %s: %llu counted of %llu\n", what,
			(unsigned long long)got, (unsigned long long)want);
		exit(1);
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

/* Scenario @k's program time per connect, less the floor per run. */
static double less_floor(enum scen k, double floor_ns)
{
	return prog[k].med - runs[k].med * floor_ns;
}

static void summarize(struct stat_ *s)
{
	struct cb_summary m = cb_summarize(s->v, ROUNDS);

	s->med = m.med;
	s->lo = m.q1;
	s->hi = m.q3;
}

static void put(const char *name, double v)
{
	printf("\"%s\": %.3f,\n", name, v);
}

static void put_samples(const char *name, const struct stat_ *s)
{
	int i;

	printf("\"%s_samples\": [", name);
	for (i = 0; i < ROUNDS; i++)
		printf("%s%.1f", i ? ", " : "", s->v[i]);
	printf("],\n");
}

/*
 * EXCHANGES round trips of 64 bytes each way on one kept connection to
 * @sa (its listener @lfd), as a pool makes them, from inside cg_on with
 * the hooks attached. Wall ns per exchange; with @stats, our programs'
 * run time and runs per exchange (the connect's own not among them) in
 * *@ns and *@cnt.
 */
static double exchanges(struct host_bpf *skel, int cg,
			const struct sockaddr_in *sa, int lfd, bool stats,
			double *ns, double *cnt)
{
	struct bpf_program *progs[2] = { skel->progs.cb_connect4, skel->progs.cb_sockops };
	unsigned long long t0 = 0, t1 = 0, c0 = 0, c1 = 0, w0;
	struct bpf_link *l[2];
	char buf[64] = { 0 };
	int i, fd, c;
	double w;

	for (i = 0; i < 2; i++) {
		l[i] = bpf_program__attach_cgroup(progs[i], cg);
		if (!l[i])
			cb_die("attaching");
	}
	cb_join(cg_on);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (void *)sa, sizeof(*sa)))
		cb_die("connect (exchanges)");
	c = accept(lfd, NULL, NULL);
	if (c < 0)
		cb_die("accept (exchanges)");
	for (i = 0; stats && i < 2; i++)
		prog_stats(bpf_program__fd(progs[i]), &t0, &c0);
	w0 = cb_now_ns();
	for (i = 0; i < EXCHANGES; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf) ||
		    read(c, buf, sizeof(buf)) != sizeof(buf) ||
		    write(c, buf, sizeof(buf)) != sizeof(buf) ||
		    read(fd, buf, sizeof(buf)) != sizeof(buf))
			cb_die("exchange");
	w = (double)(cb_now_ns() - w0) / EXCHANGES;
	for (i = 0; stats && i < 2; i++)
		prog_stats(bpf_program__fd(progs[i]), &t1, &c1);
	close(c);
	close(fd);
	cb_join(cg_off);
	for (i = 0; i < 2; i++)
		bpf_link__destroy(l[i]);
	if (stats) {
		*ns = (double)(t1 - t0) / EXCHANGES;
		*cnt = (double)(c1 - c0) / EXCHANGES;
	}
	return w;
}

/* The exchanges the hooks counted in @sa's breaker, for the module to fold. */
static __u64 exchanged(struct host_bpf *skel, const struct sockaddr_in *sa,
		       __u64 netns)
{
	struct cb_breaker b;

	breaker_of(skel, sa, netns, &b);
	return CB_XCHG_OK(b.xchg) + CB_XCHG_SLOW(b.xchg);
}

/* The 1-minute load average: how busy the shared cores were. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f && fscanf(f, "%lf", &l) != 1)
		l = -1;
	if (f)
		fclose(f);
	return l;
}

int main(void)
{
	struct sockaddr_in s1, s2, s3, s4, s5, s6, sany;
	struct stat_ xw[2], xp[2], xr[2];
	struct host_bpf *skel;
	struct cb_breaker b;
	struct cb_key key = { 0 };
	char root[200], parent[256], name[64];
	double load0, load1, floor_ns, net, line, bare, ref;
	__u64 cold_ok;
	int l1, l2, l3, l4, l5, l6, lany, r, k, cg, stats;
	socklen_t len = sizeof(sany);

	cgroup_root(root, sizeof(root));
	snprintf(parent, sizeof(parent), "%s/cbhostbench", root);
	snprintf(cg_on, sizeof(cg_on), "%s/on", parent);
	snprintf(cg_off, sizeof(cg_off), "%s/off", parent);
	if ((mkdir(parent, 0755) && errno != EEXIST) ||
	    (mkdir(cg_on, 0755) && errno != EEXIST) ||
	    (mkdir(cg_off, 0755) && errno != EEXIST))
		cb_die("mkdir cgroup");

	skel = load(BIG);
	if (!skel)
		cb_die("loading the BPF object");
	cg = open(cg_on, O_RDONLY | O_DIRECTORY);
	if (cg < 0)
		cb_die(cg_on);

	/* 127.0.0.2 has a breaker: its connects take the tracked path */
	l1 = cb_bench_listener("127.0.0.1", &s1);
	l2 = cb_bench_listener("127.0.0.2", &s2);
	l3 = cb_bench_listener("127.0.0.3", &s3);	/* a breaker with max-conns */
	l4 = cb_bench_listener("127.0.0.4", &s4);	/* one whose policy has fail-on reset */
	l5 = cb_bench_listener("127.0.0.5", &s5);	/* calls exchanges */
	l6 = cb_bench_listener("127.0.0.6", &s6);	/* calls connects, kept */
	/* the cold destinations: 127.1.x.y, all local, one wildcard listener */
	lany = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sany, 0, sizeof(sany));
	sany.sin_family = AF_INET;
	if (lany < 0 || bind(lany, (void *)&sany, sizeof(sany)) || listen(lany, 1024) ||
	    getsockname(lany, (void *)&sany, &len))
		cb_die("listener");
	breaker_init(&b);
	key_of(&key, &s2, netns_cookie());	/* breakers are per namespace */
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");
	b.bulkhead = 4 << 16;	/* max-conns 4 */
	key_of(&key, &s3, netns_cookie());
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");
	b.bulkhead = 0;
	b.fail_late = 1;
	key_of(&key, &s4, netns_cookie());
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");
	b.fail_late = 0;
	key_of(&key, &s6, netns_cookie());
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");
	b.exchanges = 1;
	key_of(&key, &s5, netns_cookie());
	if (bpf_map__update_elem(skel->maps.cb_breakers, &key, sizeof(key), &b,
				 sizeof(b), BPF_ANY))
		cb_die("breaker");

	/*
	 * One pass over the cold destinations first: the round-robin's steady
	 * state, where each was dialed before, 100,000 connects ago.
	 */
	cold_init(sany.sin_port);
	fill(skel, key.netns, true);
	bare_fill(skel, &s2, key.netns);
	for (r = 0; r < COLD / CONNECTS; r++)
		hooked(skel, NULL, cg, NULL, lany, false, NULL, NULL);
	load0 = loadavg();
	for (r = 0; r < ROUNDS; r++) {
		/* a million breakers; then KEPT (the gate keeps the cold ones') */
		stats = stats_on();
		wall_on[MILLION].v[r] = hooked(skel, NULL, cg, &s2, l2, true,
					       &prog[MILLION].v[r], &runs[MILLION].v[r]);
		wall_on[COLDRR].v[r] = hooked(skel, NULL, cg, NULL, lany, true,
					      &prog[COLDRR].v[r], &runs[COLDRR].v[r]);
		wall_on[COLD_NOREC].v[r] = unrecorded(skel, cg, NULL, lany, true,
						      &prog[COLD_NOREC].v[r],
						      &runs[COLD_NOREC].v[r]);
		wall_on[LINE].v[r] = hooked(skel, skel->progs.cb_line, cg, NULL, lany,
					    true, &prog[LINE].v[r], &runs[LINE].v[r]);
		close(stats);
		wall[MILLION].v[r] = hooked(skel, NULL, cg, &s2, l2, false, NULL, NULL);
		wall[COLDRR].v[r] = hooked(skel, NULL, cg, NULL, lany, false, NULL, NULL);
		wall[COLD_NOREC].v[r] = unrecorded(skel, cg, NULL, lany, false,
						   NULL, NULL);
		wall[LINE].v[r] = hooked(skel, skel->progs.cb_line, cg, NULL, lany,
					 false, NULL, NULL);
		if (r + 1 == ROUNDS) {	/* the cold breakers go with the fill */
			for (cold_ok = 0, k = 0; k < COLD; k++)
				cold_ok += recorded(skel, &cold_sa[k], key.netns);
			check_recorded(cold_ok, 2 * CONNECTS, "cold connects of a round");
		}
		fill(skel, key.netns, false);

		/* bpf_stats on: our programs' time and runs */
		stats = stats_on();
		cb_join(cg_off);
		wall_on[NONE].v[r] = cb_connects(&s1, l1, CONNECTS);
		wall_on[NONE_COLD].v[r] = cold_connects(lany, CONNECTS);
		wall_on[EMPTY].v[r] = hooked(skel, skel->progs.cb_empty, cg, &s1, l1, true,
					     &prog[EMPTY].v[r], &runs[EMPTY].v[r]);
		wall_on[LINE_HOT].v[r] = hooked(skel, skel->progs.cb_line, cg, &s2, l2, true,
						&prog[LINE_HOT].v[r], &runs[LINE_HOT].v[r]);
		wall_on[UNTRACKED].v[r] = hooked(skel, NULL, cg, &s1, l1, true,
						 &prog[UNTRACKED].v[r], &runs[UNTRACKED].v[r]);
		wall_on[TRACKED].v[r] = hooked(skel, NULL, cg, &s2, l2, true,
					       &prog[TRACKED].v[r], &runs[TRACKED].v[r]);
		wall_on[TRACKED_NOREC].v[r] = unrecorded(skel, cg, &s2, l2, true,
							 &prog[TRACKED_NOREC].v[r],
							 &runs[TRACKED_NOREC].v[r]);
		wall_on[BULKHEAD].v[r] = hooked(skel, NULL, cg, &s3, l3, true,
						&prog[BULKHEAD].v[r], &runs[BULKHEAD].v[r]);
		wall_on[FAIL_LATE].v[r] = hooked(skel, NULL, cg, &s4, l4, true,
						 &prog[FAIL_LATE].v[r], &runs[FAIL_LATE].v[r]);
		wall_on[BARE].v[r] = hooked(skel, skel->progs.cb_bare, cg, &s2, l2, true,
					    &prog[BARE].v[r], &runs[BARE].v[r]);
		wall_on[BARE_COLD].v[r] = hooked(skel, skel->progs.cb_bare, cg, NULL,
						 lany, true, &prog[BARE_COLD].v[r],
						 &runs[BARE_COLD].v[r]);
		close(stats);
		/* bpf_stats off: wall time as a user sees it */
		wall[NONE].v[r] = cb_connects(&s1, l1, CONNECTS);
		wall[NONE_COLD].v[r] = cold_connects(lany, CONNECTS);
		wall[EMPTY].v[r] = hooked(skel, skel->progs.cb_empty, cg, &s1, l1, false,
					  NULL, NULL);
		wall[LINE_HOT].v[r] = hooked(skel, skel->progs.cb_line, cg, &s2, l2, false,
					     NULL, NULL);
		wall[UNTRACKED].v[r] = hooked(skel, NULL, cg, &s1, l1, false, NULL, NULL);
		wall[TRACKED].v[r] = hooked(skel, NULL, cg, &s2, l2, false, NULL, NULL);
		wall[TRACKED_NOREC].v[r] = unrecorded(skel, cg, &s2, l2, false,
						      NULL, NULL);
		wall[BULKHEAD].v[r] = hooked(skel, NULL, cg, &s3, l3, false, NULL, NULL);
		wall[FAIL_LATE].v[r] = hooked(skel, NULL, cg, &s4, l4, false, NULL, NULL);
		wall[BARE].v[r] = hooked(skel, skel->progs.cb_bare, cg, &s2, l2, false,
					 NULL, NULL);
		wall[BARE_COLD].v[r] = hooked(skel, skel->progs.cb_bare, cg, NULL, lany,
					      false, NULL, NULL);
		if (r + 1 < ROUNDS)
			fill(skel, key.netns, true);
	}
	/* exchanges on a kept connection: under calls exchanges, and not */
	for (r = 0; r < ROUNDS; r++) {
		stats = stats_on();
		exchanges(skel, cg, &s5, l5, true, &xp[0].v[r], &xr[0].v[r]);
		exchanges(skel, cg, &s6, l6, true, &xp[1].v[r], &xr[1].v[r]);
		close(stats);
		xw[0].v[r] = exchanges(skel, cg, &s5, l5, false, NULL, NULL);
		xw[1].v[r] = exchanges(skel, cg, &s6, l6, false, NULL, NULL);
	}
	/* each but the last of a connection is seen when the next one goes */
	check_recorded(exchanged(skel, &s5, key.netns), 2 * ROUNDS * EXCHANGES,
		       "exchanges");
	for (k = 0; k < 2; k++) {
		summarize(&xw[k]);
		summarize(&xp[k]);
		summarize(&xr[k]);
	}
	load1 = loadavg();
	/* per round: 1M and tracked, max-conns, fail-on; stats on and off */
	check_recorded(recorded(skel, &s2, key.netns), 4 * ROUNDS * CONNECTS,
		       "tracked connects");
	check_recorded(recorded(skel, &s3, key.netns), 2 * ROUNDS * CONNECTS,
		       "connects under max-conns");
	check_recorded(recorded(skel, &s4, key.netns), 2 * ROUNDS * CONNECTS,
		       "connects under fail-on reset");
	check_recorded(bare_counted(skel, &s2, key.netns), 2 * ROUNDS * CONNECTS,
		       "connects to the bare reference");
	check_recorded(bare_counted(skel, NULL, key.netns), 2 * ROUNDS * CONNECTS,
		       "cold connects to the bare reference");
	for (k = 0; k < NSCEN; k++) {
		summarize(&wall[k]);
		summarize(&wall_on[k]);
		summarize(&prog[k]);
		summarize(&runs[k]);
	}
	/* what bpf_stats itself costs per program run */
	floor_ns = prog[EMPTY].med / runs[EMPTY].med;
	for (r = 0; r < ROUNDS; r++) {
		rec_hot.v[r] = prog[TRACKED].v[r] - prog[TRACKED_NOREC].v[r] -
			       (runs[TRACKED].v[r] - runs[TRACKED_NOREC].v[r]) * floor_ns;
		rec_cold.v[r] = prog[COLDRR].v[r] - prog[COLD_NOREC].v[r] -
				(runs[COLDRR].v[r] - runs[COLD_NOREC].v[r]) * floor_ns;
	}
	summarize(&rec_hot);
	summarize(&rec_cold);

	fprintf(stderr, "host, BPF side alone (kfuncs stood in for), per connect()+accept()+close(),\n"
		"median (quartiles) of %d interleaved rounds of %d; load average %.2f -> %.2f on %ld CPUs\n"
		"bpf_stats floor: %.0f ns per program run (an empty program's reading)\n"
		"%-24s %17s %9s %9s %6s %9s\n", ROUNDS, CONNECTS, load0, load1,
		sysconf(_SC_NPROCESSORS_ONLN), floor_ns, "", "wall, stats off", "added",
		"programs", "runs", "- floor");
	for (k = 0; k < NSCEN; k++) {
		net = less_floor(k, floor_ns);
		fprintf(stderr, "%-24s %7.0f (%5.0f..%5.0f) %+9.0f %9.0f %6.2f %9.0f\n",
			scen_name[k], wall[k].med, wall[k].lo, wall[k].hi,
			wall[k].med - wall[k == COLDRR || k == COLD_NOREC || k == LINE ||
			     k == BARE_COLD ?
			     NONE_COLD : NONE].med,
			prog[k].med, runs[k].med, k <= NONE_COLD ? 0 : net);
		snprintf(name, sizeof(name), "host_%s_wall_ns", scen_key[k]);
		put(name, wall[k].med);
		snprintf(name, sizeof(name), "host_%s", scen_key[k]);
		put_samples(name, &wall[k]);
		snprintf(name, sizeof(name), "host_%s_wall_stats_on_ns", scen_key[k]);
		put(name, wall_on[k].med);
		if (k <= NONE_COLD)
			continue;
		snprintf(name, sizeof(name), "host_%s_bpf_ns", scen_key[k]);
		put(name, prog[k].med);
		snprintf(name, sizeof(name), "host_%s_bpf_runs", scen_key[k]);
		put(name, runs[k].med);
		snprintf(name, sizeof(name), "host_%s_bpf_net_ns", scen_key[k]);
		put(name, net);
	}
	net = less_floor(TRACKED, floor_ns);
	bare = less_floor(TRACKED_NOREC, floor_ns);
	/* what a cold line costs more than the same program's hot one */
	line = prog[LINE].med - prog[LINE_HOT].med;
	fprintf(stderr, "tracked: %.0f ns of programs less the floor; %.2f%% of this connect, "
		"%.3f%% of one with 50 us more RTT\n"
		"1M breakers vs 1: %.2fx (programs less floor), %.2fx (wall, stats off)\n"
		"cold 100k round-robin vs hot: %.2fx (vs 1 breaker), %.2fx (vs the same 1M table)\n"
		"the record, per round with it less without: %.0f ns hot (%.0f..%.0f), "
		"%.0f ns cold (%.0f..%.0f); without it, cold vs hot: %.2fx\n"
		"one cold line of the gate costs %.0f ns more than a hot one: "
		"the path without the record, with it, is %.2fx that path\n"
		"max-conns adds %.0f ns of programs to a tracked connect (its place taken and given back)\n"
		"fail-on reset adds %.0f ns (the call marked on its socket)\n",
		net, 100 * net / wall[NONE].med, 100 * net / (wall[NONE].med + 50000),
		less_floor(MILLION, floor_ns) / net,
		(wall[MILLION].med - wall[NONE].med) / (wall[TRACKED].med - wall[NONE].med),
		less_floor(COLDRR, floor_ns) / net,
		less_floor(COLDRR, floor_ns) / less_floor(MILLION, floor_ns),
		rec_hot.med, rec_hot.lo, rec_hot.hi,
		rec_cold.med, rec_cold.lo, rec_cold.hi,
		less_floor(COLD_NOREC, floor_ns) / bare,
		line, (bare + line) / bare,
		less_floor(BULKHEAD, floor_ns) - net,
		less_floor(FAIL_LATE, floor_ns) - net);
	fprintf(stderr, "an exchange (64 bytes each way on a kept connection): %.0f ns wall "
		"(%.0f..%.0f); calls exchanges: %.0f ns of programs less the floor "
		"(%.2f runs), wall %.0f (%.0f..%.0f); calls connects: %.0f ns (%.2f runs)\n",
		xw[1].med, xw[1].lo, xw[1].hi, xp[0].med - xr[0].med * floor_ns,
		xr[0].med, xw[0].med, xw[0].lo, xw[0].hi,
		xp[1].med - xr[1].med * floor_ns, xr[1].med);
	put("host_exchange_wall_ns", xw[0].med);
	put("host_exchange_connects_wall_ns", xw[1].med);
	put("host_exchange_bpf_runs", xr[0].med);
	put("host_exchange_bpf_net_ns", xp[0].med - xr[0].med * floor_ns);
	put("host_exchange_connects_bpf_net_ns", xp[1].med - xr[1].med * floor_ns);
	/* the targets' ratios: to the bare reference, measured in this run */
	ref = less_floor(BARE, floor_ns);
	fprintf(stderr, "bare reference (one hash lookup, one atomic add): %.0f ns hot, "
		"%.0f ns cold; tracked %.2fx it, untracked %.2fx it; cold vs hot "
		"%.2fx (the bare reference's own: %.2fx); cold vs the bare reference "
		"cold: %.2fx\n",
		ref, less_floor(BARE_COLD, floor_ns), net / ref,
		less_floor(UNTRACKED, floor_ns) / ref,
		less_floor(COLDRR, floor_ns) / net,
		less_floor(BARE_COLD, floor_ns) / ref,
		less_floor(COLDRR, floor_ns) / less_floor(BARE_COLD, floor_ns));
	put("tracked_vs_bare", net / ref);
	put("untracked_vs_bare", less_floor(UNTRACKED, floor_ns) / ref);
	put("cold_vs_hot", less_floor(COLDRR, floor_ns) / net);
	put("bare_cold_vs_hot", less_floor(BARE_COLD, floor_ns) / ref);
	put("cold_vs_bare_cold", less_floor(COLDRR, floor_ns) /
				 less_floor(BARE_COLD, floor_ns));
	put("host_bpf_stats_floor_ns", floor_ns);
	put("host_cost_ratio_1M_vs_1", less_floor(MILLION, floor_ns) / net);
	put("host_cost_ratio_cold_vs_hot", less_floor(COLDRR, floor_ns) / net);
	put("host_record_hot_ns", rec_hot.med);
	put("host_record_hot_q1_ns", rec_hot.lo);
	put("host_record_hot_q3_ns", rec_hot.hi);
	put("host_record_cold_ns", rec_cold.med);
	put("host_record_cold_q1_ns", rec_cold.lo);
	put("host_record_cold_q3_ns", rec_cold.hi);
	put("host_cost_ratio_cold_vs_hot_no_record",
	    less_floor(COLD_NOREC, floor_ns) / bare);
	put("host_cold_line_extra_ns", line);
	put("host_cost_ratio_cold_least_no_record", (bare + line) / bare);
	put("host_tracked_pct_of_connect", 100 * net / wall[NONE].med);
	put("host_tracked_pct_of_50us_rtt_connect", 100 * net / (wall[NONE].med + 50000));
	put("host_loadavg_start", load0);
	put("host_loadavg_end", load1);

	cb_join(root);
	rmdir(cg_on);
	rmdir(cg_off);
	rmdir(parent);
	host_bpf__destroy(skel);
	return 0;
}
