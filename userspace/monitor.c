// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl monitor: one line (or one JSON object with -j) per state change,
 * until interrupted. Sequence gaps and socket overruns are said, never
 * silently skipped.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "cbctl.h"

struct cb_monitor {
	uint64_t last_seq;
};

static void cb_lost_line(uint64_t n)
{
	if (cb_json) {
		jw_obj_open(NULL);
		if (n)
			jw_u64("lost", n);
		else
			jw_str("lost", "unknown");
		jw_obj_close();
		jw_end();
	} else if (n) {
		printf("lost %" PRIu64 " events\n", n);
	} else {
		printf("lost events: the monitor could not keep up\n");
	}
}

static void cb_overrun(void)
{
	cb_lost_line(0);
}

static int cb_event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CB_A_MAX + 1];
	struct cb_monitor *m = data;
	char addr[INET6_ADDRSTRLEN];
	struct cb_key key;
	uint64_t seq;

	if (cb_nl_parse(nlh, tb) < 0 || cb_nl_key(tb, &key) || !tb[CB_A_SEQ])
		return MNL_CB_OK;	/* not an event: ignore */
	seq = cb_nl_u64(tb[CB_A_SEQ]);
	if (m->last_seq && seq > m->last_seq + 1)
		cb_lost_line(seq - m->last_seq - 1);
	m->last_seq = seq;
	cb_format_addr(key.addr, addr, sizeof(addr));
	if (cb_json) {
		jw_obj_open(NULL);
		jw_u64("seq", seq);
		jw_u64("time", cb_nl_u64(tb[CB_A_TIME]));
		jw_str("dst", addr);
		jw_u64("port", ntohs(key.port));
		jw_str("proto", cb_proto_name(key.proto));
		jw_u64("netns", key.netns);
		jw_u64("scope", key.scope);
		jw_str("from", cb_state_name(cb_nl_u8(tb[CB_A_FROM])));
		jw_str("to", cb_state_name(cb_nl_u8(tb[CB_A_STATE])));
		jw_str("reason", cb_reason_name(cb_nl_u8(tb[CB_A_REASON])));
		jw_obj_close();
		jw_end();
	} else {
		uint64_t t = cb_nl_u64(tb[CB_A_TIME]);

		printf("[%" PRIu64 ".%06" PRIu64 "] dst %s port %u proto %s: %s -> %s (%s) netns %" PRIu64 "\n",
		       t / 1000000000, t % 1000000000 / 1000, addr,
		       ntohs(key.port), cb_proto_name(key.proto),
		       cb_state_name(cb_nl_u8(tb[CB_A_FROM])),
		       cb_state_name(cb_nl_u8(tb[CB_A_STATE])),
		       cb_reason_name(cb_nl_u8(tb[CB_A_REASON])),
		       (uint64_t)key.netns);
	}
	return MNL_CB_OK;
}

static void cb_stop(int sig)
{
	(void)sig;	/* recv() returns EINTR; the loop ends there */
}

int cb_cmd_monitor(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = cb_stop };
	struct cb_monitor m = { 0 };

	if (argc == 1 && cb_matches(argv[0], "help")) {
		printf("Usage: cbctl monitor\n"
		       "One line per breaker state change, until interrupted.\n");
		return 0;
	}
	if (argc)
		return cb_err("unknown argument \"%s\"", argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return cb_nl_monitor(cb_event_cb, cb_overrun, &m);
}
