/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the table: what cb_maps.c (the maps the BPF object handed over),
 * cb_rules.c and cb_breakers.c share. Both breakers and rules live in BPF
 * maps that cbctl's BPF object created and handed to us once
 * (cb_map_attach kfunc); we hold plain references and are their only
 * writer. BPF programs read them directly.
 *
 * Map operations are called through map->ops under rcu_read_lock() with
 * migration disabled, as BPF programs call them.
 *
 * Lock order: cb_evict_lock, then a stripe lock, then the map's own locks.
 */
#ifndef _CB_TABLE_H
#define _CB_TABLE_H

#include <linux/rcupdate.h>
#include <linux/spinlock.h>

#include "cb_core.h"

/* cb_maps.c */
extern raw_spinlock_t cb_maps_lock;
extern struct bpf_map __rcu *cb_maps[__CB_MAP_MAX];
extern atomic_t cb_nr_breakers;
/* Bumped when a breaker goes: a dump going on may repeat entries then. */
extern atomic_t cb_deletions;
/* Rules in each trie: without a port, with one (under the rules' mutex). */
extern atomic_t cb_nr_rules;
extern atomic_t cb_nr_port_rules;

/* Readers: BPF programs (under RCU already) and us, under RCU or the lock. */
static inline struct bpf_map *cb_map(enum cb_map_id id)
{
	return rcu_dereference_check(cb_maps[id], lockdep_is_held(&cb_maps_lock));
}

/*
 * For callers outside BPF programs: the breaker map, under RCU with
 * migration disabled (as map operations want), until cb_leave().
 */
static inline struct bpf_map *cb_enter(void)
{
	migrate_disable();
	rcu_read_lock();
	return cb_map(CB_MAP_BREAKERS);
}

static inline void cb_leave(void)
{
	rcu_read_unlock();
	migrate_enable();
}

static inline void *cb_lookup(struct bpf_map *map, const void *key)
{
	return map->ops->map_lookup_elem(map, (void *)key);
}

/* cb_rules.c */
/*
 * Bumped after every rule change: a breaker notes the generation its
 * cached mode is of, and an open one refuses on the fast path only while
 * that is current, so a change reaches every breaker at once.
 */
extern atomic_t cb_rules_gen;

/* The rules generation, read before the rules it covers. */
static inline u16 cb_gen(void)
{
	u16 gen = atomic_read(&cb_rules_gen);

	smp_rmb();	/* pairs with the barrier in cb_rules_changed() */
	return gen;
}

bool cb_policy_find(const struct cb_key *key, struct cb_policy *out);

/* cb_breakers.c */
void cb_evict_restart(void);
/* a gate handed over: the hash's key in it (struct cb_gate_set) */
void cb_gate_key(struct bpf_map *map);
/* @forget: a breaker no rule governs and nobody forces goes */
void cb_follow_rules(bool forget);

/* cb_caps.c: max-open counts; alloc and free under the rules' mutex */
int cb_cap_alloc(u16 *slot, u16 *gen);
void cb_cap_free(u16 slot);
void cb_caps_free_all(void);
bool cb_caps_in_use(void);
unsigned int cb_caps_taken(void);
bool cb_cap_add(u16 slot, u16 gen, int all, int open);
int cb_cap_take(u16 slot, u16 gen, unsigned int pct);

#endif /* _CB_TABLE_H */
