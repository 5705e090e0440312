/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _CBCTL_H
#define _CBCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <libmnl/libmnl.h>
#include <linux/cbreaker.h>

#include "cb_engine.h"

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

/*
 * One print path for text and JSON (iproute2's print_uint(PRINT_ANY, ...)):
 * @key under -j, else @fmt; CB_PRINT_TEXT or _JSON: in one of them only.
 */
#define CB_PRINT_TEXT	0x1
#define CB_PRINT_JSON	0x2
#define CB_PRINT_ANY	(CB_PRINT_TEXT | CB_PRINT_JSON)
void cb_print_u64(int where, const char *key, const char *fmt, uint64_t v);
void cb_print_str(int where, const char *key, const char *fmt, const char *v);
void cb_print_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_print_open(void);		/* a record: a JSON object under -j */
void cb_print_close(const char *end);	/* ...or text ending with @end */

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

/*
 * A destination, as policies and breakers name it, each word once and
 * abbreviated as in ip(8): dst ADDR (a breaker) or PREFIX (a policy),
 * port PORT, proto tcp|udp, and for a breaker netns NAME|ID and
 * cgroup PATH.
 */
struct cb_dest {
	bool have_dst, have_port, have_proto, have_netns, have_cgroup;
	uint8_t addr[16], prefixlen, proto;	/* proto: TCP unless given */
	uint16_t port;		/* host order */
	uint64_t netns;		/* 0: the caller's */
	uint32_t scope;
};

#define CB_DEST_PREFIX	0x1	/* dst takes a prefix (a policy) */
#define CB_DEST_WHERE	0x2	/* netns and cgroup (a breaker) */

void cb_dest_init(struct cb_dest *d);
/* One word of a destination: 0 taken, 1 not a destination word, -1 bad. */
int cb_parse_dest_word(const char *kw, const char *val, unsigned int flags,
		       struct cb_dest *d);

/* nl.c: generic netlink requests to the module */
typedef int (*cb_build_fn)(struct nlmsghdr *nlh, const void *arg);

/* One request; failures are reported (cb_err) and return -1. */
int cb_nl_request(uint8_t cmd, uint16_t flags, cb_build_fn build,
		  const void *arg, mnl_cb_t cb, void *data);
/*
 * The same, silent: 0 or -errno; -ENOPKG: the module is not loaded (already
 * reported; the module itself never answers ENOPKG).
 */
int cb_nl_ask(uint8_t cmd, uint16_t flags, cb_build_fn build, const void *arg,
	      mnl_cb_t cb, void *data);
/*
 * A request of @size bytes at most, to fill and send with
 * cb_nl_send_big(); NULL (reported) if none. The caller frees it.
 */
struct nlmsghdr *cb_nl_big(uint8_t cmd, size_t size);
/* As cb_nl_ask(); *@bad_off: where in it the module's error points, or 0. */
int cb_nl_send_big(struct nlmsghdr *nlh, uint32_t *bad_off);
/* Report what cb_nl_ask() returned; -1. */
int cb_nl_report(int err);
int cb_nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb);
int cb_nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb);
int cb_nl_key(const struct nlattr **tb, struct cb_key *key);
void cb_nl_put_key(struct nlmsghdr *nlh, const struct cb_key *key);
uint64_t cb_nl_u64(const struct nlattr *a);
uint32_t cb_nl_u32(const struct nlattr *a);
uint16_t cb_nl_u16(const struct nlattr *a);
uint8_t cb_nl_u8(const struct nlattr *a);
/* An unsigned attribute of any size (1, 2, 4 or 8 bytes). */
uint64_t cb_nl_uint(const struct nlattr *a);
void cb_nl_put_uint(struct nlmsghdr *nlh, uint16_t type, unsigned int size,
		    uint64_t v);
int cb_nl_monitor(mnl_cb_t fn, void (*lost)(void), void *data);

struct cb_status_info {
	char version[32];
	bool maps_attached;
	uint32_t breakers, breakers_max, rules;
	uint64_t stats[__CB_STAT_MAX];
};

int cb_nl_status(struct cb_status_info *st);
int cb_nl_maps_release(void);

/* policy.c: a rule (where) and the policy keys given for it (what) */
struct cb_rule_arg {
	bool is_default;
	struct cb_dest d;
	bool given[CB_NR_PKEYS];	/* by row of cb_pkeys */
	uint64_t val[CB_NR_PKEYS];
};

bool cb_same_rule(const struct cb_rule_arg *a, const struct cb_rule_arg *b);
/* The values given, over @p. */
void cb_rule_apply(const struct cb_rule_arg *r, struct cb_policy *p);
/* Give every key, with the values of @p. */
void cb_rule_give_all(struct cb_rule_arg *r, const struct cb_policy *p);
/* The policy of rule @r as the module has it: 0, -ENOENT, or -errno. */
int cb_rule_fetch(const struct cb_rule_arg *r, struct cb_policy *p);

