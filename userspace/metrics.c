// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl metrics [format text|json|prometheus] [limit N]
 *
 * Module-wide counters (monotonic since the module loaded), gauges of the
 * table, and per-destination series for at most N breakers (default 1000):
 * a scrape of a million destinations would drown Prometheus, so the cap is
 * there and the output says when it cut.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cbctl.h"

#define CB_SERIES_DEFAULT 1000

enum cb_fmt { CB_FMT_TEXT, CB_FMT_JSON, CB_FMT_PROM };

/* Counters, as Prometheus names them; outcomes share one name by class. */
static const struct {
	const char *name, *label, *help;
} cb_prom[__CB_STAT_MAX] = {
	[CB_STAT_ADMITTED] = { "calls_admitted_total", NULL,
		"Calls to tracked destinations let through." },
	[CB_STAT_REFUSED] = { "calls_refused_total", NULL,
		"Calls refused at once by an open breaker." },
	[CB_STAT_DRY_RUN] = { "calls_dry_run_passed_total", NULL,
		"Calls a dry-run breaker let through that enforcing would refuse." },
	[CB_STAT_SUCCESS] = { "outcomes_total", "success",
		"Outcomes of admitted calls, by class." },
	[CB_STAT_FAIL_REFUSED] = { "outcomes_total", "refused", NULL },
	[CB_STAT_FAIL_TIMEOUT] = { "outcomes_total", "timeout", NULL },
	[CB_STAT_FAIL_UNREACH] = { "outcomes_total", "unreachable", NULL },
	[CB_STAT_FAIL_PORT_UNREACH] = { "outcomes_total", "port_unreachable", NULL },
	[CB_STAT_FAIL_ABANDONED] = { "outcomes_total", "abandoned", NULL },
	[CB_STAT_FAIL_STALLED] = { "outcomes_total", "stalled", NULL },
	[CB_STAT_FAIL_RESET] = { "amended_total", "reset",
		"Resets and drops counted as failures, by class (fail-on reset, dropped): of a handshake's success after it, or of an exchange." },
	[CB_STAT_FAIL_DROPPED] = { "amended_total", "dropped", NULL },
	[CB_STAT_SLOW] = { "slow_calls_total", NULL,
		"Handshakes slower than their policy's slow threshold." },
	[CB_STAT_TABLE_FULL] = { "table_full_total", NULL,
		"Calls let through without a breaker: the breaker table had no room." },
	[CB_STAT_CREATED] = { "breakers_created_total", NULL,
		"Breakers made for new destinations." },
	[CB_STAT_EVICTED] = { "evictions_total", NULL,
		"Idle breakers evicted to make room." },
	[CB_STAT_TRANSITIONS] = { "state_changes_total", NULL,
		"Breaker state changes." },
	[CB_STAT_EVENTS_DROPPED] = { "events_dropped_total", NULL,
		"State-change events a consumer missed." },
	[CB_STAT_DATAGRAMS] = { "udp_datagrams_total", NULL,
		"UDP datagrams let through; an ICMP error makes one a port_unreachable outcome." },
	[CB_STAT_IGNORED] = { "ignored_total", NULL,
		"Results not counted: their class is not in their policy's fail-on, or their socket's owner steered it (TTL, source, device)." },
	[CB_STAT_TRIP_CAPPED] = { "trips_capped_total", NULL,
		"Trips held back by their policy's max-open: the breaker stayed closed." },
	[CB_STAT_BULKHEAD] = { "rejected_bulkhead_total", NULL,
		"Connects refused because their destination had max-conns open (EAGAIN); no failures." },
	[CB_STAT_EXCHANGES] = { "exchanges_total", NULL,
		"Exchanges (requests and their replies) that ended on connections under calls exchanges." },
	[CB_STAT_UNBOUNDED] = { "bulkhead_unbounded_total", NULL,
		"Connects under max-conns let through without holding a place: the kernel could not make their socket's storage." },
	[CB_STAT_CONNS_CLOSED] = { "connections_closed_total", NULL,
		"Established TCP connections aborted as their breaker opened (on-open close)." },
	[CB_STAT_CONNS_WOULD_CLOSE] = { "connections_would_close_total", NULL,
		"Connections on-open close would have aborted as their dry-run breaker opened." },
};

struct cb_collect {
	struct cb_breaker_info *b;
	unsigned int n, total, limit;
	unsigned int by_state[__CB_STATE_MAX];
};

