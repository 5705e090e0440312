// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl policy { add | change | del | show }
 *
 *   DST := default [proto tcp|udp] | dst PREFIX [port PORT] [proto tcp|udp]
 *
 * The keys are the engine's table (cb_pkeys, from CB_POLICY_KEYS). Values
 * are parsed here; ranges and consistency are checked by the engine's own
 * cb_policy_invalid(), here before sending and again in the module, so the
 * two can never disagree.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/genetlink.h>

#include "cbctl.h"
#include "cb_engine.h"

/* How each unit is written in help. */
static const char *const cb_unit_arg[] = {
	[CB_UNIT_N] = "N",		[CB_UNIT_PCT] = "PCT",
	[CB_UNIT_NS] = "DURATION",	[CB_UNIT_NS_OFF] = "DURATION",
	[CB_UNIT_FACTOR] = "FACTOR",	[CB_UNIT_MODE] = "enforce|dry-run",
	[CB_UNIT_WINDOW_N] = "N",	[CB_UNIT_WINDOW_NS] = "DURATION",
	[CB_UNIT_CLASSES] = "CLASS[,CLASS]...",
	[CB_UNIT_CALLS] = "connects|exchanges",
	[CB_UNIT_ON_OPEN] = "keep|close",
};

/* Keys whose value is one of two words: the words, by value. */
static const char *const cb_unit_words[][2] = {
	[CB_UNIT_MODE] = { "enforce", "dry-run" },
	[CB_UNIT_CALLS] = { "connects", "exchanges" },
	[CB_UNIT_ON_OPEN] = { "keep", "close" },
};

_Static_assert(__CB_MODE_MAX == 2 && __CB_CALLS_MAX == 2 &&
	       __CB_ON_OPEN_MAX == 2, "cb_unit_words: two words a key");

static bool cb_unit_is_word(unsigned int unit)
{
	return unit < sizeof(cb_unit_words) / sizeof(cb_unit_words[0]) &&
	       cb_unit_words[unit][0];
}

/* fail-on's classes, by name, comma-separated */
static void cb_format_classes(uint64_t v, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < CB_NR_CLASSES && n < len; i++)
		if (v & (1U << i))
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      cb_class_names[i]);
}

/* "default" stands for the classes fail-on has by default. */
static int cb_parse_classes(const char *s, uint64_t *v)
{
	const char *end;
	size_t len;
	int i;

	*v = 0;
	for (;;) {
		end = strchr(s, ',');
		len = end ? (size_t)(end - s) : strlen(s);
		if (len == 7 && !strncmp(s, "default", 7)) {
			*v |= CB_CLASS_DEFAULT;
		} else {
			for (i = 0; i < CB_NR_CLASSES; i++)
				if (strlen(cb_class_names[i]) == len &&
				    !strncmp(s, cb_class_names[i], len))
					break;
			if (i == CB_NR_CLASSES)
				return -1;
			*v |= 1U << i;
		}
		if (!end)
			return 0;
		s = end + 1;
	}
}

/* The second row of a key written two ways (window): not a key of its own. */
static bool cb_pkey_alias(int i)
{
	return i && !strcmp(cb_pkeys[i].name, cb_pkeys[i - 1].name);
}

static void cb_pkey_format(const struct cb_pkey *k, uint64_t v, char *buf,
			   size_t len)
{
	switch (k->unit) {
	case CB_UNIT_NS:
	case CB_UNIT_NS_OFF:
	case CB_UNIT_WINDOW_NS:
		cb_format_duration(v, buf, len);
		break;
	case CB_UNIT_FACTOR:
		if (v % 100)
			snprintf(buf, len, "%u.%02u", (unsigned int)v / 100,
				 (unsigned int)v % 100);
		else
			snprintf(buf, len, "%u", (unsigned int)v / 100);
		break;
	case CB_UNIT_MODE:
	case CB_UNIT_CALLS:
	case CB_UNIT_ON_OPEN:
		snprintf(buf, len, "%s", v < 2 ? cb_unit_words[k->unit][v] : "?");
		break;
	case CB_UNIT_CLASSES:
		cb_format_classes(v, buf, len);
		break;
	default:
		snprintf(buf, len, "%" PRIu64, v);
	}
}

