// SPDX-License-Identifier: GPL-2.0
/* Parsing and printing of cbctl arguments. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cbctl.h"

/* ip(8)-style abbreviation: @arg is a non-empty prefix of @word. */
bool cb_matches(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n && !strncmp(arg, word, n);
}

/* An IPv4 or IPv6 address, IPv4 stored IPv4-mapped. */
int cb_parse_addr(const char *s, uint8_t addr[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, s, addr) == 1)
		return 0;
	if (inet_pton(AF_INET, s, &a4) != 1)
		return -1;
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
	memcpy(addr + 12, &a4, 4);
	return 0;
}

/* ADDR or ADDR/LEN; IPv4 lengths count in the mapped 128-bit space. */
int cb_parse_prefix(const char *s, uint8_t addr[16], uint8_t *prefixlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	uint32_t len, max;
	bool v4;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (cb_parse_addr(buf, addr))
		return -1;
	v4 = !strchr(buf, ':');
	max = v4 ? 32 : 128;
	len = max;
	if (slash && cb_parse_u32(slash + 1, max, &len))
		return -1;
	*prefixlen = v4 ? 96 + len : len;
	return 0;
}

void cb_dest_init(struct cb_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->proto = IPPROTO_TCP;
}

int cb_parse_dest_word(const char *kw, const char *val, unsigned int flags,
		       struct cb_dest *d)
{
	if (cb_matches(kw, "dst")) {
		if (d->have_dst)
			return cb_err("dst given twice");
		if (!(flags & CB_DEST_PREFIX)) {
			if (cb_parse_addr(val, d->addr))
				return cb_err("bad address \"%s\" (IPv4 or IPv6, no prefix)",
					      val);
			d->prefixlen = 128;
		} else if (cb_parse_prefix(val, d->addr, &d->prefixlen)) {
			return cb_err("bad prefix \"%s\" (an address, or address/length)",
				      val);
		}
		d->have_dst = true;
	} else if (cb_matches(kw, "port")) {
		if (d->have_port)
			return cb_err("port given twice");
		if (cb_parse_port(val, &d->port))
			return cb_err("bad port \"%s\" (1..65535)", val);
		d->have_port = true;
	} else if (cb_matches(kw, "proto")) {
		if (d->have_proto)
			return cb_err("proto given twice");
		if (cb_parse_proto(val, &d->proto))
			return cb_err("bad proto \"%s\" (tcp or udp)", val);
		d->have_proto = true;
	} else if ((flags & CB_DEST_WHERE) && cb_matches(kw, "netns")) {
		if (d->have_netns)
			return cb_err("netns given twice");
		if (cb_parse_netns(val, &d->netns))
			return -1;
		d->have_netns = true;
	} else if ((flags & CB_DEST_WHERE) && cb_matches(kw, "cgroup")) {
		if (d->have_cgroup)
			return cb_err("cgroup given twice");
		if (cb_scope_of(val, &d->scope))
			return -1;
		d->have_cgroup = true;
	} else {
		return 1;
	}
	return 0;
}

/* A decimal number, digits only, at most @max. */
int cb_parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*v = n;
	return 0;
}

static const struct {
	const char *unit;
	uint64_t ns;
} cb_units[] = {
	{ "h", 3600000000000ULL }, { "m", 60000000000ULL }, { "s", 1000000000ULL },
	{ "ms", 1000000ULL }, { "us", 1000ULL }, { "ns", 1ULL },
};

/* N(ns|us|ms|s|m|h): the unit is required. */
int cb_parse_duration(const char *s, uint64_t *ns)
{
	unsigned long long n;
	unsigned int i;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (i = 0; i < sizeof(cb_units) / sizeof(cb_units[0]); i++) {
		if (strcmp(end, cb_units[i].unit))
			continue;
		if (n > UINT64_MAX / cb_units[i].ns)
			return -1;
		*ns = n * cb_units[i].ns;
		return 0;
	}
	return -1;
}

void cb_format_duration(uint64_t ns, char *buf, size_t len)
{
	unsigned int i;

	for (i = 0; i < sizeof(cb_units) / sizeof(cb_units[0]) - 1; i++)
		if (ns && ns % cb_units[i].ns == 0)
			break;
	snprintf(buf, len, "%llu%s", (unsigned long long)(ns / cb_units[i].ns),
		 cb_units[i].unit);
}

/* A factor with up to two decimals, "2" or "1.5", as a percentage. */
int cb_parse_factor(const char *s, uint16_t *percent)
{
	uint32_t whole, frac = 0;
	const char *dot = strchr(s, '.');
	char buf[16];
	size_t n;

	if (!dot) {
		if (cb_parse_u32(s, 655, &whole))
			return -1;
		*percent = whole * 100;
		return 0;
	}
	n = dot - s;
	if (!n || n >= sizeof(buf) || !dot[1] || strlen(dot + 1) > 2)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (cb_parse_u32(buf, 654, &whole) || cb_parse_u32(dot + 1, 99, &frac))
		return -1;
	if (strlen(dot + 1) == 1)
		frac *= 10;
	*percent = whole * 100 + frac;
	return 0;
}

