// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl: the operator's tool for cbreaker.
 *
 *   cbctl [-j] [-p] [-V] OBJECT COMMAND [ARGS]
 *
 * Objects and commands may be abbreviated as in ip(8).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cbctl.h"

bool cb_json;
bool cb_pretty;
const char *cb_err_file;
int cb_err_line;

int cb_err(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n = 0;

	if (cb_err_file && cb_err_line)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", cb_err_file, cb_err_line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
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
		"       cbctl [-j] -b FILE      (a batch of changes; - is stdin)\n"
		"       cbctl load [cgroup PATH]... [table N]\n"
		"       cbctl unload\n"
		"       cbctl status\n"
		"       cbctl policy { add | change | del | show | help }\n"
		"       cbctl breaker { list | show | trip | hold | reset | help }\n"
		"       cbctl monitor\n"
		"       cbctl metrics [format text|json|prometheus] [limit N]\n"
		"       cbctl metrics serve [listen ADDR:PORT] [limit N] [connections N] [user NAME]\n"
		"       cbctl apply [--diff] FILE\n"
		"Options: -j JSON output, -p pretty JSON, -V version\n");
}

int cb_ok(const char *what)
{
	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("result", what);
		jw_obj_close();
		jw_end();
	}
	return 0;
}

static int cb_cmd_load(int argc, char **argv)
{
	char *cgroups[64];
	uint32_t table = 0;
	int i, n = 0;

	if (argc == 1 && cb_matches(argv[0], "help")) {
		printf("Usage: cbctl load [cgroup PATH]... [table N]\n"
		       "Loads and pins the BPF programs and attaches them to each PATH\n"
		       "(default: the cgroup v2 root); again with another PATH: attach there too.\n"
		       "Each attached cgroup has breakers of its own: one cgroup's failures\n"
		       "never open another's.\n"
		       "table N: room for N breakers (default %u), on the first load.\n",
		       CB_BREAKERS_DEFAULT);
		return 0;
	}
	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return cb_err("missing value after \"%s\"", argv[i]);
		if (cb_matches(argv[i], "cgroup")) {
			if (n == (int)(sizeof(cgroups) / sizeof(cgroups[0])))
				return cb_err("too many cgroups");
			cgroups[n++] = argv[i + 1];
		} else if (cb_matches(argv[i], "table") && !table) {
			if (cb_parse_u32(argv[i + 1], CB_BREAKERS_MAX, &table) || !table)
				return cb_err("bad table size \"%s\" (1..%u)",
					      argv[i + 1], CB_BREAKERS_MAX);
		} else {
			return cb_err("unknown or repeated argument \"%s\"", argv[i]);
		}
	}
	return cb_do_load(cgroups, n, table);
}

static int cb_no_args(const char *obj, int argc, char **argv)
{
	if (argc)
		return cb_err("\"%s\" takes no argument, got \"%s\"", obj, argv[0]);
	return 0;
}

/* "OBJECT help" for the objects without commands of their own. */
static bool cb_help(int argc, char **argv, const char *text)
{
	if (argc != 1 || !cb_matches(argv[0], "help"))
		return false;
	fputs(text, stdout);
	return true;
}

static int cb_obj_load(int argc, char **argv)
{
	return cb_cmd_load(argc, argv) ?: cb_ok("loaded");
}

static int cb_obj_unload(int argc, char **argv)
{
	if (cb_help(argc, argv, "Usage: cbctl unload\n"
		    "Detaches and unpins everything; the module lets go of the maps.\n"))
		return 0;
	return cb_no_args("unload", argc, argv) ?: cb_do_unload() ?:
	       cb_ok("unloaded");
}

static int cb_obj_status(int argc, char **argv)
{
	if (cb_help(argc, argv, "Usage: cbctl status\n"
		    "Module, programs, attached cgroups, table, policies and counters.\n"))
		return 0;
	return cb_no_args("status", argc, argv) ?: cb_print_status();
}

static void cb_obj_help(void)
{
	cb_usage(stdout);
}

int cb_cmd_select(const struct cb_command *cmds, int argc, char **argv,
		  const char *obj)
{
	const struct cb_command *c = cmds;

	if (argc) {
		for (c = cmds; c->name; c++)
			if (c->exact ? !strcmp(argv[0], c->name) :
			    cb_matches(argv[0], c->name))
				break;
		if (!c->name && !obj)
			return cb_err("unknown object \"%s\" (try: cbctl help)",
				      argv[0]);
		if (!c->name)
			return cb_err("unknown command \"%s %s\" (try: cbctl %s help)",
				      obj, argv[0], obj);
		argc--;
		argv++;
	}
	if (c->usage) {
		c->usage();
		return 0;
	}
	if (c->req) {
		struct cb_req req;

		return c->req(c->name, argc, argv, &req) ?:
		       cb_reqs_run(&req, 1) ?: cb_ok("done");
	}
	return c->fn(argc, argv);
}

/* In the order abbreviations try them. */
static const struct cb_command cb_objects[] = {
	{ "load", .fn = cb_obj_load },
	{ "unload", .fn = cb_obj_unload },
	{ "status", .fn = cb_obj_status },
	{ "policy", .fn = cb_cmd_policy },
	{ "breaker", .fn = cb_cmd_breaker },
	{ "monitor", .fn = cb_cmd_monitor },
	{ "metrics", .fn = cb_cmd_metrics },
	{ "apply", .fn = cb_cmd_apply, .exact = true },	/* never abbreviated */
	{ "help", .usage = cb_obj_help },
	{ 0 }
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *batch = NULL;
	int c;

	opterr = 0;	/* one line of our own instead */
	while ((c = getopt_long(argc, argv, "+jpVhb:", opts, NULL)) != -1) {
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
		case 'b':
			batch = optarg;
			break;
		default:
			if (optopt == 'b')
				cb_err("-b needs a FILE");
			else
				cb_err("unknown option \"%s\" (try: cbctl help)",
				       argv[optind - 1]);
			return 2;
		}
	}
	if (batch) {
		if (optind < argc)
			return cb_err("-b takes no command: the file holds them") ? 1 : 0;
		return cb_batch(batch) ? 1 : 0;
	}
	if (optind >= argc) {
		cb_usage(stderr);
		return 2;
	}
	return cb_cmd_select(cb_objects, argc - optind, argv + optind, NULL) ? 1 : 0;
}
