//! Every backend against scalar, bit for bit, with the outcome per backend printed (a backend
//! this CPU lacks is reported as SKIPPED, never as passed). `harness = false` so the lines show.
use kernels::testing::{check_ntt_backends, BackendCheck, TestRng};

fn main() {
    let mut failed = 0;
    for seed in [0x5eed_0001, TestRng::fresh_seed()] {
        for r in check_ntt_backends(seed, &[256, 2048, 4096, 8192]) {
            match r {
                BackendCheck::Passed {
                    backend,
                    cases,
                    reductions,
                } => println!(
                    "backend {backend}: {cases} cases ({}) match scalar (seed {seed:#x})",
                    reductions.join(", ")
                ),
                BackendCheck::Skipped { backend, what } => {
                    println!("backend {backend}: SKIPPED {what}")
                }
                BackendCheck::Failed { backend, what } => {
                    failed += 1;
                    println!("backend {backend}: MISMATCH {what}");
                }
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} backend comparisons failed");
        std::process::exit(1);
    }
}
