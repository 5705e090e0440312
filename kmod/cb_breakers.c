// SPDX-License-Identifier: GPL-2.0
/*
 * Breakers: one BPF hash map entry per destination, changed only here, by
 * the engine (cb_engine.c). The map is created with BPF_F_NO_PREALLOC, so
 * an element stays valid for a whole RCU section even if it is deleted
 * meanwhile; we update values in place under a lock striped by key, and
 * look a breaker up only with that lock held (cb_op_run).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/in.h>
#include <linux/hash.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/workqueue.h>

#include "cb_table.h"

#define CB_LOCK_BITS	8
#define CB_LOCKS	BIT(CB_LOCK_BITS)
#define CB_EVICT_SCAN	64	/* breakers looked at to make room for one */
#define CB_WALK_BATCH	256	/* breakers per RCU section in table walks */
#define CB_SWEEP_MS	1000

static unsigned int idle_ms = 60000;
module_param(idle_ms, uint, 0644);
MODULE_PARM_DESC(idle_ms, "A closed breaker without calls this long may be evicted when the table is full");

/* The earliest time a breaker changes by itself (ns); U64_MAX: none. */
static atomic64_t cb_due = ATOMIC64_INIT(U64_MAX);
static u64 cb_last_sweep;

static raw_spinlock_t cb_locks[CB_LOCKS];

static DEFINE_RAW_SPINLOCK(cb_evict_lock);
static struct cb_key cb_evict_cursor;
static bool cb_evict_started;

static void cb_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(cb_sweep_work, cb_sweep);

/*
 * Randomness for jitter, which must spread reopenings, not be unguessable:
 * a per-CPU prandom state costs a few instructions where get_random_u64()
 * costs a lock (a sleeping one on PREEMPT_RT) and now and then a ChaCha
 * block. Callers have migration disabled; a preemption between two draws
 * on one CPU at worst repeats a number.
 */
static DEFINE_PER_CPU(struct rnd_state, cb_rnd_state);

static u64 cb_rnd(void)
{
	struct rnd_state *s = this_cpu_ptr(&cb_rnd_state);

	return (u64)prandom_u32_state(s) << 32 | prandom_u32_state(s);
}

/*
 * A breaker's stripe: its key's words folded and mixed, a few instructions
 * where a jhash of the key cost every outcome 125 guest instructions.
 * Breakers that share a stripe only wait for each other's lock sections.
 */
static raw_spinlock_t *cb_lock_for(const struct cb_key *key)
{
	const u64 *w = (const u64 *)key;

	BUILD_BUG_ON(sizeof(*key) != 4 * sizeof(u64));
	return &cb_locks[hash_64(w[0] ^ w[1] ^ w[2] ^ w[3], CB_LOCK_BITS)];
}

/* The key of every gate's hash (cb_gate_key), made once. */
static u64 cb_hash_key[2];

/*
 * A gate handed over gets the hash's key before any hook can run (cbctl
 * attaches them after); one that has it already keeps the one its ways
 * were made with.
 */
void cb_gate_key(struct bpf_map *map)
{
	u32 i = CB_GATE_KEY;
	struct cb_gate_set *k = map->ops->map_lookup_elem(map, &i);

	if (k && !READ_ONCE(k->way[0])) {
		WRITE_ONCE(k->way[1], cb_hash_key[1]);
		smp_wmb();	/* way[0] says the key is there */
		WRITE_ONCE(k->way[0], cb_hash_key[0]);
	}
}

/*
 * Count @b where its policy @p (NULL: none) counts it for max-open, as
 * closed or not (cb_caps.c); under its stripe lock, before and after every
 * engine call. The common case, neither counted nor to be, is two loads.
 * A policy found at rules generation @gen, older than the rules now, moves
 * no breaker: the walk after that change (cb_follow_rules) put it where it
 * belongs, and a call that looked before the change must not undo that.
 */
