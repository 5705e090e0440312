// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink control interface. Reading is open to all; every command
 * that changes something needs CAP_NET_ADMIN in the initial user namespace
 * (GENL_ADMIN_PERM). Policies and the maps are the host's: only the initial
 * network namespace changes them; another acts on its own breakers only.
 * Attributes
 * are checked by the policy first (types, sizes, ranges; unknown ones are
 * rejected), then for meaning, with an extack message naming the problem.
 */
#include <linux/in.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "cb_core.h"

/* The policy keys' attributes (cb_pkeys): filled in by cb_netlink_init(). */
static struct netlink_range_validation cb_pkey_ranges[CB_NR_PKEYS] __ro_after_init;

static struct nla_policy cb_nl_policy[CB_A_MAX + 1] __ro_after_init = {
	[CB_A_ADDR]		= NLA_POLICY_EXACT_LEN(16),
	[CB_A_PORT]		= NLA_POLICY_MIN(NLA_U16, 1),
	[CB_A_PROTO]		= NLA_POLICY_RANGE(NLA_U8, IPPROTO_TCP, IPPROTO_UDP),
	[CB_A_ACTION]		= NLA_POLICY_RANGE(NLA_U8, CB_ACTION_TRIP,
						   __CB_ACTION_MAX - 1),
	[CB_A_ALL]		= { .type = NLA_FLAG },
	[CB_A_DEFAULT]		= { .type = NLA_FLAG },
	[CB_A_PREFIXLEN]	= NLA_POLICY_MAX(NLA_U8, 128),
	[CB_A_NETNS]		= { .type = NLA_U64 },
	[CB_A_SCOPE]		= { .type = NLA_U32 },
	[CB_A_DURATION_NS]	= NLA_POLICY_FULL_RANGE(NLA_U64, &cb_pkey_ranges[CB_PK_OPEN_NS]),
	/* a batch's change: the same attributes, as its command takes them */
	[CB_A_OP]		= NLA_POLICY_NESTED(cb_nl_policy),
	[CB_A_OP_CMD]		= NLA_POLICY_RANGE(NLA_U8, CB_CMD_POLICY_NEW,
						   CB_CMD_POLICY_DEL),
};

static struct genl_family cb_genl_family;

/*
 * The family runs its handlers in parallel (parallel_ops): a walk over the
 * breaker table (policy del, reset all) must not hold the global genl
 * mutex, which every generic netlink family on the host shares. The one
 * read-modify-write of shared state, a policy change, is serialized here.
 */
static DEFINE_MUTEX(cb_nl_policy_mutex);

static int cb_parse_proto(struct genl_info *info, u8 *proto)
{
	struct nlattr *a = info->attrs[CB_A_PROTO];

	*proto = a ? nla_get_u8(a) : IPPROTO_TCP;
	if (*proto != IPPROTO_TCP && *proto != IPPROTO_UDP) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "proto must be tcp or udp");
		return -EINVAL;
	}
	return 0;
}

/*
 * Which namespaces' breakers a caller sees: from the initial namespace all
 * of them, from any other only its own (0: all).
 */
static u64 cb_netns_visible(struct net *net)
{
	return net_eq(net, &init_net) ? 0 : net->net_cookie;
}

/*
 * Policies govern every namespace and the maps serve them all: a caller in
 * another network namespace (a container's root, or `ip netns exec` with
 * the host's capabilities) must not change them for the host.
 */
static int cb_host_wide(struct genl_info *info)
{
	if (net_eq(genl_info_net(info), &init_net))
		return 0;
	NL_SET_ERR_MSG(info->extack,
		       "policies and maps are host-wide: change them from the initial network namespace");
	return -EPERM;
}

/*
 * A breaker from CB_A_ADDR/PORT/PROTO/SCOPE/NETNS; proto defaults to TCP,
 * the namespace to the caller's own.
 */
