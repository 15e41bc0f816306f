//! Every candidate method of MiniONN's and CryptoNets' layer shapes at the default
//! parameters: the cost model's estimate beside the measured evaluation time on 2 workers
//! (median of 5, after a warm-up), so that the model's ranking can be checked against the
//! machine. `cargo run --release --example linalg_candidates [-- --quick]` (`--quick`: the
//! MNIST shapes only).
use gazelle::he::params::ParamSetId;
use gazelle::he::{sampling, Ciphertext, GaloisKeys, Plaintext, SecretKey};
use gazelle::linalg::bench::random_weights;
use gazelle::linalg::shape::{ConvShape, LayerShape};
use gazelle::linalg::{PreparedLayer, Schedule};
use gazelle::sched::Scheduler;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let params = ParamSetId::default().params()?;
    let conv = |ci, co, h, k, pad| LayerShape::Conv(ConvShape::conv(ci, co, h, h, k, 1, pad));
    let mut shapes = vec![
        conv(1, 16, 28, 5, 0),
        conv(16, 16, 12, 5, 0),
        LayerShape::Fc {
            n_in: 256,
            n_out: 100,
        },
        LayerShape::Conv(ConvShape::conv(1, 5, 28, 28, 5, 2, 2)),
    ];
    if !quick {
        shapes.extend([
            conv(3, 64, 32, 3, 1),
            conv(64, 64, 32, 3, 1),
            conv(64, 64, 16, 3, 1),
            conv(64, 64, 8, 3, 1),
            conv(64, 64, 8, 1, 0),
        ]);
    }
    let mut rng = sampling::secret_rng()?;
    let sk = SecretKey::generate(&params, &mut rng);
    let mut wrng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let pool = Scheduler::new(Some(2))?;
    println!("| shape | method | estimate (passes) | eval ms (2 workers) | ct×pt | hoisted | outer + tail | decompositions | in / out cts |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for shape in &shapes {
        for s in Schedule::candidates(&params, shape)? {
            let c = s.cost();
            // Hundreds of hoisted rotations of large inputs: minutes, never the pick.
            if c.hoisted_rotations > 600 {
                continue;
            }
            let w = random_weights(shape, &mut wrng);
            let x: Vec<i64> = (0..shape.input_len())
                .map(|_| (wrng.next_u32() % 256) as i64 - 128)
                .collect();
            let keys = GaloisKeys::generate(&sk, &s.galois_elements(), &mut rng)?;
            let cts = s
                .pack_input(&x)?
                .iter()
                .map(|v| sk.encrypt(&Plaintext::encode_slots(&params, v)?, &mut rng))
                .collect::<Result<Vec<Ciphertext>, _>>()?;
            let layer = PreparedLayer::new(&s, &w, &pool)?;
            layer.eval(&cts, &keys, &pool)?;
            let mut t: Vec<f64> = (0..5)
                .map(|_| {
                    let a = Instant::now();
                    layer
                        .eval(&cts, &keys, &pool)
                        .map(|_| a.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<Result<_, _>>()?;
            t.sort_by(|a, b| a.total_cmp(b));
            println!(
                "| {} | {} | {:.0} | {:.1} | {} | {} | {} | {} | {} / {} |",
                shape.describe(),
                s.method_name(),
                c.estimate(&params),
                t[2],
                c.mults,
                c.hoisted_rotations,
                c.plain_rotations,
                c.decompositions,
                c.in_cts,
                c.out_cts
            );
        }
    }
    Ok(())
}
