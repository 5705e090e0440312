// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl: the operator's tool for cbreaker.
 *
 *   cbctl [-j] [-p] [-V] OBJECT COMMAND [ARGS]
 *
 * Objects and commands may be abbreviated as in ip(8).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "cbctl.h"

bool cb_json;
bool cb_pretty;

int cb_err(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("error", msg);
		jw_obj_close();
		jw_end();
	} else {
		fprintf(stderr, "cbctl: %s\n", msg);
	}
	return -1;
}

static void cb_usage(FILE *f)
{
	fprintf(f,
		"Usage: cbctl [-j] [-p] [-V] OBJECT COMMAND [ARGS]\n"
		"       cbctl load [cgroup PATH]\n"
		"       cbctl unload\n"
		"       cbctl status\n"
		"       cbctl breaker { list [state closed|open|half-open] |\n"
		"                       show DEST | trip DEST | hold DEST |\n"
		"                       reset { DEST | all } }\n"
		"DEST := dst ADDR port PORT [proto tcp|udp]\n"
		"Options: -j JSON output, -p pretty JSON, -V version\n");
}

static void cb_breaker_usage(FILE *f)
{
	fprintf(f,
		"Usage: cbctl breaker list [state closed|open|half-open]\n"
		"       cbctl breaker show  dst ADDR port PORT [proto tcp|udp]\n"
		"       cbctl breaker trip  dst ADDR port PORT [proto tcp|udp]\n"
		"       cbctl breaker hold  dst ADDR port PORT [proto tcp|udp]\n"
		"       cbctl breaker reset dst ADDR port PORT [proto tcp|udp]\n"
		"       cbctl breaker reset all\n"
		"trip forces a breaker open, hold forces it closed, until reset.\n");
}

/* dst ADDR port PORT [proto tcp|udp], each keyword once, in any order. */
static int cb_parse_dest(int argc, char **argv, struct cb_key *key)
{
	bool have_addr = false, have_port = false, have_proto = false;
	uint16_t port;
	int i;

	memset(key, 0, sizeof(*key));
	key->proto = IPPROTO_TCP;
	for (i = 0; i < argc; i += 2) {
		const char *kw = argv[i], *val = argv[i + 1];

		if (!val)
			return cb_err("missing value after \"%s\"", kw);
		if (cb_matches(kw, "dst")) {
			if (have_addr)
				return cb_err("dst given twice");
			if (cb_parse_addr(val, key->addr))
				return cb_err("bad address \"%s\" (IPv4 or IPv6, no prefix)", val);
			have_addr = true;
		} else if (cb_matches(kw, "port")) {
			if (have_port)
				return cb_err("port given twice");
			if (cb_parse_port(val, &port))
				return cb_err("bad port \"%s\" (1..65535)", val);
			key->port = htons(port);
			have_port = true;
		} else if (cb_matches(kw, "proto")) {
			if (have_proto)
				return cb_err("proto given twice");
			if (cb_parse_proto(val, &key->proto))
				return cb_err("bad proto \"%s\" (tcp or udp)", val);
			have_proto = true;
		} else {
			return cb_err("unknown argument \"%s\"", kw);
		}
	}
	if (!have_addr)
		return cb_err("missing \"dst ADDR\"");
	if (!have_port)
		return cb_err("missing \"port PORT\"");
	return 0;
}

/* "opened 1.234s ago", "open until in 29.100s": for humans. */
static void cb_print_rel(const char *label, uint64_t t, uint64_t now)
{
	uint64_t ms = (t > now ? t - now : now - t) / 1000000;

	printf("%s %s%" PRIu64 ".%03" PRIu64 "s%s\n", label, t > now ? "in " : "",
	       ms / 1000, ms % 1000, t > now ? "" : " ago");
}

