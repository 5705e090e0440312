// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker state machine, natively, with a simulated clock: scenarios in
 * the style of resilience4j's state machine tests, then a differential test
 * against a deliberately simple model (cb_ref.h) on random event sequences.
 */
#include "cb_engine.h"
#include "kselftest_harness.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

FIXTURE(engine) {
	struct cb_breaker b;
	struct cb_policy p;
	struct cb_changes ch;
	__u64 now;
};

FIXTURE_SETUP(engine)
{
	self->now = 1000 * SEC;
	cb_policy_default(&self->p);
	/* small numbers keep the scenarios readable */
	self->p.window_calls = 10;
	self->p.min_calls = 5;
	self->p.open_ns = 10 * SEC;
	self->p.jitter = 0;
	self->p.probes = 3;
	self->p.probe_success = 60;	/* 2 of 3 */
	ASSERT_EQ(NULL, cb_policy_invalid(&self->p));
	cb_engine_init(&self->b, &self->p, self->now);
}

FIXTURE_TEARDOWN(engine) {}

/* Admit one call and report its outcome; returns the admission. */
static int call(struct _test_data_engine *s, enum cb_outcome out, __u64 lat)
{
	int a = cb_engine_admit(&s->b, &s->p, s->now, 0, &s->ch);

	if (a >= 0)
		cb_engine_record(&s->b, &s->p, out, lat, a, s->now, 0, &s->ch);
	return a;
}

static enum cb_state state(struct _test_data_engine *s)
{
	cb_engine_tick(&s->b, &s->p, s->now, 0, &s->ch);
	return s->b.state;
}

TEST_F(engine, starts_closed_and_admits)
{
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_LE(0, call(self, CB_OUT_SUCCESS, MS));
	ASSERT_EQ(1, self->b.calls);
	ASSERT_EQ(1, self->b.successes);
	ASSERT_EQ(0, self->ch.n);
}

TEST_F(engine, no_decision_below_min_calls)
{
	int i;

	for (i = 0; i < 4; i++)
		call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	call(self, CB_OUT_TIMEOUT, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(1, self->ch.n);
	ASSERT_EQ(CB_REASON_FAILURE_RATE, self->ch.c[0].reason);
	ASSERT_EQ(CB_STATE_CLOSED, self->ch.c[0].from);
	ASSERT_EQ(CB_STATE_OPEN, self->ch.c[0].to);
}

TEST_F(engine, trips_at_the_failure_rate_not_below)
{
	int i;

	/* 10 calls, 4 failures: 40 % < 50 % */
	for (i = 0; i < 6; i++)
		call(self, CB_OUT_SUCCESS, MS);
	for (i = 0; i < 4; i++)
		call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	/* the oldest success leaves the window: 5 of 10 = 50 % */
	call(self, CB_OUT_UNREACH, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
}

TEST_F(engine, refusals_are_counted_never_recorded)
{
	int i;

	for (i = 0; i < 5; i++)
		call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	for (i = 0; i < 7; i++)
		ASSERT_EQ(CB_ADMIT_REFUSE, call(self, CB_OUT_SUCCESS, 0));
	ASSERT_EQ(7, self->b.rejected);
	ASSERT_EQ(5, self->b.failures);
	ASSERT_EQ(5, self->b.calls);
}

TEST_F(engine, slow_calls_trip_by_their_own_rate)
{
	int i;

	self->p.slow_ns = 200 * MS;
	self->p.slow_rate = 60;
	for (i = 0; i < 2; i++)
		call(self, CB_OUT_SUCCESS, 10 * MS);
	for (i = 0; i < 2; i++)
		call(self, CB_OUT_SUCCESS, 200 * MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));	/* 4 < min-calls */
	call(self, CB_OUT_SUCCESS, 10 * MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));	/* 2 of 5 = 40 % */
	call(self, CB_OUT_SUCCESS, 900 * MS);
	call(self, CB_OUT_SUCCESS, 900 * MS);		/* 4 of 7 = 57 % */
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	call(self, CB_OUT_SUCCESS, 900 * MS);		/* 5 of 8 = 62 % */
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_REASON_SLOW_RATE, self->ch.c[0].reason);
	ASSERT_EQ(5, self->b.slow);
	ASSERT_EQ(0, self->b.failures);
}

static void trip(struct _test_data_engine *s)
{
	int i;

	for (i = 0; i < 5; i++)
		call(s, CB_OUT_REFUSED, 0);
}

TEST_F(engine, open_then_half_open_when_time_is_up_without_any_call)
{
	trip(self);
	ASSERT_EQ(self->now + 10 * SEC, self->b.open_until);
	self->now += 10 * SEC - 1;
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	self->now += 1;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	ASSERT_EQ(CB_REASON_OPEN_ELAPSED, self->ch.c[1].reason);
}

