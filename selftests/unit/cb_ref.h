/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A deliberately simple model of the breaker rules, and a differential test
 * of the engine against it. The model keeps every result with its time in a
 * plain array and computes the windows from their definitions:
 *   count window: the newest window_calls results, less those whose age
 *                 tick (now / (max-age/4, whole ms)) is 4 or more behind
 *                 now's;
 *   time window:  the results whose bucket (t / (window/8)) is one of the
 *                 8 newest;
 * both as of the moment the breaker left CLOSED while it is not closed.
 * No rings, bitmaps, runs or buckets: where the engine's bookkeeping is
 * wrong, the two disagree.
 */
#ifndef _CB_REF_H
#define _CB_REF_H

#define REF_RESULTS 4096

struct ref_result {
	__u64 t;
	int fail, slow;
};

struct ref {
	int state, forced;
	unsigned int trips;
	__u32 epoch;
	__u64 calls, successes, failures, slow, rejected;
	__u64 opened_at, open_until, changed_at, probe_deadline;
	__u64 seen;		/* newest time applied */
	__u64 left_closed;	/* the window is as it was then while not closed */
	__u32 last_call;
	unsigned int placed, ok, failed;
	int held;		/* a trip max-open held back, reported */
	struct ref_result r[REF_RESULTS];	/* since the window was cleared */
	unsigned int n;
	/* the changes of the last call, with window and probes then */
	struct cb_change ch[CB_MAX_CHANGES];
	unsigned int nch;
};

static const struct cb_policy *ref_p;	/* the sequence's policy */
/* What max-open answers during one event, and how often it was asked. */
static int ref_allow;
static unsigned int ref_asked;

/* Time never goes back for a breaker: an older time counts as the newest. */
static __u64 ref_clock(struct ref *m, __u64 now)
{
	if (now > m->seen)
		m->seen = now;
	return m->seen;
}

static int ref_in_window(const struct ref *m, const struct cb_policy *p,
			 unsigned int i, __u64 now)
{
	__u64 w = p->window_ns / CB_TIME_BUCKETS;
	__u64 tick = p->max_age_ns / CB_AGE_TICKS / MS * MS;

	if (p->window_ns)
		return now / w - m->r[i].t / w < CB_TIME_BUCKETS;
	if (i + p->window_calls < m->n)
		return 0;
	return !tick || now / tick - m->r[i].t / tick < CB_AGE_TICKS;
}

static void ref_window(const struct ref *m, const struct cb_policy *p,
		       __u64 now, struct cb_window_sum *s)
{
	unsigned int i;

	*s = (struct cb_window_sum){ 0 };
	if (m->state != CB_STATE_CLOSED)
		now = m->left_closed;
	for (i = 0; i < m->n; i++) {
		if (!ref_in_window(m, p, i, now))
			continue;
		s->calls++;
		s->fails += m->r[i].fail;
		s->slows += m->r[i].slow;
	}
}

static void ref_set(struct ref *m, int to, __u64 now)
{
	struct cb_window_sum s;

	if (m->state == to)
		return;
	ref_window(m, ref_p, now, &s);
	if (m->nch < CB_MAX_CHANGES)
		m->ch[m->nch++] = (struct cb_change){
			.from = m->state, .to = to,
			.probes_placed = m->placed, .probes_ok = m->ok,
			.probes_failed = m->failed,
			.calls = s.calls, .fails = s.fails, .slows = s.slows,
		};
	if (m->state == CB_STATE_CLOSED)
		m->left_closed = now;
	m->state = to;
	m->changed_at = now;
	m->epoch++;
	m->placed = m->ok = m->failed = 0;
	m->probe_deadline = 0;
}

static void ref_trip(struct ref *m, const struct cb_policy *p, __u64 now,
		     __u64 rnd)
{
	__u64 d = p->open_ns;
	unsigned int i;

	if (m->state == CB_STATE_CLOSED && now - m->changed_at >= p->backoff_max_ns)
		m->trips = 0;
	for (i = 0; i < m->trips && d < p->backoff_max_ns; i++)
		d = d * p->backoff / 100;
	if (d > p->backoff_max_ns)
		d = p->backoff_max_ns;
	d += rnd % (d * p->jitter / 100 + 1);
	m->open_until = now + d;
	m->opened_at = now;
	if (m->trips < 255)
		m->trips++;
	ref_set(m, CB_STATE_OPEN, now);
}

