//! The linear layers of the five networks of the design, their cost table, and wall-clock
//! timings for `gazelle bench linalg` (criterion's `benches/linalg.rs` is the careful
//! measurement).
use super::error::Result;
use super::eval::PreparedLayer;
use super::plan::{Cost, Schedule};
use super::shape::{ConvShape, LayerShape, LayerWeights};
use crate::he::{
    params::ParamSetId, sampling, Ciphertext, GaloisKeys, Parameters, Plaintext, SecretKey,
};
use crate::sched::Scheduler;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

/// A network's linear layers, in order.
#[derive(Debug, Clone)]
pub struct Network {
    /// Name, e.g. `"minionn-cifar"`.
    pub name: &'static str,
    /// Linear layers (conv, FC, sum pooling).
    pub layers: Vec<LayerShape>,
}

/// The five networks of the design (SecureML, CryptoNets, DeepSecure, MiniONN-MNIST,
/// MiniONN-CIFAR); max pooling and activations are not linear and are left out.
pub fn networks() -> Vec<Network> {
    let conv = |ci, co, h, k, s, p| LayerShape::Conv(ConvShape::conv(ci, co, h, h, k, s, p));
    let pool = |c, h| LayerShape::Conv(ConvShape::sum_pool(c, h, h, 2));
    let fc = |n_in, n_out| LayerShape::Fc { n_in, n_out };
    vec![
        Network {
            name: "secureml-mnist",
            layers: vec![fc(784, 128), fc(128, 128), fc(128, 10)],
        },
        Network {
            name: "cryptonets-mnist",
            layers: vec![conv(1, 5, 28, 5, 2, 2), fc(980, 100), fc(100, 10)],
        },
        Network {
            name: "deepsecure-mnist",
            layers: vec![conv(1, 5, 28, 5, 2, 2), fc(980, 100), fc(100, 10)],
        },
        Network {
            name: "minionn-mnist",
            layers: vec![
                conv(1, 16, 28, 5, 1, 0),
                conv(16, 16, 12, 5, 1, 0),
                fc(256, 100),
                fc(100, 10),
            ],
        },
        Network {
            name: "minionn-cifar",
            layers: vec![
                conv(3, 64, 32, 3, 1, 1),
                conv(64, 64, 32, 3, 1, 1),
                pool(64, 32),
                conv(64, 64, 16, 3, 1, 1),
                conv(64, 64, 16, 3, 1, 1),
                pool(64, 16),
                conv(64, 64, 8, 3, 1, 1),
                conv(64, 64, 8, 1, 1, 0),
                conv(64, 16, 8, 1, 1, 0),
                fc(1024, 10),
            ],
        },
    ]
}

/// One row of the cost table: a layer, the method chosen and its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    /// Network name.
    pub network: &'static str,
    /// Layer index within the network.
    pub layer: usize,
    /// Shape description.
    pub shape: String,
    /// Method chosen by the cost model.
    pub method: String,
    /// Its counts.
    pub cost: Cost,
    /// The counts of every candidate method, for comparison: (name, counts).
    pub alternatives: Vec<(String, Cost)>,
}

/// The cost table of every network at `params`.
pub fn cost_table(params: &Arc<Parameters>) -> Result<Vec<CostRow>> {
    let mut rows = Vec::new();
    for net in networks() {
        for (i, shape) in net.layers.iter().enumerate() {
            let cands = Schedule::candidates(params, shape)?;
            let best = Schedule::pick(params, cands.clone());
            rows.push(CostRow {
                network: net.name,
                layer: i,
                shape: shape.describe(),
                method: best.method_name(),
                cost: best.cost(),
                alternatives: cands.iter().map(|s| (s.method_name(), s.cost())).collect(),
            });
        }
    }
    Ok(rows)
}

/// One timed layer.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// Network name.
    pub network: &'static str,
    /// Layer index.
    pub layer: usize,
    /// Shape description.
    pub shape: String,
    /// Method.
    pub method: String,
    /// Worker threads.
    pub threads: usize,
    /// Median online evaluation time in milliseconds.
    pub eval_ms: f64,
    /// Offline weight preparation time in milliseconds (at this thread count).
    pub prepare_ms: f64,
    /// Median process CPU time (all threads, user + system) per evaluation in milliseconds,
    /// where the OS reports it (Linux `/proc/self/stat`, 10 ms ticks); on a shared machine
    /// CPU time / workers is the wall time the layer would take with its cores free.
    pub cpu_ms: Option<f64>,
    /// Counts.
    pub cost: Cost,
}