TEST_F(engine, half_open_bounds_probes_placed_not_results)
{
	trip(self);
	self->now += 10 * SEC;
	/* three probes placed, none finished: the fourth call is refused */
	ASSERT_LE(0, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	ASSERT_LE(0, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	ASSERT_LE(0, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	ASSERT_EQ(CB_ADMIT_REFUSE, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	ASSERT_EQ(3, (int)self->b.probes_placed);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
}

TEST_F(engine, half_open_closes_on_enough_successes)
{
	trip(self);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_SUCCESS, MS);		/* 2 of 3 needed */
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(CB_REASON_PROBES_OK, self->ch.c[self->ch.n - 1].reason);
	/* the window starts afresh: one failure decides nothing */
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
}

TEST_F(engine, half_open_reopens_with_backoff_on_too_many_failures)
{
	__u64 t;

	trip(self);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_REFUSED, 0);		/* one failure is allowed */
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	t = self->now;
	call(self, CB_OUT_TIMEOUT, 0);		/* two are not */
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_REASON_PROBE_FAILED, self->ch.c[self->ch.n - 1].reason);
	ASSERT_EQ(t + 20 * SEC, self->b.open_until);	/* backoff 2 */
	ASSERT_EQ(2, self->b.trips);
}

TEST_F(engine, a_probe_that_never_finishes_cannot_hang_half_open)
{
	trip(self);
	self->now += 10 * SEC;
	ASSERT_LE(0, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	self->now += self->p.probe_wait_ns - 1;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	self->now += 1;
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_REASON_PROBE_TIMEOUT, self->ch.c[self->ch.n - 1].reason);
}

/* What the sweeper is told: when time alone would change the breaker. */
TEST_F(engine, due_is_when_time_alone_changes_the_breaker)
{
	__u64 opened;

	ASSERT_EQ(0, cb_engine_due(&self->b));		/* closed: never */
	trip(self);
	opened = self->now;
	ASSERT_EQ(opened + 10 * SEC, cb_engine_due(&self->b));
	self->now += 10 * SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	ASSERT_EQ(0, cb_engine_due(&self->b));		/* no probe yet: calls decide */
	ASSERT_LE(0, cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	ASSERT_EQ(self->now + self->p.probe_wait_ns, cb_engine_due(&self->b));
	cb_engine_force(&self->b, &self->p, CB_FORCE_OPEN, self->now, NULL);
	ASSERT_EQ(0, cb_engine_due(&self->b));		/* forced: until reset */
}

TEST_F(engine, probe_wait_closes_when_the_finished_probes_suffice)
{
	trip(self);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);		/* 1 placed, 1 ok: 100 % */
	self->now += self->p.probe_wait_ns;
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
}

TEST_F(engine, stale_results_decide_nothing)
{
	int a, i;

	a = cb_engine_admit(&self->b, &self->p, self->now, 0, NULL);
	ASSERT_LE(0, a);
	trip(self);
	self->now += 10 * SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	/* the call admitted while closed ends now: not a probe */
	for (i = 0; i < 3; i++)
		cb_engine_record(&self->b, &self->p, CB_OUT_SUCCESS, MS, a,
				 self->now, 0, NULL);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	ASSERT_EQ(0, (int)self->b.probes_ok);
	ASSERT_EQ(3, self->b.successes);
}

TEST_F(engine, backoff_is_capped_and_decays_after_health)
{
	int i;

	self->p.backoff_max_ns = 35 * SEC;
	for (i = 0; i < 4; i++) {
		trip(self);
		self->now = self->b.open_until;
		call(self, CB_OUT_REFUSED, 0);
		call(self, CB_OUT_REFUSED, 0);	/* reopen */
	}
	ASSERT_EQ(self->now + 35 * SEC, self->b.open_until);	/* 10, 20, 35 */
	/* probes succeed, then a healthy spell of backoff-max */
	self->now = self->b.open_until;
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	self->now += 35 * SEC;
	trip(self);
	ASSERT_EQ(self->now + 10 * SEC, self->b.open_until);
}

TEST_F(engine, jitter_adds_up_to_its_percentage)
{
	__u64 lo = ~0ULL, hi = 0, d;
	unsigned int i, k;
	int a;

	self->p.jitter = 20;
	for (i = 0; i < 1000; i++) {
		cb_engine_reset(&self->b, &self->p, self->now, NULL);
		for (k = 0; k < 5; k++) {
			a = cb_engine_admit(&self->b, &self->p, self->now, 0, NULL);
			cb_engine_record(&self->b, &self->p, CB_OUT_REFUSED, 0, a,
					 self->now, i * 2654435761ULL, NULL);
		}
		ASSERT_EQ(CB_STATE_OPEN, self->b.state);
		d = self->b.open_until - self->now;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	ASSERT_LE(10 * SEC, lo);
	ASSERT_GT(10 * SEC + 100 * MS, lo);
	ASSERT_GE(12 * SEC, hi);
	ASSERT_LT(12 * SEC - 100 * MS, hi);
}

TEST_F(engine, max_age_lets_a_low_traffic_destination_trip)
{
	int i;

	self->p.max_age_ns = 8 * SEC;		/* ticks of 2 s */
	cb_engine_init(&self->b, &self->p, self->now);
	for (i = 0; i < 9; i++)
		call(self, CB_OUT_SUCCESS, MS);
	self->now += 9 * SEC;
	/* without ageing 2 of 10 would not trip; the 9 successes are gone */
	for (i = 0; i < 4; i++)
		call(self, CB_OUT_TIMEOUT, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));	/* 4 < min-calls */
	call(self, CB_OUT_TIMEOUT, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
}

TEST_F(engine, time_window_forgets_what_is_older_than_the_window)
{
	struct cb_window_sum s;
	int i;

	self->p.window_ns = 8 * SEC;
	cb_engine_init(&self->b, &self->p, self->now);
	for (i = 0; i < 20; i++)
		call(self, CB_OUT_SUCCESS, MS);
	self->now += 4 * SEC;
	for (i = 0; i < 3; i++)
		call(self, CB_OUT_REFUSED, 0);
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(23, s.calls);
	self->now += 4 * SEC;
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(3, s.calls);
	ASSERT_EQ(3, s.fails);
	call(self, CB_OUT_REFUSED, 0);
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
}

TEST_F(engine, trip_refuses_until_reset_and_never_times_out)
{
	int i;

	cb_engine_force(&self->b, &self->p, CB_FORCE_OPEN, self->now, &self->ch);
	for (i = 0; i < 5; i++) {
		self->now += 3600 * SEC;
		ASSERT_EQ(CB_ADMIT_REFUSE, call(self, CB_OUT_SUCCESS, 0));
		ASSERT_EQ(CB_STATE_OPEN, state(self));
	}
	ASSERT_EQ(5, self->b.rejected);
	ASSERT_EQ(CB_REASON_TRIP, self->ch.c[0].reason);
	cb_engine_reset(&self->b, &self->p, self->now, &self->ch);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(CB_REASON_RESET, self->ch.c[1].reason);
	ASSERT_LE(0, call(self, CB_OUT_SUCCESS, 0));
}

TEST_F(engine, hold_admits_and_measures_but_never_trips)
{
	struct cb_window_sum s;
	int i;

	cb_engine_force(&self->b, &self->p, CB_FORCE_CLOSED, self->now, NULL);
	for (i = 0; i < 20; i++)
		ASSERT_LE(0, call(self, CB_OUT_REFUSED, 0));
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(10, s.fails);
	ASSERT_EQ(20, self->b.failures);
	/* reset clears the window too */
	cb_engine_reset(&self->b, &self->p, self->now, NULL);
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(0, s.calls);
}

TEST_F(engine, dry_run_runs_the_machine_but_refuses_nothing)
{
	self->p.mode = CB_MODE_DRY_RUN;
	trip(self);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_ADMIT_SILENT, call(self, CB_OUT_SUCCESS, 0));
	ASSERT_EQ(1, self->b.rejected);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, 0);
	call(self, CB_OUT_SUCCESS, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
}

TEST_F(engine, no_policy_means_only_forcing_applies)
{
	ASSERT_EQ(CB_ADMIT_SILENT, cb_engine_admit(&self->b, NULL, self->now, 0, NULL));
	cb_engine_force(&self->b, NULL, CB_FORCE_OPEN, self->now, NULL);
	ASSERT_EQ(CB_ADMIT_REFUSE, cb_engine_admit(&self->b, NULL, self->now, 0, NULL));
	cb_engine_force(&self->b, NULL, CB_FORCE_CLOSED, self->now, NULL);
	ASSERT_LE(0, cb_engine_admit(&self->b, NULL, self->now, 0, NULL));
}

TEST_F(engine, udp_icmp_errors_amend_successes)
{
	int i;

	for (i = 0; i < 5; i++)
		call(self, CB_OUT_SUCCESS, 0);
	for (i = 0; i < 2; i++)
		cb_engine_amend(&self->b, &self->p, 0, self->now, 0, &self->ch);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));	/* 2 of 5 */
	cb_engine_amend(&self->b, &self->p, 0, self->now, 0, &self->ch);
	ASSERT_EQ(CB_STATE_OPEN, state(self));		/* 3 of 5 */
	ASSERT_EQ(3, self->b.failures);
	ASSERT_EQ(2, self->b.successes);
}

