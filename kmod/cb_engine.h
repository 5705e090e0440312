/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The breaker state machine: plain C with no kernel or libc calls, so the
 * same file builds into the module and into the userspace unit tests. Time
 * is passed in (ns); callers serialize access to one breaker.
 */
#ifndef _CB_ENGINE_H
#define _CB_ENGINE_H

#include <linux/types.h>
#include <linux/cbreaker.h>

void cb_engine_init(struct cb_breaker *b, __u64 now);
enum cb_state cb_engine_state(const struct cb_breaker *b, __u64 now);
enum cb_verdict cb_engine_admit(struct cb_breaker *b, __u64 now);
void cb_engine_force(struct cb_breaker *b, enum cb_force force, __u64 now);
void cb_engine_reset(struct cb_breaker *b, __u64 now);

#endif /* _CB_ENGINE_H */
