//! Single-threaded AES self-check (no libtest, so it also runs under qemu user emulation):
//! every AES backend this CPU has against FIPS-197 and the portable implementation.
//! Exits non-zero on any mismatch.
//!
//! `cargo run --release -p kernels --example aes_check`, or for aarch64:
//! `../shared/tools/aarch64-run.sh -p kernels --example aes_check`.
fn main() {
    println!(
        "aes_check: target {} {}, cpu features {:?}",
        std::env::consts::ARCH,
        std::env::consts::OS,
        kernels::backend::cpu::detected_features()
    );
    match kernels::aes::self_check_with(|line| println!("{line}")) {
        Ok(()) => println!("aes_check: all available AES backends agree"),
        Err(e) => {
            eprintln!("aes_check: FAILED: {e}");
            std::process::exit(1);
        }
    }
}
