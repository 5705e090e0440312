// SPDX-License-Identifier: GPL-2.0
/*
 * State-change events, their history per destination, and module-wide
 * counters.
 *
 * Changes happen in BPF program context (any CPU, softirq included), so they
 * go into a bounded ring first; a work item multicasts them over generic
 * netlink. Every event has a sequence number: a consumer sees gaps, and
 * CB_STAT_EVENTS_DROPPED counts what a full ring or a full listener socket
 * lost.
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
};

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
			   const struct cb_changes *ch, u64 now)
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
			.c = ch->c[i],
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
 * their order); cb_events_kick() after the lock has them sent.
 */
void cb_events_emit(const struct cb_key *key, const struct cb_changes *ch,
		    u64 now)
{
	unsigned long flags;
	unsigned int i;

	/* a trip max-open held back is reported like a change, and is none */
	for (i = 0; i < ch->n; i++)
		cb_stat_add(ch->c[i].reason == CB_REASON_MAX_OPEN ?
			    CB_STAT_TRIP_CAPPED : CB_STAT_TRANSITIONS, 1);
	raw_spin_lock_irqsave(&cb_hist_lock, flags);
	cb_history_add(key, ch, now);
	raw_spin_unlock_irqrestore(&cb_hist_lock, flags);
	raw_spin_lock_irqsave(&cb_ring_lock, flags);
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
	}
	raw_spin_unlock_irqrestore(&cb_ring_lock, flags);
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

static void cb_events_flush(struct work_struct *work)
{
	struct cb_event e;
	unsigned long flags;

	for (;;) {
		raw_spin_lock_irqsave(&cb_ring_lock, flags);
		if (cb_ring_tail == cb_ring_head || READ_ONCE(cb_events_stopped)) {
			raw_spin_unlock_irqrestore(&cb_ring_lock, flags);
			return;
		}
		e = cb_ring[cb_ring_tail++ % CB_EVENT_RING];
		raw_spin_unlock_irqrestore(&cb_ring_lock, flags);
		cb_netlink_event(&e.key, &e.c, e.seq, e.time);
		cond_resched();
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
