//! The `gazelle` command-line tool.
use clap::{Parser, Subcommand, ValueEnum};
use gazelle::bench::{self, MachineInfo, Report};
use gazelle::kernels::Backend;
use gazelle::protocol::cli;
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
    /// Private inference end to end: client and server in this process over loopback TCP,
    /// bundled model and real images; prints accuracy, agreement with plaintext inference,
    /// latency and bytes.
    Demo {
        /// Bundled model (mnist-secureml, mnist-cryptonets, mnist-deepsecure, mnist-minionn,
        /// cifar-minionn).
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// Number of images to classify (the default finishes in seconds).
        #[arg(long, default_value_t = 20)]
        images: usize,
    },
    /// Serve private inference on a bundled model (one session per connection).
    Serve {
        /// Bundled model.
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: String,
        /// Most sessions served at once.
        #[arg(long, default_value_t = 4)]
        max_sessions: usize,
    },
    /// Classify one image privately against a `gazelle serve` server.
    Infer {
        /// Server address.
        #[arg(long)]
        server: String,
        /// Bundled model the server runs (its architecture; the weights stay on the server).
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// A PNG image.
        #[arg(
            long,
            conflicts_with = "mnist_index",
            required_unless_present = "mnist_index"
        )]
        image: Option<std::path::PathBuf>,
        /// Index of a digit of the bundled MNIST test set.
        #[arg(long)]
        mnist_index: Option<usize>,
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
        Command::Demo { model, images } => cli::demo(&model, images).map_err(|e| e.to_string()),
        Command::Serve {
            model,
            listen,
            max_sessions,
        } => cli::serve(&model, &listen, max_sessions).map_err(|e| e.to_string()),
        Command::Infer {
            server,
            model,
            image,
            mnist_index,
        } => match (image, mnist_index) {
            (Some(path), _) => Ok(cli::InferInput::Png(path)),
            (None, Some(i)) => Ok(cli::InferInput::MnistIndex(i)),
            (None, None) => Err("give --image or --mnist-index".to_string()),
        }
        .and_then(|input| cli::infer(&server, &model, &input).map_err(|e| e.to_string())),
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
