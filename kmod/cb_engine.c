// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker state machine (see cb_engine.h).
 *
 * CLOSED: admitted calls' results go into a window; when it holds at least
 * min-calls results and the failure or slow percentage reaches its
 * threshold, the breaker trips, unless its policy's max-open holds the
 * trip back (the caller's may_open, which counts the policy's breakers not
 * closed): then it stays CLOSED, keeps its window and asks again on its
 * next result.
 * OPEN: calls are refused for open x backoff^(consecutive trips), capped at
 * backoff-max, plus up to jitter percent; then it is HALF_OPEN.
 * A call that took the slow threshold or longer is slow, whether it
 * succeeded or failed (a SYN timeout is both, as in resilience4j).
 * HALF_OPEN: at most `probes` calls are placed. It closes as soon as
 * probe-success percent of `probes` succeeded, reopens as soon as more have
 * failed than that allows, and decides with what it has probe-wait after
 * the first probe, unfinished probes counting as failed. A probe succeeds
 * only if it succeeded and was not slow; failed, slow or both, it is one
 * failed probe.
 * Results carry the epoch they were admitted in; results of an earlier
 * epoch count in the totals but decide nothing.
 */
#include "cb_engine.h"

#define NSEC_PER_MS	1000000ULL
#define NSEC_PER_S	1000000000ULL

const struct cb_pkey cb_pkeys[CB_NR_PKEYS] = {
#define CB_PKEY(_attr, _name, _range, _field, type, _unit, _min, _max,	\
		_def, _help)						\
	[CB_PK_##_attr] = {						\
		.name = _name, .range = _range, .field = #_field,	\
		.help = _help, .min = _min, .max = _max, .def = _def,	\
		.attr = CB_A_P_##_attr,					\
		.offset = __builtin_offsetof(struct cb_policy, _field),	\
		.size = sizeof(type), .unit = _unit,			\
	},
#include <linux/cbreaker_keys.h>
#undef CB_PKEY
};

/* enum cb_class, bit by bit */
const char *const cb_class_names[CB_NR_CLASSES] = {
	"refused", "timeout", "unreachable", "abandoned", "reset", "dropped",
	"stalled",
};

static const __u8 cb_out_class[__CB_OUT_MAX] = {
	[CB_OUT_REFUSED]	= CB_CLASS_REFUSED,
	[CB_OUT_TIMEOUT]	= CB_CLASS_TIMEOUT,
	[CB_OUT_UNREACH]	= CB_CLASS_UNREACHABLE,
	[CB_OUT_PORT_UNREACH]	= CB_CLASS_REFUSED,
	[CB_OUT_ABANDONED]	= CB_CLASS_ABANDONED,
	[CB_OUT_RESET]		= CB_CLASS_RESET,
	[CB_OUT_DROPPED]	= CB_CLASS_DROPPED,
	[CB_OUT_STALLED]	= CB_CLASS_STALLED,
};

int cb_engine_counts(const struct cb_policy *p, enum cb_outcome out)
{
	return !p || out == CB_OUT_SUCCESS ||
	       (out < __CB_OUT_MAX && (p->fail_on & cb_out_class[out]));
}

