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

int cb_parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
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

void cb_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(addr, mapped, sizeof(mapped)))
		inet_ntop(AF_INET, addr + 12, buf, len);
	else
		inet_ntop(AF_INET6, addr, buf, len);
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