static void cb_collect_one(const struct cb_breaker_info *b, void *arg)
{
	struct cb_collect *c = arg;

	c->total++;
	if (b->state < __CB_STATE_MAX)
		c->by_state[b->state]++;
	if (c->n < c->limit)
		c->b[c->n++] = *b;
}

static void cb_prom_head(const char *name, const char *type, const char *help)
{
	printf("# HELP cbreaker_%s %s\n# TYPE cbreaker_%s %s\n", name, help,
	       name, type);
}

/* One per-destination metric for every breaker collected. */
static void cb_prom_series(const struct cb_collect *c, const char *name,
			   const char *type, const char *help,
			   uint64_t (*val)(const struct cb_breaker_info *b))
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	cb_prom_head(name, type, help);
	for (i = 0; i < c->n; i++) {
		cb_format_addr(c->b[i].key.addr, addr, sizeof(addr));
		printf("cbreaker_%s{dst=\"%s\",port=\"%u\",proto=\"%s\","
		       "netns=\"%" PRIu64 "\",scope=\"%u\"} %" PRIu64 "\n",
		       name, addr, ntohs(c->b[i].key.port),
		       cb_proto_name(c->b[i].key.proto), (uint64_t)c->b[i].key.netns,
		       c->b[i].key.scope, val(&c->b[i]));
	}
}

static uint64_t cb_v_state(const struct cb_breaker_info *b) { return b->state; }
static uint64_t cb_v_calls(const struct cb_breaker_info *b) { return b->calls; }
static uint64_t cb_v_fail(const struct cb_breaker_info *b) { return b->failures; }
static uint64_t cb_v_slow(const struct cb_breaker_info *b) { return b->slow; }
static uint64_t cb_v_rej(const struct cb_breaker_info *b) { return b->rejected; }
static uint64_t cb_v_conns(const struct cb_breaker_info *b) { return b->conns; }

static void cb_prometheus(const struct cb_status_info *st,
			  const struct cb_collect *c)
{
	unsigned int i, j;

	/* a family's head (the entry with help), then all its series */
	for (i = 0; i < __CB_STAT_MAX; i++) {
		if (!cb_prom[i].help)
			continue;
		cb_prom_head(cb_prom[i].name, "counter", cb_prom[i].help);
		for (j = i; j < __CB_STAT_MAX; j++) {
			if (strcmp(cb_prom[j].name, cb_prom[i].name))
				continue;
			if (cb_prom[j].label)
				printf("cbreaker_%s{class=\"%s\"} %" PRIu64 "\n",
				       cb_prom[j].name, cb_prom[j].label,
				       st->stats[j]);
			else
				printf("cbreaker_%s %" PRIu64 "\n",
				       cb_prom[j].name, st->stats[j]);
		}
	}
	cb_prom_head("breakers", "gauge", "Breakers by state.");
	for (i = 0; i < __CB_STATE_MAX; i++)
		printf("cbreaker_breakers{state=\"%s\"} %u\n", cb_state_name(i),
		       c->by_state[i]);
	cb_prom_head("table_entries", "gauge", "Breakers in the table.");
	printf("cbreaker_table_entries %u\n", st->breakers);
	cb_prom_head("table_capacity", "gauge", "Room for breakers in the table.");
	printf("cbreaker_table_capacity %u\n", st->breakers_max);
	cb_prom_head("policies", "gauge", "Policy rules.");
	printf("cbreaker_policies %u\n", st->rules);

	cb_prom_head("breaker_series_dropped", "gauge",
		     "Breakers left out of the per-destination series (limit).");
	printf("cbreaker_breaker_series_dropped %u\n", c->total - c->n);
	if (c->n < c->total)
		printf("# per-destination series capped: %u of %u breakers (limit %u)\n",
		       c->n, c->total, c->limit);
	cb_prom_series(c, "breaker_state", "gauge",
		       "State of a breaker: 0 closed, 1 open, 2 half-open.", cb_v_state);
	cb_prom_series(c, "breaker_calls_total", "counter",
		       "Calls a breaker let through.", cb_v_calls);
	cb_prom_series(c, "breaker_failures_total", "counter",
		       "Failed calls of a breaker.", cb_v_fail);
	cb_prom_series(c, "breaker_slow_total", "counter",
		       "Slow calls of a breaker.", cb_v_slow);
	cb_prom_series(c, "breaker_rejected_total", "counter",
		       "Calls a breaker refused.", cb_v_rej);
	cb_prom_series(c, "breaker_connections", "gauge",
		       "TCP connections open to a destination under max-conns.",
		       cb_v_conns);
}

