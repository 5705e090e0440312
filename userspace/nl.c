// SPDX-License-Identifier: GPL-2.0
/* Generic netlink client for the module's control family (libmnl). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "cbctl.h"

struct cb_nl {
	struct mnl_socket *sk;
	uint16_t family;
	uint32_t events_group;
	uint32_t portid;
	uint32_t seq;
};

/* The kernel's message for the last failed request (extack), if any. */
static char cb_extack[256];
/* Where in that request it points (NLMSGERR_ATTR_OFFS); 0: nowhere. */
static uint32_t cb_extack_off;

static int cb_nl_group_cb(const struct nlattr *a, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1] = { 0 };
	const struct nlattr *g;

	mnl_attr_for_each_nested(g, a) {
		if (mnl_attr_get_type(g) <= CTRL_ATTR_MCAST_GRP_MAX)
			tb[mnl_attr_get_type(g)] = g;
	}
	if (tb[CTRL_ATTR_MCAST_GRP_NAME] && tb[CTRL_ATTR_MCAST_GRP_ID] &&
	    !strcmp(mnl_attr_get_str(tb[CTRL_ATTR_MCAST_GRP_NAME]),
		    CB_MCGRP_EVENTS))
		((struct cb_nl *)data)->events_group =
			mnl_attr_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	return MNL_CB_OK;
}

static int cb_nl_family_attr(const struct nlattr *a, void *data)
{
	struct cb_nl *nl = data;

	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
		nl->family = mnl_attr_get_u16(a);
	if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS &&
	    mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
		mnl_attr_parse_nested(a, cb_nl_group_cb, nl);
	return MNL_CB_OK;
}

static int cb_nl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr),
			      cb_nl_family_attr, data);
}

/* NLMSG_ERROR: keep errno and the extack message. */
static int cb_nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);
	struct nlattr *a;

	(void)data;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		mnl_attr_for_each(a, nlh, off) {
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(cb_extack, sizeof(cb_extack), "%s",
					 mnl_attr_get_str(a));
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_OFFS &&
			    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				cb_extack_off = mnl_attr_get_u32(a);
		}
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

static int cb_nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_STOP;
}

static int cb_nl_noop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* With a control array, libmnl calls only what is set here. */
static mnl_cb_t cb_nl_ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = cb_nl_noop_cb,
	[NLMSG_ERROR] = cb_nl_error_cb,
	[NLMSG_DONE] = cb_nl_done_cb,
};

