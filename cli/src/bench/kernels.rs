//! `gazelle bench kernels`: NTT forward/inverse and prepared pointwise products per backend ×
//! reduction × n × prime size, with cycles and instructions per butterfly where counters work.
//! A reduction runs only where it fits (`check_reduction`: shoup52 needs a u64 plan, q < 2^50,
//! and scalar or avx512 with IFMA52); an avx512 CPU without IFMA52 gets a note instead.
use super::counters::Counters;
use super::{measure, BenchRow, Budget};
use gazelle::kernels::ntt::{NttPlan32, NttPlan64, Reduction, FLOAT_TERMS};
use gazelle::kernels::prime::ntt_primes;
use gazelle::kernels::testing::TestRng;
use gazelle::kernels::{AlignedVec, Backend, KernelError};

/// Prime sizes measured: (bits, word). The 50-bit row is the largest prime below 2^50, where
/// every reduction runs (shoup52, the IFMA52 butterflies on avx512, needs q < 2^50).
const PRIMES: [(u32, Word); 5] = [
    (30, Word::U32),
    (30, Word::U64),
    (50, Word::U64),
    (54, Word::U64),
    (60, Word::U64),
];

/// (name, the timed call, units of work per call, unit name).
type Op = (&'static str, Box<dyn FnMut()>, f64, &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Word {
    U32,
    U64,
}

/// Options of the kernels family.
#[derive(Debug, Clone)]
pub struct KernelBenchOptions {
    /// Backends to run (each must be available).
    pub backends: Vec<Backend>,
    /// Ring dimensions.
    pub sizes: Vec<usize>,
    /// Short budget (smoke test).
    pub quick: bool,
}

impl KernelBenchOptions {
    /// Defaults: the given backends, n ∈ {2048, 4096, 8192} (4096 only when quick).
    pub fn new(backends: Vec<Backend>, quick: bool) -> Self {
        let sizes = if quick {
            vec![4096]
        } else {
            vec![2048, 4096, 8192]
        };
        Self {
            backends,
            sizes,
            quick,
        }
    }
}

