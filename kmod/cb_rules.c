// SPDX-License-Identifier: GPL-2.0
/*
 * Rules: two LPM tries (with a port, without), updated whole, read
 * locklessly under RCU by BPF programs and by the breakers' slow paths.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jhash.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "cb_table.h"

atomic_t cb_rules_gen;

/*
 * Only tests set it: a trie cannot be made to run out of memory at will,
 * and a batch's undo must be seen to work.
 */
static unsigned int batch_fail_at;
module_param(batch_fail_at, uint, 0600);
MODULE_PARM_DESC(batch_fail_at, "Test hook: the Nth rule a policy batch writes fails as if the trie had no memory (0: off)");

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

static atomic_t *cb_trie_count(enum cb_map_id trie)
{
	return trie == CB_MAP_PORT_RULES ? &cb_nr_port_rules : &cb_nr_rules;
}

static int cb_trie_write(enum cb_map_id trie, const union cb_any_rule_key *k,
			 const struct cb_policy *p, u64 flags)
{
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_update_elem(map, (void *)k, (void *)p, flags);
	rcu_read_unlock();
	migrate_enable();
	return err;
}

static int cb_trie_delete(enum cb_map_id trie, const union cb_any_rule_key *k)
{
	struct bpf_map *map;
	int err = -ENODEV;

	migrate_disable();
	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		err = map->ops->map_delete_elem(map, (void *)k);
	rcu_read_unlock();
	migrate_enable();
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
	err = cb_trie_write(trie, &k, &p, create ? BPF_NOEXIST : BPF_EXIST);
	if (err && fresh)
		cb_cap_free(p.cap_slot);
	else if (!err)
		cb_cap_free(freed);
	if (!err && create)
		atomic_inc(cb_trie_count(trie));
out:
	mutex_unlock(&cb_rules_mutex);
	if (!err) {
		cb_rules_changed();
		/*
		 * A new or changed rule: its breakers follow it at once (what
		 * the hooks read from them, where max-open counts them).
		 */
		cb_follow_rules(true);
	}
	return err;
}

int cb_rule_del(const struct cb_rule *r)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct cb_policy old;
	int err;

	mutex_lock(&cb_rules_mutex);
	cb_rule_cap(r, &old);
	err = cb_trie_delete(trie, &k);
	if (!err) {
		cb_cap_free(old.cap_slot);
		atomic_dec(cb_trie_count(trie));
	}
	mutex_unlock(&cb_rules_mutex);
	if (!err) {
		cb_rules_changed();
		cb_follow_rules(true);
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

/*
 * A batch: every rule its changes name, once, as it was and as the batch
 * leaves it; only the difference is written. Nothing is written until
 * the whole is known to fit (the tries' room, max-open's slots). What can
 * still fail, a trie finding no memory for a node, is done first and
 * undone if it does; deletions, which cannot fail, come last (unless only
 * they make the room), and the breakers follow (or are forgotten with
 * their rule) only once all of it is in. Until then no breaker is touched,
 * so an undone batch leaves each as it was: state, window, counts,
 * forcing.
 */
struct cb_batch {
	struct cb_batch_rule *rules;
	struct hlist_head *heads;
	u32 n, max, bits;
	u32 writes, fail_at;		/* the test hook's count */
	int added[2];			/* rules without a port, with one */
	bool deletes_first;
};

enum cb_step { CB_STEP_NONE, CB_STEP_INSERT, CB_STEP_UPDATE, CB_STEP_DELETE };

/* Undoing and committing wait for memory the trie finds a little later. */
#define CB_BATCH_TRIES	50
#define CB_BATCH_WAIT_MS 20

struct cb_batch *cb_batch_begin(u32 ops)
{
	struct cb_batch *b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);

	if (!b)
		return NULL;
	b->max = max(ops, 1U);
	b->bits = order_base_2(b->max);
	b->rules = kvcalloc(b->max, sizeof(*b->rules), GFP_KERNEL_ACCOUNT);
	b->heads = kvcalloc(1U << b->bits, sizeof(*b->heads), GFP_KERNEL_ACCOUNT);
	if (!b->rules || !b->heads) {
		kvfree(b->rules);
		kvfree(b->heads);
		kfree(b);
		return NULL;
	}
	b->fail_at = READ_ONCE(batch_fail_at);
	mutex_lock(&cb_rules_mutex);
	return b;
}

