// SPDX-License-Identifier: GPL-2.0
/*
 * The exporter as a fleet runs it, in the guest: "cbctl metrics serve"
 * unprivileged (user nobody), scraped every second by Debian's own
 * Prometheus with dist/prometheus's rules loaded, while a breaker trips on
 * a real backend going away and recovers when it comes back. What is
 * asserted is what Prometheus's HTTP API says it saw. promtool checks the
 * endpoint's text; the Grafana dashboard's every expression is run against
 * that Prometheus and every metric it names must be there.
 */
#include <math.h>
#include <signal.h>

#include "cb_test.h"
#include "kselftest_harness.h"

#define EXPORTER "127.0.0.1:19559"
#define PROM "127.0.0.1:19090"
#define DIR "/tmp/prom"
#define RULES "/src/dist/prometheus/cbreaker.rules.yml"
#define DASHBOARD "/src/dist/grafana/cbreaker.json"

/*
 * A listener that can come back on its port (SO_REUSEADDR), and that the
 * programs the test starts do not inherit (they would keep it listening).
 */
static int backend(unsigned short *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(*port) };
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (void *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (void *)&sa, &len))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/*
 * The value of the first series an instant query returns, NAN if none.
 * @expr must not hold a single quote (it goes through the shell).
 */
static double prom_query(const char *expr)
{
	char out[16384], *p;

	if (cb_sh_out(out, sizeof(out),
		      "curl -sfG --max-time 10 --data-urlencode 'query=%s' "
		      "http://" PROM "/api/v1/query", expr))
		return NAN;
	if (!strstr(out, "\"status\":\"success\""))
		return NAN;
	p = strstr(out, "\"value\":[");
	if (!p)
		return NAN;
	p = strchr(p, ',');
	if (!p || p[1] != '"')
		return NAN;
	return strtod(p + 2, NULL);
}

/* Wait up to @s seconds for @expr to return a series; its value. */
static double prom_wait(const char *expr, int s)
{
	unsigned long long end = cb_now_ms() + s * 1000ULL;
	double v;

	do {
		v = prom_query(expr);
		if (!isnan(v))
			return v;
		usleep(500000);
	} while (cb_now_ms() < end);
	return NAN;
}

static int breaker_state_is(unsigned short port, const char *state)
{
	char out[4096], want[64];

	snprintf(want, sizeof(want), "\"state\":\"%s\"", state);
	if (cb_sh_out(out, sizeof(out),
		      "cbctl -j breaker show dst 127.0.0.1 port %u", port))
		return 0;
	return !!strstr(out, want);
}

/* Accept what a backend has waiting. */
static void drain(int fd)
{
	while (cb_got(fd, SOCK_STREAM, 0))
		;
}

FIXTURE(prom) {
	int fd;
	unsigned short port;
};

