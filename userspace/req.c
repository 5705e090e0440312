// SPDX-License-Identifier: GPL-2.0
/*
 * Changes: policy add/change/del, breaker trip/hold/reset, one from the
 * command line or many from a batch file (cbctl -b FILE).
 *
 * The policy changes go to the module as one batch (CB_CMD_POLICY_BATCH),
 * which checks them whole, against its rules, their room and max-open's
 * slots, and applies them all or none: breakers whose rule a batch deletes
 * are forgotten only once all of it is in, so a batch undone leaves every
 * breaker as it was. Breaker actions follow, in their order, once the
 * policies are in (a trip for a time needs its policy); they are checked
 * before anything is sent, and cannot be undone (a reset forgets): should
 * one still fail (a race with another cbctl), the message says what
 * stays applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbctl.h"
#include "cb_engine.h"

struct cb_run {
	struct cb_key *made;	/* breakers trip/hold will make */
	int nmade;
	bool loaded_checked;
};

static int cb_check_breaker(struct cb_run *run, struct cb_req *req)
{
	struct cb_status_info st;
	int i, err;

	if (!run->loaded_checked) {
		if (cb_nl_status(&st))
			return -1;
		if (!st.maps_attached)
			return cb_err("cbreaker programs are not loaded (cbctl load)");
		run->loaded_checked = true;
	}
	if (req->all)
		return 0;
	if (req->action != CB_ACTION_RESET) {
		run->made[run->nmade++] = req->key;
		return 0;
	}
	for (i = 0; i < run->nmade; i++)
		if (!memcmp(&run->made[i], &req->key, sizeof(req->key)))
			return 0;
	err = cb_breaker_exists(&req->key);
	if (err == -ENOENT)
		return cb_err("no breaker for that destination");
	return err ? cb_nl_report(err) : 0;
}

static bool cb_is_policy(const struct cb_req *req)
{
	return req->cmd != CB_CMD_BREAKER_SET;
}

/*
 * The values a policy change gives, in their ranges; a new policy whole
 * (a change's, against its rule's other keys, the module checks).
 */
static int cb_check_policy(const struct cb_req *req)
{
	const struct cb_pkey *k;
	struct cb_policy p;
	const char *bad;
	uint64_t v;
	int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		k = &cb_pkeys[i];
		v = req->rule.val[i];
		if (req->rule.given[i] && !(k->unit == CB_UNIT_NS_OFF && !v) &&
		    (v < k->min || v > k->max))
			return cb_err("bad value for %s (%s)", k->name, k->range);
	}
	if (req->cmd != CB_CMD_POLICY_NEW)
		return 0;
	cb_policy_default(&p);
	cb_rule_apply(&req->rule, &p);
	bad = cb_policy_invalid(&p);
	return bad ? cb_err("bad value for %s", bad) : 0;
}

/* A change's attributes at most: the rule's and one per key, aligned. */
#define CB_OP_SIZE	(128 + CB_NR_PKEYS * MNL_ALIGN(MNL_ATTR_HDRLEN + 8))

/*
 * The policy changes of @reqs, as one batch: 0, or -1 reported with the
 * line of the change the module names.
 */
static int cb_send_policies(struct cb_req *reqs, int n, int npol)
{
	uint32_t *offs, bad = 0;
	struct nlmsghdr *nlh;
	struct nlattr *op;
	int i, k = 0, err;

	offs = calloc(npol, sizeof(*offs));
	nlh = offs ? cb_nl_big(CB_CMD_POLICY_BATCH,
			       MNL_NLMSG_HDRLEN + 64 + (size_t)npol * CB_OP_SIZE) :
		     NULL;
	if (!nlh) {
		free(offs);
		return offs ? -1 : cb_err("out of memory");
	}
	for (i = 0; i < n; i++) {
		if (!cb_is_policy(&reqs[i]))
			continue;
		op = mnl_attr_nest_start(nlh, CB_A_OP);
		offs[k++] = (char *)op - (char *)nlh;
		mnl_attr_put_u8(nlh, CB_A_OP_CMD, reqs[i].cmd);
		cb_nl_put_rule(nlh, &reqs[i].rule);
		mnl_attr_nest_end(nlh, op);
	}
	err = cb_nl_send_big(nlh, &bad);
	free(nlh);
	if (err && bad) {
		/* the change whose attributes hold the offset */
		for (i = 0, k = 0; i < n; i++) {
			if (!cb_is_policy(&reqs[i]))
				continue;
			if (offs[k++] > bad)
				break;
			cb_err_line = reqs[i].line;
		}
	}
	free(offs);
	if (err == -EOPNOTSUPP)
		return cb_err("the cbreaker module loaded takes no policy batch: load the module "
			      "of cbctl's version (cbctl unload; modprobe -r cbreaker; modprobe cbreaker)");
	if (err == -EMSGSIZE)
		return cb_err("%d policy changes are too many for one message", npol);
	return err ? cb_nl_report(err) : 0;
}