static void cb_cap_sync(struct cb_breaker *b, const struct cb_policy *p,
			u16 gen)
{
	u16 slot = p ? p->cap_slot : 0, slot_gen = p ? p->cap_gen : 0;
	bool open = b->state != CB_STATE_CLOSED;

	if (!slot && !b->cap_slot)
		return;
	if ((b->cap_slot != slot || b->cap_gen != slot_gen) &&
	    gen == (u16)atomic_read(&cb_rules_gen)) {
		cb_cap_add(b->cap_slot, b->cap_gen, -1, -b->cap_open);
		b->cap_slot = 0;
		b->cap_open = 0;
		if (cb_cap_add(slot, slot_gen, 1, open)) {
			b->cap_slot = slot;
			b->cap_gen = slot_gen;
			b->cap_open = open;
		}
	}
	if (b->cap_slot && b->cap_open != open) {
		if (!cb_cap_add(b->cap_slot, b->cap_gen, 0, open ? 1 : -1))
			b->cap_slot = 0;	/* its rule went meanwhile */
		b->cap_open = open;
	}
}

/*
 * What the gate's way for a breaker stands for (struct cb_gate_set): its
 * epoch, state and forcing, and whether its policy needs the hooks. Taken
 * before and after a change under the stripe lock; when it differs, the
 * way is emptied.
 */
static u64 cb_gate_sig(const struct cb_breaker *b)
{
	return b->epoch | (u64)b->state << 32 | (u64)b->forced << 40 |
	       (u64)b->fail_late << 48 | (u64)!!b->connect_timeout_ms << 49 |
	       (u64)!!CB_BULKHEAD_MAX(b->bulkhead) << 50 |
	       (u64)b->exchanges << 51;
}

/*
 * Empty @key's way of the gate, under its stripe lock and RCU: first bump
 * the set's version (fully ordered), so that a hook filling the way from
 * the breaker as it was sees the bump and takes its way back, or filled it
 * before the ways are read here. True if it emptied one.
 */
static bool cb_gate_kill(const struct cb_key *key)
{
	struct bpf_map *map = cb_map(CB_MAP_GATE);
	u32 i = CB_GATE_KEY;
	struct cb_gate_set *g;
	bool found = false;
	u64 h, tag, w, ver;

	g = map ? map->ops->map_lookup_elem(map, &i) : NULL;
	if (!g || !READ_ONCE(g->way[0]))
		return false;	/* no key: no hook has made a way */
	h = cb_key_hash(key, g->way);
	tag = CB_GATE_TAG(h);
	i = CB_GATE_SET(h);
	g = map->ops->map_lookup_elem(map, &i);
	if (!g)
		return false;
	ver = READ_ONCE(g->ver);
	while (!try_cmpxchg64(&g->ver, &ver, ver + 1))
		;
	for (i = 0; i < CB_GATE_WAYS; i++) {
		w = READ_ONCE(g->way[i]);
		if ((w & CB_GATE_TAGS) == tag && cmpxchg64(&g->way[i], w, 0) == w)
			found = true;
	}
	return found;
}

/* @b is deleted, under its stripe lock. */
static void cb_breaker_deleted(struct cb_breaker *b)
{
	cb_cap_add(b->cap_slot, b->cap_gen, -1, -b->cap_open);
	atomic_dec(&cb_nr_breakers);
	atomic_inc(&cb_deletions);
}

/* A new breaker map: eviction starts from its beginning. */
void cb_evict_restart(void)
{
	cb_evict_started = false;
}

/*
 * A breaker changes by itself at @due (0: never): have the sweeper run by
 * then, though not sooner than CB_SWEEP_MS after its last run. Only a due
 * earlier than any noted since that run moves the work; if another CPU
 * notes an earlier one while we move it, we move it again.
 */
static void cb_due_note(u64 due)
{
	s64 old = atomic64_read(&cb_due);
	u64 first, now, at;

	if (!due)
		return;
	do {
		if ((u64)old <= due)
			return;
	} while (!atomic64_try_cmpxchg(&cb_due, &old, due));
	do {
		first = atomic64_read(&cb_due);
		if (first == U64_MAX)
			return;	/* a sweep began: it notes what it finds */
		now = ktime_get_ns();
		at = max(first, READ_ONCE(cb_last_sweep) +
				CB_SWEEP_MS * NSEC_PER_MSEC);
		mod_delayed_work(system_wq, &cb_sweep_work,
				 at > now ? nsecs_to_jiffies(at - now) + 1 : 0);
	} while ((u64)atomic64_read(&cb_due) < first);
}

/*
 * After an engine call, still under the breaker's stripe lock: its events
 * go into the ring now, so one breaker's events are in the order they
 * happened, stamped with the time it applied.
 */
