//! Tests of the scheme against plaintext arithmetic mod p, on every parameter set.
//!
//! Randomised tests run once with a fixed seed and once with a fresh one; the seed is printed
//! (shown by the test harness on failure) so a failure can be replayed.
#![allow(clippy::needless_range_loop)]
use super::params::{ParamSpec, ERROR_BOUND};
use super::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;
use zeroize::Zeroize;

fn seeds() -> [u64; 2] {
    let mut fresh = [0u8; 8];
    ChaCha20Rng::from_os_rng().fill_bytes(&mut fresh);
    [0x6a7e_11e5_0000_0001, u64::from_le_bytes(fresh)]
}

fn rng_for(seed: u64, what: &str) -> ChaCha20Rng {
    eprintln!("{what}: seed {seed:#018x}");
    ChaCha20Rng::seed_from_u64(seed)
}

fn all_params() -> Vec<Arc<Parameters>> {
    ParamSetId::ALL
        .iter()
        .map(|id| id.params().unwrap())
        .collect()
}

fn random_slots(params: &Parameters, rng: &mut ChaCha20Rng) -> Vec<u64> {
    (0..params.n())
        .map(|_| rng.next_u64() % params.p())
        .collect()
}

fn rotate_plain(params: &Parameters, v: &[u64], step: i64) -> Vec<u64> {
    let h = params.row_size();
    let r = step.rem_euclid(h as i64) as usize;
    let mut out = vec![0; v.len()];
    for row in 0..2 {
        for j in 0..h {
            out[row * h + j] = v[row * h + (j + r) % h];
        }
    }
    out
}

#[test]
fn shipped_parameters_are_valid_and_levels_stated() {
    for id in ParamSetId::ALL {
        let p = id.params().unwrap();
        assert_eq!(p.id(), id);
        assert_eq!(ParamSetId::from_name(id.name()), Some(id));
        for &q in p.moduli() {
            assert!(kernels::prime::is_prime(q));
            assert_eq!(q % (2 * p.n() as u64), 1);
        }
        assert!(kernels::prime::is_prime(p.p()));
        assert_eq!(p.p() % (2 * p.n() as u64), 1);
    }
    let d = ParamSetId::Gazelle4096.params().unwrap();
    assert!(
        d.security().table_bits >= 128,
        "{}",
        d.security().describe()
    );
    assert!(d.security().log2_q <= 109.0);
    let r = ParamSetId::Gazelle2048.params().unwrap();
    assert_eq!(
        r.security().table_bits,
        0,
        "gazelle-2048 must be labelled below 128-bit"
    );
    assert!(r.security().estimate_bits < 128.0);
    assert!(r.security().describe().contains("below 128-bit"));
}

#[test]
fn inconsistent_parameters_are_rejected() {
    let good = ParamSetId::Gazelle4096.spec();
    let bad = [
        ParamSpec {
            n: 3000,
            ..good.clone()
        },
        ParamSpec {
            moduli: vec![],
            ..good.clone()
        },
        ParamSpec {
            moduli: vec![good.moduli[0]; 2],
            ..good.clone()
        },
        ParamSpec {
            moduli: vec![good.moduli[0] + 2],
            ..good.clone()
        },
        ParamSpec {
            p: 12289,
            ..good.clone()
        }, // ≢ 1 mod 8192
        ParamSpec {
            p: 1032195,
            ..good.clone()
        }, // not prime
        ParamSpec {
            decomp_bits: 0,
            ..good.clone()
        },
        // p above a q_i (40961 ≡ 1 mod 8192 is prime): decryption's scaling needs p < q_i.
        ParamSpec {
            moduli: vec![good.moduli[0], 40961],
            ..good.clone()
        },
        // A special prime needs digit width 0 …
        ParamSpec {
            special: Some(1152921504606830593),
            ..good.clone()
        },
        // … must exceed every q_i …
        ParamSpec {
            special: Some(ParamSetId::Gazelle8192Hybrid.spec().moduli[0] - 16384),
            ..ParamSetId::Gazelle8192Hybrid.spec()
        },
        // … and must not repeat a q_i.
        ParamSpec {
            moduli: vec![good.moduli[0], 1152921504606830593],
            special: Some(1152921504606830593),
            decomp_bits: 0,
            ..good.clone()
        },
    ];
    for spec in bad {
        assert!(
            matches!(
                Parameters::new(spec.clone()),
                Err(HeError::InvalidParameters { .. })
            ),
            "{spec:?} accepted"
        );
    }
    assert!(Parameters::new(good).is_ok());
}

#[test]
fn encodings_round_trip() {
    for params in all_params() {
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let v = random_slots(&params, &mut rng);
            let pt = Plaintext::encode_slots(&params, &v).unwrap();
            assert_eq!(pt.decode_slots(), v);
            let pt = Plaintext::encode_coeffs(&params, &v).unwrap();
            assert_eq!(pt.coeffs(), &v[..]);
            let short = Plaintext::encode_slots(&params, &v[..10])
                .unwrap()
                .decode_slots();
            assert_eq!(&short[..10], &v[..10]);
            assert!(short[10..].iter().all(|&x| x == 0));
        }
        let too_long = vec![0u64; params.n() + 1];
        assert!(matches!(
            Plaintext::encode_slots(&params, &too_long),
            Err(HeError::InvalidLength { .. })
        ));
        assert!(matches!(
            Plaintext::encode_slots(&params, &[params.p()]),
            Err(HeError::ValueOutOfRange { .. })
        ));
    }
}

#[test]
fn encrypt_decrypt_and_fresh_noise_bound() {
    for params in all_params() {
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let v = random_slots(&params, &mut rng);
            let ct = sk
                .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
                .unwrap();
            assert!(ct.is_seeded());
            assert_eq!(sk.decrypt(&ct).unwrap().decode_slots(), v);
            let m = sk.noise(&ct).unwrap();
            assert!((m.max_abs as f64) <= NoiseBound::fresh().value(), "{m:?}");
            assert!(m.max_abs >= 10, "fresh noise suspiciously small: {m:?}");
        }
    }
}

#[test]
fn additive_ops_match_plaintext_arithmetic() {
    for params in all_params() {
        let p = params.p();
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let a = random_slots(&params, &mut rng);
            let b = random_slots(&params, &mut rng);
            let c = random_slots(&params, &mut rng);
            let (pa, pb, pc) = (
                Plaintext::encode_slots(&params, &a).unwrap(),
                Plaintext::encode_slots(&params, &b).unwrap(),
                Plaintext::encode_slots(&params, &c).unwrap(),
            );
            let ca = sk.encrypt(&pa, &mut rng).unwrap();
            let cb = sk.encrypt(&pb, &mut rng).unwrap();
            let sum = ca.add(&cb).unwrap();
            let diff = ca.sub(&cb).unwrap();
            let neg = ca.neg();
            let mut plus_pt = ca.clone();
            plus_pt.add_plain_assign(&pc).unwrap();
            assert!(plus_pt.is_seeded(), "adding a plaintext keeps c1");
            let mut minus_pt = ca.clone();
            minus_pt.sub_plain_assign(&pc).unwrap();
            let dec = |ct: &Ciphertext| sk.decrypt(ct).unwrap().decode_slots();
            let expect = |f: &dyn Fn(usize) -> u64| (0..params.n()).map(f).collect::<Vec<_>>();
            assert_eq!(dec(&sum), expect(&|i| (a[i] + b[i]) % p));
            assert_eq!(dec(&diff), expect(&|i| (a[i] + p - b[i]) % p));
            assert_eq!(dec(&neg), expect(&|i| (p - a[i]) % p));
            assert_eq!(dec(&plus_pt), expect(&|i| (a[i] + c[i]) % p));
            assert_eq!(dec(&minus_pt), expect(&|i| (a[i] + p - c[i]) % p));
            let bound = NoiseBound::fresh().add_ct(NoiseBound::fresh());
            assert!((sk.noise(&sum).unwrap().max_abs as f64) <= bound.value());
            assert!(
                (sk.noise(&plus_pt).unwrap().max_abs as f64)
                    <= NoiseBound::fresh().add_plain().value()
            );
        }
    }
}