TEST_F(engine, udp_probes_are_judged_at_probe_wait_not_when_sent)
{
	int a;

	self->b.datagram = 1;
	trip(self);
	self->now += 10 * SEC;
	/* sent: a success in the totals, but no verdict on the probe yet */
	a = call(self, CB_OUT_SUCCESS, 0);
	ASSERT_LE(0, a);
	call(self, CB_OUT_SUCCESS, 0);
	call(self, CB_OUT_SUCCESS, 0);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	ASSERT_EQ(0, (int)self->b.probes_ok);
	/* an ICMP error for one of them: a failed probe, 2 of 3 may still do */
	cb_engine_amend(&self->b, &self->p, a, self->now, 0, &self->ch);
	ASSERT_EQ(1, (int)self->b.probes_failed);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	/* no error for the others by probe-wait: closed */
	self->now += self->p.probe_wait_ns;
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(CB_REASON_PROBE_TIMEOUT, self->ch.c[self->ch.n - 1].reason);
}

TEST_F(engine, udp_probes_two_icmp_errors_reopen)
{
	int a;

	self->b.datagram = 1;
	trip(self);
	self->now += 10 * SEC;
	a = call(self, CB_OUT_SUCCESS, 0);
	call(self, CB_OUT_SUCCESS, 0);
	cb_engine_amend(&self->b, &self->p, a, self->now, 0, &self->ch);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	cb_engine_amend(&self->b, &self->p, a, self->now, 0, &self->ch);
	ASSERT_EQ(CB_STATE_OPEN, state(self));	/* 2 of 3 failed: 2 of 3 ok impossible */
	/* an error for a datagram of the closed days decides no probe */
	self->now += 20 * SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	cb_engine_amend(&self->b, &self->p, a, self->now, 0, &self->ch);
	ASSERT_EQ(0, (int)self->b.probes_failed);
}

