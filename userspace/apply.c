// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl apply [--diff] FILE
 *
 * Declarative policies: FILE holds "policy add" lines, the batch grammar,
 * and the module's policies are made equal to it: rules missing are added,
 * rules whose values differ are changed (a key not given is its default),
 * rules not in the file are deleted. The changes go through the batch path
 * (cb_reqs_run): the module checks them whole and applies them all or
 * none, breakers included. A rule already right is not touched, so
 * applying the same file again changes nothing and every breaker keeps its
 * state.
 *
 * --diff prints the changes as a batch ("policy add|change|del" lines)
 * without making them, and exits 1 when there are any, 0 when none, 2 on
 * an error, as diff(1) does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>

#include "cbctl.h"
#include "cb_engine.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct cb_want {
	struct cb_rule_arg rule;
	struct cb_policy policy;
	int line;
};

struct cb_have {
	struct cb_rule_arg rule;
	struct cb_policy policy;
	bool wanted;
};

struct cb_apply {
	struct cb_want *want;
	int nwant, capwant;
	struct cb_have *have;
	int nhave, caphave;
	bool dump_bad;
};

static int cb_grow(void **arr, int *cap, int n, size_t size)
{
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, (*cap ? 2 * *cap : 64) * size);
	if (!p)
		return cb_err("out of memory");
	*arr = p;
	*cap = *cap ? 2 * *cap : 64;
	return 0;
}

/* The module refuses a prefix with bits past its length: say so first. */
static bool cb_host_bits(const struct cb_rule_arg *r)
{
	unsigned int i;

	for (i = r->d.prefixlen; i < 128; i++)
		if (r->d.addr[i / 8] & (0x80 >> (i % 8)))
			return true;
	return false;
}

static int cb_apply_line(struct cb_apply *a, int argc, char **argv, int line)
{
	struct cb_want *w;
	struct cb_req req;
	const char *bad;
	int i, ret;

	if (argc < 2 || !cb_matches(argv[0], "policy"))
		return cb_err("apply takes \"policy add\" lines only: the policies wanted");
	ret = cb_policy_req(argv[1], argc - 2, argv + 2, &req);
	if (ret < 0)
		return -1;
	if (ret || req.cmd != CB_CMD_POLICY_NEW)
		return cb_err("apply takes \"policy add\" lines only: the policies wanted");
	if (cb_host_bits(&req.rule))
		return cb_err("address has bits set beyond the prefix length");
	for (i = 0; i < a->nwant; i++)
		if (cb_same_rule(&a->want[i].rule, &req.rule))
			return cb_err("the same rule as line %d", a->want[i].line);
	if (cb_grow((void **)&a->want, &a->capwant, a->nwant, sizeof(*a->want)))
		return -1;
	w = &a->want[a->nwant];
	memset(w, 0, sizeof(*w));
	w->rule = req.rule;
	w->line = line;
	cb_policy_default(&w->policy);
	cb_rule_apply(&w->rule, &w->policy);
	bad = cb_policy_invalid(&w->policy);
	if (bad)
		return cb_err("bad value for %s", bad);
	a->nwant++;
	return 0;
}

static int cb_apply_read(struct cb_apply *a, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL, *argv[CB_BATCH_ARGS];
	int lineno = 0, argc, ret = 0;
	size_t len = 0;

	if (!f)
		return cb_err("%s: %s", path, strerror(errno));
	while (!ret && getline(&line, &len, f) >= 0) {
		cb_err_line = ++lineno;
		argc = cb_split(line, argv);
		if (argc < 0)
			ret = cb_err("too many words");
		else if (argc)
			ret = cb_apply_line(a, argc, argv, lineno);
	}
	cb_err_line = 0;
	if (!ret && ferror(f))
		ret = cb_err("%s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	free(line);
	return ret;
}

/* A rule of the module's dump: where it applies (its values come after). */
static int cb_apply_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	struct cb_apply *a = data;
	struct cb_rule_arg *r;

	if (cb_nl_parse(nlh, tb) < 0 || !tb[CB_A_ADDR] || !tb[CB_A_PREFIXLEN] ||
	    !tb[CB_A_PROTO] ||
	    mnl_attr_get_payload_len(tb[CB_A_ADDR]) != sizeof(r->d.addr)) {
		a->dump_bad = true;
		return MNL_CB_ERROR;
	}
	if (cb_grow((void **)&a->have, &a->caphave, a->nhave, sizeof(*a->have)))
		return MNL_CB_ERROR;
	r = &a->have[a->nhave++].rule;
	memset(r, 0, sizeof(*r));
	r->is_default = !!tb[CB_A_DEFAULT];
	r->d.have_dst = !r->is_default;
	memcpy(r->d.addr, mnl_attr_get_payload(tb[CB_A_ADDR]), sizeof(r->d.addr));
	r->d.prefixlen = cb_nl_u8(tb[CB_A_PREFIXLEN]);
	r->d.have_port = !!tb[CB_A_PORT];
	r->d.port = tb[CB_A_PORT] ? cb_nl_u16(tb[CB_A_PORT]) : 0;
	r->d.proto = cb_nl_u8(tb[CB_A_PROTO]);
	r->d.have_proto = true;
	return MNL_CB_OK;
}