static void cb_policy_usage(void)
{
	struct cb_policy def;
	char word[64], val[64];
	int i, n, col;

	printf("Usage: cbctl policy add    DST [KEY VALUE]...\n"
	       "       cbctl policy change DST [KEY VALUE]...\n"
	       "       cbctl policy del    DST\n"
	       "       cbctl policy show   [DST]\n"
	       "DST := default [proto tcp|udp] | dst PREFIX [port PORT] [proto tcp|udp]\n");
	col = printf("KEY :=");
	for (i = 0; i < CB_NR_PKEYS; i++) {
		n = snprintf(word, sizeof(word), "%s %s", cb_pkeys[i].name,
			     cb_unit_arg[cb_pkeys[i].unit]);
		if (i && col + 3 + n > 72)
			col = printf("\n     |");
		else if (i)
			col += printf(" |");
		col += printf(" %s", word);
	}
	printf("\nDURATION := N(ns|us|ms|s|m|h)   PCT := 0..100   proto defaults to tcp\n"
	       "window 100: the last 100 calls; window 60s: the calls of the last 60 s\n"
	       "slow: a handshake that took this long, done or failed (a SYN timeout\n"
	       "  is a failure and slow); a probe counts as good only if done and not slow\n"
	       "fail-on: default is refused,timeout,unreachable,abandoned,stalled; reset and\n"
	       "  dropped (RST, or FIN before any byte, within fail-window of the connect)\n"
	       "  turn a handshake's success into a failure\n"
	       "calls exchanges: a call is a request and the first byte of its reply on a\n"
	       "  kept TCP connection; one its owner gives up on after about slow is\n"
	       "  stalled, one the kernel gives up on a timeout; a reset or FIN while it\n"
	       "  waits is reset or dropped\n"
	       "on-open close: as a breaker opens, its established TCP connections from\n"
	       "  its cgroup and namespace are aborted (ECONNABORTED), so their owners\n"
	       "  redial and are refused; dry-run counts them instead\n"
	       "Keys: values (default)\n");
	cb_policy_default(&def);
	for (i = 0; i < CB_NR_PKEYS; i++) {
		const struct cb_pkey *k = &cb_pkeys[i];

		printf("  %s %s: %s", k->name, cb_unit_arg[k->unit], k->range);
		if (cb_pkey_in_force(&def, k)) {
			cb_pkey_format(k, k->def, val, sizeof(val));
			printf(" (%s)", val);
		}
		printf("\n      %s\n", k->help);
	}
}

/* For cbctl apply --diff: row @i's value @v as the grammar writes it. */
void cb_pkey_text(int i, uint64_t v, char *buf, size_t len)
{
	cb_pkey_format(&cb_pkeys[i], v, buf, len);
}

/* A key by exact name, else by unambiguous prefix: its first row. */
static int cb_find_pkey(const char *arg)
{
	int i, found = -1;

	for (i = 0; i < CB_NR_PKEYS; i++)
		if (!strcmp(arg, cb_pkeys[i].name))
			return i;
	for (i = 0; i < CB_NR_PKEYS; i++) {
		if (!cb_matches(arg, cb_pkeys[i].name) || cb_pkey_alias(i))
			continue;
		if (found >= 0)
			return -2;
		found = i;
	}
	return found;
}

/* Whether key @i was given, in any of its rows. */
static bool cb_pkey_given(const struct cb_rule_arg *r, int i)
{
	int j;

	for (j = 0; j < CB_NR_PKEYS; j++)
		if (r->given[j] && !strcmp(cb_pkeys[j].name, cb_pkeys[i].name))
			return true;
	return false;
}