TEST_F(engine, an_abandoned_handshake_counts_only_after_slow)
{
	int i, a;

	for (i = 0; i < 5; i++) {
		a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
		cb_engine_record(&self->b, &self->p, CB_OUT_ABANDONED,
				 self->p.slow_ns / 8 * 7 - 1, a, self->now, 0,
				 &self->ch);
	}
	ASSERT_EQ(0, self->b.failures);
	ASSERT_EQ(0, self->b.successes);
	ASSERT_EQ(0, self->b.abandoned);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	for (i = 0; i < 5; i++) {
		a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
		/* a client's 1 s timeout, armed just before connect() */
		cb_engine_record(&self->b, &self->p, CB_OUT_ABANDONED,
				 self->p.slow_ns - self->p.slow_ns / 8, a,
				 self->now, 0, &self->ch);
	}
	ASSERT_EQ(5, self->b.failures);
	ASSERT_EQ(5, self->b.abandoned);
	ASSERT_EQ(5, self->b.slow);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
}

TEST_F(engine, fail_on_leaves_out_classes_which_then_count_neither_way)
{
	int i, a;

	self->p.fail_on = CB_CLASS_TIMEOUT;
	ASSERT_EQ(NULL, cb_policy_invalid(&self->p));
	for (i = 0; i < 10; i++)
		call(self, CB_OUT_REFUSED, MS);
	ASSERT_EQ(0, self->b.failures);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	for (i = 0; i < 5; i++)
		call(self, CB_OUT_TIMEOUT, MS);
	ASSERT_EQ(5, self->b.failures);
	ASSERT_EQ(CB_STATE_OPEN, state(self));	/* 5 of 5, not 5 of 15 */

	/* half-open: a refused probe gives its place to another call */
	self->now += 10 * SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	for (i = 0; i < 3; i++)
		ASSERT_LE(0, call(self, CB_OUT_REFUSED, MS));
	ASSERT_EQ(0, (int)self->b.probes_placed);
	a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
	ASSERT_LE(0, a);
	ASSERT_EQ(1, (int)self->b.probes_placed);
	call(self, CB_OUT_SUCCESS, MS);
	cb_engine_record(&self->b, &self->p, CB_OUT_SUCCESS, MS, a, self->now,
			 0, &self->ch);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
}

TEST_F(engine, a_reset_after_the_handshake_turns_its_success_into_a_failure)
{
	int i, a, old;

	self->p.fail_on = CB_CLASS_DEFAULT | CB_CLASS_RESET;
	cb_engine_rules(&self->b, &self->p, 1);
	ASSERT_EQ(1, (int)self->b.fail_late);
	for (i = 0; i < 5; i++) {
		a = call(self, CB_OUT_SUCCESS, MS);
		if (i < 3)	/* reset soon after: the hooks report it */
			cb_engine_amend(&self->b, &self->p, a, self->now, 0,
					&self->ch);
	}
	ASSERT_EQ(3, self->b.failures);
	ASSERT_EQ(2, self->b.successes);
	ASSERT_EQ(CB_STATE_OPEN, state(self));	/* 3 of 5 failed */

	/* a probe done, then reset: a failed probe */
	self->now += 10 * SEC;
	a = call(self, CB_OUT_SUCCESS, MS);
	old = a;
	ASSERT_EQ(1, (int)self->b.probes_ok);
	cb_engine_amend(&self->b, &self->p, a, self->now, 0, &self->ch);
	ASSERT_EQ(0, (int)self->b.probes_ok);
	ASSERT_EQ(1, (int)self->b.probes_failed);
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	/* a reset of a call of the half-open days decides nothing now */
	cb_engine_amend(&self->b, &self->p, old, self->now, 0, &self->ch);
	ASSERT_EQ(0, (int)self->b.cw.fails);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));

	self->p.fail_on = CB_CLASS_DEFAULT;
	cb_engine_rules(&self->b, &self->p, 2);
	ASSERT_EQ(0, (int)self->b.fail_late);
}

/*
 * Only a success the breaker counted as one may be amended (the hooks mark
 * no other); a half-open whose probes all counted neither way waits.
 */
