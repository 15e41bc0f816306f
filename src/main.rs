//! The `gazelle` command-line tool.
use clap::{Parser, Subcommand, ValueEnum};
use gazelle::bench::{self, MachineInfo, Report};
use gazelle::kernels::Backend;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gazelle",
    version,
    about = "Gazelle-style private neural-network inference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main job on the embedded default (see README).
    Demo {
        /// Short run.
        #[arg(long)]
        quick: bool,
    },
    /// Benchmark one family of kernels and print one table (or JSON).
    Bench {
        /// Which family to measure.
        family: Family,
        /// `all` for every backend this CPU can run, side by side, or one backend name.
        #[arg(long, default_value = "selected")]
        backend: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Short measurement budget (smoke test).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Family {
    /// NTT and modular arithmetic per backend × reduction × n × prime size.
    Kernels,
    /// Every family above.
    All,
}

fn backends(spec: &str) -> Result<Vec<Backend>, String> {
    match spec {
        "all" => Ok(Backend::available()),
        "selected" => Backend::selected()
            .map(|b| vec![b])
            .map_err(|e| e.to_string()),
        name => Backend::parse(name)
            .and_then(|b| b.check())
            .map(|b| vec![b])
            .map_err(|e| e.to_string()),
    }
}

fn run_bench(family: Family, backend: &str, json: bool, quick: bool) -> Result<(), String> {
    let backends = backends(backend)?;
    let mut report = Report {
        machine: MachineInfo::detect(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    if matches!(family, Family::Kernels | Family::All) {
        let opts = bench::kernels::KernelBenchOptions::new(backends.clone(), quick);
        let (rows, notes) = bench::kernels::run(&opts).map_err(|e| e.to_string())?;
        report.rows.extend(rows);
        report.notes.extend(notes);
    }
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { quick } => {
            println!(
                "gazelle demo: the private-inference protocol has not landed yet; until it does, \
                 the demo prints the NTT kernel table of every backend this CPU runs."
            );
            run_bench(Family::Kernels, "all", false, quick)
        }
        Command::Bench {
            family,
            backend,
            json,
            quick,
        } => run_bench(family, &backend, json, quick),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
