//! The `gazelle` command-line tool.
fn main() {
    println!("gazelle {}", env!("CARGO_PKG_VERSION"));
}