static struct nlmsghdr *cb_nl_msg(struct cb_nl *nl, char *buf, uint16_t type,
				  uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/*
 * A dump the kernel flagged interrupted (NLM_F_DUMP_INTR: what it walked
 * changed, so entries may repeat, none is missed) goes on to its end:
 * the flag is taken off, for libmnl would stop there, and the reader is
 * told it may see an entry twice (cb_nl_dump_repeats).
 */
bool cb_nl_dump_repeats;

static void cb_nl_dump_unflag(char *buf, ssize_t n)
{
	struct nlmsghdr *h;
	int left = n;

	for (h = (void *)buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
		if (h->nlmsg_flags & NLM_F_DUMP_INTR) {
			h->nlmsg_flags &= ~NLM_F_DUMP_INTR;
			cb_nl_dump_repeats = true;
		}
}

/* Send @nlh and run @cb on every reply until the ACK or the dump's end. */
static int cb_nl_talk(struct cb_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		      void *data)
{
	char buf[32768];	/* a dump's batch; the kernel's default is smaller */
	ssize_t n;
	int ret;

	cb_extack[0] = '\0';
	cb_extack_off = 0;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		if (nlh->nlmsg_flags & NLM_F_DUMP)
			cb_nl_dump_unflag(buf, n);
		ret = mnl_cb_run2(buf, n, nlh->nlmsg_seq, nl->portid, cb, data,
				  cb_nl_ctl_cbs, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

static void cb_nl_close(struct cb_nl *nl)
{
	mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

static int cb_nl_open(struct cb_nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, err;

	memset(nl, 0, sizeof(*nl));
	nl->seq = time(NULL);
	nl->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sk)
		return cb_err("netlink socket: %s", strerror(errno));
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno;
		cb_nl_close(nl);
		return cb_err("netlink bind: %s", strerror(err));
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));

	nlh = cb_nl_msg(nl, buf, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, CB_GENL_NAME);
	err = cb_nl_talk(nl, nlh, cb_nl_family_cb, nl);
	if (err || !nl->family) {
		cb_nl_close(nl);
		return cb_err("the cbreaker module is not loaded (modprobe cbreaker)");
	}
	return 0;
}


/* A failed request, in the kernel's words when it gave some. */
int cb_nl_report(int err)
{
	if (err == -ENOPKG)
		return -1;	/* cb_nl_open() said so */
	if (err == -EPERM && !cb_extack[0])	/* the family's admin check */
		return cb_err("operation not permitted (needs CAP_NET_ADMIN)");
	if (cb_extack[0])
		return cb_err("%s", cb_extack);
	return cb_err("%s", strerror(-err));
}

/* Requests share one socket for the life of the process (batches). */
static struct cb_nl cb_req_nl;

int cb_nl_ask(uint8_t cmd, uint16_t flags, cb_build_fn build, const void *arg,
	      mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	if (!cb_req_nl.sk && cb_nl_open(&cb_req_nl))
		return -ENOPKG;
	nlh = cb_nl_msg(&cb_req_nl, buf, cb_req_nl.family, flags, cmd,
			CB_GENL_VERSION);
	if (build)
		build(nlh, arg);
	return cb_nl_talk(&cb_req_nl, nlh, cb, data);
}

struct nlmsghdr *cb_nl_big(uint8_t cmd, size_t size)
{
	char *buf;

	if (!cb_req_nl.sk && cb_nl_open(&cb_req_nl))
		return NULL;
	buf = calloc(1, size);
	if (!buf) {
		cb_err("out of memory");
		return NULL;
	}
	return cb_nl_msg(&cb_req_nl, buf, cb_req_nl.family, 0, cmd,
			 CB_GENL_VERSION);
}

int cb_nl_send_big(struct nlmsghdr *nlh, uint32_t *bad_off)
{
	int fd = mnl_socket_get_fd(cb_req_nl.sk), size = nlh->nlmsg_len + 4096;
	int err;

	/* past net.core.wmem_max only with CAP_NET_ADMIN, which changes need */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	err = cb_nl_talk(&cb_req_nl, nlh, NULL, NULL);
	*bad_off = err ? cb_extack_off : 0;
	return err;
}

int cb_nl_request(uint8_t cmd, uint16_t flags, cb_build_fn build,
		  const void *arg, mnl_cb_t cb, void *data)
{
	int err = cb_nl_ask(cmd, flags, build, arg, cb, data);

	return err ? cb_nl_report(err) : 0;
}

void cb_nl_put_key(struct nlmsghdr *nlh, const struct cb_key *key)
{
	mnl_attr_put(nlh, CB_A_ADDR, sizeof(key->addr), key->addr);
	mnl_attr_put_u16(nlh, CB_A_PORT, ntohs(key->port));
	mnl_attr_put_u8(nlh, CB_A_PROTO, key->proto);
	mnl_attr_put_u32(nlh, CB_A_SCOPE, key->scope);
	if (key->netns)		/* else the module takes the caller's */
		mnl_attr_put_u64(nlh, CB_A_NETNS, key->netns);
}

#define CB_MNL_TYPE(size) ((size) == 1 ? MNL_TYPE_U8 : (size) == 2 ? MNL_TYPE_U16 : \
			   (size) == 4 ? MNL_TYPE_U32 : MNL_TYPE_U64)

/* Attribute types we read and their expected kind. */
static const enum mnl_attr_data_type cb_attr_types[CB_A_MAX + 1] = {
	[CB_A_ADDR] = MNL_TYPE_BINARY,	[CB_A_PORT] = MNL_TYPE_U16,
	[CB_A_PROTO] = MNL_TYPE_U8,	[CB_A_STATE] = MNL_TYPE_U8,
	[CB_A_FORCED] = MNL_TYPE_U8,	[CB_A_CALLS] = MNL_TYPE_U64,
	[CB_A_SUCCESSES] = MNL_TYPE_U64, [CB_A_FAILURES] = MNL_TYPE_U64,
	[CB_A_SLOW] = MNL_TYPE_U64,	[CB_A_REJECTED] = MNL_TYPE_U64,
	[CB_A_OPENED_AT] = MNL_TYPE_U64, [CB_A_OPEN_UNTIL] = MNL_TYPE_U64,
	[CB_A_NOW] = MNL_TYPE_U64,	[CB_A_VERSION] = MNL_TYPE_NUL_STRING,
	[CB_A_MAPS_ATTACHED] = MNL_TYPE_U8, [CB_A_BREAKERS] = MNL_TYPE_U32,
	[CB_A_BREAKERS_MAX] = MNL_TYPE_U32, [CB_A_WINDOW_CALLS] = MNL_TYPE_U32,
	[CB_A_WINDOW_FAILURES] = MNL_TYPE_U32, [CB_A_WINDOW_SLOW] = MNL_TYPE_U32,
	[CB_A_TRIPS] = MNL_TYPE_U8,	[CB_A_MODE] = MNL_TYPE_U8,
	[CB_A_TRACKED] = MNL_TYPE_U8,	[CB_A_DEFAULT] = MNL_TYPE_FLAG,
	[CB_A_PREFIXLEN] = MNL_TYPE_U8,	[CB_A_RULES] = MNL_TYPE_U32,
#define CB_PKEY(attr, name, range, field, type, ...) \
	[CB_A_P_##attr] = CB_MNL_TYPE(sizeof(type)),
#include <linux/cbreaker_keys.h>
#undef CB_PKEY
	[CB_A_FROM] = MNL_TYPE_U8,
	[CB_A_REASON] = MNL_TYPE_U8,	[CB_A_SEQ] = MNL_TYPE_U64,
	[CB_A_TIME] = MNL_TYPE_U64,	[CB_A_STATS] = MNL_TYPE_NESTED,
	[CB_A_PROBES_PLACED] = MNL_TYPE_U16, [CB_A_PROBES_OK] = MNL_TYPE_U16,
	[CB_A_PROBES_FAILED] = MNL_TYPE_U16, [CB_A_DURATION_NS] = MNL_TYPE_U64,
	[CB_A_HISTORY] = MNL_TYPE_NESTED, [CB_A_NETNS] = MNL_TYPE_U64,
	[CB_A_SCOPE] = MNL_TYPE_U32,	[CB_A_ABANDONED] = MNL_TYPE_U64,
	[CB_A_CONNS] = MNL_TYPE_U32,
	[CB_A_CLOSED] = MNL_TYPE_U32,	[CB_A_WOULD_CLOSE] = MNL_TYPE_U32,
};

static int cb_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type <= 0 || type > CB_A_MAX || !cb_attr_types[type])
		return MNL_CB_OK;	/* newer module: skip what we don't know */
	if (mnl_attr_validate(a, cb_attr_types[type]) < 0)
		return MNL_CB_ERROR;
	if (type == CB_A_ADDR && mnl_attr_get_payload_len(a) != 16)
		return MNL_CB_ERROR;
	tb[type] = a;
	return MNL_CB_OK;
}