/// Process CPU time (user + system, all threads) in milliseconds, from `/proc/self/stat`
/// (assumes the usual 100 Hz clock tick); `None` where unavailable.
pub fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10.0)
}

/// Random weights of 9-bit magnitude and a random bias for `shape`.
pub fn random_weights<R: RngCore>(shape: &LayerShape, rng: &mut R) -> LayerWeights {
    let mut sv = |m: i64| (rng.next_u32() as i64 % (2 * m + 1)) - m;
    LayerWeights {
        weights: (0..shape.weight_len()).map(|_| sv(255)).collect(),
        bias: (0..shape.bias_len()).map(|_| sv(1000)).collect(),
    }
}

/// Times every layer of MiniONN-MNIST and (unless `quick`) MiniONN-CIFAR at the default
/// parameters on pools of 1, 2, 4, … worker threads up to the machine's logical cores (at least
/// 1 and 2).
pub fn run(quick: bool) -> Result<Vec<BenchRow>> {
    let params = ParamSetId::default().params()?;
    let nets: Vec<Network> = networks()
        .into_iter()
        .filter(|n| n.name == "minionn-mnist" || (!quick && n.name == "minionn-cifar"))
        .collect();
    let samples = if quick { 1 } else { 5 };
    let mut rng = sampling::secret_rng()?;
    let sk = SecretKey::generate(&params, &mut rng);
    let mut wrng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut workers = vec![1, 2];
    while workers.last().is_some_and(|&t| t * 2 <= cores) {
        workers.push(workers.last().unwrap() * 2);
    }
    if *workers.last().unwrap() < cores {
        workers.push(cores);
    }
    let pools: Vec<Scheduler> = workers
        .iter()
        .map(|&t| Scheduler::new(Some(t)))
        .collect::<std::result::Result<_, _>>()?;
    let mut rows = Vec::new();
    for net in nets {
        for (li, shape) in net.layers.iter().enumerate() {
            let schedule = Schedule::best(&params, shape)?;
            let w = random_weights(shape, &mut wrng);
            let x: Vec<i64> = (0..shape.input_len())
                .map(|_| (wrng.next_u32() % 256) as i64 - 128)
                .collect();
            let keys = GaloisKeys::generate(&sk, &schedule.galois_elements(), &mut rng)?;
            let cts: Vec<Ciphertext> = schedule
                .pack_input(&x)?
                .iter()
                .map(|v| sk.encrypt(&Plaintext::encode_slots(&params, v)?, &mut rng))
                .collect::<std::result::Result<_, _>>()?;
            for sched in &pools {
                let t0 = Instant::now();
                let layer = PreparedLayer::new(&schedule, &w, sched)?;
                let prepare_ms = t0.elapsed().as_secs_f64() * 1e3;
                layer.eval(&cts, &keys, sched)?; // warm up
                let mut t = Vec::with_capacity(samples);
                let mut cpu = Vec::with_capacity(samples);
                for _ in 0..samples {
                    let c0 = process_cpu_ms();
                    let s = Instant::now();
                    layer.eval(&cts, &keys, sched)?;
                    t.push(s.elapsed().as_secs_f64() * 1e3);
                    if let (Some(a), Some(b)) = (c0, process_cpu_ms()) {
                        cpu.push(b - a);
                    }
                }
                t.sort_by(|a, b| a.total_cmp(b));
                cpu.sort_by(|a, b| a.total_cmp(b));
                rows.push(BenchRow {
                    network: net.name,
                    layer: li,
                    shape: shape.describe(),
                    method: schedule.method_name(),
                    threads: sched.threads(),
                    eval_ms: t[t.len() / 2],
                    prepare_ms,
                    cpu_ms: (cpu.len() == samples).then(|| cpu[cpu.len() / 2]),
                    cost: schedule.cost(),
                });
            }
        }
    }
    Ok(rows)
}