#[test]
fn ct_pt_products_match_plaintext_arithmetic() {
    for params in all_params() {
        let p = params.p();
        let n = params.n();
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let a = random_slots(&params, &mut rng);
            let w = random_slots(&params, &mut rng);
            let ca = sk
                .encrypt(&Plaintext::encode_slots(&params, &a).unwrap(), &mut rng)
                .unwrap();
            let pw = PreparedPlaintext::new(&Plaintext::encode_slots(&params, &w).unwrap());
            let prod = ca.mul_plain(&pw).unwrap();
            let want: Vec<u64> = (0..n).map(|i| a[i] * w[i] % p).collect();
            assert_eq!(sk.decrypt(&prod).unwrap().decode_slots(), want);
            let bound = NoiseBound::fresh().mul_plain(&pw);
            assert!((sk.noise(&prod).unwrap().max_abs as f64) <= bound.value());
            let mut acc = Ciphertext::zero(&params, params.max_level()).unwrap();
            acc.mul_plain_acc(&ca, &pw).unwrap();
            acc.mul_plain_acc(&ca, &pw).unwrap();
            let want2: Vec<u64> = want.iter().map(|&x| 2 * x % p).collect();
            assert_eq!(sk.decrypt(&acc).unwrap().decode_slots(), want2);

            // Coefficient encoding: the product is the negacyclic convolution mod p.
            let x: Vec<u64> = (0..n).map(|_| rng.next_u64() % p).collect();
            let y: Vec<u64> = (0..n).map(|_| rng.next_u64() % 256).collect();
            let cx = sk
                .encrypt(&Plaintext::encode_coeffs(&params, &x).unwrap(), &mut rng)
                .unwrap();
            let py = PreparedPlaintext::new(&Plaintext::encode_coeffs(&params, &y).unwrap());
            let got = sk.decrypt(&cx.mul_plain(&py).unwrap()).unwrap();
            let mut want = vec![0u64; n];
            for i in 0..n {
                for j in 0..n {
                    let t = x[i] * y[j] % p;
                    let k = i + j;
                    if k < n {
                        want[k] = (want[k] + t) % p;
                    } else {
                        want[k - n] = (want[k - n] + p - t) % p;
                    }
                }
            }
            assert_eq!(got.coeffs(), &want[..]);
        }
    }
}

/// `ProductSum` (double-precision accumulation) gives the ciphertext `mul_plain_acc` gives,
/// bit for bit, over 20 products (across the reductions every `FLOAT_TERMS`), where every
/// prime is below 2^50; elsewhere it is unavailable.
#[test]
fn product_sum_equals_mul_plain_acc() {
    let mut ran = 0;
    for params in all_params() {
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let level = params.max_level();
            let ct = sk
                .encrypt(
                    &Plaintext::encode_slots(&params, &random_slots(&params, &mut rng)).unwrap(),
                    &mut rng,
                )
                .unwrap();
            let Some(mut sum) = ProductSum::new(&params, level) else {
                assert!(FloatCiphertext::new(&ct).is_none());
                assert!(params.moduli().iter().any(|&q| q >= 1 << 50));
                continue;
            };
            let fct = FloatCiphertext::new(&ct).unwrap();
            let mut want = Ciphertext::zero(&params, level).unwrap();
            // Packed (where the kernels allow) and unpacked multiplicands: the same sums.
            let mut unpacked_sum = ProductSum::new(&params, level).unwrap();
            let mut unpacked_want = Ciphertext::zero(&params, level).unwrap();
            for _ in 0..20 {
                let v = random_slots(&params, &mut rng);
                let encoded = Plaintext::encode_slots(&params, &v).unwrap();
                let pt = PreparedPlaintext::new(&encoded);
                assert!(pt.is_compact());
                want.mul_plain_acc(&ct, &pt).unwrap();
                sum.mul_plain_acc(&fct, &pt).unwrap();
                let up = PreparedPlaintext::new_unpacked(&encoded);
                assert!(!up.is_packed() && up.is_compact());
                if pt.is_packed() {
                    assert!(pt.memory_bytes() * 10 < up.memory_bytes() * 8);
                }
                unpacked_want.mul_plain_acc(&ct, &up).unwrap();
                unpacked_sum.mul_plain_acc(&fct, &up).unwrap();
            }
            assert_eq!(unpacked_want, want, "{}", params.name());
            assert_eq!(unpacked_sum.finish(), want, "{}", params.name());
            assert_eq!(sum.finish(), want, "{}", params.name());
            ran += 1;
        }
    }
    assert!(ran > 0, "the default set has double-precision products");
}

/// A plaintext kept as coefficients (NTT at each use) gives the products of the NTT form bit
/// for bit, on every set, at every level, in every product entry point (including the
/// centering boundaries p/2 and p/2 + 1 and p − 1), in a fraction of the memory.
#[test]
fn coefficient_plaintexts_give_the_same_products() {
    for params in all_params() {
        let p = params.p();
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let gk = GaloisKeys::for_steps(&sk, &[3], false, &mut rng).unwrap();
            let ct = sk
                .encrypt(
                    &Plaintext::encode_slots(&params, &random_slots(&params, &mut rng)).unwrap(),
                    &mut rng,
                )
                .unwrap();
            let edges: Vec<u64> = (0..params.n())
                .map(|i| [p / 2, p / 2 + 1, p - 1, 0, 1, p / 2 - 1][i % 6])
                .collect();
            let plaintexts = [
                Plaintext::encode_coeffs(&params, &edges).unwrap(),
                Plaintext::encode_slots(&params, &random_slots(&params, &mut rng)).unwrap(),
                Plaintext::encode_slots(&params, &random_slots(&params, &mut rng)).unwrap(),
            ];
            let mut cts = vec![ct.clone()];
            if ct.level() > 1 {
                cts.push(ct.mod_switch_down().unwrap());
            }
            for ct in &cts {
                let level = ct.level();
                let mut want = Ciphertext::zero(&params, level).unwrap();
                let mut got = Ciphertext::zero(&params, level).unwrap();
                let mut rot_want = Ciphertext::zero(&params, level).unwrap();
                let mut rot_got = Ciphertext::zero(&params, level).unwrap();
                let fct = FloatCiphertext::new(ct);
                let mut sums = ProductSum::new(&params, level).zip(ProductSum::new(&params, level));
                for encoded in &plaintexts {
                    let ntt = PreparedPlaintext::new(encoded);
                    let coeffs = PreparedPlaintext::new_coefficients(encoded);
                    assert!(coeffs.is_coefficients());
                    assert_eq!(coeffs.l1_norm(), ntt.l1_norm());
                    assert_eq!(coeffs.is_compact(), ntt.is_compact());
                    assert_eq!(
                        coeffs.memory_bytes(),
                        PreparedPlaintext::coefficient_bytes(&params)
                    );
                    assert_eq!(ntt.memory_bytes(), PreparedPlaintext::ntt_bytes(&params));
                    assert!(coeffs.memory_bytes() * 4 < ntt.memory_bytes());
                    assert_eq!(
                        ct.mul_plain(&coeffs).unwrap(),
                        ct.mul_plain(&ntt).unwrap(),
                        "{} level {level}",
                        params.name()
                    );
                    want.mul_plain_acc(ct, &ntt).unwrap();
                    got.mul_plain_acc(ct, &coeffs).unwrap();
                    let h = Hoisted::new(ct).unwrap();
                    h.rotate_mul_acc(&gk, 3, &ntt, &mut rot_want).unwrap();
                    h.rotate_mul_acc(&gk, 3, &coeffs, &mut rot_got).unwrap();
                    if let (Some((a, b)), Some(f)) = (sums.as_mut(), &fct) {
                        a.mul_plain_acc(f, &ntt).unwrap();
                        b.mul_plain_acc(f, &coeffs).unwrap();
                    }
                }
                assert_eq!(got, want, "{} level {level}", params.name());
                assert_eq!(rot_got, rot_want, "{} level {level}", params.name());
                if let (Some((a, b)), Some(_)) = (&sums, &fct) {
                    assert_eq!(b.finish(), a.finish(), "{} level {level}", params.name());
                    assert_eq!(a.finish(), want, "{} level {level}", params.name());
                }
            }
        }
    }
}