static int cb_parse_key(struct genl_info *info, struct cb_key *key)
{
	struct nlattr **tb = info->attrs;
	struct net *net = genl_info_net(info);
	u64 visible = cb_netns_visible(net);

	memset(key, 0, sizeof(*key));
	if (GENL_REQ_ATTR_CHECK(info, CB_A_ADDR) ||
	    GENL_REQ_ATTR_CHECK(info, CB_A_PORT) ||
	    cb_parse_proto(info, &key->proto))
		return -EINVAL;
	nla_memcpy(key->addr, tb[CB_A_ADDR], sizeof(key->addr));
	key->port = htons(nla_get_u16(tb[CB_A_PORT]));
	key->scope = tb[CB_A_SCOPE] ? nla_get_u32(tb[CB_A_SCOPE]) : 0;
	key->netns = tb[CB_A_NETNS] ? nla_get_u64(tb[CB_A_NETNS]) :
				      net->net_cookie;
	if (visible && key->netns != visible) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_NETNS],
				    "only the initial namespace may name another");
		return -EPERM;
	}
	return 0;
}

/* A rule: CB_A_DEFAULT, or CB_A_ADDR + CB_A_PREFIXLEN [+ CB_A_PORT]. */
static int cb_parse_rule(struct genl_info *info, struct cb_rule *r)
{
	struct nlattr **tb = info->attrs;
	unsigned int i;

	memset(r, 0, sizeof(*r));
	if (cb_parse_proto(info, &r->proto))
		return -EINVAL;
	if (tb[CB_A_DEFAULT]) {
		if (tb[CB_A_ADDR] || tb[CB_A_PREFIXLEN] || tb[CB_A_PORT]) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_DEFAULT],
					    "the default rule has no address or port");
			return -EINVAL;
		}
		return 0;
	}
	if (GENL_REQ_ATTR_CHECK(info, CB_A_ADDR) ||
	    GENL_REQ_ATTR_CHECK(info, CB_A_PREFIXLEN))
		return -EINVAL;
	nla_memcpy(r->addr, tb[CB_A_ADDR], sizeof(r->addr));
	r->prefixlen = nla_get_u8(tb[CB_A_PREFIXLEN]);
	if (tb[CB_A_PORT])
		r->port = nla_get_u16(tb[CB_A_PORT]);
	for (i = r->prefixlen; i < 128; i++) {
		if (r->addr[i / 8] & (0x80 >> (i % 8))) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_ADDR],
					    "address has bits set beyond the prefix length");
			return -EINVAL;
		}
	}
	return 0;
}

static u64 cb_nla_get(const struct nlattr *a, unsigned int size)
{
	switch (size) {
	case 1:
		return nla_get_u8(a);
	case 2:
		return nla_get_u16(a);
	case 4:
		return nla_get_u32(a);
	}
	return nla_get_u64(a);
}

/* The policy keys given override those of @p; then the whole is checked. */
static int cb_parse_policy(struct genl_info *info, struct cb_policy *p)
{
	struct nlattr **tb = info->attrs;
	const struct cb_pkey *k;
	const char *bad;

	if (tb[CB_A_P_WINDOW_CALLS] && tb[CB_A_P_WINDOW_NS]) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_P_WINDOW_NS],
				    "a window is counted in calls or in time, not both");
		return -EINVAL;
	}
	for (k = cb_pkeys; k < cb_pkeys + CB_NR_PKEYS; k++)
		if (tb[k->attr])
			cb_pkey_set(p, k, cb_nla_get(tb[k->attr], k->size));

	bad = cb_policy_invalid(p);
	if (bad) {
		NL_SET_ERR_MSG_FMT(info->extack, "bad value for %s", bad);
		return -EINVAL;
	}
	return 0;
}

static int cb_put_key(struct sk_buff *skb, const struct cb_key *key)
{
	if (nla_put(skb, CB_A_ADDR, sizeof(key->addr), key->addr) ||
	    nla_put_u16(skb, CB_A_PORT, ntohs(key->port)) ||
	    nla_put_u8(skb, CB_A_PROTO, key->proto) ||
	    nla_put_u32(skb, CB_A_SCOPE, key->scope) ||
	    nla_put_u64_64bit(skb, CB_A_NETNS, key->netns, CB_A_PAD))
		return -EMSGSIZE;
	return 0;
}

static int cb_put_u64(struct sk_buff *skb, int type, u64 v)
{
	return nla_put_u64_64bit(skb, type, v, CB_A_PAD);
}

