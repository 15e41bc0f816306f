//! Helpers shared by tests, the `backend_check` program and benchmarks: a small seeded PRNG
//! (not for secrets) and the O(n²) negacyclic reference product.

/// SplitMix64: a fast, seedable generator for test vectors. Never use it for secrets.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A seed from the clock, for fresh randomness in tests (print it on failure).
    pub fn fresh_seed() -> u64 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        t ^ (std::process::id() as u64).rotate_left(32)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, bound) (bias < 2^-64·bound, fine for tests).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }

    /// A vector of `n` values uniform in [0, bound).
    pub fn vec_below(&mut self, n: usize, bound: u64) -> Vec<u64> {
        (0..n).map(|_| self.below(bound)).collect()
    }
}

/// a·b in Z_q[X]/(X^n + 1) by schoolbook multiplication, O(n²); q prime < 2^62.
pub fn negacyclic_mul_naive(a: &[u64], b: &[u64], q: u64) -> Vec<u64> {
    let n = a.len();
    assert_eq!(n, b.len());
    let m = crate::modarith::Modulus64::new(q).expect("q must be a prime below 2^62");
    let mut out = vec![0u64; n];
    for (i, &ai) in a.iter().enumerate() {
        let ai = ai % q;
        for (j, &bj) in b.iter().enumerate() {
            let p = m.mul(ai, bj % q);
            let k = i + j;
            if k < n {
                out[k] = m.add(out[k], p);
            } else {
                out[k - n] = m.sub(out[k - n], p);
            }
        }
    }
    out
}

/// Outcome of comparing one backend with scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendCheck {
    /// Every kernel matched scalar bit for bit on this many random vectors.
    Passed {
        /// The backend.
        backend: crate::Backend,
        /// Number of (kernel, size, prime, reduction) cases compared.
        cases: usize,
        /// The reductions that were compared (names).
        reductions: Vec<&'static str>,
    },
    /// Nothing was run for this backend, or for one of its reductions: the CPU lacks it.
    Skipped {
        /// The backend.
        backend: crate::Backend,
        /// What was skipped and what the CPU lacks, e.g. "reduction shoup52: needs a CPU
        /// with avx512ifma".
        what: String,
    },
    /// A kernel differed from scalar.
    Failed {
        /// The backend.
        backend: crate::Backend,
        /// What differed (kernel, sizes, seed).
        what: String,
    },
}

/// `vecops` (the build `multiversion` picks for this CPU) against plain definitions: the
/// decryption scaling against long division (1 to 6 primes of 40 and 50 bits, four plaintext
/// moduli, edge residues 0, 1, q − 1) and the modular add/sub; Ok(cases) or the first mismatch.
pub fn check_vecops(seed: u64) -> Result<usize, String> {
    use crate::vecops::{add_mod, scale_round, sub_mod, ScaleLimb};
    let mut rng = TestRng::new(seed);
    let primes: Vec<u64> = crate::prime::ntt_primes(50, 1 << 14, 4)
        .into_iter()
        .chain(crate::prime::ntt_primes(40, 1 << 14, 2))
        .collect();
    let mut cases = 0;
    for p in [2u64, 65537, 1032193, (1 << 30) - 35] {
        for l in 1..=primes.len() {
            let q = &primes[primes.len() - l..];
            let w: Vec<u64> = q.iter().map(|&qi| rng.below(qi)).collect();
            let mut x: Vec<Vec<u64>> = q.iter().map(|&qi| rng.vec_below(1500, qi)).collect();
            for (xi, &qi) in x.iter_mut().zip(q) {
                (xi[0], xi[1], xi[2]) = (0, 1, qi - 1);
            }
            let limbs: Vec<ScaleLimb> = q
                .iter()
                .zip(&w)
                .map(|(&qi, &wi)| ScaleLimb::new(qi, wi, p).ok_or("ScaleLimb refused"))
                .collect::<Result<_, _>>()?;
            let views: Vec<&[u64]> = x.iter().map(|v| v.as_slice()).collect();
            let mut out = vec![0; 1500];
            scale_round(&mut out, &views, &limbs, p);
            // Each term's integer part and 64 fraction bits by long division.
            for (c, &o) in out.iter().enumerate() {
                let (mut int, mut frac) = (0u128, 0u128);
                for i in 0..l {
                    let qi = q[i] as u128;
                    let t = x[i][c] as u128 * w[i] as u128 % qi * p as u128;
                    int += t / qi;
                    frac += ((t % qi) << 64) / qi;
                }
                let expect = ((int + ((frac + (1u128 << 63)) >> 64)) % p as u128) as u64;
                if o != expect {
                    return Err(format!("scale_round p={p} limbs={l} c={c}: {o} ≠ {expect}"));
                }
            }
            cases += 1;
        }
    }
    for q in [3u64, 65537, (1 << 50) - 27, (1 << 62) - 57] {
        let (x, y) = (rng.vec_below(1003, q), rng.vec_below(1003, q));
        let (mut s, mut d) = (x.clone(), x.clone());
        add_mod(&mut s, &y, q);
        sub_mod(&mut d, &y, q);
        for i in 0..x.len() {
            let (a, b, m) = (x[i] as u128, y[i] as u128, q as u128);
            if s[i] as u128 != (a + b) % m || d[i] as u128 != (a + m - b) % m {
                return Err(format!("add/sub mod {q} at {i}"));
            }
        }
        cases += 1;
    }
    Ok(cases)
}

