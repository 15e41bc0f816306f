//! Criterion benchmarks of the PAHE scheme, per parameter set, with fhe.rs (BFV) on the same
//! ring dimension, moduli and plaintext modulus timed in the same run.
//!
//! `cargo bench --bench he` (add `-- gazelle-4096` to filter). Ciphertext sizes are printed.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fhe_traits::{FheDecrypter, FheEncoder, FheEncrypter, Serialize as _};
use gazelle::he::{
    sampling, Ciphertext, GaloisKeys, Hoisted, ParamSetId, Plaintext, PreparedPlaintext, SecretKey,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::Duration;

fn ours(c: &mut Criterion, id: ParamSetId) {
    let params = id.params().unwrap();
    let name = id.name();
    let n = params.n();
    let mut rng = sampling::secret_rng().unwrap();
    let mut g = c.benchmark_group(format!("he/{name}"));
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500));
    let sk = SecretKey::generate(&params, &mut rng);
    g.bench_function("keygen", |b| {
        b.iter(|| SecretKey::generate(&params, &mut rng))
    });
    g.bench_function("galois_keygen_1", |b| {
        b.iter(|| GaloisKeys::for_steps(&sk, &[1], false, &mut rng).unwrap())
    });
    let steps: Vec<i64> = (1..=32).collect();
    let gk = GaloisKeys::for_steps(&sk, &steps, false, &mut rng).unwrap();
    let vals: Vec<u64> = (0..n as u64).map(|i| i % params.p()).collect();
    let pt = Plaintext::encode_slots(&params, &vals).unwrap();
    g.bench_function("encrypt", |b| b.iter(|| sk.encrypt(&pt, &mut rng).unwrap()));
    let ct = sk.encrypt(&pt, &mut rng).unwrap();
    let ct2 = sk.encrypt(&pt, &mut rng).unwrap();
    g.bench_function("decrypt", |b| b.iter(|| sk.decrypt(&ct).unwrap()));
    g.bench_function("add", |b| b.iter(|| ct.add(&ct2).unwrap()));
    let w = PreparedPlaintext::new(&pt);
    g.bench_function("ct_x_pt", |b| b.iter(|| ct.mul_plain(&w).unwrap()));
    let mut acc = Ciphertext::zero(&params, ct.level()).unwrap();
    g.bench_function("ct_x_pt_acc", |b| {
        b.iter(|| acc.mul_plain_acc(&ct, &w).unwrap())
    });
    g.bench_function("rotation", |b| b.iter(|| gk.rotate_rows(&ct, 1).unwrap()));
    g.bench_function("hoist_decompose", |b| b.iter(|| Hoisted::new(&ct).unwrap()));
    let h = Hoisted::new(&ct).unwrap();
    g.bench_function("hoisted_rotation_each", |b| {
        b.iter(|| h.rotate_rows(&gk, 3).unwrap())
    });
    for k in [8i64, 32] {
        g.bench_with_input(BenchmarkId::new("hoisted_rotations", k), &k, |b, &k| {
            b.iter(|| {
                let h = Hoisted::new(&ct).unwrap();
                for s in 1..=k {
                    std::hint::black_box(h.rotate_rows(&gk, s).unwrap());
                }
            })
        });
    }
    g.finish();
    let computed = ct.add(&ct2).unwrap();
    println!(
        "he/{name}: ciphertext bytes fresh(seeded) {} computed {} switched-down {}",
        ct.serialized_len(),
        computed.serialized_len(),
        computed
            .mod_switch_down()
            .map(|c| c.serialized_len().to_string())
            .unwrap_or_else(|_| "-".into())
    );
}

fn fhe_rs(c: &mut Criterion, id: ParamSetId) {
    use fhe::bfv::{self, Encoding};
    let spec = id.spec();
    let par = bfv::BfvParametersBuilder::new()
        .set_degree(spec.n)
        .set_moduli(&spec.moduli)
        .set_plaintext_modulus(spec.p)
        .build_arc()
        .unwrap();
    let mut rng = ChaCha20Rng::from_os_rng();
    let mut g = c.benchmark_group(format!("fhe.rs/{}", id.name()));
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500));
    let sk = bfv::SecretKey::random(&par, &mut rng);
    g.bench_function("keygen", |b| {
        b.iter(|| bfv::SecretKey::random(&par, &mut rng))
    });
    let vals: Vec<u64> = (0..spec.n as u64).map(|i| i % spec.p).collect();
    let pt = bfv::Plaintext::try_encode(&vals, Encoding::simd(), &par).unwrap();
    g.bench_function("encrypt", |b| {
        b.iter(|| {
            let c: bfv::Ciphertext = sk.try_encrypt(&pt, &mut rng).unwrap();
            c
        })
    });
    let ct: bfv::Ciphertext = sk.try_encrypt(&pt, &mut rng).unwrap();
    let ct2: bfv::Ciphertext = sk.try_encrypt(&pt, &mut rng).unwrap();
    g.bench_function("decrypt", |b| b.iter(|| sk.try_decrypt(&ct).unwrap()));
    g.bench_function("add", |b| b.iter(|| &ct + &ct2));
    g.bench_function("ct_x_pt", |b| b.iter(|| &ct * &pt));
    if spec.moduli.len() > 1 {
        g.bench_function("galois_keygen_1", |b| {
            b.iter(|| {
                bfv::EvaluationKeyBuilder::new(&sk)
                    .unwrap()
                    .enable_column_rotation(1)
                    .unwrap()
                    .build(&mut rng)
                    .unwrap()
            })
        });
        let ek = bfv::EvaluationKeyBuilder::new(&sk)
            .unwrap()
            .enable_column_rotation(1)
            .unwrap()
            .build(&mut rng)
            .unwrap();
        g.bench_function("rotation", |b| {
            b.iter(|| ek.rotates_columns_by(&ct, 1).unwrap())
        });
    }
    g.finish();
    println!(
        "fhe.rs/{}: ciphertext bytes fresh(seeded) {}",
        id.name(),
        ct.to_bytes().len()
    );
}

fn benches(c: &mut Criterion) {
    for id in ParamSetId::ALL {
        ours(c, id);
        fhe_rs(c, id);
    }
}

criterion_group!(he, benches);
criterion_main!(he);