/* What cb_policy_invalid() says of a key out of its range. */
static const char *const cb_pkey_bad[CB_NR_PKEYS] = {
#define CB_PKEY(attr, name, range, ...)	\
	[CB_PK_##attr] = name " (" range ")",
#include <linux/cbreaker_keys.h>
#undef CB_PKEY
};

__u64 cb_pkey_get(const struct cb_policy *p, const struct cb_pkey *k)
{
	const void *f = (const char *)p + k->offset;

	switch (k->size) {
	case 1:
		return *(const __u8 *)f;
	case 2:
		return *(const __u16 *)f;
	case 4:
		return *(const __u32 *)f;
	}
	return *(const __u64 *)f;
}

void cb_pkey_set(struct cb_policy *p, const struct cb_pkey *k, __u64 v)
{
	void *f = (char *)p + k->offset;

	switch (k->size) {
	case 1:
		*(__u8 *)f = v;
		break;
	case 2:
		*(__u16 *)f = v;
		break;
	case 4:
		*(__u32 *)f = v;
		break;
	default:
		*(__u64 *)f = v;
	}
	if (k->unit == CB_UNIT_WINDOW_N)
		p->window_ns = 0;
}

int cb_pkey_in_force(const struct cb_policy *p, const struct cb_pkey *k)
{
	if (k->unit == CB_UNIT_WINDOW_N)
		return !p->window_ns;
	if (k->unit == CB_UNIT_WINDOW_NS)
		return !!p->window_ns;
	return 1;
}

void cb_policy_default(struct cb_policy *p)
{
	unsigned int i;

	*p = (struct cb_policy){ 0 };
	for (i = 0; i < CB_NR_PKEYS; i++)
		cb_pkey_set(p, &cb_pkeys[i], cb_pkeys[i].def);
}

const char *cb_policy_invalid(const struct cb_policy *p)
{
	const struct cb_pkey *k;
	unsigned int i;
	__u64 v;

	for (i = 0; i < CB_NR_PKEYS; i++) {
		k = &cb_pkeys[i];
		v = cb_pkey_get(p, k);
		if (!cb_pkey_in_force(p, k) || (k->unit == CB_UNIT_NS_OFF && !v))
			continue;
		if (v < k->min || v > k->max)
			return cb_pkey_bad[i];
		/* the keys checked against others, in the same order */
		if (i == CB_PK_MIN_CALLS && !p->window_ns &&
		    p->min_calls > p->window_calls)
			return "min-calls (at most the window's calls)";
		if (i == CB_PK_BACKOFF_MAX_NS && p->backoff_max_ns < p->open_ns)
			return cb_pkey_bad[i];
	}
	return 0;
}

/* --- count window ------------------------------------------------------- */

static int cb_bit(const __u64 *bits, unsigned int i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

static void cb_set_bit(__u64 *bits, unsigned int i, int v)
{
	bits[i / 64] &= ~(1ULL << (i % 64));
	bits[i / 64] |= (__u64)!!v << (i % 64);
}

/* @i + 1 in a ring of @n: no division on every result */
static unsigned int cb_next(unsigned int i, unsigned int n)
{
	return i + 1 == n ? 0 : i + 1;
}

/* Drop the oldest @n results held. */
static void cw_drop(struct cb_count_window *w, unsigned int n)
{
	unsigned int tail;

	while (n-- && w->count) {
		tail = w->head + w->size - w->count;
		if (tail >= w->size)
			tail -= w->size;
		w->fails -= cb_bit(w->fail, tail);
		w->slows -= cb_bit(w->slow, tail);
		w->count--;
	}
}

/* The age tick of @now, 0 without ageing (cb_breaker.age_tick_ms). */
static __u64 cw_tick(__u32 tick_ms, __u64 now)
{
	return tick_ms ? now / ((__u64)tick_ms * NSEC_PER_MS) : 0;
}

/* Results whose age tick is CB_AGE_TICKS or more behind @tick drop out. */
static void cw_age_to(struct cb_count_window *w, __u64 tick)
{
	while (w->runs && tick - w->run_tick[w->run_first] >= CB_AGE_TICKS) {
		cw_drop(w, w->run_len[w->run_first]);
		w->run_first = cb_next(w->run_first, CB_AGE_TICKS + 1);
		w->runs--;
	}
}

static void cw_age(struct cb_count_window *w, __u32 tick_ms, __u64 now)
{
	if (tick_ms)
		cw_age_to(w, cw_tick(tick_ms, now));
}

static void cw_add(struct cb_count_window *w, __u32 tick_ms, int fail,
		   int slow, __u64 now)
{
	__u64 tick = cw_tick(tick_ms, now);
	unsigned int newest;

	if (tick_ms)
		cw_age_to(w, tick);
	if (w->count == w->size) {
		cw_drop(w, 1);
		if (w->runs && !--w->run_len[w->run_first]) {
			w->run_first = cb_next(w->run_first, CB_AGE_TICKS + 1);
			w->runs--;
		}
	}
	cb_set_bit(w->fail, w->head, fail);
	cb_set_bit(w->slow, w->head, slow);
	w->head = cb_next(w->head, w->size);
	w->count++;
	w->fails += !!fail;
	w->slows += !!slow;

	if (!tick_ms)
		return;
	/* the runs are a ring of CB_AGE_TICKS + 1 from run_first */
	newest = w->run_first + w->runs;
	if (newest >= CB_AGE_TICKS + 1)
		newest -= CB_AGE_TICKS + 1;
	/* After ageing at most CB_AGE_TICKS older ticks are held, so a new
	 * tick always finds room; a clock that went back joins the newest.
	 */
	if (w->runs) {
		newest = newest ? newest - 1 : CB_AGE_TICKS;
		if (w->run_tick[newest] >= (__u32)tick ||
		    w->runs == CB_AGE_TICKS + 1) {
			w->run_len[newest]++;
			return;
		}
		newest = cb_next(newest, CB_AGE_TICKS + 1);
	}
	w->run_tick[newest] = tick;
	w->run_len[newest] = 1;
	w->runs++;
}

/*
 * The newest result held that did not fail becomes a failure. Only UDP
 * results are amended, and they are never slow: slow marks stay.
 */
static int cw_amend(struct cb_count_window *w, __u32 tick_ms, __u64 now)
{
	unsigned int i, slot;

	cw_age(w, tick_ms, now);
	for (i = 1; i <= w->count; i++) {
		slot = (w->head + w->size - i) % w->size;
		if (!cb_bit(w->fail, slot)) {
			cb_set_bit(w->fail, slot, 1);
			w->fails++;
			return 1;
		}
	}
	return 0;
}

/* --- time window -------------------------------------------------------- */

static void tw_advance(struct cb_time_window *w, __u64 now)
{
	__u64 e = now / w->width_ns;
	unsigned int i;

	if (e <= w->newest)
		return;
	for (i = 0; i < CB_TIME_BUCKETS && w->newest < e; i++) {
		unsigned int b = (++w->newest) % CB_TIME_BUCKETS;

		w->calls[b] = 0;
		w->fails[b] = 0;
		w->slows[b] = 0;
	}
	w->newest = e;
}

static void cb_inc16(__u16 *v)
{
	if (*v != 0xffff)
		(*v)++;
}

static void tw_add(struct cb_time_window *w, int fail, int slow, __u64 now)
{
	unsigned int b;

	tw_advance(w, now);
	b = w->newest % CB_TIME_BUCKETS;
	cb_inc16(&w->calls[b]);
	if (fail)
		cb_inc16(&w->fails[b]);
	if (slow)
		cb_inc16(&w->slows[b]);
}

static void cb_add16(__u16 *v, __u32 n)
{
	*v = *v + n < 0xffff ? *v + n : 0xffff;
}

/* @n successes at once, all slow or none. */
static void tw_add_ok(struct cb_time_window *w, __u32 n, int slow, __u64 now)
{
	unsigned int b;

	tw_advance(w, now);
	b = w->newest % CB_TIME_BUCKETS;
	cb_add16(&w->calls[b], n);
	if (slow)
		cb_add16(&w->slows[b], n);
}

static int tw_amend(struct cb_time_window *w, __u64 now)
{
	unsigned int i, b;

	tw_advance(w, now);
	for (i = 0; i < CB_TIME_BUCKETS; i++) {
		b = (w->newest + CB_TIME_BUCKETS - i) % CB_TIME_BUCKETS;
		if (w->fails[b] < w->calls[b]) {
			w->fails[b]++;
			return 1;
		}
	}
	return 0;
}

/* --- window, whichever kind -------------------------------------------- */

/*
 * Time as a breaker sees it never goes back: a caller that read the clock
 * before another CPU applied a later time gets that later time, so no
 * window, backoff or idle check subtracts a newer time from an older one.
 * Every entry point applies it first.
 */
static __u64 cb_clock(struct cb_breaker *b, __u64 now)
{
	if (now < b->seen)
		return b->seen;
	b->seen = now;
	return now;
}

/* Age ticks are whole milliseconds: max-age / CB_AGE_TICKS, rounded down. */
static __u32 cb_age_tick_ms(const struct cb_policy *p)
{
	return p->max_age_ns / CB_AGE_TICKS / NSEC_PER_MS;
}

static void cb_window_clear(struct cb_breaker *b, const struct cb_policy *p,
			    __u64 now)
{
	if (p->window_ns) {
		b->time_window = 1;
		b->tw = (struct cb_time_window){
			.width_ns = p->window_ns / CB_TIME_BUCKETS,
		};
		b->tw.newest = now / b->tw.width_ns;
	} else {
		b->time_window = 0;
		b->cw = (struct cb_count_window){ .size = p->window_calls };
		b->age_tick_ms = cb_age_tick_ms(p);
	}
}

/* A policy change of window shape starts the window afresh. */
static void cb_window_fit(struct cb_breaker *b, const struct cb_policy *p,
			  __u64 now)
{
	int same;

	if (p->window_ns)
		same = b->time_window &&
		       b->tw.width_ns == p->window_ns / CB_TIME_BUCKETS;
	else
		same = !b->time_window && b->cw.size == p->window_calls &&
		       b->age_tick_ms == cb_age_tick_ms(p);
	if (!same)
		cb_window_clear(b, p, now);
}

/* Results too old for the window drop out. */
static void cb_window_age(struct cb_breaker *b, __u64 now)
{
	if (b->time_window)
		tw_advance(&b->tw, now);
	else
		cw_age(&b->cw, b->age_tick_ms, now);
}

/* What the window holds, as it is. */
static void cb_window_sum(const struct cb_breaker *b, struct cb_window_sum *s)
{
	unsigned int i;

	*s = (struct cb_window_sum){ 0 };
	if (!b->time_window) {
		s->calls = b->cw.count;
		s->fails = b->cw.fails;
		s->slows = b->cw.slows;
		return;
	}
	for (i = 0; i < CB_TIME_BUCKETS; i++) {
		s->calls += b->tw.calls[i];
		s->fails += b->tw.fails[i];
		s->slows += b->tw.slows[i];
	}
}

void cb_engine_window(struct cb_breaker *b, const struct cb_policy *p,
		      __u64 now, struct cb_window_sum *s)
{
	now = cb_clock(b, now);
	*s = (struct cb_window_sum){ 0 };
	if (!p)
		return;
	cb_window_fit(b, p, now);
	if (b->state == CB_STATE_CLOSED)
		cb_window_age(b, now);	/* else it is kept as it opened */
	cb_window_sum(b, s);
}

/* --- states ------------------------------------------------------------- */

/* A change for events and history, with the window and probes as they are. */
static void cb_report(const struct cb_breaker *b, enum cb_state to,
		      enum cb_reason why, struct cb_changes *ch)
{
	struct cb_window_sum s;

	if (!ch || ch->n >= CB_MAX_CHANGES)
		return;
	cb_window_sum(b, &s);
	ch->c[ch->n++] = (struct cb_change){
		.from = b->state, .to = to, .reason = why,
		.probes_placed = b->probes_placed,
		.probes_ok = b->probes_ok,
		.probes_failed = b->probes_failed,
		.calls = s.calls, .fails = s.fails, .slows = s.slows,
	};
}

static void cb_set_state(struct cb_breaker *b, enum cb_state to,
			 enum cb_reason why, __u64 now, struct cb_changes *ch)
{
	if (b->state == to)
		return;
	/*
	 * Leaving CLOSED, the window stays as it is now until the breaker
	 * closes again (and clears it): the results that opened it remain
	 * visible, in show and in metrics, while it is open or half-open.
	 */
	if (b->state == CB_STATE_CLOSED)
		cb_window_age(b, now);
	/* half-open tells when it opened: changed_at, less this */
	b->open_ms = 0;
	if (b->state == CB_STATE_OPEN && to == CB_STATE_HALF_OPEN)
		b->open_ms = (now - b->changed_at) / CB_NS_MS < 0xffffffffULL ?
			     (now - b->changed_at) / CB_NS_MS : 0xffffffffU;
	cb_report(b, to, why, ch);
	b->state = to;
	b->changed_at = now;
	b->epoch++;
	b->probes_placed = 0;
	b->probes_ok = 0;
	b->probes_failed = 0;
	b->probe_deadline = 0;
}

/* open x backoff^trips, capped; then up to jitter percent more. */
static __u64 cb_open_period(const struct cb_policy *p, unsigned int trips,
			    __u64 rnd)
{
	__u64 d = p->open_ns;
	unsigned int i;

	for (i = 0; i < trips && d < p->backoff_max_ns; i++)
		d = d * p->backoff / 100;
	if (d > p->backoff_max_ns)
		d = p->backoff_max_ns;
	return d + rnd % (d * p->jitter / 100 + 1);
}

static void cb_trip(struct cb_breaker *b, const struct cb_policy *p,
		    enum cb_reason why, __u64 now, __u64 rnd,
		    struct cb_changes *ch)
{
	__u64 d;

	/* A long enough healthy spell forgets earlier trips. */
	if (b->state == CB_STATE_CLOSED &&
	    now - b->changed_at >= p->backoff_max_ns)
		b->trips = 0;
	d = cb_open_period(p, b->trips, rnd);
	if (b->trips < 255)
		b->trips++;
	cb_set_state(b, CB_STATE_OPEN, why, now, ch);
	b->open_until = now + d;	/* after: it shares probe_deadline's room */
}

static void cb_close(struct cb_breaker *b, const struct cb_policy *p,
		     enum cb_reason why, __u64 now, struct cb_changes *ch)
{
	cb_set_state(b, CB_STATE_CLOSED, why, now, ch);
	cb_window_clear(b, p, now);
	b->open_until = 0;
}

/* Probes needed to close: probe-success percent of probes, rounded up. */
static unsigned int cb_probes_needed(const struct cb_policy *p)
{
	return (p->probes * p->probe_success + 99) / 100;
}

void cb_engine_tick(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now, __u64 rnd, struct cb_changes *ch)
{
	now = cb_clock(b, now);
	if (b->forced || !p)
		return;
	if (b->state == CB_STATE_OPEN && now >= b->open_until)
		cb_set_state(b, CB_STATE_HALF_OPEN, CB_REASON_OPEN_ELAPSED,
			     now, ch);
	if (b->state == CB_STATE_HALF_OPEN && b->probe_deadline &&
	    now >= b->probe_deadline) {
		/*
		 * Unfinished probes count as failed; a datagram has no end
		 * but an ICMP error, and none by now is as good as it gets.
		 */
		if (b->datagram)
			b->probes_ok = b->probes_placed - b->probes_failed;
		if ((__u32)b->probes_ok * 100 >=
		    (__u32)p->probe_success * b->probes_placed)
			cb_close(b, p, CB_REASON_PROBE_TIMEOUT, now, ch);
		else
			cb_trip(b, p, CB_REASON_PROBE_TIMEOUT, now, rnd, ch);
	}
}

void cb_engine_init(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now)
{
	*b = (struct cb_breaker){
		.state = CB_STATE_CLOSED,
		.changed_at = now,
		.seen = now,
	};
	if (p)
		cb_window_clear(b, p, now);
}

void cb_engine_call(struct cb_breaker *b, __u64 now)
{
	/* atomic: the BPF hook counts closed breakers' calls without the lock */
	__atomic_fetch_add(&b->calls, 1, __ATOMIC_RELAXED);
	b->last_call = cb_clock(b, now) >> 20;
}

static int cb_admitted(struct cb_breaker *b, __u64 now)
{
	cb_engine_call(b, now);
	return b->epoch & 0x7fffffff;
}

/*
 * The limit in @b's bulkhead word, which the hooks change (their connections)
 * without the lock: only the lock's holder changes the limit, by an atomic
 * add, so neither half ever carries into the other.
 */
static void cb_bulkhead_limit(struct cb_breaker *b, __u32 max)
{
	__u32 have = CB_BULKHEAD_MAX(__atomic_load_n(&b->bulkhead, __ATOMIC_RELAXED));

	if (max != have)
		__atomic_fetch_add(&b->bulkhead, (max - have) << 16, __ATOMIC_RELAXED);
}

void cb_engine_rules(struct cb_breaker *b, const struct cb_policy *p,
		     __u16 gen)
{
	b->dry_run = !p || p->mode == CB_MODE_DRY_RUN;
	/* for the hooks; dry-run changes no connection */
	b->connect_timeout_ms = b->dry_run ? 0 : p->connect_timeout_ns / CB_NS_MS;
	cb_bulkhead_limit(b, b->dry_run ? 0 : p->max_conns);
	/*
	 * the hooks watch its connections after the handshake (dry-run too):
	 * for a reset or drop of the handshake's call, or for its exchanges
	 */
	b->exchanges = p && p->calls == CB_CALLS_EXCHANGES;
	b->fail_late = p && (p->fail_on & CB_CLASS_LATE) && !b->exchanges;
	/* for cb_engine_record_fast(): the window fits, the threshold is known */
	b->slow_us = 0;
	if (p) {
		cb_window_fit(b, p, b->seen);
		b->slow_us = p->slow_ns / 1000 < 0xffffffffULL ?
			     p->slow_ns / 1000 : 0xffffffffU;
	}
	b->rules_gen = gen;
}

int cb_engine_admit_fast(struct cb_breaker *b, __u64 now, __u16 gen)
{
	if (b->xchg)
		return CB_ADMIT_POLICY;	/* to fold them first */
	now = cb_clock(b, now);
	if (b->forced == CB_FORCE_OPEN ||
	    (!b->forced && b->state == CB_STATE_OPEN && now < b->open_until &&
	     b->rules_gen == gen && !b->dry_run)) {
		b->rejected++;
		return CB_ADMIT_REFUSE;
	}
	if (b->forced == CB_FORCE_CLOSED || b->state == CB_STATE_CLOSED)
		return cb_admitted(b, now);
	return CB_ADMIT_POLICY;
}

int cb_engine_admit(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now, __u64 rnd, struct cb_changes *ch)
{
	now = cb_clock(b, now);
	if (b->forced == CB_FORCE_OPEN) {
		b->rejected++;
		return CB_ADMIT_REFUSE;
	}
	if (!p)
		return b->forced ? cb_admitted(b, now) : CB_ADMIT_SILENT;
	cb_window_fit(b, p, now);
	cb_engine_tick(b, p, now, rnd, ch);

	if (b->forced == CB_FORCE_CLOSED || b->state == CB_STATE_CLOSED)
		return cb_admitted(b, now);
	if (b->state == CB_STATE_HALF_OPEN && b->probes_placed < p->probes) {
		if (!b->probes_placed++)
			b->probe_deadline = now + p->probe_wait_ns;
		return cb_admitted(b, now);
	}
	b->rejected++;
	/* dry-run lets it through but must not take its result as a probe's */
	return p->mode == CB_MODE_DRY_RUN ? CB_ADMIT_SILENT : CB_ADMIT_REFUSE;
}

/* Decide half-open as soon as the probes' results allow. */
static void cb_probe_result(struct cb_breaker *b, const struct cb_policy *p,
			    int ok, __u64 now, __u64 rnd, struct cb_changes *ch)
{
	unsigned int needed = cb_probes_needed(p);

	if (ok)
		b->probes_ok++;
	else
		b->probes_failed++;
	if (b->probes_ok >= needed)
		cb_close(b, p, CB_REASON_PROBES_OK, now, ch);
	else if (b->probes_failed > p->probes - needed)
		cb_trip(b, p, CB_REASON_PROBE_FAILED, now, rnd, ch);
}

/*
 * A result of a class its policy does not count (fail-on): in half-open,
 * its probe's place goes to another call.
 */
static void cb_probe_void(struct cb_breaker *b, const struct cb_policy *p,
			  __u32 epoch, __u64 now, __u64 rnd,
			  struct cb_changes *ch)
{
	now = cb_clock(b, now);
	cb_engine_tick(b, p, now, rnd, ch);
	if (!b->forced && b->state == CB_STATE_HALF_OPEN && !b->datagram &&
	    epoch == (b->epoch & 0x7fffffff) &&
	    b->probes_placed > b->probes_ok + b->probes_failed &&
	    !--b->probes_placed)
		b->probe_deadline = 0;	/* none placed: probe-wait starts anew */
}

/* CLOSED: trip if the window says so and max-open lets it. */
static void cb_check_trip(struct cb_breaker *b, const struct cb_policy *p,
			  __u64 now, __u64 rnd, struct cb_changes *ch)
{
	enum cb_reason why = CB_REASON_NONE;
	struct cb_window_sum s;

	if (b->forced)
		return;		/* hold: measure, never trip */
	cb_engine_window(b, p, now, &s);
	if (s.calls >= p->min_calls) {
		if ((__u64)s.fails * 100 >= (__u64)p->failure_rate * s.calls)
			why = CB_REASON_FAILURE_RATE;
		else if ((__u64)s.slows * 100 >= (__u64)p->slow_rate * s.calls)
			why = CB_REASON_SLOW_RATE;
	}
	if (why == CB_REASON_NONE) {
		b->held = 0;	/* recovered: a later trip is a new one */
		return;
	}
	if (p->max_open < 100 && ch && ch->may_open &&
	    !ch->may_open(ch->arg, b)) {
		/*
		 * Held back by max-open: the breaker stays closed and keeps
		 * its window, which shows why (show, metrics, alerts), and
		 * asks again on each result, so it opens on the first one
		 * after room is made. Reported once, not once per call.
		 */
		if (!b->held)
			cb_report(b, CB_STATE_CLOSED, CB_REASON_MAX_OPEN, ch);
		b->held = 1;
		return;
	}
	b->held = 0;
	cb_trip(b, p, why, now, rnd, ch);
}

static void cb_window_result(struct cb_breaker *b, const struct cb_policy *p,
			     int fail, int slow, __u64 now, __u64 rnd,
			     struct cb_changes *ch)
{
	if (b->time_window)
		tw_add(&b->tw, fail, slow, now);
	else
		cw_add(&b->cw, b->age_tick_ms, fail, slow, now);
	cb_check_trip(b, p, now, rnd, ch);
}

int cb_engine_record(struct cb_breaker *b, const struct cb_policy *p,
		     enum cb_outcome out, __u64 latency_ns, __u32 epoch,
		     __u64 now, __u64 rnd, struct cb_changes *ch)
{
	int fail = out != CB_OUT_SUCCESS;
	/* a failure that took as long (a SYN timeout) is slow as well */
	int slow = p && latency_ns >= p->slow_ns;

	if (!cb_engine_counts(p, out)) {
		cb_probe_void(b, p, epoch, now, rnd, ch);
		return 0;
	}
	/*
	 * A handshake its owner gave up on is a failure, and slow, once it
	 * had waited about the slow threshold: 7/8 of it, so that a client's
	 * own timeout equal to it, armed a moment before connect(), counts.
	 * Sooner (a Happy Eyeballs loser, a cancelled request) it says
	 * nothing either way.
	 */
	if (out == CB_OUT_ABANDONED || out == CB_OUT_STALLED) {
		if (!p || latency_ns < p->slow_ns - p->slow_ns / 8)
			return 0;
		slow = 1;
		b->abandoned++;
	}
	now = cb_clock(b, now);
	if (fail)
		b->failures++;
	else
		b->successes++;
	if (slow)
		b->slow++;
	if (!p || b->forced == CB_FORCE_OPEN)
		return 0;
	cb_window_fit(b, p, now);
	cb_engine_tick(b, p, now, rnd, ch);
	if (epoch != (b->epoch & 0x7fffffff))
		return 0;	/* admitted in an earlier state */

	if (b->forced || b->state == CB_STATE_CLOSED) {
		cb_window_result(b, p, fail, slow, now, rnd, ch);
		return !fail;
	}
	if (b->state == CB_STATE_HALF_OPEN && !b->datagram) {
		cb_probe_result(b, p, !fail && !slow, now, rnd, ch);
		return !fail && !slow;
	}
	return 0;	/* a datagram probe is judged at probe-wait, or by an ICMP error */
}

__u32 cb_engine_epoch_since(const struct cb_breaker *b, __u64 start)
{
	__u32 epoch = b->epoch & 0x7fffffff;

	if (b->state == CB_STATE_CLOSED && b->changed_at <= start)
		return epoch;
	return (epoch + 1) & 0x7fffffff;	/* none a result can have */
}

/* @n successes into the window at once, all slow or none; no check. */
static void cb_window_add_ok(struct cb_breaker *b, __u32 n, int slow,
			     __u64 now)
{
	__u32 i;

	if (b->time_window) {
		tw_add_ok(&b->tw, n, slow, now);
		return;
	}
	/* only the newest window's worth can stay in it */
	for (i = 0; i < n && i < b->cw.size; i++)
		cw_add(&b->cw, b->age_tick_ms, 0, slow, now);
}

/*
 * Successes decide nothing below min-calls, and past it they only lower
 * the failure rate, and slow ones only raise the slow rate: so all but
 * the one that brings the window to min-calls go in at once, that one as
 * it would come, and the rest at once with one check after them, which
 * decides as one after each would. Fast ones first. A bounded amount of
 * work under the breaker's lock, however many there are.
 */
static void cb_fold_closed(struct cb_breaker *b, const struct cb_policy *p,
			   __u32 ok, __u32 slow, __u64 now, __u64 rnd,
			   struct cb_changes *ch)
{
	struct cb_window_sum s;
	__u32 n, fast;

	if (!b->forced) {
		cb_engine_window(b, p, now, &s);
		if (s.calls + 1 < p->min_calls) {
			n = p->min_calls - 1 - s.calls;
			if (n > ok + slow)
				n = ok + slow;
			fast = n < ok ? n : ok;
			cb_window_add_ok(b, fast, 0, now);
			cb_window_add_ok(b, n - fast, 1, now);
			ok -= fast;
			slow -= n - fast;
		}
		if (ok + slow) {
			cb_window_result(b, p, 0, !ok, now, rnd, ch);
			if (ok)
				ok--;
			else
				slow--;
		}
	}
	if (ok + slow && (b->forced || b->state == CB_STATE_CLOSED)) {
		cb_window_add_ok(b, ok, 0, now);
		cb_window_add_ok(b, slow, 1, now);
		cb_check_trip(b, p, now, rnd, ch);
	}
}

__u32 cb_engine_fold(struct cb_breaker *b, const struct cb_policy *p,
		     __u64 now, __u64 rnd, struct cb_changes *ch, __u32 *nslow)
{
	/* atomic: the hooks add to it without the lock */
	__u32 w = __atomic_exchange_n(&b->xchg, 0, __ATOMIC_RELAXED);
	__u32 ok = CB_XCHG_OK(w), slow = CB_XCHG_SLOW(w), i;

	*nslow = slow;
	if (!ok && !slow)
		return 0;
	now = cb_clock(b, now);
	b->successes += ok + slow;
	b->slow += slow;
	if (!p || b->forced == CB_FORCE_OPEN)
		return ok + slow;
	cb_window_fit(b, p, now);
	/*
	 * Not ticked first: the hooks counted them in the state they found,
	 * which nothing has changed since (every change folds first).
	 */
	if (b->forced || b->state == CB_STATE_CLOSED) {
		cb_fold_closed(b, p, ok, slow, now, rnd, ch);
		return ok + slow;
	}
	/* half-open: the first exchanges of its probes' connections */
	for (i = 0; i < ok + slow; i++) {
		if (b->state != CB_STATE_HALF_OPEN ||
		    b->probes_ok + b->probes_failed >= b->probes_placed)
			break;
		cb_probe_result(b, p, i < ok, now, rnd, ch);
	}
	return ok + slow;
}

/* Does the window hold no failure and nothing slow? (Ageing only drops.) */
static int cb_window_clean(const struct cb_breaker *b)
{
	unsigned int i;

	if (!b->time_window)
		return !b->cw.fails && !b->cw.slows;
	for (i = 0; i < CB_TIME_BUCKETS; i++)
		if (b->tw.fails[i] || b->tw.slows[i])
			return 0;
	return 1;
}

int cb_engine_record_fast(struct cb_breaker *b, enum cb_outcome out,
			  __u64 latency_ns, __u32 epoch, __u64 now, __u16 gen)
{
	/* latency below the threshold in whole us is below the threshold */
	if (out != CB_OUT_SUCCESS || b->forced || b->state != CB_STATE_CLOSED ||
	    b->held || b->rules_gen != gen || !b->slow_us ||
	    latency_ns >= (__u64)b->slow_us * 1000 ||
	    epoch != (b->epoch & 0x7fffffff) || !cb_window_clean(b))
		return CB_RECORD_POLICY;
	now = cb_clock(b, now);
	b->successes++;
	if (b->time_window)
		tw_add(&b->tw, 0, 0, now);
	else
		cw_add(&b->cw, b->age_tick_ms, 0, 0, now);
	return 1;
}

void cb_engine_amend(struct cb_breaker *b, const struct cb_policy *p,
		     __u32 epoch, __u64 now, __u64 rnd, struct cb_changes *ch)
{
	int amended;

	now = cb_clock(b, now);
	if (b->successes) {
		b->successes--;
		b->failures++;
	}
	if (!p || b->forced == CB_FORCE_OPEN)
		return;
	cb_window_fit(b, p, now);
	cb_engine_tick(b, p, now, rnd, ch);
	if (epoch != (b->epoch & 0x7fffffff))
		return;		/* its success decided nothing in this state */
	if (b->state == CB_STATE_HALF_OPEN) {
		/* a datagram probe is judged at probe-wait, not yet counted */
		if (b->datagram || b->probes_ok) {
			if (!b->datagram)
				b->probes_ok--;
			cb_probe_result(b, p, 0, now, rnd, ch);
		}
		return;
	}
	if (b->state != CB_STATE_CLOSED)
		return;
	amended = b->time_window ? tw_amend(&b->tw, now) :
		  cw_amend(&b->cw, b->age_tick_ms, now);
	if (amended)
		cb_check_trip(b, p, now, rnd, ch);
	else
		cb_window_result(b, p, 1, 0, now, rnd, ch);
}

void cb_engine_force(struct cb_breaker *b, const struct cb_policy *p,
		     enum cb_force force, __u64 now, struct cb_changes *ch)
{
	now = cb_clock(b, now);
	b->held = 0;
	if (force == CB_FORCE_OPEN) {
		cb_set_state(b, CB_STATE_OPEN, CB_REASON_TRIP, now, ch);
		b->open_until = 0;
	} else if (force == CB_FORCE_CLOSED) {
		cb_set_state(b, CB_STATE_CLOSED, CB_REASON_HOLD, now, ch);
		b->open_until = 0;
	}
	b->forced = force;
	if (p)
		cb_window_fit(b, p, now);
}

/*
 * An operator's trip for a while (resilience4j's transitionToOpenStateFor):
 * an unforced OPEN with its own end; probes and backoff as after any trip.
 */
void cb_engine_trip_for(struct cb_breaker *b, const struct cb_policy *p,
			__u64 open_ns, __u64 now, struct cb_changes *ch)
{
	now = cb_clock(b, now);
	b->forced = CB_FORCE_NONE;
	b->held = 0;
	if (p)
		cb_window_fit(b, p, now);
	cb_set_state(b, CB_STATE_OPEN, CB_REASON_TRIP, now, ch);
	b->open_until = now + open_ns;
}

/* A fresh CLOSED breaker: window and backoff cleared; totals stay. */
void cb_engine_reset(struct cb_breaker *b, const struct cb_policy *p,
		     __u64 now, struct cb_changes *ch)
{
	now = cb_clock(b, now);
	b->forced = CB_FORCE_NONE;
	b->held = 0;
	cb_set_state(b, CB_STATE_CLOSED, CB_REASON_RESET, now, ch);
	b->open_until = 0;
	b->trips = 0;
	if (p)
		cb_window_clear(b, p, now);
}

__u64 cb_engine_opened_at(const struct cb_breaker *b)
{
	if (b->state == CB_STATE_OPEN)
		return b->changed_at;
	if (b->state == CB_STATE_HALF_OPEN)
		return b->changed_at - (__u64)b->open_ms * CB_NS_MS;
	return 0;
}

__u64 cb_engine_due(const struct cb_breaker *b)
{
	if (b->forced)
		return 0;
	if (b->state == CB_STATE_OPEN)
		return b->open_until;
	/*
	 * Exchanges the hooks count wait for a fold: within a second, so that
	 * a slow one trips, a probe's closes and a time window's bucket is
	 * the right one, even when nothing else comes. The hooks cannot ask
	 * for one (no kfunc from sock_ops on 6.12): a closed exchanges
	 * breaker is due every second, a half-open one once it has a probe.
	 */
	if (b->exchanges && (b->state == CB_STATE_CLOSED || b->probes_placed))
		return b->state == CB_STATE_HALF_OPEN && b->probe_deadline &&
		       b->probe_deadline < b->seen + CB_NS_S ?
		       b->probe_deadline : b->seen + CB_NS_S;
	if (b->state == CB_STATE_HALF_OPEN)
		return b->probe_deadline;	/* 0 until the first probe */
	return 0;
}

int cb_engine_idle(const struct cb_breaker *b, __u64 now, __u64 idle_ns)
{
	if (now < b->seen)
		now = b->seen;
	/* a breaker that counts open connections keeps them */
	return b->state == CB_STATE_CLOSED && !b->forced &&
	       !CB_BULKHEAD_OPEN(b->bulkhead) && !b->xchg &&
	       (__u32)((now >> 20) - b->last_call) >= (idle_ns >> 20) &&
	       now - b->changed_at >= idle_ns;
}
