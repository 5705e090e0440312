// SPDX-License-Identifier: GPL-2.0
/* cbctl breaker { list | show | trip | hold | reset } */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>

#include "cbctl.h"

static void cb_breaker_usage(void)
{
	printf("Usage: cbctl breaker list [state closed|open|half-open]\n"
	       "       cbctl breaker show  DEST\n"
	       "       cbctl breaker trip  DEST     force open until reset\n"
	       "       cbctl breaker trip  DEST for DURATION\n"
	       "                                   open that long, then half-open as the policy says\n"
	       "       cbctl breaker hold  DEST     force closed until reset\n"
	       "       cbctl breaker history DEST   its last state changes, oldest first\n"
	       "       cbctl breaker reset DEST | all\n"
	       "DEST := [netns NAME|ID] [cgroup PATH] dst ADDR port PORT [proto tcp|udp]\n"
	       "netns: whose namespace's breaker (default: this one's);\n"
	       "cgroup: which attached cgroup's (needed when several are attached).\n");
}

static int cb_resolve_scope(struct cb_key *key);

/*
 * [netns NAME|ID] [cgroup PATH] dst ADDR port PORT [proto tcp|udp], each
 * keyword once, in any order. The namespace stays 0 (the caller's own, to
 * the module) unless named; the cgroup, unless named, is found.
 */
static int cb_parse_dest(int argc, char **argv, struct cb_key *key)
{
	struct cb_dest d;
	int i, err;

	cb_dest_init(&d);
	for (i = 0; i < argc; i += 2) {
		if (!argv[i + 1])
			return cb_err("missing value after \"%s\"", argv[i]);
		err = cb_parse_dest_word(argv[i], argv[i + 1], CB_DEST_WHERE, &d);
		if (err > 0)
			return cb_err("unknown argument \"%s\"", argv[i]);
		if (err)
			return -1;
	}
	if (!d.have_dst)
		return cb_err("missing \"dst ADDR\"");
	if (!d.have_port)
		return cb_err("missing \"port PORT\"");
	memset(key, 0, sizeof(*key));
	memcpy(key->addr, d.addr, sizeof(key->addr));
	key->port = htons(d.port);
	key->proto = d.proto;
	key->netns = d.netns;
	key->scope = d.scope;
	if (!d.have_cgroup && cb_resolve_scope(key))
		return -1;
	return 0;
}

static int cb_breaker_cb(const struct nlmsghdr *nlh, struct cb_breaker_info *bi)
{
	const struct nlattr *tb[CB_A_MAX + 1];

	memset(bi, 0, sizeof(*bi));
	if (cb_nl_parse(nlh, tb) < 0 || cb_nl_key(tb, &bi->key))
		return MNL_CB_ERROR;
	bi->state = cb_nl_u8(tb[CB_A_STATE]);
	bi->forced = cb_nl_u8(tb[CB_A_FORCED]);
	bi->trips = cb_nl_u8(tb[CB_A_TRIPS]);
	bi->mode = cb_nl_u8(tb[CB_A_MODE]);
	bi->exchanges = cb_nl_u8(tb[CB_A_P_CALLS]) == CB_CALLS_EXCHANGES;
	bi->tracked = cb_nl_u8(tb[CB_A_TRACKED]);
	bi->calls = cb_nl_u64(tb[CB_A_CALLS]);
	bi->successes = cb_nl_u64(tb[CB_A_SUCCESSES]);
	bi->failures = cb_nl_u64(tb[CB_A_FAILURES]);
	bi->slow = cb_nl_u64(tb[CB_A_SLOW]);
	bi->abandoned = cb_nl_u64(tb[CB_A_ABANDONED]);
	bi->rejected = cb_nl_u64(tb[CB_A_REJECTED]);
	bi->conns = cb_nl_u32(tb[CB_A_CONNS]);
	bi->opened_at = cb_nl_u64(tb[CB_A_OPENED_AT]);
	bi->open_until = cb_nl_u64(tb[CB_A_OPEN_UNTIL]);
	bi->now = cb_nl_u64(tb[CB_A_NOW]);
	bi->win_calls = cb_nl_u32(tb[CB_A_WINDOW_CALLS]);
	bi->win_failures = cb_nl_u32(tb[CB_A_WINDOW_FAILURES]);
	bi->win_slow = cb_nl_u32(tb[CB_A_WINDOW_SLOW]);
	bi->probes_placed = cb_nl_u16(tb[CB_A_PROBES_PLACED]);
	bi->probes_ok = cb_nl_u16(tb[CB_A_PROBES_OK]);
	bi->probes_failed = cb_nl_u16(tb[CB_A_PROBES_FAILED]);
	return MNL_CB_OK;
}

