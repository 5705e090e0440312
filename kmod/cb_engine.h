/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The breaker state machine: plain C with no kernel or libc calls, so the
 * same file builds into the module and into the userspace unit tests. Time
 * (ns) and randomness are passed in; callers serialize access to a breaker.
 * Integers only.
 *
 * A NULL policy means the destination has no policy (any more): only an
 * operator's forcing applies and nothing is measured.
 */
#ifndef _CB_ENGINE_H
#define _CB_ENGINE_H

#include <linux/types.h>
#include <linux/cbreaker.h>

/*
 * A state change, for events and history: what the window held and how the
 * probes stood at that moment (the window as it opened, when it opened).
 */
struct cb_change {
	__u8 from, to, reason;
	__u16 probes_placed, probes_ok, probes_failed;
	__u32 calls, fails, slows;
};

/* An engine call makes at most this many changes (open, half-open, open). */
#define CB_MAX_CHANGES 3

struct cb_changes {
	unsigned int n;
	struct cb_change c[CB_MAX_CHANGES];
	__u64 due;	/* cb_engine_due() after the call, if the caller wants it */
	/*
	 * In: asked (with @arg) before a closed breaker whose policy has
	 * max-open below 100 trips; 0 holds the trip back. Only the caller
	 * can count a policy's breakers; NULL: no trip is held back.
	 */
	int (*may_open)(void *arg, struct cb_breaker *b);
	void *arg;
};

/* What the window holds now. */
struct cb_window_sum {
	__u32 calls, fails, slows;
};

/* A policy key, as <linux/cbreaker_keys.h> describes it. */
struct cb_pkey {
	const char *name;
	const char *field;	/* its name in struct cb_policy (JSON) */
	const char *range;	/* the values it takes, as messages say them */
	const char *help;
	__u64 min, max, def;
	__u16 attr;		/* CB_A_P_... */
	__u16 offset;		/* of its field in struct cb_policy */
	__u8 size;		/* of that field, and of the attribute */
	__u8 unit;		/* enum cb_unit */
};

/* The keys' indexes in cb_pkeys[]: CB_PK_WINDOW_CALLS, ... */
enum {
#define CB_PKEY(attr, ...) CB_PK_##attr,
#include <linux/cbreaker_keys.h>
#undef CB_PKEY
	CB_NR_PKEYS
};

extern const struct cb_pkey cb_pkeys[CB_NR_PKEYS];

__u64 cb_pkey_get(const struct cb_policy *p, const struct cb_pkey *k);
/* A window in calls also makes the window one of calls (window_ns 0). */
void cb_pkey_set(struct cb_policy *p, const struct cb_pkey *k, __u64 v);
/* False for the form of the window @p does not use. */
int cb_pkey_in_force(const struct cb_policy *p, const struct cb_pkey *k);

/* Policy defaults and ranges, shared by the module (validation) and cbctl. */
void cb_policy_default(struct cb_policy *p);
/* 0, or the name of the first key out of range or inconsistent. */
const char *cb_policy_invalid(const struct cb_policy *p);

void cb_engine_init(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now);
/* Apply what time alone changes (open elapsed, probes timed out). */
void cb_engine_tick(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now, __u64 rnd, struct cb_changes *ch);
/* Admit or refuse a call: >= 0 (its epoch), CB_ADMIT_REFUSE or _SILENT. */
int cb_engine_admit(struct cb_breaker *b, const struct cb_policy *p,
		    __u64 now, __u64 rnd, struct cb_changes *ch);
/*
 * The hot paths, which need no policy: a closed or forced-closed breaker
 * admits (its window is fitted to a changed policy when the result comes),
 * an open one with time left refuses unless its policy is dry-run, as
 * noted at rules generation @gen (cb_engine_rules); noted at another, the
 * rules changed since. Same answer and same counts as cb_engine_admit(),
 * or CB_ADMIT_POLICY: ask cb_engine_admit().
 */