static void ref_close(struct ref *m, __u64 now)
{
	ref_set(m, CB_STATE_CLOSED, now);
	m->n = 0;
	m->opened_at = m->open_until = 0;
}

static void ref_tick(struct ref *m, const struct cb_policy *p, __u64 now,
		     __u64 rnd)
{
	now = ref_clock(m, now);
	if (m->forced)
		return;
	if (m->state == CB_STATE_OPEN && now >= m->open_until)
		ref_set(m, CB_STATE_HALF_OPEN, now);
	if (m->state == CB_STATE_HALF_OPEN && m->probe_deadline &&
	    now >= m->probe_deadline) {
		if (m->ok * 100 >= p->probe_success * m->placed)
			ref_close(m, now);
		else
			ref_trip(m, p, now, rnd);
	}
}

static int ref_admit(struct ref *m, const struct cb_policy *p, __u64 now,
		     __u64 rnd)
{
	now = ref_clock(m, now);
	if (m->forced == CB_FORCE_OPEN) {
		m->rejected++;
		return CB_ADMIT_REFUSE;
	}
	ref_tick(m, p, now, rnd);
	if (m->forced == CB_FORCE_CLOSED || m->state == CB_STATE_CLOSED ||
	    (m->state == CB_STATE_HALF_OPEN && m->placed < p->probes)) {
		if (m->state == CB_STATE_HALF_OPEN && !m->forced &&
		    !m->placed++)
			m->probe_deadline = now + p->probe_wait_ns;
		m->calls++;
		m->last_call = now >> 20;
		return m->epoch & 0x7fffffff;
	}
	m->rejected++;
	return p->mode == CB_MODE_DRY_RUN ? CB_ADMIT_SILENT : CB_ADMIT_REFUSE;
}

static void ref_probe(struct ref *m, const struct cb_policy *p, int good,
		      __u64 now, __u64 rnd)
{
	unsigned int needed = (p->probes * p->probe_success + 99) / 100;

	if (good)
		m->ok++;
	else
		m->failed++;
	if (m->ok >= needed)
		ref_close(m, now);
	else if (m->failed > p->probes - needed)
		ref_trip(m, p, now, rnd);
}

static void ref_check(struct ref *m, const struct cb_policy *p, __u64 now,
		      __u64 rnd)
{
	struct cb_window_sum s;

	if (m->forced)
		return;
	ref_window(m, p, now, &s);
	if (s.calls < p->min_calls ||
	    (s.fails * 100 < p->failure_rate * s.calls &&
	     s.slows * 100 < p->slow_rate * s.calls)) {
		m->held = 0;
		return;
	}
	if (p->max_open < 100) {
		ref_asked++;
		if (!ref_allow) {
			/* stays closed, reported once while held */
			if (!m->held && m->nch < CB_MAX_CHANGES)
				m->ch[m->nch++] = (struct cb_change){
					.from = CB_STATE_CLOSED,
					.to = CB_STATE_CLOSED,
					.calls = s.calls, .fails = s.fails,
					.slows = s.slows,
				};
			m->held = 1;
			return;
		}
	}
	m->held = 0;
	ref_trip(m, p, now, rnd);
}

static void ref_add(struct ref *m, const struct cb_policy *p, int fail,
		    int slow, __u64 now, __u64 rnd)
{
	if (m->n < REF_RESULTS)
		m->r[m->n++] = (struct ref_result){ now, fail, slow };
	ref_check(m, p, now, rnd);
}

/* 1: a success that went into the window, or a good probe */
static int ref_record(struct ref *m, const struct cb_policy *p, int fail,
		      __u64 latency, __u32 epoch, __u64 now, __u64 rnd)
{
	int slow = latency >= p->slow_ns;	/* a slow failure is both */

	now = ref_clock(m, now);
	if (fail)
		m->failures++;
	else
		m->successes++;
	m->slow += slow;
	if (m->forced == CB_FORCE_OPEN)
		return 0;
	ref_tick(m, p, now, rnd);
	if (epoch != (m->epoch & 0x7fffffff))
		return 0;
	if (m->forced || m->state == CB_STATE_CLOSED) {
		ref_add(m, p, fail, slow, now, rnd);
		return !fail;
	}
	if (m->state == CB_STATE_HALF_OPEN) {
		ref_probe(m, p, !fail && !slow, now, rnd);
		return !fail && !slow;
	}
	return 0;
}