static int cb_put_breaker(struct sk_buff *skb, const struct cb_breaker_view *v)
{
	const struct cb_breaker *b = &v->b;

	if (cb_put_key(skb, &v->key) ||
	    nla_put_u8(skb, CB_A_STATE, b->state) ||
	    nla_put_u8(skb, CB_A_FORCED, b->forced) ||
	    nla_put_u8(skb, CB_A_TRIPS, b->trips) ||
	    nla_put_u8(skb, CB_A_MODE, v->mode) ||
	    nla_put_u8(skb, CB_A_P_CALLS, b->exchanges ? CB_CALLS_EXCHANGES :
						       CB_CALLS_CONNECTS) ||
	    nla_put_u8(skb, CB_A_TRACKED, v->tracked) ||
	    cb_put_u64(skb, CB_A_CALLS, b->calls) ||
	    cb_put_u64(skb, CB_A_SUCCESSES, b->successes) ||
	    cb_put_u64(skb, CB_A_FAILURES, b->failures) ||
	    cb_put_u64(skb, CB_A_SLOW, b->slow) ||
	    cb_put_u64(skb, CB_A_ABANDONED, b->abandoned) ||
	    cb_put_u64(skb, CB_A_REJECTED, b->rejected) ||
	    nla_put_u32(skb, CB_A_CONNS, CB_BULKHEAD_OPEN(b->bulkhead)) ||
	    cb_put_u64(skb, CB_A_OPENED_AT, cb_engine_opened_at(b)) ||
	    cb_put_u64(skb, CB_A_OPEN_UNTIL,	/* shares probe_deadline's room */
		       b->state == CB_STATE_OPEN ? b->open_until : 0) ||
	    cb_put_u64(skb, CB_A_NOW, ktime_get_ns()) ||
	    nla_put_u32(skb, CB_A_WINDOW_CALLS, v->win.calls) ||
	    nla_put_u32(skb, CB_A_WINDOW_FAILURES, v->win.fails) ||
	    nla_put_u32(skb, CB_A_WINDOW_SLOW, v->win.slows) ||
	    nla_put_u16(skb, CB_A_PROBES_PLACED, b->probes_placed) ||
	    nla_put_u16(skb, CB_A_PROBES_OK, b->probes_ok) ||
	    nla_put_u16(skb, CB_A_PROBES_FAILED, b->probes_failed))
		return -EMSGSIZE;
	return 0;
}

static int cb_put_uint(struct sk_buff *skb, int type, unsigned int size, u64 v)
{
	switch (size) {
	case 1:
		return nla_put_u8(skb, type, v);
	case 2:
		return nla_put_u16(skb, type, v);
	case 4:
		return nla_put_u32(skb, type, v);
	}
	return cb_put_u64(skb, type, v);
}

static int cb_put_rule(struct sk_buff *skb, const struct cb_rule *r)
{
	const struct cb_policy *p = &r->policy;
	const struct cb_pkey *k;

	if ((!r->prefixlen && !r->port &&
	     nla_put_flag(skb, CB_A_DEFAULT)) ||
	    nla_put(skb, CB_A_ADDR, sizeof(r->addr), r->addr) ||
	    nla_put_u8(skb, CB_A_PREFIXLEN, r->prefixlen) ||
	    (r->port && nla_put_u16(skb, CB_A_PORT, r->port)) ||
	    nla_put_u8(skb, CB_A_PROTO, r->proto))
		return -EMSGSIZE;
	for (k = cb_pkeys; k < cb_pkeys + CB_NR_PKEYS; k++)
		if (cb_pkey_in_force(p, k) &&
		    cb_put_uint(skb, k->attr, k->size, cb_pkey_get(p, k)))
			return -EMSGSIZE;
	return 0;
}

