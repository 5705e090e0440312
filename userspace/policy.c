// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl policy { add | change | del | show }
 *
 *   DST := default [proto tcp|udp] | dst PREFIX [port PORT] [proto tcp|udp]
 *
 * Values are parsed here; ranges and consistency are the module's to check
 * (its message is shown), so the two can never disagree.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/genetlink.h>

#include "cbctl.h"
#include "cb_engine.h"

enum cb_kind { CB_COUNT, CB_PCT, CB_DURATION, CB_WINDOW, CB_FACTOR, CB_MODE };

static const struct cb_pkey {
	const char *name;
	enum cb_kind kind;
	int attr;		/* for CB_WINDOW: the count attribute */
	uint32_t max;		/* for CB_COUNT */
} cb_pkeys[] = {
	{ "window", CB_WINDOW, CB_A_P_WINDOW_CALLS, 0 },
	{ "min-calls", CB_COUNT, CB_A_P_MIN_CALLS, 100000 },
	{ "failure-rate", CB_PCT, CB_A_P_FAILURE_RATE, 0 },
	{ "slow", CB_DURATION, CB_A_P_SLOW_NS, 0 },
	{ "slow-rate", CB_PCT, CB_A_P_SLOW_RATE, 0 },
	{ "open", CB_DURATION, CB_A_P_OPEN_NS, 0 },
	{ "jitter", CB_PCT, CB_A_P_JITTER, 0 },
	{ "backoff", CB_FACTOR, CB_A_P_BACKOFF, 0 },
	{ "backoff-max", CB_DURATION, CB_A_P_BACKOFF_MAX_NS, 0 },
	{ "probes", CB_COUNT, CB_A_P_PROBES, 65535 },
	{ "probe-success", CB_PCT, CB_A_P_PROBE_SUCCESS, 0 },
	{ "probe-wait", CB_DURATION, CB_A_P_PROBE_WAIT_NS, 0 },
	{ "max-age", CB_DURATION, CB_A_P_MAX_AGE_NS, 0 },
	{ "mode", CB_MODE, CB_A_P_MODE, 0 },
};

_Static_assert(sizeof(cb_pkeys) / sizeof(cb_pkeys[0]) == CB_NR_PKEYS,
	       "one entry per policy key");

static void cb_policy_usage(void)
{
	printf("Usage: cbctl policy add    DST [KEY VALUE]...\n"
	       "       cbctl policy change DST [KEY VALUE]...\n"
	       "       cbctl policy del    DST\n"
	       "       cbctl policy show   [DST]\n"
	       "DST := default [proto tcp|udp] | dst PREFIX [port PORT] [proto tcp|udp]\n"
	       "KEY := window N | window DURATION | min-calls N | failure-rate PCT\n"
	       "     | slow DURATION | slow-rate PCT | open DURATION | jitter PCT\n"
	       "     | backoff FACTOR | backoff-max DURATION | probes N\n"
	       "     | probe-success PCT | probe-wait DURATION | max-age DURATION\n"
	       "     | mode enforce|dry-run\n"
	       "DURATION := N(ns|us|ms|s|m|h)   PCT := 0..100   proto defaults to tcp\n"
	       "window 100: the last 100 calls; window 60s: the calls of the last 60 s\n"
	       "slow: a handshake that took this long, done or failed (a SYN timeout\n"
	       "  is a failure and slow); a probe counts as good only if done and not slow\n");
}

const char *cb_pkey_name(int i)
{
	return cb_pkeys[i].name;
}

/* A key by exact name, else by unambiguous prefix. */
static int cb_find_pkey(const char *arg)
{
	int i, found = -1;

	for (i = 0; i < (int)CB_NR_PKEYS; i++)
		if (!strcmp(arg, cb_pkeys[i].name))
			return i;
	for (i = 0; i < (int)CB_NR_PKEYS; i++) {
		if (!cb_matches(arg, cb_pkeys[i].name))
			continue;
		if (found >= 0)
			return -2;
		found = i;
	}
	return found;
}

static int cb_parse_value(const struct cb_pkey *k, const char *s,
			  struct cb_rule_arg *r, int i)
{
	uint32_t u;
	uint16_t f;

