//! Compares every NTT backend this CPU has with scalar on random inputs, every fixed-key AES
//! backend with FIPS-197 and the portable one, and the per-ISA `vecops` loops with their
//! definitions; exits 1 on a mismatch.
//! Single-threaded (no libtest), so it also runs under qemu user-mode emulation:
//! `../shared/tools/aarch64-run.sh -p kernels --example backend_check`.
use kernels::testing::{check_ntt_backends, BackendCheck, TestRng};

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(TestRng::fresh_seed);
    println!(
        "backend_check: arch {}, seed {seed:#x}",
        std::env::consts::ARCH
    );
    println!(
        "features: {}",
        kernels::backend::cpu::detected_features().join(" ")
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for r in check_ntt_backends(seed, &[256, 1024, 4096]) {
        match r {
            BackendCheck::Passed {
                backend,
                cases,
                reductions,
            } => {
                passed += 1;
                println!(
                    "ntt {backend}: ok ({cases} cases match scalar; reductions {})",
                    reductions.join(", ")
                );
            }
            BackendCheck::Skipped { backend, what } => {
                skipped += 1;
                println!("ntt {backend}: SKIPPED {what}");
            }
            BackendCheck::Failed { backend, what } => {
                failed += 1;
                println!("ntt {backend}: MISMATCH {what}");
            }
        }
    }
    // Fixed-key AES: every AES backend this CPU has against FIPS-197 and the portable one.
    match kernels::aes::self_check_with(|line| println!("{line}")) {
        Ok(()) => {
            passed += 1;
            println!("aes: ok (all available AES backends agree)");
        }
        Err(e) => {
            failed += 1;
            println!("aes: MISMATCH {e}");
        }
    }
    // The per-ISA builds of `vecops` (multiversion) against plain definitions.
    match kernels::testing::check_vecops(seed) {
        Ok(cases) => {
            passed += 1;
            println!("vecops: ok ({cases} cases match the definitions)");
        }
        Err(e) => {
            failed += 1;
            println!("vecops: MISMATCH {e}");
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}