static int cb_put_stats(struct sk_buff *skb)
{
	u64 st[__CB_STAT_MAX];
	struct nlattr *nest;
	int i;

	cb_stats_read(st);
	nest = nla_nest_start(skb, CB_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < __CB_STAT_MAX; i++)
		if (cb_put_u64(skb, i + 1, st[i]))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* A reply to a doit: @fill puts the attributes. */
static int cb_reply(struct genl_info *info, u8 cmd,
		    int (*fill)(struct sk_buff *skb, const void *arg),
		    const void *arg)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &cb_genl_family, 0, cmd);
	if (!hdr || fill(msg, arg)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int cb_fill_status(struct sk_buff *msg, const void *arg)
{
	if (nla_put_string(msg, CB_A_VERSION, CB_VERSION) ||
	    nla_put_u8(msg, CB_A_MAPS_ATTACHED, cb_maps_attached()) ||
	    nla_put_u32(msg, CB_A_BREAKERS, cb_breakers_count()) ||
	    nla_put_u32(msg, CB_A_BREAKERS_MAX, cb_breakers_capacity()) ||
	    nla_put_u32(msg, CB_A_RULES, cb_rules_count()) ||
	    cb_put_u64(msg, CB_A_NOW, ktime_get_ns()) ||
	    cb_put_stats(msg))
		return -EMSGSIZE;
	return 0;
}

static int cb_nl_status_get(struct sk_buff *skb, struct genl_info *info)
{
	return cb_reply(info, CB_CMD_STATUS_GET, cb_fill_status, NULL);
}

/* What on-open close did as a breaker opened (dry-run: would have). */
static int cb_put_closed(struct sk_buff *skb, enum cb_close_kind close,
			 u32 closed)
{
	if (close == CB_CLOSE_NONE)
		return 0;
	return nla_put_u32(skb, close == CB_CLOSE_DRY ? CB_A_WOULD_CLOSE :
			   CB_A_CLOSED, closed);
}

/* A breaker with its history: the doit reply. */
struct cb_breaker_full {
	struct cb_breaker_view v;
	unsigned int n;
	struct cb_history_entry h[CB_HISTORY_LEN];
};

static int cb_put_history(struct sk_buff *skb, const struct cb_breaker_full *f)
{
	struct nlattr *nest, *e;
	unsigned int i;

	nest = nla_nest_start(skb, CB_A_HISTORY);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < f->n; i++) {
		const struct cb_change *c = &f->h[i].c;

		e = nla_nest_start(skb, i + 1);
		if (!e || cb_put_u64(skb, CB_A_TIME, f->h[i].time) ||
		    nla_put_u8(skb, CB_A_FROM, c->from) ||
		    nla_put_u8(skb, CB_A_STATE, c->to) ||
		    nla_put_u8(skb, CB_A_REASON, c->reason) ||
		    nla_put_u32(skb, CB_A_WINDOW_CALLS, c->calls) ||
		    nla_put_u32(skb, CB_A_WINDOW_FAILURES, c->fails) ||
		    nla_put_u32(skb, CB_A_WINDOW_SLOW, c->slows) ||
		    nla_put_u16(skb, CB_A_PROBES_PLACED, c->probes_placed) ||
		    nla_put_u16(skb, CB_A_PROBES_OK, c->probes_ok) ||
		    nla_put_u16(skb, CB_A_PROBES_FAILED, c->probes_failed) ||
		    (f->h[i].counted &&
		     cb_put_closed(skb, f->h[i].close, f->h[i].closed)))
			return -EMSGSIZE;
		nla_nest_end(skb, e);
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int cb_fill_breaker_full(struct sk_buff *msg, const void *arg)
{
	const struct cb_breaker_full *f = arg;

	return cb_put_breaker(msg, &f->v) ?: cb_put_history(msg, f);
}

static int cb_not_loaded(struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack,
		       "cbreaker programs are not loaded (cbctl load)");
	return -ENODEV;
}

static int cb_nl_breaker_get(struct sk_buff *skb, struct genl_info *info)
{
	struct cb_breaker_full *f;
	struct cb_key key;
	int err;

	err = cb_parse_key(info, &key);
	if (err)
		return err;
	f = kmalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	err = cb_breaker_read(&key, &f->v);
	if (err == -ENODEV)
		err = cb_not_loaded(info);
	if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no breaker for that destination");
	if (!err) {
		f->n = cb_history_get(&key, f->h);
		err = cb_reply(info, CB_CMD_BREAKER_GET, cb_fill_breaker_full, f);
	}
	kfree(f);
	return err;
}

/*
 * Dump state kept in cb->ctx: the cursor, the last key sent (or passed
 * over). The hash map knows no position but a key: when the cursor's
 * breaker is deleted between two calls, the walk starts over, and what
 * was sent comes again (flagged NLM_F_DUMP_INTR; readers drop repeats).
 * Churn can make that happen call after call: CB_DUMP_RESTARTS bounds it.
 */
struct cb_dump_ctx {
	struct cb_key last;
	u16 restarts;
	bool started;
};

#define CB_DUMP_RESTARTS	64
#define CB_DUMP_RESCHED		256	/* breakers visited between reschedules */

static int cb_nl_breaker_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cb_dump_ctx *ctx = (void *)cb->ctx;
	u64 visible = cb_netns_visible(sock_net(cb->skb->sk));
	struct cb_breaker_view v;
	unsigned int visited = 0;
	void *hdr;

	BUILD_BUG_ON(sizeof(*ctx) > sizeof(cb->ctx));

	if (ctx->started && cb_breaker_read(&ctx->last, &v) == -ENOENT &&
	    ++ctx->restarts > CB_DUMP_RESTARTS) {
		NL_SET_ERR_MSG(cb->extack, "the breaker table kept changing");
		return -EAGAIN;
	}
	for (;;) {
		/*
		 * A walk from another namespace passes over every breaker
		 * not its own, all in this call: let others run.
		 */
		if (!(++visited % CB_DUMP_RESCHED))
			cond_resched();
		/* before the step: a deletion since the last one may repeat */
		cb->seq = cb_breakers_gen();
		if (cb_breaker_next(ctx->started ? &ctx->last : NULL, &v))
			break;
		if (visible && v.key.netns != visible) {
			ctx->last = v.key;
			ctx->started = true;
			continue;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &cb_genl_family,
				  NLM_F_MULTI, CB_CMD_BREAKER_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (cb_put_breaker(skb, &v)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		ctx->last = v.key;
		ctx->started = true;
	}
	return skb->len;
}

static int cb_nl_breaker_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **tb = info->attrs;
	enum cb_action action;
	struct cb_key key;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, CB_A_ACTION))
		return -EINVAL;
	action = nla_get_u8(tb[CB_A_ACTION]);
	if (!cb_maps_attached())
		return cb_not_loaded(info);

	if (tb[CB_A_DURATION_NS] && (action != CB_ACTION_TRIP || tb[CB_A_ALL])) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_DURATION_NS],
				    "a duration applies to trip of one breaker only");
		return -EINVAL;
	}
	if (tb[CB_A_ALL]) {
		if (action != CB_ACTION_RESET || tb[CB_A_ADDR] || tb[CB_A_PORT]) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_ALL],
					    "only reset applies to all breakers");
			return -EINVAL;
		}
		/* from another namespace: its own breakers only */
		cb_breaker_reset_all(cb_netns_visible(genl_info_net(info)));
		return 0;
	}

	err = cb_parse_key(info, &key);
	if (err)
		return err;
	if (tb[CB_A_DURATION_NS])
		err = cb_breaker_trip_for(&key, nla_get_u64(tb[CB_A_DURATION_NS]));
	else
		err = cb_breaker_action(&key, action);
	if (err == -ESRCH) {
		NL_SET_ERR_MSG(info->extack,
			       "no policy governs that destination: trip it until reset, or add one");
		err = -EINVAL;
	}
	if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no breaker for that destination");
	else if (err == -E2BIG)
		NL_SET_ERR_MSG(info->extack, "breaker table is full");
	return err;
}