TEST_F(engine, what_a_reset_may_amend_and_a_half_open_left_without_probes)
{
	int a;

	self->p.fail_on = CB_CLASS_DEFAULT | CB_CLASS_RESET;
	a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
	ASSERT_EQ(1, cb_engine_record(&self->b, &self->p, CB_OUT_SUCCESS, MS,
				      a, self->now, 0, &self->ch));
	a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
	ASSERT_EQ(0, cb_engine_record(&self->b, &self->p, CB_OUT_REFUSED, MS,
				      a, self->now, 0, &self->ch));
	trip(self);
	self->now += 10 * SEC;
	/* a slow probe is a failed one already: nothing to amend */
	a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
	ASSERT_EQ(0, cb_engine_record(&self->b, &self->p, CB_OUT_SUCCESS,
				      self->p.slow_ns, a, self->now, 0, &self->ch));
	ASSERT_EQ(1, (int)self->b.probes_failed);
	a = cb_engine_admit(&self->b, &self->p, self->now, 0, &self->ch);
	ASSERT_EQ(1, cb_engine_record(&self->b, &self->p, CB_OUT_SUCCESS, MS,
				      a, self->now, 0, &self->ch));

	/* every probe refused under fail-on timeout: no verdict at probe-wait */
	trip(self);
	self->p.fail_on = CB_CLASS_TIMEOUT;
	self->now += 60 * SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_REFUSED, MS);
	ASSERT_EQ(0, (int)self->b.probes_placed);
	self->now += self->p.probe_wait_ns;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
}

TEST_F(engine, idle_closed_breakers_may_be_evicted)
{
	call(self, CB_OUT_SUCCESS, 0);
	ASSERT_FALSE(cb_engine_idle(&self->b, self->now + SEC, 60 * SEC));
	ASSERT_TRUE(cb_engine_idle(&self->b, self->now + 60 * SEC, 60 * SEC));
	trip(self);
	ASSERT_FALSE(cb_engine_idle(&self->b, self->now + 600 * SEC, 60 * SEC));
}

/*
 * A caller may apply a time older than one another CPU applied already
 * (read before the lock, or on a slower clock): it counts as the newest.
 */
TEST_F(engine, a_stale_clock_keeps_the_backoff)
{
	__u64 closed;

	trip(self);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(1, self->b.trips);
	closed = self->now;
	/* failures that read the clock just before it closed */
	self->now -= MS;
	trip(self);
	ASSERT_EQ(CB_STATE_OPEN, self->b.state);
	ASSERT_EQ(2, self->b.trips);
	ASSERT_EQ(closed + 20 * SEC, self->b.open_until);
	ASSERT_EQ(closed, cb_engine_opened_at(&self->b));
}

TEST_F(engine, a_stale_clock_keeps_the_window)
{
	int i;

	self->p.max_age_ns = 8 * SEC;		/* ticks of 2 s */
	self->now = 1000 * SEC;			/* a tick starts here */
	cb_engine_init(&self->b, &self->p, self->now);
	for (i = 0; i < 4; i++)
		call(self, CB_OUT_REFUSED, 0);
	self->now -= MS;			/* the tick before */
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, self->b.state);
	ASSERT_EQ(5, self->b.failures);
}

TEST_F(engine, a_stale_clock_does_not_make_a_breaker_idle)
{
	call(self, CB_OUT_SUCCESS, 0);
	ASSERT_FALSE(cb_engine_idle(&self->b, self->now - MS, 60 * SEC));
	ASSERT_FALSE(cb_engine_idle(&self->b, self->now - 2 * SEC, SEC));
}

/* The module's rules changed: an open breaker's fast path asks again. */
TEST_F(engine, a_mode_change_reaches_an_open_breaker_on_the_fast_path)
{
	cb_engine_rules(&self->b, &self->p, 1);
	trip(self);
	ASSERT_EQ(CB_ADMIT_REFUSE, cb_engine_admit_fast(&self->b, self->now, 1));

	self->p.mode = CB_MODE_DRY_RUN;		/* generation 2 */
	ASSERT_EQ(CB_ADMIT_POLICY, cb_engine_admit_fast(&self->b, self->now, 2));
	ASSERT_EQ(CB_ADMIT_SILENT,
		  cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	cb_engine_rules(&self->b, &self->p, 2);
	ASSERT_EQ(CB_ADMIT_POLICY, cb_engine_admit_fast(&self->b, self->now, 2));

	self->p.mode = CB_MODE_ENFORCE;		/* generation 3 */
	ASSERT_EQ(CB_ADMIT_POLICY, cb_engine_admit_fast(&self->b, self->now, 3));
	ASSERT_EQ(CB_ADMIT_REFUSE,
		  cb_engine_admit(&self->b, &self->p, self->now, 0, NULL));
	cb_engine_rules(&self->b, &self->p, 3);
	ASSERT_EQ(CB_ADMIT_REFUSE, cb_engine_admit_fast(&self->b, self->now, 3));

	/* no policy any more (generation 4): nothing refused */
	ASSERT_EQ(CB_ADMIT_POLICY, cb_engine_admit_fast(&self->b, self->now, 4));
	ASSERT_EQ(CB_ADMIT_SILENT,
		  cb_engine_admit(&self->b, NULL, self->now, 0, NULL));
	cb_engine_rules(&self->b, NULL, 4);
	ASSERT_EQ(CB_ADMIT_POLICY, cb_engine_admit_fast(&self->b, self->now, 4));
}

/*
 * A failure that took the slow threshold or longer (a SYN timeout, a
 * connect given up on) is failed and slow, as in the seed and resilience4j:
 * 40 % timeouts and 20 % slow successes make 60 % slow.
 */
TEST_F(engine, a_slow_failure_is_slow_too)
{
	int i;

	self->p.window_calls = 10;
	self->p.min_calls = 10;
	self->p.slow_ns = 200 * MS;
	self->p.slow_rate = 50;
	for (i = 0; i < 4; i++)
		call(self, CB_OUT_SUCCESS, MS);
	for (i = 0; i < 2; i++)
		call(self, CB_OUT_SUCCESS, 300 * MS);
	for (i = 0; i < 3; i++)
		call(self, CB_OUT_TIMEOUT, 2 * SEC);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));	/* 9 < min-calls */
	call(self, CB_OUT_TIMEOUT, 2 * SEC);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_REASON_SLOW_RATE, self->ch.c[0].reason);
	ASSERT_EQ(6, self->b.slow);
	ASSERT_EQ(4, self->b.failures);
}