/// A `RotationSum` (one division by P per sum) decrypts to the sum of the rotations, within
/// the noise bound of the rotations summed one by one, on every set; plain ciphertexts,
/// identity rotations, merges and the empty sum included; other levels are refused.
#[test]
fn rotation_sum_matches_the_sum_of_rotations() {
    for params in all_params() {
        let p = params.p();
        let steps: Vec<i64> = vec![1, 2, 3, 7, -5];
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let gk = GaloisKeys::for_steps(&sk, &steps, false, &mut rng).unwrap();
            let encrypt = |rng: &mut ChaCha20Rng| {
                let v = random_slots(&params, rng);
                let ct = sk
                    .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), rng)
                    .unwrap();
                (v, ct)
            };
            let level = params.max_level();
            let (mut first, mut second) = (
                RotationSum::new(&params, level),
                RotationSum::new(&params, level),
            );
            let mut want = vec![0u64; params.n()];
            let mut bound = NoiseBound::zero();
            let mut add_want = |v: &[u64]| {
                for (w, x) in want.iter_mut().zip(v) {
                    *w = (*w + x) % p;
                }
            };
            for (i, &s) in steps.iter().chain(&[0]).enumerate() {
                let (v, ct) = encrypt(&mut rng);
                let half = if i % 2 == 0 { &mut first } else { &mut second };
                half.add_galois(&gk, &ct, params.galois_element_for_step(s))
                    .unwrap();
                add_want(&rotate_plain(&params, &v, s));
                bound = bound.add_ct(NoiseBound::fresh().rotate(&params, level));
            }
            let (v, ct) = encrypt(&mut rng);
            second.add(&ct).unwrap();
            add_want(&v);
            bound = bound.add_ct(NoiseBound::fresh());
            first.merge(second).unwrap();
            let sum = first.finish().unwrap();
            assert_eq!(sk.decrypt(&sum).unwrap().decode_slots(), want);
            let m = sk.noise(&sum).unwrap();
            assert!((m.max_abs as f64) <= bound.value(), "{m:?} > {bound:?}");
            // The empty sum is an encryption of zero.
            let zero = RotationSum::new(&params, level).finish().unwrap();
            assert!(sk
                .decrypt(&zero)
                .unwrap()
                .decode_slots()
                .iter()
                .all(|&x| x == 0));
            // A ciphertext at another level is refused.
            if level > 1 {
                let low = ct.mod_switch_down().unwrap();
                let mut s = RotationSum::new(&params, level);
                assert!(s.add(&low).is_err());
                assert!(s
                    .add_galois(&gk, &low, params.galois_element_for_step(1))
                    .is_err());
            }
        }
    }
}

#[test]
fn rotations_and_row_swap_match_plaintext_and_hoisting_agrees() {
    for params in all_params() {
        let h = params.row_size() as i64;
        let steps: Vec<i64> = vec![1, 2, 3, 7, 64, h - 1, -1, -5];
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let gk = GaloisKeys::for_steps(&sk, &steps, true, &mut rng).unwrap();
            let v = random_slots(&params, &mut rng);
            let ct = sk
                .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
                .unwrap();
            let hoisted = Hoisted::new(&ct).unwrap();
            let bound = NoiseBound::fresh().rotate(&params, ct.level());
            for &s in &steps {
                let r = gk.rotate_rows(&ct, s).unwrap();
                let want = rotate_plain(&params, &v, s);
                assert_eq!(sk.decrypt(&r).unwrap().decode_slots(), want, "step {s}");
                let m = sk.noise(&r).unwrap();
                assert!(
                    (m.max_abs as f64) <= bound.value(),
                    "step {s}: {m:?} > {bound:?}"
                );
                let rh = hoisted.rotate_rows(&gk, s).unwrap();
                assert_eq!(
                    sk.decrypt(&rh).unwrap().decode_slots(),
                    want,
                    "hoisted step {s}"
                );
                assert_eq!(rh, r, "hoisted and plain rotations must agree exactly");
            }
            // Step 0 needs no key; a step without a key is a typed error.
            assert_eq!(
                sk.decrypt(&gk.rotate_rows(&ct, 0).unwrap())
                    .unwrap()
                    .decode_slots(),
                v
            );
            assert!(matches!(
                gk.rotate_rows(&ct, 11),
                Err(HeError::MissingGaloisKey { .. })
            ));
            let sw = gk.swap_rows(&ct).unwrap();
            let hs = h as usize;
            let want: Vec<u64> = v[hs..].iter().chain(&v[..hs]).copied().collect();
            assert_eq!(sk.decrypt(&sw).unwrap().decode_slots(), want);
            // Composition: rotate then swap.
            let rs = gk.swap_rows(&gk.rotate_rows(&ct, 3).unwrap()).unwrap();
            let r3 = rotate_plain(&params, &v, 3);
            let want: Vec<u64> = r3[hs..].iter().chain(&r3[..hs]).copied().collect();
            assert_eq!(sk.decrypt(&rs).unwrap().decode_slots(), want);
            // Rotation after a modulus switch (fewer primes) works where the noise allows it.
            let low_bound = NoiseBound::fresh()
                .mod_switch(&params, 2)
                .rotate(&params, 1);
            if ct.level() > 1 && low_bound.decrypts(&params, 1) {
                let low = ct.mod_switch_down().unwrap();
                let r = gk.rotate_rows(&low, 1).unwrap();
                assert_eq!(
                    sk.decrypt(&r).unwrap().decode_slots(),
                    rotate_plain(&params, &v, 1)
                );
            }
        }
    }
}

