// SPDX-License-Identifier: GPL-2.0
/*
 * on-open close: a breaker that opens aborts the established TCP
 * connections dialed to its destination, as HAProxy's on-marked-down
 * shutdown-sessions does, so that a client that keeps its connections
 * (a pool, keep-alive) redials and meets the open breaker.
 *
 * A connection is the breaker's when it is a full TCP socket, ESTABLISHED
 * or CLOSE_WAIT (its owner may still write), whose peer is the breaker's
 * address and port, in the breaker's network namespace, made by a process
 * of the breaker's scope (its cgroup is the attached cgroup or below it),
 * and which was dialed from here: a connection whose local port a listener
 * of its namespace holds is taken for one accepted by that server and left
 * alone. A breaker of scope 0 (made while no cgroup was attached) has no
 * connections.
 *
 * The events work calls this (process context): a breaker opens in any
 * context, softirq included, and tcp_abort() takes the socket lock. The
 * established hash is walked as inet_diag walks it, bucket by bucket under
 * the bucket's lock; sockets are held and aborted after the lock is let
 * go. The walk is bounded by the table and a round limit per bucket, and
 * reschedules between buckets; one walk serves every breaker of a batch.
 */
#include <linux/cgroup.h>
#include <net/inet_hashtables.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "cb_core.h"

/* Sockets held at once; and rounds of that many per bucket at most. */
#define CB_CLOSE_HELD	16
#define CB_CLOSE_ROUNDS	64

static bool cb_sk_daddr(const struct sock *sk, const u8 *addr)
{
	static const u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6)
		return !memcmp(addr, &sk->sk_v6_daddr, 16);
#endif
	return !memcmp(addr, mapped, sizeof(mapped)) &&
	       !memcmp(addr + 12, &sk->sk_daddr, 4);
}

/* Made by a process of the attached cgroup @scope, or of one below it. */
static bool cb_sk_in_scope(struct sock *sk, u32 scope)
{
	struct cgroup *cg = sock_cgroup_ptr(&sk->sk_cgrp_data);

	if (!scope)
		return false;
	for (; cg; cg = cgroup_parent(cg))
		if ((u32)cgroup_id(cg) == scope)
			return true;
	return false;
}

static bool cb_listened_in(struct inet_hashinfo *h, const struct net *net,
			   u32 hash, unsigned short port)
{
	struct inet_listen_hashbucket *ilb2 = inet_lhash2_bucket(h, hash);
	const struct hlist_nulls_node *node;
	struct sock *l;

	sk_nulls_for_each_rcu(l, node, &ilb2->nulls_head)
		if (l->sk_state == TCP_LISTEN && net_eq(sock_net(l), net) &&
		    inet_sk(l)->inet_num == port)
			return true;
	return false;
}

/*
 * Does a listener hold @sk's local port: on its address, or on any (the
 * buckets a listener that could have accepted it hashes to)?
 */
static bool cb_sk_accepted(struct inet_hashinfo *h, struct sock *sk)
{
	unsigned short port = inet_sk(sk)->inet_num;
	const struct net *net = sock_net(sk);
	bool found;

	rcu_read_lock();
	found = cb_listened_in(h, net, ipv4_portaddr_hash(net, 0, port), port) ||
		cb_listened_in(h, net, ipv4_portaddr_hash(net, sk->sk_rcv_saddr,
							  port), port);
#if IS_ENABLED(CONFIG_IPV6)
	if (!found && sk->sk_family == AF_INET6)
		found = cb_listened_in(h, net,
				       ipv6_portaddr_hash(net, &sk->sk_v6_rcv_saddr,
							  port), port);
#endif
	rcu_read_unlock();
	return found;
}

