#!/usr/bin/env python3
"""Throughput of 512-bit vector operations alone and mixed, on this CPU: whether the 52-bit
integer multiplier (IFMA, `vpmadd52luq`) issues beside integer ALU operations, the 64-bit
multiply or the double-precision FMA, or shares their issue capacity. The NTT and ct×pt
kernels (kernels/src/ntt) are sized by it (perf/RESULTS.md, fifteenth session).

Usage: python3 tools/zmm_throughput.py   (needs a C compiler `cc` and AVX-512 F/DQ/IFMA)

Writes a C program with 12 independent register-resident dependency chains per loop (enough to
cover the multiplier's latency), compiles it with -O2 and runs it twice; prints nanoseconds per
operation for each mix. Standard library only.
"""

import sys

from c_program import AVX512_IFMA, compile_and_run

CHAINS = 12
OPS = {
    "add": "a{i} = _mm512_add_epi64(a{i}, b);",
    "min": "a{i} = _mm512_min_epu64(a{i}, b);",
    "ifma": "a{i} = _mm512_madd52lo_epu64(a{i}, b, c);",
    "mullq": "a{i} = _mm512_mullo_epi64(a{i}, b);",
    "fma": "a{i} = _mm512_castpd_si512(_mm512_fmadd_pd(_mm512_castsi512_pd(a{i}), "
    "_mm512_castsi512_pd(b), _mm512_castsi512_pd(c)));",
}
MIXES = [
    ("add", ["add"]),
    ("ifma", ["ifma"]),
    ("mullq", ["mullq"]),
    ("fma", ["fma"]),
    ("ifma:add 1:1", ["ifma", "add"]),
    ("ifma:add:min 1:1:1", ["ifma", "add", "min"]),
    ("ifma:mullq 1:2", ["ifma", "mullq", "mullq"]),
    ("ifma:fma 1:1", ["ifma", "fma"]),
]


def program():
    out = [
        "#include <immintrin.h>",
        "#include <stdio.h>",
        "#include <time.h>",
        "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);"
        " return t.tv_sec + t.tv_nsec * 1e-9; }",
        "#define ITERS 20000000L",
        "int main(void) {",
        "  double t0, t1;",
    ]
    out += [f"  __m512i a{i} = _mm512_set1_epi64({i * 12345 + 7});" for i in range(CHAINS)]
    out.append("  __m512i b = _mm512_set1_epi64(987654321), c = _mm512_set1_epi64(123456789);")
    keep = ", ".join(f'"+v"(a{i})' for i in range(CHAINS))
    out.append("  for (int rep = 0; rep < 2; rep++) {")
    for name, cycle in MIXES:
        out.append("    t0 = now();")
        out.append("    for (long k = 0; k < ITERS; k++) {")
        for i in range(CHAINS):
            out.append("      " + OPS[cycle[i % len(cycle)]].format(i=i))
        out.append(f'      __asm__ volatile("" : {keep});')
        out.append("    }")
        out.append("    t1 = now();")
        out.append(
            f'    printf("%-22s %.3f ns per operation\\n", "{name}", '
            f"(t1 - t0) / (ITERS * {CHAINS}.0) * 1e9);"
        )
    out.append('    printf("\\n");')
    out.append("  }")
    sink = " + ".join(f"_mm512_reduce_add_epi64(a{i})" for i in range(CHAINS))
    out.append(f'  printf("(checksum %lld)\\n", (long long)({sink}));')
    out.append("  return 0;")
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    sys.exit(compile_and_run(program(), AVX512_IFMA))


if __name__ == "__main__":
    main()
