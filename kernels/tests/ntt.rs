//! NTT plans against the O(n²) negacyclic product, and every backend against scalar.
use kernels::ntt::{automorphism_ntt_table, NttPlan32, NttPlan64, Reduction};
use kernels::prime::ntt_primes;
use kernels::testing::{negacyclic_mul_naive, TestRng};
use kernels::{backend::cpu, Backend, KernelError};

/// Primes of about 30, 50, 60 and 62 bits (≡ 1 mod 2·8192, so valid for every n ≤ 8192).
fn test_primes_64() -> Vec<u64> {
    [30u32, 50, 60, 62]
        .iter()
        .map(|&b| ntt_primes(b, 1 << 14, 1)[0])
        .collect()
}

fn seeds() -> [u64; 2] {
    [0x6a7e11e, TestRng::fresh_seed()]
}

fn product_via_ntt64(plan: &NttPlan64, a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut fa, mut fb) = (a.to_vec(), b.to_vec());
    plan.forward(&mut fa);
    plan.forward(&mut fb);
    let mut c = vec![0; a.len()];
    plan.mul(&mut c, &fa, &fb);
    plan.inverse(&mut c);
    c
}

#[test]
fn ntt64_matches_naive_negacyclic_product() {
    for seed in seeds() {
        let mut rng = TestRng::new(seed);
        for q in test_primes_64() {
            for log_n in 8..=13 {
                let n = 1 << log_n;
                // The O(n²) reference is costly: every size for two primes, the rest at n ≤ 2048.
                if n > 2048 && q.leading_zeros() > 4 && q >> 40 != 0 {
                    continue;
                }
                for red in Reduction::ALL {
                    let plan = NttPlan64::with_backend(n, q, Backend::Scalar, red).unwrap();
                    let a = rng.vec_below(n, q);
                    let b = rng.vec_below(n, q);
                    let want = negacyclic_mul_naive(&a, &b, q);
                    assert_eq!(
                        product_via_ntt64(&plan, &a, &b),
                        want,
                        "seed {seed:#x} q {q} n {n} {red:?}"
                    );
                    if red == Reduction::Shoup {
                        break; // Montgomery checked against scalar Shoup below, cheaper.
                    }
                }
            }
        }
    }
}

#[test]
fn ntt32_matches_naive_negacyclic_product() {
    for seed in seeds() {
        let mut rng = TestRng::new(seed);
        for bits in [20u32, 28, 30] {
            let q = ntt_primes(bits, 1 << 14, 1)[0];
            for log_n in 8..=13 {
                let n = 1 << log_n;
                if n > 4096 && bits != 30 {
                    continue;
                }
                for red in [Reduction::Shoup, Reduction::Montgomery] {
                    let plan = NttPlan32::with_backend(n, q, Backend::Scalar, red).unwrap();
                    let a = rng.vec_below(n, q);
                    let b = rng.vec_below(n, q);
                    let want = negacyclic_mul_naive(&a, &b, q);
                    let mut fa: Vec<u32> = a.iter().map(|&x| x as u32).collect();
                    let mut fb: Vec<u32> = b.iter().map(|&x| x as u32).collect();
                    plan.forward(&mut fa);
                    plan.forward(&mut fb);
                    let mut c = vec![0; n];
                    plan.mul(&mut c, &fa, &fb);
                    plan.inverse(&mut c);
                    let got: Vec<u64> = c.iter().map(|&x| x as u64).collect();
                    assert_eq!(got, want, "seed {seed:#x} q {q} n {n} {red:?}");
                }
            }
        }
    }
}

#[test]
fn reductions_agree_and_roundtrip() {
    let mut rng = TestRng::new(7);
    let mut primes = test_primes_64();
    primes.push(ntt_primes(61, 1 << 16, 1)[0]); // valid up to n = 32768
    for q in primes {
        for n in [256, 4096, 32768] {
            if (q - 1) % (2 * n as u64) != 0 {
                continue;
            }
            let a = rng.vec_below(n, q);
            let mut outs = Vec::new();
            for red in Reduction::ALL {
                let Ok(plan) = NttPlan64::with_backend(n, q, Backend::Scalar, red) else {
                    assert!(
                        matches!(red, Reduction::Shoup52 | Reduction::Fp52) && q >= 1 << 50,
                        "{red:?} q {q}"
                    );
                    continue;
                };
                let mut x = a.clone();
                plan.forward(&mut x);
                assert!(x.iter().all(|&v| v < q));
                outs.push(x.clone());
                plan.inverse(&mut x);
                assert_eq!(x, a, "roundtrip q {q} n {n} {red:?}");
            }
            assert!(outs.windows(2).all(|w| w[0] == w[1]), "q {q} n {n}");
        }
    }
}

