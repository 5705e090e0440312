// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker state machine (see cb_engine.h). Integers only.
 */
#include "cb_engine.h"

static void cb_set_state(struct cb_breaker *b, enum cb_state to, __u64 now)
{
	if (b->state == to)
		return;
	b->state = to;
	b->changed_at = now;
	b->transitions++;
}

void cb_engine_init(struct cb_breaker *b, __u64 now)
{
	*b = (struct cb_breaker){ .state = CB_STATE_CLOSED, .changed_at = now };
}

/* The state in force at @now: an OPEN breaker whose time ran out is HALF_OPEN. */
enum cb_state cb_engine_state(const struct cb_breaker *b, __u64 now)
{
	switch (b->forced) {
	case CB_FORCE_OPEN:
		return CB_STATE_OPEN;
	case CB_FORCE_CLOSED:
		return CB_STATE_CLOSED;
	}
	if (b->state == CB_STATE_OPEN && b->open_until && now >= b->open_until)
		return CB_STATE_HALF_OPEN;
	return b->state;
}

enum cb_verdict cb_engine_admit(struct cb_breaker *b, __u64 now)
{
	enum cb_state state = cb_engine_state(b, now);

	if (b->forced == CB_FORCE_NONE)
		cb_set_state(b, state, now);
	if (state == CB_STATE_OPEN) {
		b->rejected++;
		return CB_REFUSE;
	}
	b->calls++;
	return CB_ADMIT;
}

void cb_engine_force(struct cb_breaker *b, enum cb_force force, __u64 now)
{
	b->forced = force;
	if (force == CB_FORCE_OPEN) {
		cb_set_state(b, CB_STATE_OPEN, now);
		b->opened_at = now;
		b->open_until = 0;
	} else if (force == CB_FORCE_CLOSED) {
		cb_set_state(b, CB_STATE_CLOSED, now);
	}
}

/* Back to a fresh CLOSED breaker; the counters of its history stay. */
void cb_engine_reset(struct cb_breaker *b, __u64 now)
{
	b->forced = CB_FORCE_NONE;
	cb_set_state(b, CB_STATE_CLOSED, now);
	b->opened_at = 0;
	b->open_until = 0;
}