/// Runs the kernels family. Also returns a note comparing two 30-bit limbs with one 60-bit one.
pub fn run(opts: &KernelBenchOptions) -> Result<(Vec<BenchRow>, Vec<String>), KernelError> {
    let budget = Budget::new(opts.quick);
    let mut counters = Counters::open();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for &backend in &opts.backends {
        backend.check()?;
        for red in Reduction::ALL {
            if let Err(e) = NttPlan64::check_reduction(backend, red, ntt_primes(50, 2, 1)[0]) {
                if backend == Backend::Avx512 {
                    notes.push(format!("{backend}/{} skipped: {e}", red.name()));
                }
                continue;
            }
            for &n in &opts.sizes {
                let butterflies = (n / 2 * n.trailing_zeros() as usize) as f64;
                let mut fwd_us = std::collections::HashMap::new();
                for (bits, word) in PRIMES {
                    let q = ntt_primes(bits, 2 * n as u64, 1)[0];
                    let fits = match word {
                        Word::U64 => NttPlan64::check_reduction(backend, red, q),
                        Word::U32 => NttPlan32::check_reduction(backend, red, q),
                    };
                    if fits.is_err() {
                        continue; // e.g. shoup52 with q ≥ 2^50 or on u32
                    }
                    let mut rng = TestRng::new(1);
                    let size = format!(
                        "n={n} q={bits}b {}",
                        if word == Word::U32 { "u32" } else { "u64" }
                    );
                    // Each closure owns its data; the three ops are timed separately.
                    let ops: Vec<Op> = match word {
                        Word::U64 => {
                            let plan = NttPlan64::with_backend(n, q, backend, red)?;
                            // 64-byte-aligned operands, as the library's polynomials.
                            let a = AlignedVec::from_slice(&rng.vec_below(n, q));
                            let b = AlignedVec::from_slice(&rng.vec_below(n, q));
                            let bs = AlignedVec::from_slice(&plan.prepare(&b));
                            let (p1, p2, p3) = (plan.clone(), plan.clone(), plan.clone());
                            let (mut x, mut y, mut o) =
                                (a.clone(), a.clone(), AlignedVec::zeroed(n));
                            let mut pair_ops: Vec<Op> = Vec::new();
                            {
                                // Both halves of a ciphertext times one plaintext limb: with
                                // Shoup constants, and compact (values only) where q < 2^50.
                                let (p4, a4, b4, bs4) =
                                    (plan.clone(), a.clone(), b.clone(), bs.clone());
                                let mut o4 = [AlignedVec::zeroed(n), AlignedVec::zeroed(n)];
                                pair_ops.push((
                                    "mul-acc-prepared-pair",
                                    Box::new(move || {
                                        let [u, v] = &mut o4;
                                        p4.mul_prepared_pair([u, v], [&a4, &a4], (&b4, &bs4), true)
                                    }),
                                    2.0 * n as f64,
                                    "coefficient",
                                ));
                                if plan.has_compact() {
                                    let (p5, a5, b5) = (plan.clone(), a.clone(), b.clone());
                                    let mut o5 = [AlignedVec::zeroed(n), AlignedVec::zeroed(n)];
                                    pair_ops.push((
                                        "mul-acc-compact-pair",
                                        Box::new(move || {
                                            let [u, v] = &mut o5;
                                            p5.mul_compact_pair([u, v], [&a5, &a5], &b5, true)
                                        }),
                                        2.0 * n as f64,
                                        "coefficient",
                                    ));
                                    // The same products into double-precision accumulators
                                    // (operands converted once, reduced every 7 products).
                                    let p6 = plan.clone();
                                    let (mut f, b6) = (AlignedVec::zeroed(n), b.clone());
                                    p6.to_float(&a, &mut f);
                                    let mut o6 = [AlignedVec::zeroed(n), AlignedVec::zeroed(n)];
                                    let mut count = 0usize;
                                    pair_ops.push((
                                        "mul-acc-compact-pair-float",
                                        Box::new(move || {
                                            count += 1;
                                            let reduce = count.is_multiple_of(FLOAT_TERMS);
                                            let [u, v] = &mut o6;
                                            p6.mul_compact_pair_float([u, v], [&f, &f], &b6, reduce)
                                        }),
                                        2.0 * n as f64,
                                        "coefficient",
                                    ));
                                }
                            }
                            let mut ops: Vec<Op> = vec![
                                (
                                    "ntt-forward",
                                    Box::new(move || p1.forward(&mut x)),
                                    butterflies,
                                    "butterfly",
                                ),
                                (
                                    "ntt-inverse",
                                    Box::new(move || p2.inverse(&mut y)),
                                    butterflies,
                                    "butterfly",
                                ),
                                (
                                    "mul-acc-prepared",
                                    Box::new(move || p3.mul_acc_prepared(&mut o, &a, &b, &bs)),
                                    n as f64,
                                    "coefficient",
                                ),
                            ];
                            ops.extend(pair_ops);
                            ops
                        }
                        Word::U32 => {
                            let plan = NttPlan32::with_backend(n, q, backend, red)?;
                            let a: AlignedVec<u32> =
                                rng.vec_below(n, q).into_iter().map(|v| v as u32).collect();
                            let b: AlignedVec<u32> =
                                rng.vec_below(n, q).into_iter().map(|v| v as u32).collect();
                            let bs = AlignedVec::from_slice(&plan.prepare(&b));
                            let (p1, p2, p3) = (plan.clone(), plan.clone(), plan);
                            let (mut x, mut y, mut o) =
                                (a.clone(), a.clone(), AlignedVec::zeroed(n));
                            vec![
                                (
                                    "ntt-forward",
                                    Box::new(move || p1.forward(&mut x)),
                                    butterflies,
                                    "butterfly",
                                ),
                                (
                                    "ntt-inverse",
                                    Box::new(move || p2.inverse(&mut y)),
                                    butterflies,
                                    "butterfly",
                                ),
                                (
                                    "mul-acc-prepared",
                                    Box::new(move || p3.mul_acc_prepared(&mut o, &a, &b, &bs)),
                                    n as f64,
                                    "coefficient",
                                ),
                            ]
                        }
                    };
                    for (name, mut f, units, unit) in ops {
                        let stats = measure(&mut f, budget);
                        let cyc = counters
                            .as_mut()
                            .and_then(|c| c.per_unit(&mut f, stats.iters_per_sample.max(8), units));
                        if name == "ntt-forward" {
                            fwd_us.insert((bits, word), stats.median_us);
                        }
                        let median_us = stats.median_us;
                        let mut row = BenchRow::timing(
                            "kernels",
                            backend.name(),
                            format!("{name}/{}", red.name()),
                            size.clone(),
                            stats,
                        );
                        row.throughput = Some(units / (median_us * 1e-6));
                        row.throughput_unit = Some(format!("{unit}/s"));
                        row.cycles_per_unit = cyc.map(|c| c.0);
                        row.instructions_per_unit = cyc.map(|c| c.1);
                        row.per_unit = Some(unit.into());
                        rows.push(row);
                    }
                }
                if let (Some(a), Some(b)) =
                    (fwd_us.get(&(30, Word::U32)), fwd_us.get(&(60, Word::U64)))
                {
                    notes.push(format!(
                        "{backend}/{} n={n}: two 30-bit u32 limbs {:.2} µs vs one 60-bit u64 {:.2} µs → {}",
                        red.name(),
                        2.0 * a,
                        b,
                        if 2.0 * a < *b { "two 30-bit limbs are faster" } else { "one 60-bit limb is faster" }
                    ));
                }
            }
        }
    }
    Ok((rows, notes))
}
