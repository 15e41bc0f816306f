//! Prints the `gazelle bench ot` rows: `cargo run --release --example ot_bench [-- --quick]`.
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    match gazelle::ot::bench::run(quick) {
        Ok(rows) => {
            for row in rows {
                println!("{row}");
            }
        }
        Err(e) => {
            eprintln!("ot bench failed: {e}");
            std::process::exit(1);
        }
    }
}
