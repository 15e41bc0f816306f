//! Criterion benchmarks of the garbled-circuit layer (kept short: `cargo bench --bench gc`).
//!
//! * `aes/<backend>` — AES-128 on 1024 blocks, per available backend;
//! * `tmmo/<backend>` — the half-gates hash on 1024 blocks;
//! * `relu/garble`, `relu/evaluate` — 10 102 ReLU-with-re-masking circuits at p = 1032193
//!   (99 AND each, ≥ 10^6 AND gates per iteration) through one 32 MB table buffer, throughput
//!   in AND gates;
//! * `relu/garble-streamed`, `relu/evaluate-streamed` — the same work in batches of
//!   `gazelle::gc::GROUP` instances through a reused buffer, as the protocol streams it.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gazelle::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use gazelle::gc::{Evaluator, Garbler, GROUP};
use kernels::{Aes128, AesBackend, Block};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn aes(c: &mut Criterion) {
    let mut g = c.benchmark_group("aes");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1024));
    for backend in AesBackend::ALL {
        if !backend.is_available() {
            eprintln!("aes/{backend}: SKIPPED (cpu lacks: {})", backend.needs());
            continue;
        }
        let aes = Aes128::with_backend(kernels::aes::FIXED_KEY, backend).unwrap();
        let mut buf: Vec<Block> = (0..1024u128).map(Block::from_u128).collect();
        let tweaks = buf.clone();
        g.bench_function(BenchmarkId::new("encrypt", backend.name()), |b| {
            b.iter(|| aes.encrypt_many(black_box(&mut buf)))
        });
        g.bench_function(BenchmarkId::new("tmmo", backend.name()), |b| {
            b.iter(|| aes.tmmo_many(black_box(&mut buf), &tweaks))
        });
    }
    g.finish();
}

fn relu(c: &mut Criterion) {
    let p = 1_032_193;
    let nc = NonlinearCircuit::new(NonlinearSpec::relu(p)).unwrap();
    let circuit = nc.circuit();
    let instances = 1_000_000usize.div_ceil(nc.and_count());
    let ands = (instances * nc.and_count()) as u64;
    let c_in: Vec<u64> = (0..instances as u64).map(|i| (i * 7919) % p).collect();
    let s_in: Vec<u64> = (0..instances as u64)
        .map(|i| (i * 104_729 + 5) % p)
        .collect();
    let r_in: Vec<u64> = (0..instances as u64)
        .map(|i| (i * 15_485_863 + 11) % p)
        .collect();
    let bits = nc.input_bits(&c_in, &s_in, &r_in).unwrap();

    // The protocol's default garbling scheme.
    let scheme = gazelle::protocol::ServerConfig::default().garbling;
    let mut g = c.benchmark_group("relu");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(ands));
    let mut garbler = Garbler::new().unwrap().with_scheme(scheme);
    let mut stream = Vec::with_capacity(circuit.table_bytes(instances, scheme));
    g.bench_function(
        BenchmarkId::new("garble", format!("p={p}/{ands}AND")),
        |b| {
            b.iter(|| {
                stream.clear();
                garbler.garble(circuit, instances, &mut stream).unwrap()
            })
        },
    );
    stream.clear();
    let garbling = garbler.garble(circuit, instances, &mut stream).unwrap();
    let labels = garbling.encode(&bits).unwrap();
    g.bench_function(
        BenchmarkId::new("evaluate", format!("p={p}/{ands}AND")),
        |b| {
            b.iter(|| {
                // A fresh evaluator per run: its gate counter must match the garbling's.
                let mut e = Evaluator::new().unwrap().with_scheme(scheme);
                e.evaluate(circuit, instances, &labels, &mut stream.as_slice())
                    .unwrap()
            })
        },
    );
    // Streamed as in the protocol: batches of GROUP instances through a reused buffer that stays
    // in cache; `iter_custom` times only the garbling, or only the evaluation.
    let per = circuit.num_inputs();
    let mut batch = Vec::with_capacity(circuit.table_bytes(GROUP, scheme));
    for (what, time_garble) in [("garble-streamed", true), ("evaluate-streamed", false)] {
        g.bench_function(BenchmarkId::new(what, format!("p={p}/{ands}AND")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut garbler = Garbler::new().unwrap().with_scheme(scheme);
                    let mut evaluator = Evaluator::new().unwrap().with_scheme(scheme);
                    for b0 in (0..instances).step_by(GROUP) {
                        let m = GROUP.min(instances - b0);
                        batch.clear();
                        let t = Instant::now();
                        let garbling = garbler.garble(circuit, m, &mut batch).unwrap();
                        if time_garble {
                            total += t.elapsed();
                        }
                        let labels = garbling.encode(&bits[b0 * per..(b0 + m) * per]).unwrap();
                        let t = Instant::now();
                        let out = evaluator.evaluate(circuit, m, &labels, &mut batch.as_slice());
                        if !time_garble {
                            total += t.elapsed();
                        }
                        black_box(out.unwrap());
                    }
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, aes, relu);
criterion_main!(benches);
