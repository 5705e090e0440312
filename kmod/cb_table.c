// SPDX-License-Identifier: GPL-2.0
/*
 * Breakers and rules. Both live in BPF maps that cbctl's BPF object created
 * and handed to us once (cb_map_attach kfunc); we hold plain references and
 * are their only writer. BPF programs read them directly.
 *
 * Map operations are called through map->ops under rcu_read_lock() with
 * migration disabled, as BPF programs call them. The breaker map is created
 * with BPF_F_NO_PREALLOC, so an element stays valid for a whole RCU section
 * even if it is deleted meanwhile; we update values in place under a lock
 * striped by key, and look a breaker up only with that lock held.
 *
 * Lock order: cb_evict_lock, then a stripe lock, then the map's own locks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/in.h>
#include <linux/jhash.h>
#include <linux/ktime.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "cb_core.h"

#define CB_LOCKS	256	/* power of two */
#define CB_EVICT_SCAN	64	/* breakers looked at to make room for one */
#define CB_WALK_BATCH	256	/* breakers per RCU section in table walks */
#define CB_SWEEP_MS	1000

static unsigned int idle_ms = 60000;
module_param(idle_ms, uint, 0644);
MODULE_PARM_DESC(idle_ms, "A closed breaker without calls this long may be evicted when the table is full");

/* Guards changes of the map pointers; kfunc context: it must not sleep. */
static DEFINE_RAW_SPINLOCK(cb_maps_lock);
static struct bpf_map __rcu *cb_maps[__CB_MAP_MAX];
static atomic_t cb_nr_breakers;
/* Bumped when a breaker goes: a dump going on may repeat entries then. */
static atomic_t cb_deletions = ATOMIC_INIT(1);
static atomic_t cb_nr_rules;
/*
 * Bumped after every rule change: a breaker notes the generation its
 * cached mode is of, and an open one refuses on the fast path only while
 * that is current, so a change reaches every breaker at once.
 */
static atomic_t cb_rules_gen;
/* The earliest time a breaker changes by itself (ns); U64_MAX: none. */
static atomic64_t cb_due = ATOMIC64_INIT(U64_MAX);
static u64 cb_last_sweep;

static raw_spinlock_t cb_locks[CB_LOCKS];

static DEFINE_RAW_SPINLOCK(cb_evict_lock);
static struct cb_key cb_evict_cursor;
static bool cb_evict_started;

static void cb_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(cb_sweep_work, cb_sweep);

static const struct {
	u32 type, key_size, value_size, flags;
} cb_map_shapes[__CB_MAP_MAX] = {
	[CB_MAP_BREAKERS] = { BPF_MAP_TYPE_HASH, sizeof(struct cb_key),
			      sizeof(struct cb_breaker), BPF_F_NO_PREALLOC },
	[CB_MAP_RULES] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct cb_rule_key),
			   sizeof(struct cb_policy), BPF_F_NO_PREALLOC },
	[CB_MAP_PORT_RULES] = { BPF_MAP_TYPE_LPM_TRIE,
				sizeof(struct cb_port_rule_key),
				sizeof(struct cb_policy), BPF_F_NO_PREALLOC },
};

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

static raw_spinlock_t *cb_lock_for(const struct cb_key *key)
{
	return &cb_locks[jhash(key, sizeof(*key), 0) & (CB_LOCKS - 1)];
}

/* Readers: BPF programs (under RCU already) and us, under RCU or the mutex. */
static struct bpf_map *cb_map(enum cb_map_id id)
{
	return rcu_dereference_check(cb_maps[id], lockdep_is_held(&cb_maps_lock));
}

/*
 * For callers outside BPF programs: the breaker map, under RCU with
 * migration disabled (as map operations want), until cb_leave().
 */
static struct bpf_map *cb_enter(void)
{
	migrate_disable();
	rcu_read_lock();
	return cb_map(CB_MAP_BREAKERS);
}

static void cb_leave(void)
{
	rcu_read_unlock();
	migrate_enable();
}

static void *cb_lookup(struct bpf_map *map, const void *key)
{
	return map->ops->map_lookup_elem(map, (void *)key);
}