/* "opened 1.234s ago", "open until in 29.100s": for humans. */
static void cb_print_rel(const char *label, uint64_t t, uint64_t now)
{
	uint64_t ms = (t > now ? t - now : now - t) / 1000000;

	printf("%s %s%" PRIu64 ".%03" PRIu64 "s%s\n", label, t > now ? "in " : "",
	       ms / 1000, ms % 1000, t > now ? "" : " ago");
}

/* per mille of the window's calls */
static uint64_t cb_rate(uint32_t part, uint32_t whole)
{
	return whole ? (uint64_t)part * 1000 / whole : 0;
}

/* Where a breaker serves: its namespace, and its cgroup where known. */
static void cb_where_json(const struct cb_key *key)
{
	const char *name = cb_netns_name(key->netns);
	const char *cg = cb_scope_path(key->scope);

	jw_u64("netns", key->netns);
	if (name)
		jw_str("netns_name", name);
	jw_u64("scope", key->scope);
	if (*cg)
		jw_str("cgroup", cg);
}

/* "netns 4097 (blue)": the name where ip netns gave one. */
static const char *cb_where_text(const struct cb_key *key)
{
	static char buf[64 + NAME_MAX];
	const char *name = cb_netns_name(key->netns);

	snprintf(buf, sizeof(buf), "%" PRIu64 "%s%s%s", (uint64_t)key->netns,
		 name ? " (" : "", name ?: "", name ? ")" : "");
	return buf;
}

/* A window's counts and rates, and probes: in breaker and history JSON. */
static void cb_window_json(uint32_t calls, uint32_t fails, uint32_t slows)
{
	jw_u64("window_calls", calls);
	jw_u64("window_failures", fails);
	jw_u64("window_slow", slows);
	jw_u64("failure_rate", cb_rate(fails, calls));
	jw_u64("slow_rate", cb_rate(slows, calls));
}

static void cb_probes_json(uint16_t placed, uint16_t ok, uint16_t failed)
{
	jw_u64("probes_placed", placed);
	jw_u64("probes_ok", ok);
	jw_u64("probes_failed", failed);
}

