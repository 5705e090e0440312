// SPDX-License-Identifier: GPL-2.0
/*
 * The maps the BPF object hands over (cb_map_attach kfunc), and the
 * table's counts. What is shared with rules and breakers is in cb_table.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "cb_table.h"

/* Guards changes of the map pointers; kfunc context: it must not sleep. */
DEFINE_RAW_SPINLOCK(cb_maps_lock);
struct bpf_map __rcu *cb_maps[__CB_MAP_MAX];
atomic_t cb_nr_breakers;
atomic_t cb_deletions = ATOMIC_INIT(1);
atomic_t cb_nr_rules;
atomic_t cb_nr_port_rules;

static const struct {
	u32 type, key_size, value_size, flags, max_entries;	/* 0: any */
} cb_map_shapes[__CB_MAP_MAX] = {
	[CB_MAP_BREAKERS] = { BPF_MAP_TYPE_HASH, sizeof(struct cb_key),
			      sizeof(struct cb_breaker), BPF_F_NO_PREALLOC },
	[CB_MAP_RULES] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct cb_rule_key),
			   sizeof(struct cb_policy), BPF_F_NO_PREALLOC },
	[CB_MAP_PORT_RULES] = { BPF_MAP_TYPE_LPM_TRIE,
				sizeof(struct cb_port_rule_key),
				sizeof(struct cb_policy), BPF_F_NO_PREALLOC },
	[CB_MAP_COUNTS] = { BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(u32), sizeof(u64), 0 },
	[CB_MAP_GATE] = { BPF_MAP_TYPE_ARRAY, sizeof(u32),
			  sizeof(struct cb_gate_set), 0, CB_GATE_SETS + 1 },
};

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
	    (cb_map_shapes[id].flags &&
	     !(map->map_flags & cb_map_shapes[id].flags)) || !map->max_entries ||
	    (cb_map_shapes[id].max_entries &&
	     map->max_entries != cb_map_shapes[id].max_entries))
		return -EINVAL;

	raw_spin_lock_irqsave(&cb_maps_lock, flags);
	if (rcu_access_pointer(cb_maps[id])) {
		err = -EBUSY;
	} else {
		if (id == CB_MAP_GATE)
			cb_gate_key(map);
		bpf_map_inc(map);
		rcu_assign_pointer(cb_maps[id], map);
		if (id == CB_MAP_BREAKERS) {
			atomic_set(&cb_nr_breakers, 0);
			cb_evict_restart();
		} else if (id == CB_MAP_RULES) {
			atomic_set(&cb_nr_rules, 0);
		} else if (id == CB_MAP_PORT_RULES) {
			atomic_set(&cb_nr_port_rules, 0);
		}
	}
	raw_spin_unlock_irqrestore(&cb_maps_lock, flags);
	return err;
}

/* The module's counter for each of the hooks' own (enum cb_count). */
static const u8 cb_count_stat[__CB_COUNT_MAX] = {
	[CB_COUNT_ADMITTED] = CB_STAT_ADMITTED,
	[CB_COUNT_BULKHEAD] = CB_STAT_BULKHEAD,
	[CB_COUNT_UNBOUNDED] = CB_STAT_UNBOUNDED,
};

/* What the hooks counted themselves, on every CPU, into @out by cb_stat. */
static void cb_counts_sum(struct bpf_map *map, u64 *out)
{
	u64 *v;
	u32 i;
	int cpu;

	for (i = 0; i < __CB_COUNT_MAX; i++)
		for_each_possible_cpu(cpu) {
			v = map->ops->map_lookup_percpu_elem(map, &i, cpu);
			if (v)
				out[cb_count_stat[i]] += READ_ONCE(*v);
		}
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
	/* counters: keep what the hooks counted */
	if (old[CB_MAP_COUNTS]) {
		u64 n[__CB_STAT_MAX] = { 0 };

		cb_counts_sum(old[CB_MAP_COUNTS], n);
		for (i = 0; i < __CB_COUNT_MAX; i++)
			cb_stat_add(cb_count_stat[i], n[cb_count_stat[i]]);
	}
	for (i = 0; i < __CB_MAP_MAX; i++)
		if (old[i])
			bpf_map_put(old[i]);
	atomic_set(&cb_nr_breakers, 0);
	atomic_set(&cb_nr_rules, 0);
	atomic_set(&cb_nr_port_rules, 0);
	cb_rules_released();
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

u32 cb_rules_count(void)
{
	return atomic_read(&cb_nr_rules) + atomic_read(&cb_nr_port_rules);
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

/* The same, for the maps attached now: added to @out, by cb_stat. */
void cb_maps_counts(u64 *out)
{
	struct bpf_map *map;

	rcu_read_lock();
	map = cb_map(CB_MAP_COUNTS);
	if (map)
		cb_counts_sum(map, out);
	rcu_read_unlock();
}