/// Lazy inputs: the forward transform accepts [0, 4q), the inverse [0, 2q).
#[test]
fn lazy_input_ranges_accepted() {
    let mut rng = TestRng::new(11);
    for q in test_primes_64() {
        let n = 1024;
        for backend in Backend::available() {
            let plan = NttPlan64::with_backend(n, q, backend, Reduction::Shoup).unwrap();
            let a = rng.vec_below(n, q);
            let lifted: Vec<u64> = a
                .iter()
                .enumerate()
                .map(|(i, &x)| x + (i as u64 % 4) * q)
                .collect();
            let (mut x, mut y) = (a.clone(), lifted);
            plan.forward(&mut x);
            plan.forward(&mut y);
            assert_eq!(x, y, "{backend} q {q}");
            let lifted: Vec<u64> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| v + (i as u64 % 2) * q)
                .collect();
            let mut z = lifted;
            plan.inverse(&mut z);
            assert_eq!(z, a, "{backend} q {q}");
        }
    }
}

#[test]
fn automorphisms_commute_with_ntt() {
    let mut rng = TestRng::new(3);
    let q = test_primes_64()[2];
    for n in [256usize, 4096] {
        let plan = NttPlan64::with_backend(n, q, Backend::Scalar, Reduction::Shoup).unwrap();
        let a = rng.vec_below(n, q);
        for g in [1usize, 3, 5, 25, 2 * n - 1, 4 * 3 + 1] {
            let mut coeff = vec![0; n];
            plan.automorphism_coeff(g, &a, &mut coeff).unwrap();
            plan.forward(&mut coeff);
            let mut fa = a.clone();
            plan.forward(&mut fa);
            let mut via_ntt = vec![0; n];
            plan.automorphism_ntt(g, &fa, &mut via_ntt).unwrap();
            assert_eq!(via_ntt, coeff, "n {n} g {g}");
        }
        // X → X^g is a ring map: σ(a·b) = σ(a)·σ(b); checked on the naive product.
        let b = rng.vec_below(n, q);
        let g = 5;
        let (mut sa, mut sb, mut sab) = (vec![0; n], vec![0; n], vec![0; n]);
        plan.automorphism_coeff(g, &a, &mut sa).unwrap();
        plan.automorphism_coeff(g, &b, &mut sb).unwrap();
        let ab = product_via_ntt64(&plan, &a, &b);
        plan.automorphism_coeff(g, &ab, &mut sab).unwrap();
        assert_eq!(product_via_ntt64(&plan, &sa, &sb), sab);
        let t = automorphism_ntt_table(n, g).unwrap();
        let mut seen = vec![false; n];
        t.iter().for_each(|&i| seen[i as usize] = true);
        assert!(seen.iter().all(|&s| s), "table is a permutation");
    }
}

#[test]
fn plans_reject_bad_parameters() {
    let q = test_primes_64()[2];
    assert!(matches!(
        NttPlan64::try_new(1000, q),
        Err(KernelError::InvalidDimension { .. })
    ));
    assert!(matches!(
        NttPlan64::try_new(128, q),
        Err(KernelError::InvalidDimension { .. })
    ));
    assert!(matches!(
        NttPlan64::try_new(65536, q),
        Err(KernelError::InvalidDimension { .. })
    ));
    assert!(matches!(
        NttPlan64::try_new(1024, q + 2),
        Err(KernelError::NotPrime { .. })
    ));
    // 12289 = 3·2^12 + 1: roots of order 4096 exist, of order 8192 (n = 4096) do not.
    assert!(matches!(
        NttPlan64::try_new(4096, 12289),
        Err(KernelError::NoRootOfUnity { .. })
    ));
    assert!(matches!(
        NttPlan64::try_new(1024, (1u64 << 62) + 1),
        Err(KernelError::ModulusTooLarge { max_bits: 62, .. })
    ));
    assert!(matches!(
        NttPlan32::try_new(1024, q),
        Err(KernelError::ModulusTooLarge { max_bits: 30, .. })
    ));
    let e = NttPlan32::try_new(1024, 1032193 + 2).unwrap_err();
    assert!(e.to_string().contains("not prime"), "{e}");
    let plan = NttPlan64::try_new(1024, q).unwrap();
    assert!(matches!(
        plan.automorphism_ntt(4, &[0; 1024], &mut [0; 1024]),
        Err(KernelError::InvalidGaloisElement { .. })
    ));
}

