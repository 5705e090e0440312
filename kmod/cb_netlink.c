// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink control interface. Reading is open to all; every command
 * that changes something needs CAP_NET_ADMIN (GENL_ADMIN_PERM). Attributes
 * are checked by the policy first, then for meaning, with an extack message.
 */
#include <linux/in.h>
#include <linux/ktime.h>
#include <net/genetlink.h>

#include "cb_core.h"
#include "cb_engine.h"

static const struct nla_policy cb_nl_policy[CB_A_MAX + 1] = {
	[CB_A_ADDR]	= NLA_POLICY_EXACT_LEN(16),
	[CB_A_PORT]	= NLA_POLICY_MIN(NLA_U16, 1),
	[CB_A_PROTO]	= NLA_POLICY_RANGE(NLA_U8, IPPROTO_TCP, IPPROTO_UDP),
	[CB_A_ACTION]	= NLA_POLICY_RANGE(NLA_U8, CB_ACTION_TRIP,
					   __CB_ACTION_MAX - 1),
	[CB_A_ALL]	= { .type = NLA_FLAG },
};

static struct genl_family cb_genl_family;

/* A destination from CB_A_ADDR/PORT/PROTO; proto defaults to TCP. */
static int cb_parse_key(struct genl_info *info, struct cb_key *key)
{
	struct nlattr **tb = info->attrs;
	u8 proto = IPPROTO_TCP;

	if (GENL_REQ_ATTR_CHECK(info, CB_A_ADDR) ||
	    GENL_REQ_ATTR_CHECK(info, CB_A_PORT))
		return -EINVAL;
	if (tb[CB_A_PROTO])
		proto = nla_get_u8(tb[CB_A_PROTO]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_PROTO],
				    "proto must be tcp or udp");
		return -EINVAL;
	}
	memset(key, 0, sizeof(*key));
	nla_memcpy(key->addr, tb[CB_A_ADDR], sizeof(key->addr));
	key->port = htons(nla_get_u16(tb[CB_A_PORT]));
	key->proto = proto;
	return 0;
}

static int cb_put_breaker(struct sk_buff *skb, const struct cb_key *key,
			  const struct cb_breaker *b, u64 now)
{
	if (nla_put(skb, CB_A_ADDR, sizeof(key->addr), key->addr) ||
	    nla_put_u16(skb, CB_A_PORT, ntohs(key->port)) ||
	    nla_put_u8(skb, CB_A_PROTO, key->proto) ||
	    nla_put_u8(skb, CB_A_STATE, cb_engine_state(b, now)) ||
	    nla_put_u8(skb, CB_A_FORCED, b->forced) ||
	    nla_put_u64_64bit(skb, CB_A_CALLS, b->calls, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_SUCCESSES, b->successes, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_FAILURES, b->failures, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_SLOW, b->slow, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_REJECTED, b->rejected, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_OPENED_AT, b->opened_at, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_OPEN_UNTIL, b->open_until, CB_A_PAD) ||
	    nla_put_u64_64bit(skb, CB_A_NOW, now, CB_A_PAD))
		return -EMSGSIZE;
	return 0;
}

static int cb_nl_status_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &cb_genl_family, 0,
				CB_CMD_STATUS_GET);
	if (!hdr)
		goto nospace;
	if (nla_put_string(msg, CB_A_VERSION, CB_VERSION) ||
	    nla_put_u8(msg, CB_A_MAPS_ATTACHED, cb_maps_attached()) ||
	    nla_put_u32(msg, CB_A_BREAKERS, cb_breakers_count()) ||
	    nla_put_u32(msg, CB_A_BREAKERS_MAX, cb_breakers_capacity()) ||
	    nla_put_u64_64bit(msg, CB_A_NOW, ktime_get_ns(), CB_A_PAD))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int cb_nl_breaker_get(struct sk_buff *skb, struct genl_info *info)
{
	struct cb_breaker b;
	struct cb_key key;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = cb_parse_key(info, &key);
	if (err)
		return err;
	err = cb_breaker_read(&key, &b);
	if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no breaker for that destination");
	else if (err)
		NL_SET_ERR_MSG(info->extack, "cbreaker is not loaded");
	if (err)
		return err;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &cb_genl_family, 0,
				CB_CMD_BREAKER_GET);
	if (!hdr || cb_put_breaker(msg, &key, &b, ktime_get_ns())) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* Dump state kept in cb->ctx: the last key sent. */
struct cb_dump_ctx {
	struct cb_key last;
	bool started;
};

static int cb_nl_breaker_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cb_dump_ctx *ctx = (void *)cb->ctx;
	struct cb_breaker b;
	struct cb_key key;
	void *hdr;

	BUILD_BUG_ON(sizeof(*ctx) > sizeof(cb->ctx));

	while (!cb_breaker_next(ctx->started ? &ctx->last : NULL, &key, &b)) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &cb_genl_family,
				  NLM_F_MULTI, CB_CMD_BREAKER_GET);
		if (!hdr)
			break;
		if (cb_put_breaker(skb, &key, &b, ktime_get_ns())) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		ctx->last = key;
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
	if (!cb_maps_attached()) {
		NL_SET_ERR_MSG(info->extack,
			       "cbreaker programs are not loaded (cbctl load)");
		return -ENODEV;
	}

	if (tb[CB_A_ALL]) {
		if (action != CB_ACTION_RESET || tb[CB_A_ADDR] || tb[CB_A_PORT]) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[CB_A_ALL],
					    "only reset applies to all breakers");
			return -EINVAL;
		}
		cb_breaker_reset_all();
		return 0;
	}

	err = cb_parse_key(info, &key);
	if (err)
		return err;
	err = cb_breaker_action(&key, action);
	if (err == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no breaker for that destination");
	else if (err == -E2BIG)
		NL_SET_ERR_MSG(info->extack, "breaker table is full");
	return err;
}

static int cb_nl_maps_release(struct sk_buff *skb, struct genl_info *info)
{
	cb_maps_release();
	return 0;
}

static const struct genl_small_ops cb_nl_ops[] = {
	{
		.cmd	= CB_CMD_STATUS_GET,
		.doit	= cb_nl_status_get,
	},
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
};

static struct genl_family cb_genl_family __ro_after_init = {
	.name		= CB_GENL_NAME,
	.version	= CB_GENL_VERSION,
	.maxattr	= CB_A_MAX,
	.policy		= cb_nl_policy,
	.module		= THIS_MODULE,
	.small_ops	= cb_nl_ops,
	.n_small_ops	= ARRAY_SIZE(cb_nl_ops),
	.resv_start_op	= CB_CMD_MAX + 1,
};

int cb_netlink_init(void)
{
	return genl_register_family(&cb_genl_family);
}

void cb_netlink_exit(void)
{
	genl_unregister_family(&cb_genl_family);
}
MODULE_ALIAS_GENL_FAMILY(CB_GENL_NAME);
