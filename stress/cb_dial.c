// SPDX-License-Identifier: GPL-2.0
/*
 * A program dialing N distinct destinations: UDP datagrams to distinct
 * addresses of 127.16.0.0/12 (port 9). Prints the breaker map's memory as
 * the kernel accounts it (fdinfo memlock), before and after.
 *
 *   cb_dial N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "../bench/cb_memlock.h"

#define BREAKERS "/sys/fs/bpf/cbreaker/breakers"

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000, i;
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(9) };
	unsigned long long before = cb_map_memlock(BREAKERS);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return 1;
	for (i = 0; i < n; i++) {
		s.sin_addr.s_addr = htonl(0x7f100000 + 1 + i % 0xffffe);
		sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&s, sizeof(s));
	}
	close(fd);
	printf("%llu %llu\n", before, cb_map_memlock(BREAKERS));
	return 0;
}
