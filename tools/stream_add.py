#!/usr/bin/env python3
"""The floor of an in-place ciphertext add at the default parameters on this CPU: a plain
64-bit add `a[i] += b[i]` (no modular reduction) over two arrays of one ciphertext's size,
2 polynomials × 3 primes × 8192 words = 393,216 bytes each, the same arrays every call (as
`gazelle bench he`'s "add" row and SEAL's `add_inplace`: both stay in L2). Any add of two such
ciphertexts moves at least these bytes (perf/RESULTS.md, sixteenth session).

Usage: python3 tools/stream_add.py   (needs a C compiler `cc`)

Compiles a C loop with -O3 -march=native and prints microseconds per call and the bytes moved
per second (two reads and one write per word). Standard library only.
"""

import sys

from c_program import compile_and_run

WORDS = 2 * 3 * 8192

PROGRAM = f"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define WORDS {WORDS}
static double now(void) {{ struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9; }}
__attribute__((noinline)) static void add(uint64_t *restrict a, const uint64_t *restrict b) {{
  for (int i = 0; i < WORDS; i++) a[i] += b[i];
}}
int main(void) {{
  uint64_t *a = aligned_alloc(64, WORDS * 8), *b = aligned_alloc(64, WORDS * 8);
  for (int i = 0; i < WORDS; i++) {{ a[i] = i; b[i] = 3 * i + 1; }}
  for (int rep = 0; rep < 3; rep++) {{
    long calls = 20000;
    double t0 = now();
    for (long c = 0; c < calls; c++) {{ add(a, b); __asm__ volatile("" ::: "memory"); }}
    double us = (now() - t0) / calls * 1e6;
    printf("plain add of two %d-byte arrays in place: %.2f us per call, %.0f GB/s moved\\n",
           WORDS * 8, us, 3.0 * WORDS * 8 / (us * 1e-6) / 1e9);
  }}
  return (int)(a[7] & 1);
}}
"""


def main():
    sys.exit(compile_and_run(PROGRAM, ["-O3", "-march=native"]))


if __name__ == "__main__":
    main()
