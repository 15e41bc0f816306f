//! Prints the garbled-circuit throughput figures (`gazelle::gc::bench`), one row each:
//! `cargo run --release --example gc_bench [all|relu|relu3|aes] [repeats]` (`relu3`: three-halves
//! garbling; set `GAZELLE_BACKEND` to force a backend).
use gazelle::gc::bench::{bench, bench_aes, bench_relu, BenchConfig};
use gazelle::gc::Scheme;
use kernels::{Aes128, AesBackend};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("all");
    let mut config = BenchConfig::default();
    if let Some(r) = args.get(2).and_then(|r| r.parse().ok()) {
        config.repeats = r;
    }
    let rows = match what {
        "all" => bench(&config),
        "relu" | "relu3" => {
            let scheme = if what == "relu3" {
                Scheme::ThreeHalves
            } else {
                Scheme::HalfGates
            };
            Aes128::fixed().map_err(Into::into).and_then(|aes| {
                bench_relu(&aes, scheme, config.p, config.min_and_gates, config.repeats)
            })
        }
        "aes" => AesBackend::available()
            .into_iter()
            .map(|b| bench_aes(b, config.aes_blocks, config.repeats))
            .collect(),
        other => {
            eprintln!("gc_bench: unknown selection {other:?} (all, relu, relu3 or aes)");
            std::process::exit(2);
        }
    };
    match rows {
        Ok(rows) => rows.iter().for_each(|row| println!("{row}")),
        Err(e) => {
            eprintln!("gc_bench: {e}");
            std::process::exit(1);
        }
    }
}