/*
 * From cb_map_attach(), in a BPF program: no sleeping. One BPF object at a
 * time: a map is only taken where none is held (cbctl unload releases them).
 */
int cb_maps_attach(struct bpf_map *map, u32 id)
{
	unsigned long flags;
	int err = 0;

	if (id >= __CB_MAP_MAX || map->map_type != cb_map_shapes[id].type ||
	    map->key_size != cb_map_shapes[id].key_size ||
	    map->value_size != cb_map_shapes[id].value_size ||
	    !(map->map_flags & cb_map_shapes[id].flags))
		return -EINVAL;

	raw_spin_lock_irqsave(&cb_maps_lock, flags);
	if (rcu_access_pointer(cb_maps[id])) {
		err = -EBUSY;
	} else {
		bpf_map_inc(map);
		rcu_assign_pointer(cb_maps[id], map);
		if (id == CB_MAP_BREAKERS) {
			atomic_set(&cb_nr_breakers, 0);
			cb_evict_started = false;
		} else if (id == CB_MAP_RULES) {
			atomic_set(&cb_nr_rules, 0);
		}
	}
	raw_spin_unlock_irqrestore(&cb_maps_lock, flags);
	return err;
}

void cb_maps_release(void)
{
	struct bpf_map *old[__CB_MAP_MAX];
	unsigned long flags;
	int i;

	raw_spin_lock_irqsave(&cb_maps_lock, flags);
	for (i = 0; i < __CB_MAP_MAX; i++)
		old[i] = rcu_replace_pointer(cb_maps[i], NULL,
					     lockdep_is_held(&cb_maps_lock));
	raw_spin_unlock_irqrestore(&cb_maps_lock, flags);
	atomic_inc(&cb_deletions);
	synchronize_rcu();
	for (i = 0; i < __CB_MAP_MAX; i++)
		if (old[i])
			bpf_map_put(old[i]);
	atomic_set(&cb_nr_breakers, 0);
	atomic_set(&cb_nr_rules, 0);
}

bool cb_maps_attached(void)
{
	return rcu_access_pointer(cb_maps[CB_MAP_BREAKERS]);
}

u32 cb_breakers_count(void)
{
	return atomic_read(&cb_nr_breakers);
}

/* Changes when breakers are deleted; never 0 (netlink dump sequence). */
u32 cb_breakers_gen(void)
{
	return atomic_read(&cb_deletions) ?: 1;
}

static void cb_breaker_deleted(void)
{
	atomic_dec(&cb_nr_breakers);
	atomic_inc(&cb_deletions);
}

u32 cb_rules_count(void)
{
	return atomic_read(&cb_nr_rules);
}

u32 cb_breakers_capacity(void)
{
	struct bpf_map *map;
	u32 n = 0;

	rcu_read_lock();
	map = cb_map(CB_MAP_BREAKERS);
	if (map)
		n = map->max_entries;
	rcu_read_unlock();
	return n;
}

/* --- rules -------------------------------------------------------------- */

/* The rules generation, read before the rules it covers. */
static u16 cb_gen(void)
{
	u16 gen = atomic_read(&cb_rules_gen);

	smp_rmb();	/* pairs with the barrier in cb_rules_changed() */
	return gen;
}

static void cb_rules_changed(void)
{
	smp_mb__before_atomic();	/* the rule change, then the generation */
	atomic_inc(&cb_rules_gen);
}

/* The policy governing @key: a rule with its port first, then without. */
static bool cb_policy_find(const struct cb_key *key, struct cb_policy *out)
{
	struct cb_port_rule_key pk = {
		.prefixlen = CB_PORT_RULE_BITS(128),
		.proto = key->proto,
	};
	struct cb_rule_key rk = {
		.prefixlen = CB_RULE_BITS(128),
		.proto = key->proto,
	};
	struct cb_policy *p = NULL;
	struct bpf_map *map;

	memcpy(pk.port, &key->port, sizeof(pk.port));
	memcpy(pk.addr, key->addr, sizeof(pk.addr));
	memcpy(rk.addr, key->addr, sizeof(rk.addr));
	map = cb_map(CB_MAP_PORT_RULES);
	if (map)
		p = cb_lookup(map, &pk);
	map = cb_map(CB_MAP_RULES);
	if (!p && map)
		p = cb_lookup(map, &rk);
	if (p)
		*out = *p;	/* rule updates replace the node: a consistent copy */
	return p;
}

