// SPDX-License-Identifier: GPL-2.0
/*
 * End to end, in the guest: the module loaded, cbctl load attaching the
 * hooks to a test cgroup, and real sockets in that cgroup refused at once
 * by a tripped breaker, with no packet sent; let through after reset;
 * untouched outside the cgroup.
 */
#include "cb_test.h"
#include "kselftest_harness.h"

#define CG CB_CGROOT "/cbtest"

FIXTURE(cb) {
	int tcp, udp;			/* listeners */
	unsigned short tport, uport;
};

FIXTURE_VARIANT(cb) {
	const char *ip;
};

FIXTURE_VARIANT_ADD(cb, v4) { .ip = "127.0.0.1" };
FIXTURE_VARIANT_ADD(cb, v6) { .ip = "::1" };

FIXTURE_SETUP(cb)
{
	ASSERT_EQ(0, cb_sh("modprobe cbreaker"));
	cb_sh("cbctl unload 2>/dev/null");	/* what a killed test left */
	ASSERT_EQ(0, mkdir(CG, 0755) && errno != EEXIST ? -1 : 0);
	ASSERT_EQ(0, cb_sh("cbctl load cgroup " CG));
	self->tcp = cb_listener(variant->ip, SOCK_STREAM, &self->tport);
	self->udp = cb_listener(variant->ip, SOCK_DGRAM, &self->uport);
	ASSERT_LE(0, self->tcp);
	ASSERT_LE(0, self->udp);
	ASSERT_EQ(0, cb_join_cgroup(CG));
}

FIXTURE_TEARDOWN(cb)
{
	cb_join_cgroup(CB_CGROOT);
	EXPECT_EQ(0, cb_sh("cbctl unload"));
	rmdir(CG);
}

static int cb_act(const char *act, const char *ip, unsigned short port,
		  const char *proto)
{
	return cb_sh("cbctl breaker %s dst %s port %u proto %s", act, ip, port,
		     proto);
}

TEST_F(cb, tcp_trip_refuses_without_a_packet)
{
	unsigned long long tx;

	/* healthy first */
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(1, cb_got(self->tcp, SOCK_STREAM, 1000));

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	tx = cb_lo_tx_packets();
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	EXPECT_EQ(tx, cb_lo_tx_packets());
	EXPECT_EQ(0, cb_got(self->tcp, SOCK_STREAM, 200));

	ASSERT_EQ(0, cb_act("reset", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(1, cb_got(self->tcp, SOCK_STREAM, 1000));
}

TEST_F(cb, udp_sendto_refused_without_a_packet)
{
	unsigned long long tx;

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->uport, "udp"));
	tx = cb_lo_tx_packets();
	ASSERT_EQ(-ECONNREFUSED, cb_sendto(variant->ip, self->uport));
	EXPECT_EQ(tx, cb_lo_tx_packets());
	EXPECT_EQ(0, cb_got(self->udp, SOCK_DGRAM, 200));

	ASSERT_EQ(0, cb_act("reset", variant->ip, self->uport, "udp"));
	ASSERT_EQ(0, cb_sendto(variant->ip, self->uport));
	ASSERT_EQ(1, cb_got(self->udp, SOCK_DGRAM, 1000));
}

TEST_F(cb, udp_connect_refused)
{
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->uport, "udp"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->uport, SOCK_DGRAM));
	ASSERT_EQ(0, cb_act("reset", variant->ip, self->uport, "udp"));
	ASSERT_EQ(0, cb_connect(variant->ip, self->uport, SOCK_DGRAM));
}

/* A breaker is per ip:port:proto: nothing else is touched. */
TEST_F(cb, trip_is_per_destination)
{
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "udp"));
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(1, cb_got(self->tcp, SOCK_STREAM, 1000));

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->uport, "tcp"));
	ASSERT_EQ(0, cb_sendto(variant->ip, self->uport));
	ASSERT_EQ(1, cb_got(self->udp, SOCK_DGRAM, 1000));
}

TEST_F(cb, outside_the_cgroup_is_untouched)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->uport, "udp"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (cb_join_cgroup(CB_CGROOT))
			_exit(2);
		_exit(cb_connect(variant->ip, self->tport, SOCK_STREAM) ||
		      cb_sendto(variant->ip, self->uport) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1, cb_got(self->tcp, SOCK_STREAM, 1000));
	EXPECT_EQ(1, cb_got(self->udp, SOCK_DGRAM, 1000));
	/* and inside, still refused */
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
}