static int cb_nl_maps_release(struct sk_buff *skb, struct genl_info *info)
{
	int err = cb_host_wide(info);

	if (!err)
		cb_maps_release();
	return err;
}

/* The rule a request names, once there are tries to hold rules. */
static int cb_nl_rule(struct genl_info *info, struct cb_rule *r)
{
	if (!cb_maps_attached())
		return cb_not_loaded(info);
	return cb_parse_rule(info, r);
}

static int cb_nl_policy_put(struct genl_info *info, bool create)
{
	struct cb_rule r;
	int err;

	err = cb_host_wide(info) ?: cb_nl_rule(info, &r);
	if (err)
		return err;
	guard(mutex)(&cb_nl_policy_mutex);
	if (create) {
		cb_policy_default(&r.policy);
	} else if (cb_rule_get(&r)) {
		NL_SET_ERR_MSG(info->extack, "no such policy");
		return -ENOENT;
	}
	err = cb_parse_policy(info, &r.policy);
	if (err)
		return err;
	err = cb_rule_put(&r, create);
	if (err == -EEXIST)
		NL_SET_ERR_MSG(info->extack, "policy exists (use change)");
	else if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no such policy");
	else if (err == -ENOSPC || err == -E2BIG)
		NL_SET_ERR_MSG(info->extack, "policy table is full");
	else if (err == -EDQUOT)
		NL_SET_ERR_MSG_FMT(info->extack,
				   "too many policies with max-open below 100 (at most %u)",
				   CB_CAPS - 1);
	return err;
}