int cb_parse_port(const char *s, uint16_t *port)
{
	uint32_t v;

	if (cb_parse_u32(s, 65535, &v) || !v)
		return -1;
	*port = v;
	return 0;
}

int cb_parse_proto(const char *s, uint8_t *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -1;
	return 0;
}

static const uint8_t cb_mapped[12] = { [10] = 0xff, [11] = 0xff };

void cb_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	if (!memcmp(addr, cb_mapped, sizeof(cb_mapped)))
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
}

void cb_format_prefix(const uint8_t addr[16], uint8_t prefixlen, char *buf,
		      size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v4 = prefixlen >= 96 && !memcmp(addr, cb_mapped, sizeof(cb_mapped));

	if (v4)
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
	else
		inet_ntop(AF_INET6, addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, v4 ? prefixlen - 96 : prefixlen);
}

const char *cb_proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_TCP ? "tcp" : "?";
}

const char *cb_state_name(unsigned int state)
{
	static const char *const names[] = {
		[CB_STATE_CLOSED] = "closed",
		[CB_STATE_OPEN] = "open",
		[CB_STATE_HALF_OPEN] = "half-open",
	};

	return state < __CB_STATE_MAX ? names[state] : "?";
}

const char *cb_force_name(unsigned int force)
{
	static const char *const names[] = {
		[CB_FORCE_NONE] = "none",
		[CB_FORCE_OPEN] = "open",
		[CB_FORCE_CLOSED] = "closed",
	};

	return force < __CB_FORCE_MAX ? names[force] : "?";
}

const char *cb_reason_name(unsigned int reason)
{
	static const char *const names[] = {
		[CB_REASON_NONE] = "none",
		[CB_REASON_FAILURE_RATE] = "failure-rate",
		[CB_REASON_SLOW_RATE] = "slow-rate",
		[CB_REASON_OPEN_ELAPSED] = "open-elapsed",
		[CB_REASON_PROBES_OK] = "probes-ok",
		[CB_REASON_PROBE_FAILED] = "probe-failed",
		[CB_REASON_PROBE_TIMEOUT] = "probe-timeout",
		[CB_REASON_TRIP] = "trip",
		[CB_REASON_HOLD] = "hold",
		[CB_REASON_RESET] = "reset",
		[CB_REASON_MAX_OPEN] = "max-open",
	};

	return reason < __CB_REASON_MAX ? names[reason] : "?";
}

const char *cb_mode_name(unsigned int mode)
{
	return mode == CB_MODE_DRY_RUN ? "dry-run" : "enforce";
}

const char *cb_stat_name(unsigned int stat)
{
	static const char *const names[] = {
		[CB_STAT_ADMITTED] = "admitted",
		[CB_STAT_REFUSED] = "refused",
		[CB_STAT_DRY_RUN] = "dry_run_passed",
		[CB_STAT_SUCCESS] = "success",
		[CB_STAT_FAIL_REFUSED] = "fail_refused",
		[CB_STAT_FAIL_TIMEOUT] = "fail_timeout",
		[CB_STAT_FAIL_UNREACH] = "fail_unreachable",
		[CB_STAT_FAIL_PORT_UNREACH] = "fail_port_unreachable",
		[CB_STAT_SLOW] = "slow",
		[CB_STAT_TABLE_FULL] = "table_full",
		[CB_STAT_CREATED] = "created",
		[CB_STAT_EVICTED] = "evicted",
		[CB_STAT_TRANSITIONS] = "transitions",
		[CB_STAT_EVENTS_DROPPED] = "events_dropped",
		[CB_STAT_DATAGRAMS] = "udp_datagrams",
		[CB_STAT_FAIL_ABANDONED] = "fail_abandoned",
		[CB_STAT_IGNORED] = "ignored",
		[CB_STAT_TRIP_CAPPED] = "trip_capped",
		[CB_STAT_BULKHEAD] = "rejected_bulkhead",
		[CB_STAT_FAIL_RESET] = "fail_reset",
		[CB_STAT_FAIL_DROPPED] = "fail_dropped",
		[CB_STAT_UNBOUNDED] = "bulkhead_unbounded",
		[CB_STAT_FAIL_STALLED] = "fail_stalled",
		[CB_STAT_EXCHANGES] = "exchanges",
		[CB_STAT_CONNS_CLOSED] = "connections_closed",
		[CB_STAT_CONNS_WOULD_CLOSE] = "connections_would_close",
	};

	return stat < __CB_STAT_MAX ? names[stat] : "?";
}
