// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl as an operator uses it, in the guest: every command in text and
 * JSON, batches applied whole or not at all, and a table of bad input that
 * must each get one line naming the problem, a non-zero exit, and change
 * nothing.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#define BASELINE							\
	"cbctl policy add default window 50 min-calls 5 && "		\
	"cbctl policy add dst 10.1.0.0/16 open 5s && "			\
	"cbctl policy add dst 2001:db8::/32 port 443 proto tcp && "	\
	"cbctl breaker trip dst 10.1.2.3 port 80 && "			\
	"cbctl breaker hold dst 10.1.2.4 port 53 proto udp"

/* What the operator can see: it must not change under bad input. */
#define SNAPSHOT "{ cbctl policy show; cbctl breaker list; } 2>&1"

struct cb_run {
	int status;
	char out[8192], err[4096];
};

/* Run "cbctl ARGS" (or any shell line) with stdout and stderr apart. */
static void run(struct cb_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void run(struct cb_run *r, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r->status = cb_sh("%s >/tmp/cli.out 2>/tmp/cli.err", cmd);
	cb_sh_out(r->out, sizeof(r->out), "cat /tmp/cli.out");
	cb_sh_out(r->err, sizeof(r->err), "cat /tmp/cli.err");
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Balanced braces and brackets outside strings, one value, newline-ended. */
static int json_ok(const char *s)
{
	int depth = 0, in_str = 0, seen = 0;

	for (; *s && *s != '\n'; s++) {
		if (in_str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_str = 0;
			continue;
		}
		if (*s == '"')
			in_str = 1;
		else if (*s == '{' || *s == '[')
			depth++, seen = 1;
		else if (*s == '}' || *s == ']')
			depth--;
		if (depth < 0)
			return 0;
	}
	return seen && !depth && !in_str && *s == '\n' && !s[1];
}

FIXTURE(cli) {
	char snap[8192];
};

FIXTURE_SETUP(cli)
{
	ASSERT_EQ(0, cb_sh("modprobe cbreaker && { cbctl unload 2>/dev/null; true; } && "
			   "cbctl load && " BASELINE));
	ASSERT_EQ(0, cb_sh_out(self->snap, sizeof(self->snap), SNAPSHOT));
}

FIXTURE_TEARDOWN(cli)
{
	cb_sh("cbctl unload");
}

static const struct cb_bad {
	const char *args;	/* after "cbctl " */
	const char *says;	/* part of the one-line error */
} cb_bad[] = {
	/* prefixes and addresses */
	{ "policy add dst 10.0.0.0/33", "bad prefix" },
	{ "policy add dst 10.0.0.256", "bad prefix" },
	{ "policy add dst ::1/129", "bad prefix" },
	{ "policy add dst 10.0.0.1/8", "bits set beyond the prefix" },
	{ "policy add dst fe80::/10x", "bad prefix" },
	{ "policy add dst 10.0.0.0/-1", "bad prefix" },
	{ "policy add dst ''", "bad prefix" },
	{ "policy add dst 1.2.3", "bad prefix" },
	{ "breaker trip dst 10.0.0.0/8 port 80", "bad address" },
	{ "breaker show dst example.com port 80", "bad address" },
	/* ports */
	{ "breaker trip dst 10.0.0.1 port 0", "bad port" },
	{ "breaker trip dst 10.0.0.1 port 65536", "bad port" },
	{ "breaker trip dst 10.0.0.1 port -1", "bad port" },
	{ "breaker trip dst 10.0.0.1 port 80x", "bad port" },
	{ "policy add dst 10.0.0.0/8 port http", "bad port" },
	/* ranges */
	{ "policy add dst 10.7.0.0/16 failure-rate 0", "failure-rate" },
	{ "policy add dst 10.7.0.0/16 failure-rate 101", "failure-rate" },
	{ "policy add dst 10.7.0.0/16 window 0", "window" },
	{ "policy add dst 10.7.0.0/16 window 129", "window" },
	{ "policy add dst 10.7.0.0/16 min-calls 200", "min-calls" },
	{ "policy add dst 10.7.0.0/16 jitter 101", "jitter" },
	{ "policy add dst 10.7.0.0/16 backoff 0.5", "backoff" },
	{ "policy add dst 10.7.0.0/16 backoff 17", "backoff" },
	{ "policy add dst 10.7.0.0/16 backoff 1.234", "backoff" },
	{ "policy add dst 10.7.0.0/16 probes 0", "probes" },
	{ "policy add dst 10.7.0.0/16 probe-success 0", "probe-success" },
	{ "policy add dst 10.7.0.0/16 open 1ms", "open" },
	{ "policy add dst 10.7.0.0/16 open 25h", "open" },
	{ "policy add dst 10.7.0.0/16 backoff-max 1s", "backoff-max" },
	{ "policy add dst 10.7.0.0/16 max-age 500ms", "max-age" },
	{ "policy add dst 10.7.0.0/16 window 50ms", "window" },
	{ "policy add dst 10.7.0.0/16 slow 0s", "slow" },
	{ "policy add dst 10.7.0.0/16 probe-wait 2h", "probe-wait" },
	{ "policy add dst 10.7.0.0/16 max-conns 60001", "max-conns" },
	{ "policy add dst 10.7.0.0/16 max-conns -1", "max-conns" },
	{ "policy add dst 10.7.0.0/16 connect-timeout 61s", "connect-timeout" },
	{ "policy add dst 10.7.0.0/16 connect-timeout 500ms", "connect-timeout" },
	{ "policy add dst 10.7.0.0/16 fail-on reset,bogus", "bad fail-on" },
	{ "policy add dst 10.7.0.0/16 fail-on ''", "bad fail-on" },
	{ "policy add dst 10.7.0.0/16 fail-on reset,", "bad fail-on" },
	{ "policy add dst 10.7.0.0/16 fail-window 10ms", "fail-window" },
	{ "policy add dst 10.7.0.0/16 fail-window 2h", "fail-window" },
	{ "policy change dst 10.1.0.0/16 min-calls 500", "min-calls" },
	/* units */
	{ "policy add dst 10.7.0.0/16 open 30", "unit" },
	{ "policy add dst 10.7.0.0/16 open 30sec", "unit" },
	{ "policy add dst 10.7.0.0/16 open 1.5s", "unit" },
	{ "policy add dst 10.7.0.0/16 slow -1s", "unit" },
	{ "policy add dst 10.7.0.0/16 window 10x", "window" },
	{ "policy add dst 10.7.0.0/16 open 99999999999999999999h", "unit" },
	/* unknown words */
	{ "policy add dst 10.7.0.0/16 colour blue", "unknown key" },
	{ "policy add dst 10.7.0.0/16 probe 5", "ambiguous key" },
	{ "breaker trip dst 10.0.0.1 port 80 colour red", "unknown argument" },
	{ "frobnicate", "unknown object" },
	{ "breaker explode", "unknown command" },
	{ "policy rename", "unknown command" },
	{ "-x status", "unknown option" },
	/* missing values */
	{ "policy add dst 10.7.0.0/16 window", "missing value" },
	{ "breaker trip dst 10.0.0.1 port", "missing value" },
	{ "breaker trip port 80", "missing \"dst" },
	{ "breaker trip dst 10.0.0.1", "missing \"port" },
	{ "policy add", "missing \"default\" or \"dst" },
	{ "policy add default mode", "missing value" },
	{ "load cgroup", "missing value" },
	{ "metrics format", "missing value" },
	{ "breaker list state", "missing value" },
	{ "-b", "needs a FILE" },
	/* duplicates */
	{ "policy add dst 10.7.0.0/16 window 10 window 20", "given twice" },
	{ "breaker trip dst 10.0.0.1 dst 10.0.0.2 port 80", "given twice" },
	{ "policy add default dst 10.0.0.0/8", "once" },
	{ "policy add default port 80", "no port" },
	{ "policy add default proto tcp proto udp", "given twice" },
	/* what exists and what does not */
	{ "policy add dst 10.1.0.0/16", "exists" },
	{ "policy change dst 10.9.0.0/16 open 5s", "no such policy" },
	{ "policy del dst 10.9.0.0/16", "no such policy" },
	{ "breaker reset dst 10.9.9.9 port 80", "no breaker" },
	{ "breaker show dst 10.9.9.9 port 80", "no breaker" },
	/* other bad values */
	{ "policy add dst 10.7.0.0/16 mode fast", "bad mode" },
	{ "breaker list state ajar", "bad state" },
	{ "metrics format xml", "bad format" },
	{ "policy add dst 10.7.0.0/16 proto icmp", "bad proto" },
	{ "load table 0", "bad table size" },
	{ "load table 99999999", "bad table size" },
	{ "load", "already attached" },
	{ "load table 100", "table size is set on the first load" },
	{ "load cgroup /tmp", "not a cgroup v2 directory" },
	{ "status now", "takes no argument" },
	{ "unload now", "takes no argument" },
	{ "monitor now", "unknown argument" },
	{ "-b /nonexistent", "No such file" },
	{ "-b /dev/null status", "takes no command" },
	/* batch files: the line is named, nothing is applied */
	{ "-b /tmp/bad1", "bad1:3: bad port" },
	{ "-b /tmp/bad2", "bad2:1: not a change" },
	{ "-b /tmp/bad3", "bad3:2: policy exists" },
	{ "-b /tmp/bad4", "bad4:2: bad value for min-calls" },
	{ "-b /tmp/bad5", "bad5:2: no such policy" },
	{ "-b /tmp/bad6", "bad6:1: no breaker" },
	{ "-b /tmp/bad7", "bad7:1: too many words" },
	{ "-b /tmp/bad8", "bad8:2: missing value" },
	/* privilege: the kernel says no, not only cbctl */
	{ "@policy add dst 10.6.0.0/16", "CAP_NET_ADMIN" },
	{ "@policy del dst 10.1.0.0/16", "CAP_NET_ADMIN" },
	{ "@breaker trip dst 10.0.0.9 port 80", "CAP_NET_ADMIN" },
	{ "@breaker reset all", "CAP_NET_ADMIN" },
	{ "@-b /tmp/good", "CAP_NET_ADMIN" },
	{ "@unload", "Permission denied" },
	{ "@load", "Permission denied" },
};

static const char *cb_batches =
	"printf '# ok so far\\npolicy add dst 10.2.0.0/16\\n"
	"breaker trip dst 10.0.0.1 port 0\\n' >/tmp/bad1; "
	"printf 'status\\n' >/tmp/bad2; "
	"printf 'policy add dst 10.3.0.0/16\\npolicy add dst 10.3.0.0/16\\n' >/tmp/bad3; "
	"printf 'policy add dst 10.4.0.0/16 window 10\\n"
	"policy change dst 10.4.0.0/16 min-calls 50\\n' >/tmp/bad4; "
	"printf 'policy del dst 10.1.0.0/16\\npolicy change dst 10.1.0.0/16 open 5s\\n' >/tmp/bad5; "
	"printf 'breaker reset dst 10.5.5.5 port 80\\n' >/tmp/bad6; "
	"{ printf 'policy add dst 10.8.0.0/16'; for i in $(seq 70); do printf ' x'; done; "
	"echo; } >/tmp/bad7; "
	"printf 'policy add dst 10.8.0.0/16\\npolicy add dst\\n' >/tmp/bad8; "
	"printf 'policy add dst 10.6.0.0/16\\n' >/tmp/good; chmod 644 /tmp/good";

/* 96 commands and as many snapshots: minutes under TCG on a busy host */
TEST_F_TIMEOUT(cli, bad_input_gets_one_line_and_changes_nothing, 300)
{
	char snap[8192], cmd[512];
	struct cb_run r;
	unsigned int i;

	ASSERT_EQ(0, cb_sh("%s", cb_batches));
	TH_LOG("%zu bad inputs", sizeof(cb_bad) / sizeof(cb_bad[0]));
	ASSERT_LE(50, sizeof(cb_bad) / sizeof(cb_bad[0]));
	for (i = 0; i < sizeof(cb_bad) / sizeof(cb_bad[0]); i++) {
		const char *args = cb_bad[i].args;

		if (*args == '@')	/* as an unprivileged user */
			snprintf(cmd, sizeof(cmd), "su nobody -s /bin/sh -c 'cbctl %s'",
				 args + 1);
		else
			snprintf(cmd, sizeof(cmd), "cbctl %s", args);
		run(&r, "%s", cmd);
		if (r.status == 0 || lines(r.err) != 1 ||
		    strncmp(r.err, "cbctl: ", 7) || r.out[0] ||
		    !strstr(r.err, cb_bad[i].says)) {
			TH_LOG("\"%s\": exit %d, stdout \"%s\", stderr \"%s\"", cmd,
			       r.status, r.out, r.err);
			EXPECT_TRUE(0);
		}
		ASSERT_EQ(0, cb_sh_out(snap, sizeof(snap), SNAPSHOT));
		if (strcmp(snap, self->snap)) {
			TH_LOG("\"%s\" changed the state:\n%s", cmd, snap);
			ASSERT_TRUE(0);
		}
	}
}

TEST_F(cli, json_errors_are_json_too)
{
	struct cb_run r;

	run(&r, "cbctl -j policy add dst 10.0.0.0/33");
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(json_ok(r.out));
	EXPECT_NE(NULL, strstr(r.out, "{\"error\":\"bad prefix"));
	EXPECT_EQ('\0', r.err[0]);
	run(&r, "cbctl -j breaker show dst 10.9.9.9 port 80");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.out, "{\"error\":\"no breaker for that destination\"}"));
}

