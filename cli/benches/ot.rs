//! Criterion benchmarks of `gazelle::ot`: base OT, OT-extension throughput per party and per
//! SoftSpokenOT `k`, the transpose, the online derandomisation, and the two-party offline
//! extension over TCP loopback (one thread per party).
//!
//! `cargo bench --bench ot` (all), `cargo bench --bench ot -- extend` (a group).
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use gazelle::ot::base::{BaseReceiver, BaseSender};
use gazelle::ot::bench::bench_offline;
use gazelle::ot::ext::{ExtReceiverSetup, ExtSenderSetup, ExtendMsg};
use gazelle::ot::{CotReceiver, CotSender, ExtParams, OtRng};
use kernels::Block;

fn rng(seed: u128) -> OtRng {
    OtRng::from_seed(Block::from_u128(seed)).expect("AES backend")
}

fn setup(params: ExtParams) -> (CotSender, CotReceiver) {
    let (mut rs, mut rr) = (rng(1), rng(2));
    let delta = rng(3).block().with_lsb(true);
    let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).expect("setup");
    let (ssetup, b) = ExtSenderSetup::start(params, delta, &a, &mut rs).expect("setup");
    let (receiver, seeds) = rsetup.finish(&b, &mut rr).expect("setup");
    (ssetup.finish(&seeds).expect("setup"), receiver)
}

const PARAMS: [ExtParams; 4] = [
    ExtParams::IKNP,
    ExtParams::SOFTSPOKEN_2,
    ExtParams::SOFTSPOKEN_4,
    ExtParams::SOFTSPOKEN_8,
];

fn base(c: &mut Criterion) {
    let mut g = c.benchmark_group("ot/base");
    g.sample_size(10);
    g.bench_function("chou-orlandi/128", |b| {
        let choices: Vec<bool> = (0..128).map(|i| i % 2 == 1).collect();
        let (mut rs, mut rr) = (rng(4), rng(5));
        b.iter(|| {
            let (s, a) = BaseSender::new(128, &mut rs).expect("base");
            let (m, keys) = BaseReceiver::receive(&a, &choices, &mut rr).expect("base");
            black_box((s.finish(&m).expect("base"), keys))
        })
    });
    for params in [ExtParams::IKNP, ExtParams::SOFTSPOKEN_4] {
        g.bench_function(BenchmarkId::new("setup", params.name()), |b| {
            b.iter(|| black_box(setup(params)))
        });
    }
    g.finish();
}

fn extend(c: &mut Criterion) {
    let n = 1 << 16;
    let mut g = c.benchmark_group("ot/extend");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(n as u64));
    for params in PARAMS {
        let (_, mut r) = setup(params);
        g.bench_function(BenchmarkId::new("receiver", params.name()), |b| {
            b.iter(|| black_box(r.extend(n).expect("extend")))
        });
        let (mut s, mut r) = setup(params);
        // The sender needs the receiver's messages in order: time only its own step.
        g.bench_function(BenchmarkId::new("sender", params.name()), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let (_, msg): (_, ExtendMsg) = r.extend(n).expect("extend");
                    let t = Instant::now();
                    black_box(s.extend(&msg).expect("extend"));
                    spent += t.elapsed();
                }
                spent
            })
        });
    }
    g.finish();
}

fn transpose(c: &mut Criterion) {
    let nb = 64;
    let stride = 68;
    let mut cols = vec![Block::ZERO; 128 * stride];
    rng(6).fill_blocks(&mut cols);
    let mut rows = Vec::with_capacity(128 * nb);
    let mut g = c.benchmark_group("ot/transpose");
    g.throughput(Throughput::Elements(128 * nb as u64));
    g.bench_function("128x8192", |b| {
        b.iter(|| {
            rows.clear();
            gazelle::ot::transpose::transpose_columns(&cols, stride, nb, &mut rows);
            black_box(&rows);
        })
    });
    g.finish();
}

fn online(c: &mut Criterion) {
    let n = 1 << 16;
    let (mut s, mut r) = setup(ExtParams::default());
    let mut zero = vec![Block::ZERO; n];
    rng(7).fill_blocks(&mut zero);
    let choices: Vec<bool> = (0..n).map(|j: usize| (j * 7).is_multiple_of(3)).collect();
    let mut g = c.benchmark_group("ot/online");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("labels/both-parties", |b| {
        b.iter_batched(
            || {
                let (rc, msg) = r.extend(n).expect("extend");
                (s.extend(&msg).expect("extend"), rc)
            },
            |(mut sc, mut rc)| {
                let (cm, pending) = rc.choose_labels(&choices).expect("online");
                let lm = sc.send_labels(&zero, &cm).expect("online");
                black_box(pending.finish(&lm).expect("online"))
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn two_party(c: &mut Criterion) {
    let total = 1 << 20;
    let mut g = c.benchmark_group("ot/two-party-tcp");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(total as u64));
    for params in [ExtParams::IKNP, ExtParams::SOFTSPOKEN_4] {
        g.bench_function(BenchmarkId::new("offline", params.name()), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let row = bench_offline(params, total, 1 << 18).expect("bench");
                        Duration::from_secs_f64(row.seconds)
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, base, extend, transpose, online, two_party);
criterion_main!(benches);