int cb_nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	memset(tb, 0, sizeof(*tb) * (CB_A_MAX + 1));
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), cb_attr_cb, tb);
}

int cb_nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb)
{
	memset(tb, 0, sizeof(*tb) * (CB_A_MAX + 1));
	return mnl_attr_parse_nested(nest, cb_attr_cb, tb);
}

uint64_t cb_nl_u64(const struct nlattr *a)
{
	return a ? mnl_attr_get_u64(a) : 0;
}

uint64_t cb_nl_uint(const struct nlattr *a)
{
	switch (a ? mnl_attr_get_payload_len(a) : 0) {
	case 1:
		return mnl_attr_get_u8(a);
	case 2:
		return mnl_attr_get_u16(a);
	case 4:
		return mnl_attr_get_u32(a);
	case 8:
		return mnl_attr_get_u64(a);
	}
	return 0;
}

void cb_nl_put_uint(struct nlmsghdr *nlh, uint16_t type, unsigned int size,
		    uint64_t v)
{
	switch (size) {
	case 1:
		mnl_attr_put_u8(nlh, type, v);
		break;
	case 2:
		mnl_attr_put_u16(nlh, type, v);
		break;
	case 4:
		mnl_attr_put_u32(nlh, type, v);
		break;
	default:
		mnl_attr_put_u64(nlh, type, v);
	}
}