static void cb_metrics_json(const struct cb_status_info *st,
			    const struct cb_collect *c)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	jw_obj_open(NULL);
	jw_obj_open("counters");
	for (i = 0; i < __CB_STAT_MAX; i++)
		jw_u64(cb_stat_name(i), st->stats[i]);
	jw_obj_close();
	jw_obj_open("breakers_by_state");
	for (i = 0; i < __CB_STATE_MAX; i++)
		jw_u64(cb_state_name(i), c->by_state[i]);
	jw_obj_close();
	jw_u64("table_entries", st->breakers);
	jw_u64("table_capacity", st->breakers_max);
	jw_u64("policies", st->rules);
	jw_u64("breakers_shown", c->n);
	jw_u64("breakers_total", c->total);
	jw_arr_open("breakers");
	for (i = 0; i < c->n; i++) {
		cb_format_addr(c->b[i].key.addr, addr, sizeof(addr));
		jw_obj_open(NULL);
		jw_str("dst", addr);
		jw_u64("port", ntohs(c->b[i].key.port));
		jw_str("proto", cb_proto_name(c->b[i].key.proto));
		jw_str("state", cb_state_name(c->b[i].state));
		jw_u64("calls", c->b[i].calls);
		jw_u64("failures", c->b[i].failures);
		jw_u64("slow", c->b[i].slow);
		jw_u64("rejected", c->b[i].rejected);
		jw_u64("conns", c->b[i].conns);
		jw_obj_close();
	}
	jw_arr_close();
	jw_obj_close();
	jw_end();
}

static void cb_metrics_text(const struct cb_status_info *st,
			    const struct cb_collect *c)
{
	unsigned int i;

	for (i = 0; i < __CB_STAT_MAX; i++)
		printf("%-24s %" PRIu64 "\n", cb_stat_name(i), st->stats[i]);
	for (i = 0; i < __CB_STATE_MAX; i++)
		printf("breakers %-15s %u\n", cb_state_name(i), c->by_state[i]);
	printf("%-24s %u of %u\n", "table", st->breakers, st->breakers_max);
	printf("%-24s %u\n", "policies", st->rules);
}

int cb_cmd_metrics(int argc, char **argv)
{
	struct cb_collect c = { .limit = CB_SERIES_DEFAULT };
	enum cb_fmt fmt = cb_json ? CB_FMT_JSON : CB_FMT_TEXT;
	struct cb_status_info st;
	int i, err;

	if (argc && !strcmp(argv[0], "serve"))
		return cb_metrics_serve(argc - 1, argv + 1);
	if (argc == 1 && cb_matches(argv[0], "help")) {
		printf("Usage: cbctl metrics [format text|json|prometheus] [limit N]\n"
		       "       cbctl metrics serve [listen ADDR:PORT] [limit N] [connections N] [user NAME]\n"
		       "limit: per-destination series for at most N breakers (default %u)\n",
		       CB_SERIES_DEFAULT);
		return 0;
	}
	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return cb_err("missing value after \"%s\"", argv[i]);
		if (cb_matches(argv[i], "format")) {
			if (!strcmp(argv[i + 1], "text"))
				fmt = CB_FMT_TEXT;
			else if (!strcmp(argv[i + 1], "json"))
				fmt = CB_FMT_JSON;
			else if (!strcmp(argv[i + 1], "prometheus"))
				fmt = CB_FMT_PROM;
			else
				return cb_err("bad format \"%s\" (text, json or prometheus)",
					      argv[i + 1]);
		} else if (cb_matches(argv[i], "limit")) {
			if (cb_parse_u32(argv[i + 1], 10000000, &c.limit))
				return cb_err("bad limit \"%s\"", argv[i + 1]);
		} else {
			return cb_err("unknown argument \"%s\"", argv[i]);
		}
	}
	if (cb_nl_status(&st))
		return -1;
	c.b = calloc(c.limit ? c.limit : 1, sizeof(*c.b));
	if (!c.b)
		return cb_err("out of memory");
	err = st.maps_attached ? cb_breaker_dump(cb_collect_one, &c) : 0;
	if (!err) {
		if (fmt == CB_FMT_PROM)
			cb_prometheus(&st, &c);
		else if (fmt == CB_FMT_JSON)
			cb_metrics_json(&st, &c);
		else
			cb_metrics_text(&st, &c);
	}
	free(c.b);
	return err;
}