static void cb_changes_queue(const struct cb_key *key, struct cb_changes *ch,
			     const struct cb_breaker *b,
			     const struct cb_policy *p)
{
	enum cb_close_kind close = CB_CLOSE_NONE;

	/* only TCP has connections to close (on-open close) */
	if (p && p->on_open == CB_ON_OPEN_CLOSE && key->proto == IPPROTO_TCP)
		close = p->mode == CB_MODE_DRY_RUN ? CB_CLOSE_DRY :
						     CB_CLOSE_ABORT;
	if (ch->n)
		cb_events_emit(key, ch, b->seen, close);
	ch->due = cb_engine_due(b);
}

/* Then outside the lock: have the events sent, and the sweeper run when due. */
static void cb_changed(const struct cb_key *key, const struct cb_changes *ch,
		       u64 now)
{
	if (ch->n)
		cb_events_kick();
	cb_due_note(ch->due);
}

/*
 * Make room for one breaker: look at the next few breakers after where the
 * last search stopped and evict the first idle closed one. Bounded work, so
 * a full table costs every new destination the same.
 */
static bool cb_evict_one(struct bpf_map *map, u64 now)
{
	u64 idle_ns = (u64)READ_ONCE(idle_ms) * NSEC_PER_MSEC;
	struct cb_key cur, next;
	struct cb_breaker *b;
	raw_spinlock_t *lock;
	unsigned long flags, f2;
	bool done = false;
	int i;

	if (!raw_spin_trylock_irqsave(&cb_evict_lock, flags))
		return false;
	/* the cursor is the next breaker to look at, not yet looked at */
	for (i = 0; i < CB_EVICT_SCAN && !done; i++) {
		if (cb_evict_started)
			cur = cb_evict_cursor;
		else if (map->ops->map_get_next_key(map, NULL, &cur))
			break;		/* empty */
		/* the next one first: @cur may go */
		cb_evict_started = !map->ops->map_get_next_key(map, &cur, &next);
		if (cb_evict_started)
			cb_evict_cursor = next;
		lock = cb_lock_for(&cur);
		raw_spin_lock_irqsave(lock, f2);
		b = cb_lookup(map, &cur);
		/*
		 * The gate admits without noting the call in the breaker: one
		 * it admits to gets a second chance, and its next connect goes
		 * the way that notes it.
		 */
		if (b && cb_engine_idle(b, now, idle_ns) && !cb_gate_kill(&cur) &&
		    !map->ops->map_delete_elem(map, &cur)) {
			cb_gate_kill(&cur);
			cb_breaker_deleted(b);
			cb_stat_add(CB_STAT_EVICTED, 1);
			done = true;
		}
		raw_spin_unlock_irqrestore(lock, f2);
	}
	raw_spin_unlock_irqrestore(&cb_evict_lock, flags);
	return done;
}

/* A new breaker for @key, under its stripe lock; @p NULL: no policy. */
static int cb_breaker_insert(struct bpf_map *map, const struct cb_key *key,
			     const struct cb_policy *p, u16 gen, u64 now)
{
	struct cb_breaker fresh;
	int err;

	cb_engine_init(&fresh, p, now);
	fresh.datagram = key->proto == IPPROTO_UDP;
	/*
	 * Whole before the hooks can find it: published bare, its rules set
	 * only later under the lock, it let a connect on another CPU through
	 * without a max-conns place or its connect timeout.
	 */
	cb_engine_rules(&fresh, p, gen);
	err = map->ops->map_update_elem(map, (void *)key, &fresh, BPF_NOEXIST);
	if (!err) {
		atomic_inc(&cb_nr_breakers);
		cb_stat_add(CB_STAT_CREATED, 1);
	}
	return err;
}

/*
 * A new breaker for a call, outside its stripe lock (eviction takes other
 * stripes); false if the table has no room for it.
 */
static bool cb_breaker_create(struct bpf_map *map, const struct cb_key *key,
			      const struct cb_policy *p, u16 gen, u64 now)
{
	int err, tries;

	for (tries = 0; tries < 2; tries++) {
		err = cb_breaker_insert(map, key, p, gen, now);
		if (!err || err == -EEXIST)
			return true;	/* -EEXIST: made by another CPU meanwhile */
		if (err != -E2BIG || !cb_evict_one(map, now))
			break;
	}
	cb_stat_add(CB_STAT_TABLE_FULL, 1);
	return false;
}