#[test]
fn any_step_by_power_of_two_composition() {
    let params = ParamSetId::Gazelle2048.params().unwrap();
    let h = params.row_size() as i64;
    for seed in seeds() {
        let mut rng = rng_for(seed, params.name());
        let sk = SecretKey::generate(&params, &mut rng);
        let gk = GaloisKeys::power_of_two(&sk, &mut rng).unwrap();
        let v = random_slots(&params, &mut rng);
        let ct = sk
            .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
            .unwrap();
        for step in [
            0,
            1,
            3,
            7,
            11,
            100,
            h - 3,
            -13,
            (rng.next_u64() % h as u64) as i64,
        ] {
            let plan = gk.rotation_plan(step).unwrap();
            assert_eq!(plan.iter().sum::<i64>().rem_euclid(h), step.rem_euclid(h));
            assert!(
                plan.len() <= (h.trailing_zeros() as usize).div_ceil(2) + 1,
                "{plan:?}"
            );
            let r = gk.rotate_rows_any(&ct, step).unwrap();
            assert_eq!(
                sk.decrypt(&r).unwrap().decode_slots(),
                rotate_plain(&params, &v, step),
                "step {step}"
            );
            let mut bound = NoiseBound::fresh();
            for _ in &plan {
                bound = bound.rotate(&params, 1);
            }
            assert!((sk.noise(&r).unwrap().max_abs as f64) <= bound.value());
        }
    }
}

#[test]
fn modulus_switch_keeps_message_and_obeys_bound() {
    for params in all_params().into_iter().filter(|p| p.max_level() > 1) {
        for seed in seeds() {
            let mut rng = rng_for(seed, params.name());
            let sk = SecretKey::generate(&params, &mut rng);
            let v = random_slots(&params, &mut rng);
            let w = random_slots(&params, &mut rng);
            let ct = sk
                .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
                .unwrap();
            let pw = PreparedPlaintext::new(&Plaintext::encode_slots(&params, &w).unwrap());
            let prod = ct.mul_plain(&pw).unwrap();
            let top = params.max_level();
            let mut bound = NoiseBound::fresh().mul_plain(&pw);
            let mut low = prod.clone();
            for l in (1..top).rev() {
                let next = low.mod_switch_down().unwrap();
                assert_eq!(next.level(), l);
                assert_eq!(sk.decrypt(&next).unwrap(), sk.decrypt(&prod).unwrap());
                bound = bound.mod_switch(&params, l + 1);
                assert!((sk.noise(&next).unwrap().max_abs as f64) <= bound.value());
                assert!(next.serialized_len() < low.serialized_len());
                low = next;
            }
            assert!(matches!(
                low.mod_switch_down(),
                Err(HeError::LevelTooLow { .. })
            ));
        }
    }
}

/// The largest layer of the five networks: 64 input channels × 3×3 kernel = 576 ct×pt products
/// of 8-bit activations and 8-bit weights, then an output rotation, the mask, and flooding.
#[test]
fn largest_layer_chain_noise_within_bounds_and_floods() {
    for id in [
        ParamSetId::Gazelle4096,
        ParamSetId::Gazelle4096Fast,
        ParamSetId::Gazelle8192,
    ] {
        let params = id.params().unwrap();
        let (n, p) = (params.n(), params.p());
        let mut rng = rng_for(seeds()[1], params.name());
        let sk = SecretKey::generate(&params, &mut rng);
        let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng).unwrap();
        let pk = PublicKey::generate(&sk, &mut rng);
        let mut acc = Ciphertext::zero(&params, 2).unwrap();
        let mut bound = NoiseBound::zero();
        let mut want = vec![0u64; n];
        for _ in 0..576 {
            let x: Vec<u64> = (0..n).map(|_| rng.next_u64() % 256).collect();
            let w: Vec<i64> = (0..n)
                .map(|_| (rng.next_u64() % 256) as i64 - 128)
                .collect();
            let ct = sk
                .encrypt(&Plaintext::encode_slots(&params, &x).unwrap(), &mut rng)
                .unwrap();
            let pw = PreparedPlaintext::new(&Plaintext::encode_slots_signed(&params, &w).unwrap());
            acc.mul_plain_acc(&ct, &pw).unwrap();
            bound = bound.add_ct(NoiseBound::fresh().mul_plain(&pw));
            for i in 0..n {
                want[i] = (want[i] + x[i] * (w[i].rem_euclid(p as i64) as u64)) % p;
            }
        }
        let m = sk.noise(&acc).unwrap();
        assert!((m.max_abs as f64) <= bound.value(), "{m:?} > {bound:?}");
        let rot = gk.rotate_rows(&acc, 1).unwrap();
        bound = bound.rotate(&params, 2);
        let mask: Vec<u64> = (0..n).map(|_| rng.next_u64() % p).collect();
        let mut masked = rot;
        masked
            .add_plain_assign(&Plaintext::encode_slots(&params, &mask).unwrap())
            .unwrap();
        bound = bound.add_plain();
        let m = sk.noise(&masked).unwrap();
        assert!((m.max_abs as f64) <= bound.value(), "{m:?} > {bound:?}");
        assert!(bound.decrypts(&params, 2));
        let expect: Vec<u64> = rotate_plain(&params, &want, 1)
            .iter()
            .zip(&mask)
            .map(|(&a, &r)| (a + r) % p)
            .collect();
        assert_eq!(sk.decrypt(&masked).unwrap().decode_slots(), expect);
        eprintln!(
            "{}: chain bound 2^{:.1}, measured 2^{:.1}",
            id.name(),
            bound.bits(),
            m.bits()
        );
        for switch in [false, true] {
            let (reply, rep) = pk.make_private(&masked, bound, switch, &mut rng).unwrap();
            assert_eq!(
                sk.decrypt(&reply).unwrap().decode_slots(),
                expect,
                "switch {switch}"
            );
            let mr = sk.noise(&reply).unwrap();
            assert!((mr.max_abs as f64) <= rep.noise_after.value());
            assert!(rep.noise_after.decrypts(&params, rep.limbs));
            eprintln!(
                "{}: switch {switch}: flood 2^{:.1}, SD ≤ 2^{:.1}, reply {} bytes, noise 2^{:.1}",
                id.name(),
                rep.flood_bound.log2(),
                rep.statistical_distance_log2,
                reply.serialized_len(),
                mr.bits()
            );
            if id == ParamSetId::Gazelle4096 {
                // The default set floods with 40+ bits above the worst-case noise.
                assert!(rep.flood_bound.log2() > bound.bits() + 40.0);
            }
            if id == ParamSetId::Gazelle8192 {
                // Whole-ciphertext statistical distance ≤ 2^−40 from the worst-case bound.
                assert!(rep.statistical_distance_log2 <= -40.0);
            }
        }
    }
}

