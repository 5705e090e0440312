// SPDX-License-Identifier: GPL-2.0
/*
 * State-change events, their history per destination, and module-wide
 * counters.
 *
 * Changes happen in BPF program context (any CPU, softirq included), so they
 * go into a bounded ring first; a work item multicasts them over generic
 * netlink. Every event has a sequence number: a consumer sees gaps, and
 * CB_STAT_EVENTS_DROPPED counts what a full ring or a full listener socket
 * lost. An event of a breaker that opened under on-open close has the work
 * abort its connections (cb_close.c) before it is sent, with how many: a
 * full ring loses that too.
 */
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "cb_core.h"

#define CB_EVENT_RING 4096	/* power of two */

struct cb_event {
	struct cb_key key;
	struct cb_change c;
	u64 seq, time;
	u8 close;		/* enum cb_close_kind */
	u32 closed;
};

/* The events work's batch, and the breakers of it that close connections. */
#define CB_FLUSH_BATCH	CB_CLOSE_BATCH
static struct cb_event cb_batch[CB_FLUSH_BATCH];
static struct cb_close cb_batch_close[CB_FLUSH_BATCH];

DEFINE_PER_CPU(u64[__CB_STAT_MAX], cb_stats);

static struct cb_event *cb_ring;
static unsigned int cb_ring_head, cb_ring_tail;	/* free-running */
static u64 cb_seq;
static DEFINE_RAW_SPINLOCK(cb_ring_lock);

static bool cb_events_stopped;	/* the netlink family is going */

/*
 * Transition history, in a bounded side table rather than in the breaker
 * (whose value must stay within its 256-byte budget): the last
 * CB_HISTORY_LEN changes of each of up to CB_HIST_SETS * CB_HIST_WAYS
 * destinations. A destination's set is chosen by hash; in a full set, the
 * one whose last change is oldest makes room. Changes are rare next to
 * calls, so one lock serves it.
 */
#define CB_HIST_SETS	1024	/* power of two */
#define CB_HIST_WAYS	2

struct cb_hist {
	struct cb_key key;
	u8 n, head;		/* entries held; the next one to write */
	u64 last;		/* time of the newest */
	struct cb_history_entry e[CB_HISTORY_LEN];
};

static struct cb_hist *cb_hist;
static DEFINE_RAW_SPINLOCK(cb_hist_lock);

static struct cb_hist *cb_hist_set(const struct cb_key *key)
{
	return &cb_hist[(jhash(key, sizeof(*key), 1) & (CB_HIST_SETS - 1)) *
			CB_HIST_WAYS];
}

/* Under cb_hist_lock: @key's slot, or NULL. */
static struct cb_hist *cb_hist_find(const struct cb_key *key)
{
	struct cb_hist *set = cb_hist_set(key);
	int i;

	for (i = 0; i < CB_HIST_WAYS; i++)
		if (set[i].n && !memcmp(&set[i].key, key, sizeof(*key)))
			return &set[i];
	return NULL;
}

static void cb_history_add(const struct cb_key *key,
			   const struct cb_changes *ch, u64 now, u64 seq,
			   int opens, enum cb_close_kind close)
{
	struct cb_hist *h, *set;
	unsigned int i;

	h = cb_hist_find(key);
	if (!h) {
		set = cb_hist_set(key);
		h = &set[0];
		for (i = 1; i < CB_HIST_WAYS; i++)
			if (set[i].last < h->last)
				h = &set[i];
		memset(h, 0, sizeof(*h));
		h->key = *key;
	}
	for (i = 0; i < ch->n; i++) {
		h->e[h->head] = (struct cb_history_entry){
			.time = now,
			.seq = seq + i,
			.c = ch->c[i],
			.close = i == opens ? close : CB_CLOSE_NONE,
		};
		h->head = (h->head + 1) % CB_HISTORY_LEN;
		if (h->n < CB_HISTORY_LEN)
			h->n++;
	}
	h->last = now;
}

/* @key's last changes, oldest first, at most CB_HISTORY_LEN: how many. */
unsigned int cb_history_get(const struct cb_key *key,
			    struct cb_history_entry *out)
{
	unsigned long flags;
	struct cb_hist *h;
	unsigned int i, n = 0;

	raw_spin_lock_irqsave(&cb_hist_lock, flags);
	h = cb_hist_find(key);
	if (h) {
		n = h->n;
		for (i = 0; i < n; i++)
			out[i] = h->e[(h->head + CB_HISTORY_LEN - n + i) %
				      CB_HISTORY_LEN];
	}
	raw_spin_unlock_irqrestore(&cb_hist_lock, flags);
	return n;
}

/* The work counted the connections of the change @seq of @key. */
static void cb_history_closed(const struct cb_key *key, u64 seq, u32 closed)
{
	unsigned long flags;
	struct cb_hist *h;
	unsigned int i;

	raw_spin_lock_irqsave(&cb_hist_lock, flags);
	h = cb_hist_find(key);
	for (i = 0; h && i < CB_HISTORY_LEN; i++) {
		if (h->e[i].seq == seq && h->e[i].close) {
			h->e[i].closed = closed;
			h->e[i].counted = true;
		}
	}
	raw_spin_unlock_irqrestore(&cb_hist_lock, flags);
}