static void cb_breaker_json(const struct cb_breaker_info *b)
{
	char addr[INET6_ADDRSTRLEN];

	cb_format_addr(b->key.addr, addr, sizeof(addr));
	jw_obj_open(NULL);
	jw_str("dst", addr);
	jw_u64("port", ntohs(b->key.port));
	jw_str("proto", cb_proto_name(b->key.proto));
	jw_str("state", cb_state_name(b->state));
	jw_str("forced", cb_force_name(b->forced));
	jw_u64("calls", b->calls);
	jw_u64("successes", b->successes);
	jw_u64("failures", b->failures);
	jw_u64("slow", b->slow);
	jw_u64("rejected", b->rejected);
	/* per mille of admitted calls */
	jw_u64("failure_rate", b->calls ? b->failures * 1000 / b->calls : 0);
	if (b->opened_at && b->state != CB_STATE_CLOSED)
		jw_u64("opened_at", b->opened_at);
	else
		jw_null("opened_at");
	if (b->open_until && b->state == CB_STATE_OPEN)
		jw_u64("open_until", b->open_until);
	else
		jw_null("open_until");
	jw_u64("now", b->now);
	jw_obj_close();
}

static void cb_breaker_text(const struct cb_breaker_info *b)
{
	char addr[INET6_ADDRSTRLEN];

	cb_format_addr(b->key.addr, addr, sizeof(addr));
	printf("dst %s port %u proto %s\n", addr, ntohs(b->key.port),
	       cb_proto_name(b->key.proto));
	printf("  state %s%s\n", cb_state_name(b->state),
	       b->forced == CB_FORCE_OPEN ? " (forced: trip)" :
	       b->forced == CB_FORCE_CLOSED ? " (forced: hold)" : "");
	printf("  calls %" PRIu64 " successes %" PRIu64 " failures %" PRIu64
	       " slow %" PRIu64 " rejected %" PRIu64 "\n", b->calls,
	       b->successes, b->failures, b->slow, b->rejected);
	if (b->state != CB_STATE_CLOSED && b->opened_at)
		cb_print_rel("  opened", b->opened_at, b->now);
	if (b->state == CB_STATE_OPEN && b->open_until)
		cb_print_rel("  open until", b->open_until, b->now);
	else if (b->state == CB_STATE_OPEN)
		printf("  open until reset\n");
}

struct cb_list_arg {
	int state;	/* -1: all */
	unsigned int n;
};

static void cb_list_one(const struct cb_breaker_info *b, void *data)
{
	struct cb_list_arg *a = data;
	char addr[INET6_ADDRSTRLEN];

	if (a->state >= 0 && b->state != a->state)
		return;
	a->n++;
	if (cb_json) {
		cb_breaker_json(b);
		return;
	}
	if (a->n == 1)
		printf("%-39s %5s %-5s %-9s %-6s %10s %10s %10s\n", "DST", "PORT",
		       "PROTO", "STATE", "FORCED", "CALLS", "FAILURES",
		       "REJECTED");
	cb_format_addr(b->key.addr, addr, sizeof(addr));
	printf("%-39s %5u %-5s %-9s %-6s %10" PRIu64 " %10" PRIu64
	       " %10" PRIu64 "\n", addr, ntohs(b->key.port),
	       cb_proto_name(b->key.proto), cb_state_name(b->state),
	       b->forced == CB_FORCE_OPEN ? "trip" :
	       b->forced == CB_FORCE_CLOSED ? "hold" : "-",
	       b->calls, b->failures, b->rejected);
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
	int err;

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

	if (cb_json)
		jw_arr_open(NULL);
	err = cb_nl_breaker_dump(cb_list_one, &a);
	if (cb_json) {
		if (err)	/* the error object already went out */
			return -1;
		jw_arr_close();
		jw_end();
	} else if (!err && !a.n) {
		printf("no breakers\n");
	}
	return err;
}

static int cb_breaker_show(int argc, char **argv)
{
	struct cb_breaker_info b;
	struct cb_key key;

	if (cb_parse_dest(argc, argv, &key) || cb_nl_breaker_get(&key, &b))
		return -1;
	if (cb_json) {
		cb_breaker_json(&b);
		jw_end();
	} else {
		cb_breaker_text(&b);
	}
	return 0;
}