static int cb_parse_value(int i, const char *s, struct cb_rule_arg *r)
{
	const struct cb_pkey *k = &cb_pkeys[i];
	uint32_t u;
	uint16_t f;

	switch (k->unit) {
	case CB_UNIT_N:
		if (cb_parse_u32(s, k->size == 2 ? UINT16_MAX : UINT32_MAX, &u))
			return cb_err("bad %s \"%s\" (a whole number)", k->name, s);
		r->val[i] = u;
		break;
	case CB_UNIT_PCT:
		if (cb_parse_u32(s, 100, &u))
			return cb_err("bad %s \"%s\" (%s)", k->name, s, k->range);
		r->val[i] = u;
		break;
	case CB_UNIT_NS:
	case CB_UNIT_NS_OFF:
	case CB_UNIT_WINDOW_NS:
		if (cb_parse_duration(s, &r->val[i]))
			return cb_err("bad %s \"%s\" (N with a unit: ns, us, ms, s, m or h)",
				      k->name, s);
		break;
	case CB_UNIT_WINDOW_N:
		if (!cb_parse_u32(s, UINT32_MAX, &u)) {
			r->val[i] = u;
			break;
		}
		i = CB_PK_WINDOW_NS;
		if (cb_parse_duration(s, &r->val[i]))
			return cb_err("bad window \"%s\" (N calls, or a duration such as 60s)",
				      s);
		break;
	case CB_UNIT_FACTOR:
		if (cb_parse_factor(s, &f))
			return cb_err("bad %s \"%s\" (a factor such as 2 or 1.5)",
				      k->name, s);
		r->val[i] = f;
		break;
	case CB_UNIT_MODE:
	case CB_UNIT_CALLS:
	case CB_UNIT_ON_OPEN:
		for (r->val[i] = 0; r->val[i] < 2; r->val[i]++)
			if (!strcmp(s, cb_unit_words[k->unit][r->val[i]]))
				break;
		if (r->val[i] == 2)	/* range: "enforce or dry-run", ... */
			return cb_err("bad %s \"%s\" (%s)", k->name, s, k->range);
		break;
	case CB_UNIT_CLASSES:
		if (cb_parse_classes(s, &r->val[i]))
			return cb_err("bad %s \"%s\" (classes separated by commas: %s, or default)",
				      k->name, s, k->range);
		break;
	}
	r->given[i] = true;
	return 0;
}

/* DST, then (if @keys) policy keys, in any order, each at most once. */
static int cb_parse_rule_args(int argc, char **argv, bool keys,
			      struct cb_rule_arg *r)
{
	int i, k, err;

	memset(r, 0, sizeof(*r));
	cb_dest_init(&r->d);
	for (i = 0; i < argc; i++) {
		const char *kw = argv[i], *val = argv[i + 1];

		if (!strcmp(kw, "default")) {
			if (r->is_default || r->d.have_dst)
				return cb_err("give \"default\" or \"dst PREFIX\", once");
			r->is_default = true;
			continue;
		}
		if (!val)
			return cb_err("missing value after \"%s\"", kw);
		i++;
		if (r->is_default && cb_matches(kw, "dst"))
			return cb_err("give \"default\" or \"dst PREFIX\", once");
		err = cb_parse_dest_word(kw, val, CB_DEST_PREFIX, &r->d);
		if (err <= 0) {
			if (err)
				return -1;
			continue;
		}
		k = keys ? cb_find_pkey(kw) : -1;
		if (k == -2)
			return cb_err("ambiguous key \"%s\"", kw);
		if (k < 0)
			return cb_err("unknown key \"%s\"", kw);
		if (cb_pkey_given(r, k))
			return cb_err("%s given twice", cb_pkeys[k].name);
		if (cb_parse_value(k, val, r))
			return -1;
	}
	if (!r->is_default && !r->d.have_dst)
		return cb_err("missing \"default\" or \"dst PREFIX\"");
	if (r->is_default && r->d.have_port)
		return cb_err("the default policy has no port");
	return 0;
}

int cb_nl_put_rule(struct nlmsghdr *nlh, const void *arg)
{
	const struct cb_rule_arg *r = arg;
	int i;

	mnl_attr_put_u8(nlh, CB_A_PROTO, r->d.proto);
	if (r->is_default) {
		mnl_attr_put(nlh, CB_A_DEFAULT, 0, NULL);
	} else {
		mnl_attr_put(nlh, CB_A_ADDR, sizeof(r->d.addr), r->d.addr);
		mnl_attr_put_u8(nlh, CB_A_PREFIXLEN, r->d.prefixlen);
		if (r->d.have_port)
			mnl_attr_put_u16(nlh, CB_A_PORT, r->d.port);
	}
	for (i = 0; i < CB_NR_PKEYS; i++)
		if (r->given[i])
			cb_nl_put_uint(nlh, cb_pkeys[i].attr, cb_pkeys[i].size,
				       r->val[i]);
	return 0;
}

/* --- show --------------------------------------------------------------- */

