/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _CBCTL_H
#define _CBCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/cbreaker.h>

/* Global options (-j, -p) */
extern bool cb_json;
extern bool cb_pretty;

/* Errors: one line on stderr, or a JSON object under -j. Returns -1. */
int cb_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* json.c: a small streaming JSON writer on stdout */
void jw_obj_open(const char *name);
void jw_obj_close(void);
void jw_arr_open(const char *name);
void jw_arr_close(void);
void jw_str(const char *name, const char *val);
void jw_u64(const char *name, uint64_t val);
void jw_bool(const char *name, bool val);
void jw_null(const char *name);
void jw_end(void);	/* newline after the top-level value */

/* util.c: parsing and printing of command arguments */
bool cb_matches(const char *arg, const char *word);
int cb_parse_addr(const char *s, uint8_t addr[16]);
int cb_parse_port(const char *s, uint16_t *port);
int cb_parse_proto(const char *s, uint8_t *proto);
void cb_format_addr(const uint8_t addr[16], char *buf, size_t len);
const char *cb_proto_name(uint8_t proto);
const char *cb_state_name(unsigned int state);
const char *cb_force_name(unsigned int force);

/* nl.c: generic netlink requests to the module */
struct cb_breaker_info {
	struct cb_key key;	/* port in network order */
	uint8_t state, forced;
	uint64_t calls, successes, failures, slow, rejected;
	uint64_t opened_at, open_until, now;
};

struct cb_status_info {
	char version[32];
	bool maps_attached;
	uint32_t breakers, breakers_max;
};

int cb_nl_status(struct cb_status_info *st);
int cb_nl_breaker_get(const struct cb_key *key, struct cb_breaker_info *bi);
typedef void (*cb_breaker_fn)(const struct cb_breaker_info *bi, void *arg);
int cb_nl_breaker_dump(cb_breaker_fn fn, void *arg);
int cb_nl_breaker_set(const struct cb_key *key, enum cb_action action);
int cb_nl_maps_release(void);

/* bpf.c: programs, maps, pins, cgroups */
bool cb_module_loaded(void);
int cb_do_load(const char *cgroup);
int cb_do_unload(void);
int cb_print_status(void);

#endif /* _CBCTL_H */
