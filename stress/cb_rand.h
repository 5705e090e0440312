/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzers' random numbers: xorshift64, fast and repeatable from the
 * seed a fuzzer takes on its command line (a seed of 0 would stay 0).
 */
#ifndef _CB_RAND_H
#define _CB_RAND_H

static unsigned long long rng;

static inline unsigned long long rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 0..@n-1; 0 when @n is 0 */
static inline unsigned int below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

#endif /* _CB_RAND_H */