/* A breaker, as text lines or one JSON object: one path for both. */
static void cb_breaker_print(const struct cb_breaker_info *b)
{
	const char *cg = cb_scope_path(b->key.scope);
	char addr[INET6_ADDRSTRLEN];
	uint64_t rate = cb_rate(b->win_failures, b->win_calls);

	cb_format_addr(b->key.addr, addr, sizeof(addr));
	cb_print_open();
	cb_print_str(CB_PRINT_ANY, "dst", "dst %s", addr);
	cb_print_u64(CB_PRINT_ANY, "port", " port %" PRIu64, ntohs(b->key.port));
	cb_print_str(CB_PRINT_ANY, "proto", " proto %s\n",
		     cb_proto_name(b->key.proto));
	if (cb_json)
		cb_where_json(&b->key);
	cb_print_text("  netns %s%s%s\n", cb_where_text(&b->key),
		      *cg ? " cgroup " : "", cg);
	cb_print_str(CB_PRINT_ANY, "state", "  state %s", cb_state_name(b->state));
	cb_print_str(CB_PRINT_JSON, "forced", NULL, cb_force_name(b->forced));
	if (cb_json)
		jw_bool("tracked", b->tracked);
	cb_print_str(CB_PRINT_JSON, "mode", NULL, cb_mode_name(b->mode));
	cb_print_text("%s%s%s\n",
		      b->forced == CB_FORCE_OPEN ? " (forced: trip)" :
		      b->forced == CB_FORCE_CLOSED ? " (forced: hold)" : "",
		      b->mode == CB_MODE_DRY_RUN ? " (dry-run)" : "",
		      b->tracked ? "" : " (no policy)");
	cb_print_str(CB_PRINT_JSON, "calls_are", NULL,
		     b->exchanges ? "exchanges" : "connects");
	cb_print_text("  window %u %s, %u failed, %u slow: failure rate %" PRIu64
		      ".%" PRIu64 "%%%s\n", b->win_calls,
		      b->exchanges ? "exchanges" : "calls", b->win_failures,
		      b->win_slow, rate / 10, rate % 10,
		      b->state != CB_STATE_CLOSED ? " (when it opened)" : "");
	cb_print_u64(CB_PRINT_ANY, "calls", "  calls %" PRIu64, b->calls);
	cb_print_u64(CB_PRINT_ANY, "successes", " successes %" PRIu64,
		     b->successes);
	cb_print_u64(CB_PRINT_ANY, "failures", " failures %" PRIu64, b->failures);
	cb_print_u64(CB_PRINT_JSON, "slow", NULL, b->slow);
	/* given up on by their owner: handshakes, or exchanges (stalled) */
	cb_print_u64(CB_PRINT_JSON, "abandoned", NULL, b->abandoned);
	cb_print_u64(CB_PRINT_TEXT, NULL, b->exchanges ?
		     " (stalled %" PRIu64 ")" : " (abandoned %" PRIu64 ")",
		     b->abandoned);
	cb_print_u64(CB_PRINT_TEXT, NULL, " slow %" PRIu64, b->slow);
	cb_print_u64(CB_PRINT_ANY, "rejected", " rejected %" PRIu64, b->rejected);
	cb_print_u64(CB_PRINT_JSON, "conns", NULL, b->conns);
	if (b->conns)
		cb_print_u64(CB_PRINT_TEXT, NULL, " conns %" PRIu64, b->conns);
	if (cb_json)
		cb_window_json(b->win_calls, b->win_failures, b->win_slow);
	cb_print_u64(CB_PRINT_ANY, "trips", " trips %" PRIu64 "\n", b->trips);
	if (cb_json) {
		cb_probes_json(b->probes_placed, b->probes_ok, b->probes_failed);
		if (b->state != CB_STATE_CLOSED && b->opened_at)
			jw_u64("opened_at", b->opened_at);
		else
			jw_null("opened_at");
		if (b->state == CB_STATE_OPEN && b->open_until)
			jw_u64("open_until", b->open_until);
		else
			jw_null("open_until");
		jw_u64("now", b->now);
	} else {
		if (b->state != CB_STATE_CLOSED && b->opened_at)
			cb_print_rel("  opened", b->opened_at, b->now);
		if (b->state == CB_STATE_HALF_OPEN)
			printf("  probes %u placed, %u ok, %u failed\n",
			       b->probes_placed, b->probes_ok, b->probes_failed);
		if (b->state == CB_STATE_OPEN && b->open_until)
			cb_print_rel("  half-open", b->open_until, b->now);
		else if (b->state == CB_STATE_OPEN)
			printf("  open until reset\n");
	}
	cb_print_close("");
}

struct cb_list_arg {
	int state;	/* -1: all */
	unsigned int n;
};

/* Every breaker, in one dump the table did not change under. */
struct cb_breakers {
	struct cb_breaker_info *v;
	size_t n, max;
};

static int cb_collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cb_breakers *all = data;
	struct cb_breaker_info *v;

	if (all->n == all->max) {
		v = realloc(all->v, (all->max * 2 + 64) * sizeof(*v));
		if (!v)
			return MNL_CB_ERROR;
		all->v = v;
		all->max = all->max * 2 + 64;
	}
	return cb_breaker_cb(nlh, &all->v[all->n++]);
}

/*
 * A breaker deleted while the module dumps the table can make the dump
 * start again from the first breaker (the module's cursor is the last key
 * it sent): the dump goes on to its end, and what came twice is kept
 * once, as it was last seen, where it first came.
 */
static int cb_key_cmp(const struct cb_key *a, const struct cb_key *b)
{
	return memcmp(a, b, sizeof(*a));
}

