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
	cb_print_open();
	if (n) {
		cb_print_u64(CB_PRINT_ANY, "lost", "lost %" PRIu64 " events", n);
	} else {
		cb_print_str(CB_PRINT_JSON, "lost", NULL, "unknown");
		cb_print_text("lost events: the monitor could not keep up");
	}
	cb_print_close("\n");
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
	uint64_t seq, t;

	if (cb_nl_parse(nlh, tb) < 0 || cb_nl_key(tb, &key) || !tb[CB_A_SEQ])
		return MNL_CB_OK;	/* not an event: ignore */
	seq = cb_nl_u64(tb[CB_A_SEQ]);
	if (m->last_seq && seq > m->last_seq + 1)
		cb_lost_line(seq - m->last_seq - 1);
	m->last_seq = seq;
	t = cb_nl_u64(tb[CB_A_TIME]);
	cb_format_addr(key.addr, addr, sizeof(addr));
	cb_print_open();
	cb_print_u64(CB_PRINT_JSON, "seq", NULL, seq);
	cb_print_u64(CB_PRINT_JSON, "time", NULL, t);
	cb_print_text("[%" PRIu64 ".%06" PRIu64 "] ", t / 1000000000,
		      t % 1000000000 / 1000);
	cb_print_str(CB_PRINT_ANY, "dst", "dst %s", addr);
	cb_print_u64(CB_PRINT_ANY, "port", " port %" PRIu64, ntohs(key.port));
	cb_print_str(CB_PRINT_ANY, "proto", " proto %s", cb_proto_name(key.proto));
	cb_print_u64(CB_PRINT_JSON, "netns", NULL, key.netns);
	cb_print_u64(CB_PRINT_JSON, "scope", NULL, key.scope);
	cb_print_str(CB_PRINT_ANY, "from", ": %s",
		     cb_state_name(cb_nl_u8(tb[CB_A_FROM])));
	cb_print_str(CB_PRINT_ANY, "to", " -> %s",
		     cb_state_name(cb_nl_u8(tb[CB_A_STATE])));
	cb_print_str(CB_PRINT_ANY, "reason", " (%s)",
		     cb_reason_name(cb_nl_u8(tb[CB_A_REASON])));
	cb_print_u64(CB_PRINT_TEXT, NULL, " netns %" PRIu64, key.netns);
	if (tb[CB_A_CLOSED])
		cb_print_u64(CB_PRINT_ANY, "closed", ", connections closed %" PRIu64,
			     cb_nl_u32(tb[CB_A_CLOSED]));
	if (tb[CB_A_WOULD_CLOSE])
		cb_print_u64(CB_PRINT_ANY, "would_close",
			     ", connections would close %" PRIu64,
			     cb_nl_u32(tb[CB_A_WOULD_CLOSE]));
	cb_print_close("\n");
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