/*
 * A probe is good only if it succeeded in less than the slow threshold; a
 * failed probe, a slow one, or one both failed and slow, is one failed
 * probe. With 3 probes and 2 needed, one failed and one slow reopen.
 */
TEST_F(engine, a_failed_probe_and_a_slow_probe_are_two_failed_probes)
{
	trip(self);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_TIMEOUT, 2 * SEC);		/* failed and slow: one */
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	ASSERT_EQ(1, (int)self->b.probes_failed);
	call(self, CB_OUT_SUCCESS, 2 * SEC);		/* slow */
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(CB_REASON_PROBE_FAILED, self->ch.c[self->ch.n - 1].reason);
}

/*
 * The results that opened the breaker stay visible while it is open or
 * half-open, however long, and go when it closes.
 */
TEST_F(engine, the_window_that_tripped_stays_visible_until_it_closes)
{
	struct cb_window_sum s;
	int i;

	self->p.window_ns = 8 * SEC;
	cb_engine_init(&self->b, &self->p, self->now);
	for (i = 0; i < 3; i++)
		call(self, CB_OUT_SUCCESS, MS);
	trip(self);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(6, s.calls);		/* 3 of 6 tripped it */
	ASSERT_EQ(3, s.fails);
	self->now += 10 * SEC;			/* longer than the window */
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(6, s.calls);
	ASSERT_EQ(3, s.fails);
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(0, s.calls);
}

/* trip for a while: open now, then the policy's half-open path. */
TEST_F(engine, trip_for_a_while_then_recovers_by_itself)
{
	cb_engine_force(&self->b, &self->p, CB_FORCE_OPEN, self->now, NULL);
	cb_engine_trip_for(&self->b, &self->p, 3 * SEC, self->now, &self->ch);
	ASSERT_EQ(CB_FORCE_NONE, self->b.forced);
	ASSERT_EQ(CB_ADMIT_REFUSE, call(self, CB_OUT_SUCCESS, MS));
	ASSERT_EQ(self->now + 3 * SEC, cb_engine_due(&self->b));
	self->now += 3 * SEC - 1;
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	self->now += 1;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_SUCCESS, MS);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(0, self->b.trips);	/* an operator's trip is no backoff */
}

/* A change carries the window and the probes as they stood (history). */
TEST_F(engine, a_change_carries_the_window_and_probes_of_its_moment)
{
	call(self, CB_OUT_SUCCESS, MS);
	trip(self);
	ASSERT_EQ(1, self->ch.n);
	ASSERT_EQ(5, self->ch.c[0].calls);		/* 4 of 5 failed */
	ASSERT_EQ(4, self->ch.c[0].fails);
	ASSERT_EQ(0, self->ch.c[0].slows);
	self->now += 10 * SEC;
	call(self, CB_OUT_SUCCESS, MS);
	call(self, CB_OUT_REFUSED, 0);
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(3, self->ch.n);
	ASSERT_EQ(CB_REASON_PROBE_FAILED, self->ch.c[2].reason);
	ASSERT_EQ(3, self->ch.c[2].probes_placed);
	ASSERT_EQ(1, self->ch.c[2].probes_ok);
	ASSERT_EQ(2, self->ch.c[2].probes_failed);
}

/* What max-open answers the engine (the module counts the policy's breakers). */
struct cap {
	int allow;
	unsigned int asked;
};

static int cap_may_open(void *arg, struct cb_breaker *b)
{
	struct cap *c = arg;

	(void)b;
	c->asked++;
	return c->allow;
}

/*
 * A trip max-open holds back leaves the breaker closed with its window,
 * is reported once (closed -> closed, max-open) however many results
 * follow, and the first result after room is made opens it.
 */