static int cb_apply_fetch(struct cb_apply *a)
{
	int i, err;

	if (cb_nl_request(CB_CMD_POLICY_GET, NLM_F_DUMP, NULL, NULL,
			  cb_apply_dump_cb, a))
		return a->dump_bad ? cb_err("the module's policy dump was not understood") : -1;
	for (i = 0; i < a->nhave; i++) {
		err = cb_rule_fetch(&a->have[i].rule, &a->have[i].policy);
		/* deleted meanwhile: nothing to delete then */
		if (err == -ENOENT)
			a->have[i--] = a->have[--a->nhave];
		else if (err)
			return cb_nl_report(err);
	}
	return 0;
}

/* --- the changes as batch lines (--diff) ------------------------------------ */

static void cb_fmt_rule(const struct cb_rule_arg *r, char *buf, size_t len)
{
	char pfx[64];
	int n;

	if (r->is_default) {
		n = snprintf(buf, len, "default");
	} else {
		cb_format_prefix(r->d.addr, r->d.prefixlen, pfx, sizeof(pfx));
		n = snprintf(buf, len, "dst %s", pfx);
		if (r->d.have_port || r->d.port)
			n += snprintf(buf + n, len - n, " port %u", r->d.port);
	}
	snprintf(buf + n, len - n, " proto %s", cb_proto_name(r->d.proto));
}

/* " key value" for every key @r gives. */
static void cb_fmt_keys(const struct cb_rule_arg *r, char *buf, size_t len)
{
	char v[64];
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < CB_NR_PKEYS && n < len; i++) {
		if (!r->given[i])
			continue;
		cb_pkey_text(i, r->val[i], v, sizeof(v));
		n += snprintf(buf + n, len - n, " %s %s", cb_pkeys[i].name, v);
	}
}

static const char *cb_op_name(uint8_t cmd)
{
	return cmd == CB_CMD_POLICY_NEW ? "add" :
	       cmd == CB_CMD_POLICY_SET ? "change" : "del";
}

static void cb_print_req(const struct cb_req *req, const struct cb_rule_arg *was)
{
	char rule[128], keys[1024], old[1024];

	cb_fmt_rule(&req->rule, rule, sizeof(rule));
	cb_fmt_keys(&req->rule, keys, sizeof(keys));
	old[0] = '\0';
	if (was)
		cb_fmt_keys(was, old, sizeof(old));
	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("op", cb_op_name(req->cmd));
		jw_str("rule", rule);
		jw_str("keys", keys[0] ? keys + 1 : "");
		if (was)
			jw_str("was", old[0] ? old + 1 : "");
		if (req->line)
			jw_u64("line", req->line);
		jw_obj_close();
		return;
	}
	printf("policy %s %s%s", cb_op_name(req->cmd), rule, keys);
	if (was)
		printf("\t# was:%s", old);
	else if (req->line)
		printf("\t# line %d", req->line);
	putchar('\n');
}

/* --- the changes ------------------------------------------------------------ */

/*
 * What makes the module equal to the file: adds, then changes, then
 * deletes, so a destination moved from one rule to another stays covered
 * while the batch goes in. @was[i]: the old values of a change.
 */
static int cb_apply_plan(struct cb_apply *a, struct cb_req *reqs,
			 struct cb_rule_arg *was, int count[3])
{
	struct cb_rule_arg now, wanted;
	int i, j, k, n = 0;

