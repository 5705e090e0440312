/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmarks add to the test helpers (selftests/cb_test.h): dying
 * on error, a blocking listener, the connect()+accept()+close() loop they
 * time, and a program's run time.
 */
#ifndef _CB_BENCH_H
#define _CB_BENCH_H

#include <bpf/bpf.h>

#include "../selftests/cb_test.h"

static inline void cb_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	exit(1);
}

/* Move this process into the cgroup at @cg, or die. */
static inline void cb_join(const char *cg)
{
	if (cb_join_cgroup(cg))
		cb_die(cg);
}

/*
 * The shared listener on @ip, made blocking and with a deep backlog for the
 * timed loop; its address in *@sa.
 */
static inline int cb_bench_listener(const char *ip, struct sockaddr_in *sa)
{
	struct sockaddr_storage ss;
	unsigned short port;
	int fd = cb_listener(ip, SOCK_STREAM, &port);

	if (fd < 0 || fcntl(fd, F_SETFL, 0) || listen(fd, 1024) ||
	    cb_addr(ip, port, &ss) != sizeof(*sa))
		cb_die("listener");
	memcpy(sa, &ss, sizeof(*sa));
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

/* A BPF program's run time so far (ns; kernel.bpf_stats_enabled). */
static inline unsigned long long cb_prog_runtime(int fd)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	bpf_prog_get_info_by_fd(fd, &info, &len);
	return info.run_time_ns;
}

#endif /* _CB_BENCH_H */