int cb_reqs_run(struct cb_req *reqs, int n)
{
	struct cb_run run = { 0 };
	int i, err = 0, npol = 0, done = 0;

	run.made = calloc(n, sizeof(*run.made));
	if (!run.made) {
		err = cb_err("out of memory");
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		cb_err_line = reqs[i].line;
		if (cb_is_policy(&reqs[i])) {
			err = cb_check_policy(&reqs[i]);
			npol++;
		} else {
			err = cb_check_breaker(&run, &reqs[i]);
		}
	}
	cb_err_line = 0;
	if (!err && npol)
		err = cb_send_policies(reqs, n, npol);
	for (i = 0; i < n && !err; i++) {
		if (cb_is_policy(&reqs[i]))
			continue;
		cb_err_line = reqs[i].line;
		err = cb_req_send_breaker(&reqs[i]);
		/* gone since the check, with its rule or evicted: reset */
		if (err == -ENOENT && reqs[i].action == CB_ACTION_RESET)
			err = 0;
		if (err) {
			cb_nl_report(err);
			if (npol || done)
				cb_err("the policy changes and %d breaker action(s) before line %d stay applied",
				       done, reqs[i].line);
		}
		done++;
	}
out:
	cb_err_line = 0;
	free(run.made);
	return err ? -1 : 0;
}

/* Split @line into words; '#' starts a comment. Returns the count, or -1. */
int cb_split(char *line, char **argv)
{
	char *save, *w;
	int n = 0;

	line[strcspn(line, "#\n")] = '\0';
	for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == CB_BATCH_ARGS - 1)
			return -1;
		argv[n++] = w;
	}
	argv[n] = NULL;
	return n;
}

int cb_batch(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL, *argv[CB_BATCH_ARGS];
	struct cb_req *reqs = NULL, *grown;
	int n = 0, cap = 0, lineno = 0, argc, ret = 0;
	size_t len = 0;

	if (!f)
		return cb_err("%s: %s", path, strerror(errno));
	cb_err_file = path;
	while (!ret && getline(&line, &len, f) >= 0) {
		cb_err_line = ++lineno;
		argc = cb_split(line, argv);
		if (argc < 0) {
			ret = cb_err("too many words");
			break;
		}
		if (!argc)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(reqs, cap * sizeof(*reqs));
			if (!grown) {
				ret = cb_err("out of memory");
				break;
			}
			reqs = grown;
		}
		if (argc >= 2 && cb_matches(argv[0], "policy"))
			ret = cb_policy_req(argv[1], argc - 2, argv + 2, &reqs[n]);
		else if (argc >= 2 && cb_matches(argv[0], "breaker"))
			ret = cb_breaker_req(argv[1], argc - 2, argv + 2, &reqs[n]);
		else
			ret = 1;
		if (ret == 1)
			ret = cb_err("not a change: a batch holds policy add|change|del and breaker trip|hold|reset");
		reqs[n].line = lineno;
		n++;
	}
	if (!ret && ferror(f))
		ret = cb_err("%s: %s", path, strerror(errno));
	cb_err_line = 0;
	if (!ret)
		ret = cb_reqs_run(reqs, n);
	if (f != stdin)
		fclose(f);
	free(line);
	free(reqs);
	cb_err_file = NULL;
	return ret ? -1 : cb_ok("done");
}