/* A result of a class fail-on leaves out: a half-open probe's place back. */
static void ref_void(struct ref *m, const struct cb_policy *p, __u32 epoch,
		     __u64 now, __u64 rnd)
{
	now = ref_clock(m, now);
	ref_tick(m, p, now, rnd);
	if (!m->forced && m->state == CB_STATE_HALF_OPEN &&
	    epoch == (m->epoch & 0x7fffffff) && m->placed > m->ok + m->failed &&
	    !--m->placed)
		m->probe_deadline = 0;
}

static void ref_amend(struct ref *m, const struct cb_policy *p, __u32 epoch,
		      __u64 now, __u64 rnd)
{
	int i;

	now = ref_clock(m, now);
	if (m->successes) {
		m->successes--;
		m->failures++;
	}
	if (m->forced == CB_FORCE_OPEN)
		return;
	ref_tick(m, p, now, rnd);
	if (epoch != (m->epoch & 0x7fffffff))
		return;
	if (m->state == CB_STATE_HALF_OPEN && m->ok) {
		m->ok--;
		ref_probe(m, p, 0, now, rnd);
	}
	if (m->state != CB_STATE_CLOSED)
		return;
	for (i = m->n - 1; i >= 0; i--) {
		if (ref_in_window(m, p, i, now) && !m->r[i].fail) {
			m->r[i].fail = 1;
			ref_check(m, p, now, rnd);
			return;
		}
	}
	ref_add(m, p, 1, 0, now, rnd);
}

/* --- the differential test ---------------------------------------------- */

static __u64 ref_rng;

static __u64 ref_rand(void)
{
	ref_rng ^= ref_rng << 13;
	ref_rng ^= ref_rng >> 7;
	ref_rng ^= ref_rng << 17;
	return ref_rng;
}

static __u64 ref_pick(const __u64 *v, unsigned int n)
{
	return v[ref_rand() % n];
}

static void ref_policy(struct cb_policy *p)
{
	static const __u64 ms[] = { 10, 50, 100, 250, 1000, 3000 };

	do {
		cb_policy_default(p);
		if (ref_rand() % 2) {
			p->window_ns = (100 + ref_rand() % 8000) * MS;
			p->min_calls = 1 + ref_rand() % 12;
		} else {
			p->window_calls = 1 + ref_rand() % (ref_rand() % 4 ? 20 : 128);
			p->min_calls = 1 + ref_rand() % p->window_calls;
			p->max_age_ns = ref_rand() % 3 ? (1 + ref_rand() % 10) * SEC : 0;
		}
		p->failure_rate = 1 + ref_rand() % 100;
		p->slow_rate = 1 + ref_rand() % 100;
		p->slow_ns = ref_pick(ms, 6) * MS;
		p->open_ns = ref_pick(ms, 6) * MS;
		p->backoff = 100 + ref_rand() % 300;
		p->backoff_max_ns = p->open_ns * (1 + ref_rand() % 10);
		p->jitter = ref_rand() % 3 ? ref_rand() % 101 : 0;
		p->probes = 1 + ref_rand() % 6;
		p->probe_success = 1 + ref_rand() % 100;
		p->probe_wait_ns = ref_pick(ms, 6) * MS;
		p->mode = ref_rand() % 5 == 0 ? CB_MODE_DRY_RUN : CB_MODE_ENFORCE;
		p->max_open = ref_rand() % 2 ? 100 : 1 + ref_rand() % 99;
		p->fail_on = ref_rand() % 3 ? CB_CLASS_DEFAULT :
			     1 + ref_rand() % CB_CLASS_ALL;
	} while (cb_policy_invalid(p));
}

/* Engine and model agree on everything observable? */
/* The same changes, each with the same window and probes? (not reasons) */
static int ref_same_changes(const struct cb_changes *ch, const struct ref *m)
{
	unsigned int i;

	if (ch->n != m->nch)
		return 0;
	for (i = 0; i < ch->n; i++) {
		const struct cb_change *e = &ch->c[i], *r = &m->ch[i];

		if (e->from != r->from || e->to != r->to ||
		    e->calls != r->calls || e->fails != r->fails ||
		    e->slows != r->slows || e->probes_placed != r->probes_placed ||
		    e->probes_ok != r->probes_ok ||
		    e->probes_failed != r->probes_failed)
			return 0;
	}
	return 1;
}