TEST_F(engine, max_open_holds_a_trip_back_once_and_opens_when_let)
{
	struct cap c = { .allow = 0 };
	struct cb_window_sum s;
	int i;

	self->p.max_open = 30;
	self->ch = (struct cb_changes){ .may_open = cap_may_open, .arg = &c };
	for (i = 0; i < 5; i++)
		call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(1, c.asked);
	ASSERT_EQ(1, self->ch.n);
	ASSERT_EQ(CB_STATE_CLOSED, self->ch.c[0].from);
	ASSERT_EQ(CB_STATE_CLOSED, self->ch.c[0].to);
	ASSERT_EQ(CB_REASON_MAX_OPEN, self->ch.c[0].reason);
	ASSERT_EQ(5, self->ch.c[0].fails);
	ASSERT_EQ(0, self->b.epoch);		/* no state change */
	ASSERT_EQ(1, (int)self->b.held);

	for (i = 0; i < 3; i++)
		ASSERT_LE(0, call(self, CB_OUT_REFUSED, 0));	/* still admitted */
	ASSERT_EQ(4, c.asked);
	ASSERT_EQ(1, self->ch.n);		/* reported once */
	cb_engine_window(&self->b, &self->p, self->now, &s);
	ASSERT_EQ(8, s.fails);			/* the window is kept */

	c.allow = 1;
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(2, self->ch.n);
	ASSERT_EQ(CB_REASON_FAILURE_RATE, self->ch.c[1].reason);
	ASSERT_EQ(0, (int)self->b.held);
}

/* A held trip is forgotten when the window recovers: the next is reported. */
TEST_F(engine, max_open_reports_a_new_trip_after_the_window_recovered)
{
	struct cap c = { .allow = 0 };
	int i;

	self->p.max_open = 50;
	self->ch = (struct cb_changes){ .may_open = cap_may_open, .arg = &c };
	for (i = 0; i < 5; i++)
		call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(1, (int)self->b.held);
	for (i = 0; i < 5; i++)
		call(self, CB_OUT_SUCCESS, MS);	/* 5 of 10: still a trip */
	ASSERT_EQ(1, (int)self->b.held);
	call(self, CB_OUT_SUCCESS, MS);		/* 4 of 10 */
	ASSERT_EQ(0, (int)self->b.held);
	ASSERT_EQ(1, self->ch.n);
	for (i = 0; i < 4; i++)
		call(self, CB_OUT_REFUSED, 0);	/* each drops a failure */
	ASSERT_EQ(1, self->ch.n);
	call(self, CB_OUT_REFUSED, 0);		/* 5 of 10 again */
	ASSERT_EQ(CB_STATE_CLOSED, state(self));
	ASSERT_EQ(2, self->ch.n);
	ASSERT_EQ(CB_REASON_MAX_OPEN, self->ch.c[1].reason);
	/* reset forgets it too */
	cb_engine_reset(&self->b, &self->p, self->now, NULL);
	ASSERT_EQ(0, (int)self->b.held);
}

/* At 100 (the default) max-open is never asked; operators are never held. */
TEST_F(engine, max_open_100_and_operator_trips_are_never_held)
{
	struct cap c = { .allow = 0 };

	self->ch = (struct cb_changes){ .may_open = cap_may_open, .arg = &c };
	trip(self);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(0, c.asked);

	cb_engine_reset(&self->b, &self->p, self->now, NULL);
	self->p.max_open = 10;
	cb_engine_force(&self->b, &self->p, CB_FORCE_OPEN, self->now, &self->ch);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	cb_engine_reset(&self->b, &self->p, self->now, NULL);
	cb_engine_trip_for(&self->b, &self->p, SEC, self->now, &self->ch);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(0, c.asked);
	/* nor a half-open breaker reopening: it is not closed already */
	self->now += SEC;
	ASSERT_EQ(CB_STATE_HALF_OPEN, state(self));
	call(self, CB_OUT_REFUSED, 0);
	call(self, CB_OUT_REFUSED, 0);
	ASSERT_EQ(CB_STATE_OPEN, state(self));
	ASSERT_EQ(0, c.asked);
}

/* An exchange's success, as the hooks count it: only in the state it began in. */
static void hook_ok(struct cb_breaker *b, __u32 epoch, int first, int slow)
{
	if (first ? (b->epoch & 0x7fffffff) != epoch :
		    b->state != CB_STATE_CLOSED)
		return;
	if (!first)
		b->calls++;
	if (slow)
		b->xchg += CB_XCHG_SLOW_ONE;
	else
		b->xchg++;
}

/* The same success recorded at once, as a kfunc would. */
static void eager_ok(struct cb_breaker *b, const struct cb_policy *p,
		     __u32 epoch, int first, int slow, __u64 now)
{
	if (first ? (b->epoch & 0x7fffffff) != epoch :
		    b->state != CB_STATE_CLOSED)
		return;
	if (!first)
		cb_engine_call(b, now);
	cb_engine_record(b, p, CB_OUT_SUCCESS, slow ? 200 * MS : MS,
			 first ? epoch : cb_engine_epoch_since(b, now), now, 0,
			 NULL);
}

/*
 * Exchanges the hooks saw succeed wait in the breaker until the module
 * folds them in, before anything else: a breaker that folds lazily must be
 * where one that records each success at once is, at every fold, over
 * random histories of exchanges, failures, probes and time, in both kinds
 * of window. Successes folded together are taken fast ones first; the
 * histories fold whenever the kind changes (a slow success trips by the
 * slow rate, which fast ones after it lower), as the module's sweeper and
 * every other event do often enough.
 */
