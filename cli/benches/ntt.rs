//! NTT benchmarks: forward, inverse and prepared pointwise product for n ∈ {2048, 4096, 8192},
//! every available backend × reduction, u64 (60-bit prime) and u32 (30-bit prime) plans, and
//! Zama's tfhe-ntt on the same n and prime, timed in the same run; for a 50-bit prime (below
//! 2^50, where the shoup52/IFMA52 butterflies apply) every backend's Shoup and, where the plan
//! allows it, shoup52. Ends with an interleaved our/their ratio for the forward transform.
//!
//! Run: `cargo bench --bench ntt` (filter e.g. `-- forward/4096`).
use criterion::{criterion_group, BenchmarkId, Criterion};
use gazelle::kernels::ntt::{NttPlan32, NttPlan64, Reduction};
use gazelle::kernels::prime::ntt_primes;
use gazelle::kernels::testing::TestRng;
use gazelle::kernels::{AlignedVec, Backend};
use gazelle_cli::bench::{measure, Budget};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 3] = [2048, 4096, 8192];

fn prime(bits: u32) -> u64 {
    // ≡ 1 mod 2·8192 so one prime serves every size.
    ntt_primes(bits, 1 << 14, 1)[0]
}

fn ntt(c: &mut Criterion) {
    let q60 = prime(60);
    let q30 = prime(30);
    let q50 = prime(50);
    for op in ["forward", "inverse", "pointwise"] {
        let mut g = c.benchmark_group(op);
        for n in SIZES {
            let mut rng = TestRng::new(n as u64);
            // 64-byte-aligned buffers, as the library's polynomials (the peer gets the same).
            let a = AlignedVec::from_slice(&rng.vec_below(n, q60));
            let b = AlignedVec::from_slice(&rng.vec_below(n, q60));
            for backend in Backend::available() {
                // 50-bit prime: 64-bit Shoup against 52-bit Shoup (IFMA52 on avx512) and the
                // double-precision quotient (FMA on avx2).
                for red in [Reduction::Shoup, Reduction::Shoup52, Reduction::Fp52] {
                    let Ok(p) = NttPlan64::with_backend(n, q50, backend, red) else {
                        continue; // shoup52 only on scalar and avx512 with IFMA52, fp52 on
                                  // scalar and avx2
                    };
                    let id = BenchmarkId::new(
                        format!("{backend}-{}-u64", red.name()),
                        format!("{n}/50"),
                    );
                    let a50: AlignedVec<u64> = a.iter().map(|&x| x % q50).collect();
                    let b50: AlignedVec<u64> = b.iter().map(|&x| x % q50).collect();
                    let mut x = a50.clone();
                    match op {
                        "forward" => {
                            g.bench_function(id, |bch| bch.iter(|| p.forward(black_box(&mut x))))
                        }
                        "inverse" => {
                            g.bench_function(id, |bch| bch.iter(|| p.inverse(black_box(&mut x))))
                        }
                        _ => {
                            let bs = AlignedVec::from_slice(&p.prepare(&b50));
                            g.bench_function(id, |bch| {
                                bch.iter(|| p.mul_acc_prepared(black_box(&mut x), &a50, &b50, &bs))
                            })
                        }
                    };
                }
                for red in [Reduction::Shoup, Reduction::Montgomery] {
                    let id = |word: &str, bits: u32| {
                        BenchmarkId::new(
                            format!("{backend}-{}-{word}", red.name()),
                            format!("{n}/{bits}"),
                        )
                    };
                    let p = NttPlan64::with_backend(n, q60, backend, red).unwrap();
                    let p32 = NttPlan32::with_backend(n, q30, backend, red).unwrap();
                    let a32: AlignedVec<u32> = a.iter().map(|&x| (x % q30) as u32).collect();
                    let b32: AlignedVec<u32> = b.iter().map(|&x| (x % q30) as u32).collect();
                    match op {
                        "forward" => {
                            let mut x = a.clone();
                            g.bench_function(id("u64", 60), |bch| {
                                bch.iter(|| p.forward(black_box(&mut x)))
                            });
                            let mut x = a32.clone();
                            g.bench_function(id("u32", 30), |bch| {
                                bch.iter(|| p32.forward(black_box(&mut x)))
                            });
                        }
                        "inverse" => {
                            let mut x = a.clone();
                            g.bench_function(id("u64", 60), |bch| {
                                bch.iter(|| p.inverse(black_box(&mut x)))
                            });
                            let mut x = a32.clone();
                            g.bench_function(id("u32", 30), |bch| {
                                bch.iter(|| p32.inverse(black_box(&mut x)))
                            });
                        }
                        _ => {
                            if red == Reduction::Montgomery {
                                continue; // pointwise products do not depend on the butterfly
                            }
                            let bs = AlignedVec::from_slice(&p.prepare(&b));
                            let mut o = AlignedVec::zeroed(n);
                            g.bench_function(id("u64", 60), |bch| {
                                bch.iter(|| p.mul_acc_prepared(black_box(&mut o), &a, &b, &bs))
                            });
                            let bs = AlignedVec::from_slice(&p32.prepare(&b32));
                            let mut o = AlignedVec::zeroed(n);
                            g.bench_function(id("u32", 30), |bch| {
                                bch.iter(|| {
                                    p32.mul_acc_prepared(black_box(&mut o), &a32, &b32, &bs)
                                })
                            });
                        }
                    }
                }
            }
            // Peer: tfhe-ntt on the same n and prime (its fwd/inv leave out n⁻¹; ours include it).
            let tp = tfhe_ntt::prime64::Plan::try_new(n, q60).unwrap();
            match op {
                "forward" => {
                    let mut x = a.clone();
                    g.bench_function(BenchmarkId::new("tfhe-ntt", format!("{n}/60")), |bch| {
                        bch.iter(|| tp.fwd(black_box(&mut x)))
                    });
                }
                "inverse" => {
                    let mut x = a.clone();
                    g.bench_function(BenchmarkId::new("tfhe-ntt", format!("{n}/60")), |bch| {
                        bch.iter(|| tp.inv(black_box(&mut x)))
                    });
                }
                _ => {
                    let mut x = a.clone();
                    g.bench_function(BenchmarkId::new("tfhe-ntt", format!("{n}/60")), |bch| {
                        bch.iter(|| tp.mul_assign_normalize(black_box(&mut x), &b))
                    });
                }
            }
        }
        g.finish();
    }
}

