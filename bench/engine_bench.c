// SPDX-License-Identifier: GPL-2.0
/*
 * The shared engine, natively: ns per admit and per record, for count and
 * time windows. Several rounds; median and spread. Prints a table on stderr
 * and JSON members (name: value) on stdout for bench/results.json.
 */
#include "../selftests/cb_test.h"
#include "cb_engine.h"

#define ROUNDS	9
#define OPS	2000000

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
	t0 = cb_now_ns();
	for (i = 0; i < OPS; i++) {
		sim += 1000000;		/* 1 ms of simulated time per call */
		a = cb_engine_admit(&b, p, sim, i, NULL);
		if (record)
			cb_engine_record(&b, p, i % 10 ? CB_OUT_SUCCESS : CB_OUT_REFUSED,
					 5000000, a, sim, i, NULL);
		sink += a;
	}
	t1 = cb_now_ns();
	(void)sink;
	return (double)(t1 - t0) / OPS;
}

int main(void)
{
	static const char *const names[] = { "count", "time" };
	double admit[2][ROUNDS], both[2][ROUNDS], rec[2];
	struct cb_summary a[2];
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
		a[w] = cb_summarize(admit[w], ROUNDS);
		rec[w] = cb_summarize(both[w], ROUNDS).med - a[w].med;
		fprintf(stderr, "engine, %-5s window: admit %6.1f ns (%.1f..%.1f), record %6.1f ns\n",
			names[w], a[w].med, a[w].min, a[w].max, rec[w]);
	}
	fprintf(stderr, "in-process breakers, published: Polly v8 ~190 ns/call, "
		"resilience4j ~225 ns/call\n");
	printf("\"engine_admit_ns\": %.1f,\n", a[0].med);
	printf("\"engine_record_ns\": %.1f,\n", rec[0]);
	printf("\"engine_admit_time_window_ns\": %.1f,\n", a[1].med);
	printf("\"engine_record_time_window_ns\": %.1f,\n", rec[1]);
	printf("\"engine_admit_ns_spread\": [%.1f, %.1f],\n", a[0].min,
	       a[0].max);
	return 0;
}