/// Input rotations (Gazelle's convolution rotates the input before multiplying): 64 inputs,
/// 9 hoisted rotations each, 576 products. The worst-case bound still decrypts at the default
/// set (though it leaves no room for flooding; see the module docs).
#[test]
fn input_rotation_chain_within_bounds() {
    let params = ParamSetId::Gazelle4096.params().unwrap();
    let (n, p) = (params.n(), params.p());
    let mut rng = rng_for(seeds()[1], params.name());
    let sk = SecretKey::generate(&params, &mut rng);
    let steps: Vec<i64> = (1..=8).collect();
    let gk = GaloisKeys::for_steps(&sk, &steps, false, &mut rng).unwrap();
    let mut acc = Ciphertext::zero(&params, 2).unwrap();
    let mut bound = NoiseBound::zero();
    let mut want = vec![0u64; n];
    for _ in 0..64 {
        let x: Vec<u64> = (0..n).map(|_| rng.next_u64() % 256).collect();
        let ct = sk
            .encrypt(&Plaintext::encode_slots(&params, &x).unwrap(), &mut rng)
            .unwrap();
        let h = Hoisted::new(&ct).unwrap();
        for s in 0..9i64 {
            let w: Vec<i64> = (0..n)
                .map(|_| (rng.next_u64() % 256) as i64 - 128)
                .collect();
            let pw = PreparedPlaintext::new(&Plaintext::encode_slots_signed(&params, &w).unwrap());
            let r = h.rotate_rows(&gk, s).unwrap();
            acc.mul_plain_acc(&r, &pw).unwrap();
            let rb = if s == 0 {
                NoiseBound::fresh()
            } else {
                NoiseBound::fresh().rotate(&params, 2)
            };
            bound = bound.add_ct(rb.mul_plain(&pw));
            let xr = rotate_plain(&params, &x, s);
            for i in 0..n {
                want[i] = (want[i] + xr[i] * (w[i].rem_euclid(p as i64) as u64)) % p;
            }
        }
    }
    let m = sk.noise(&acc).unwrap();
    eprintln!(
        "input-rotation chain: bound 2^{:.1}, measured 2^{:.1}",
        bound.bits(),
        m.bits()
    );
    assert!((m.max_abs as f64) <= bound.value());
    assert!(bound.decrypts(&params, 2));
    assert_eq!(sk.decrypt(&acc).unwrap().decode_slots(), want);
}

/// Flooding hides the weights: the decrypted noise of the same computation with two very
/// different weight sets is statistically indistinguishable after flooding (two-sample
/// Kolmogorov–Smirnov), while without flooding it is not; and flooded noise fits the simulated
/// distribution, uniform on [−B, B]. At `gazelle-4096` (narrow sampler, at full level) and at
/// the default `gazelle-8192-hybrid` (B ≈ 2^129: the wide sampler, measured after the switch
/// down to one prime, where it is B/(q_1·q_2) plus at most (1 + n)/2 ≈ 2^12 of rounding).
#[test]
fn flooding_makes_noise_independent_of_weights() {
    flooding_gof(ParamSetId::Gazelle4096, false);
    flooding_gof(ParamSetId::Gazelle8192Hybrid, true);
}

#[test]
fn rerandomizer_drawn_ahead_gives_what_make_private_gives_and_fits_only_its_ciphertext() {
    let params = ParamSetId::Gazelle8192Hybrid.params().unwrap();
    let mut rng = rng_for(0x0f10_0d01, params.name());
    let sk = SecretKey::generate(&params, &mut rng);
    let pk = PublicKey::generate(&sk, &mut rng);
    let x: Vec<u64> = (0..params.n() as u64)
        .map(|i| i * 31 % params.p())
        .collect();
    let ct = sk
        .encrypt(&Plaintext::encode_slots(&params, &x).unwrap(), &mut rng)
        .unwrap();
    let bound = NoiseBound::fresh().mul_any_plain(&params);
    let full = params.max_level();
    for switch_down in [false, true] {
        let r = pk.rerandomizer(bound, full, switch_down, &mut rng).unwrap();
        assert_eq!(
            r.flood_bound(),
            PublicKey::flood_bound(&params, bound, full, switch_down).unwrap()
        );
        let (ahead, rep) = pk.make_private_with(&ct, bound, r).unwrap();
        let (now, rep_now) = pk.make_private(&ct, bound, switch_down, &mut rng).unwrap();
        assert_eq!(sk.decrypt(&ahead).unwrap().decode_slots(), x);
        assert_eq!(sk.decrypt(&now).unwrap().decode_slots(), x);
        assert_eq!(
            (rep.limbs, rep.flood_bound),
            (rep_now.limbs, rep_now.flood_bound)
        );
        assert_eq!(rep.limbs, if switch_down { 1 } else { full });
        // The flooding noise is there: far above the fresh ciphertext's.
        assert!(sk.noise(&ahead).unwrap().bits() > sk.noise(&ct).unwrap().bits() + 20.0);
    }
    // Sized for a smaller noise bound, or another level: refused, nothing sent.
    let small = pk
        .rerandomizer(NoiseBound::fresh(), full, true, &mut rng)
        .unwrap();
    assert!(matches!(
        pk.make_private_with(&ct, bound, small),
        Err(HeError::ParameterMismatch { .. })
    ));
    let low = pk.rerandomizer(bound, full - 1, false, &mut rng).unwrap();
    assert!(matches!(
        pk.make_private_with(&ct, bound, low),
        Err(HeError::ParameterMismatch { .. })
    ));
}

fn flooding_gof(set: ParamSetId, switch_down: bool) {
    let params = set.params().unwrap();
    let n = params.n();
    let mut rng = rng_for(0x0f10_0d00, params.name());
    let sk = SecretKey::generate(&params, &mut rng);
    let pk = PublicKey::generate(&sk, &mut rng);
    let x: Vec<u64> = (0..n).map(|_| rng.next_u64() % 256).collect();
    let ones = PreparedPlaintext::new(&Plaintext::encode_coeffs(&params, &[1]).unwrap());
    let wide: Vec<u64> = (0..n).map(|_| rng.next_u64() % params.p()).collect();
    let wide = PreparedPlaintext::new(&Plaintext::encode_slots(&params, &wide).unwrap());
    let mut samples: [Vec<Vec<f64>>; 2] = [vec![], vec![]];
    let bound = NoiseBound::fresh().mul_any_plain(&params);
    for (k, w) in [&ones, &wide].into_iter().enumerate() {
        let ct = sk
            .encrypt(&Plaintext::encode_slots(&params, &x).unwrap(), &mut rng)
            .unwrap();
        let y = ct.mul_plain(w).unwrap();
        let raw: Vec<f64> = sk
            .noise_vector(&y)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let (fl, rep) = pk.make_private(&y, bound, switch_down, &mut rng).unwrap();
        assert_eq!(fl.level(), rep.limbs);
        // The flooding half-width as seen at the reply's level.
        let dropped: f64 = params.moduli()[rep.limbs..y.level()]
            .iter()
            .map(|&q| q as f64)
            .product();
        let scale = rep.flood_bound / dropped;
        assert!(scale > 2f64.powi(20), "{}: {scale}", set.name());
        let flooded: Vec<f64> = sk
            .noise_vector(&fl)
            .unwrap()
            .iter()
            .map(|&v| v as f64 / scale)
            .collect();
        samples[k] = vec![raw, flooded];
    }
    let ks = |a: &[f64], b: &[f64]| {
        let (mut a, mut b) = (a.to_vec(), b.to_vec());
        a.sort_by(|x, y| x.total_cmp(y));
        b.sort_by(|x, y| x.total_cmp(y));
        let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
        while i < a.len() && j < b.len() {
            if a[i] <= b[j] {
                i += 1;
            } else {
                j += 1;
            }
            d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
        }
        d
    };
    // Critical value at α = 10⁻⁴ for two samples of n: c·√(2/n), c = √(−ln(α/2)/2) ≈ 2.23.
    let crit = 2.23 * (2.0 / n as f64).sqrt();
    let raw_d = ks(&samples[0][0], &samples[1][0]);
    let flood_d = ks(&samples[0][1], &samples[1][1]);
    eprintln!(
        "{}: KS raw {raw_d:.4}, flooded {flood_d:.4}, critical {crit:.4}",
        set.name()
    );
    assert!(
        raw_d > crit,
        "the test must be able to tell raw noise apart"
    );
    assert!(
        flood_d < crit,
        "flooded noise distinguishable: D = {flood_d}"
    );
    // And flooded noise is (close to) uniform on [−1, 1].
    let uniform: Vec<f64> = (0..n)
        .map(|i| -1.0 + 2.0 * (i as f64 + 0.5) / n as f64)
        .collect();
    assert!(ks(&samples[1][1], &uniform) < crit);
}

