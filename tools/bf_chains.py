#!/usr/bin/env python3
"""Throughput of the IFMA NTT butterfly (the avx512 `Shoup52` kernel's: one conditional
subtraction of 2q, three `vpmadd52{hi,lo,lo}uq`, a mask, add/sub) with 2, 4, 8 and 16
independent butterflies in flight, registers only: how many independent chains the forward
transform's passes need before the multiplier, not the chain's latency, bounds them (the
kernels/src/ntt/avx512.rs passes run four or eight; perf/RESULTS.md, sixteenth session).

Usage: python3 tools/bf_chains.py   (needs a C compiler `cc` and AVX-512 F/DQ/IFMA)

Writes a C program whose loop runs K butterflies on 2K registers (each butterfly's outputs feed
the next iteration's inputs), compiles it with -O2 and prints nanoseconds per 8 butterflies
(one 512-bit butterfly vector) and the forward transform n = 4096's 3,072 vectors at that rate.
Standard library only.
"""

import sys

from c_program import AVX512_IFMA, compile_and_run

Q = 1125899904679937  # a 50-bit NTT prime
W = 123456789012345
CHAINS = [2, 4, 8, 16]


def program():
    ws = (W << 52) // Q
    out = [
        "#include <immintrin.h>",
        "#include <stdio.h>",
        "#include <time.h>",
        "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);"
        " return t.tv_sec + t.tv_nsec * 1e-9; }",
        "#define ITERS 20000000L",
        "static __m512i Q2, NEGQ, MASK;",
        "static inline __attribute__((always_inline)) void bf(__m512i *X, __m512i *Y,"
        " __m512i w, __m512i ws) {",
        "  __m512i x = _mm512_min_epu64(*X, _mm512_sub_epi64(*X, Q2)), y = *Y,"
        " z = _mm512_setzero_si512();",
        "  __m512i hi = _mm512_madd52hi_epu64(z, y, ws);",
        "  __m512i lo = _mm512_madd52lo_epu64(z, y, w);",
        "  __m512i r = _mm512_and_si512(_mm512_madd52lo_epu64(lo, hi, NEGQ), MASK);",
        "  *X = _mm512_add_epi64(x, r); *Y = _mm512_sub_epi64(_mm512_add_epi64(x, Q2), r);",
        "}",
        "int main(void) {",
        f"  Q2 = _mm512_set1_epi64({2 * Q}LL); NEGQ = _mm512_set1_epi64({(1 << 52) - Q}LL);",
        f"  MASK = _mm512_set1_epi64({(1 << 52) - 1}LL);",
        f"  __m512i w = _mm512_set1_epi64({W}LL), ws = _mm512_set1_epi64({ws}LL);",
        "  long long sink = 0;",
        "  for (int rep = 0; rep < 2; rep++) {",
    ]
    for k in CHAINS:
        regs = [f"v{i}" for i in range(2 * k)]
        out.append("  {")
        out += [f"    __m512i v{i} = _mm512_set1_epi64({i + 1});" for i in range(2 * k)]
        out.append("    double t0 = now();")
        out.append("    for (long it = 0; it < ITERS; it++) {")
        for i in range(k):
            out.append(f"      bf(&v{2 * i}, &v{2 * i + 1}, w, ws);")
        for i in range(0, len(regs), 8):
            keep = ", ".join(f'"+v"({r})' for r in regs[i : i + 8])
            out.append(f'      __asm__ volatile("" : {keep});')
        out.append("    }")
        out.append(f"    double ns = (now() - t0) / (ITERS * {k}.0) * 1e9;")
        out.append(
            f'    printf("%2d chains: %.3f ns per 8 butterflies; n = 4096 forward'
            f' at this rate: %.2f us\\n", {k}, ns, ns * 3072 / 1000);'
        )
        out.append(f"    sink += _mm512_reduce_add_epi64(v0) + _mm512_reduce_add_epi64(v{2 * k - 1});")
        out.append("  }")
    out.append('    printf("\\n");')
    out.append("  }")
    out.append('  printf("(checksum %lld)\\n", sink);')
    out.append("  return 0;")
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    sys.exit(compile_and_run(program(), AVX512_IFMA))


if __name__ == "__main__":
    main()