/* ERR_PTR(-ENODEV): the tries are gone. */
struct cb_batch_rule *cb_batch_rule(struct cb_batch *b, const struct cb_rule *r)
{
	union cb_any_rule_key k;
	enum cb_map_id trie = cb_rule_key(r, &k);
	struct hlist_head *head;
	struct cb_batch_rule *c;
	int err;

	head = &b->heads[jhash(&k, sizeof(k), trie) & ((1U << b->bits) - 1)];
	hlist_for_each_entry(c, head, node)
		if (c->trie == trie && !memcmp(&c->k, &k, sizeof(k)))
			return c;
	if (WARN_ON_ONCE(b->n == b->max))
		return ERR_PTR(-E2BIG);
	c = &b->rules[b->n];
	c->r = *r;
	err = cb_rule_get(&c->r);
	if (err == -ENODEV)
		return ERR_PTR(err);
	c->k = k;
	c->trie = trie;
	c->existed = !err;
	c->exists = c->existed;
	c->was = c->r.policy;
	hlist_add_head(&c->node, head);
	b->n++;
	return c;
}

/* The policy's bytes, without the tail padding a copy may not keep. */
#define CB_POLICY_BYTES	offsetofend(struct cb_policy, cap_gen)

/* What committing each rule takes, and the max-open slot it names. */
static void cb_batch_plan(struct cb_batch *b)
{
	struct cb_batch_rule *c;
	struct cb_policy *p;
	bool had, wants;

	for (c = b->rules; c < b->rules + b->n; c++) {
		p = &c->r.policy;
		had = c->existed && c->was.cap_slot;
		c->step = CB_STEP_NONE;
		c->fresh = false;
		c->gives = false;
		if (!c->exists) {
			if (c->existed) {
				c->step = CB_STEP_DELETE;
				c->gives = had;
			}
			continue;
		}
		p->prefixlen = c->r.prefixlen;
		wants = p->max_open < 100;
		/* a changed policy keeps its slot, and its breakers' count */
		p->cap_slot = wants && had ? c->was.cap_slot : 0;
		p->cap_gen = wants && had ? c->was.cap_gen : 0;
		if (c->existed && !memcmp(p, &c->was, CB_POLICY_BYTES))
			continue;
		c->step = c->existed ? CB_STEP_UPDATE : CB_STEP_INSERT;
		c->fresh = wants && !had;
		c->gives = had && !wants;
	}
}

static int cb_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The change a batch runs out of room at: of the rules that need room
 * (inserted into @trie, or taking a slot if @trie is -1), in the batch's
 * order, the one after the @room there is.
 */
static u32 cb_batch_blame(struct cb_batch *b, int trie, u32 room)
{
	struct cb_batch_rule *c;
	u32 *ops, n = 0, op = 0;

	ops = kvmalloc_array(b->n, sizeof(*ops), GFP_KERNEL);
	for (c = b->rules; c < b->rules + b->n; c++) {
		if (trie >= 0 ? c->step != CB_STEP_INSERT || c->trie != trie :
				!c->fresh)
			continue;
		op = max(op, c->op);	/* without memory: the last one */
		if (ops)
			ops[n++] = c->op;
	}
	if (ops && n) {
		sort(ops, n, sizeof(*ops), cb_u32_cmp, NULL);
		op = ops[min(room, n - 1)];
	}
	kvfree(ops);
	return op;
}

static u32 cb_trie_size(enum cb_map_id trie)
{
	struct bpf_map *map;
	u32 n = 0;

	rcu_read_lock();
	map = cb_map(trie);
	if (map)
		n = map->max_entries;
	rcu_read_unlock();
	return n;
}

