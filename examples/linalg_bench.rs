//! Prints the per-layer cost table of the five networks and the per-layer timings of
//! MiniONN-MNIST / MiniONN-CIFAR at 1 and 2 threads (`--quick`: MNIST only). What
//! `gazelle bench linalg` prints, usable before the CLI wires it.
use gazelle::he::params::ParamSetId;
use gazelle::linalg::bench::{cost_table, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let params = ParamSetId::Gazelle4096.params()?;
    println!("| network | layer | shape | method | in cts | out cts | rotations (hoisted) | ct×pt | keys |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in cost_table(&params)? {
        let c = r.cost;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
            r.network,
            r.layer,
            r.shape,
            r.method,
            c.in_cts,
            c.out_cts,
            c.rotations(),
            c.hoisted_rotations,
            c.mults,
            c.galois_keys
        );
    }
    println!();
    println!("| network | layer | shape | method | threads | eval ms | cpu ms | prepare ms |");
    println!("|---|---|---|---|---|---|---|---|");
    let rows = run(quick)?;
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.1} | {} | {:.0} |",
            r.network,
            r.layer,
            r.shape,
            r.method,
            r.threads,
            r.eval_ms,
            r.cpu_ms.map_or("-".into(), |c| format!("{c:.0}")),
            r.prepare_ms
        );
    }
    for net in ["minionn-mnist", "minionn-cifar"] {
        for t in [1, 2] {
            let sel = || rows.iter().filter(|r| r.network == net && r.threads == t);
            let total: f64 = sel().map(|r| r.eval_ms).sum();
            let cpu: f64 = sel().filter_map(|r| r.cpu_ms).sum();
            if total > 0.0 {
                println!(
                    "{net}: total {total:.1} ms wall, {cpu:.0} ms CPU at {t} thread(s) \
                     (CPU / threads = {:.0} ms)",
                    cpu / t as f64
                );
            }
        }
    }
    Ok(())
}