static int cb_nl_policy_new(struct sk_buff *skb, struct genl_info *info)
{
	return cb_nl_policy_put(info, true);
}

static int cb_nl_policy_set(struct sk_buff *skb, struct genl_info *info)
{
	return cb_nl_policy_put(info, false);
}

static int cb_nl_policy_del(struct sk_buff *skb, struct genl_info *info)
{
	struct cb_rule r;
	int err;

	err = cb_host_wide(info) ?: cb_nl_rule(info, &r);
	if (err)
		return err;
	err = cb_rule_del(&r);
	if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no such policy");
	return err;
}

/*
 * One change of a batch, checked as its command would check it, against
 * the rule as the changes before it leave it. The single commands' parsers
 * read info->attrs: they are given the change's own.
 */
static int cb_nl_batch_op(struct genl_info *info, struct cb_batch *b,
			  const struct nlattr *op, struct nlattr **tb, u32 i)
{
	struct genl_info oi = *info;
	struct cb_batch_rule *c;
	struct cb_rule r;
	int err;
	u8 cmd;

	err = nla_parse_nested(tb, CB_A_MAX, op, cb_nl_policy, info->extack);
	if (err)
		return err;
	if (!tb[CB_A_OP_CMD] || tb[CB_A_OP]) {
		NL_SET_ERR_MSG_ATTR(info->extack, op,
				    "a change has a command and no change within");
		return -EINVAL;
	}
	cmd = nla_get_u8(tb[CB_A_OP_CMD]);
	oi.attrs = tb;
	err = cb_parse_rule(&oi, &r);
	if (err)
		return err;
	c = cb_batch_rule(b, &r);
	if (IS_ERR(c))
		return PTR_ERR(c) == -ENODEV ? cb_not_loaded(info) : PTR_ERR(c);
	if (cmd == CB_CMD_POLICY_NEW && c->exists) {
		NL_SET_ERR_MSG(info->extack, "policy exists (use change)");
		return -EEXIST;
	}
	if (cmd != CB_CMD_POLICY_NEW && !c->exists) {
		NL_SET_ERR_MSG(info->extack, "no such policy");
		return -ENOENT;
	}
	c->op = i;
	if (cmd == CB_CMD_POLICY_DEL) {
		c->exists = false;
		return 0;
	}
	if (cmd == CB_CMD_POLICY_NEW)
		cb_policy_default(&r.policy);
	else
		r.policy = c->r.policy;
	err = cb_parse_policy(&oi, &r.policy);
	if (err)
		return err;
	c->r.policy = r.policy;
	c->exists = true;
	return 0;
}

/* The batch's @i-th change (from 0). */
static const struct nlattr *cb_nl_batch_nth(struct genl_info *info, u32 i)
{
	const struct nlattr *op;
	int rem;

	nla_for_each_attr(op, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem)
		if (!i--)
			return op;
	return NULL;
}

