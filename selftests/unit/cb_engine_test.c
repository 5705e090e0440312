// SPDX-License-Identifier: GPL-2.0
/* The breaker state machine, natively, with a simulated clock. */
#include "cb_engine.h"
#include "kselftest_harness.h"

#define SEC 1000000000ULL

FIXTURE(engine) {
	struct cb_breaker b;
	__u64 now;
};

FIXTURE_SETUP(engine)
{
	self->now = 1000 * SEC;
	cb_engine_init(&self->b, self->now);
}

FIXTURE_TEARDOWN(engine) {}

TEST_F(engine, starts_closed_and_admits)
{
	ASSERT_EQ(CB_STATE_CLOSED, cb_engine_state(&self->b, self->now));
	ASSERT_EQ(CB_ADMIT, cb_engine_admit(&self->b, self->now));
	ASSERT_EQ(1, self->b.calls);
	ASSERT_EQ(0, self->b.transitions);
}

TEST_F(engine, trip_refuses_until_reset_and_never_counts_failures)
{
	int i;

	cb_engine_force(&self->b, CB_FORCE_OPEN, self->now);
	for (i = 0; i < 5; i++) {
		self->now += 3600 * SEC;	/* a forced breaker never times out */
		ASSERT_EQ(CB_STATE_OPEN, cb_engine_state(&self->b, self->now));
		ASSERT_EQ(CB_REFUSE, cb_engine_admit(&self->b, self->now));
	}
	ASSERT_EQ(5, self->b.rejected);
	ASSERT_EQ(0, self->b.failures);
	ASSERT_EQ(0, self->b.calls);
	ASSERT_EQ(0, self->b.open_until);

	cb_engine_reset(&self->b, self->now);
	ASSERT_EQ(CB_STATE_CLOSED, cb_engine_state(&self->b, self->now));
	ASSERT_EQ(CB_ADMIT, cb_engine_admit(&self->b, self->now));
	ASSERT_EQ(2, self->b.transitions);
	ASSERT_EQ(self->now, self->b.changed_at);
}

TEST_F(engine, hold_admits_even_when_open)
{
	self->b.state = CB_STATE_OPEN;
	self->b.open_until = self->now + 60 * SEC;
	ASSERT_EQ(CB_REFUSE, cb_engine_admit(&self->b, self->now));
	cb_engine_force(&self->b, CB_FORCE_CLOSED, self->now);
	ASSERT_EQ(CB_STATE_CLOSED, cb_engine_state(&self->b, self->now));
	ASSERT_EQ(CB_ADMIT, cb_engine_admit(&self->b, self->now));
	ASSERT_EQ(1, self->b.calls);
	ASSERT_EQ(1, self->b.rejected);
}

TEST_F(engine, open_becomes_half_open_when_its_time_is_up)
{
	self->b.state = CB_STATE_OPEN;
	self->b.open_until = self->now + 30 * SEC;
	ASSERT_EQ(CB_STATE_OPEN, cb_engine_state(&self->b, self->now + 30 * SEC - 1));
	/* reported so even before any call comes */
	ASSERT_EQ(CB_STATE_HALF_OPEN, cb_engine_state(&self->b, self->now + 30 * SEC));
	ASSERT_EQ(CB_STATE_OPEN, self->b.state);
	ASSERT_EQ(CB_ADMIT, cb_engine_admit(&self->b, self->now + 31 * SEC));
	ASSERT_EQ(CB_STATE_HALF_OPEN, self->b.state);
	ASSERT_EQ(self->now + 31 * SEC, self->b.changed_at);
}

TEST_F(engine, reset_clears_forcing_and_open_time)
{
	cb_engine_force(&self->b, CB_FORCE_OPEN, self->now);
	ASSERT_EQ(self->now, self->b.opened_at);
	cb_engine_reset(&self->b, self->now + SEC);
	ASSERT_EQ(CB_FORCE_NONE, self->b.forced);
	ASSERT_EQ(0, self->b.opened_at);
	ASSERT_EQ(0, self->b.open_until);
	ASSERT_EQ(CB_STATE_CLOSED, self->b.state);
}

TEST_HARNESS_MAIN
