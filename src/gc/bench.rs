//! Throughput measurements for `gazelle bench gc`: AES blocks per second per backend, ns per
//! AND gate garbling and evaluating a circuit of ≥ 10^6 AND gates, ReLUs per second.
//!
//! Single-threaded; each figure is the best of `repeats` timed runs (after one warm-up run).
use crate::gc::error::Result;
use crate::gc::garble::{decode, Evaluator, Garbler};
use crate::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use kernels::{Aes128, AesBackend, Block};
use rand::{Rng, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha8Rng};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Plaintext modulus of the ReLU circuit.
    pub p: u64,
    /// Minimum AND gates per garbling/evaluation run (instances are ReLUs, rounded up).
    pub min_and_gates: usize,
    /// Blocks per AES timing run.
    pub aes_blocks: usize,
    /// Timed runs per figure (the best is kept).
    pub repeats: usize,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            p: 1_032_193,
            min_and_gates: 1_000_000,
            aes_blocks: 1 << 20,
            repeats: 5,
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// What was measured, e.g. `garble relu p=1032193`.
    pub name: String,
    /// The AES backend used.
    pub backend: &'static str,
    /// The figure.
    pub value: f64,
    /// Its unit, e.g. `ns/AND`.
    pub unit: &'static str,
    /// Work size and secondary figures.
    pub detail: String,
}

impl std::fmt::Display for BenchRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<40} {:<10} {:>12.3} {:<10} {}",
            self.name, self.backend, self.value, self.unit, self.detail
        )
    }
}

/// On-CPU time of the calling thread (Linux `/proc/thread-self/schedstat`), if available:
/// unlike wall time it excludes time the thread waited for a core on a shared machine.
pub fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Wall and on-CPU time of the best of `repeats` runs (by wall time; on-CPU time is the best
/// separately), after one warm-up run.
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Timing, T)> {
    let mut out = f()?; // warm-up
    let mut best = Timing {
        wall: Duration::MAX,
        cpu: None,
    };
    for _ in 0..repeats.max(1) {
        let c0 = thread_cpu_time();
        let t = Instant::now();
        out = f()?;
        let wall = t.elapsed();
        let cpu = thread_cpu_time().zip(c0).map(|(a, b)| a.saturating_sub(b));
        best.wall = best.wall.min(wall);
        best.cpu = match (best.cpu, cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok((best, out))
}

fn cpu_note(t: &Timing, per: usize) -> String {
    match t.cpu {
        Some(c) => format!(", on-CPU {:.3}", c.as_nanos() as f64 / per as f64),
        None => String::new(),
    }
}

/// AES-128 throughput of one backend on `blocks` blocks.
pub fn bench_aes(backend: AesBackend, blocks: usize, repeats: usize) -> Result<BenchRow> {
    let aes = Aes128::with_backend(kernels::aes::FIXED_KEY, backend)?;
    let mut buf: Vec<Block> = (0..blocks as u128).map(Block::from_u128).collect();
    let (t, _) = best_of(repeats, || {
        aes.encrypt_many(&mut buf);
        Ok(())
    })?;
    let ns = t.wall.as_nanos() as f64 / blocks as f64;
    Ok(BenchRow {
        name: "aes-128 encrypt".into(),
        backend: backend.name(),
        value: 1e3 / ns,
        unit: "Mblocks/s",
        detail: format!("{ns:.3} ns/block{}, {blocks} blocks", cpu_note(&t, blocks)),
    })
}

/// Garbling and evaluation of `instances` ReLU circuits (with re-masking) at modulus `p`.
/// Returns (garble row, evaluate row, ReLU/s row); checks the decoded outputs against the
/// integer reference.
pub fn bench_relu(
    aes: &Aes128,
    p: u64,
    min_and_gates: usize,
    repeats: usize,
) -> Result<Vec<BenchRow>> {
    let nc = NonlinearCircuit::new(NonlinearSpec::relu(p))?;
    let circuit = nc.circuit();
    let instances = min_and_gates.div_ceil(nc.and_count().max(1));
    let ands = instances * nc.and_count();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut draw = |n: usize| -> Vec<u64> { (0..n).map(|_| rng.random_range(0..p)).collect() };
    let (c, s, r) = (draw(instances), draw(instances), draw(instances));
    let bits = nc.input_bits(&c, &s, &r)?;
    let seed: [u8; 32] = ChaCha12Rng::from_os_rng().random();
    let mut stream: Vec<u8> = Vec::with_capacity(circuit.table_bytes(instances));
    let (tg, garbling) = best_of(repeats, || {
        stream.clear();
        let mut g = Garbler::with_parts(aes.clone(), ChaCha12Rng::from_seed(seed));
        g.garble(circuit, instances, &mut stream)
    })?;
    let labels = garbling.encode(&bits)?;
    let (te, out) = best_of(repeats, || {
        let mut e = Evaluator::with_aes(aes.clone());
        e.evaluate(circuit, instances, &labels, &mut stream.as_slice())
    })?;
    let values = nc.decode_outputs(&decode(&out, garbling.decoding())?);
    if values != nc.reference(&c, &s, &r) {
        return Err(crate::gc::GcError::InvalidParams(
            "benchmark outputs disagree with the reference".into(),
        ));
    }
    let g_ns = tg.wall.as_nanos() as f64 / ands as f64;
    let e_ns = te.wall.as_nanos() as f64 / ands as f64;
    let detail = format!(
        "{instances} ReLUs x {} AND = {ands} AND gates, p = {p}",
        nc.and_count()
    );
    let backend = aes.backend().name();
    Ok(vec![
        BenchRow {
            name: "garble relu+remask".into(),
            backend,
            value: g_ns,
            unit: "ns/AND",
            detail: format!("{detail}{}", cpu_note(&tg, ands)),
        },
        BenchRow {
            name: "evaluate relu+remask".into(),
            backend,
            value: e_ns,
            unit: "ns/AND",
            detail: format!("{detail}{}", cpu_note(&te, ands)),
        },
        BenchRow {
            name: "relu+remask garble+evaluate".into(),
            backend,
            value: instances as f64 / (tg.wall + te.wall).as_secs_f64() / 1e6,
            unit: "M ReLU/s",
            detail: format!(
                "garble {:.2} M ReLU/s, evaluate {:.2} M ReLU/s (one core each)",
                instances as f64 / tg.wall.as_secs_f64() / 1e6,
                instances as f64 / te.wall.as_secs_f64() / 1e6
            ),
        },
    ])
}

/// All figures: AES per available backend, then garbling/evaluation with the selected backend
/// (`GAZELLE_BACKEND` or detection).
pub fn bench(config: &BenchConfig) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    for backend in AesBackend::available() {
        // The portable code is ~100x slower: time fewer blocks.
        let blocks = if backend == AesBackend::Portable {
            config.aes_blocks / 64
        } else {
            config.aes_blocks
        };
        rows.push(bench_aes(backend, blocks.max(64), config.repeats)?);
    }
    let aes = Aes128::fixed()?;
    rows.extend(bench_relu(
        &aes,
        config.p,
        config.min_and_gates,
        config.repeats,
    )?);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_bench_runs_small() {
        let rows = bench(&BenchConfig {
            min_and_gates: 5_000,
            aes_blocks: 4096,
            repeats: 1,
            ..Default::default()
        })
        .unwrap();
        assert!(rows.iter().any(|r| r.unit == "ns/AND" && r.value > 0.0));
        assert!(rows.iter().any(|r| r.backend == "portable"));
        for r in &rows {
            assert!(r.value.is_finite() && r.value > 0.0, "{r}");
        }
    }
}