/* One engine call on a breaker: what it needs, taken before the lock. */
struct cb_op {
	const struct cb_key *key;
	const struct cb_policy *pol;	/* &rule, or NULL: no rule governs key */
	struct cb_policy rule;
	struct cb_changes ch;
	u64 now, rnd;
	u16 gen;
	bool create;			/* make the breaker if there is none */
	bool quiet;			/* queue no events and no due time */
	struct cb_breaker *copy;	/* if set: the breaker as left */
};

/*
 * The engine asks before a closed breaker of a policy with max-open below
 * 100 trips: it opens only if it gets a place in its policy's count.
 * Counted nowhere (its rule went meanwhile), it opens: fail open.
 */
static int cb_may_open(void *arg, struct cb_breaker *b)
{
	const struct cb_op *op = arg;
	int ret = cb_cap_take(b->cap_slot, b->cap_gen, op->pol->max_open);

	if (ret > 0)
		b->cap_open = 1;
	else if (ret < 0)
		b->cap_slot = 0;
	return ret != 0;
}

/* The generation before the policy it covers (lockless RCU lookups). */
static void cb_op_init(struct cb_op *op, const struct cb_key *key, u64 now)
{
	*op = (struct cb_op){ .key = key, .now = now };
	op->ch.may_open = cb_may_open;
	op->ch.arg = op;
	op->gen = cb_gen();
	op->pol = cb_policy_find(key, &op->rule) ? &op->rule : NULL;
	op->rnd = cb_rnd();
}

typedef void cb_op_fn(struct cb_op *op, struct cb_breaker *b, void *arg);

/* Exchanges the hooks saw succeed, into the window before anything else. */
static void cb_fold(struct cb_breaker *b, struct cb_op *op)
{
	u32 slow, n;

	if (!READ_ONCE(b->xchg))
		return;
	n = cb_engine_fold(b, op->pol, op->now, op->rnd, &op->ch, &slow);
	cb_stat_add(CB_STAT_SUCCESS, n);
	cb_stat_add(CB_STAT_EXCHANGES, n);
	cb_stat_add(CB_STAT_SLOW, slow);
}

/*
 * Run @fn on the breaker under its stripe lock, note the rules it now
 * follows, queue its events while the lock keeps them in order, then send
 * them and have the sweeper run when the breaker is due. 0, or -ENOENT
 * (no breaker) or why it could not be made. Inlined so that @fn, always a
 * constant, is a direct call.
 */
static __always_inline int cb_op_run(struct bpf_map *map, struct cb_op *op,
				     cb_op_fn *fn, void *arg)
{
	raw_spinlock_t *lock = cb_lock_for(op->key);
	struct cb_breaker *b;
	unsigned long flags;
	int err = -ENOENT;
	u64 sig;

	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, op->key);
	if (!b && op->create) {
		err = cb_breaker_insert(map, op->key, op->pol, op->gen,
					op->now);
		if (!err)
			b = cb_lookup(map, op->key);
	}
	if (b) {
		sig = cb_gate_sig(b);
		cb_cap_sync(b, op->pol, op->gen);
		cb_fold(b, op);
		fn(op, b, arg);
		cb_engine_rules(b, op->pol, op->gen);
		cb_cap_sync(b, op->pol, op->gen);
		if (cb_gate_sig(b) != sig)
			cb_gate_kill(op->key);
		if (op->copy)
			*op->copy = *b;
		if (!op->quiet)
			cb_changes_queue(op->key, &op->ch, b, op->pol);
		err = 0;
	}
	raw_spin_unlock_irqrestore(lock, flags);
	cb_changed(op->key, &op->ch, op->now);
	return err;
}

static void cb_admit_fn(struct cb_op *op, struct cb_breaker *b, void *ret)
{
	*(int *)ret = cb_engine_admit(b, op->pol, op->now, op->rnd, &op->ch);
}

/* A call the fast path could not decide: with its policy, maybe a new breaker. */
static int cb_admit_slow(struct bpf_map *map, const struct cb_key *key,
			 u64 now)
{
	struct cb_op op;
	int ret;

	cb_op_init(&op, key, now);
	if (cb_op_run(map, &op, cb_admit_fn, &ret)) {
		if (!op.pol || !cb_breaker_create(map, key, op.pol, op.gen, now))
			return CB_ADMIT_SILENT;
		if (cb_op_run(map, &op, cb_admit_fn, &ret))
			return CB_ADMIT_SILENT;	/* evicted in between */
	}
	if (ret == CB_ADMIT_REFUSE)
		cb_stat_add(CB_STAT_REFUSED, 1);
	else if (ret < 0 && op.pol && op.pol->mode == CB_MODE_DRY_RUN)
		cb_stat_add(CB_STAT_DRY_RUN, 1);
	return ret;
}

