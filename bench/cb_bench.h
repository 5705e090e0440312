/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmarks share: a clock, joining a cgroup, a loopback listener,
 * the connect()+accept()+close() loop they time, and a program's run time.
 */
#ifndef _CB_BENCH_H
#define _CB_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

static inline void cb_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	exit(1);
}

static inline unsigned long long cb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Move this process into the cgroup at @cg. */
static inline void cb_join(const char *cg)
{
	char path[320];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		cb_die(path);
	close(fd);
}

/* A TCP listener on @ip, port chosen by the kernel; its address in *@sa. */
static inline int cb_listener(const char *ip, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sa->sin_addr);
	if (fd < 0 || bind(fd, (void *)sa, sizeof(*sa)) || listen(fd, 1024) ||
	    getsockname(fd, (void *)sa, &len))
		cb_die("listener");
	return fd;
}

/*
 * ns per connect()+accept()+close() to @sa, whose listener is @lfd; the
 * server closes first, so the client's ports are not held in TIME_WAIT.
 */
static inline double cb_connects(const struct sockaddr_in *sa, int lfd, int n)
{
	unsigned long long t0 = cb_now_ns();
	int i, fd, c;

	for (i = 0; i < n; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (void *)sa, sizeof(*sa)))
			cb_die("connect");
		c = accept(lfd, NULL, NULL);
		close(c);
		close(fd);
	}
	return (double)(cb_now_ns() - t0) / n;
}

static inline int cb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A BPF program's run time so far (ns; kernel.bpf_stats_enabled). */
static inline unsigned long long cb_prog_runtime(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	bpf_prog_get_info_by_fd(fd, &info, &len);
	return info.run_time_ns;
}

#endif /* _CB_BENCH_H */