/// Primes of about 30, 40, 49 and 50 bits (the largest below 2^50), ≡ 1 mod 2·8192.
fn shoup52_primes() -> Vec<u64> {
    [30u32, 40, 49, 50]
        .iter()
        .map(|&b| ntt_primes(b, 1 << 14, 1)[0])
        .collect()
}

/// Writes around libtest's capture (which only catches `print!`/`eprint!`), so that a skip shows
/// in the test output even when the test passes.
fn report_skip(test: &str) {
    report_skip_of(test, Reduction::Shoup52);
}

/// [`report_skip`] for the SIMD backend of a 52-bit reduction.
fn report_skip_of(test: &str, red: Reduction) {
    use std::io::Write;
    let what = match red {
        Reduction::Fp52 => "avx2 fp52 SKIPPED (cpu lacks: avx2 and fma)",
        _ => "avx512 shoup52 (IFMA52) SKIPPED (cpu lacks: avx512f, avx512dq and avx512ifma)",
    };
    let _ = writeln!(std::io::stderr(), "{test}: {what}");
}

/// The 52-bit reductions (u64 plans, q < 2^50) and the SIMD backend that runs each.
const REDUCTIONS_52: [(Reduction, Backend); 2] = [
    (Reduction::Shoup52, Backend::Avx512),
    (Reduction::Fp52, Backend::Avx2),
];

/// Whether this CPU runs `red` on its SIMD backend (see [`REDUCTIONS_52`]).
fn simd_runs(red: Reduction, backend: Backend) -> bool {
    backend.is_available() && NttPlan64::check_reduction(backend, red, 3 << 30 | 1).is_ok()
}

/// The backends to test a 52-bit reduction on: scalar always, its SIMD backend where the CPU
/// has it (else a SKIPPED line, never a silent pass).
fn backends_52(test: &str, red: Reduction, simd: Backend) -> Vec<Backend> {
    let mut v = vec![Backend::Scalar];
    if simd_runs(red, simd) {
        v.push(simd);
    } else {
        report_skip_of(test, red);
    }
    v
}

/// Shoup52 (scalar reference and IFMA52) and Fp52 (scalar reference and avx2) through fwd →
/// pointwise → inv against the O(n²) product, n from 256 to 8192 (the largest sizes for one
/// prime: the reference is O(n²)).
#[test]
fn shoup52_matches_naive_negacyclic_product() {
    for (red, simd) in REDUCTIONS_52 {
        let backends = backends_52("shoup52_matches_naive_negacyclic_product", red, simd);
        matches_naive_52(red, &backends);
    }
}

fn matches_naive_52(red: Reduction, backends: &[Backend]) {
    for seed in seeds() {
        let mut rng = TestRng::new(seed);
        for (i, q) in shoup52_primes().into_iter().enumerate() {
            for log_n in 8..=13 {
                let n = 1 << log_n;
                if n > 1024 && i != 3 && log_n != 8 + i as u32 {
                    continue;
                }
                let a = rng.vec_below(n, q);
                let b = rng.vec_below(n, q);
                let want = negacyclic_mul_naive(&a, &b, q);
                for &backend in backends {
                    let plan = NttPlan64::with_backend(n, q, backend, red).unwrap();
                    let (mut fa, mut fb) = (a.clone(), b.clone());
                    plan.forward(&mut fa);
                    plan.forward(&mut fb);
                    let bs = plan.prepare(&fb);
                    let mut c = vec![0; n];
                    plan.mul_prepared(&mut c, &fa, &fb, &bs);
                    plan.inverse(&mut c);
                    assert_eq!(c, want, "{backend} {red:?} seed {seed:#x} q {q} n {n}");
                    // acc = 0 + a⊙b, then + a⊙b again: twice the product.
                    let mut acc = vec![0; n];
                    plan.mul_acc_prepared(&mut acc, &fa, &fb, &bs);
                    plan.mul_acc_prepared(&mut acc, &fa, &fb, &bs);
                    plan.inverse(&mut acc);
                    let twice: Vec<u64> = want.iter().map(|&w| (2 * w) % q).collect();
                    assert_eq!(acc, twice, "{backend} mul_acc seed {seed:#x} q {q} n {n}");
                }
            }
        }
    }
}

/// IFMA52 and avx2's Fp52 against their scalar references and the 64-bit Shoup plan, bit for
/// bit, on random inputs for every n in 256..=8192 (and 16384, 32768 for the primes that have
/// the roots): forward, inverse, prepare, mul_prepared, mul_acc_prepared.
#[test]
fn shoup52_ifma_bit_exact_against_scalar() {
    for (red, simd) in REDUCTIONS_52 {
        if simd_runs(red, simd) {
            bit_exact_52(red, simd);
        } else {
            report_skip_of("shoup52_ifma_bit_exact_against_scalar", red);
        }
    }
}