static int ref_same(struct cb_breaker *b, struct ref *m,
		    const struct cb_policy *p, __u64 now)
{
	struct cb_window_sum se, sm;

	cb_engine_window(b, p, now, &se);
	ref_window(m, p, ref_clock(m, now), &sm);
	return b->state == m->state && b->forced == m->forced &&
	       b->seen == m->seen &&
	       b->epoch == m->epoch && b->trips == m->trips &&
	       b->calls == m->calls && b->successes == m->successes &&
	       b->failures == m->failures && b->slow == m->slow &&
	       b->rejected == m->rejected &&
	       /* half-open keeps how long it was open in whole ms */
	       cb_engine_opened_at(b) >= m->opened_at &&
	       cb_engine_opened_at(b) - m->opened_at <
	       (b->state == CB_STATE_HALF_OPEN ? CB_NS_MS : 1) &&
	       b->changed_at == m->changed_at && b->last_call == m->last_call &&
	       /* open_until and probe_deadline share their room */
	       (b->state == CB_STATE_HALF_OPEN ?
		b->probe_deadline == m->probe_deadline :
		b->open_until == m->open_until) &&
	       b->probes_placed == m->placed && b->probes_ok == m->ok &&
	       b->probes_failed == m->failed && b->held == m->held &&
	       se.calls == sm.calls && se.fails == sm.fails && se.slows == sm.slows;
}

#define REF_SEQUENCES	100000
#define REF_EVENTS	60

/* The engine asks the caller as the module would; the model asks itself. */
static unsigned int ref_engine_asked;

static int ref_may_open(void *arg, struct cb_breaker *b)
{
	(void)arg;
	(void)b;
	ref_engine_asked++;
	return ref_allow;
}