TEST_F(cb, hold_never_refuses)
{
	char out[4096];

	ASSERT_EQ(0, cb_act("hold", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(1, cb_got(self->tcp, SOCK_STREAM, 1000));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker show dst %s port %u",
			       variant->ip, self->tport));
	EXPECT_NE(NULL, strstr(out, "\"state\":\"closed\""));
	EXPECT_NE(NULL, strstr(out, "\"forced\":\"closed\""));
	EXPECT_NE(NULL, strstr(out, "\"calls\":1,"));

	/* hold overrides an earlier trip */
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(0, cb_act("hold", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
}

TEST_F(cb, show_reports_the_breaker)
{
	char out[4096];

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker show dst %s port %u proto tcp",
			       variant->ip, self->tport));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"forced\":\"open\""));
	EXPECT_NE(NULL, strstr(out, "\"rejected\":2,"));
	/* refusals are never failures */
	EXPECT_NE(NULL, strstr(out, "\"failures\":0,"));
	EXPECT_NE(NULL, strstr(out, "\"open_until\":null"));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl breaker show dst %s port %u",
			       variant->ip, self->tport));
	EXPECT_NE(NULL, strstr(out, "state open (forced: trip)"));
	EXPECT_NE(NULL, strstr(out, "rejected 2"));
	EXPECT_NE(NULL, strstr(out, variant->ip));

	/* a destination with no breaker is an error, not an empty answer */
	EXPECT_NE(0, cb_sh("cbctl breaker show dst %s port %u proto udp 2>/dev/null",
			   variant->ip, self->tport));
}

TEST_F(cb, list_filters_by_state)
{
	char out[8192], port[16];

	snprintf(port, sizeof(port), " %u ", self->uport);
	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	ASSERT_EQ(0, cb_act("hold", variant->ip, self->uport, "udp"));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl breaker list"));
	EXPECT_NE(NULL, strstr(out, "STATE"));
	EXPECT_NE(NULL, strstr(out, variant->ip));
	EXPECT_NE(NULL, strstr(out, port));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker list state open"));
	EXPECT_EQ('[', out[0]);
	EXPECT_NE(NULL, strstr(out, "\"state\":\"open\""));
	EXPECT_EQ(NULL, strstr(out, "\"state\":\"closed\""));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j br li st closed"));
	EXPECT_NE(NULL, strstr(out, "\"proto\":\"udp\""));
	EXPECT_EQ(NULL, strstr(out, "\"state\":\"open\""));

	ASSERT_EQ(0, cb_sh("cbctl breaker reset all"));
	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j breaker list state open"));
	EXPECT_STREQ("[]\n", out);
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
}

TEST_F(cb, status_reports_programs_and_cgroup)
{
	char out[4096];

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl -j status"));
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"loaded\":true"));
	EXPECT_NE(NULL, strstr(out, "\"programs_loaded\":true"));
	EXPECT_NE(NULL, strstr(out, "\"maps_attached\":true"));
	EXPECT_NE(NULL, strstr(out, "\"path\":\"" CG "\""));
	EXPECT_NE(NULL, strstr(out, "\"breakers_max\":65536"));

	ASSERT_EQ(0, cb_sh_out(out, sizeof(out), "cbctl status"));
	EXPECT_NE(NULL, strstr(out, "module:    loaded"));
	EXPECT_NE(NULL, strstr(out, CG));
}

/* Only CAP_NET_ADMIN changes anything; reading is open. */
TEST_F(cb, unprivileged_user_changes_nothing)
{
	char out[4096];

	EXPECT_NE(0, cb_sh("su nobody -s /bin/sh -c 'cbctl breaker trip dst %s port %u' 2>/dev/null",
			   variant->ip, self->tport));
	ASSERT_EQ(0, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	EXPECT_NE(0, cb_sh_out(out, sizeof(out),
			       "su nobody -s /bin/sh -c 'cbctl -j breaker trip dst %s port %u'",
			       variant->ip, self->tport));
	EXPECT_NE(NULL, strstr(out, "CAP_NET_ADMIN"));
	EXPECT_NE(0, cb_sh("su nobody -s /bin/sh -c 'cbctl unload' 2>/dev/null"));

	ASSERT_EQ(0, cb_act("trip", variant->ip, self->tport, "tcp"));
	EXPECT_NE(0, cb_sh("su nobody -s /bin/sh -c 'cbctl breaker reset all' 2>/dev/null"));
	ASSERT_EQ(-ECONNREFUSED, cb_connect(variant->ip, self->tport, SOCK_STREAM));
	EXPECT_EQ(0, cb_sh("su nobody -s /bin/sh -c 'cbctl breaker list' >/dev/null"));
}

TEST_HARNESS_MAIN