/*
 * Called by the connect/sendmsg hooks (under RCU, migration disabled).
 * Anything missing admits: cbreaker fails open. The common cases, a closed
 * breaker admitting and an open one refusing, take one lock section and no
 * policy lookup.
 */
int cb_breaker_admit(const struct cb_key *key)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_breaker *b;
	struct bpf_map *map;
	unsigned long flags;
	u64 now;
	u16 gen;
	int ret;

	map = cb_map(CB_MAP_BREAKERS);
	if (!map)
		return CB_ADMIT_SILENT;
	now = ktime_get_ns();
	gen = cb_gen();
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	ret = b ? cb_engine_admit_fast(b, now, gen) : CB_ADMIT_POLICY;
	raw_spin_unlock_irqrestore(lock, flags);
	if (ret == CB_ADMIT_POLICY)
		ret = cb_admit_slow(map, key, now);
	else if (ret == CB_ADMIT_REFUSE)
		cb_stat_add(CB_STAT_REFUSED, 1);
	if (ret < 0)
		return ret;
	cb_stat_add(CB_STAT_ADMITTED, 1);
	/* UDP has no handshake: a datagram let through is a success until
	 * an ICMP error says otherwise (cb_engine_amend).
	 */
	if (key->proto == IPPROTO_UDP)
		cb_breaker_record(key, CB_OUT_SUCCESS, 0, ret, 0, now);
	return ret;
}

static const enum cb_stat cb_outcome_stat[__CB_OUT_MAX] = {
	[CB_OUT_SUCCESS]	= CB_STAT_SUCCESS,
	[CB_OUT_REFUSED]	= CB_STAT_FAIL_REFUSED,
	[CB_OUT_TIMEOUT]	= CB_STAT_FAIL_TIMEOUT,
	[CB_OUT_UNREACH]	= CB_STAT_FAIL_UNREACH,
	[CB_OUT_PORT_UNREACH]	= CB_STAT_FAIL_PORT_UNREACH,
	[CB_OUT_ABANDONED]	= CB_STAT_FAIL_ABANDONED,
	[CB_OUT_RESET]		= CB_STAT_FAIL_RESET,
	[CB_OUT_DROPPED]	= CB_STAT_FAIL_DROPPED,
	[CB_OUT_STALLED]	= CB_STAT_FAIL_STALLED,
};

struct cb_record_arg {
	enum cb_outcome out;
	u64 latency_ns;
	u32 epoch;
	bool call;		/* count the call too (CB_RECORD_CALL) */
	bool exchange;		/* CB_RECORD_EXCHANGE */
	bool foreign;		/* an exchange of a breaker whose calls are not */
	/*
	 * counted slow; counted a result; its class not in the policy's
	 * fail-on; a success counted in the window or as a good probe
	 */
	bool slowed, counted, ignored, taken;
};

static void cb_record_fn(struct cb_op *op, struct cb_breaker *b, void *arg)
{
	struct cb_record_arg *a = arg;
	u64 slow = b->slow, fails = b->failures, results = b->successes + fails;
	const struct cb_policy *p = op->pol;

	/* a connection watched under a policy changed since counts nothing */
	a->foreign = a->exchange && !b->exchanges;
	if (a->foreign)
		return;
	if (a->call)
		cb_engine_call(b, op->now);
	if (a->epoch == CB_EPOCH_SINCE)
		a->epoch = cb_engine_epoch_since(b, op->now - a->latency_ns);
	a->ignored = !cb_engine_counts(p, a->out);
	if ((a->out == CB_OUT_RESET || a->out == CB_OUT_DROPPED) &&
	    !a->exchange) {
		/* no result at all later than fail-window, or without a policy */
		if (p && !a->ignored && a->latency_ns <= p->fail_window_ns)
			cb_engine_amend(b, p, a->epoch, op->now, op->rnd,
					&op->ch);
	} else if (op->key->proto == IPPROTO_UDP && a->out != CB_OUT_SUCCESS) {
		if (!a->ignored)
			cb_engine_amend(b, p, a->epoch, op->now, op->rnd,
					&op->ch);
	} else {
		a->taken = cb_engine_record(b, p, a->out, a->latency_ns,
					    a->epoch, op->now, op->rnd,
					    &op->ch);
	}
	a->slowed = b->slow != slow;
	a->counted = b->successes + b->failures != results || b->failures != fails;
}