/* Does the whole fit? Then in which order (deletions first or last). */
static int cb_batch_room(struct cb_batch *b, struct cb_batch_err *e)
{
	static const enum cb_map_id tries[2] = { CB_MAP_RULES, CB_MAP_PORT_RULES };
	u32 count[2], size[2], ins[2] = { 0 }, del[2] = { 0 };
	u32 held = cb_caps_taken(), fresh = 0, gives = 0;
	struct cb_batch_rule *c;
	int t;

	for (t = 0; t < 2; t++) {
		count[t] = atomic_read(cb_trie_count(tries[t]));
		size[t] = cb_trie_size(tries[t]);
		if (!size[t])
			return -ENODEV;
	}
	for (c = b->rules; c < b->rules + b->n; c++) {
		t = c->trie == CB_MAP_PORT_RULES;
		ins[t] += c->step == CB_STEP_INSERT;
		del[t] += c->step == CB_STEP_DELETE;
		fresh += c->fresh;
		gives += c->gives;
	}
	for (t = 0; t < 2; t++) {
		if (count[t] + ins[t] - del[t] <= size[t])
			continue;
		e->op = cb_batch_blame(b, tries[t], size[t] - count[t] + del[t]);
		e->limit = size[t];
		e->port = t;
		return -ENOSPC;
	}
	if (held + fresh - gives > CB_CAPS - 1) {
		e->op = cb_batch_blame(b, -1, CB_CAPS - 1 - held + gives);
		e->limit = CB_CAPS - 1;
		return -EDQUOT;
	}
	/*
	 * Deletions last, their slots given back with them, needs room for
	 * the new rules beside the old: else deletions go first, undone by
	 * writing the rule again should the batch fail after them.
	 */
	b->deletes_first = count[0] + ins[0] > size[0] ||
			   count[1] + ins[1] > size[1] ||
			   held + fresh > CB_CAPS - 1;
	return 0;
}

/*
 * The order of writing (@pass): deletions if they go first, changes that
 * give a slot back, other changes, new rules.
 */
static bool cb_batch_in_pass(const struct cb_batch *b,
			     const struct cb_batch_rule *c, int pass)
{
	switch (c->step) {
	case CB_STEP_DELETE:
		return pass == 0 && b->deletes_first;
	case CB_STEP_UPDATE:
		return pass == (c->gives ? 1 : 2);
	case CB_STEP_INSERT:
		return pass == 3;
	}
	return false;
}

#define CB_BATCH_PASSES	4

/* Write one rule's change, or delete it; may fail (-ENOMEM). */
static int cb_batch_write(struct cb_batch *b, struct cb_batch_rule *c)
{
	struct cb_policy *p = &c->r.policy;
	int t = c->trie == CB_MAP_PORT_RULES;
	int err;

	if (b->fail_at && ++b->writes == b->fail_at)
		return -ENOMEM;
	if (c->step == CB_STEP_DELETE) {
		err = cb_trie_delete(c->trie, &c->k);
		if (!err) {
			b->added[t]--;
			if (c->gives)
				cb_cap_free(c->was.cap_slot);
			c->freed = c->gives;
		}
		return err;
	}
	if (c->fresh) {
		err = cb_cap_alloc(&p->cap_slot, &p->cap_gen);
		if (err)
			return err;
	}
	err = cb_trie_write(c->trie, &c->k, p, c->step == CB_STEP_INSERT ?
			    BPF_NOEXIST : BPF_EXIST);
	if (err) {
		if (c->fresh)
			cb_cap_free(p->cap_slot);
		return err;
	}
	b->added[t] += c->step == CB_STEP_INSERT;
	/* deletions first: so do slots given back, for others to take */
	if (c->gives && b->deletes_first) {
		cb_cap_free(c->was.cap_slot);
		c->freed = true;
	}
	return 0;
}

/* What must happen does: the trie may find memory a little later. */
static int cb_trie_write_hard(enum cb_map_id trie,
			      const union cb_any_rule_key *k,
			      const struct cb_policy *p, u64 flags)
{
	int err, i;

	for (i = 0;; i++) {
		err = cb_trie_write(trie, k, p, flags);
		if (!err || err == -EEXIST || err == -ENOENT || err == -ENODEV ||
		    i == CB_BATCH_TRIES)
			return err;
		msleep(CB_BATCH_WAIT_MS);
	}
}

static int cb_trie_delete_hard(enum cb_map_id trie,
			       const union cb_any_rule_key *k)
{
	int err, i;

	for (i = 0;; i++) {
		err = cb_trie_delete(trie, k);
		if (!err || err == -ENOENT || err == -ENODEV ||
		    i == CB_BATCH_TRIES)
			return err;
		msleep(CB_BATCH_WAIT_MS);
	}
}

