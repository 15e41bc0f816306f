//! Wall-clock timings of the scheme's operations, for `gazelle bench he` (the criterion
//! benchmarks in `benches/he.rs` are the careful measurement; this is the quick, dependency-free
//! one the CLI prints).
use super::error::Result;
use super::{
    sampling, Ciphertext, FloatCiphertext, GaloisKeys, Hoisted, NoiseBound, ParamSetId, Plaintext,
    PreparedPlaintext, ProductSum, PublicKey, RotationSum, SecretKey,
};
use std::time::Instant;

/// One timed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// What was timed, e.g. `"rotation"` or `"ciphertext bytes"`.
    pub operation: String,
    /// Parameter set name.
    pub params: &'static str,
    /// Median time per call in microseconds (for size rows: the size in bytes).
    pub median_us: f64,
    /// Half the inter-quartile range, in the same unit (0 for sizes).
    pub spread_us: f64,
    /// Number of timed samples.
    pub samples: usize,
    /// The samples (µs per call, in the order taken; empty for sizes).
    pub samples_us: Vec<f64>,
}

/// (median, half-IQR, raw samples) of `samples` timed calls after one warm-up call, in µs.
fn time<F: FnMut()>(samples: usize, mut f: F) -> (f64, f64, Vec<f64>) {
    f(); // warm up
    let mut t: Vec<f64> = (0..samples)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let raw = t.clone();
    t.sort_by(|a, b| a.total_cmp(b));
    let q = |x: f64| t[((t.len() - 1) as f64 * x).round() as usize];
    (q(0.5), (q(0.75) - q(0.25)) / 2.0, raw)
}