/* The trie and its key for a rule. */
static enum cb_map_id cb_rule_key(const struct cb_rule *r,
				  union cb_any_rule_key *k)
{
	memset(k, 0, sizeof(*k));
	if (r->port) {
		k->p.prefixlen = CB_PORT_RULE_BITS(r->prefixlen);
		k->p.proto = r->proto;
		k->p.port[0] = r->port >> 8;
		k->p.port[1] = r->port & 0xff;
		memcpy(k->p.addr, r->addr, sizeof(k->p.addr));
		return CB_MAP_PORT_RULES;
	}
	k->r.prefixlen = CB_RULE_BITS(r->prefixlen);
	k->r.proto = r->proto;
	memcpy(k->r.addr, r->addr, sizeof(k->r.addr));
	return CB_MAP_RULES;
}

static void cb_rule_from_key(struct cb_rule *r, enum cb_map_id trie,
			     const union cb_any_rule_key *k)
{
	memset(r, 0, sizeof(*r));
	if (trie == CB_MAP_PORT_RULES) {
		r->prefixlen = k->p.prefixlen - CB_PORT_RULE_BITS(0);
		r->proto = k->p.proto;
		r->port = k->p.port[0] << 8 | k->p.port[1];
		memcpy(r->addr, k->p.addr, sizeof(r->addr));
	} else {
		r->prefixlen = k->r.prefixlen - CB_RULE_BITS(0);
		r->proto = k->r.proto;
		memcpy(r->addr, k->r.addr, sizeof(r->addr));
	}
}

int cb_rule_get(struct cb_rule *r)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct cb_policy *p;
	struct bpf_map *map;
	int err = -ENODEV;

	rcu_read_lock();
	map = cb_map(trie);
	if (map) {
		/* LPM finds covering rules too: only this very one counts */
		p = cb_lookup(map, &k);
		err = p && p->prefixlen == r->prefixlen ? 0 : -ENOENT;
		if (!err)
			r->policy = *p;
	}
	rcu_read_unlock();
	return err;
}

static void cb_forget_untracked(void);

int cb_rule_put(const struct cb_rule *r, bool create)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct cb_policy p = r->policy;
	struct bpf_map *map;
	int err = -ENODEV;

	p.prefixlen = r->prefixlen;
	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_update_elem(map, &k, &p,
						create ? BPF_NOEXIST : BPF_EXIST);
	rcu_read_unlock();
	migrate_enable();
	if (!err && create)
		atomic_inc(&cb_nr_rules);
	if (!err)
		cb_rules_changed();
	return err;
}

int cb_rule_del(const struct cb_rule *r)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_delete_elem(map, &k);
	rcu_read_unlock();
	migrate_enable();
	if (!err) {
		atomic_dec(&cb_nr_rules);
		cb_rules_changed();
		cb_forget_untracked();
	}
	return err;
}

int cb_rule_next(struct cb_rule_cursor *cur, struct cb_rule *r)
{
	union cb_any_rule_key next;
	struct cb_policy *p;
	struct bpf_map *map;
	int err;

	if (!cur->trie)
		cur->trie = CB_MAP_RULES;
	rcu_read_lock();
	for (;;) {
		map = cb_map(cur->trie);
		err = map ? map->ops->map_get_next_key(map, cur->started ?
						       &cur->last : NULL, &next) :
			    -ENOENT;
		if (!err) {
			p = cb_lookup(map, &next);
			if (!p) {	/* deleted meanwhile */
				cur->last = next;
				continue;
			}
			cb_rule_from_key(r, cur->trie, &next);
			r->policy = *p;
			cur->last = next;
			cur->started = true;
			break;
		}
		if (cur->trie == CB_MAP_PORT_RULES)
			break;
		cur->trie = CB_MAP_PORT_RULES;
		cur->started = false;
	}
	rcu_read_unlock();
	return err;
}