/// Compares the NTT kernels (forward, inverse, prepared products; u64 and u32 plans; every
/// reduction the backend offers: Shoup52 on primes below 2^50) of every backend with scalar on
/// random inputs from `seed`. A backend the CPU lacks, or a reduction it lacks on an available
/// backend (Shoup52 on avx512 without avx512ifma), is reported as `Skipped`. Single-threaded,
/// so it can run under qemu user-mode emulation.
pub fn check_ntt_backends(seed: u64, sizes: &[usize]) -> Vec<BackendCheck> {
    use crate::ntt::{NttPlan32, NttPlan64, Reduction};
    use crate::prime::ntt_primes;
    use crate::Backend;
    let max_n = sizes.iter().copied().max().unwrap_or(256);
    // 54/56 bits: the avx512 approximate-quotient (`WIDE`) path for q < 2^56, at its edge; 57:
    // just past it; 57 to 61 bits: avx512's `LAZY8` forward transform (q < 2^61), 62 past it.
    let primes64: Vec<u64> = [30u32, 40, 50, 54, 56, 57, 60, 61, 62]
        .iter()
        .map(|&b| ntt_primes(b, 2 * max_n as u64, 1)[0])
        .collect();
    let primes32: Vec<u64> = [20u32, 30]
        .iter()
        .map(|&b| ntt_primes(b, 2 * max_n as u64, 1)[0])
        .collect();
    let mut rng = TestRng::new(seed);
    let mut out = Vec::new();
    'backends: for backend in Backend::ALL {
        if backend == Backend::Scalar {
            continue;
        }
        if !backend.is_available() {
            out.push(BackendCheck::Skipped {
                backend,
                what: format!("all kernels: this CPU lacks {}", backend.needs()),
            });
            continue;
        }
        let mut cases = 0;
        let mut reductions = Vec::new();
        macro_rules! fail {
            ($($t:tt)*) => {{
                out.push(BackendCheck::Failed { backend, what: format!($($t)*) });
                continue 'backends;
            }};
        }
        for red in Reduction::ALL {
            // Shoup52 exists for u64 plans and q < 2^50 on scalar and avx512 (with IFMA52),
            // Fp52 on scalar and avx2.
            let q52 = primes64[2];
            match NttPlan64::check_reduction(backend, red, q52) {
                Ok(()) => reductions.push(red.name()),
                Err(e) => {
                    if backend == Backend::Avx512 {
                        out.push(BackendCheck::Skipped {
                            backend,
                            what: format!("reduction {}: {e}", red.name()),
                        });
                    }
                    continue;
                }
            }
            for &n in sizes {
                for &q in &primes64 {
                    if NttPlan64::check_reduction(backend, red, q).is_err() {
                        continue; // Shoup52 with q ≥ 2^50
                    }
                    let (Ok(s), Ok(p)) = (
                        NttPlan64::with_backend(n, q, Backend::Scalar, red),
                        NttPlan64::with_backend(n, q, backend, red),
                    ) else {
                        fail!("plan n={n} q={q} could not be built");
                    };
                    let a = rng.vec_below(n, q);
                    let (mut x, mut y) = (a.clone(), a.clone());
                    s.forward(&mut x);
                    p.forward(&mut y);
                    if x != y {
                        fail!("forward64 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    s.inverse(&mut x);
                    p.inverse(&mut y);
                    if x != y || x != a {
                        fail!("inverse64 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    // forward_lazy: congruent, within its bound, and a valid multiplicand.
                    {
                        let (mut x, mut z) = (a.clone(), a.clone());
                        s.forward(&mut x);
                        p.forward_lazy(&mut z);
                        // Below 64q for the WIDE plans (q < 2^56), 8q for avx512's LAZY8
                        // (q < 2^61), 4q otherwise (`ntt::kind`, x86-64 only).
                        let bound = if matches!(red, Reduction::Shoup52 | Reduction::Fp52) {
                            4 * q
                        } else if q < 1 << 56 {
                            64 * q
                        } else if q < 1 << 61 {
                            8 * q
                        } else {
                            4 * q
                        };
                        let ok = z.iter().zip(&x).all(|(&l, &r)| l < bound && l % q == r);
                        let bz = rng.vec_below(n, q);
                        let bzs = s.prepare(&bz);
                        let (mut m1, mut m2) = (vec![0; n], vec![0; n]);
                        s.mul_prepared(&mut m1, &x, &bz, &bzs);
                        p.mul_prepared(&mut m2, &z, &bz, &bzs);
                        if !ok || m1 != m2 {
                            fail!("forward_lazy64 {red:?} n={n} q={q} seed={seed:#x}");
                        }
                        cases += 1;
                    }
                    // Forward accepts [0, 4q): random and all-maximal inputs.
                    for a4 in [rng.vec_below(n, 4 * q), vec![4 * q - 1; n]] {
                        let (mut x, mut y) = (a4.clone(), a4);
                        s.forward(&mut x);
                        p.forward(&mut y);
                        if x != y {
                            fail!("forward64 [0,4q) {red:?} n={n} q={q} seed={seed:#x}");
                        }
                    }
                    let top = vec![q - 1; n];
                    // Inverse accepts [0, 2q): all q − 1, random, all 2q − 1.
                    for a2 in [top.clone(), rng.vec_below(n, 2 * q), vec![2 * q - 1; n]] {
                        let (mut x, mut y) = (a2.clone(), a2);
                        s.inverse(&mut x);
                        p.inverse(&mut y);
                        if x != y {
                            fail!("inverse64 [0,2q) {red:?} n={n} q={q} seed={seed:#x}");
                        }
                    }
                    let b = rng.vec_below(n, q);
                    let bs = s.prepare(&b);
                    if p.prepare(&b) != bs {
                        fail!("prepare64 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    let (mut m1, mut m2) = (vec![0; n], vec![0; n]);
                    s.mul_prepared(&mut m1, &a, &b, &bs);
                    p.mul_prepared(&mut m2, &a, &b, &bs);
                    if m1 != m2 {
                        fail!("mul_prepared64 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    let mut o1 = rng.vec_below(n, q);
                    let mut o2 = o1.clone();
                    s.mul_acc_prepared(&mut o1, &a, &b, &bs);
                    p.mul_acc_prepared(&mut o2, &a, &b, &bs);
                    if o1 != o2 {
                        fail!("mul_acc_prepared64 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    // Pairs sharing b, both modes, against two scalar products each.
                    let a1 = rng.vec_below(n, 4 * q.min(1 << 50));
                    for acc in [false, true] {
                        let (mut e0, mut e1) = (rng.vec_below(n, q), rng.vec_below(n, q));
                        let (mut g0, mut g1) = (e0.clone(), e1.clone());
                        if acc {
                            s.mul_acc_prepared(&mut e0, &a, &b, &bs);
                            s.mul_acc_prepared(&mut e1, &a1, &b, &bs);
                        } else {
                            s.mul_prepared(&mut e0, &a, &b, &bs);
                            s.mul_prepared(&mut e1, &a1, &b, &bs);
                        }
                        p.mul_prepared_pair([&mut g0, &mut g1], [&a, &a1], (&b, &bs), acc);
                        if (e0, e1) != (g0, g1) {
                            fail!(
                                "mul_prepared_pair64 acc={acc} {red:?} n={n} q={q} seed={seed:#x}"
                            );
                        }
                        cases += 1;
                    }
                    // A sum of 1..=9 terms, against the scalar plan's term-by-term products; the
                    // first operand of some terms at its largest (the largest lazy forward output:
                    // 8q − 1 for a Shoup plan with q < 2^61, else 4q − 1; or q − 1 with
                    // all-maximal b), to reach every lazy bound.
                    let a_top = if red == Reduction::Shoup && q < 1 << 61 {
                        8 * q - 1
                    } else {
                        4 * q - 1
                    };
                    let terms_n = 1 + (rng.below(9) as usize);
                    let ops: Vec<(Vec<u64>, Vec<u64>, Vec<u64>)> = (0..terms_n)
                        .map(|t| {
                            let a = match t % 3 {
                                0 => rng.vec_below(n, a_top + 1),
                                1 => vec![a_top; n],
                                _ => rng.vec_below(n, q),
                            };
                            let b = if t % 3 == 1 {
                                vec![q - 1; n]
                            } else {
                                rng.vec_below(n, q)
                            };
                            let bs = s.prepare(&b);
                            (a, b, bs)
                        })
                        .collect();
                    let terms: Vec<[&[u64]; 3]> = ops
                        .iter()
                        .map(|(a, b, bs)| [&a[..], &b[..], &bs[..]])
                        .collect();
                    let mut o1 = if terms_n.is_multiple_of(2) {
                        top.clone()
                    } else {
                        rng.vec_below(n, q)
                    };
                    let base = o1.clone();
                    let mut o2 = o1.clone();
                    let mut from_zero = vec![0; n];
                    for [a, b, bs] in &terms {
                        s.mul_acc_prepared(&mut o1, a, b, bs);
                        s.mul_acc_prepared(&mut from_zero, a, b, bs);
                    }
                    use crate::ntt::SumBase;
                    p.mul_prepared_sum(&mut o2, SumBase::Acc, &terms);
                    // The other bases overwrite whatever the output held.
                    let mut o3 = vec![u64::MAX; n];
                    p.mul_prepared_sum(&mut o3, SumBase::From(&base), &terms);
                    let mut o4 = vec![u64::MAX; n];
                    p.mul_prepared_sum(&mut o4, SumBase::Zero, &terms);
                    if o1 != o2 || o1 != o3 || from_zero != o4 {
                        fail!(
                            "mul_prepared_sum64 {red:?} {terms_n} terms n={n} q={q} seed={seed:#x}"
                        );
                    }
                    cases += 9;
                }
                if matches!(red, Reduction::Shoup52 | Reduction::Fp52) {
                    continue; // u64 plans only
                }
                for &q in &primes32 {
                    let (Ok(s), Ok(p)) = (
                        NttPlan32::with_backend(n, q, Backend::Scalar, red),
                        NttPlan32::with_backend(n, q, backend, red),
                    ) else {
                        fail!("plan32 n={n} q={q} could not be built");
                    };
                    let a: Vec<u32> = rng.vec_below(n, q).into_iter().map(|v| v as u32).collect();
                    let (mut x, mut y) = (a.clone(), a.clone());
                    s.forward(&mut x);
                    p.forward(&mut y);
                    if x != y {
                        fail!("forward32 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    s.inverse(&mut x);
                    p.inverse(&mut y);
                    if x != y || x != a {
                        fail!("inverse32 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    let b: Vec<u32> = rng.vec_below(n, q).into_iter().map(|v| v as u32).collect();
                    let bs = s.prepare(&b);
                    let (mut o1, mut o2) = (a.clone(), a.clone());
                    s.mul_acc_prepared(&mut o1, &a, &b, &bs);
                    p.mul_acc_prepared(&mut o2, &a, &b, &bs);
                    if o1 != o2 {
                        fail!("mul_acc_prepared32 n={n} q={q} seed={seed:#x}");
                    }
                    for acc in [false, true] {
                        let (mut e0, mut e1) = (o1.clone(), b.clone());
                        let (mut g0, mut g1) = (e0.clone(), e1.clone());
                        if acc {
                            s.mul_acc_prepared(&mut e0, &a, &b, &bs);
                            s.mul_acc_prepared(&mut e1, &o1, &b, &bs);
                        } else {
                            s.mul_prepared(&mut e0, &a, &b, &bs);
                            s.mul_prepared(&mut e1, &o1, &b, &bs);
                        }
                        p.mul_prepared_pair([&mut g0, &mut g1], [&a, &o1], (&b, &bs), acc);
                        if (e0, e1) != (g0, g1) {
                            fail!(
                                "mul_prepared_pair32 acc={acc} {red:?} n={n} q={q} seed={seed:#x}"
                            );
                        }
                        cases += 1;
                    }
                    let q32 = q as u32;
                    let ops: Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> = (0..5)
                        .map(|t| {
                            let a: Vec<u32> = if t == 1 {
                                vec![4 * q32 - 1; n]
                            } else {
                                rng.vec_below(n, 4 * q)
                                    .into_iter()
                                    .map(|v| v as u32)
                                    .collect()
                            };
                            let b: Vec<u32> = if t == 1 {
                                vec![q32 - 1; n]
                            } else {
                                rng.vec_below(n, q).into_iter().map(|v| v as u32).collect()
                            };
                            let bs = s.prepare(&b);
                            (a, b, bs)
                        })
                        .collect();
                    let terms: Vec<[&[u32]; 3]> = ops
                        .iter()
                        .map(|(a, b, bs)| [&a[..], &b[..], &bs[..]])
                        .collect();
                    let (mut o1, mut o2) = (a.clone(), a.clone());
                    for [a, b, bs] in &terms {
                        s.mul_acc_prepared(&mut o1, a, b, bs);
                    }
                    p.mul_prepared_sum(&mut o2, crate::ntt::SumBase::Acc, &terms);
                    if o1 != o2 {
                        fail!("mul_prepared_sum32 {red:?} n={n} q={q} seed={seed:#x}");
                    }
                    cases += 4;
                }
            }
        }
        for &n in sizes {
            for g in [3, 2 * n - 1, 5 * 5 * 5 % (2 * n), 2 * n - 3] {
                use crate::ntt::NttPermutation;
                let (Ok(s), Ok(p)) = (
                    NttPermutation::with_backend(n, g, Backend::Scalar),
                    NttPermutation::with_backend(n, g, backend),
                ) else {
                    fail!("permutation n={n} g={g} could not be built");
                };
                let a = rng.vec_below(n, u64::MAX);
                let (mut x, mut y) = (vec![7u64], vec![7u64]);
                s.gather_extend(&a, &mut x);
                p.gather_extend(&a, &mut y);
                let mut z = vec![0u64; n];
                p.gather(&a, &mut z);
                if x != y || x.len() != n + 1 || z[..] != x[1..] {
                    fail!("gather n={n} g={g} seed={seed:#x}");
                }
                cases += 1;
            }
        }
        out.push(BackendCheck::Passed {
            backend,
            cases,
            reductions,
        });
    }
    out
}
