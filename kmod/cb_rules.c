// SPDX-License-Identifier: GPL-2.0
/*
 * Rules: two LPM tries (with a port, without), updated whole, read
 * locklessly under RCU by BPF programs and by the breakers' slow paths.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>

#include "cb_table.h"

atomic_t cb_rules_gen;

/*
 * Serializes rule changes with the max-open slots their values name
 * (cb_caps.c): a slot is held exactly while a rule with max-open below 100
 * names it.
 */
static DEFINE_MUTEX(cb_rules_mutex);

static void cb_rules_changed(void)
{
	smp_mb__before_atomic();	/* the rule change, then the generation */
	atomic_inc(&cb_rules_gen);
}

/* The policy governing @key: a rule with its port first, then without. */
bool cb_policy_find(const struct cb_key *key, struct cb_policy *out)
{
	struct cb_port_rule_key pk;
	struct cb_rule_key rk;
	struct cb_policy *p = NULL;
	struct bpf_map *map;

	cb_rule_keys(key, &pk, &rk);
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

/* Into @p: the max-open slot rule @r names now (0: none), under the mutex. */
static void cb_rule_cap(const struct cb_rule *r, struct cb_policy *p)
{
	struct cb_rule old = *r;

	p->cap_slot = 0;
	p->cap_gen = 0;
	if (!cb_rule_get(&old)) {
		p->cap_slot = old.policy.cap_slot;
		p->cap_gen = old.policy.cap_gen;
	}
}

/*
 * A changed policy keeps its max-open slot, and with it the count of its
 * breakers; max-open 100 frees it. -EDQUOT: no slot left.
 */
int cb_rule_put(const struct cb_rule *r, bool create)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct cb_policy p = r->policy;
	struct bpf_map *map;
	bool fresh = false;
	int err = -ENODEV;
	u16 freed = 0;

	p.prefixlen = r->prefixlen;
	mutex_lock(&cb_rules_mutex);
	p.cap_slot = 0;
	p.cap_gen = 0;
	if (!create)
		cb_rule_cap(r, &p);
	if (p.max_open < 100 && !p.cap_slot) {
		err = cb_cap_alloc(&p.cap_slot, &p.cap_gen);
		if (err)
			goto out;
		fresh = true;
	} else if (p.max_open >= 100 && p.cap_slot) {
		freed = p.cap_slot;
		p.cap_slot = 0;
		p.cap_gen = 0;
	}
	err = -ENODEV;
	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_update_elem(map, &k, &p,
						create ? BPF_NOEXIST : BPF_EXIST);
	rcu_read_unlock();
	migrate_enable();
	if (err && fresh)
		cb_cap_free(p.cap_slot);
	else if (!err)
		cb_cap_free(freed);
out:
	mutex_unlock(&cb_rules_mutex);
	if (!err && create)
		atomic_inc(&cb_nr_rules);
	if (!err) {
		cb_rules_changed();
		/*
		 * A new or changed rule: its breakers follow it at once (what
		 * the hooks read from them, where max-open counts them).
		 */
		cb_follow_rules();
	}
	return err;
}

int cb_rule_del(const struct cb_rule *r)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct bpf_map *map;
	int err = -ENODEV;
	struct cb_policy old;

	mutex_lock(&cb_rules_mutex);
	cb_rule_cap(r, &old);
	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_delete_elem(map, &k);
	rcu_read_unlock();
	migrate_enable();
	if (!err)
		cb_cap_free(old.cap_slot);
	mutex_unlock(&cb_rules_mutex);
	if (!err) {
		atomic_dec(&cb_nr_rules);
		cb_rules_changed();
		cb_follow_rules();
	}
	return err;
}

/* The tries are gone (cb_maps_release), and every rule with them. */
void cb_rules_released(void)
{
	mutex_lock(&cb_rules_mutex);
	cb_caps_free_all();
	mutex_unlock(&cb_rules_mutex);
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