/* --- breakers ----------------------------------------------------------- */

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
			     const struct cb_breaker *b)
{
	if (ch->n)
		cb_events_emit(key, ch, b->seen);
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
		if (b && cb_engine_idle(b, now, idle_ns) &&
		    !map->ops->map_delete_elem(map, &cur)) {
			cb_breaker_deleted();
			cb_stat_add(CB_STAT_EVICTED, 1);
			done = true;
		}
		raw_spin_unlock_irqrestore(lock, f2);
	}
	raw_spin_unlock_irqrestore(&cb_evict_lock, flags);
	return done;
}

static void cb_fresh(struct cb_breaker *b, const struct cb_key *key,
		     const struct cb_policy *p, u64 now)
{
	cb_engine_init(b, p, now);
	b->datagram = key->proto == IPPROTO_UDP;
}

/* A new breaker for @key; false if the table has no room for it. */
static bool cb_breaker_create(struct bpf_map *map, const struct cb_key *key,
			      const struct cb_policy *p, u64 now)
{
	struct cb_breaker fresh;
	int err, tries;

	cb_fresh(&fresh, key, p, now);
	for (tries = 0; tries < 2; tries++) {
		err = map->ops->map_update_elem(map, (void *)key, &fresh,
						BPF_NOEXIST);
		if (!err) {
			atomic_inc(&cb_nr_breakers);
			cb_stat_add(CB_STAT_CREATED, 1);
			return true;
		}
		if (err == -EEXIST)
			return true;	/* made by another CPU meanwhile */
		if (err != -E2BIG || !cb_evict_one(map, now))
			break;
	}
	cb_stat_add(CB_STAT_UNTRACKED, 1);
	return false;
}

/* A call the fast path could not decide: with its policy, maybe a new breaker. */
static int cb_admit_slow(struct bpf_map *map, const struct cb_key *key,
			 u64 now)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_changes ch = { 0 };
	struct cb_policy pol;
	struct cb_breaker *b;
	unsigned long flags;
	bool tracked;
	u16 gen;
	u64 rnd;
	int ret;

	gen = cb_gen();
	tracked = cb_policy_find(key, &pol);	/* lockless RCU lookups */
	rnd = cb_rnd();
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (!b) {
		raw_spin_unlock_irqrestore(lock, flags);
		if (!tracked || !cb_breaker_create(map, key, &pol, now))
			return CB_ADMIT_UNTRACKED;
		raw_spin_lock_irqsave(lock, flags);
		b = cb_lookup(map, key);
		if (!b) {	/* evicted in between */
			raw_spin_unlock_irqrestore(lock, flags);
			return CB_ADMIT_UNTRACKED;
		}
	}
	ret = cb_engine_admit(b, tracked ? &pol : NULL, now, rnd, &ch);
	cb_engine_rules(b, tracked ? &pol : NULL, gen);
	cb_changes_queue(key, &ch, b);
	raw_spin_unlock_irqrestore(lock, flags);

	if (ret == CB_ADMIT_REFUSE)
		cb_stat_add(CB_STAT_REFUSED, 1);
	else if (ret < 0 && tracked && pol.mode == CB_MODE_DRY_RUN)
		cb_stat_add(CB_STAT_DRY_RUN, 1);
	cb_changed(key, &ch, now);
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
		return CB_ADMIT_UNTRACKED;
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
		cb_breaker_record(key, CB_OUT_SUCCESS, 0, ret);
	return ret;
}

static const enum cb_stat cb_outcome_stat[__CB_OUT_MAX] = {
	[CB_OUT_SUCCESS]	= CB_STAT_SUCCESS,
	[CB_OUT_REFUSED]	= CB_STAT_FAIL_REFUSED,
	[CB_OUT_TIMEOUT]	= CB_STAT_FAIL_TIMEOUT,
	[CB_OUT_UNREACH]	= CB_STAT_FAIL_UNREACH,
	[CB_OUT_PORT_UNREACH]	= CB_STAT_FAIL_PORT_UNREACH,
	[CB_OUT_ABANDONED]	= CB_STAT_FAIL_ABANDONED,
};

