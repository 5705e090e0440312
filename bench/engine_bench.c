// SPDX-License-Identifier: GPL-2.0
/*
 * The shared engine, natively: ns per admit and per record, for count and
 * time windows. Several rounds; median and spread. Prints a table on stderr
 * and JSON members (name: value) on stdout for bench/results.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cb_engine.h"

#define ROUNDS	9
#define OPS	2000000

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * ns per operation: admit alone, or admit + record, on a healthy breaker
 * (one failure in ten: below the failure rate, it stays closed).
 */
static double run(const struct cb_policy *p, int record)
{
	struct cb_breaker b;
	unsigned long long t0, t1, sim = 1000000000000ULL;
	volatile int sink = 0;
	int i, a;

	cb_engine_init(&b, p, sim);
	t0 = now_ns();
	for (i = 0; i < OPS; i++) {
		sim += 1000000;		/* 1 ms of simulated time per call */
		a = cb_engine_admit(&b, p, sim, i, NULL);
		if (record)
			cb_engine_record(&b, p, i % 10 ? CB_OUT_SUCCESS : CB_OUT_REFUSED,
					 5000000, a, sim, i, NULL);
		sink += a;
	}
	t1 = now_ns();
	(void)sink;
	return (double)(t1 - t0) / OPS;
}

int main(void)
{
	static const char *const names[] = { "count", "time" };
	double admit[2][ROUNDS], both[2][ROUNDS], rec[2];
	struct cb_policy p[2];
	int w, r;

	cb_policy_default(&p[0]);		/* window 100 calls */
	cb_policy_default(&p[1]);
	p[1].window_ns = 60000000000ULL;	/* window 60 s */

	for (r = 0; r < ROUNDS; r++) {		/* interleaved */
		for (w = 0; w < 2; w++) {
			admit[w][r] = run(&p[w], 0);
			both[w][r] = run(&p[w], 1);
		}
	}
	for (w = 0; w < 2; w++) {
		qsort(admit[w], ROUNDS, sizeof(double), cmp_double);
		qsort(both[w], ROUNDS, sizeof(double), cmp_double);
		rec[w] = both[w][ROUNDS / 2] - admit[w][ROUNDS / 2];
		fprintf(stderr, "engine, %-5s window: admit %6.1f ns (%.1f..%.1f), record %6.1f ns\n",
			names[w], admit[w][ROUNDS / 2], admit[w][0],
			admit[w][ROUNDS - 1], rec[w]);
	}
	fprintf(stderr, "in-process breakers, published: Polly v8 ~190 ns/call, "
		"resilience4j ~225 ns/call\n");
	printf("\"engine_admit_ns\": %.1f,\n", admit[0][ROUNDS / 2]);
	printf("\"engine_record_ns\": %.1f,\n", rec[0]);
	printf("\"engine_admit_time_window_ns\": %.1f,\n", admit[1][ROUNDS / 2]);
	printf("\"engine_record_time_window_ns\": %.1f,\n", rec[1]);
	printf("\"engine_admit_ns_spread\": [%.1f, %.1f],\n", admit[0][0],
	       admit[0][ROUNDS - 1]);
	return 0;
}