fn bit_exact_52(red: Reduction, simd: Backend) {
    for seed in seeds() {
        let mut rng = TestRng::new(seed);
        for q in shoup52_primes() {
            for log_n in 8..=15 {
                let n = 1 << log_n;
                if (q - 1) % (2 * n as u64) != 0 {
                    continue;
                }
                let s = NttPlan64::with_backend(n, q, Backend::Scalar, red).unwrap();
                let p = NttPlan64::with_backend(n, q, simd, red).unwrap();
                let s64 = NttPlan64::with_backend(n, q, Backend::Scalar, Reduction::Shoup).unwrap();
                let ctx = format!("{red:?} seed {seed:#x} q {q} n {n}");
                // Forward from lazy inputs in [0, 4q).
                let a = rng.vec_below(n, 4 * q);
                let (mut x, mut y, mut z) = (a.clone(), a.clone(), a.clone());
                s.forward(&mut x);
                p.forward(&mut y);
                s64.forward(&mut z);
                assert_eq!(x, y, "forward {ctx}");
                assert_eq!(x, z, "forward vs 64-bit Shoup {ctx}");
                // Inverse from lazy inputs in [0, 2q).
                let e = rng.vec_below(n, 2 * q);
                let (mut x, mut y, mut z) = (e.clone(), e.clone(), e.clone());
                s.inverse(&mut x);
                p.inverse(&mut y);
                s64.inverse(&mut z);
                assert_eq!(x, y, "inverse {ctx}");
                assert_eq!(x, z, "inverse vs 64-bit Shoup {ctx}");
                // Prepared products; a up to 2^52 − 1 (the documented limit).
                let a = rng.vec_below(n, 1 << 52);
                let b = rng.vec_below(n, q);
                let bs = s.prepare(&b);
                assert_eq!(p.prepare(&b), bs, "prepare {ctx}");
                let (mut o1, mut o2) = (vec![0; n], vec![0; n]);
                s.mul_prepared(&mut o1, &a, &b, &bs);
                p.mul_prepared(&mut o2, &a, &b, &bs);
                assert_eq!(o1, o2, "mul_prepared {ctx}");
                let m = s.modulus();
                assert!(o1
                    .iter()
                    .zip(&a)
                    .zip(&b)
                    .all(|((&o, &x), &y)| o == m.mul(x % q, y)));
                let mut acc1 = rng.vec_below(n, q);
                let mut acc2 = acc1.clone();
                s.mul_acc_prepared(&mut acc1, &a, &b, &bs);
                p.mul_acc_prepared(&mut acc2, &a, &b, &bs);
                assert_eq!(acc1, acc2, "mul_acc_prepared {ctx}");
            }
        }
    }
}

/// Edge values through every Shoup52 and Fp52 kernel: 0, q − 1, and the lazy maxima (4q − 1
/// into the forward transform, 2q − 1 into the inverse, 2^52 − 1 into the prepared product).
#[test]
fn shoup52_edge_values() {
    for (red, simd) in REDUCTIONS_52 {
        edge_values_52(red, &backends_52("shoup52_edge_values", red, simd));
    }
}

fn edge_values_52(red: Reduction, backends: &[Backend]) {
    for q in shoup52_primes() {
        for n in [256usize, 4096] {
            let r64 = NttPlan64::with_backend(n, q, Backend::Scalar, Reduction::Shoup).unwrap();
            for &backend in backends {
                let p = NttPlan64::with_backend(n, q, backend, red).unwrap();
                let ctx = format!("{backend} {red:?} q {q} n {n}");
                for fill in [0, q - 1, 4 * q - 1, 2 * q - 1] {
                    let mut alt = vec![fill; n];
                    for (i, v) in alt.iter_mut().enumerate() {
                        if i % 3 == 1 {
                            *v = q - 1;
                        }
                    }
                    for v in [vec![fill; n], alt] {
                        let (mut x, mut want) = (v.clone(), v.clone());
                        p.forward(&mut x);
                        r64.forward(&mut want);
                        assert_eq!(x, want, "forward fill {fill} {ctx}");
                        if fill < 2 * q {
                            let (mut x, mut want) = (v.clone(), v.clone());
                            p.inverse(&mut x);
                            r64.inverse(&mut want);
                            assert_eq!(x, want, "inverse fill {fill} {ctx}");
                        }
                    }
                }
                let m = p.modulus();
                for (av, bv) in [
                    (0, q - 1),
                    (q - 1, 0),
                    (q - 1, q - 1),
                    (4 * q - 1, q - 1),
                    ((1 << 52) - 1, q - 1),
                    ((1 << 52) - 1, 1),
                ] {
                    let (a, b) = (vec![av; n], vec![bv; n]);
                    let bs = p.prepare(&b);
                    let mut o = vec![0; n];
                    p.mul_prepared(&mut o, &a, &b, &bs);
                    let want = m.mul(av % q, bv);
                    assert!(o.iter().all(|&v| v == want), "mul_prepared {av}·{bv} {ctx}");
                    let mut acc = vec![q - 1; n];
                    p.mul_acc_prepared(&mut acc, &a, &b, &bs);
                    let want = m.add(q - 1, want);
                    assert!(acc.iter().all(|&v| v == want), "mul_acc {av}·{bv} {ctx}");
                }
            }
        }
    }
}