static const struct cb_breaker_info *cb_sort_base;

static int cb_idx_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = cb_key_cmp(&cb_sort_base[a].key, &cb_sort_base[b].key);

	return c ? c : (a > b) - (a < b);
}

static int cb_breakers_unrepeat(struct cb_breakers *all)
{
	size_t *idx, i, j, n = 0;
	bool *drop;

	idx = calloc(all->n, sizeof(*idx));
	drop = calloc(all->n, sizeof(*drop));
	if (!idx || !drop) {
		free(idx);
		free(drop);
		return cb_err("out of memory");
	}
	for (i = 0; i < all->n; i++)
		idx[i] = i;
	cb_sort_base = all->v;
	qsort(idx, all->n, sizeof(*idx), cb_idx_cmp);
	for (i = 0; i < all->n; i = j) {
		for (j = i + 1; j < all->n &&
		     !cb_key_cmp(&all->v[idx[i]].key, &all->v[idx[j]].key); j++)
			drop[idx[j]] = true;
		all->v[idx[i]] = all->v[idx[j - 1]];	/* the latest view */
	}
	for (i = 0; i < all->n; i++)
		if (!drop[i])
			all->v[n++] = all->v[i];
	all->n = n;
	free(idx);
	free(drop);
	return 0;
}

static int cb_breakers_get(struct cb_breakers *all)
{
	int err;

	memset(all, 0, sizeof(*all));
	cb_nl_dump_repeats = false;
	err = cb_nl_ask(CB_CMD_BREAKER_GET, NLM_F_DUMP, NULL, NULL,
			cb_collect_cb, all);
	if (err)
		err = cb_nl_report(err);
	else if (cb_nl_dump_repeats)
		err = cb_breakers_unrepeat(all);
	if (!err)
		return 0;
	free(all->v);
	all->v = NULL;
	return err;
}

static void cb_list_one(const struct cb_breaker_info *bp, struct cb_list_arg *a)
{
	const struct cb_breaker_info b = *bp;
	char addr[INET6_ADDRSTRLEN];

	if (a->state >= 0 && b.state != a->state)
		return;
	a->n++;
	if (cb_json) {
		cb_breaker_print(&b);
		return;
	}
	if (a->n == 1)
		printf("%-39s %5s %-5s %-9s %-6s %10s %10s %10s  %s\n", "DST",
		       "PORT", "PROTO", "STATE", "FORCED", "CALLS", "FAILURES",
		       "REJECTED", "NETNS");
	cb_format_addr(b.key.addr, addr, sizeof(addr));
	printf("%-39s %5u %-5s %-9s %-6s %10" PRIu64 " %10" PRIu64
	       " %10" PRIu64 "  %s\n", addr, ntohs(b.key.port),
	       cb_proto_name(b.key.proto), cb_state_name(b.state),
	       b.forced == CB_FORCE_OPEN ? "trip" :
	       b.forced == CB_FORCE_CLOSED ? "hold" : "-",
	       b.calls, b.failures, b.rejected, cb_where_text(&b.key));
}

int cb_breaker_dump(void (*fn)(const struct cb_breaker_info *b, void *arg),
		    void *arg)
{
	struct cb_breakers all;
	size_t i;

	if (cb_breakers_get(&all))
		return -1;
	for (i = 0; i < all.n; i++)
		fn(&all.v[i], arg);
	free(all.v);
	return 0;
}

struct cb_scopes {
	struct cb_key key;	/* the destination and namespace sought */
	uint32_t scope[2];
	unsigned int n;
};

static void cb_scope_cb(const struct cb_breaker_info *b, void *arg)
{
	struct cb_scopes *s = arg;

	if (memcmp(b->key.addr, s->key.addr, sizeof(b->key.addr)) ||
	    b->key.port != s->key.port || b->key.proto != s->key.proto ||
	    b->key.netns != s->key.netns)
		return;
	if (s->n < 2)
		s->scope[s->n] = b->key.scope;
	s->n++;
}

/*
 * The attached cgroup a destination named without one means: the only one
 * attached; else, or where /sys/fs/bpf is not to be seen (ip netns exec
 * mounts a sysfs of its own), the one that has a breaker for it.
 */