/*
 * Every command, in text and in JSON: about 60 runs of cbctl, over 240 s
 * on the debug kernel beside another guest (30 s stretched 8 times).
 */
TEST_F_TIMEOUT(cli, every_command_in_text_and_json, 120)
{
	static const char *const cmds[] = {
		"status", "policy show", "policy show default",
		"policy show dst 2001:db8::/32 port 443", "breaker list",
		"breaker list state open", "breaker show dst 10.1.2.3 port 80",
		"breaker show dst 10.1.2.4 port 53 proto udp",
		"metrics", "metrics format prometheus limit 1",
		"policy add dst 10.20.0.0/16 window 60s min-calls 3 failure-rate 40 "
		"slow 200ms slow-rate 90 open 2s jitter 5 backoff 1.5 backoff-max 1m "
		"probes 2 probe-success 50 probe-wait 3s max-age 0s mode dry-run",
		"policy change dst 10.20.0.0/16 window 20 mode enforce",
		"policy delete dst 10.20.0.0/16",
		"breaker trip dst 10.30.0.1 port 99", "breaker hold dst 10.30.0.1 port 99",
		"breaker reset dst 10.30.0.1 port 99", "help", "policy help",
		"breaker help", "load help", "metrics help", "monitor help",
		"status help", "unload help",
	};
	struct cb_run r;
	unsigned int i;

	/* text, then JSON: each pass leaves the state as it found it */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run(&r, "cbctl %s", cmds[i]);
		if (r.status || r.err[0]) {
			TH_LOG("cbctl %s: %d %s", cmds[i], r.status, r.err);
			EXPECT_TRUE(0);
		}
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strstr(cmds[i], "help") || strstr(cmds[i], "prometheus"))
			continue;
		run(&r, "cbctl -j %s", cmds[i]);
		if (r.status || r.err[0] || !json_ok(r.out)) {
			TH_LOG("cbctl -j %s: %d %s %s", cmds[i], r.status, r.out, r.err);
			EXPECT_TRUE(0);
		}
	}
	run(&r, "cbctl -p status");
	EXPECT_EQ(0, r.status);
	EXPECT_LT(10, lines(r.out));	/* pretty: one member a line */
	run(&r, "cbctl -V");
	EXPECT_NE(NULL, strstr(r.out, "cbctl 0.1.0"));
	/* ip-style abbreviations */
	run(&r, "cbctl br sh dst 10.1.2.3 po 80");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "state open (forced: trip)"));
	run(&r, "cbctl pol sh");
	EXPECT_NE(NULL, strstr(r.out, "dst 2001:db8::/32 port 443 proto tcp"));
	/* policy show prints what add takes */
	run(&r, "cbctl policy show dst 10.1.0.0/16");
	EXPECT_NE(NULL, strstr(r.out, "open 5s"));
	EXPECT_NE(NULL, strstr(r.out, " fail-on refused,timeout,unreachable,abandoned,stalled "));
	EXPECT_EQ(0, cb_sh("cbctl policy del dst 10.1.0.0/16 && "
			   "cbctl policy add $(cat /tmp/cli.out) && "
			   "cbctl policy show dst 10.1.0.0/16 | cmp - /tmp/cli.out"));
	/* "default" in a list of classes: the default classes */
	run(&r, "cbctl policy add dst 10.8.0.0/16 fail-on dropped,default && "
	    "cbctl -j policy show dst 10.8.0.0/16");
	EXPECT_NE(NULL, strstr(r.out,
		  "\"fail_on\":\"refused,timeout,unreachable,abandoned,dropped,stalled\""));
	EXPECT_EQ(0, cb_sh("cbctl policy del dst 10.8.0.0/16"));
	/* last: it undoes the baseline's forcing */
	run(&r, "cbctl -j breaker reset all");
	EXPECT_STREQ("{\"result\":\"done\"}\n", r.out);
	run(&r, "cbctl breaker show dst 10.1.2.3 port 80");
	EXPECT_NE(NULL, strstr(r.out, "state closed\n"));
}