/* Why the whole did not go in, pointing at the change it names. */
static int cb_nl_batch_failed(struct genl_info *info, int err,
			      const struct cb_batch_err *e)
{
	const struct nlattr *op = cb_nl_batch_nth(info, e->op);

	if (err == -ENOSPC)
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, op,
					"the rule table is full (%u rules %s a port)",
					e->limit, e->port ? "with" : "without");
	else if (err == -EDQUOT)
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, op,
					"too many policies with max-open below 100 (at most %u)",
					e->limit);
	else if (err == -ENODEV)
		return cb_not_loaded(info);
	else if (e->lost)
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, op,
					"writing this rule failed (%d), and %u rules could not be put back",
					err, e->lost);
	else if (err == -ENOMEM)
		NL_SET_ERR_MSG_ATTR(info->extack, op,
				    "out of memory for this rule: the batch was undone");
	else
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, op,
					"writing this rule failed (%d): the batch was undone",
					err);
	return err;
}

static int cb_nl_policy_batch(struct sk_buff *skb, struct genl_info *info)
{
	struct cb_batch_err why = { 0 };
	const struct nlattr *op;
	struct nlattr **tb;
	struct cb_batch *b;
	u32 n = 0, i = 0;
	int rem, err;

	err = cb_host_wide(info);
	if (err)
		return err;
	if (!cb_maps_attached())
		return cb_not_loaded(info);
	nla_for_each_attr(op, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		if (nla_type(op) != CB_A_OP) {
			NL_SET_ERR_MSG_ATTR(info->extack, op,
					    "a batch holds changes (CB_A_OP) only");
			return -EINVAL;
		}
		if (++n > CB_BATCH_MAX) {
			NL_SET_ERR_MSG_FMT(info->extack,
					   "at most %u changes in a batch",
					   CB_BATCH_MAX);
			return -E2BIG;
		}
	}
	tb = kmalloc_array(CB_A_MAX + 1, sizeof(*tb), GFP_KERNEL);
	if (!tb)
		return -ENOMEM;
	mutex_lock(&cb_nl_policy_mutex);
	b = cb_batch_begin(n);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	nla_for_each_attr(op, genlmsg_data(info->genlhdr),
			  genlmsg_len(info->genlhdr), rem) {
		err = cb_nl_batch_op(info, b, op, tb, i++);
		if (err) {
			/* whatever the check said, the change it was about */
			if (!info->extack->bad_attr)
				NL_SET_BAD_ATTR(info->extack, op);
			break;
		}
		cond_resched();
	}
	if (err) {
		cb_batch_end(b, false, &why);
		goto out;
	}
	err = cb_batch_end(b, true, &why);
	if (err)
		err = cb_nl_batch_failed(info, err, &why);
out:
	mutex_unlock(&cb_nl_policy_mutex);
	kfree(tb);
	return err;
}

static int cb_fill_rule(struct sk_buff *msg, const void *arg)
{
	return cb_put_rule(msg, arg);
}

static int cb_nl_policy_get(struct sk_buff *skb, struct genl_info *info)
{
	struct cb_rule r;
	int err;

	err = cb_nl_rule(info, &r);
	if (err)
		return err;
	if (cb_rule_get(&r)) {
		NL_SET_ERR_MSG(info->extack, "no such policy");
		return -ENOENT;
	}
	return cb_reply(info, CB_CMD_POLICY_GET, cb_fill_rule, &r);
}

static int cb_nl_policy_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cb_rule_cursor *cur = (void *)cb->ctx;
	struct cb_rule_cursor before;
	struct cb_rule r;
	void *hdr;

	BUILD_BUG_ON(sizeof(*cur) > sizeof(cb->ctx));

	for (;;) {
		before = *cur;
		if (cb_rule_next(cur, &r))
			break;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &cb_genl_family,
				  NLM_F_MULTI, CB_CMD_POLICY_GET);
		if (!hdr || cb_put_rule(skb, &r)) {
			if (hdr)
				genlmsg_cancel(skb, hdr);
			*cur = before;	/* again in the next skb */
			break;
		}
		genlmsg_end(skb, hdr);
	}
	return skb->len;
}

