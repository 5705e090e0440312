/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pinned BPF map's memory as the kernel accounts it (map_mem_usage, shown
 * as "memlock" in its fdinfo); 0 if it cannot be read. For the benchmark
 * and the stress programs, which measure breakers by it.
 */
#ifndef _CB_MEMLOCK_H
#define _CB_MEMLOCK_H

#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>

static inline unsigned long long cb_map_memlock(const char *pin)
{
	int fd = bpf_obj_get(pin);
	unsigned long long v = 0;
	char path[64], line[256];
	FILE *f;

	if (fd < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "memlock: %llu", &v);
	if (f)
		fclose(f);
	close(fd);
	return v;
}

#endif /* _CB_MEMLOCK_H */