TEST(engine_matches_the_simple_model_on_random_sequences)
{
	static struct ref m;
	unsigned int seq, ev, npend, i, events = 0, transitions = 0, held = 0;
	struct cb_policy p;
	struct cb_breaker b;
	struct cb_changes ch;
	__u32 pend[64];
	__u64 now, rnd;
	__u16 gen = 0;
	int a, am, taken;
	unsigned int fast = 0;
	static const __u64 steps_for[] = { 10, 100, 1000, 5000 };

	ref_rng = 0x9e3779b97f4a7c15ULL;
	for (seq = 0; seq < REF_SEQUENCES; seq++) {
		ref_policy(&p);
		ref_p = &p;
		now = 1000 * SEC + ref_rand() % SEC;
		cb_engine_init(&b, &p, now);
		cb_engine_rules(&b, &p, ++gen);
		memset(&m, 0, sizeof(m));
		m.changed_at = now;
		m.seen = now;
		npend = 0;
		for (ev = 0; ev < REF_EVENTS; ev++, events++) {
			unsigned int r = ref_rand() % 100;

			rnd = ref_rand();
			ch = (struct cb_changes){ .may_open = ref_may_open };
			ref_allow = ref_rand() % 3 != 0;
			m.nch = 0;
			if (r < 35) {
				/* as the module does for TCP: the fast path first */
				a = cb_engine_admit_fast(&b, now, gen);
				if (a == CB_ADMIT_POLICY) {
					a = cb_engine_admit(&b, &p, now, rnd, &ch);
					cb_engine_rules(&b, &p, gen);
				}
				am = ref_admit(&m, &p, now, rnd);
				ASSERT_EQ(am, a);
				if (a >= 0 && npend < 64)
					pend[npend++] = a;
			} else if (r < 70 && npend) {
				static const int outs[] = { CB_OUT_SUCCESS, CB_OUT_SUCCESS,
							    CB_OUT_REFUSED, CB_OUT_TIMEOUT,
							    CB_OUT_UNREACH };
				/* their classes, for fail-on */
				static const int classes[] = { 0, 0, CB_CLASS_REFUSED,
							       CB_CLASS_TIMEOUT,
							       CB_CLASS_UNREACHABLE };
				int k = ref_rand() % 5, out = outs[k];
				__u64 lat = p.slow_ns - 1 + ref_rand() % 3;
				__u32 ep;

				i = ref_rand() % npend;
				ep = pend[i];
				pend[i] = pend[--npend];
				/* as the module does: the hot path first */
				taken = cb_engine_record_fast(&b, out, lat, ep, now,
							      gen);
				if (taken == CB_RECORD_POLICY) {
					taken = cb_engine_record(&b, &p, out, lat, ep,
								 now, rnd, &ch);
					cb_engine_rules(&b, &p, gen);
				} else {
					fast++;
				}
				if (classes[k] && !(p.fail_on & classes[k]))
					ref_void(&m, &p, ep, now, rnd);
				else
					ASSERT_EQ(ref_record(&m, &p, out != CB_OUT_SUCCESS,
							     lat, ep, now, rnd), taken);
			} else if (r < 75) {
				/* a reset or drop: of a call admitted now or before */
				__u32 ep = npend && ref_rand() % 2 ?
					   pend[ref_rand() % npend] :
					   b.epoch & 0x7fffffff;

				cb_engine_amend(&b, &p, ep, now, rnd, &ch);
				ref_amend(&m, &p, ep, now, rnd);
			} else if (r < 95) {
				static const __u64 steps[] = { 1, 10, 100, 400, 1000, 2500 };

				/* a quarter of the steps go back: a caller that
				 * read the clock before another CPU applied a
				 * later time
				 */
				if (ref_rand() % 4)
					now += ref_pick(steps, 6) * MS + ref_rand() % MS;
				else
					now -= ref_rand() % (3 * SEC);
			} else if (r < 96) {
				cb_engine_tick(&b, &p, now, rnd, &ch);
				ref_tick(&m, &p, now, rnd);
			} else if (r < 97 && ref_rand() % 2) {
				/* policy change dry-run <-> enforce: the rules'
				 * generation moves; the breaker hears of it
				 * only through it
				 */
				p.mode = !p.mode;
				gen++;
			} else if (r < 97) {
				/* trip for a while: open, unforced, its own end */
				__u64 d = ref_pick(steps_for, 4) * MS;
				__u64 t = ref_clock(&m, now);

				cb_engine_trip_for(&b, &p, d, now, &ch);
				m.forced = 0;
				m.held = 0;
				/* an open breaker it finds opened then */
				if (m.state != CB_STATE_OPEN)
					m.opened_at = t;
				ref_set(&m, CB_STATE_OPEN, t);
				m.open_until = t + d;
			} else if (r < 98) {
				int f = 1 + ref_rand() % 2;
				__u64 t = ref_clock(&m, now);

				cb_engine_force(&b, &p, f, now, &ch);
				m.forced = f;
				m.held = 0;
				if (f != CB_FORCE_OPEN)
					m.opened_at = 0;
				else if (m.state != CB_STATE_OPEN)
					m.opened_at = t;
				ref_set(&m, f == CB_FORCE_OPEN ? CB_STATE_OPEN :
					CB_STATE_CLOSED, t);
				m.open_until = 0;
			} else {
				cb_engine_reset(&b, &p, now, &ch);
				m.forced = 0;
				m.held = 0;
				ref_set(&m, CB_STATE_CLOSED, ref_clock(&m, now));
				m.opened_at = m.open_until = 0;
				m.trips = 0;
				m.n = 0;
			}
			for (i = 0; i < ch.n; i++)
				held += ch.c[i].reason == CB_REASON_MAX_OPEN;
			if (!ref_same_changes(&ch, &m) || !ref_same(&b, &m, &p, now) ||
			    ref_engine_asked != ref_asked) {
				TH_LOG("sequence %u event %u (kind %u) differs", seq, ev, r);
				TH_LOG("engine: state %u epoch %u calls %llu fails %llu",
				       b.state, b.epoch, (unsigned long long)b.calls,
				       (unsigned long long)b.failures);
				TH_LOG("model:  state %u epoch %u calls %llu fails %llu",
				       m.state, m.epoch, (unsigned long long)m.calls,
				       (unsigned long long)m.failures);
				ASSERT_TRUE(0);
			}
		}
		transitions += b.epoch;
	}
	TH_LOG("%u sequences, %u events, %u state changes, %u trips held "
	       "back by max-open (%u asked), %u results on the hot path agreed",
	       REF_SEQUENCES, events, transitions, held, ref_asked, fast);
	/* the sequences must actually exercise the machine */
	ASSERT_LT(REF_SEQUENCES, transitions);
	ASSERT_LT(REF_SEQUENCES / 10, held);
	ASSERT_LT(REF_SEQUENCES / 10, fast);
}

#endif /* _CB_REF_H */
