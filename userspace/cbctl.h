/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _CBCTL_H
#define _CBCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <libmnl/libmnl.h>
#include <linux/cbreaker.h>

/* Global options (-j, -p) */
extern bool cb_json;
extern bool cb_pretty;

/* Errors: one line on stderr, or a JSON object under -j. Returns -1. */
int cb_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Success of a command that changes something: {"result": ...} under -j. */
int cb_ok(const char *what);

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
int cb_parse_prefix(const char *s, uint8_t addr[16], uint8_t *prefixlen);
int cb_parse_port(const char *s, uint16_t *port);
int cb_parse_proto(const char *s, uint8_t *proto);
int cb_parse_u32(const char *s, uint32_t max, uint32_t *v);
int cb_parse_duration(const char *s, uint64_t *ns);
int cb_parse_factor(const char *s, uint16_t *percent);
void cb_format_addr(const uint8_t addr[16], char *buf, size_t len);
void cb_format_prefix(const uint8_t addr[16], uint8_t prefixlen, char *buf,
		      size_t len);
void cb_format_duration(uint64_t ns, char *buf, size_t len);
const char *cb_proto_name(uint8_t proto);
const char *cb_state_name(unsigned int state);
const char *cb_force_name(unsigned int force);
const char *cb_reason_name(unsigned int reason);
const char *cb_mode_name(unsigned int mode);
const char *cb_stat_name(unsigned int stat);

/* nl.c: generic netlink requests to the module */
typedef int (*cb_build_fn)(struct nlmsghdr *nlh, const void *arg);

/* One request; failures are reported (cb_err) and return -1. */
int cb_nl_request(uint8_t cmd, uint16_t flags, cb_build_fn build,
		  const void *arg, mnl_cb_t cb, void *data);
int cb_nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb);
int cb_nl_key(const struct nlattr **tb, struct cb_key *key);
void cb_nl_put_key(struct nlmsghdr *nlh, const struct cb_key *key);
uint64_t cb_nl_u64(const struct nlattr *a);
uint32_t cb_nl_u32(const struct nlattr *a);
uint16_t cb_nl_u16(const struct nlattr *a);
uint8_t cb_nl_u8(const struct nlattr *a);
int cb_nl_monitor(mnl_cb_t fn, void (*lost)(void), void *data);

struct cb_status_info {
	char version[32];
	bool maps_attached;
	uint32_t breakers, breakers_max, rules;
	uint64_t stats[__CB_STAT_MAX];
};

int cb_nl_status(struct cb_status_info *st);
int cb_nl_maps_release(void);

/* The commands, by object */
int cb_cmd_breaker(int argc, char **argv);
int cb_cmd_policy(int argc, char **argv);
int cb_cmd_monitor(int argc, char **argv);

/* bpf.c: programs, maps, pins, cgroups */
bool cb_module_loaded(void);
int cb_do_load(const char *cgroup, uint32_t table);
int cb_do_unload(void);
int cb_print_status(void);

#endif /* _CBCTL_H */
