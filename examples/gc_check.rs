//! Single-threaded garbled-circuit self-check (no libtest, so it also runs under qemu user
//! emulation): the Gazelle circuits garbled and evaluated with every available AES backend,
//! against the integer reference. Exits non-zero on any mismatch.
//!
//! `cargo run --release --example gc_check`, or for aarch64:
//! `../shared/tools/aarch64-run.sh --example gc_check`.
use gazelle::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
use gazelle::gc::{run_local, Evaluator, Garbler};
use kernels::{Aes128, AesBackend};
use rand::{Rng, SeedableRng};
use rand_chacha::{ChaCha12Rng, ChaCha8Rng};

fn check(spec: NonlinearSpec, backend: AesBackend) -> Result<usize, String> {
    let nc = NonlinearCircuit::new(spec).map_err(|e| e.to_string())?;
    let p = spec.p;
    let instances = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(p ^ spec.window as u64);
    let mut draw = |n: usize| -> Vec<u64> { (0..n).map(|_| rng.random_range(0..p)).collect() };
    let (c, s, r) = (
        draw(instances * spec.window),
        draw(instances * spec.window),
        draw(instances),
    );
    let bits = nc.input_bits(&c, &s, &r).map_err(|e| e.to_string())?;
    let aes = || Aes128::with_backend(kernels::aes::FIXED_KEY, backend).map_err(|e| e.to_string());
    let mut g = Garbler::with_parts(aes()?, ChaCha12Rng::from_seed([9; 32]));
    let mut e = Evaluator::with_aes(aes()?);
    let out =
        run_local(nc.circuit(), instances, &bits, &mut g, &mut e).map_err(|e| e.to_string())?;
    if nc.decode_outputs(&out) != nc.reference(&c, &s, &r) {
        return Err(format!(
            "{spec:?} with {backend}: garbled output differs from the reference"
        ));
    }
    Ok(nc.and_count())
}

fn main() {
    let p = 1_032_193;
    let specs = [
        NonlinearSpec::relu(p),
        NonlinearSpec::downshift_relu(p, 8, 8),
        NonlinearSpec::maxpool_relu(p, 4),
        NonlinearSpec::relu(p).with_relu(false).revealed(),
    ];
    for backend in AesBackend::ALL {
        if !backend.is_available() {
            println!(
                "gc_check {backend}: SKIPPED (cpu lacks: {})",
                backend.needs()
            );
            continue;
        }
        for spec in specs {
            match check(spec, backend) {
                Ok(ands) => println!("gc_check {backend}: ok, {ands} AND/instance, {spec:?}"),
                Err(e) => {
                    eprintln!("gc_check: FAILED: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    println!("gc_check: all available backends agree with the reference");
}