TEST_F(engine, folded_exchanges_decide_as_recorded_ones)
{
	struct cb_breaker eager, lazy;
	unsigned int seed, i, r, slow = 0;
	__u32 epoch = 0, nslow;
	int a, l;

	for (seed = 1; seed <= 300; seed++) {
		srandom(seed);
		self->p.window_ns = seed % 2 ? 0 : 4 * SEC;
		self->p.max_age_ns = seed % 3 ? 600 * SEC : 0;
		self->p.slow_ns = 100 * MS;
		self->p.slow_rate = 60;
		self->p.open_ns = 500 * MS;
		ASSERT_EQ(NULL, cb_policy_invalid(&self->p));
		cb_engine_init(&eager, &self->p, self->now);
		cb_engine_init(&lazy, &self->p, self->now);
		for (i = 0; i < 400; i++) {
			r = random() % 16;
			if (r < 10 && (r & 1) == slow) {
				eager_ok(&eager, &self->p, 0, 0, slow, self->now);
				hook_ok(&lazy, 0, 0, slow);
				continue;
			}
			/*
			 * Anything else: the module folds first. Time moves
			 * only here: a breaker the hooks' successes trip opens
			 * at the fold, and the two must open at one time.
			 */
			slow = r & 1;
			cb_engine_fold(&lazy, &self->p, self->now, 0, NULL,
				       &nslow);
			self->now += (random() % 50) * MS;
			cb_engine_tick(&eager, &self->p, self->now, 0, NULL);
			cb_engine_tick(&lazy, &self->p, self->now, 0, NULL);
			/*
			 * Decisions: totals may differ, by the successes the
			 * hooks counted after the one that tripped an eager
			 * breaker (it opens at the fold, not before them).
			 */
			ASSERT_EQ(eager.state, lazy.state);
			ASSERT_EQ(eager.epoch, lazy.epoch);
			ASSERT_EQ(eager.trips, lazy.trips);
			ASSERT_EQ((int)eager.probes_placed, (int)lazy.probes_placed);
			ASSERT_EQ((int)eager.probes_ok, (int)lazy.probes_ok);
			ASSERT_EQ((int)eager.probes_failed, (int)lazy.probes_failed);
			ASSERT_EQ(eager.failures, lazy.failures);
			if (r < 13) {	/* an exchange fails */
				cb_engine_call(&eager, self->now);
				cb_engine_call(&lazy, self->now);
				cb_engine_record(&eager, &self->p, CB_OUT_TIMEOUT, 0,
						 cb_engine_epoch_since(&eager, self->now),
						 self->now, 0, NULL);
				cb_engine_record(&lazy, &self->p, CB_OUT_TIMEOUT, 0,
						 cb_engine_epoch_since(&lazy, self->now),
						 self->now, 0, NULL);
			} else if (r < 15) {	/* a new connection's first exchange */
				a = cb_engine_admit(&eager, &self->p, self->now, 0, NULL);
				l = cb_engine_admit(&lazy, &self->p, self->now, 0, NULL);
				ASSERT_EQ(a, l);
				epoch = a;
				if (a >= 0) {
					eager_ok(&eager, &self->p, epoch, 1, 0, self->now);
					hook_ok(&lazy, epoch, 1, 0);
					/* a probe's: the sweeper's next visit */
					cb_engine_fold(&lazy, &self->p, self->now,
						       0, NULL, &nslow);
				}
			}
		}
	}
}

TEST(policy_validation)
{
	struct cb_policy p;

	cb_policy_default(&p);
	ASSERT_EQ(NULL, cb_policy_invalid(&p));
	p.window_calls = 129;
	ASSERT_NE(NULL, cb_policy_invalid(&p));
	cb_policy_default(&p);
	p.min_calls = 101;
	ASSERT_NE(NULL, strstr(cb_policy_invalid(&p), "min-calls"));
	cb_policy_default(&p);
	p.backoff_max_ns = p.open_ns - 1;
	ASSERT_NE(NULL, strstr(cb_policy_invalid(&p), "backoff-max"));
	cb_policy_default(&p);
	p.failure_rate = 0;
	ASSERT_NE(NULL, cb_policy_invalid(&p));
	cb_policy_default(&p);
	p.window_ns = 60 * SEC;
	p.min_calls = 1000;	/* a time window may hold more than 128 */
	ASSERT_EQ(NULL, cb_policy_invalid(&p));
}

/*
 * The gate's hash (struct cb_gate_set), which hooks and module share, is
 * SipHash-1-3: the kernel's own vector for hsiphash on 64 bits (lib/
 * siphash_kunit.c: bytes 0..31 under key bytes 0..15), and any change of
 * the key or of one bit of the input changes it.
 */
TEST(the_gate_hash_is_siphash_1_3)
{
	__u64 k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL }, h;
	unsigned char in[sizeof(struct cb_key)];
	struct cb_key key;
	unsigned int i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = i;
	memcpy(&key, in, sizeof(key));
	h = cb_key_hash(&key, k);
	ASSERT_EQ(0x16a7b60dU, (__u32)h);
	k[1] ^= 1;
	ASSERT_NE(h, cb_key_hash(&key, k));
	k[1] ^= 1;
	key.netns ^= 1ULL << 63;
	ASSERT_NE(h, cb_key_hash(&key, k));
}

#include "cb_ref.h"

TEST_HARNESS_MAIN
