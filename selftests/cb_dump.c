// SPDX-License-Identifier: GPL-2.0
/*
 * Dumps of the breaker table make progress while someone else churns it:
 * an unprivileged user, in a network namespace of its own, dials distinct
 * destinations as fast as it can, so the full table evicts all along;
 * meanwhile `cbctl breaker list` and `cbctl metrics` must answer, each
 * breaker once.
 */
#include "cb_test.h"
#include <sched.h>
#include <signal.h>
#include "kselftest_harness.h"

#define TABLE 512

FIXTURE(dump) {
	pid_t churn;
};

/* Datagrams to distinct 10.x.y.z, each a breaker; never returns. */
static void __attribute__((noreturn)) cb_churn(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	unsigned int i;
	int fd;

	if (unshare(CLONE_NEWNET) || setgid(65534) || setuid(65534))
		_exit(1);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	for (i = 0;; i++) {
		sa.sin_addr.s_addr = htonl(0x0a000000 | (i & 0xffffff));
		/* no route here: it fails, after the hook made its breaker */
		sendto(fd, "x", 1, MSG_DONTWAIT, (void *)&sa, sizeof(sa));
	}
}

FIXTURE_SETUP(dump)
{
	self->churn = -1;
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	cb_sh("cbctl unload 2>/dev/null");
	ASSERT_EQ(0, cb_sh("cbctl load table %u && "
			   "cbctl policy add dst 10.0.0.0/8 proto udp >/dev/null", TABLE));
	/* every breaker idle enough to be evicted at once */
	ASSERT_EQ(0, cb_sh("echo 1 >/sys/module/cbreaker/parameters/idle_ms"));
	self->churn = fork();
	ASSERT_LE(0, self->churn);
	if (!self->churn)
		cb_churn();
	/* the table full and evicting */
	ASSERT_EQ(0, cb_sh("for i in $(seq 100); do "
			   "[ $(cbctl -j metrics | grep -o '\"evicted\":[0-9]*' | "
			   "cut -d: -f2) -gt %u ] 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
			   TABLE));
}

FIXTURE_TEARDOWN(dump)
{
	if (self->churn > 0) {
		kill(self->churn, SIGKILL);
		waitpid(self->churn, NULL, 0);
	}
	cb_sh("echo 60000 >/sys/module/cbreaker/parameters/idle_ms");
	cb_sh("cbctl unload 2>/dev/null");
}

TEST_F(dump, list_and_metrics_answer_under_eviction_churn)
{
	int i, listed = 0, metrics = 0;
	char out[256];

	for (i = 0; i < 10; i++) {
		/* each breaker at most once */
		if (!cb_sh_out(out, sizeof(out),
			       "cbctl breaker list >/tmp/cbdump && tail -n +2 /tmp/cbdump | "
			       "awk '{print $1, $2, $3, $NF}' | sort | uniq -d | wc -l") &&
		    atoi(out) == 0)
			listed++;
		else
			TH_LOG("breaker list: %s", out);
		if (!cb_sh("cbctl metrics format prometheus >/dev/null"))
			metrics++;
	}
	EXPECT_EQ(10, listed);
	EXPECT_EQ(10, metrics);
	EXPECT_EQ(0, kill(self->churn, 0));	/* it churned throughout */
}

TEST_HARNESS_MAIN