#[test]
fn serialisation_round_trips() {
    for params in all_params() {
        let mut rng = rng_for(seeds()[1], params.name());
        let sk = SecretKey::generate(&params, &mut rng);
        let v = random_slots(&params, &mut rng);
        let ct = sk
            .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
            .unwrap();
        let bytes = ct.to_bytes();
        assert_eq!(bytes.len(), ct.serialized_len());
        let back = Ciphertext::from_bytes(&params, &bytes).unwrap();
        assert_eq!(back, ct);
        // Seeded: one polynomial plus 32 bytes (+ 8 header bytes).
        let bits: usize = params
            .moduli()
            .iter()
            .map(|&q| 64 - q.leading_zeros() as usize)
            .sum();
        assert_eq!(bytes.len(), 8 + 32 + (bits * params.n()).div_ceil(8));
        let full = ct.add(&ct).unwrap();
        let back = Ciphertext::from_bytes(&params, &full.to_bytes()).unwrap();
        assert_eq!(back, full);
        if full.level() > 1 {
            let low = full.mod_switch_down().unwrap();
            assert_eq!(
                Ciphertext::from_bytes(&params, &low.to_bytes()).unwrap(),
                low
            );
        }
        let pk = PublicKey::generate(&sk, &mut rng);
        let pk2 = PublicKey::from_bytes(&params, &pk.to_bytes()).unwrap();
        assert_eq!(pk2.to_bytes(), pk.to_bytes());
        let gk = GaloisKeys::for_steps(&sk, &[1, -1], true, &mut rng).unwrap();
        let gk2 = GaloisKeys::from_bytes(&params, &gk.to_bytes()).unwrap();
        assert_eq!(gk2.elements(), gk.elements());
        let r = gk2.rotate_rows(&ct, -1).unwrap();
        assert_eq!(
            sk.decrypt(&r).unwrap().decode_slots(),
            rotate_plain(&params, &v, -1)
        );
        // Sent in parts (one seed) and merged back: the same keys, the same bytes.
        let els = gk.elements();
        let (first, rest) = els.split_at(1);
        let mut merged =
            GaloisKeys::from_bytes(&params, &gk.subset_to_bytes(first).unwrap()).unwrap();
        let part = GaloisKeys::from_bytes(&params, &gk.subset_to_bytes(rest).unwrap()).unwrap();
        assert_eq!(part.elements(), rest);
        merged.merge(part).unwrap();
        assert_eq!(merged.to_bytes(), gk.to_bytes());
        assert_eq!(
            merged.memory_bytes(),
            els.len() * GaloisKeys::bytes_per_key(&params)
        );
        assert_eq!(merged.rotate_rows(&ct, -1).unwrap(), r);
        let empty = GaloisKeys::from_bytes(&params, &gk.subset_to_bytes(&[]).unwrap()).unwrap();
        assert!(empty.elements().is_empty());
        merged.merge(empty).unwrap();
        // A repeated element, another seed, an element without a key: refused.
        let again = GaloisKeys::from_bytes(&params, &gk.subset_to_bytes(first).unwrap()).unwrap();
        assert!(merged.merge(again).is_err());
        let other = GaloisKeys::for_steps(&sk, &[2], false, &mut rng).unwrap();
        assert!(merged.merge(other).is_err());
        let g2 = params.galois_element_for_step(2);
        assert!(gk.subset_to_bytes(&[g2]).is_err());
    }
}

#[test]
fn malformed_input_is_rejected_with_typed_errors() {
    let params = ParamSetId::Gazelle4096.params().unwrap();
    let other = ParamSetId::Gazelle2048.params().unwrap();
    let mut rng = rng_for(7, "malformed");
    let sk = SecretKey::generate(&params, &mut rng);
    let ct = sk
        .encrypt(
            &Plaintext::encode_slots(&params, &[1, 2, 3]).unwrap(),
            &mut rng,
        )
        .unwrap();
    let full = ct.add(&ct).unwrap().to_bytes();
    let de = |b: &[u8]| match Ciphertext::from_bytes(&params, b) {
        Err(HeError::Deserialize(e)) => e,
        other => panic!("expected a deserialisation error, got {other:?}"),
    };
    assert!(matches!(
        de(&full[..full.len() - 1]),
        DeserializeError::Truncated { .. }
    ));
    assert!(matches!(
        de(&[full.clone(), vec![0]].concat()),
        DeserializeError::TrailingBytes(1)
    ));
    assert!(matches!(de(&[]), DeserializeError::Truncated { .. }));
    let mut b = full.clone();
    b[0] = b'X';
    assert!(matches!(de(&b), DeserializeError::BadMagic { .. }));
    let mut b = full.clone();
    b[4] = 9;
    assert!(matches!(de(&b), DeserializeError::UnsupportedVersion(9)));
    let mut b = full.clone();
    b[5] = 200;
    assert!(matches!(de(&b), DeserializeError::UnknownParameterSet(200)));
    let mut b = full.clone();
    b[5] = ParamSetId::Gazelle2048 as u8;
    assert!(matches!(de(&b), DeserializeError::WrongParameterSet { .. }));
    let mut b = full.clone();
    b[6] = 3;
    assert!(matches!(
        de(&b),
        DeserializeError::InvalidField { field: "limbs", .. }
    ));
    let mut b = full.clone();
    b[7] = 4;
    assert!(matches!(
        de(&b),
        DeserializeError::InvalidField { field: "flags", .. }
    ));
    // A coefficient ≥ q (all ones in the first 54 bits).
    let mut b = full.clone();
    for x in &mut b[8..15] {
        *x = 0xff;
    }
    assert!(matches!(
        de(&b),
        DeserializeError::CoefficientOutOfRange { index: 0, .. }
    ));
    assert!(Ciphertext::from_bytes(&other, &full).is_err());
    // Galois keys: bad element, absurd count.
    let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng)
        .unwrap()
        .to_bytes();
    let mut b = gk.clone();
    b[42] = 2; // even element
    assert!(GaloisKeys::from_bytes(&params, &b).is_err());
    let mut b = gk.clone();
    b[38..42].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        GaloisKeys::from_bytes(&params, &b),
        Err(HeError::Deserialize(DeserializeError::InvalidField {
            field: "count",
            ..
        }))
    ));
    assert!(PublicKey::from_bytes(&params, &gk).is_err());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// Random bytes and random single-byte corruptions never panic.
        #[test]
        fn deserialisers_never_panic(junk in proptest::collection::vec(any::<u8>(), 0..2048),
                                     pos in any::<usize>(), val in any::<u8>()) {
            let params = ParamSetId::Gazelle2048.params().unwrap();
            let _ = Ciphertext::from_bytes(&params, &junk);
            let _ = GaloisKeys::from_bytes(&params, &junk);
            let _ = PublicKey::from_bytes(&params, &junk);
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let sk = SecretKey::generate(&params, &mut rng);
            let ct = sk.encrypt(&Plaintext::encode_slots(&params, &[5]).unwrap(), &mut rng).unwrap();
            let mut b = ct.add(&ct).unwrap().to_bytes();
            let i = pos % b.len();
            b[i] = val;
            if let Ok(c) = Ciphertext::from_bytes(&params, &b) {
                let _ = sk.decrypt(&c);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
        /// (a + b)·w + c, decrypted, equals the same in Z_p slot-wise.
        #[test]
        fn slot_arithmetic_is_arithmetic_mod_p(seed in any::<u64>(), set in 0usize..4) {
            let params = ParamSetId::ALL[set].params().unwrap();
            let p = params.p();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let sk = SecretKey::generate(&params, &mut rng);
            let a = random_slots(&params, &mut rng);
            let b = random_slots(&params, &mut rng);
            let c = random_slots(&params, &mut rng);
            let w = random_slots(&params, &mut rng);
            let enc = |v: &[u64], rng: &mut ChaCha20Rng| {
                sk.encrypt(&Plaintext::encode_slots(&params, v).unwrap(), rng).unwrap()
            };
            let (ca, cb) = (enc(&a, &mut rng), enc(&b, &mut rng));
            let pw = PreparedPlaintext::new(&Plaintext::encode_slots(&params, &w).unwrap());
            let mut r = ca.add(&cb).unwrap().mul_plain(&pw).unwrap();
            r.add_plain_assign(&Plaintext::encode_slots(&params, &c).unwrap()).unwrap();
            let got = sk.decrypt(&r).unwrap().decode_slots();
            for i in 0..params.n() {
                prop_assert_eq!(got[i], ((a[i] + b[i]) % p * w[i] + c[i]) % p);
            }
        }
    }
}

