// SPDX-License-Identifier: GPL-2.0
/*
 * Changes: policy add/change/del, breaker trip/hold/reset, one from the
 * command line or many from a batch file (cbctl -b FILE).
 *
 * All are checked first, against what the module holds now, with the
 * module's own rules (cb_policy_invalid); only then are they sent. Should
 * the module still refuse one (a race with another cbctl), the policy
 * changes already made are undone: a batch applies whole or not at all.
 * Breaker actions cannot be undone (a reset forgets); they are checked as
 * well, and the message says if any had been applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cbctl.h"
#include "cb_engine.h"

/* What the check knows of one rule the changes touch. */
struct cb_sim {
	struct cb_rule_arg rule;
	bool exists;
	struct cb_policy policy;
};

struct cb_run {
	struct cb_sim *sims;
	int nsims;
	struct cb_key *made;	/* breakers trip/hold will make */
	int nmade;
	bool loaded_checked;
	struct cb_policy *before;	/* per change: its rule's policy before */
	bool *existed;
};

static struct cb_sim *cb_sim_of(struct cb_run *run, const struct cb_rule_arg *r)
{
	struct cb_sim *s;
	int i, err;

	for (i = 0; i < run->nsims; i++)
		if (cb_same_rule(&run->sims[i].rule, r))
			return &run->sims[i];
	s = &run->sims[run->nsims];
	s->rule = *r;
	err = cb_rule_fetch(r, &s->policy);
	if (err && err != -ENOENT) {
		cb_nl_report(err);
		return NULL;
	}
	s->exists = !err;
	run->nsims++;
	return s;
}

static int cb_check_policy(struct cb_run *run, struct cb_req *req, int i)
{
	struct cb_sim *s = cb_sim_of(run, &req->rule);
	struct cb_policy p;
	const char *bad;

	if (!s)
		return -1;
	run->existed[i] = s->exists;
	run->before[i] = s->policy;
	if (req->cmd == CB_CMD_POLICY_NEW && s->exists)
		return cb_err("policy exists (use change)");
	if (req->cmd != CB_CMD_POLICY_NEW && !s->exists)
		return cb_err("no such policy");
	if (req->cmd == CB_CMD_POLICY_DEL) {
		s->exists = false;
		return 0;
	}
	if (req->cmd == CB_CMD_POLICY_NEW)
		cb_policy_default(&p);
	else
		p = s->policy;
	cb_rule_apply(&req->rule, &p);
	bad = cb_policy_invalid(&p);
	if (bad)
		return cb_err("bad value for %s", bad);
	s->policy = p;
	s->exists = true;
	return 0;
}

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

static int cb_send(const struct cb_req *req)
{
	return cb_is_policy(req) ? cb_req_send_policy(req) :
				   cb_req_send_breaker(req);
}

/* Undo the policy changes before @failed, newest first. */
static bool cb_undo(struct cb_run *run, struct cb_req *reqs, int failed)
{
	struct cb_req undo;
	bool ok = true;
	int i;

	for (i = failed - 1; i >= 0; i--) {
		if (!cb_is_policy(&reqs[i]))
			continue;
		undo = reqs[i];
		memset(undo.rule.given, 0, sizeof(undo.rule.given));
		if (!run->existed[i]) {
			undo.cmd = CB_CMD_POLICY_DEL;
		} else {
			undo.cmd = reqs[i].cmd == CB_CMD_POLICY_DEL ?
				   CB_CMD_POLICY_NEW : CB_CMD_POLICY_SET;
			cb_rule_give_all(&undo.rule, &run->before[i]);
		}
		ok &= !cb_send(&undo);
	}
	return ok;
}

int cb_reqs_run(struct cb_req *reqs, int n)
{
	struct cb_run run = { 0 };
	int i, err = 0, breakers = 0;

	run.sims = calloc(n, sizeof(*run.sims));
	run.made = calloc(n, sizeof(*run.made));
	run.before = calloc(n, sizeof(*run.before));
	run.existed = calloc(n, sizeof(*run.existed));
	if (!run.sims || !run.made || !run.before || !run.existed) {
		err = cb_err("out of memory");
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		cb_err_line = reqs[i].line;
		err = cb_is_policy(&reqs[i]) ? cb_check_policy(&run, &reqs[i], i) :
					       cb_check_breaker(&run, &reqs[i]);
	}
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		cb_err_line = reqs[i].line;
		err = cb_send(&reqs[i]);
		if (err)
			break;
		breakers += !cb_is_policy(&reqs[i]);
	}
	if (err && n > 1) {
		cb_err_line = 0;
		if (!cb_undo(&run, reqs, i))
			cb_err("undoing the policy changes before line %d failed too",
			       reqs[i].line);
		else if (breakers)
			cb_err("policy changes undone; %d breaker action(s) before line %d stay",
			       breakers, reqs[i].line);
		else
			cb_err("nothing applied");
	}
out:
	cb_err_line = 0;
	free(run.sims);
	free(run.made);
	free(run.before);
	free(run.existed);
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