/*
 * The common result, a success of a healthy closed breaker: one lock
 * section, no policy lookup (cb_engine_record_fast). -1: not that case.
 */
static int cb_record_fast(struct bpf_map *map, const struct cb_key *key,
			  u64 latency_ns, u32 epoch, bool call, u64 now)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_breaker *b;
	unsigned long flags;
	u16 gen = cb_gen();
	int ret = CB_RECORD_POLICY;

	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b)
		ret = cb_engine_record_fast(b, CB_OUT_SUCCESS, latency_ns,
					    epoch, now, gen);
	if (ret != CB_RECORD_POLICY && call)
		cb_engine_call(b, now);
	raw_spin_unlock_irqrestore(lock, flags);
	if (ret == CB_RECORD_POLICY)
		return -1;
	/* a UDP datagram is no success yet: an ICMP error may follow */
	cb_stat_add(key->proto == IPPROTO_UDP ? CB_STAT_DATAGRAMS :
		    CB_STAT_SUCCESS, 1);
	return ret;
}

/* A call the gate admitted, whose outcome counts nowhere: the call does. */
static void cb_call_only(struct bpf_map *map, const struct cb_key *key,
			 u64 now)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_breaker *b;
	unsigned long flags;

	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b)
		cb_engine_call(b, now);
	raw_spin_unlock_irqrestore(lock, flags);
}

/*
 * Any outcome but the common one (cb_record_fast), out of line: its frame,
 * which kernels built with INIT_STACK_ALL_ZERO clear on every call (a
 * struct cb_op, about 250 bytes), is no cost of the common one.
 */
static noinline int cb_record_slow(struct bpf_map *map,
				   const struct cb_key *key,
				   enum cb_outcome out, u64 latency_ns,
				   u32 epoch, u32 flags, u64 now)
{
	struct cb_record_arg a = {
		.out = out, .latency_ns = latency_ns, .epoch = epoch,
		.call = flags & CB_RECORD_CALL,
		.exchange = flags & CB_RECORD_EXCHANGE,
	};
	struct cb_op op;

	cb_op_init(&op, key, now);
	if (cb_op_run(map, &op, cb_record_fn, &a) || a.foreign)
		return 0;
	/* a UDP datagram is no success yet: an ICMP error may follow */
	if (key->proto == IPPROTO_UDP && out == CB_OUT_SUCCESS)
		cb_stat_add(CB_STAT_DATAGRAMS, 1);
	else if (a.ignored)
		cb_stat_add(CB_STAT_IGNORED, 1);
	/*
	 * A handshake abandoned (or an exchange given up) sooner than slow is
	 * no result at all, nor a reset or drop later than fail-window.
	 */
	else if (a.counted || (out != CB_OUT_ABANDONED && out != CB_OUT_RESET &&
			       out != CB_OUT_DROPPED && out != CB_OUT_STALLED))
		cb_stat_add(cb_outcome_stat[out], 1);
	if (a.exchange && a.counted)
		cb_stat_add(CB_STAT_EXCHANGES, 1);
	if (a.slowed)
		cb_stat_add(CB_STAT_SLOW, 1);
	return a.taken;
}

/*
 * An outcome: sensed by the tracing programs (any context, under RCU), or
 * a UDP datagram let through. A UDP failure (an ICMP error), or a TCP
 * connection reset or dropped within fail-window, turns the success it was
 * counted as into a failure.
 */
int cb_breaker_record(const struct cb_key *key, enum cb_outcome out,
		      u64 latency_ns, u32 epoch, u32 flags, u64 now)
{
	struct bpf_map *map = cb_map(CB_MAP_BREAKERS);
	bool call = flags & CB_RECORD_CALL;
	int ret;

	if (out == CB_OUT_IGNORED || out == CB_OUT_NONE) {
		if (out == CB_OUT_IGNORED)
			cb_stat_add(CB_STAT_IGNORED, 1);
		if (map && call)
			cb_call_only(map, key, now);
		return 0;
	}
	if (!map || out >= __CB_OUT_MAX)
		return 0;
	if (out == CB_OUT_SUCCESS && !(flags & CB_RECORD_EXCHANGE)) {
		ret = cb_record_fast(map, key, latency_ns, epoch, call, now);
		if (ret >= 0)
			return ret;
	}
	return cb_record_slow(map, key, out, latency_ns, epoch, flags, now);
}

