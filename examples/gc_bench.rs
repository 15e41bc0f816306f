//! Prints the garbled-circuit throughput figures (`gazelle::gc::bench::bench`), one row each:
//! `cargo run --release --example gc_bench` (set `GAZELLE_BACKEND` to force a backend).
fn main() {
    let config = gazelle::gc::bench::BenchConfig::default();
    match gazelle::gc::bench::bench(&config) {
        Ok(rows) => {
            for row in rows {
                println!("{row}");
            }
        }
        Err(e) => {
            eprintln!("gc_bench: {e}");
            std::process::exit(1);
        }
    }
}
