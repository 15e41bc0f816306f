//! Times `Garbler::garble_parallel_known_inputs` (the protocol's offline garbling, the server's
//! input labels derived from a seed) on one batch of ReLU + re-mask instances: `N` instances
//! (default 65,536, MiniONN-CIFAR's first ReLU layer), `T` threads (default 2), median and
//! minimum of 7 runs, tables written to a reused `Vec`, each batch's label memory handed back
//! with `Garbler::recycle` as the protocol does (`NO_RECYCLE=1`: dropped instead).
//! `cargo run --release --example gc_known_inputs`
use gazelle::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use gazelle::gc::Garbler;
use std::time::Instant;

fn main() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (instances, threads) = (env("N", 65536), env("T", 2));
    let nc = NonlinearCircuit::new(NonlinearSpec::relu(1032193)).unwrap();
    let c = nc.circuit();
    let k = c.counts().garbler_inputs;
    let bits: Vec<bool> = (0..instances * k).map(|i| (i * 7919) % 5 < 2).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut g = Garbler::new()
        .unwrap()
        .with_scheme(gazelle::protocol::ServerConfig::default().garbling);
    let mut tables = Vec::with_capacity(c.table_bytes(instances, g.scheme()));
    let mut ms = Vec::new();
    for _ in 0..7 {
        tables.clear();
        let t0 = Instant::now();
        let (garbling, _) = g
            .garble_parallel_known_inputs(c, instances, &bits, &mut tables, &pool)
            .unwrap();
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        if std::env::var_os("NO_RECYCLE").is_none() {
            g.recycle(garbling);
        }
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{instances} instances × {} AND, {k} garbler inputs each, {threads} thread(s), {}: median {:.1} ms, min {:.1} ms",
        c.counts().and,
        g.scheme(),
        ms[3],
        ms[0]
    );
}