	r->attr[i] = k->attr;
	switch (k->kind) {
	case CB_COUNT:
		if (cb_parse_u32(s, k->max, &u))
			return cb_err("bad %s \"%s\" (a whole number)", k->name, s);
		r->val[i] = u;
		return 0;
	case CB_PCT:
		if (cb_parse_u32(s, 100, &u))
			return cb_err("bad %s \"%s\" (0..100)", k->name, s);
		r->val[i] = u;
		return 0;
	case CB_DURATION:
		if (cb_parse_duration(s, &r->val[i]))
			return cb_err("bad %s \"%s\" (N with a unit: ns, us, ms, s, m or h)",
				      k->name, s);
		return 0;
	case CB_WINDOW:
		if (!cb_parse_u32(s, 1000000, &u)) {
			r->val[i] = u;
			return 0;
		}
		if (cb_parse_duration(s, &r->val[i]))
			return cb_err("bad window \"%s\" (N calls, or a duration such as 60s)",
				      s);
		r->attr[i] = CB_A_P_WINDOW_NS;
		return 0;
	case CB_FACTOR:
		if (cb_parse_factor(s, &f))
			return cb_err("bad backoff \"%s\" (a factor such as 2 or 1.5)", s);
		r->val[i] = f;
		return 0;
	case CB_MODE:
		if (!strcmp(s, "enforce"))
			r->val[i] = CB_MODE_ENFORCE;
		else if (!strcmp(s, "dry-run"))
			r->val[i] = CB_MODE_DRY_RUN;
		else
			return cb_err("bad mode \"%s\" (enforce or dry-run)", s);
		return 0;
	}
	return -1;
}

/* DST, then (if @keys) policy keys, in any order, each at most once. */
static int cb_parse_rule_args(int argc, char **argv, bool keys,
			      struct cb_rule_arg *r)
{
	int i, k;

	memset(r, 0, sizeof(*r));
	r->proto = IPPROTO_TCP;
	for (i = 0; i < argc; i++) {
		const char *kw = argv[i], *val = argv[i + 1];

		if (!strcmp(kw, "default")) {
			if (r->is_default || r->have_dst)
				return cb_err("give \"default\" or \"dst PREFIX\", once");
			r->is_default = true;
			continue;
		}
		if (!val)
			return cb_err("missing value after \"%s\"", kw);
		i++;
		if (!strcmp(kw, "dst")) {
			if (r->is_default || r->have_dst)
				return cb_err("give \"default\" or \"dst PREFIX\", once");
			if (cb_parse_prefix(val, r->addr, &r->prefixlen))
				return cb_err("bad prefix \"%s\" (an address, or address/length)",
					      val);
			r->have_dst = true;
		} else if (!strcmp(kw, "port")) {
			if (r->have_port)
				return cb_err("port given twice");
			if (cb_parse_port(val, &r->port))
				return cb_err("bad port \"%s\" (1..65535)", val);
			r->have_port = true;
		} else if (!strcmp(kw, "proto")) {
			if (r->have_proto)
				return cb_err("proto given twice");
			if (cb_parse_proto(val, &r->proto))
				return cb_err("bad proto \"%s\" (tcp or udp)", val);
			r->have_proto = true;
		} else {
			k = keys ? cb_find_pkey(kw) : -1;
			if (k == -2)
				return cb_err("ambiguous key \"%s\"", kw);
			if (k < 0)
				return cb_err("unknown key \"%s\"", kw);
			if (r->given[k])
				return cb_err("%s given twice", cb_pkeys[k].name);
			if (cb_parse_value(&cb_pkeys[k], val, r, k))
				return -1;
			r->given[k] = true;
		}
	}
	if (!r->is_default && !r->have_dst)
		return cb_err("missing \"default\" or \"dst PREFIX\"");
	if (r->is_default && r->have_port)
		return cb_err("the default policy has no port");
	return 0;
}

