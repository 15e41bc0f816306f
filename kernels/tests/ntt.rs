//! NTT plans against the O(n²) negacyclic product, and every backend against scalar.
use kernels::ntt::{automorphism_ntt_table, NttPlan32, NttPlan64, Reduction};
use kernels::prime::ntt_primes;
use kernels::testing::{negacyclic_mul_naive, TestRng};
use kernels::{Backend, KernelError};

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
                for red in Reduction::ALL {
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
                let plan = NttPlan64::with_backend(n, q, Backend::Scalar, red).unwrap();
                let mut x = a.clone();
                plan.forward(&mut x);
                assert!(x.iter().all(|&v| v < q));
                outs.push(x.clone());
                plan.inverse(&mut x);
                assert_eq!(x, a, "roundtrip q {q} n {n} {red:?}");
            }
            assert_eq!(outs[0], outs[1]);
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
