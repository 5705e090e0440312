/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _CB_CORE_H
#define _CB_CORE_H

#include <linux/bpf.h>
#include <linux/percpu.h>
#include <linux/cbreaker.h>

#include "cb_engine.h"

/* cb_maps.c, cb_rules.c, cb_breakers.c: the maps handed over, rules, breakers */
void cb_table_init(void);
void cb_table_exit(void);
int cb_maps_attach(struct bpf_map *map, u32 id);
void cb_maps_release(void);
bool cb_maps_attached(void);
void cb_maps_counts(u64 *out);
u32 cb_breakers_count(void);
u32 cb_breakers_capacity(void);
u32 cb_rules_count(void);
u32 cb_breakers_gen(void);

int cb_breaker_admit(const struct cb_key *key);
/*
 * 1: a success counted in the window or as a good probe (cb_record());
 * @flags: CB_RECORD_CALL, CB_RECORD_EXCHANGE
 */
int cb_breaker_record(const struct cb_key *key, enum cb_outcome out,
		      u64 latency_ns, u32 epoch, u32 flags, u64 now);
int cb_breaker_action(const struct cb_key *key, enum cb_action action);
int cb_breaker_trip_for(const struct cb_key *key, u64 for_ns);
void cb_breaker_reset_all(u64 netns);

/* A breaker as reported: a consistent copy, its state in force now. */
struct cb_breaker_view {
	struct cb_key key;
	struct cb_breaker b;
	struct cb_window_sum win;
	u8 mode;
	bool tracked;
};

int cb_breaker_read(const struct cb_key *key, struct cb_breaker_view *v);
int cb_breaker_next(const struct cb_key *prev, struct cb_breaker_view *v);

/* A rule: where it applies and what it says. */
struct cb_rule {
	u8 addr[16];
	u8 prefixlen;		/* of the 128-bit address */
	u8 proto;
	u16 port;		/* host order; 0: any port */
	struct cb_policy policy;
};

union cb_any_rule_key {
	struct cb_rule_key r;
	struct cb_port_rule_key p;
};

/* Where a rule dump stands: the trie and the last key given. */
struct cb_rule_cursor {
	u8 trie;		/* CB_MAP_RULES or CB_MAP_PORT_RULES */
	bool started;
	union cb_any_rule_key last;
};

/*
 * Rules with max-open below 100 at once, plus 1: each holds a slot of
 * counts (cb_caps.c); one more is refused with -EDQUOT.
 */
#define CB_CAPS		4096

int cb_rule_get(struct cb_rule *r);	/* fills r->policy */
int cb_rule_put(const struct cb_rule *r, bool create);
int cb_rule_del(const struct cb_rule *r);
int cb_rule_next(struct cb_rule_cursor *cur, struct cb_rule *r);
void cb_rules_released(void);

/*
 * Policy changes applied as one (cb_rules.c): cb_batch_begin() takes the
 * rules' mutex; cb_batch_rule() gives each rule a change names, as the
 * changes before leave it, for the caller to set exists, r.policy and op;
 * cb_batch_end() applies the whole (if @apply) and lets the mutex go.
 */
#define CB_BATCH_MAX	(2 * CB_RULES_MAX)	/* changes in one batch */

struct cb_batch;

struct cb_batch_rule {
	struct cb_rule r;		/* where; its policy, as the batch leaves it */
	bool exists;			/* as the batch leaves it */
	u32 op;				/* the last change that set it (from 0) */
	/* cb_rules.c's own */
	struct hlist_node node;
	union cb_any_rule_key k;
	struct cb_policy was;		/* before the batch, if it existed */
	u8 trie, step;
	bool existed;
	bool fresh;			/* takes a max-open slot of its own */
	bool gives;			/* gives its slot back */
	bool staged, freed;
};

/* Why a batch was refused or undone. */
struct cb_batch_err {
	u32 op;			/* the change it names */
	u32 limit;		/* -ENOSPC: the trie's size; -EDQUOT: the slots */
	bool port;		/* -ENOSPC: the trie of rules with a port */
	u32 lost;		/* -ENOMEM: rules the undo could not put back */
};

struct cb_batch *cb_batch_begin(u32 ops);
struct cb_batch_rule *cb_batch_rule(struct cb_batch *b, const struct cb_rule *r);
int cb_batch_end(struct cb_batch *b, bool apply, struct cb_batch_err *e);

/* cb_events.c: state-change events and module-wide counters */
int cb_events_init(void);
void cb_events_exit(void);

/* What opening does to a breaker's connections (its policy's on-open). */
enum cb_close_kind {
	CB_CLOSE_NONE,
	CB_CLOSE_ABORT,
	CB_CLOSE_DRY,		/* dry-run: count them */
};

/* @close: for the change, if any, that opens the breaker */
void cb_events_emit(const struct cb_key *key, const struct cb_changes *ch,
		    u64 now, enum cb_close_kind close);
void cb_events_kick(void);
void cb_events_stop(void);
bool cb_events_going(void);

/* cb_close.c: on-open close, from the events work */
#define CB_CLOSE_BATCH	16

struct cb_close {
	struct cb_key key;
	bool dry;
	u32 closed;		/* out: aborted, or dry-run would have */
};

void cb_close_conns(struct cb_close *c, unsigned int n);

/* The last changes of a destination (cbctl breaker history). */
#define CB_HISTORY_LEN 8

struct cb_history_entry {
	u64 time, seq;
	struct cb_change c;
	u8 close;		/* enum cb_close_kind */
	bool counted;		/* @closed is known */
	u32 closed;
};

unsigned int cb_history_get(const struct cb_key *key,
			    struct cb_history_entry *out);

DECLARE_PER_CPU(u64[__CB_STAT_MAX], cb_stats);

static inline void cb_stat_add(enum cb_stat s, u64 n)
{
	this_cpu_add(cb_stats[s], n);
}

void cb_stats_read(u64 *out);

/* cb_netlink.c */
int cb_netlink_init(void);
void cb_netlink_exit(void);
void cb_netlink_event(const struct cb_key *key, const struct cb_change *c,
		      u64 seq, u64 time, enum cb_close_kind close, u32 closed);

#endif /* _CB_CORE_H */