static int cb_resolve_scope(struct cb_key *key)
{
	struct cb_scopes s = { .key = *key };
	int attached = -1;	/* not to be seen from here */
	uint32_t one;

	if (!access(CB_PIN_DIR, F_OK)) {
		attached = cb_attached_scopes(&one, 1);
		if (attached <= 1) {
			key->scope = attached ? one : 0;
			return 0;
		}
	}
	if (!s.key.netns)
		s.key.netns = cb_netns_cookie();
	if (cb_breaker_dump(cb_scope_cb, &s))
		return -1;
	if (s.n > 1)
		return cb_err("breakers for that destination in %u cgroups: name one (cgroup PATH)",
			      s.n);
	if (s.n == 1) {
		key->scope = s.scope[0];
		return 0;
	}
	if (attached > 1)
		return cb_err("%d cgroups are attached, each with breakers of its own: name one (cgroup PATH)",
			      attached);
	key->scope = 0;		/* the module answers: no such breaker */
	return 0;
}

static int cb_parse_state(const char *s)
{
	unsigned int i;

	for (i = 0; i < __CB_STATE_MAX; i++)
		if (!strcmp(s, cb_state_name(i)))
			return i;
	return -1;
}

static int cb_breaker_list(int argc, char **argv)
{
	struct cb_list_arg a = { .state = -1 };
	struct cb_breakers all;
	size_t i;

	if (argc >= 1 && cb_matches(argv[0], "state")) {
		if (argc < 2)
			return cb_err("missing value after \"state\"");
		a.state = cb_parse_state(argv[1]);
		if (a.state < 0)
			return cb_err("bad state \"%s\" (closed, open or half-open)",
				      argv[1]);
		argc -= 2;
		argv += 2;
	}
	if (argc)
		return cb_err("unknown argument \"%s\"", argv[0]);

	if (cb_breakers_get(&all))
		return -1;
	if (cb_json)
		jw_arr_open(NULL);
	for (i = 0; i < all.n; i++)
		cb_list_one(&all.v[i], &a);
	free(all.v);
	if (cb_json) {
		jw_arr_close();
		jw_end();
	} else if (!a.n) {
		printf("no breakers\n");
	}
	return 0;
}

static int cb_put_key_arg(struct nlmsghdr *nlh, const void *arg)
{
	cb_nl_put_key(nlh, arg);
	return 0;
}

static int cb_show_cb(const struct nlmsghdr *nlh, void *data)
{
	return cb_breaker_cb(nlh, data);
}

static int cb_breaker_show(int argc, char **argv)
{
	struct cb_breaker_info b;
	struct cb_key key;

	if (cb_parse_dest(argc, argv, &key) ||
	    cb_nl_request(CB_CMD_BREAKER_GET, 0, cb_put_key_arg, &key,
			  cb_show_cb, &b))
		return -1;
	cb_breaker_print(&b);
	return 0;
}

/* cbctl breaker history DEST: the module keeps the last few changes. */
#define CB_HISTORY_MAX 32

struct cb_history {
	struct cb_breaker_info b;
	unsigned int n;
	struct cb_change_info {
		uint64_t time;
		uint8_t from, to, reason;
		uint32_t calls, fails, slows;
		uint16_t placed, ok, failed;
		int64_t closed, would_close;	/* -1: not said */
	} c[CB_HISTORY_MAX];
};