static void cb_events_flush(struct work_struct *work);
static DECLARE_WORK(cb_events_work, cb_events_flush);

void cb_stats_read(u64 *out)
{
	int cpu, i;

	memset(out, 0, sizeof(u64) * __CB_STAT_MAX);
	for_each_possible_cpu(cpu)
		for (i = 0; i < __CB_STAT_MAX; i++)
			out[i] += per_cpu(cb_stats, cpu)[i];
	cb_maps_counts(out);
}

/*
 * Into the ring, under the breaker's lock (so one breaker's events keep
 * their order); cb_events_kick() after the lock has them sent. @close goes
 * with the last change that opens the breaker.
 */
void cb_events_emit(const struct cb_key *key, const struct cb_changes *ch,
		    u64 now, enum cb_close_kind close)
{
	unsigned long flags;
	unsigned int i;
	int opens = -1;
	u64 first;

	/* a trip max-open held back is reported like a change, and is none */
	for (i = 0; i < ch->n; i++) {
		cb_stat_add(ch->c[i].reason == CB_REASON_MAX_OPEN ?
			    CB_STAT_TRIP_CAPPED : CB_STAT_TRANSITIONS, 1);
		if (ch->c[i].to == CB_STATE_OPEN &&
		    ch->c[i].from != CB_STATE_OPEN)
			opens = i;
	}
	if (opens < 0)
		close = CB_CLOSE_NONE;
	raw_spin_lock_irqsave(&cb_ring_lock, flags);
	first = cb_seq + 1;
	for (i = 0; i < ch->n; i++) {
		struct cb_event *e;

		cb_seq++;
		if (cb_ring_head - cb_ring_tail == CB_EVENT_RING) {
			cb_stat_add(CB_STAT_EVENTS_DROPPED, 1);
			continue;
		}
		e = &cb_ring[cb_ring_head++ % CB_EVENT_RING];
		e->key = *key;
		e->c = ch->c[i];
		e->seq = cb_seq;
		e->time = now;
		e->close = i == opens ? close : CB_CLOSE_NONE;
		e->closed = 0;
	}
	raw_spin_unlock_irqrestore(&cb_ring_lock, flags);
	raw_spin_lock_irqsave(&cb_hist_lock, flags);
	cb_history_add(key, ch, now, first, opens, close);
	raw_spin_unlock_irqrestore(&cb_hist_lock, flags);
}

void cb_events_kick(void)
{
	if (!READ_ONCE(cb_events_stopped))
		schedule_work(&cb_events_work);
}

/*
 * Before the netlink family goes: no event is sent after this returns.
 * Events still made are dropped with the ring at exit.
 */
void cb_events_stop(void)
{
	WRITE_ONCE(cb_events_stopped, true);
	cancel_work_sync(&cb_events_work);
}

/* The module is going: the work stops, a walk of connections too. */
bool cb_events_going(void)
{
	return READ_ONCE(cb_events_stopped);
}

/*
 * A batch at a time: the connections of the breakers in it that opened
 * under on-open close are closed in one walk, then its events are sent,
 * in order, each with what it closed.
 */
static void cb_events_flush(struct work_struct *work)
{
	unsigned int i, n, nc;
	unsigned long flags;
	struct cb_event *e;

	for (;;) {
		n = 0;
		raw_spin_lock_irqsave(&cb_ring_lock, flags);
		while (n < CB_FLUSH_BATCH && cb_ring_tail != cb_ring_head &&
		       !READ_ONCE(cb_events_stopped))
			cb_batch[n++] = cb_ring[cb_ring_tail++ % CB_EVENT_RING];
		raw_spin_unlock_irqrestore(&cb_ring_lock, flags);
		if (!n)
			return;
		for (i = 0, nc = 0; i < n; i++) {
			e = &cb_batch[i];
			if (e->close == CB_CLOSE_NONE)
				continue;
			cb_batch_close[nc].key = e->key;
			cb_batch_close[nc++].dry = e->close == CB_CLOSE_DRY;
		}
		if (nc)
			cb_close_conns(cb_batch_close, nc);
		for (i = 0, nc = 0; i < n; i++) {
			e = &cb_batch[i];
			if (e->close != CB_CLOSE_NONE) {
				e->closed = cb_batch_close[nc++].closed;
				cb_history_closed(&e->key, e->seq, e->closed);
			}
			cb_netlink_event(&e->key, &e->c, e->seq, e->time,
					 e->close, e->closed);
			cond_resched();
		}
	}
}

int cb_events_init(void)
{
	cb_ring = kvcalloc(CB_EVENT_RING, sizeof(*cb_ring), GFP_KERNEL);
	cb_hist = kvcalloc(CB_HIST_SETS * CB_HIST_WAYS, sizeof(*cb_hist),
			   GFP_KERNEL);
	if (cb_ring && cb_hist)
		return 0;
	kvfree(cb_ring);
	kvfree(cb_hist);
	return -ENOMEM;
}

void cb_events_exit(void)
{
	cancel_work_sync(&cb_events_work);
	kvfree(cb_ring);
	kvfree(cb_hist);
}
