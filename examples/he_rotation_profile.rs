//! Profiling loop for one key-switched rotation at `gazelle-4096` (for `perf record`):
//! `cargo run --release --example he_rotation_profile [iterations]`; with `HOISTED_ONLY=1` it
//! times only hoisted rotations of one decomposed ciphertext, with `KEYS=k` it holds Galois keys
//! for k steps (the criterion bench holds 32).
use gazelle::he::{sampling, GaloisKeys, Hoisted, ParamSetId, Plaintext, SecretKey};

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let params = ParamSetId::Gazelle4096.params().expect("built-in set");
    let mut rng = sampling::secret_rng().expect("OS randomness");
    let sk = SecretKey::generate(&params, &mut rng);
    // KEYS=k holds keys for steps 1..=k (the criterion bench holds 32); step 1 is used.
    let keys: i64 = std::env::var("KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let steps: Vec<i64> = (1..=keys.max(1)).collect();
    let gk = GaloisKeys::for_steps(&sk, &steps, false, &mut rng).expect("keys");
    let vals: Vec<u64> = (0..params.n() as u64).map(|i| i % params.p()).collect();
    let pt = Plaintext::encode_slots(&params, &vals).expect("encode");
    let ct = sk.encrypt(&pt, &mut rng).expect("encrypt");
    // Minimum over batches of 20 calls: robust to a noisy shared host.
    let time = |f: &dyn Fn()| {
        let mut best = f64::MAX;
        for _ in 0..iters.div_ceil(20) {
            let t = std::time::Instant::now();
            for _ in 0..20 {
                f();
            }
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / 20.0);
        }
        best
    };
    let h = Hoisted::new(&ct).expect("hoist");
    if std::env::var_os("HOISTED_ONLY").is_some() {
        let each = time(&|| {
            std::hint::black_box(h.rotate_rows(&gk, 1).expect("rotate"));
        });
        println!("hoisted rotation {each:.1} µs");
        return;
    }
    for _ in 0..2 {
        let rot = time(&|| {
            std::hint::black_box(gk.rotate_rows(&ct, 1).expect("rotate"));
        });
        let hoist = time(&|| {
            std::hint::black_box(Hoisted::new(&ct).expect("hoist"));
        });
        let each = time(&|| {
            std::hint::black_box(h.rotate_rows(&gk, 1).expect("rotate"));
        });
        println!(
            "gazelle-4096 (best batch of 20, {iters} calls): rotation {rot:.1} µs; hoist {hoist:.1} µs + \
             hoisted rotation {each:.1} µs"
        );
    }
}