static int cb_history_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1], *etb[CB_A_MAX + 1];
	struct cb_history *h = data;
	const struct nlattr *e;

	if (cb_breaker_cb(nlh, &h->b) != MNL_CB_OK || cb_nl_parse(nlh, tb) < 0)
		return MNL_CB_ERROR;
	h->n = 0;
	if (!tb[CB_A_HISTORY])
		return MNL_CB_OK;	/* an older module */
	mnl_attr_for_each_nested(e, tb[CB_A_HISTORY]) {
		struct cb_change_info *c = &h->c[h->n];

		if (h->n == CB_HISTORY_MAX)
			break;
		if (cb_nl_parse_nested(e, etb) < 0)
			return MNL_CB_ERROR;
		c->time = cb_nl_u64(etb[CB_A_TIME]);
		c->from = cb_nl_u8(etb[CB_A_FROM]);
		c->to = cb_nl_u8(etb[CB_A_STATE]);
		c->reason = cb_nl_u8(etb[CB_A_REASON]);
		c->calls = cb_nl_u32(etb[CB_A_WINDOW_CALLS]);
		c->fails = cb_nl_u32(etb[CB_A_WINDOW_FAILURES]);
		c->slows = cb_nl_u32(etb[CB_A_WINDOW_SLOW]);
		c->placed = cb_nl_u16(etb[CB_A_PROBES_PLACED]);
		c->ok = cb_nl_u16(etb[CB_A_PROBES_OK]);
		c->failed = cb_nl_u16(etb[CB_A_PROBES_FAILED]);
		c->closed = etb[CB_A_CLOSED] ? (int64_t)cb_nl_u32(etb[CB_A_CLOSED]) : -1;
		c->would_close = etb[CB_A_WOULD_CLOSE] ?
				 (int64_t)cb_nl_u32(etb[CB_A_WOULD_CLOSE]) : -1;
		h->n++;
	}
	return MNL_CB_OK;
}

static void cb_history_json(const struct cb_history *h)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int i;

	cb_format_addr(h->b.key.addr, addr, sizeof(addr));
	jw_obj_open(NULL);
	jw_str("dst", addr);
	jw_u64("port", ntohs(h->b.key.port));
	jw_str("proto", cb_proto_name(h->b.key.proto));
	jw_str("state", cb_state_name(h->b.state));
	jw_u64("now", h->b.now);
	jw_arr_open("history");
	for (i = 0; i < h->n; i++) {
		const struct cb_change_info *c = &h->c[i];

		jw_obj_open(NULL);
		jw_u64("time", c->time);
		jw_str("from", cb_state_name(c->from));
		jw_str("to", cb_state_name(c->to));
		jw_str("reason", cb_reason_name(c->reason));
		cb_window_json(c->calls, c->fails, c->slows);
		cb_probes_json(c->placed, c->ok, c->failed);
		if (c->closed >= 0)
			jw_u64("closed", c->closed);
		if (c->would_close >= 0)
			jw_u64("would_close", c->would_close);
		jw_obj_close();
	}
	jw_arr_close();
	jw_obj_close();
	jw_end();
}

static void cb_history_text(const struct cb_history *h)
{
	char addr[INET6_ADDRSTRLEN], what[64];
	unsigned int i;

	cb_format_addr(h->b.key.addr, addr, sizeof(addr));
	printf("dst %s port %u proto %s: %s, %u change%s kept\n", addr,
	       ntohs(h->b.key.port), cb_proto_name(h->b.key.proto),
	       cb_state_name(h->b.state), h->n, h->n == 1 ? "" : "s");
	for (i = 0; i < h->n; i++) {
		const struct cb_change_info *c = &h->c[i];

		snprintf(what, sizeof(what), "%s -> %s (%s)",
			 cb_state_name(c->from), cb_state_name(c->to),
			 cb_reason_name(c->reason));
		cb_print_rel(what, c->time, h->b.now);
		if (c->from == CB_STATE_HALF_OPEN)
			printf("    probes %u placed, %u ok, %u failed\n",
			       c->placed, c->ok, c->failed);
		else if (c->calls)
			printf("    window %u calls: failure rate %" PRIu64
			       ".%" PRIu64 "%%, slow rate %" PRIu64 ".%" PRIu64
			       "%%\n", c->calls,
			       cb_rate(c->fails, c->calls) / 10,
			       cb_rate(c->fails, c->calls) % 10,
			       cb_rate(c->slows, c->calls) / 10,
			       cb_rate(c->slows, c->calls) % 10);
		if (c->closed >= 0)
			printf("    closed %" PRId64 " connection%s\n", c->closed,
			       c->closed == 1 ? "" : "s");
		if (c->would_close >= 0)
			printf("    would have closed %" PRId64 " connection%s (dry-run)\n",
			       c->would_close, c->would_close == 1 ? "" : "s");
	}
}