static const struct genl_small_ops cb_nl_ops[] = {
	{ .cmd = CB_CMD_STATUS_GET, .doit = cb_nl_status_get },
	{
		.cmd	= CB_CMD_BREAKER_GET,
		.doit	= cb_nl_breaker_get,
		.dumpit	= cb_nl_breaker_dump,
	},
	{
		.cmd	= CB_CMD_BREAKER_SET,
		.doit	= cb_nl_breaker_set,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= CB_CMD_MAPS_RELEASE,
		.doit	= cb_nl_maps_release,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= CB_CMD_POLICY_NEW,
		.doit	= cb_nl_policy_new,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= CB_CMD_POLICY_SET,
		.doit	= cb_nl_policy_set,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= CB_CMD_POLICY_DEL,
		.doit	= cb_nl_policy_del,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= CB_CMD_POLICY_GET,
		.doit	= cb_nl_policy_get,
		.dumpit	= cb_nl_policy_dump,
	},
	{
		.cmd	= CB_CMD_POLICY_BATCH,
		.doit	= cb_nl_policy_batch,
		.flags	= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group cb_nl_mcgrps[] = {
	{ .name = CB_MCGRP_EVENTS },
};

static struct genl_family cb_genl_family __ro_after_init = {
	.name		= CB_GENL_NAME,
	.version	= CB_GENL_VERSION,
	.maxattr	= CB_A_MAX,
	.policy		= cb_nl_policy,
	.module		= THIS_MODULE,
	.netnsok	= true,		/* breakers are per namespace */
	.small_ops	= cb_nl_ops,
	.n_small_ops	= ARRAY_SIZE(cb_nl_ops),
	.resv_start_op	= CB_CMD_MAX + 1,
	.parallel_ops	= true,
	.mcgrps		= cb_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(cb_nl_mcgrps),
};

/* From the events work (process context). */
void cb_netlink_event(const struct cb_key *key, const struct cb_change *c,
		      u64 seq, u64 time, enum cb_close_kind close, u32 closed)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (!genl_has_listeners(&cb_genl_family, &init_net, 0))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		goto dropped;
	hdr = genlmsg_put(msg, 0, 0, &cb_genl_family, 0, CB_CMD_EVENT);
	if (!hdr || cb_put_key(msg, key) ||
	    nla_put_u8(msg, CB_A_FROM, c->from) ||
	    nla_put_u8(msg, CB_A_STATE, c->to) ||
	    nla_put_u8(msg, CB_A_REASON, c->reason) ||
	    cb_put_u64(msg, CB_A_SEQ, seq) ||
	    cb_put_u64(msg, CB_A_TIME, time) ||
	    cb_put_closed(msg, close, closed)) {
		nlmsg_free(msg);
		goto dropped;
	}
	genlmsg_end(msg, hdr);
	err = genlmsg_multicast(&cb_genl_family, msg, 0, 0, GFP_KERNEL);
	if (err == -ENOBUFS)
		goto dropped;
	return;
dropped:
	cb_stat_add(CB_STAT_EVENTS_DROPPED, 1);
}

/*
 * The policy keys' attribute policy, from their table: the type by their
 * field's size, the range theirs (a key that may be off also takes 0).
 * cb_policy_invalid() then checks the whole policy.
 */
static void cb_nl_policy_keys(void)
{
	static const u8 types[] = { [1] = NLA_U8, [2] = NLA_U16, [4] = NLA_U32,
				    [8] = NLA_U64 };
	const struct cb_pkey *k;
	int i;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		k = &cb_pkeys[i];
		cb_pkey_ranges[i].min = k->unit == CB_UNIT_NS_OFF ? 0 : k->min;
		cb_pkey_ranges[i].max = k->max;
		cb_nl_policy[k->attr].type = types[k->size];
		cb_nl_policy[k->attr].validation_type = NLA_VALIDATE_RANGE_PTR;
		cb_nl_policy[k->attr].range = &cb_pkey_ranges[i];
	}
}

int cb_netlink_init(void)
{
	cb_nl_policy_keys();
	return genl_register_family(&cb_genl_family);
}

void cb_netlink_exit(void)
{
	cb_events_stop();	/* its work sends to the family */
	genl_unregister_family(&cb_genl_family);
}

MODULE_ALIAS_GENL_FAMILY(CB_GENL_NAME);