struct cb_action_arg {
	enum cb_action action;
	u64 for_ns;
};

static void cb_action_fn(struct cb_op *op, struct cb_breaker *b, void *arg)
{
	struct cb_action_arg *a = arg;

	if (a->action == CB_ACTION_RESET)
		cb_engine_reset(b, op->pol, op->now, &op->ch);
	else if (a->for_ns)
		cb_engine_trip_for(b, op->pol, a->for_ns, op->now, &op->ch);
	else
		cb_engine_force(b, op->pol, a->action == CB_ACTION_TRIP ?
				CB_FORCE_OPEN : CB_FORCE_CLOSED, op->now,
				&op->ch);
}

/* Under RCU, migration disabled: apply @action, making the breaker if need be. */
static int cb_action_rcu(struct bpf_map *map, const struct cb_key *key,
			 enum cb_action action, u64 for_ns)
{
	struct cb_action_arg a = { .action = action, .for_ns = for_ns };
	struct cb_op op;

	cb_op_init(&op, key, ktime_get_ns());
	if (for_ns && !op.pol)
		return -ESRCH;	/* no policy to half-open with */
	/* Forcing a destination with no breaker yet creates one. */
	op.create = action != CB_ACTION_RESET;
	return cb_op_run(map, &op, cb_action_fn, &a);
}

int cb_breaker_action(const struct cb_key *key, enum cb_action action)
{
	struct bpf_map *map = cb_enter();
	int err = map ? cb_action_rcu(map, key, action, 0) : -ENODEV;

	cb_leave();
	return err;
}

/* Trip for @for_ns, then as the policy says; -ESRCH: no policy. */
int cb_breaker_trip_for(const struct cb_key *key, u64 for_ns)
{
	struct bpf_map *map = cb_enter();
	int err = map ? cb_action_rcu(map, key, CB_ACTION_TRIP, for_ns) :
			-ENODEV;

	cb_leave();
	return err;
}

/*
 * Visit every breaker in batches, leaving RCU between them. @fn runs under
 * RCU with migration disabled and may delete the breaker it is given: the
 * next key is fetched before, since the hash map's iteration from a key no
 * longer there starts again at the first bucket. Only a breaker deleted by
 * someone else while we are between two batches can still send the walk
 * back to the start; the budget, one table's worth, bounds that.
 */
static void cb_walk(void (*fn)(struct bpf_map *map, const struct cb_key *key,
			       const void *arg), const void *arg)
{
	struct cb_key key, next;
	struct bpf_map *map;
	bool more = true;
	u32 budget, i;

	budget = cb_breakers_capacity();
	map = cb_enter();
	if (!map || map->ops->map_get_next_key(map, NULL, &key))
		more = false;
	while (more) {
		for (i = 0; more && i < CB_WALK_BATCH && budget; i++, budget--) {
			more = !map->ops->map_get_next_key(map, &key, &next);
			fn(map, &key, arg);
			key = next;
		}
		cb_leave();
		if (!more || !budget)
			return;
		cond_resched();
		map = cb_enter();
		more = map;
	}
	cb_leave();
}

static void cb_reset_one(struct bpf_map *map, const struct cb_key *key,
			 const void *netns)
{
	u64 only = *(const u64 *)netns;

	if (!only || key->netns == only)
		cb_action_rcu(map, key, CB_ACTION_RESET, 0);
}

/* Reset every breaker of namespace @netns (its cookie), or of all if 0. */
void cb_breaker_reset_all(u64 netns)
{
	cb_walk(cb_reset_one, &netns);
}

static void cb_tick_fn(struct cb_op *op, struct cb_breaker *b, void *arg)
{
	cb_engine_tick(b, op->pol, op->now, op->rnd, &op->ch);
}

/* Apply what time alone changes, for one breaker. */
static void cb_tick_one(struct bpf_map *map, const struct cb_key *key,
			const void *arg)
{
	struct cb_op op;

	cb_op_init(&op, key, ktime_get_ns());
	if (op.pol)
		cb_op_run(map, &op, cb_tick_fn, NULL);
}

/*
 * Open breakers become half-open, and half-open ones give up on their
 * probes, when time says so; calls and reads apply that too, the sweeper
 * makes sure the event comes when it happens even without them. It runs
 * when the earliest such time comes (cb_due_note), and every breaker it
 * ticks notes its next one.
 */
