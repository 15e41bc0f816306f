//! Times MiniONN-CIFAR's 64→64 3×3 convolution at 32×32 (the network's heaviest linear
//! layer) repeatedly, for profiling: `T` sets the worker count (default 1), `N` the number of
//! evaluations (default 4). E.g. `N=12 perf record -g target/release/examples/linalg_conv_profile`.
use gazelle::he::{params::ParamSetId, sampling, Ciphertext, GaloisKeys, Plaintext, SecretKey};
use gazelle::linalg::{bench::random_weights, ConvShape, LayerShape, PreparedLayer, Schedule};
use gazelle::sched::Scheduler;
use rand_chacha::rand_core::SeedableRng;
fn main() {
    let params = ParamSetId::Gazelle4096.params().unwrap();
    let shape = LayerShape::Conv(ConvShape::conv(64, 64, 32, 32, 3, 1, 1));
    let s = Schedule::best(&params, &shape).unwrap();
    let mut rng = sampling::secret_rng().unwrap();
    let sk = SecretKey::generate(&params, &mut rng);
    let keys = GaloisKeys::generate(&sk, &s.galois_elements(), &mut rng).unwrap();
    let w = random_weights(&shape, &mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
    let x = vec![3i64; shape.input_len()];
    let cts: Vec<Ciphertext> = s
        .pack_input(&x)
        .unwrap()
        .iter()
        .map(|v| {
            sk.encrypt(&Plaintext::encode_slots(&params, v).unwrap(), &mut rng)
                .unwrap()
        })
        .collect();
    let t: usize = std::env::var("T")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let pool = Scheduler::new(Some(t)).unwrap();
    let layer = PreparedLayer::new(&s, &w, &pool).unwrap();
    for _ in 0..std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
    {
        let st = std::time::Instant::now();
        layer.eval(&cts, &keys, &pool).unwrap();
        println!("{} threads: {:.1} ms", t, st.elapsed().as_secs_f64() * 1e3);
    }
}