/*
 * An outcome: sensed by the tracing programs (any context, under RCU), or
 * a UDP datagram let through. A UDP failure (an ICMP error) turns the
 * success its datagram was counted as into a failure.
 */
void cb_breaker_record(const struct cb_key *key, enum cb_outcome out,
		       u64 latency_ns, u32 epoch)
{
	struct cb_changes ch = { 0 };
	struct cb_policy pol;
	struct cb_breaker *b;
	struct bpf_map *map;
	raw_spinlock_t *lock;
	unsigned long flags;
	u64 now, rnd, slow_before = 0, slow_after = 0;
	u64 results_before = 0, results_after = 0;
	bool tracked;
	u16 gen;

	if (out == CB_OUT_IGNORED) {
		cb_stat_add(CB_STAT_IGNORED, 1);
		return;
	}
	map = cb_map(CB_MAP_BREAKERS);
	if (!map || out >= __CB_OUT_MAX)
		return;
	gen = cb_gen();
	tracked = cb_policy_find(key, &pol);
	now = ktime_get_ns();
	rnd = cb_rnd();
	lock = cb_lock_for(key);
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b) {
		slow_before = b->slow;
		results_before = b->successes + b->failures;
		if (key->proto == IPPROTO_UDP && out != CB_OUT_SUCCESS)
			cb_engine_amend(b, tracked ? &pol : NULL, epoch, now,
					rnd, &ch);
		else
			cb_engine_record(b, tracked ? &pol : NULL, out,
					 latency_ns, epoch, now, rnd, &ch);
		cb_engine_rules(b, tracked ? &pol : NULL, gen);
		slow_after = b->slow;
		results_after = b->successes + b->failures;
		cb_changes_queue(key, &ch, b);
	}
	raw_spin_unlock_irqrestore(lock, flags);
	if (!b)
		return;
	/* a UDP datagram is no success yet: an ICMP error may follow */
	if (key->proto == IPPROTO_UDP && out == CB_OUT_SUCCESS)
		cb_stat_add(CB_STAT_DATAGRAMS, 1);
	/* a handshake abandoned sooner than slow is no result at all */
	else if (out != CB_OUT_ABANDONED || results_after != results_before)
		cb_stat_add(cb_outcome_stat[out], 1);
	if (slow_after != slow_before)
		cb_stat_add(CB_STAT_SLOW, 1);
	cb_changed(key, &ch, now);
}

/* Under RCU, migration disabled: apply @action, making the breaker if need be. */
static int cb_action_rcu(struct bpf_map *map, const struct cb_key *key,
			 enum cb_action action, u64 for_ns)
{
	struct cb_changes ch = { 0 };
	struct cb_policy pol;
	struct cb_breaker *b, fresh;
	raw_spinlock_t *lock = cb_lock_for(key);
	unsigned long flags;
	u64 now = ktime_get_ns();
	u16 gen = cb_gen();
	bool tracked = cb_policy_find(key, &pol);
	int err = 0;

