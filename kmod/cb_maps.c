// SPDX-License-Identifier: GPL-2.0
/*
 * The breaker table. It is a BPF hash map created by cbctl's BPF object and
 * handed to us once (cb_map_attach kfunc); we hold a plain reference and are
 * its only writer. BPF programs read it directly.
 *
 * Map operations are called through map->ops under rcu_read_lock() with
 * migration disabled, as BPF programs call them. The map is created with
 * BPF_F_NO_PREALLOC, so an element stays valid for the whole RCU section
 * even if it is deleted meanwhile, and we may update values in place under
 * our own per-key lock.
 */
#include <linux/jhash.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>

#include "cb_core.h"
#include "cb_engine.h"

#define CB_LOCKS 256	/* power of two */

static DEFINE_MUTEX(cb_maps_mutex);
static struct bpf_map __rcu *cb_breakers;
static atomic_t cb_nr_breakers;

/* Serializes the state machine of each breaker; striped by key hash. */
static raw_spinlock_t cb_locks[CB_LOCKS];

static raw_spinlock_t *cb_lock_for(const struct cb_key *key)
{
	return &cb_locks[jhash(key, sizeof(*key), 0) & (CB_LOCKS - 1)];
}

/* Readers: BPF programs (under RCU already) and us, under RCU or the mutex. */
static struct bpf_map *cb_breakers_map(void)
{
	return rcu_dereference_check(cb_breakers,
				     lockdep_is_held(&cb_maps_mutex));
}

static u32 cb_count_entries(struct bpf_map *map)
{
	struct cb_key prev, key;
	void *pprev = NULL;
	u32 n = 0;

	while (!map->ops->map_get_next_key(map, pprev, &key)) {
		prev = key;
		pprev = &prev;
		n++;
	}
	return n;
}

int cb_maps_attach(struct bpf_map *map, u32 id)
{
	struct bpf_map *old;

	if (id != CB_MAP_BREAKERS)
		return -EINVAL;
	if (map->map_type != BPF_MAP_TYPE_HASH ||
	    map->key_size != sizeof(struct cb_key) ||
	    map->value_size != sizeof(struct cb_breaker) ||
	    !(map->map_flags & BPF_F_NO_PREALLOC))
		return -EINVAL;

	bpf_map_inc(map);
	mutex_lock(&cb_maps_mutex);
	old = rcu_replace_pointer(cb_breakers, map,
				  lockdep_is_held(&cb_maps_mutex));
	migrate_disable();
	rcu_read_lock();
	atomic_set(&cb_nr_breakers, cb_count_entries(map));
	rcu_read_unlock();
	migrate_enable();
	mutex_unlock(&cb_maps_mutex);

	if (old) {
		synchronize_rcu();
		bpf_map_put(old);
	}
	return 0;
}

void cb_maps_release(void)
{
	struct bpf_map *old;

	mutex_lock(&cb_maps_mutex);
	old = rcu_replace_pointer(cb_breakers, NULL,
				  lockdep_is_held(&cb_maps_mutex));
	atomic_set(&cb_nr_breakers, 0);
	mutex_unlock(&cb_maps_mutex);
	if (old) {
		synchronize_rcu();
		bpf_map_put(old);
	}
}

bool cb_maps_attached(void)
{
	return rcu_access_pointer(cb_breakers);
}

u32 cb_breakers_count(void)
{
	return atomic_read(&cb_nr_breakers);
}

u32 cb_breakers_capacity(void)
{
	struct bpf_map *map;
	u32 n = 0;

	rcu_read_lock();
	map = cb_breakers_map();
	if (map)
		n = map->max_entries;
	rcu_read_unlock();
	return n;
}

/*
 * Called by the connect/sendmsg hooks (already under RCU, migration
 * disabled). Anything missing means admit: cbreaker fails open.
 */
enum cb_verdict cb_breaker_admit(const struct cb_key *key)
{
	enum cb_verdict v = CB_ADMIT;
	struct cb_breaker *b;
	struct bpf_map *map;
	raw_spinlock_t *lock;
	unsigned long flags;