#[test]
fn secret_key_is_zeroized_and_not_printed() {
    let params = ParamSetId::Gazelle2048.params().unwrap();
    let mut rng = rng_for(3, "zeroize");
    let sk = SecretKey::generate(&params, &mut rng);
    let dbg = format!("{sk:?}");
    assert!(
        !dbg.contains('['),
        "Debug must not print key material: {dbg}"
    );
    let mut copy = sk.clone();
    assert!(copy.coeffs.iter().any(|&c| c != 0));
    copy.zeroize();
    assert!(copy.coeffs.is_empty() && copy.ntt.is_wiped());
    // Secret coefficients are ternary and roughly balanced.
    let ones = sk.coeffs.iter().filter(|&&c| c == 1).count();
    assert!(sk.coeffs.iter().all(|&c| (-1..=1).contains(&c)));
    assert!(ones > params.n() / 4 && ones < params.n() / 2);
    let _ = ERROR_BOUND;
}

#[test]
fn bench_rows_cover_every_operation() {
    let rows = bench::run(true).unwrap();
    for op in [
        "keygen",
        "encrypt",
        "decrypt",
        "add",
        "rotation",
        "8 hoisted rotations",
        "32 hoisted rotations",
        "flood a reply (make_private)",
        "re-randomiser (drawn offline)",
        "flood a reply with a drawn re-randomiser (online)",
    ] {
        assert!(
            rows.iter().any(|r| r.operation == op && r.median_us > 0.0),
            "{op} missing"
        );
    }
}

/// Prints each set's noise figures (for the docs) and checks the stated default-set margins.
#[test]
fn noise_budget_table() {
    for id in ParamSetId::ALL {
        let params = id.params().unwrap();
        let l = params.max_level();
        let dec = params.decryption_bound(l);
        let ks = noise::key_switch_bound(&params, l);
        let layer = NoiseBound::fresh().mul_any_plain(&params).value() * 576.0;
        let chain = NoiseBound(layer).rotate(&params, l).add_plain();
        let flood = PublicKey::flood_bound(&params, chain, l, false)
            .map(f64::log2)
            .unwrap_or(f64::NAN);
        let sd = (params.n() as f64 * chain.value() / (2.0 * 2f64.powf(flood))).log2();
        eprintln!(
            "{}: {} | Δ/2 2^{:.1} | key switch 2^{:.1} | 576-product layer + rotation + mask 2^{:.1} | flood 2^{:.1} | SD 2^{:.1} | decrypts {}",
            id.name(),
            params.security().describe(),
            dec.log2(),
            ks.log2(),
            chain.bits(),
            flood,
            sd,
            chain.decrypts(&params, l)
        );
        if id == ParamSetId::Gazelle4096 {
            assert!(chain.decrypts(&params, l));
            assert!(flood > chain.bits() + 40.0);
        }
        if id == ParamSetId::Gazelle8192Hybrid {
            // The README's figures: key switching ≈ 2^12.2 with the special prime, q/(2p) ≈ 2^129.
            assert!((ks.log2() - 12.2).abs() < 0.05, "{}", ks.log2());
            assert!((dec.log2() - 129.0).abs() < 0.05, "{}", dec.log2());
        }
    }
}

/// A user-built set with unequal primes and digits wider than the smaller prime still rotates
/// correctly (digits are reduced modulo each prime before their transform; without that, the
/// kernels' input-range `debug_assert!` fires under `GAZELLE_BACKEND=scalar` in debug builds).
#[test]
fn custom_set_with_unequal_primes_rotates() {
    let primes_big = kernels::prime::ntt_primes(60, 4096, 1);
    let primes_small = kernels::prime::ntt_primes(40, 4096, 1);
    let spec = ParamSpec {
        id: ParamSetId::Gazelle2048,
        n: 2048,
        moduli: vec![primes_big[0], primes_small[0]],
        p: 557057,
        decomp_bits: 61,
        special: None,
    };
    let params = Arc::new(Parameters::new(spec).unwrap());
    let mut rng = rng_for(seeds()[1], "custom");
    let sk = SecretKey::generate(&params, &mut rng);
    let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng).unwrap();
    let v = random_slots(&params, &mut rng);
    let ct = sk
        .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
        .unwrap();
    // One digit per prime: the 60-bit digit exceeds 4·q_small, so it must be reduced before
    // its transform. Key-switch noise ≤ 2^75.4 < q/(2p) ≈ 2^79.9: still decrypts.
    let bound = NoiseBound::fresh().rotate(&params, 2);
    assert!(bound.decrypts(&params, 2), "{bound:?}");
    let r = gk.rotate_rows(&ct, 1).unwrap();
    assert_eq!(
        sk.decrypt(&r).unwrap().decode_slots(),
        rotate_plain(&params, &v, 1)
    );
    assert!((sk.noise(&r).unwrap().max_abs as f64) <= bound.value());
    let h = Hoisted::new(&ct).unwrap();
    assert_eq!(h.rotate_rows(&gk, 1).unwrap(), r);
    let small = Parameters::new(ParamSpec {
        id: ParamSetId::Gazelle2048,
        n: 2048,
        moduli: vec![primes_big[0], primes_small[0]],
        p: 557057,
        decomp_bits: 20,
        special: None,
    })
    .unwrap();
    let params = Arc::new(small);
    let sk = SecretKey::generate(&params, &mut rng);
    let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng).unwrap();
    let ct = sk
        .encrypt(&Plaintext::encode_slots(&params, &v).unwrap(), &mut rng)
        .unwrap();
    let r = gk.rotate_rows(&ct, 1).unwrap();
    assert_eq!(
        sk.decrypt(&r).unwrap().decode_slots(),
        rotate_plain(&params, &v, 1)
    );
    let h = Hoisted::new(&ct).unwrap();
    assert_eq!(h.rotate_rows(&gk, 1).unwrap(), r);
}