	if (for_ns && !tracked)
		return -ESRCH;	/* no policy to half-open with */
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (!b && action == CB_ACTION_RESET) {
		err = -ENOENT;
	} else if (!b) {
		/* Forcing a destination with no breaker yet creates one. */
		cb_fresh(&fresh, key, tracked ? &pol : NULL, now);
		err = map->ops->map_update_elem(map, (void *)key, &fresh,
						BPF_NOEXIST);
		if (!err) {
			atomic_inc(&cb_nr_breakers);
			cb_stat_add(CB_STAT_CREATED, 1);
			b = cb_lookup(map, key);
		}
	}
	if (b) {
		if (action == CB_ACTION_RESET)
			cb_engine_reset(b, tracked ? &pol : NULL, now, &ch);
		else if (for_ns)
			cb_engine_trip_for(b, &pol, for_ns, now, &ch);
		else
			cb_engine_force(b, tracked ? &pol : NULL,
					action == CB_ACTION_TRIP ? CB_FORCE_OPEN :
					CB_FORCE_CLOSED, now, &ch);
		cb_engine_rules(b, tracked ? &pol : NULL, gen);
		cb_changes_queue(key, &ch, b);
	}
	raw_spin_unlock_irqrestore(lock, flags);
	cb_changed(key, &ch, now);
	return err;
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
static void cb_walk(void (*fn)(struct bpf_map *map, const struct cb_key *key))
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
			fn(map, &key);
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

static void cb_reset_one(struct bpf_map *map, const struct cb_key *key)
{
	cb_action_rcu(map, key, CB_ACTION_RESET, 0);
}

void cb_breaker_reset_all(void)
{
	cb_walk(cb_reset_one);
}

/* Apply what time alone changes, for one breaker. */
static void cb_tick_one(struct bpf_map *map, const struct cb_key *key)
{
	struct cb_changes ch = { 0 };
	struct cb_policy pol;
	struct cb_breaker *b;
	raw_spinlock_t *lock = cb_lock_for(key);
	unsigned long flags;
	u64 now = ktime_get_ns(), rnd = cb_rnd();
	u16 gen = cb_gen();
	bool tracked = cb_policy_find(key, &pol);

	if (!tracked)
		return;
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b) {
		cb_engine_tick(b, &pol, now, rnd, &ch);
		cb_engine_rules(b, &pol, gen);
		cb_changes_queue(key, &ch, b);
	}
	raw_spin_unlock_irqrestore(lock, flags);
	cb_changed(key, &ch, now);
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
	cb_walk(cb_tick_one);
}

/* A breaker no rule governs any more and nobody forces is forgotten. */
static void cb_forget_one(struct bpf_map *map, const struct cb_key *key)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_policy pol;
	struct cb_breaker *b;
	unsigned long flags;

	if (cb_policy_find(key, &pol))
		return;
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b && !b->forced && !map->ops->map_delete_elem(map, (void *)key))
		cb_breaker_deleted();
	raw_spin_unlock_irqrestore(lock, flags);
}

static void cb_forget_untracked(void)
{
	cb_walk(cb_forget_one);
}

/* A consistent copy of the breaker, with what time changed applied. */
static int cb_view_rcu(struct bpf_map *map, const struct cb_key *key,
		       struct cb_breaker_view *v)
{
	struct cb_changes ch = { 0 };
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_policy pol;
	struct cb_breaker *b;
	unsigned long flags;
	u64 now = ktime_get_ns(), rnd = cb_rnd();
	u16 gen = cb_gen();

	v->key = *key;
	v->tracked = cb_policy_find(key, &pol);
	v->mode = v->tracked ? pol.mode : CB_MODE_ENFORCE;
	raw_spin_lock_irqsave(lock, flags);
	b = cb_lookup(map, key);
	if (b) {
		if (v->tracked)
			cb_engine_tick(b, &pol, now, rnd, &ch);
		cb_engine_window(b, v->tracked ? &pol : NULL, now, &v->win);
		cb_engine_rules(b, v->tracked ? &pol : NULL, gen);
		v->b = *b;
		if (v->tracked)
			cb_changes_queue(key, &ch, b);
	}
	raw_spin_unlock_irqrestore(lock, flags);
	cb_changed(key, &ch, now);
	return b ? 0 : -ENOENT;
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
 * dump can flag itself interrupted (NLM_F_DUMP_INTR) and be started again.
 */
int cb_breaker_next(const struct cb_key *prev, struct cb_breaker_view *v)
{
	struct bpf_map *map = cb_enter();
	struct cb_key key, skipped;
	int err = -ENODEV;

	while (map) {
		err = map->ops->map_get_next_key(map, (void *)prev, &key);
		if (err)
			break;
		err = cb_view_rcu(map, &key, v);
		if (err != -ENOENT)
			break;
		skipped = key;	/* deleted under us: go past it */
		prev = &skipped;
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
}

void cb_table_exit(void)
{
	cancel_delayed_work_sync(&cb_sweep_work);
	cb_maps_release();
}