static int cb_put_rule(struct nlmsghdr *nlh, const void *arg)
{
	const struct cb_rule_arg *r = arg;
	unsigned int i;

	mnl_attr_put_u8(nlh, CB_A_PROTO, r->proto);
	if (r->is_default) {
		mnl_attr_put(nlh, CB_A_DEFAULT, 0, NULL);
	} else {
		mnl_attr_put(nlh, CB_A_ADDR, sizeof(r->addr), r->addr);
		mnl_attr_put_u8(nlh, CB_A_PREFIXLEN, r->prefixlen);
		if (r->have_port)
			mnl_attr_put_u16(nlh, CB_A_PORT, r->port);
	}
	for (i = 0; i < CB_NR_PKEYS; i++) {
		if (!r->given[i])
			continue;
		switch (r->attr[i]) {
		case CB_A_P_WINDOW_CALLS:
		case CB_A_P_MIN_CALLS:
			mnl_attr_put_u32(nlh, r->attr[i], r->val[i]);
			break;
		case CB_A_P_BACKOFF:
		case CB_A_P_PROBES:
			mnl_attr_put_u16(nlh, r->attr[i], r->val[i]);
			break;
		case CB_A_P_FAILURE_RATE:
		case CB_A_P_SLOW_RATE:
		case CB_A_P_JITTER:
		case CB_A_P_PROBE_SUCCESS:
		case CB_A_P_MODE:
			mnl_attr_put_u8(nlh, r->attr[i], r->val[i]);
			break;
		default:
			mnl_attr_put_u64(nlh, r->attr[i], r->val[i]);
		}
	}
	return 0;
}

/* --- show --------------------------------------------------------------- */

static void cb_show_duration(const char *name, const struct nlattr *a)
{
	char buf[32];

	cb_format_duration(cb_nl_u64(a), buf, sizeof(buf));
	printf(" %s %s", name, buf);
}

static int cb_show_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	char dst[64], factor[16];
	unsigned int *n = data;
	uint16_t backoff;

	if (cb_nl_parse(nlh, tb) < 0 || !tb[CB_A_ADDR] || !tb[CB_A_PREFIXLEN])
		return MNL_CB_ERROR;
	(*n)++;
	if (tb[CB_A_DEFAULT])
		snprintf(dst, sizeof(dst), "default");
	else
		cb_format_prefix(mnl_attr_get_payload(tb[CB_A_ADDR]),
				 cb_nl_u8(tb[CB_A_PREFIXLEN]), dst, sizeof(dst));
	backoff = cb_nl_u16(tb[CB_A_P_BACKOFF]);
	if (backoff % 100)
		snprintf(factor, sizeof(factor), "%u.%02u", backoff / 100,
			 backoff % 100);
	else
		snprintf(factor, sizeof(factor), "%u", backoff / 100);

	if (cb_json) {
		jw_obj_open(NULL);
		jw_str("dst", dst);
		if (tb[CB_A_PORT])
			jw_u64("port", cb_nl_u16(tb[CB_A_PORT]));
		else
			jw_null("port");
		jw_str("proto", cb_proto_name(cb_nl_u8(tb[CB_A_PROTO])));
		if (tb[CB_A_P_WINDOW_NS])
			jw_u64("window_ns", cb_nl_u64(tb[CB_A_P_WINDOW_NS]));
		else
			jw_u64("window_calls", cb_nl_u32(tb[CB_A_P_WINDOW_CALLS]));
		jw_u64("min_calls", cb_nl_u32(tb[CB_A_P_MIN_CALLS]));
		jw_u64("failure_rate", cb_nl_u8(tb[CB_A_P_FAILURE_RATE]));
		jw_u64("slow_ns", cb_nl_u64(tb[CB_A_P_SLOW_NS]));
		jw_u64("slow_rate", cb_nl_u8(tb[CB_A_P_SLOW_RATE]));
		jw_u64("open_ns", cb_nl_u64(tb[CB_A_P_OPEN_NS]));
		jw_u64("jitter", cb_nl_u8(tb[CB_A_P_JITTER]));
		jw_u64("backoff_percent", backoff);
		jw_u64("backoff_max_ns", cb_nl_u64(tb[CB_A_P_BACKOFF_MAX_NS]));
		jw_u64("probes", cb_nl_u16(tb[CB_A_P_PROBES]));
		jw_u64("probe_success", cb_nl_u8(tb[CB_A_P_PROBE_SUCCESS]));
		jw_u64("probe_wait_ns", cb_nl_u64(tb[CB_A_P_PROBE_WAIT_NS]));
		jw_u64("max_age_ns", cb_nl_u64(tb[CB_A_P_MAX_AGE_NS]));
		jw_str("mode", cb_mode_name(cb_nl_u8(tb[CB_A_P_MODE])));
		jw_obj_close();
		return MNL_CB_OK;
	}

	/* One line, in the grammar it was given in: it can be fed back. */
	printf("%s%s", tb[CB_A_DEFAULT] ? "" : "dst ", dst);
	if (tb[CB_A_PORT])
		printf(" port %u", cb_nl_u16(tb[CB_A_PORT]));
	printf(" proto %s", cb_proto_name(cb_nl_u8(tb[CB_A_PROTO])));
	if (tb[CB_A_P_WINDOW_NS])
		cb_show_duration("window", tb[CB_A_P_WINDOW_NS]);
	else
		printf(" window %u", cb_nl_u32(tb[CB_A_P_WINDOW_CALLS]));
	printf(" min-calls %u failure-rate %u", cb_nl_u32(tb[CB_A_P_MIN_CALLS]),
	       cb_nl_u8(tb[CB_A_P_FAILURE_RATE]));
	cb_show_duration("slow", tb[CB_A_P_SLOW_NS]);
	printf(" slow-rate %u", cb_nl_u8(tb[CB_A_P_SLOW_RATE]));
	cb_show_duration("open", tb[CB_A_P_OPEN_NS]);
	printf(" jitter %u backoff %s", cb_nl_u8(tb[CB_A_P_JITTER]), factor);
	cb_show_duration("backoff-max", tb[CB_A_P_BACKOFF_MAX_NS]);
	printf(" probes %u probe-success %u", cb_nl_u16(tb[CB_A_P_PROBES]),
	       cb_nl_u8(tb[CB_A_P_PROBE_SUCCESS]));
	cb_show_duration("probe-wait", tb[CB_A_P_PROBE_WAIT_NS]);
	cb_show_duration("max-age", tb[CB_A_P_MAX_AGE_NS]);
	printf(" mode %s\n", cb_mode_name(cb_nl_u8(tb[CB_A_P_MODE])));
	return MNL_CB_OK;
}