static int cb_breaker_history(int argc, char **argv)
{
	struct cb_history *h;
	struct cb_key key;
	int err;

	if (cb_parse_dest(argc, argv, &key))
		return -1;
	h = calloc(1, sizeof(*h));
	if (!h)
		return cb_err("out of memory");
	err = cb_nl_request(CB_CMD_BREAKER_GET, 0, cb_put_key_arg, &key,
			    cb_history_cb, h);
	if (!err && cb_json)
		cb_history_json(h);
	else if (!err)
		cb_history_text(h);
	free(h);
	return err;
}

static int cb_put_set(struct nlmsghdr *nlh, const void *arg)
{
	const struct cb_req *req = arg;

	mnl_attr_put_u8(nlh, CB_A_ACTION, req->action);
	if (req->for_ns)
		mnl_attr_put_u64(nlh, CB_A_DURATION_NS, req->for_ns);
	if (req->all)
		mnl_attr_put(nlh, CB_A_ALL, 0, NULL);
	else
		cb_nl_put_key(nlh, &req->key);
	return 0;
}

/* DEST [for DURATION], "for" before, between or after DEST's pairs. */
static int cb_parse_trip(int argc, char **argv, struct cb_req *req)
{
	char *dest[12];	/* the destination's keywords, five pairs at most */
	int i, n = 0;

	for (i = 0; i < argc; i += 2) {
		if (!cb_matches(argv[i], "for")) {
			if (n + 2 > (int)(sizeof(dest) / sizeof(dest[0])))
				return cb_err("unknown argument \"%s\"", argv[i]);
			dest[n++] = argv[i];
			dest[n++] = i + 1 < argc ? argv[i + 1] : NULL;
			continue;
		}
		if (req->for_ns)
			return cb_err("for given twice");
		if (i + 1 >= argc)
			return cb_err("missing value after \"for\"");
		if (cb_parse_duration(argv[i + 1], &req->for_ns) ||
		    req->for_ns < 10000000ULL || req->for_ns > 86400000000000ULL)
			return cb_err("bad duration \"%s\" (10ms..24h)", argv[i + 1]);
	}
	return cb_parse_dest(n, dest, &req->key);
}

int cb_breaker_req(const char *cmd, int argc, char **argv, struct cb_req *req)
{
	memset(req, 0, sizeof(*req));
	req->cmd = CB_CMD_BREAKER_SET;
	if (cb_matches(cmd, "trip"))
		req->action = CB_ACTION_TRIP;
	else if (cb_matches(cmd, "hold"))
		req->action = CB_ACTION_HOLD;
	else if (cb_matches(cmd, "reset"))
		req->action = CB_ACTION_RESET;
	else
		return 1;
	if (req->action == CB_ACTION_RESET && argc == 1 && !strcmp(argv[0], "all")) {
		req->all = true;
		return 0;
	}
	if (req->action == CB_ACTION_TRIP)
		return cb_parse_trip(argc, argv, req);
	return cb_parse_dest(argc, argv, &req->key);
}

int cb_req_send_breaker(const struct cb_req *req)
{
	return cb_nl_ask(CB_CMD_BREAKER_SET, 0, cb_put_set, req, NULL, NULL);
}

/* Does the module have a breaker for @key? 0, -ENOENT or -errno. */
int cb_breaker_exists(const struct cb_key *key)
{
	struct cb_breaker_info b;

	return cb_nl_ask(CB_CMD_BREAKER_GET, 0, cb_put_key_arg, key,
			 cb_show_cb, &b);
}

int cb_cmd_breaker(int argc, char **argv)
{
	static const struct cb_command cmds[] = {
		{ "list", .fn = cb_breaker_list },	/* the first: no command */
		{ "show", .fn = cb_breaker_show },
		{ "help", .usage = cb_breaker_usage },
		{ "history", .fn = cb_breaker_history },	/* after help: "h" is help */
		{ "trip", .req = cb_breaker_req },
		{ "hold", .req = cb_breaker_req },
		{ "reset", .req = cb_breaker_req },
		{ 0 }
	};

	return cb_cmd_select(cmds, argc, argv, "breaker");
}