/* Put one rule back as it was; false if the trie would not. */
static bool cb_batch_unwrite(struct cb_batch *b, struct cb_batch_rule *c)
{
	struct cb_policy was = c->was, *p = &c->r.policy;
	int t = c->trie == CB_MAP_PORT_RULES;
	int err;

	if (c->step == CB_STEP_INSERT) {
		err = cb_trie_delete_hard(c->trie, &c->k);
		if (err && err != -ENOENT)
			return false;
		b->added[t]--;
		if (c->fresh)
			cb_cap_free(p->cap_slot);
		return true;
	}
	/* its slot went back: a fresh one, which the walk after recounts */
	if (c->freed && cb_cap_alloc(&was.cap_slot, &was.cap_gen)) {
		was.cap_slot = 0;	/* counted nowhere: max-open fails open */
		was.cap_gen = 0;
	}
	err = cb_trie_write_hard(c->trie, &c->k, &was,
				 c->step == CB_STEP_DELETE ? BPF_NOEXIST :
							     BPF_EXIST);
	if (err) {
		if (c->freed)
			cb_cap_free(was.cap_slot);
		return false;
	}
	if (c->step == CB_STEP_DELETE)
		b->added[t]++;
	else if (c->fresh)
		cb_cap_free(p->cap_slot);
	return true;
}

/* Write every change; if one fails, undo the others, newest first. */
static int cb_batch_stage(struct cb_batch *b, struct cb_batch_err *e)
{
	struct cb_batch_rule *c;
	int pass, err;

	for (pass = 0; pass < CB_BATCH_PASSES; pass++) {
		for (c = b->rules; c < b->rules + b->n; c++) {
			if (!cb_batch_in_pass(b, c, pass))
				continue;
			err = cb_batch_write(b, c);
			if (err)
				goto undo;
			c->staged = true;
			cond_resched();
		}
	}
	return 0;
undo:
	e->op = c->op;
	/* refused by the trie or the slots after all: say which limit */
	e->port = c->trie == CB_MAP_PORT_RULES;
	e->limit = err == -EDQUOT ? CB_CAPS - 1 : cb_trie_size(c->trie);
	for (; pass >= 0; pass--) {
		for (c = b->rules + b->n - 1; c >= b->rules; c--) {
			if (!c->staged || !cb_batch_in_pass(b, c, pass))
				continue;
			if (!cb_batch_unwrite(b, c)) {
				e->lost++;
				pr_warn("a batch's rule %u could not be put back\n",
					c->op);
			}
			cond_resched();
		}
	}
	return err;
}

/* Past the point of no return: deletions, and slots given back. */
static void cb_batch_commit(struct cb_batch *b)
{
	struct cb_batch_rule *c;
	int err;

	for (c = b->rules; c < b->rules + b->n; c++) {
		if (c->step == CB_STEP_DELETE && !c->staged) {
			err = cb_trie_delete_hard(c->trie, &c->k);
			if (err && err != -ENOENT) {
				pr_warn("a batch's rule %u could not be deleted: %d\n",
					c->op, err);
				continue;	/* it still names its slot */
			}
			b->added[c->trie == CB_MAP_PORT_RULES]--;
		}
		if (c->gives && !c->freed)
			cb_cap_free(c->was.cap_slot);
		cond_resched();
	}
}

int cb_batch_end(struct cb_batch *b, bool apply, struct cb_batch_err *e)
{
	bool wrote = false;
	int err = 0;

	if (apply) {
		cb_batch_plan(b);
		err = cb_batch_room(b, e);
		if (!err) {
			wrote = true;
			err = cb_batch_stage(b, e);
		}
		if (!err)
			cb_batch_commit(b);
		atomic_add(b->added[0], &cb_nr_rules);
		atomic_add(b->added[1], &cb_nr_port_rules);
	}
	mutex_unlock(&cb_rules_mutex);
	if (wrote) {
		cb_rules_changed();
		/*
		 * In: breakers follow their new rules, those of rules gone
		 * are forgotten. Undone: a call that came meanwhile may have
		 * taken a rule since undone; every breaker stays.
		 */
		cb_follow_rules(!err);
	}
	kvfree(b->rules);
	kvfree(b->heads);
	kfree(b);
	return err;
}
