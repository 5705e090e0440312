/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Every policy key, once. No include guard: the includer defines
 *
 *   CB_PKEY(attr, name, range, field, type, unit, min, max, def, help)
 *
 * and includes this file where it wants one item per key. attr: the
 * netlink attribute CB_A_P_<attr>; name: cbctl's word for it; range: the
 * values it takes, as messages and help say them; field, type: its member
 * of struct cb_policy, and that member's type, which is the attribute's
 * too; unit: enum cb_unit, how cbctl reads and writes it; min, max: the
 * values it takes, as the module and cbctl check them (a CB_UNIT_NS_OFF
 * key also takes 0); def: its default; help: one line for cbctl policy
 * help. "window" has two rows, in calls and in time: a policy has one or
 * the other.
 *
 * Made from this list: the module's attribute policy, parsing and replies;
 * cb_policy_default() and cb_policy_invalid() (cb_engine.c, shared with
 * cbctl); cbctl's parsing, printing, JSON, help and bash completion.
 * A new key is a row here, CB_A_P_<attr> at the end of enum cb_attr, its
 * member of struct cb_policy, what the engine does with it, and cbctl.8
 * (selftests/unit/cb_pkeys_test.c checks that the man page names it).
 */
CB_PKEY(WINDOW_CALLS, "window", "1..128 calls",
	window_calls, __u32, CB_UNIT_WINDOW_N, 1, CB_WINDOW_CALLS_MAX, 100,
	"the last N calls")
CB_PKEY(WINDOW_NS, "window", "100ms..24h",
	window_ns, __u64, CB_UNIT_WINDOW_NS, 100 * CB_NS_MS, CB_NS_DAY, 0,
	"the calls of the last DURATION, in 8 buckets")
CB_PKEY(MIN_CALLS, "min-calls", "1..100000",
	min_calls, __u32, CB_UNIT_N, 1, 100000, 10,
	"calls in the window before any decision")
CB_PKEY(FAILURE_RATE, "failure-rate", "1..100",
	failure_rate, __u8, CB_UNIT_PCT, 1, 100, 50,
	"open when this percentage of the window failed")
CB_PKEY(SLOW_NS, "slow", "1ms..10m",
	slow_ns, __u64, CB_UNIT_NS, CB_NS_MS, 600 * CB_NS_S, CB_NS_S,
	"a handshake this long or longer is slow, done or failed")
CB_PKEY(SLOW_RATE, "slow-rate", "1..100",
	slow_rate, __u8, CB_UNIT_PCT, 1, 100, 100,
	"open when this percentage of the window was slow")
CB_PKEY(OPEN_NS, "open", "10ms..24h",
	open_ns, __u64, CB_UNIT_NS, 10 * CB_NS_MS, CB_NS_DAY, 30 * CB_NS_S,
	"how long a breaker stays open")
CB_PKEY(JITTER, "jitter", "0..100",
	jitter, __u8, CB_UNIT_PCT, 0, 100, 10,
	"open for up to this percentage longer, at random")
CB_PKEY(BACKOFF, "backoff", "1..16",
	backoff, __u16, CB_UNIT_FACTOR, 100, 1600, 200,
	"open this many times longer per consecutive trip")
CB_PKEY(BACKOFF_MAX_NS, "backoff-max", "open..24h",
	backoff_max_ns, __u64, CB_UNIT_NS, 10 * CB_NS_MS, CB_NS_DAY, 300 * CB_NS_S,
	"the longest open period; backoff is forgotten after it")
CB_PKEY(PROBES, "probes", "1..1000",
	probes, __u16, CB_UNIT_N, 1, 1000, 5,
	"calls half-open lets through")
CB_PKEY(PROBE_SUCCESS, "probe-success", "1..100",
	probe_success, __u8, CB_UNIT_PCT, 1, 100, 80,
	"close when this percentage of the probes succeeded")
CB_PKEY(PROBE_WAIT_NS, "probe-wait", "10ms..1h",
	probe_wait_ns, __u64, CB_UNIT_NS, 10 * CB_NS_MS, 3600 * CB_NS_S, 10 * CB_NS_S,
	"unfinished probes count as failed this long after the first")
CB_PKEY(MAX_AGE_NS, "max-age", "0, or 1s..30d",
	max_age_ns, __u64, CB_UNIT_NS_OFF, CB_NS_S, 30 * CB_NS_DAY, 600 * CB_NS_S,
	"results of a count window older than this drop out")
CB_PKEY(CONNECT_TIMEOUT_NS, "connect-timeout", "0, or 1s..60s",
	connect_timeout_ns, __u64, CB_UNIT_NS_OFF, CB_NS_S, 60 * CB_NS_S, 0,
	"TCP connects give up after this, as with TCP_USER_TIMEOUT (0: off)")
CB_PKEY(MAX_CONNS, "max-conns", "0..60000",
	max_conns, __u16, CB_UNIT_N, 0, CB_BULKHEAD_LIMIT, 0,
	"TCP connections at once per destination, from connect to close (0: any)")
CB_PKEY(MODE, "mode", "enforce or dry-run",
	mode, __u8, CB_UNIT_MODE, 0, __CB_MODE_MAX - 1, CB_MODE_ENFORCE,
	"dry-run: the breaker runs and reports, and refuses nothing")
CB_PKEY(MAX_OPEN, "max-open", "1..100",
	max_open, __u8, CB_UNIT_PCT, 1, 100, 100,
	"at most this percentage of the policy's breakers not closed at once")
CB_PKEY(FAIL_ON, "fail-on", "refused,timeout,unreachable,abandoned,reset,dropped,stalled",
	fail_on, __u8, CB_UNIT_CLASSES, 1, CB_CLASS_ALL, CB_CLASS_DEFAULT,
	"the outcomes that are failures; the others count neither way")
CB_PKEY(FAIL_WINDOW_NS, "fail-window", "100ms..1h",
	fail_window_ns, __u64, CB_UNIT_NS, 100 * CB_NS_MS, 3600 * CB_NS_S, 10 * CB_NS_S,
	"reset and dropped are failures this long after the connect")
CB_PKEY(CALLS, "calls", "connects or exchanges",
	calls, __u8, CB_UNIT_CALLS, 0, __CB_CALLS_MAX - 1, CB_CALLS_CONNECTS,
	"exchanges: a call is a request and its reply on a kept TCP connection")
CB_PKEY(ON_OPEN, "on-open", "keep or close",
	on_open, __u8, CB_UNIT_ON_OPEN, 0, __CB_ON_OPEN_MAX - 1, CB_ON_OPEN_KEEP,
	"close: opening aborts the breaker's established TCP connections")