/// Times KeyGen, Galois keygen, Encrypt, Decrypt, Add, ct×pt, one rotation, k hoisted
/// rotations (k = 8, 32) and the ciphertext size, for every parameter set (`quick`: fewer
/// samples, the default set only).
pub fn run(quick: bool) -> Result<Vec<BenchRow>> {
    let default = [ParamSetId::default()];
    let sets: &[ParamSetId] = if quick { &default } else { &ParamSetId::ALL };
    let samples = if quick { 11 } else { 51 };
    let mut rows = Vec::new();
    for &id in sets {
        let params = id.params()?;
        let name = id.name();
        let mut rng = sampling::secret_rng()?;
        let mut push = |op: &str, (m, s, raw): (f64, f64, Vec<f64>)| {
            rows.push(BenchRow {
                operation: op.into(),
                params: name,
                median_us: m,
                spread_us: s,
                samples: raw.len().max(1),
                samples_us: raw,
            });
        };
        let n = params.n();
        let sk = SecretKey::generate(&params, &mut rng);
        push(
            "keygen",
            time(samples, || drop(SecretKey::generate(&params, &mut rng))),
        );
        let steps: Vec<i64> = (1..=32).collect();
        let gk = GaloisKeys::for_steps(&sk, &steps, true, &mut rng)?;
        let few = (samples / 4).max(3);
        let mut r2 = sampling::secret_rng()?;
        push(
            "galois keygen (1 element)",
            time(few, || {
                let _ = GaloisKeys::for_steps(&sk, &[1], false, &mut r2);
            }),
        );
        let vals: Vec<u64> = (0..n as u64).map(|i| i % params.p()).collect();
        let pt = Plaintext::encode_slots(&params, &vals)?;
        let mut r3 = sampling::secret_rng()?;
        push(
            "encrypt",
            time(samples, || {
                let _ = sk.encrypt(&pt, &mut r3);
            }),
        );
        let ct = sk.encrypt(&pt, &mut rng)?;
        let ct2 = sk.encrypt(&pt, &mut rng)?;
        push(
            "decrypt",
            time(samples, || {
                let _ = sk.decrypt(&ct);
            }),
        );
        // In place, as SEAL's `add_inplace` (`Ciphertext::add` also allocates the result).
        let mut sum = ct2.clone();
        push(
            "add",
            time(samples * 4, || {
                let _ = sum.add_assign(&ct);
            }),
        );
        let w = PreparedPlaintext::new(&pt);
        let mut acc = Ciphertext::zero(&params, ct.level())?;
        push(
            "ct×pt multiply-accumulate",
            time(samples * 4, || {
                let _ = acc.mul_plain_acc(&ct, &w);
            }),
        );
        // What the linear layers run: the input in double form, sums in double precision.
        if let (Some(fct), Some(mut fsum)) = (
            FloatCiphertext::new(&ct),
            ProductSum::new(&params, ct.level()),
        ) {
            if w.is_compact() {
                push(
                    "ct×pt multiply-accumulate (ProductSum)",
                    time(samples * 4, || {
                        let _ = fsum.mul_plain_acc(&fct, &w);
                    }),
                );
                // A server's weight beyond its memory limit: NTT form made at each product.
                let wc = PreparedPlaintext::new_coefficients(&pt);
                push(
                    "ct×pt multiply-accumulate (ProductSum, plaintext as coefficients)",
                    time(samples * 4, || {
                        let _ = fsum.mul_plain_acc(&fct, &wc);
                    }),
                );
            }
        }
        // Circuit privacy of one reply at full level (noise bound: one product with any
        // plaintext), switched down: whole, and split into its offline and online parts.
        let pk = PublicKey::generate(&sk, &mut rng);
        let bound = NoiseBound::fresh().mul_any_plain(&params);
        let full = ct.level();
        if pk.rerandomizer(bound, full, true, &mut rng).is_ok() {
            let mut r4 = sampling::secret_rng()?;
            push(
                "flood a reply (make_private)",
                time(samples, || {
                    let _ = pk.make_private(&ct, bound, true, &mut r4);
                }),
            );
            push(
                "re-randomiser (drawn offline)",
                time(samples, || {
                    let _ = pk.rerandomizer(bound, full, true, &mut r4);
                }),
            );
            let drawn: Vec<_> = (0..samples + 1)
                .filter_map(|_| pk.rerandomizer(bound, full, true, &mut r4).ok())
                .collect();
            let mut drawn = drawn.into_iter();
            push(
                "flood a reply with a drawn re-randomiser (online)",
                time(samples, || {
                    if let Some(r) = drawn.next() {
                        let _ = pk.make_private_with(&ct, bound, r);
                    }
                }),
            );
        }
        push(
            "rotation",
            time(samples, || {
                let _ = gk.rotate_rows(&ct, 1);
            }),
        );
        push(
            "hoist (decompose)",
            time(samples, || {
                let _ = Hoisted::new(&ct);
            }),
        );
        let h = Hoisted::new(&ct)?;
        push(
            "hoisted rotation (each)",
            time(samples, || {
                let _ = h.rotate_rows(&gk, 5);
            }),
        );
        for k in [8i64, 32] {
            push(
                &format!("{k} hoisted rotations"),
                time(few, || {
                    if let Ok(h) = Hoisted::new(&ct) {
                        for s in 1..=k {
                            let _ = h.rotate_rows(&gk, s);
                        }
                    }
                }),
            );
        }
        // Sums of rotations of 8 different ciphertexts (the outer rotations of a layer): each
        // rotated and added, against one `RotationSum` (one division by P at the end).
        let cts: Vec<Ciphertext> = (0..8)
            .map(|_| sk.encrypt(&pt, &mut rng))
            .collect::<Result<_>>()?;
        push(
            "sum of 8 rotations (each rotated)",
            time(few, || {
                let mut sum = Ciphertext::zero(&params, ct.level()).expect("level");
                for (s, c) in cts.iter().enumerate() {
                    if let Ok(r) = gk.rotate_rows(c, s as i64 + 1) {
                        let _ = sum.add_assign(&r);
                    }
                }
            }),
        );
        push(
            "sum of 8 rotations (RotationSum)",
            time(few, || {
                let mut sum = RotationSum::new(&params, ct.level());
                for (s, c) in cts.iter().enumerate() {
                    let g = params.galois_element_for_step(s as i64 + 1);
                    let _ = sum.add_galois(&gk, c, g);
                }
                let _ = sum.finish();
            }),
        );
        push(
            "ciphertext bytes (fresh, seeded)",
            (ct.serialized_len() as f64, 0.0, Vec::new()),
        );
        let full = ct.add(&ct2)?;
        push(
            "ciphertext bytes (computed)",
            (full.serialized_len() as f64, 0.0, Vec::new()),
        );
        if full.level() > 1 {
            push(
                "ciphertext bytes (switched down)",
                (
                    full.mod_switch_down()?.serialized_len() as f64,
                    0.0,
                    Vec::new(),
                ),
            );
        }
    }
    Ok(rows)
}