static int cb_policy_show(int argc, char **argv)
{
	struct cb_rule_arg r;
	unsigned int n = 0;
	int err;

	if (argc) {
		if (cb_parse_rule_args(argc, argv, false, &r))
			return -1;
		err = cb_nl_request(CB_CMD_POLICY_GET, 0, cb_put_rule, &r,
				    cb_show_cb, &n);
		if (!err && cb_json)
			jw_end();
		return err;
	}
	if (cb_json)
		jw_arr_open(NULL);
	err = cb_nl_request(CB_CMD_POLICY_GET, NLM_F_DUMP, NULL, NULL,
			    cb_show_cb, &n);
	if (err)
		return -1;
	if (cb_json) {
		jw_arr_close();
		jw_end();
	} else if (!n) {
		printf("no policies: no destination is tracked\n");
	}
	return 0;
}

/* The policy a reply carries. */
static int cb_policy_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	struct cb_policy *p = data;

	if (cb_nl_parse(nlh, tb) < 0)
		return MNL_CB_ERROR;
	p->window_ns = cb_nl_u64(tb[CB_A_P_WINDOW_NS]);
	p->window_calls = tb[CB_A_P_WINDOW_CALLS] ?
			  cb_nl_u32(tb[CB_A_P_WINDOW_CALLS]) : p->window_calls;
	p->min_calls = cb_nl_u32(tb[CB_A_P_MIN_CALLS]);
	p->failure_rate = cb_nl_u8(tb[CB_A_P_FAILURE_RATE]);
	p->slow_ns = cb_nl_u64(tb[CB_A_P_SLOW_NS]);
	p->slow_rate = cb_nl_u8(tb[CB_A_P_SLOW_RATE]);
	p->open_ns = cb_nl_u64(tb[CB_A_P_OPEN_NS]);
	p->jitter = cb_nl_u8(tb[CB_A_P_JITTER]);
	p->backoff = cb_nl_u16(tb[CB_A_P_BACKOFF]);
	p->backoff_max_ns = cb_nl_u64(tb[CB_A_P_BACKOFF_MAX_NS]);
	p->probes = cb_nl_u16(tb[CB_A_P_PROBES]);
	p->probe_success = cb_nl_u8(tb[CB_A_P_PROBE_SUCCESS]);
	p->probe_wait_ns = cb_nl_u64(tb[CB_A_P_PROBE_WAIT_NS]);
	p->max_age_ns = cb_nl_u64(tb[CB_A_P_MAX_AGE_NS]);
	p->mode = cb_nl_u8(tb[CB_A_P_MODE]);
	return MNL_CB_OK;
}