	for (i = 0; i < a->nwant; i++) {
		struct cb_want *w = &a->want[i];
		bool differs = false;

		for (j = 0; j < a->nhave; j++)
			if (cb_same_rule(&a->have[j].rule, &w->rule))
				break;
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].rule = w->rule;
		reqs[n].line = w->line;
		if (j == a->nhave) {
			reqs[n].cmd = CB_CMD_POLICY_NEW;
			count[0]++;
			n++;
			continue;
		}
		a->have[j].wanted = true;
		/* Both whole, in one form: then key by key. */
		now = wanted = w->rule;
		cb_rule_give_all(&now, &a->have[j].policy);
		cb_rule_give_all(&wanted, &w->policy);
		memset(reqs[n].rule.given, 0, sizeof(reqs[n].rule.given));
		memset(&was[n], 0, sizeof(was[n]));
		/* row by row: a window in calls and one in time are two rows */
		for (k = 0; k < CB_NR_PKEYS; k++) {
			if (now.given[k] == wanted.given[k] &&
			    (!now.given[k] || now.val[k] == wanted.val[k]))
				continue;
			differs = true;
			reqs[n].rule.given[k] = wanted.given[k];
			reqs[n].rule.val[k] = wanted.val[k];
			was[n].given[k] = now.given[k];
			was[n].val[k] = now.val[k];
		}
		if (differs) {
			reqs[n].cmd = CB_CMD_POLICY_SET;
			count[1]++;
			n++;
		}
	}
	for (j = 0; j < a->nhave; j++) {
		if (a->have[j].wanted)
			continue;
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].cmd = CB_CMD_POLICY_DEL;
		reqs[n].rule = a->have[j].rule;
		memset(reqs[n].rule.given, 0, sizeof(reqs[n].rule.given));
		count[2]++;
		n++;
	}
	return n;
}

static void cb_apply_usage(void)
{
	printf("Usage: cbctl apply [--diff] FILE\n"
	       "Makes the module's policies equal to FILE (\"policy add\" lines, as in\n"
	       "a batch; - is stdin): adds, changes and deletes rules, all or none.\n"
	       "A rule already as FILE says is left alone, breakers and all.\n"
	       "--diff: print the changes as a batch and exit 1 if there are any.\n");
}

int cb_cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "diff", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cb_apply a = { 0 };
	struct cb_rule_arg *was = NULL;
	struct cb_req *reqs = NULL;
	int count[3] = { 0 }, n = 0, c, i, ret = -1;
	bool diff = false;
	char *args[64];

	if (argc == 1 && cb_matches(argv[0], "help")) {
		cb_apply_usage();
		return 0;
	}
	/* getopt wants a program name first */
	if (argc >= (int)ARRAY_SIZE(args))
		return cb_err("too many arguments");
	args[0] = "apply";
	for (i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	optind = 1;
	while ((c = getopt_long(argc + 1, args, "+dh", opts, NULL)) != -1) {
		if (c == 'h') {
			cb_apply_usage();
			return 0;
		}
		if (c != 'd') {
			cb_err("unknown option \"%s\" (try: cbctl apply help)",
			       args[optind - 1]);
			goto out;
		}
		diff = true;
	}
	if (optind != argc) {
		cb_err("apply takes one FILE");
		goto out;
	}
	cb_err_file = args[optind];
	if (cb_apply_read(&a, args[optind]))
		goto out;
	cb_err_file = NULL;
	if (cb_apply_fetch(&a))
		goto out;
	reqs = calloc(a.nwant + a.nhave + 1, sizeof(*reqs));
	was = calloc(a.nwant + a.nhave + 1, sizeof(*was));
	if (!reqs || !was) {
		cb_err("out of memory");
		goto out;
	}
	n = cb_apply_plan(&a, reqs, was, count);
	if (diff) {
		if (cb_json)
			jw_arr_open(NULL);
		for (i = 0; i < n; i++)
			cb_print_req(&reqs[i], reqs[i].cmd == CB_CMD_POLICY_SET ?
				     &was[i] : NULL);
		if (cb_json) {
			jw_arr_close();
			jw_end();
		}
		ret = 0;
		goto out;
	}
	if (n) {
		cb_err_file = args[optind];
		ret = cb_reqs_run(reqs, n);
		cb_err_file = NULL;
		if (ret)
			goto out;
	}
	ret = 0;
	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("result", "done");
		jw_u64("added", count[0]);
		jw_u64("changed", count[1]);
		jw_u64("deleted", count[2]);
		jw_obj_close();
		jw_end();
	} else {
		printf("%d added, %d changed, %d deleted\n", count[0], count[1],
		       count[2]);
	}
out:
	cb_err_file = NULL;
	free(a.want);
	free(a.have);
	free(reqs);
	free(was);
	if (!diff)
		return ret;
	fflush(stdout);
	/* diff(1)'s exit codes: 0 the same, 1 different, 2 trouble */
	exit(ret ? 2 : n ? 1 : 0);
}