/// A custom set built under a shipped set's id is a different set: combining its objects with
/// the shipped set's is refused with [`HeError::ParameterMismatch`] (comparing ids alone let
/// them through, to a panic on mismatched shapes or to garbage).
#[test]
fn custom_set_under_a_known_id_is_refused() {
    let shipped = ParamSetId::Gazelle4096.params().unwrap();
    let mut rng = rng_for(seeds()[1], "custom id");
    let sk = SecretKey::generate(&shipped, &mut rng);
    let gk = GaloisKeys::for_steps(&sk, &[1], false, &mut rng).unwrap();
    let pk = PublicKey::generate(&sk, &mut rng);
    let pt = Plaintext::encode_slots(&shipped, &random_slots(&shipped, &mut rng)).unwrap();
    let ct = sk.encrypt(&pt, &mut rng).unwrap();
    let w = PreparedPlaintext::new(&pt);
    let customs = [
        // Half the ring dimension: other shapes under the same id and level.
        ParamSpec {
            n: 2048,
            ..ParamSetId::Gazelle4096.spec()
        },
        // Same shapes, other key-switching digits.
        ParamSpec {
            decomp_bits: 54,
            ..ParamSetId::Gazelle4096.spec()
        },
    ];
    fn refused<T: std::fmt::Debug>(r: Result<T>) {
        assert!(
            matches!(r, Err(HeError::ParameterMismatch { .. })),
            "accepted: {r:?}"
        );
    }
    for spec in customs {
        let custom = Arc::new(Parameters::new(spec).unwrap());
        assert_eq!(custom.id(), shipped.id());
        assert_ne!(*custom, *shipped);
        let csk = SecretKey::generate(&custom, &mut rng);
        let cgk = GaloisKeys::for_steps(&csk, &[1], false, &mut rng).unwrap();
        let cv = random_slots(&custom, &mut rng);
        let cpt = Plaintext::encode_slots(&custom, &cv).unwrap();
        let cct = csk.encrypt(&cpt, &mut rng).unwrap();
        let cw = PreparedPlaintext::new(&cpt);
        assert_eq!(cct.level(), ct.level());

        refused(ct.add(&cct));
        refused(cct.sub(&ct));
        refused(ct.clone().add_plain_assign(&cpt));
        refused(cct.clone().sub_plain_assign(&pt));
        refused(ct.mul_plain(&cw));
        refused(cct.mul_plain(&w));
        let mut acc = Ciphertext::zero(&shipped, ct.level()).unwrap();
        refused(acc.mul_plain_acc(&cct, &w));
        refused(acc.mul_plain_acc(&ct, &cw));
        refused(sk.encrypt(&cpt, &mut rng));
        refused(sk.decrypt(&cct));
        refused(csk.decrypt(&ct));
        refused(sk.noise(&cct));
        refused(gk.rotate_rows(&cct, 1));
        refused(cgk.rotate_rows(&ct, 1));
        refused(Hoisted::new(&cct).unwrap().rotate_rows(&gk, 1));
        let h = Hoisted::new(&ct).unwrap();
        refused(h.rotate_rows(&cgk, 1));
        refused(h.rotate_mul_acc(&cgk, 1, &w, &mut acc));
        refused(h.rotate_mul_acc(&gk, 1, &cw, &mut acc));
        let mut cacc = Ciphertext::zero(&custom, ct.level()).unwrap();
        refused(h.rotate_mul_acc(&gk, 1, &w, &mut cacc));
        refused(pk.make_private(&cct, NoiseBound::fresh(), false, &mut rng));
        // The error tells the two sets apart although they share a name.
        let msg = ct.add(&cct).unwrap_err().to_string();
        assert!(msg.contains(&format!("w = {}", custom.decomp_bits())) || msg.contains("n = 2048"));

        // Within the custom set, everything works.
        let r = cgk.rotate_rows(&cct, 1).unwrap();
        assert_eq!(
            csk.decrypt(&r).unwrap().decode_slots(),
            rotate_plain(&custom, &cv, 1)
        );
    }
}

/// The bytes of every serialised object (and of every operation's result) for fixed seeds: a
/// refactor of the scheme must not change one bit of them (the digest was taken before the
/// polynomial type was introduced; retaken when seeds came to expand with AES-128-CTR instead
/// of ChaCha8, protocol version 12). The same under every kernel backend.
#[test]
fn serialised_bytes_are_stable() {
    use sha2::{Digest, Sha256};
    // The sets with digit decomposition keep the digest they had before the hybrid set came;
    // the hybrid set has its own.
    let digest_of = |ids: &[ParamSetId]| -> String {
        let mut h = Sha256::new();
        for params in ids.iter().map(|id| id.params().unwrap()) {
            let mut rng = ChaCha20Rng::seed_from_u64(0x5e71_a115);
            let sk = SecretKey::generate(&params, &mut rng);
            let v: Vec<u64> = (0..params.n() as u64).map(|i| i * i % params.p()).collect();
            let pt = Plaintext::encode_slots(&params, &v).unwrap();
            let ct = sk.encrypt(&pt, &mut rng).unwrap();
            let w = PreparedPlaintext::new(&pt);
            let pk = PublicKey::generate(&sk, &mut rng);
            let gk = GaloisKeys::for_steps(&sk, &[1, -3], true, &mut rng).unwrap();
            let prod = ct.mul_plain(&w).unwrap();
            let rot = gk.rotate_rows(&prod, -3).unwrap();
            let mut acc = ct.add(&rot).unwrap();
            Hoisted::new(&ct)
                .unwrap()
                .rotate_mul_acc(&gk, 1, &w, &mut acc)
                .unwrap();
            let swapped = gk.swap_rows(&acc.neg()).unwrap();
            let (private, _) = pk
                .make_private(&rot, NoiseBound(2f64.powi(20)), true, &mut rng)
                .unwrap();
            for bytes in [
                ct.to_bytes(),
                pk.to_bytes(),
                gk.to_bytes(),
                prod.to_bytes(),
                rot.to_bytes(),
                acc.to_bytes(),
                swapped.to_bytes(),
                private.to_bytes(),
            ] {
                h.update(&bytes);
            }
            let dec = sk.decrypt(&swapped).unwrap();
            for c in dec.coeffs() {
                h.update(c.to_le_bytes());
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    let digits = [
        ParamSetId::Gazelle4096,
        ParamSetId::Gazelle2048,
        ParamSetId::Gazelle4096Fast,
        ParamSetId::Gazelle8192,
    ];
    assert_eq!(digest_of(&digits), GOLDEN_DIGEST);
    assert_eq!(
        digest_of(&[ParamSetId::Gazelle8192Hybrid]),
        GOLDEN_DIGEST_HYBRID
    );
}

const GOLDEN_DIGEST: &str = "a6068a7fb9a5c245f7b9e6efbd35534ad62e328a334a3ac72807a4b969fb475f";
const GOLDEN_DIGEST_HYBRID: &str =
    "4646ee32630d1264bb6811d88819e8e8ff702c678eb400c877d63a5f5a000aa7";