FIXTURE_SETUP(prom)
{
	char pol[256];

	self->fd = -1;
	if (cb_sh("command -v prometheus >/dev/null && command -v promtool >/dev/null") > 0)
		SKIP(return, "no prometheus or promtool in the guest (make deps installs them)");
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	cb_sh("cbctl unload 2>/dev/null");	/* what a killed test left */
	ASSERT_EQ(0, cb_sh("cbctl load"));
	self->port = 0;
	self->fd = backend(&self->port);
	ASSERT_LE(0, self->fd);
	/* trips on two failures of four; a probe after 15 s decides */
	snprintf(pol, sizeof(pol),
		 "policy add dst 127.0.0.1 port %u window 4 min-calls 2 "
		 "failure-rate 50 open 15s jitter 0 probes 1 probe-success 100",
		 self->port);
	/* the policies are these alone, whatever tests before left */
	ASSERT_EQ(0, cb_sh("echo '%s' | cbctl apply - >/dev/null", pol));

	/* what a killed test left */
	cb_sh("for p in " DIR "/exporter.pid " DIR "/prometheus.pid; do "
	      "[ -f $p ] && kill $(cat $p); done 2>/dev/null; sleep 1");
	ASSERT_EQ(0, cb_sh("rm -rf " DIR " && mkdir -p " DIR "/data && chmod 1777 " DIR));
	ASSERT_EQ(0, cb_sh("cat >" DIR "/prometheus.yml <<'EOF'\n"
			   "global:\n"
			   "  scrape_interval: 1s\n"
			   "  evaluation_interval: 1s\n"
			   "rule_files:\n"
			   "  - " RULES "\n"
			   "scrape_configs:\n"
			   "  - job_name: cbreaker\n"
			   "    static_configs:\n"
			   "      - targets: ['" EXPORTER "']\n"
			   "EOF"));
	/* the exporter unprivileged, as dist/cbreaker-exporter.service runs it */
	ASSERT_EQ(0, cb_sh("su nobody -s /bin/sh -c 'echo $$ >" DIR "/exporter.pid; "
			   "exec cbctl metrics serve listen " EXPORTER "' "
			   ">" DIR "/exporter.log 2>&1 &"));
	ASSERT_EQ(0, cb_sh("prometheus --config.file=" DIR "/prometheus.yml "
			   "--storage.tsdb.path=" DIR "/data --web.listen-address=" PROM " "
			   ">" DIR "/prometheus.log 2>&1 & echo $! >" DIR "/prometheus.pid"));
	if (cb_sh("for i in $(seq 120); do curl -sf -o /dev/null http://" PROM "/-/ready && exit 0; "
		  "sleep 0.5; done; exit 1")) {
		cb_sh("tail -n 20 " DIR "/prometheus.log >&2; curl -v http://" PROM "/-/ready >&2; ps >&2");
		ASSERT_TRUE(0);
	}
	/* Prometheus has scraped the exporter, and the module answered it */
	if (prom_wait("cbreaker_up{job=\"cbreaker\"} == 1", 60) != 1) {
		cb_sh("cat " DIR "/exporter.log >&2");
		ASSERT_TRUE(0);
	}
}

FIXTURE_TEARDOWN(prom)
{
	cb_sh("for p in " DIR "/exporter.pid " DIR "/prometheus.pid; do "
	      "[ -f $p ] && kill $(cat $p); done 2>/dev/null; sleep 1");
	cb_sh("cbctl unload 2>/dev/null");
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(prom, trips_and_recovers_as_prometheus_sees_it, 300)
{
	char q[256], out[512];
	double rejected0;
	int i, refused = 0;

	/* healthy: Prometheus sees the breaker closed */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, cb_connect("127.0.0.1", self->port, SOCK_STREAM));
	drain(self->fd);
	snprintf(q, sizeof(q), "cbreaker_breaker_state{port=\"%u\"}", self->port);
	ASSERT_EQ(0, prom_wait(q, 60));
	snprintf(q, sizeof(q), "cbreaker_breaker_rejected_total{port=\"%u\"}", self->port);
	rejected0 = prom_wait(q, 30);
	ASSERT_FALSE(isnan(rejected0));

	/* the backend goes away: refused by the kernel until the breaker opens */
	close(self->fd);
	self->fd = -1;
	for (i = 0; i < 20 && !breaker_state_is(self->port, "open"); i++)
		refused += cb_connect("127.0.0.1", self->port, SOCK_STREAM) == -ECONNREFUSED;
	ASSERT_EQ(i, refused);
	ASSERT_TRUE(breaker_state_is(self->port, "open"));
	refused = 0;
	for (i = 0; i < 5; i++)
		refused += cb_connect("127.0.0.1", self->port, SOCK_STREAM) == -ECONNREFUSED;
	ASSERT_EQ(5, refused);

	snprintf(q, sizeof(q), "cbreaker_breaker_state{port=\"%u\"} == 1", self->port);
	ASSERT_EQ(1, prom_wait(q, 30));
	snprintf(q, sizeof(q), "cbreaker_breaker_rejected_total{port=\"%u\"} >= %.0f",
		 self->port, rejected0 + 5);
	ASSERT_LE(rejected0 + 5, prom_wait(q, 30));
	ASSERT_LE(5, prom_wait("cbreaker_calls_refused_total >= 5", 30));
	ASSERT_LE(1, prom_wait("cbreaker_breakers{state=\"open\"} >= 1", 30));

	/* it comes back: a probe after the open time closes the breaker */
	self->fd = backend(&self->port);
	ASSERT_LE(0, self->fd);
	for (i = 0; i < 120 && !breaker_state_is(self->port, "closed"); i++) {
		cb_connect("127.0.0.1", self->port, SOCK_STREAM);
		drain(self->fd);
		usleep(500000);
	}
	ASSERT_TRUE(breaker_state_is(self->port, "closed"));
	snprintf(q, sizeof(q), "cbreaker_breaker_state{port=\"%u\"} == 0", self->port);
	ASSERT_EQ(0, prom_wait(q, 30));
	/* and Prometheus's history has it: open (maybe half-open), then closed */
	snprintf(q, sizeof(q), "max_over_time(cbreaker_breaker_state{port=\"%u\"}[10m])",
		 self->port);
	ASSERT_LE(1, prom_query(q));
	snprintf(q, sizeof(q), "changes(cbreaker_breaker_state{port=\"%u\"}[10m]) >= 2",
		 self->port);
	ASSERT_LE(2, prom_query(q));

	/* the endpoint's text passes promtool's lint */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "curl -sf http://" EXPORTER "/metrics | "
			       "promtool check metrics 2>&1"));
	TH_LOG("promtool check metrics: %s", out[0] ? out : "clean");
}