uint32_t cb_nl_u32(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}

uint16_t cb_nl_u16(const struct nlattr *a)
{
	return a ? mnl_attr_get_u16(a) : 0;
}

uint8_t cb_nl_u8(const struct nlattr *a)
{
	return a ? mnl_attr_get_u8(a) : 0;
}

/* The destination of a breaker or an event. */
int cb_nl_key(const struct nlattr **tb, struct cb_key *key)
{
	if (!tb[CB_A_ADDR] || !tb[CB_A_PORT])
		return -1;
	memset(key, 0, sizeof(*key));
	memcpy(key->addr, mnl_attr_get_payload(tb[CB_A_ADDR]), 16);
	key->port = htons(mnl_attr_get_u16(tb[CB_A_PORT]));
	key->proto = cb_nl_u8(tb[CB_A_PROTO]);
	key->scope = cb_nl_u32(tb[CB_A_SCOPE]);
	key->netns = cb_nl_u64(tb[CB_A_NETNS]);
	return 0;
}

static int cb_stats_cb(const struct nlattr *a, void *data)
{
	struct cb_status_info *st = data;
	int type = mnl_attr_get_type(a);

	if (type >= 1 && type <= __CB_STAT_MAX &&
	    mnl_attr_validate(a, MNL_TYPE_U64) == 0)
		st->stats[type - 1] = mnl_attr_get_u64(a);
	return MNL_CB_OK;
}

static int cb_status_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	struct cb_status_info *st = data;

	if (cb_nl_parse(nlh, tb) < 0)
		return MNL_CB_ERROR;
	if (tb[CB_A_VERSION])
		snprintf(st->version, sizeof(st->version), "%s",
			 mnl_attr_get_str(tb[CB_A_VERSION]));
	st->maps_attached = cb_nl_u8(tb[CB_A_MAPS_ATTACHED]);
	st->breakers = cb_nl_u32(tb[CB_A_BREAKERS]);
	st->breakers_max = cb_nl_u32(tb[CB_A_BREAKERS_MAX]);
	st->rules = cb_nl_u32(tb[CB_A_RULES]);
	if (tb[CB_A_STATS])
		mnl_attr_parse_nested(tb[CB_A_STATS], cb_stats_cb, st);
	return MNL_CB_OK;
}

int cb_nl_status(struct cb_status_info *st)
{
	memset(st, 0, sizeof(*st));
	return cb_nl_request(CB_CMD_STATUS_GET, 0, NULL, NULL, cb_status_cb, st);
}

int cb_nl_maps_release(void)
{
	return cb_nl_request(CB_CMD_MAPS_RELEASE, 0, NULL, NULL, NULL, NULL);
}

/*
 * Follow the events group until @fn says stop (non-zero) or the socket
 * fails. A full socket loses events: @lost is told, and goes on.
 */
int cb_nl_monitor(mnl_cb_t fn, void (*lost)(void), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct cb_nl nl;
	int ret, one = 1;
	ssize_t n;

	if (cb_nl_open(&nl))
		return -1;
	if (!nl.events_group) {
		cb_nl_close(&nl);
		return cb_err("the module has no events group");
	}
	/* so that what overflows our socket counts as dropped in the module */
	mnl_socket_setsockopt(nl.sk, NETLINK_BROADCAST_ERROR, &one, sizeof(one));
	if (mnl_socket_setsockopt(nl.sk, NETLINK_ADD_MEMBERSHIP,
				  &nl.events_group, sizeof(nl.events_group))) {
		ret = cb_err("joining the events group: %s", strerror(errno));
		cb_nl_close(&nl);
		return ret;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl.sk, buf, sizeof(buf));
		if (n < 0 && errno == ENOBUFS) {
			lost();
			continue;
		}
		if (n < 0) {
			ret = errno == EINTR ? 0 : cb_err("receiving events: %s",
							  strerror(errno));
			break;
		}
		ret = mnl_cb_run(buf, n, 0, 0, fn, data);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? cb_err("bad event message") : 0;
			break;
		}
	}
	cb_nl_close(&nl);
	return ret;
}