static int cb_breaker_act(int argc, char **argv, enum cb_action action)
{
	struct cb_key key;

	if (action == CB_ACTION_RESET && argc == 1 && !strcmp(argv[0], "all"))
		return cb_nl_breaker_set(NULL, action);
	if (cb_parse_dest(argc, argv, &key))
		return -1;
	return cb_nl_breaker_set(&key, action);
}

static int cb_cmd_breaker(int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "list";

	if (argc) {
		argc--;
		argv++;
	}
	if (cb_matches(cmd, "list"))
		return cb_breaker_list(argc, argv);
	if (cb_matches(cmd, "show"))
		return cb_breaker_show(argc, argv);
	if (cb_matches(cmd, "trip"))
		return cb_breaker_act(argc, argv, CB_ACTION_TRIP);
	if (cb_matches(cmd, "hold"))
		return cb_breaker_act(argc, argv, CB_ACTION_HOLD);
	if (cb_matches(cmd, "reset"))
		return cb_breaker_act(argc, argv, CB_ACTION_RESET);
	if (cb_matches(cmd, "help")) {
		cb_breaker_usage(stdout);
		return 0;
	}
	return cb_err("unknown command \"breaker %s\" (try: cbctl breaker help)",
		      cmd);
}

static int cb_cmd_load(int argc, char **argv)
{
	if (argc == 1 && cb_matches(argv[0], "help")) {
		printf("Usage: cbctl load [cgroup PATH]\n"
		       "Loads and pins the BPF programs and attaches them to PATH\n"
		       "(default: the cgroup v2 root). Again with another PATH: attach there too.\n");
		return 0;
	}
	if (argc == 0)
		return cb_do_load(NULL);
	if (!cb_matches(argv[0], "cgroup"))
		return cb_err("unknown argument \"%s\"", argv[0]);
	if (argc < 2)
		return cb_err("missing value after \"cgroup\"");
	if (argc > 2)
		return cb_err("unknown argument \"%s\"", argv[2]);
	return cb_do_load(argv[1]);
}

static int cb_no_args(const char *obj, int argc, char **argv)
{
	if (argc)
		return cb_err("\"%s\" takes no argument, got \"%s\"", obj, argv[0]);
	return 0;
}

static int cb_ok(const char *what)
{
	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("result", what);
		jw_obj_close();
		jw_end();
	}
	return 0;
}

static int cb_dispatch(int argc, char **argv)
{
	const char *obj = argv[0];

	argc--;
	argv++;
	if (cb_matches(obj, "load"))
		return cb_cmd_load(argc, argv) ?: cb_ok("loaded");
	if (cb_matches(obj, "unload"))
		return cb_no_args("unload", argc, argv) ?: cb_do_unload() ?:
		       cb_ok("unloaded");
	if (cb_matches(obj, "status"))
		return cb_no_args("status", argc, argv) ?: cb_print_status();
	if (cb_matches(obj, "breaker")) {
		bool changes = argc && !cb_matches(argv[0], "list") &&
			       !cb_matches(argv[0], "show") &&
			       !cb_matches(argv[0], "help");

		return cb_cmd_breaker(argc, argv) ?: changes ? cb_ok("done") : 0;
	}
	if (cb_matches(obj, "help")) {
		cb_usage(stdout);
		return 0;
	}
	return cb_err("unknown object \"%s\" (try: cbctl help)", obj);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+jpVh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cb_json = true;
			break;
		case 'p':
			cb_json = cb_pretty = true;
			break;
		case 'V':
			printf("cbctl %s\n", CB_VERSION);
			return 0;
		case 'h':
			cb_usage(stdout);
			return 0;
		default:
			cb_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		cb_usage(stderr);
		return 2;
	}
	return cb_dispatch(argc - optind, argv + optind) ? 1 : 0;
}