/// Interleaved forward-NTT timing of ours (process-wide backend, `try_new`'s reduction) against
/// tfhe-ntt, so machine noise hits both alike; prints the ratio. For a 60-bit prime, a 54-bit
/// one (the HE sets' size: the approximate-quotient `WIDE` butterflies on avx2/avx512) and the
/// largest prime below 2^50 (where `try_new` picks shoup52, the IFMA52 butterflies, on an
/// avx512 CPU with avx512ifma).
fn ratio_summary() {
    let budget = Budget {
        time: Duration::from_millis(300),
        max_samples: 31,
    };
    for bits in [60, 54, 50] {
        let q = prime(bits);
        let red = NttPlan64::try_new(SIZES[0], q).unwrap().reduction();
        println!(
            "\nforward NTT, {bits}-bit prime, ours ({}, {}) / tfhe-ntt, interleaved:",
            Backend::selected().unwrap(),
            red.name()
        );
        for n in SIZES {
            let a = TestRng::new(9).vec_below(n, q);
            let ours = NttPlan64::try_new(n, q).unwrap();
            let theirs = tfhe_ntt::prime64::Plan::try_new(n, q).unwrap();
            let (mut x, mut y) = (a.clone(), a);
            let (mut o, mut t) = (Vec::new(), Vec::new());
            for _ in 0..5 {
                o.push(measure(|| ours.forward(black_box(&mut x)), budget).median_us);
                t.push(measure(|| theirs.fwd(black_box(&mut y)), budget).median_us);
            }
            o.sort_by(f64::total_cmp);
            t.sort_by(f64::total_cmp);
            println!(
                "  n={n:5}: ours {:7.2} µs  tfhe-ntt {:7.2} µs  ratio {:.2}",
                o[2],
                t[2],
                o[2] / t[2]
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = ntt
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio_summary();
}
