fn main() {
    for r in gazelle::he::bench::run(true).unwrap() {
        println!(
            "{:30} {:10.1} us ± {:.1}",
            r.operation, r.median_us, r.spread_us
        );
    }
}