#define CB_ADMIT_POLICY		(-3)
int cb_engine_admit_fast(struct cb_breaker *b, __u64 now, __u16 gen);
/* At rules generation @gen, @p (NULL: none) governs the breaker. */
void cb_engine_rules(struct cb_breaker *b, const struct cb_policy *p,
		     __u16 gen);
/* Does @p count @out (a failure of a class in its fail-on, or a success)? */
int cb_engine_counts(const struct cb_policy *p, enum cb_outcome out);
#define CB_NR_CLASSES	7
extern const char *const cb_class_names[CB_NR_CLASSES];
/*
 * The outcome of a call admitted at @epoch; one of a class @p does not
 * count is no result (in half-open its probe's place goes to another).
 * 1: a success it counted in the window or as a good probe, which
 * cb_engine_amend() may later turn into a failure.
 */
int cb_engine_record(struct cb_breaker *b, const struct cb_policy *p,
		     enum cb_outcome out, __u64 latency_ns, __u32 epoch,
		     __u64 now, __u64 rnd, struct cb_changes *ch);
/*
 * The hot path of a result, which needs no policy: a success, not slow, for
 * a closed unforced breaker whose window holds no failure and nothing
 * slow, noted at rules generation @gen (cb_engine_rules): nothing it can
 * trip. Same counts and answer as cb_engine_record(), or CB_RECORD_POLICY:
 * ask cb_engine_record().
 */
#define CB_RECORD_POLICY	(-1)
int cb_engine_record_fast(struct cb_breaker *b, enum cb_outcome out,
			  __u64 latency_ns, __u32 epoch, __u64 now, __u16 gen);

/*
 * Exchanges the hooks saw succeed (cb_breaker.xchg) go into
 * the window, or count as half-open's probes: before anything else reads
 * or changes @b, so that results stay in the order they came. Returns
 * how many, and in *@slow how many of them were slow.
 */
__u32 cb_engine_fold(struct cb_breaker *b, const struct cb_policy *p,
		     __u64 now, __u64 rnd, struct cb_changes *ch, __u32 *slow);
/* The epoch of an exchange begun at @start (CB_EPOCH_SINCE). */
__u32 cb_engine_epoch_since(const struct cb_breaker *b, __u64 start);
/*
 * A call the hooks admitted without counting it in @b (the gate, struct
 * cb_gate_set): counted with its outcome, as an admission counts it.
 */
void cb_engine_call(struct cb_breaker *b, __u64 now);
/*
 * An ICMP error for a UDP datagram, or a TCP connection reset or dropped
 * soon after its handshake (fail-on), admitted at @epoch: the newest
 * successful result becomes a failure (in half-open: a failed probe). The
 * caller asked cb_engine_counts() first.
 */
void cb_engine_amend(struct cb_breaker *b, const struct cb_policy *p,
		     __u32 epoch, __u64 now, __u64 rnd, struct cb_changes *ch);
void cb_engine_force(struct cb_breaker *b, const struct cb_policy *p,
		     enum cb_force force, __u64 now, struct cb_changes *ch);
/* Open now for @open_ns, not forced: then half-open as the policy says. */
void cb_engine_trip_for(struct cb_breaker *b, const struct cb_policy *p,
			__u64 open_ns, __u64 now, struct cb_changes *ch);
void cb_engine_reset(struct cb_breaker *b, const struct cb_policy *p,
		     __u64 now, struct cb_changes *ch);
void cb_engine_window(struct cb_breaker *b, const struct cb_policy *p,
		      __u64 now, struct cb_window_sum *sum);
/* When it last opened (open or half-open), or 0. */
__u64 cb_engine_opened_at(const struct cb_breaker *b);
/* When time alone will next change the breaker (ns), or 0: never. */
__u64 cb_engine_due(const struct cb_breaker *b);
/* Closed, unforced and without a call for @idle_ns: may be evicted. */
int cb_engine_idle(const struct cb_breaker *b, __u64 now, __u64 idle_ns);

#endif /* _CB_ENGINE_H */
