/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _CB_CORE_H
#define _CB_CORE_H

#include <linux/bpf.h>
#include <linux/cbreaker.h>

/* cb_maps.c: the maps the BPF object handed over, and access to them */
void cb_maps_init(void);
int cb_maps_attach(struct bpf_map *map, u32 id);
void cb_maps_release(void);
bool cb_maps_attached(void);
u32 cb_breakers_count(void);
u32 cb_breakers_capacity(void);

enum cb_verdict cb_breaker_admit(const struct cb_key *key);
int cb_breaker_action(const struct cb_key *key, enum cb_action action);
void cb_breaker_reset_all(void);
int cb_breaker_read(const struct cb_key *key, struct cb_breaker *out);
int cb_breaker_next(const struct cb_key *prev, struct cb_key *key,
		    struct cb_breaker *out);

/* cb_netlink.c */
int cb_netlink_init(void);
void cb_netlink_exit(void);

#endif /* _CB_CORE_H */