	map = cb_breakers_map();
	if (!map)
		return CB_ADMIT;
	b = map->ops->map_lookup_elem(map, (void *)key);
	if (!b)
		return CB_ADMIT;
	lock = cb_lock_for(key);
	raw_spin_lock_irqsave(lock, flags);
	v = cb_engine_admit(b, ktime_get_ns());
	raw_spin_unlock_irqrestore(lock, flags);
	return v;
}

/* Apply @action to @b under its lock. */
static void cb_apply(struct cb_breaker *b, enum cb_action action, u64 now)
{
	switch (action) {
	case CB_ACTION_TRIP:
		cb_engine_force(b, CB_FORCE_OPEN, now);
		break;
	case CB_ACTION_HOLD:
		cb_engine_force(b, CB_FORCE_CLOSED, now);
		break;
	default:
		cb_engine_reset(b, now);
		break;
	}
}

/* Under RCU, migration disabled. */
static int cb_action_locked(struct bpf_map *map, const struct cb_key *key,
			    enum cb_action action)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_breaker *b, fresh;
	unsigned long flags;
	u64 now = ktime_get_ns();
	int err = 0;

	raw_spin_lock_irqsave(lock, flags);
	b = map->ops->map_lookup_elem(map, (void *)key);
	if (b) {
		cb_apply(b, action, now);
	} else if (action == CB_ACTION_RESET) {
		err = -ENOENT;
	} else {
		/* Forcing a destination with no breaker yet creates one. */
		cb_engine_init(&fresh, now);
		cb_apply(&fresh, action, now);
		err = map->ops->map_update_elem(map, (void *)key, &fresh,
						BPF_NOEXIST);
		if (!err)
			atomic_inc(&cb_nr_breakers);
	}
	raw_spin_unlock_irqrestore(lock, flags);
	return err;
}

int cb_breaker_action(const struct cb_key *key, enum cb_action action)
{
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_breakers_map();
	if (map)
		err = cb_action_locked(map, key, action);
	rcu_read_unlock();
	migrate_enable();
	return err;
}

void cb_breaker_reset_all(void)
{
	struct cb_key prev, key;
	struct bpf_map *map;
	void *pprev = NULL;

	migrate_disable();
	rcu_read_lock();
	map = cb_breakers_map();
	while (map && !map->ops->map_get_next_key(map, pprev, &key)) {
		cb_action_locked(map, &key, CB_ACTION_RESET);
		prev = key;
		pprev = &prev;
	}
	rcu_read_unlock();
	migrate_enable();
}

/* Copy one breaker out, consistent with respect to its lock. */
static int cb_copy(struct bpf_map *map, const struct cb_key *key,
		   struct cb_breaker *out)
{
	raw_spinlock_t *lock = cb_lock_for(key);
	struct cb_breaker *b;
	unsigned long flags;

	b = map->ops->map_lookup_elem(map, (void *)key);
	if (!b)
		return -ENOENT;
	raw_spin_lock_irqsave(lock, flags);
	*out = *b;
	raw_spin_unlock_irqrestore(lock, flags);
	return 0;
}

int cb_breaker_read(const struct cb_key *key, struct cb_breaker *out)
{
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_breakers_map();
	if (map)
		err = cb_copy(map, key, out);
	rcu_read_unlock();
	migrate_enable();
	return err;
}

/*
 * The breaker after @prev in map order (the first if @prev is NULL), for
 * dumps. Returns -ENOENT at the end. A breaker deleted between two calls
 * restarts the walk at the beginning (a hash map property); callers see a
 * repeated entry, never a missed live one.
 */
int cb_breaker_next(const struct cb_key *prev, struct cb_key *key,
		    struct cb_breaker *out)
{
	struct cb_key skipped;
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_breakers_map();
	while (map) {
		err = map->ops->map_get_next_key(map, (void *)prev, key);
		if (err)
			break;
		err = cb_copy(map, key, out);
		if (err != -ENOENT)
			break;
		skipped = *key;	/* deleted under us: go past it */
		prev = &skipped;
	}
	rcu_read_unlock();
	migrate_enable();
	return err;
}

void cb_maps_init(void)
{
	int i;

	for (i = 0; i < CB_LOCKS; i++)
		raw_spin_lock_init(&cb_locks[i]);
}
