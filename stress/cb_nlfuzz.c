// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile control input: random and mutated generic netlink messages sent
 * straight to the module (no cbctl in between), as root.
 *
 *   cb_nlfuzz COUNT [SEED]
 *
 * Kinds of message: random bytes; random commands with random attributes
 * (types, lengths, nesting, duplicates, values out of range); valid
 * messages with bytes flipped, lengths cut or stretched; broken netlink
 * headers. Every message is followed by a status request that must be
 * answered; a sample of about 150 rejected changes is checked to have
 * changed nothing. Exit 0 only if all of that held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/cbreaker.h>

#include "cb_rand.h"

#define MSG_MAX 1024

static struct mnl_socket *sk;
static unsigned int family, portid, seq;

static int family_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
		*(unsigned int *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int family_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_cb, data);
}

static struct nlmsghdr *header(char *buf, unsigned int type, unsigned int cmd,
			       unsigned int flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = CB_GENL_VERSION;
	return nlh;
}

/*
 * Read replies up to the ACK of the status request that follows every
 * message (some messages get no answer at all). The error the message got
 * in *ack: 0 accepted, < 0 rejected, 1 no answer.
 */
static int drain(unsigned int msg_seq, unsigned int sentinel, int *ack)
{
	char buf[65536];
	struct nlmsghdr *nlh;
	int n;

	*ack = 1;
	for (;;) {
		n = recv(mnl_socket_get_fd(sk), buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (nlh = (void *)buf; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			int err = nlh->nlmsg_type == NLMSG_ERROR ?
				  ((struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error : 0;

			if (nlh->nlmsg_seq == sentinel && nlh->nlmsg_type == NLMSG_ERROR)
				return err;	/* the status request must succeed */
			if (nlh->nlmsg_seq == msg_seq &&
			    (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE))
				*ack = err;
		}
	}
}

/* A valid message to mutate: one of a few real requests. */
static struct nlmsghdr *valid(char *buf)
{
	static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 9, 0, 0 };
	struct nlmsghdr *nlh;
	struct nlattr *op;

	switch (below(6)) {
	case 0:
		nlh = header(buf, family, CB_CMD_POLICY_NEW, 0);
		mnl_attr_put(nlh, CB_A_ADDR, 16, mapped);
		mnl_attr_put_u8(nlh, CB_A_PREFIXLEN, 112);
		mnl_attr_put_u8(nlh, CB_A_PROTO, 6);
		mnl_attr_put_u32(nlh, CB_A_P_WINDOW_CALLS, 20);
		mnl_attr_put_u32(nlh, CB_A_P_MIN_CALLS, 5);
		mnl_attr_put_u64(nlh, CB_A_P_OPEN_NS, 1000000000ULL);
		mnl_attr_put_u16(nlh, CB_A_P_BACKOFF, 150);
		mnl_attr_put_u8(nlh, CB_A_P_MODE, 1);
		return nlh;
	case 1:
		nlh = header(buf, family, CB_CMD_BREAKER_SET, 0);
		mnl_attr_put_u8(nlh, CB_A_ACTION, CB_ACTION_TRIP);
		mnl_attr_put(nlh, CB_A_ADDR, 16, mapped);
		mnl_attr_put_u16(nlh, CB_A_PORT, 80);
		return nlh;
	case 2:
		nlh = header(buf, family, CB_CMD_POLICY_SET, 0);
		mnl_attr_put(nlh, CB_A_DEFAULT, 0, NULL);
		mnl_attr_put_u64(nlh, CB_A_P_WINDOW_NS, 5000000000ULL);
		return nlh;
	case 3:
		return header(buf, family, CB_CMD_POLICY_GET, NLM_F_DUMP);
	case 4:		/* a batch: a rule added, then changed */
		nlh = header(buf, family, CB_CMD_POLICY_BATCH, 0);
		op = mnl_attr_nest_start(nlh, CB_A_OP);
		mnl_attr_put_u8(nlh, CB_A_OP_CMD, CB_CMD_POLICY_NEW);
		mnl_attr_put(nlh, CB_A_ADDR, 16, mapped);
		mnl_attr_put_u8(nlh, CB_A_PREFIXLEN, 120);
		mnl_attr_put_u16(nlh, CB_A_PORT, 443);
		mnl_attr_put_u8(nlh, CB_A_P_MAX_OPEN, 50);
		mnl_attr_nest_end(nlh, op);
		op = mnl_attr_nest_start(nlh, CB_A_OP);
		mnl_attr_put_u8(nlh, CB_A_OP_CMD, CB_CMD_POLICY_SET);
		mnl_attr_put(nlh, CB_A_ADDR, 16, mapped);
		mnl_attr_put_u8(nlh, CB_A_PREFIXLEN, 120);
		mnl_attr_put_u16(nlh, CB_A_PORT, 443);
		mnl_attr_put_u32(nlh, CB_A_P_MIN_CALLS, 7);
		mnl_attr_nest_end(nlh, op);
		return nlh;
	default:
		nlh = header(buf, family, CB_CMD_BREAKER_GET, 0);
		mnl_attr_put(nlh, CB_A_ADDR, 16, mapped);
		mnl_attr_put_u16(nlh, CB_A_PORT, 80);
		return nlh;
	}
}

/* Random attributes, some nested, some of real types with wrong sizes. */
static void random_attrs(struct nlmsghdr *nlh, int depth)
{
	unsigned int i, n = below(10), len, type;
	unsigned char payload[64];
	struct nlattr *nest;

	for (i = 0; i < n && nlh->nlmsg_len < MSG_MAX - 128; i++) {
		type = below(3) ? 1 + below(CB_A_MAX + 3) : below(65536);
		if (depth < 3 && !below(6)) {
			nest = mnl_attr_nest_start(nlh, type);
			random_attrs(nlh, depth + 1);
			mnl_attr_nest_end(nlh, nest);
			continue;
		}
		len = below(4) ? (1u << below(4)) : below(sizeof(payload));
		for (unsigned int j = 0; j < len; j++)
			payload[j] = below(4) ? rnd() : (below(2) ? 0 : 0xff);
		mnl_attr_put(nlh, type, len, payload);
	}
}

static int build(char *buf)
{
	struct nlmsghdr *nlh;
	unsigned int len, i, cmd;

	switch (below(5)) {
	case 0:		/* random bytes behind a genl header */
		cmd = below(CB_CMD_MAX + 4);
		nlh = header(buf, family, cmd == CB_CMD_MAPS_RELEASE ? 0 : cmd,
			     below(4) ? 0 : NLM_F_DUMP);
		len = below(256);
		for (i = 0; i < len; i++)
			buf[nlh->nlmsg_len + i] = rnd();
		nlh->nlmsg_len += len;
		return nlh->nlmsg_len;
	case 1:		/* random attributes */
	case 2:
		cmd = below(CB_CMD_MAX + 4);
		/* releasing the maps is a legitimate order; it is tested elsewhere */
		nlh = header(buf, family, cmd == CB_CMD_MAPS_RELEASE ? 0 : cmd,
			     below(5) ? 0 : NLM_F_DUMP);
		random_attrs(nlh, 0);
		return nlh->nlmsg_len;
	case 3:		/* a valid message, mutated */
		nlh = valid(buf);
		for (i = below(4) + 1; i; i--)
			buf[sizeof(*nlh) + sizeof(struct genlmsghdr) +
			    below(nlh->nlmsg_len - sizeof(*nlh) - sizeof(struct genlmsghdr))] ^=
				1 << below(8);
		if (!below(4))
			nlh->nlmsg_len -= below(nlh->nlmsg_len - sizeof(*nlh));
		return nlh->nlmsg_len;
	default:	/* a broken netlink header */
		nlh = valid(buf);
		len = nlh->nlmsg_len;
		switch (below(4)) {
		case 0:
			nlh->nlmsg_len = below(2 * len + 16);
			break;
		case 1:
			nlh->nlmsg_type = below(65536);
			break;
		case 2:
			nlh->nlmsg_flags = rnd();
			break;
		default:
			((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = rnd();
		}
		return len;
	}
}

static int is_change(const char *buf, unsigned int len)
{
	const struct genlmsghdr *g = (const void *)(buf + sizeof(struct nlmsghdr));
	const struct nlmsghdr *nlh = (const void *)buf;

	if (len < sizeof(*nlh) + sizeof(*g) || nlh->nlmsg_type != family)
		return 0;
	return g->cmd == CB_CMD_POLICY_NEW || g->cmd == CB_CMD_POLICY_SET ||
	       g->cmd == CB_CMD_POLICY_DEL || g->cmd == CB_CMD_BREAKER_SET ||
	       g->cmd == CB_CMD_POLICY_BATCH;
}

static char *snapshot(void)
{
	static char out[2][65536];
	static int which;
	FILE *p = popen("{ cbctl policy show; cbctl breaker list; } 2>&1", "r");
	size_t n = 0;

	which ^= 1;
	if (p) {
		n = fread(out[which], 1, sizeof(out[which]) - 1, p);
		pclose(p);
	}
	out[which][n] = '\0';
	return out[which];
}

/* Send a status request behind the message just sent; its sequence. */
static unsigned int sentinel(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = header(buf, family, CB_CMD_STATUS_GET, 0);

	return mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0 ? 0 : nlh->nlmsg_seq;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	unsigned long i, accepted = 0, rejected = 0, unanswered = 0, sampled = 0;
	unsigned long changed = 0;
	char buf[MSG_MAX + 256], *before = NULL;
	struct nlmsghdr *nlh;
	int len, ack, bad = 0, check;

	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed5eedULL;
	sk = mnl_socket_open(NETLINK_GENERIC);
	if (!sk || mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		return 1;
	}
	portid = mnl_socket_get_portid(sk);
	nlh = header(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, CB_GENL_NAME);
	mnl_socket_sendto(sk, nlh, nlh->nlmsg_len);
	len = mnl_socket_recvfrom(sk, buf, sizeof(buf));
	mnl_cb_run(buf, len, seq, portid, family_msg_cb, &family);
	if (!family) {
		fprintf(stderr, "cb_nlfuzz: no cbreaker family\n");
		return 1;
	}
	recv(mnl_socket_get_fd(sk), buf, sizeof(buf), MSG_DONTWAIT);	/* its ACK */

	for (i = 0; i < n; i++) {
		unsigned int msg_seq, sent;

		memset(buf, 0, sizeof(buf));
		len = build(buf);
		msg_seq = ((struct nlmsghdr *)buf)->nlmsg_seq;
		/* about 150 samples whatever the count: snapshots are slow */
		check = is_change(buf, len) && !below(n / 375 + 1);
		if (check)
			before = snapshot();
		if (mnl_socket_sendto(sk, buf, len) < 0) {
			rejected++;	/* refused by netlink itself */
			continue;
		}
		sent = sentinel();
		if (!sent || drain(msg_seq, sent, &ack)) {
			fprintf(stderr, "cb_nlfuzz: the module stopped answering after message %lu\n", i);
			bad = 1;
			break;
		}
		if (ack == 0)
			accepted++;
		else if (ack < 0)
			rejected++;
		else
			unanswered++;
		if (check && ack < 0) {
			sampled++;
			if (strcmp(before, snapshot())) {
				changed++;
				fprintf(stderr, "cb_nlfuzz: message %lu rejected (%d) but changed the state\n",
					i, ack);
			}
		}
	}
	printf("cb_nlfuzz: %lu messages: %lu accepted, %lu rejected, %lu unanswered; "
	       "%lu rejected changes sampled, %lu of them changed state\n",
	       i, accepted, rejected, unanswered, sampled, changed);
	mnl_socket_close(sk);
	return bad || changed || i < n;
}