TEST_F(cli, prometheus_metrics)
{
	struct cb_run r;

	run(&r, "cbctl metrics format prometheus");
	ASSERT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "# TYPE cbreaker_calls_refused_total counter\n"));
	EXPECT_NE(NULL, strstr(r.out, "# HELP cbreaker_outcomes_total "));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_outcomes_total{class=\"timeout\"} "));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_breakers{state=\"open\"} 1\n"));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_table_capacity 65536\n"));
	/* a breaker is also its namespace and cgroup (scope) */
	EXPECT_EQ(0, cb_sh("grep -q '^cbreaker_breaker_state{dst=\"10.1.2.3\","
			   "port=\"80\",proto=\"tcp\",netns=\"[0-9]*\","
			   "scope=\"[0-9]*\"} 1$' /tmp/cli.out"));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_outcomes_total{class=\"abandoned\"} "));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_amended_total{class=\"dropped\"} "));
	/* each family's series stand together, as the format requires */
	EXPECT_EQ(0, cb_sh("awk '!/^#/ { sub(/[{ ].*/, \"\"); "
			   "if ($0 != last && seen[$0]) exit 1; seen[$0] = 1; last = $0 }' "
			   "/tmp/cli.out"));
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_breaker_series_dropped 0\n"));
	/* every counter ends in _total */
	EXPECT_EQ(0, cb_sh("! grep '^# TYPE .* counter$' /tmp/cli.out | grep -v '_total counter$'"));
	/* capped, and said so */
	run(&r, "cbctl metrics format prometheus limit 1");
	EXPECT_NE(NULL, strstr(r.out, "cbreaker_breaker_series_dropped 1\n"));
	EXPECT_NE(NULL, strstr(r.out, "# per-destination series capped: 1 of 2 breakers"));
}