void cb_rule_apply(const struct cb_rule_arg *r, struct cb_policy *p)
{
	unsigned int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		uint64_t v = r->val[i];

		if (!r->given[i])
			continue;
		switch (r->attr[i]) {
		case CB_A_P_WINDOW_CALLS: p->window_calls = v; p->window_ns = 0; break;
		case CB_A_P_WINDOW_NS: p->window_ns = v; break;
		case CB_A_P_MIN_CALLS: p->min_calls = v; break;
		case CB_A_P_FAILURE_RATE: p->failure_rate = v; break;
		case CB_A_P_SLOW_NS: p->slow_ns = v; break;
		case CB_A_P_SLOW_RATE: p->slow_rate = v; break;
		case CB_A_P_OPEN_NS: p->open_ns = v; break;
		case CB_A_P_JITTER: p->jitter = v; break;
		case CB_A_P_BACKOFF: p->backoff = v; break;
		case CB_A_P_BACKOFF_MAX_NS: p->backoff_max_ns = v; break;
		case CB_A_P_PROBES: p->probes = v; break;
		case CB_A_P_PROBE_SUCCESS: p->probe_success = v; break;
		case CB_A_P_PROBE_WAIT_NS: p->probe_wait_ns = v; break;
		case CB_A_P_MAX_AGE_NS: p->max_age_ns = v; break;
		case CB_A_P_MODE: p->mode = v; break;
		}
	}
}

void cb_rule_give_all(struct cb_rule_arg *r, const struct cb_policy *p)
{
	const uint64_t vals[CB_NR_PKEYS] = {
		p->window_ns ? p->window_ns : p->window_calls, p->min_calls,
		p->failure_rate, p->slow_ns, p->slow_rate, p->open_ns,
		p->jitter, p->backoff, p->backoff_max_ns, p->probes,
		p->probe_success, p->probe_wait_ns, p->max_age_ns, p->mode,
	};
	unsigned int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		r->given[i] = true;
		r->attr[i] = cb_pkeys[i].attr;
		r->val[i] = vals[i];
	}
	if (p->window_ns)
		r->attr[0] = CB_A_P_WINDOW_NS;
}

bool cb_same_rule(const struct cb_rule_arg *a, const struct cb_rule_arg *b)
{
	return a->proto == b->proto && a->prefixlen == b->prefixlen &&
	       a->port == b->port && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

int cb_rule_fetch(const struct cb_rule_arg *r, struct cb_policy *p)
{
	struct cb_rule_arg where = *r;

	memset(where.given, 0, sizeof(where.given));
	cb_policy_default(p);
	return cb_nl_ask(CB_CMD_POLICY_GET, 0, cb_put_rule, &where,
			 cb_policy_cb, p);
}

int cb_policy_req(const char *cmd, int argc, char **argv, struct cb_req *req)
{
	memset(req, 0, sizeof(*req));
	if (cb_matches(cmd, "add"))
		req->cmd = CB_CMD_POLICY_NEW;
	else if (cb_matches(cmd, "change"))
		req->cmd = CB_CMD_POLICY_SET;
	else if (cb_matches(cmd, "delete"))
		req->cmd = CB_CMD_POLICY_DEL;
	else
		return 1;
	return cb_parse_rule_args(argc, argv, req->cmd != CB_CMD_POLICY_DEL,
				  &req->rule);
}

int cb_req_send_policy(const struct cb_req *req)
{
	return cb_nl_request(req->cmd, 0, cb_put_rule, &req->rule, NULL, NULL);
}

int cb_cmd_policy(int argc, char **argv)
{
	const char *cmd = argc ? argv[0] : "show";
	struct cb_req req;
	int ret;

	if (argc) {
		argc--;
		argv++;
	}
	if (cb_matches(cmd, "show") || cb_matches(cmd, "list"))
		return cb_policy_show(argc, argv);
	if (cb_matches(cmd, "help")) {
		cb_policy_usage();
		return 0;
	}
	ret = cb_policy_req(cmd, argc, argv, &req);
	if (ret == 1)
		return cb_err("unknown command \"policy %s\" (try: cbctl policy help)",
			      cmd);
	return ret ?: cb_reqs_run(&req, 1) ?: cb_ok("done");
}
