//! Criterion benchmarks of the homomorphic linear layers of MiniONN-MNIST and MiniONN-CIFAR
//! (server side, online part) at 1 and 2 worker threads, default parameters.
//!
//! `GAZELLE_BENCH_NETS=minionn-mnist` restricts the networks (comma-separated names).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use gazelle::he::{params::ParamSetId, sampling, Ciphertext, GaloisKeys, Plaintext, SecretKey};
use gazelle::linalg::bench::{networks, random_weights};
use gazelle::linalg::{PreparedLayer, Schedule};
use gazelle::sched::Scheduler;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::time::Duration;

fn layers(c: &mut Criterion) {
    let params = ParamSetId::default().params().expect("parameters");
    let wanted = std::env::var("GAZELLE_BENCH_NETS")
        .unwrap_or_else(|_| "minionn-mnist,minionn-cifar".into());
    let mut rng = sampling::secret_rng().expect("rng");
    let sk = SecretKey::generate(&params, &mut rng);
    let mut wrng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let pools: Vec<Scheduler> = [1, 2]
        .iter()
        .map(|&t| Scheduler::new(Some(t)).expect("pool"))
        .collect();
    for net in networks() {
        if !wanted.split(',').any(|w| w == net.name) {
            continue;
        }
        let mut group = c.benchmark_group(format!("linalg/{}", net.name));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(5))
            .warm_up_time(Duration::from_millis(500));
        for (li, shape) in net.layers.iter().enumerate() {
            let schedule = Schedule::best(&params, shape).expect("schedule");
            let cost = schedule.cost();
            eprintln!(
                "{} layer {li}: {} by {}: {} rotations ({} hoisted), {} ct×pt products",
                net.name,
                shape.describe(),
                schedule.method_name(),
                cost.rotations(),
                cost.hoisted_rotations,
                cost.mults
            );
            let w = random_weights(shape, &mut wrng);
            let x: Vec<i64> = (0..shape.input_len())
                .map(|_| (wrng.next_u32() % 256) as i64 - 128)
                .collect();
            let keys = GaloisKeys::generate(&sk, &schedule.galois_elements(), &mut rng)
                .expect("galois keys");
            let cts: Vec<Ciphertext> = schedule
                .pack_input(&x)
                .expect("pack")
                .iter()
                .map(|v| {
                    sk.encrypt(
                        &Plaintext::encode_slots(&params, v).expect("encode"),
                        &mut rng,
                    )
                    .expect("encrypt")
                })
                .collect();
            let layer = PreparedLayer::new(&schedule, &w, &pools[1]).expect("prepare");
            for pool in &pools {
                let id = BenchmarkId::new(
                    format!("layer{li}"),
                    format!("{}/{}t", shape.describe(), pool.threads()),
                );
                group.bench_function(id, |b| {
                    b.iter(|| layer.eval(&cts, &keys, pool).expect("eval"))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, layers);
criterion_main!(benches);