/*
 * A change, parsed from a command line: policy add/change/del or breaker
 * trip/hold/reset. Changes are checked together, then sent (req.c).
 */
struct cb_req {
	uint8_t cmd;		/* CB_CMD_POLICY_NEW/_SET/_DEL, CB_CMD_BREAKER_SET */
	struct cb_rule_arg rule;
	struct cb_key key;
	bool all;
	uint8_t action;
	int line;		/* in a batch file, for messages */
	uint64_t for_ns;	/* breaker trip DEST for DURATION; 0: until reset */
};

/* Parse a change; -1 (reported) if bad, 1 if @cmd is no change command. */
int cb_policy_req(const char *cmd, int argc, char **argv, struct cb_req *req);
/* Value @v of row @i of cb_pkeys, as the grammar writes it. */
void cb_pkey_text(int i, uint64_t v, char *buf, size_t len);
int cb_breaker_req(const char *cmd, int argc, char **argv, struct cb_req *req);
/* The rule and the keys given, as a request's attributes. */
int cb_nl_put_rule(struct nlmsghdr *nlh, const void *rule_arg);
/* 0 or -errno, silent */
int cb_req_send_breaker(const struct cb_req *req);
int cb_breaker_exists(const struct cb_key *key);

/* breaker.c: a breaker as the module reports it */
struct cb_breaker_info {
	struct cb_key key;	/* port in network order */
	uint8_t state, forced, trips, mode, tracked;
	uint8_t exchanges;	/* its calls are exchanges (calls exchanges) */
	uint64_t calls, successes, failures, slow, abandoned, rejected;
	uint32_t conns;
	uint64_t opened_at, open_until, now;
	uint32_t win_calls, win_failures, win_slow;
	uint16_t probes_placed, probes_ok, probes_failed;
};

/* set by a dump the table changed under: an entry may have come twice */
extern bool cb_nl_dump_repeats;

int cb_breaker_dump(void (*fn)(const struct cb_breaker_info *b, void *arg),
		    void *arg);
/*
 * Check @n changes, then apply them: the policy changes as one batch, all or
 * none, then the breaker actions in order.
 */
int cb_reqs_run(struct cb_req *reqs, int n);
int cb_batch(const char *path);
/* A batch line split into words, '#' starts a comment: the count, or -1. */
#define CB_BATCH_ARGS 64
int cb_split(char *line, char **argv);
/* Errors name the batch line they come from. */
extern const char *cb_err_file;
extern int cb_err_line;

/*
 * Commands are dispatched from tables, as bpftool's struct cmd: a word
 * (abbreviations pick the first entry they match, so order matters) and
 * what runs it, with the arguments after the word: @fn; or @req, which
 * parses a change (as in a batch file), then it is checked and applied;
 * or @usage, which prints help. A new object is a row in cbctl.c's
 * cb_objects, a new command a row in its object's table.
 */
struct cb_req;

struct cb_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	int (*req)(const char *cmd, int argc, char **argv, struct cb_req *req);
	void (*usage)(void);
	bool exact;		/* the whole word only, never abbreviated */
};

int cb_cmd_select(const struct cb_command *cmds, int argc, char **argv,
		  const char *obj);

/* The commands, by object */
int cb_cmd_breaker(int argc, char **argv);
int cb_cmd_policy(int argc, char **argv);
int cb_cmd_monitor(int argc, char **argv);
int cb_cmd_metrics(int argc, char **argv);
/* serve.c: metrics serve, the Prometheus exporter */
int cb_metrics_serve(int argc, char **argv);
/* apply.c: apply [--diff] FILE, the policies made equal to a file */
int cb_cmd_apply(int argc, char **argv);

/* netns.c: network namespaces by cookie and by `ip netns` name */
uint64_t cb_netns_cookie(void);
int cb_parse_netns(const char *s, uint64_t *cookie);
const char *cb_netns_name(uint64_t cookie);
bool cb_netns_initial(void);

/* bpf.c: programs, maps, pins, cgroups */
bool cb_module_loaded(void);
int cb_do_load(char **cgroups, int n, uint32_t table);
/* The scope (attached cgroup) of cgroup @path; -1 (reported) if not attached. */
int cb_scope_of(const char *path, uint32_t *scope);
/* The scopes of the attached cgroups, @max at most; how many there are. */
int cb_attached_scopes(uint32_t *scopes, int max);
/* The path of the attached cgroup whose scope is @scope, or "". */
const char *cb_scope_path(uint32_t scope);
int cb_do_unload(void);
int cb_print_status(void);

/* kfuncs.c: which of @obj's functions are our kfuncs; which @mod lacks */
struct btf;
const char *cb_kfunc_ours(const struct btf *obj, uint32_t id);
const char *cb_kfunc_missing(const struct btf *obj, const struct btf *mod);

#endif /* _CBCTL_H */