static void cb_sweep(struct work_struct *work)
{
	WRITE_ONCE(cb_last_sweep, ktime_get_ns());
	atomic64_set(&cb_due, U64_MAX);
	cb_walk(cb_tick_one, NULL);
}

/*
 * After a rule change: a breaker no rule governs any more and nobody
 * forces is forgotten (if @forget: not after a batch undone, which must
 * leave every breaker that was there); every other takes what the hooks
 * read from its policy now (the hook admits a closed breaker without the
 * module, so a changed connect-timeout or max-conns would otherwise wait
 * for its next outcome) and, while some policy has max-open, is counted
 * where its policy counts it now.
 */
static void cb_follow_one(struct bpf_map *map, const struct cb_key *key,
			  const void *forget)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_policy pol;
	struct cb_breaker *b;
	unsigned long flags;
	bool found;
	u64 sig;
	u16 gen;

	gen = cb_gen();
	found = cb_policy_find(key, &pol);
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b && !found && !b->forced && *(const bool *)forget &&
	    !map->ops->map_delete_elem(map, (void *)key)) {
		cb_gate_kill(key);
		cb_breaker_deleted(b);
	} else if (b) {
		sig = cb_gate_sig(b);
		cb_engine_rules(b, found ? &pol : NULL, gen);
		cb_cap_sync(b, found ? &pol : NULL, gen);
		if (cb_gate_sig(b) != sig)
			cb_gate_kill(key);
	}
	raw_spin_unlock_irqrestore(lock, flags);
}

void cb_follow_rules(bool forget)
{
	cb_walk(cb_follow_one, &forget);
}

static void cb_view_fn(struct cb_op *op, struct cb_breaker *b, void *win)
{
	if (op->pol)
		cb_engine_tick(b, op->pol, op->now, op->rnd, &op->ch);
	cb_engine_window(b, op->pol, op->now, win);
}

/* A consistent copy of the breaker, with what time changed applied. */
static int cb_view_rcu(struct bpf_map *map, const struct cb_key *key,
		       struct cb_breaker_view *v)
{
	struct cb_op op;

	cb_op_init(&op, key, ktime_get_ns());
	v->key = *key;
	v->tracked = op.pol;
	v->mode = op.pol ? op.pol->mode : CB_MODE_ENFORCE;
	op.quiet = !op.pol;	/* time changes nothing without a policy */
	op.copy = &v->b;
	return cb_op_run(map, &op, cb_view_fn, &v->win);
}

int cb_breaker_read(const struct cb_key *key, struct cb_breaker_view *v)
{
	struct bpf_map *map = cb_enter();
	int err = map ? cb_view_rcu(map, key, v) : -ENODEV;

	cb_leave();
	return err;
}

/*
 * The breaker after @prev in map order (the first if @prev is NULL), for
 * dumps; -ENOENT at the end. A breaker deleted between two calls restarts
 * the walk at the beginning (a hash map property): a dump may repeat an
 * entry, it never misses a live one. cb_breakers_gen() changes then, so a
 * dump can flag itself interrupted (NLM_F_DUMP_INTR).
 */
int cb_breaker_next(const struct cb_key *prev, struct cb_breaker_view *v)
{
	struct bpf_map *map = cb_enter();
	struct cb_key key, skipped;
	int err = -ENODEV, tries = 0;

	while (map) {
		err = map->ops->map_get_next_key(map, (void *)prev, &key);
		if (err)
			break;
		err = cb_view_rcu(map, &key, v);
		if (err != -ENOENT)
			break;
		/*
		 * Deleted under us: the next after @prev again passes it;
		 * from the deleted key itself the walk would start over.
		 */
		if (++tries > 8) {
			skipped = key;
			prev = &skipped;
		}
	}
	cb_leave();
	return err;
}

void cb_table_init(void)
{
	int i;

	for (i = 0; i < CB_LOCKS; i++)
		raw_spin_lock_init(&cb_locks[i]);
	prandom_seed_full_state(&cb_rnd_state);
	get_random_bytes(cb_hash_key, sizeof(cb_hash_key));
	cb_hash_key[0] |= 1;	/* never 0: a gate's way[0] says it has one */
}

void cb_table_exit(void)
{
	cancel_delayed_work_sync(&cb_sweep_work);
	cb_maps_release();
}