/* Under the bucket's lock: which of the breakers @sk belongs to, or -1. */
static int cb_close_match(struct inet_hashinfo *h, struct sock *sk,
			  const struct cb_close *c, struct net *const *nets,
			  unsigned int n)
{
	const struct cb_key *k;
	unsigned int i;

	if (!((1 << READ_ONCE(sk->sk_state)) &
	      (TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		return -1;	/* also every timewait and request socket */
	for (i = 0; i < n; i++) {
		k = &c[i].key;
		if (nets[i] && sk->sk_dport == k->port &&
		    net_eq(sock_net(sk), nets[i]) && cb_sk_daddr(sk, k->addr) &&
		    cb_sk_in_scope(sk, k->scope) && !cb_sk_accepted(h, sk))
			return i;
	}
	return -1;
}

/* One table: the breakers of @c whose namespace uses it (@nets[i] set). */
static void cb_close_walk(struct inet_hashinfo *h, struct cb_close *c,
			  struct net *const *nets, unsigned int n)
{
	struct sock *held[CB_CLOSE_HELD];
	u8 whose[CB_CLOSE_HELD];
	struct hlist_nulls_node *node;
	unsigned int i, j, taken, rounds;
	struct sock *sk;
	int m;

	for (i = 0; i <= h->ehash_mask && !cb_events_going(); i++) {
		struct inet_ehash_bucket *head = &h->ehash[i];
		spinlock_t *lock = inet_ehash_lockp(h, i);

		if (hlist_nulls_empty(&head->chain))
			continue;
		rounds = 0;
		do {
			taken = 0;
			spin_lock_bh(lock);
			sk_nulls_for_each(sk, node, &head->chain) {
				m = cb_close_match(h, sk, c, nets, n);
				if (m < 0)
					continue;
				if (c[m].dry) {
					/* counted only, in the first round */
					c[m].closed += !rounds;
					continue;
				}
				if (!refcount_inc_not_zero(&sk->sk_refcnt))
					continue;
				held[taken] = sk;
				whose[taken] = m;
				if (++taken == CB_CLOSE_HELD)
					break;
			}
			spin_unlock_bh(lock);
			/* aborted, a socket leaves the hash: the next round
			 * finds the ones not held yet
			 */
			for (j = 0; j < taken; j++) {
				if (!tcp_abort(held[j], ECONNABORTED))
					c[whose[j]].closed++;
				sock_put(held[j]);
			}
		} while (taken == CB_CLOSE_HELD && ++rounds < CB_CLOSE_ROUNDS);
		cond_resched();
	}
}

/*
 * Abort (or, dry-run, count) the connections of up to CB_CLOSE_BATCH
 * breakers that opened: @c[i].closed says how many.
 */
void cb_close_conns(struct cb_close *c, unsigned int n)
{
	struct net *nets[CB_CLOSE_BATCH], *walk[CB_CLOSE_BATCH], *net;
	struct inet_hashinfo *h;
	unsigned int i, j;
	u64 closed = 0, would = 0;

	if (WARN_ON_ONCE(n > CB_CLOSE_BATCH))
		n = CB_CLOSE_BATCH;
	rcu_read_lock();
	for (i = 0; i < n; i++) {
		c[i].closed = 0;
		nets[i] = NULL;
		for_each_net_rcu(net) {
			if (net->net_cookie == c[i].key.netns) {
				nets[i] = maybe_get_net(net);
				break;
			}
		}
	}
	rcu_read_unlock();
	/* a namespace may have a table of its own (tcp_child_ehash_entries) */
	for (i = 0; i < n; i++) {
		if (!nets[i])
			continue;
		h = nets[i]->ipv4.tcp_death_row.hashinfo;
		for (j = 0; j < i; j++)
			if (nets[j] && nets[j]->ipv4.tcp_death_row.hashinfo == h)
				break;
		if (j < i)
			continue;	/* walked with an earlier one */
		for (j = 0; j < n; j++)
			walk[j] = nets[j] &&
				  nets[j]->ipv4.tcp_death_row.hashinfo == h ?
				  nets[j] : NULL;
		cb_close_walk(h, c, walk, n);
	}
	for (i = 0; i < n; i++) {
		if (nets[i])
			put_net(nets[i]);
		if (c[i].dry)
			would += c[i].closed;
		else
			closed += c[i].closed;
	}
	cb_stat_add(CB_STAT_CONNS_CLOSED, closed);
	cb_stat_add(CB_STAT_CONNS_WOULD_CLOSE, would);
}