static int cb_show_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	char dst[64], val[64], name[40];
	unsigned int *n = data;
	const struct cb_pkey *k;
	uint64_t v;

	if (cb_nl_parse(nlh, tb) < 0 || !tb[CB_A_ADDR] || !tb[CB_A_PREFIXLEN])
		return MNL_CB_ERROR;
	(*n)++;
	if (tb[CB_A_DEFAULT])
		snprintf(dst, sizeof(dst), "default");
	else
		cb_format_prefix(mnl_attr_get_payload(tb[CB_A_ADDR]),
				 cb_nl_u8(tb[CB_A_PREFIXLEN]), dst, sizeof(dst));

	/* Text: one line, in the grammar it was given in: it can be fed back. */
	cb_print_open();
	cb_print_str(CB_PRINT_ANY, "dst", tb[CB_A_DEFAULT] ? "%s" : "dst %s", dst);
	if (tb[CB_A_PORT])
		cb_print_u64(CB_PRINT_ANY, "port", " port %" PRIu64,
			     cb_nl_u16(tb[CB_A_PORT]));
	else if (cb_json)
		jw_null("port");
	cb_print_str(CB_PRINT_ANY, "proto", " proto %s",
		     cb_proto_name(cb_nl_u8(tb[CB_A_PROTO])));
	for (k = cb_pkeys; k < cb_pkeys + CB_NR_PKEYS; k++) {
		if (!tb[k->attr])
			continue;	/* the window's other form */
		v = cb_nl_uint(tb[k->attr]);
		/* JSON: the field's name, a factor as its percentage */
		snprintf(name, sizeof(name), "%s%s", k->field,
			 k->unit == CB_UNIT_FACTOR ? "_percent" : "");
		cb_pkey_format(k, v, val, sizeof(val));
		cb_print_text(" %s %s", k->name, val);
		if (k->unit == CB_UNIT_CLASSES || cb_unit_is_word(k->unit))
			cb_print_str(CB_PRINT_JSON, name, NULL, val);
		else
			cb_print_u64(CB_PRINT_JSON, name, NULL, v);
	}
	cb_print_close("\n");
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
		return cb_nl_request(CB_CMD_POLICY_GET, 0, cb_nl_put_rule, &r,
				     cb_show_cb, &n);
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
	int i;

	if (cb_nl_parse(nlh, tb) < 0)
		return MNL_CB_ERROR;
	for (i = 0; i < CB_NR_PKEYS; i++)
		if (tb[cb_pkeys[i].attr])
			cb_pkey_set(p, &cb_pkeys[i],
				    cb_nl_uint(tb[cb_pkeys[i].attr]));
	return MNL_CB_OK;
}

void cb_rule_apply(const struct cb_rule_arg *r, struct cb_policy *p)
{
	int i;

	for (i = 0; i < CB_NR_PKEYS; i++)
		if (r->given[i])
			cb_pkey_set(p, &cb_pkeys[i], r->val[i]);
}

void cb_rule_give_all(struct cb_rule_arg *r, const struct cb_policy *p)
{
	int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		r->given[i] = cb_pkey_in_force(p, &cb_pkeys[i]);
		r->val[i] = cb_pkey_get(p, &cb_pkeys[i]);
	}
}

bool cb_same_rule(const struct cb_rule_arg *a, const struct cb_rule_arg *b)
{
	return a->d.proto == b->d.proto && a->d.prefixlen == b->d.prefixlen &&
	       a->d.port == b->d.port &&
	       !memcmp(a->d.addr, b->d.addr, sizeof(a->d.addr));
}

int cb_rule_fetch(const struct cb_rule_arg *r, struct cb_policy *p)
{
	struct cb_rule_arg where = *r;

	memset(where.given, 0, sizeof(where.given));
	cb_policy_default(p);
	return cb_nl_ask(CB_CMD_POLICY_GET, 0, cb_nl_put_rule, &where,
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

int cb_cmd_policy(int argc, char **argv)
{
	static const struct cb_command cmds[] = {
		{ "show", .fn = cb_policy_show },	/* the first: no command */
		{ "list", .fn = cb_policy_show },
		{ "help", .usage = cb_policy_usage },
		{ "add", .req = cb_policy_req },
		{ "change", .req = cb_policy_req },
		{ "delete", .req = cb_policy_req },
		{ 0 }
	};

	return cb_cmd_select(cmds, argc, argv, "policy");
}