/// Where Shoup52 is refused (typed errors) and where `try_new` picks it.
#[test]
fn shoup52_availability() {
    let q49 = ntt_primes(49, 1 << 14, 1)[0];
    let q60 = ntt_primes(60, 1 << 14, 1)[0];
    assert!(matches!(
        NttPlan64::with_backend(1024, q60, Backend::Scalar, Reduction::Shoup52),
        Err(KernelError::ModulusTooLarge { max_bits: 50, .. })
    ));
    // The largest NTT prime below 2^50 is accepted.
    let q50 = ntt_primes(50, 2048, 1)[0];
    assert!(NttPlan64::with_backend(1024, q50, Backend::Scalar, Reduction::Shoup52).is_ok());
    let q32 = ntt_primes(30, 1 << 14, 1)[0];
    let e = NttPlan32::with_backend(1024, q32, Backend::Scalar, Reduction::Shoup52).unwrap_err();
    assert!(matches!(e, KernelError::ReductionUnavailable { .. }), "{e}");
    for backend in [Backend::Avx2, Backend::Neon] {
        if backend.is_available() {
            let e = NttPlan64::with_backend(1024, q49, backend, Reduction::Shoup52).unwrap_err();
            assert!(e.to_string().contains("shoup52"), "{e}");
        }
    }
    assert_eq!(
        NttPlan64::default_reduction(Backend::Neon, q49),
        Reduction::Shoup
    );
    // Fp52: avx2 and scalar, u64 plans, q < 2^50; try_new takes it on avx2.
    assert_eq!(
        NttPlan64::default_reduction(Backend::Avx2, q49),
        Reduction::Fp52
    );
    assert_eq!(
        NttPlan64::default_reduction(Backend::Avx2, q60),
        Reduction::Shoup
    );
    assert_eq!(
        NttPlan64::default_reduction(Backend::Scalar, q49),
        Reduction::Shoup
    );
    assert!(matches!(
        NttPlan64::with_backend(1024, q60, Backend::Scalar, Reduction::Fp52),
        Err(KernelError::ModulusTooLarge { max_bits: 50, .. })
    ));
    let e = NttPlan32::with_backend(1024, q32, Backend::Scalar, Reduction::Fp52).unwrap_err();
    assert!(matches!(e, KernelError::ReductionUnavailable { .. }), "{e}");
    for backend in [Backend::Avx512, Backend::Neon] {
        let e = NttPlan64::check_reduction(backend, Reduction::Fp52, q49).unwrap_err();
        assert!(e.to_string().contains("fp52"), "{e}");
    }
    let avx512_52 = NttPlan64::with_backend(1024, q49, Backend::Avx512, Reduction::Shoup52);
    if cpu::has_avx512ifma() {
        assert_eq!(avx512_52.unwrap().reduction(), Reduction::Shoup52);
        assert_eq!(
            NttPlan64::default_reduction(Backend::Avx512, q49),
            Reduction::Shoup52
        );
    } else {
        assert!(avx512_52.is_err());
        assert_eq!(
            NttPlan64::default_reduction(Backend::Avx512, q49),
            Reduction::Shoup
        );
        report_skip("shoup52_availability");
    }
    assert_eq!(
        NttPlan64::default_reduction(Backend::Avx512, q60),
        Reduction::Shoup
    );
    assert_eq!(
        NttPlan32::default_reduction(Backend::Avx512, q32),
        Reduction::Shoup
    );
    let plan = NttPlan64::try_new(1024, q49).unwrap();
    assert_eq!(
        plan.reduction(),
        NttPlan64::default_reduction(plan.backend(), q49)
    );
}