TEST_F(cli, a_batch_applies_whole)
{
	char out[8192];
	struct cb_run r;

	ASSERT_EQ(0, cb_sh("printf '%s' >/tmp/good1",
			   "# comments and blank lines are fine\\n\\n"
			   "policy add dst 10.40.0.0/16 window 10   # trailing comment\\n"
			   "policy change dst 10.40.0.0/16 min-calls 3\\n"
			   "policy add dst 10.41.0.0/16 proto udp\\n"
			   "policy del dst 10.1.0.0/16\\n"
			   "breaker trip dst 10.40.0.1 port 80\\n"
			   "breaker reset dst 10.40.0.1 port 80\\n"));
	run(&r, "cbctl -b /tmp/good1");
	ASSERT_EQ(0, r.status);
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl policy show"));
	EXPECT_NE(NULL, strstr(out, "dst 10.40.0.0/16 proto tcp window 10 min-calls 3"));
	EXPECT_NE(NULL, strstr(out, "dst 10.41.0.0/16 proto udp"));
	EXPECT_EQ(NULL, strstr(out, "dst 10.1.0.0/16"));
	EXPECT_EQ(0, cb_sh("cbctl breaker show dst 10.40.0.1 port 80 | grep -q 'state closed'"));
	/* from standard input, with JSON */
	run(&r, "echo 'policy del dst 10.41.0.0/16 proto udp' | cbctl -j -b -");
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("{\"result\":\"done\"}\n", r.out);
	/* the example configuration installed with cbreaker is a valid batch */
	EXPECT_EQ(0, cb_sh("cbctl -b /src/dist/cbreaker.conf"));
}

/* Programs not loaded: changes are refused with a clear word; reads work. */
TEST_F(cli, without_programs_changes_are_refused)
{
	struct cb_run r;

	ASSERT_EQ(0, cb_sh("cbctl unload"));
	run(&r, "cbctl policy add default");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not loaded (cbctl load)"));
	run(&r, "cbctl breaker trip dst 10.0.0.1 port 80");
	EXPECT_NE(NULL, strstr(r.err, "not loaded (cbctl load)"));
	run(&r, "echo 'breaker reset all' | cbctl -b -");
	EXPECT_NE(NULL, strstr(r.err, "-:1: cbreaker programs are not loaded"));
	run(&r, "cbctl status");
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "programs:  not loaded"));
	ASSERT_EQ(0, cb_sh("cbctl load"));	/* for the teardown */
}

TEST_HARNESS_MAIN
