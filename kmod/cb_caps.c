// SPDX-License-Identifier: GPL-2.0
/*
 * max-open: for each rule whose policy has max-open below 100, how many
 * breakers it governs and how many of them are not closed. One slot per
 * such rule, named by the rule's value (cap_slot, cap_gen) and by each
 * breaker counted in it, so that a breaker leaves the count it joined even
 * after its rule changed or went.
 *
 * A slot is one 64-bit word, generation | breakers | not closed, changed
 * only by compare-and-exchange: a trip reads both counts and takes its
 * place in one step, so breakers of one policy under different stripe
 * locks never open past the cap together, and a freed slot (generation
 * bumped) ignores every change still meant for its old rule. Trips, state
 * changes and breakers made or deleted pay for it; admissions do not.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bitmap.h>

#include "cb_table.h"

#define CB_CAP_BITS	24	/* per count: room for CB_BREAKERS_MAX */
#define CB_CAP_MASK	((1ULL << CB_CAP_BITS) - 1)
#define CB_CAP_GEN(v)	((u16)((u64)(v) >> (2 * CB_CAP_BITS)))
#define CB_CAP_ALL(v)	(((u64)(v) >> CB_CAP_BITS) & CB_CAP_MASK)
#define CB_CAP_OPEN(v)	((u64)(v) & CB_CAP_MASK)

static atomic64_t cb_caps[CB_CAPS];
/* Slots held by rules, under the rules' mutex; slot 0 is "none". */
static DECLARE_BITMAP(cb_caps_held, CB_CAPS);
static unsigned int cb_caps_next = 1;
static atomic_t cb_nr_caps;

static u64 cb_cap_word(u16 gen, u64 all, u64 open)
{
	return (u64)gen << (2 * CB_CAP_BITS) | all << CB_CAP_BITS | open;
}

/*
 * A fresh slot for a rule, in @slot and @gen; -EDQUOT if all are held.
 * Round robin, so that a slot comes back (and its generation, 16 bits,
 * wraps) as rarely as can be.
 */
int cb_cap_alloc(u16 *slot, u16 *gen)
{
	unsigned int s;

	BUILD_BUG_ON(CB_BREAKERS_MAX > CB_CAP_MASK);
	BUILD_BUG_ON(CB_CAPS - 1 > U16_MAX);
	s = find_next_zero_bit(cb_caps_held, CB_CAPS, cb_caps_next);
	if (s >= CB_CAPS)
		s = find_next_zero_bit(cb_caps_held, CB_CAPS, 1);
	if (s >= CB_CAPS)
		return -EDQUOT;
	__set_bit(s, cb_caps_held);
	cb_caps_next = s + 1;
	*slot = s;
	*gen = CB_CAP_GEN(atomic64_read(&cb_caps[s])) + 1;
	atomic64_set(&cb_caps[s], cb_cap_word(*gen, 0, 0));
	atomic_inc(&cb_nr_caps);
	return 0;
}

/* Its rule is gone or uncapped: breakers still counted in it count nowhere. */
void cb_cap_free(u16 slot)
{
	u16 gen;

	if (!slot || slot >= CB_CAPS || !__test_and_clear_bit(slot, cb_caps_held))
		return;
	gen = CB_CAP_GEN(atomic64_read(&cb_caps[slot])) + 1;
	atomic64_set(&cb_caps[slot], cb_cap_word(gen, 0, 0));
	atomic_dec(&cb_nr_caps);
}

/* Every rule is gone (the maps were released). */
void cb_caps_free_all(void)
{
	unsigned int s;

	for_each_set_bit(s, cb_caps_held, CB_CAPS)
		cb_cap_free(s);
}

/* Some rule has max-open below 100 (read without the rules' mutex). */
bool cb_caps_in_use(void)
{
	return atomic_read(&cb_nr_caps);
}

/* Slots held by rules; of CB_CAPS - 1 at most. */
unsigned int cb_caps_taken(void)
{
	return atomic_read(&cb_nr_caps);
}

/*
 * Add @all breakers and @open not closed to slot @slot of generation
 * @gen; false if the slot is not that generation's any more.
 */
bool cb_cap_add(u16 slot, u16 gen, int all, int open)
{
	s64 v;
	u64 a, o;

	if (!slot || slot >= CB_CAPS)
		return false;
	v = atomic64_read(&cb_caps[slot]);
	do {
		if (CB_CAP_GEN(v) != gen)
			return false;
		a = CB_CAP_ALL(v) + all;
		o = CB_CAP_OPEN(v) + open;
		/* a count going below 0 is a bookkeeping bug: say so, once */
		if (WARN_ON_ONCE(a > CB_CAP_MASK || o > CB_CAP_MASK))
			return false;
	} while (!atomic64_try_cmpxchg(&cb_caps[slot], &v,
				       cb_cap_word(gen, a, o)));
	return true;
}

/*
 * May one more breaker of slot @slot (@gen) open, under max-open @pct?
 * 1: yes, and it is counted as not closed; 0: no, the cap is reached;
 * -1: the slot is not that generation's any more, nothing to cap against.
 * The cap is @pct percent of the breakers counted, rounded down, but at
 * least one: a policy with a single destination can still protect it.
 */
int cb_cap_take(u16 slot, u16 gen, unsigned int pct)
{
	u64 limit;
	s64 v;

	if (!slot || slot >= CB_CAPS)
		return -1;
	v = atomic64_read(&cb_caps[slot]);
	do {
		if (CB_CAP_GEN(v) != gen)
			return -1;
		limit = max(CB_CAP_ALL(v) * pct / 100, 1ULL);
		if (CB_CAP_OPEN(v) >= limit)
			return 0;
	} while (!atomic64_try_cmpxchg(&cb_caps[slot], &v, v + 1));
	return 1;
}