TEST_F_TIMEOUT(prom, rules_load_and_the_dashboard_runs, 240)
{
	char out[8192], q[256];
	int nrules, ok;

	/* a breaker, so that the per-destination series exist */
	ASSERT_EQ(0, cb_connect("127.0.0.1", self->port, SOCK_STREAM));
	drain(self->fd);
	snprintf(q, sizeof(q), "cbreaker_breaker_calls_total{port=\"%u\"}", self->port);
	ASSERT_LE(1, prom_wait(q, 60));

	/* every rule of the file loaded, evaluated, and healthy */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "grep -cE '^ *- (record|alert):' " RULES));
	nrules = atoi(out);
	ASSERT_LT(0, nrules);
	for (ok = 0; ok < 60; ok++) {
		cb_sh_out(out, sizeof(out), "curl -sf http://" PROM "/api/v1/rules | "
			  "grep -o '\"health\":\"ok\"' | wc -l");
		if (atoi(out) == nrules)
			break;
		sleep(1);
	}
	ASSERT_EQ(nrules, atoi(out));
	ASSERT_NE(0, cb_sh("curl -sf http://" PROM "/api/v1/rules | grep -q '\"health\":\"err\"'"));
	/* a recording rule's series is there */
	ASSERT_FALSE(isnan(prom_wait("cbreaker:outcomes:rate5m", 60)));

	/*
	 * Every dashboard expression, Grafana's variables filled in, is a
	 * query Prometheus accepts; every metric it names has series.
	 * Prints what fails; nothing when all is well. A query may take its
	 * time on the debug kernel, as the harness's timeouts do, and a
	 * series is asked for again a few times: one scrape that failed
	 * there makes every series stale until the next.
	 */
	snprintf(q, sizeof(q), "%u", 10 * cb_timeout_scale());
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
		"sed -n 's/^ *\"expr\": \"\\(.*\\)\",\\{0,1\\}$/\\1/p' " DASHBOARD " | "
		"sed -e 's/\\\\\"/\"/g' -e 's/\\$instance/.*/g' -e 's/\\$__rate_interval/1m/g' "
		">" DIR "/exprs && test -s " DIR "/exprs && n=0 && "
		"while IFS= read -r e; do n=$((n+1)); "
		"  curl -sfG --max-time %s --data-urlencode \"query=$e\" "
		"    http://" PROM "/api/v1/query | grep -q '\"status\":\"success\"' || "
		"    echo \"does not run: $e\"; "
		"done <" DIR "/exprs; "
		"for m in $(grep -oE '(cbreaker[_:][a-z0-9_:]+|up)[{( ]' " DIR "/exprs | "
		"           tr -d '{( ' | sort -u); do "
		"  i=0; until curl -sfG --max-time %s --data-urlencode \"query=count($m)\" "
		"    http://" PROM "/api/v1/query | grep -q '\"value\":\\['; do "
		"    i=$((i+1)); [ $i -lt 5 ] || { echo \"no series: $m\"; break; }; "
		"    sleep 3; "
		"  done; "
		"done", q, q));
	ASSERT_STREQ("", out);
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "wc -l <" DIR "/exprs"));
	TH_LOG("%d dashboard expressions ran", atoi(out));
}

TEST_HARNESS_MAIN
