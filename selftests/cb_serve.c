// SPDX-License-Identifier: GPL-2.0
/*
 * cbctl metrics serve against its own users: started as root it keeps
 * nothing of root once it listens, and clients that connect and then
 * stall (say nothing, stop half-way through a request, never read the
 * answer) cannot lock a scrape out.
 */
#include <netinet/tcp.h>

#include "cb_test.h"
#include "kselftest_harness.h"

#define SERVE_PORT 19561
#define SERVE_URL "http://127.0.0.1:19561/metrics"
#define STALLERS 48	/* three times the default connection limit */
#define CB_SERVE_IDLE_S 10	/* the exporter's idle timeout (serve.c) */

FIXTURE(serve) {
	pid_t pid;
};

FIXTURE_SETUP(serve)
{
	char out[64];

	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	cb_sh("cbctl unload 2>/dev/null");
	ASSERT_EQ(0, cb_sh("cbctl load && cbctl policy add default >/dev/null"));
	/* as root, as an operator would start it by hand */
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "cbctl metrics serve listen 127.0.0.1:%u "
			       "2>/tmp/serve.log >/dev/null & echo $!", SERVE_PORT));
	self->pid = atoi(out);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, cb_sh("for i in $(seq 50); do curl -sf -o /dev/null " SERVE_URL
			   " && exit 0; sleep 0.1; done; exit 1"));
}

FIXTURE_TEARDOWN(serve)
{
	if (self->pid > 0)
		kill(self->pid, SIGTERM);
	cb_sh("sleep 0.3; cbctl unload 2>/dev/null");
}

/* A full answer to one scrape within @ms: the exporter's last line there. */
static int cb_scrape_ok(int ms)
{
	char out[256];

	if (cb_sh_out(out, sizeof(out),
		      "curl -sf --max-time %d.%03d " SERVE_URL " | tail -n 6",
		      ms / 1000, ms % 1000))
		return 0;
	return strstr(out, "cbreaker_up 1") &&
	       strstr(out, "cbreaker_exporter_scrape_duration_seconds");
}

/* A connection to the exporter that has sent @head (may be ""). */
static int cb_staller(const char *head)
{
	struct sockaddr_storage ss;
	socklen_t len = cb_addr("127.0.0.1", SERVE_PORT, &ss);
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 1;

	if (fd < 0)
		return -1;
	/* a reader that never reads: as little room as the kernel allows */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(fd, (void *)&ss, len) ||
	    (*head && write(fd, head, strlen(head)) != (ssize_t)strlen(head))) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(serve, started_as_root_it_serves_as_nobody)
{
	char out[256];

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out),
			       "grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapAmb):' "
			       "/proc/%d/status", self->pid));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "Uid:\t65534\t65534\t65534\t65534"));
	EXPECT_NE(NULL, strstr(out, "Gid:\t65534\t65534\t65534\t65534"));
	EXPECT_NE(NULL, strstr(out, "CapPrm:\t0000000000000000"));
	EXPECT_NE(NULL, strstr(out, "CapEff:\t0000000000000000"));
	EXPECT_NE(NULL, strstr(out, "CapAmb:\t0000000000000000"));
	/* and reading the module needs nothing more (a bound for a hang only) */
	EXPECT_TRUE(cb_scrape_ok(30000));
	/* a user that is not there is refused, before anything is served */
	EXPECT_EQ(0, cb_sh("cbctl metrics serve listen 127.0.0.1:19562 user cbnosuch 2>&1 | "
			   "grep -q 'no user'"));
}

TEST_F(serve, stalled_clients_do_not_lock_a_scrape_out)
{
	static const char * const heads[] = {
		"",				/* says nothing */
		"GET /metr",			/* stops half-way */
		"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",	/* never reads */
	};
	int fds[STALLERS], i, n = 0, round, ok;
	long long left;
	/* a staller cannot have timed out before: its place was not freed */
	unsigned long long idle_end = cb_now_ms() + CB_SERVE_IDLE_S * 1000;

	for (i = 0; i < STALLERS; i++) {
		fds[i] = cb_staller(heads[i % 3]);
		if (fds[i] >= 0)
			n++;
		usleep(20 * 1000);
	}
	TH_LOG("%d stalled connections", n);
	ASSERT_LT(0, n);
	/*
	 * scrape after scrape, each a full answer while every staller still
	 * holds on (a loaded machine is slow, not wrong: no tighter bound)
	 */
	for (round = 0, ok = 0; round < 5; round++) {
		left = idle_end - cb_now_ms();
		ASSERT_LT(0, left) TH_LOG("past the stallers' idle time: a free place proves nothing");
		ok += cb_scrape_ok((int)left);
	}
	EXPECT_EQ(5, ok);
	for (i = 0; i < STALLERS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	EXPECT_EQ(0, kill(self->pid, 0));	/* still serving */
}

TEST_HARNESS_MAIN
