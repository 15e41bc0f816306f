//! The `gazelle` command-line tool.
use clap::{Parser, Subcommand, ValueEnum};
use gazelle::kernels::Backend;
use gazelle::protocol::cli;
use gazelle_cli::bench::{self, BenchRow, MachineInfo, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod config;
mod import;
mod loadtest;
mod net_args;
mod plan;

#[derive(Parser)]
#[command(
    name = "gazelle",
    version,
    about = "Gazelle-style private neural-network inference",
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Take flags from a TOML file (keys are flag names; a [serve], [infer], … table applies
    /// to that command only); flags on the command line win.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

// Parsed once per process: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Private inference end to end: client and server in this process over loopback TLS 1.3
    /// (a throwaway certificate), bundled model and real images; prints accuracy, agreement
    /// with plaintext inference, latency and bytes.
    Demo {
        /// Bundled model (mnist-secureml, mnist-cryptonets, mnist-deepsecure, mnist-minionn,
        /// cifar-minionn).
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// Number of images to classify (the default finishes in seconds).
        #[arg(long, default_value_t = 20, value_parser = positive)]
        images: usize,
        /// Plain TCP instead of TLS (to measure what TLS costs).
        #[arg(long)]
        no_tls: bool,
        /// Shape the link between the parties: lan (3 Gbit/s, 0.3 ms RTT), wan (400 Mbit/s,
        /// 40 ms RTT) or MBIT,RTT_MS.
        #[arg(long)]
        link: Option<gazelle::net::link::LinkProfile>,
        /// HE parameter set: gazelle-8192-hybrid (default: ≥128-bit and circuit privacy),
        /// gazelle-4096, gazelle-4096-fast, gazelle-8192 (faster, but they miss the privacy
        /// budget) or gazelle-2048 (the paper's set, below 128-bit); `gazelle plan` shows
        /// each one's circuit-privacy budget.
        #[arg(long, default_value = "gazelle-8192-hybrid")]
        params: String,
        /// How the server garbles AND gates: three-halves (default: 25 bytes per gate) or
        /// half-gates (32 bytes per gate, two thirds of the hashing).
        #[arg(long, default_value = "three-halves")]
        garbling: gazelle::gc::Scheme,
        /// Memory for the server's prepared weights, in MB (default 400), or `unlimited`:
        /// beyond it the fewest plaintexts needed are kept as coefficients (7.5× smaller at
        /// the default parameters) and transformed at each use (slower products, the same
        /// replies). A limit given here that cannot be met stops the server; the default
        /// one is met as far as it can be, and the log says by how much it is missed.
        #[arg(long, value_parser = weights_memory)]
        weights_memory: Option<gazelle::protocol::WeightsMemory>,
    },
    /// Serve private inference on a model (one session per connection).
    Serve {
        /// A bundled model's name, a .gzm file, or an .onnx file (imported at start, with
        /// --calibrate). Clients learn its architecture, never a weight.
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        #[command(flatten)]
        import: import::ImportArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: String,
        /// Most sessions served at once.
        #[arg(long, default_value_t = 4, value_parser = positive)]
        max_sessions: usize,
        /// HE parameter set: gazelle-8192-hybrid (default: ≥128-bit and circuit privacy),
        /// gazelle-4096, gazelle-4096-fast, gazelle-8192 (faster, but they miss the privacy
        /// budget) or gazelle-2048 (the paper's set, below 128-bit); `gazelle plan` shows
        /// each one's circuit-privacy budget.
        #[arg(long, default_value = "gazelle-8192-hybrid")]
        params: String,
        /// Serve even though the plan misses the circuit-privacy budget (`gazelle plan`): the
        /// server logs it loudly and tells every client, which prints it.
        #[arg(long)]
        insecure_no_circuit_privacy: bool,
        /// What the client learns: the class only (default; the argmax is computed inside the
        /// last garbled circuit), or every logit (which makes model extraction by equation
        /// solving far cheaper). Every client is told which in the handshake.
        #[arg(long, value_enum, default_value_t = RevealArg::Class)]
        reveal: RevealArg,
        /// How AND gates are garbled: three-halves (default: 25 bytes per gate, −22 % of the
        /// table bytes, 1.5× the hashing on both sides) or half-gates (32 bytes per gate);
        /// every client is told which in the handshake.
        #[arg(long, default_value = "three-halves")]
        garbling: gazelle::gc::Scheme,
        /// Memory for the server's prepared weights, in MB (default 400), or `unlimited`:
        /// beyond it the fewest plaintexts needed are kept as coefficients (7.5× smaller at
        /// the default parameters) and transformed at each use (slower products, the same
        /// replies). A limit given here that cannot be met stops the server; the default
        /// one is met as far as it can be, and the log says by how much it is missed.
        #[arg(long, value_parser = weights_memory)]
        weights_memory: Option<gazelle::protocol::WeightsMemory>,
        /// On SIGTERM/SIGINT: stop accepting, let every session finish its current query,
        /// and exit 0 once they have ended or after this many seconds.
        #[arg(long, default_value_t = 30)]
        grace_seconds: u64,
        /// Before accepting connections, run this many private queries (synthetic inputs)
        /// against the model, the client in a child process of this executable, so that the
        /// first client's query finds warm memory and started worker pools; 0 accepts at once.
        #[arg(long, default_value_t = 1)]
        warmup_queries: usize,
        /// Serve Prometheus metrics at http://ADDR/metrics (names start with gazelle_) and a
        /// liveness check at http://ADDR/healthz.
        #[arg(long)]
        metrics: Option<String>,
        #[command(flatten)]
        net: net_args::ServeNetArgs,
    },
    /// Load test a server (or a balancer in front of replicas): N concurrent clients, each
    /// one session of M queries; latency percentiles, queries per second, errors.
    Loadtest {
        /// Server address (host:port).
        #[arg(long)]
        server: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4, value_parser = positive)]
        clients: usize,
        /// Queries per client (one session each, unless it fails).
        #[arg(long, default_value_t = 10, value_parser = positive)]
        queries: usize,
        /// The served model, with weights (a bundled name or a .gzm): every answer is then
        /// checked against the plaintext oracle. Default: the architecture the server sends.
        #[arg(long)]
        model: Option<String>,
        /// New sessions a client may open after a failed one.
        #[arg(long, default_value_t = 0)]
        retries: usize,
        /// Compute each query's offline phase ahead (after the previous answer): the latency
        /// measured is then the answer's, the online phase.
        #[arg(long)]
        precompute: bool,
        /// HE parameter set (as `infer`).
        #[arg(long, default_value = "gazelle-8192-hybrid")]
        params: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connect: net_args::ConnectArgs,
    },
    /// Make a private certificate authority and a server certificate for TLS: writes
    /// ca.pem (for clients: infer --tls-ca), cert.pem and key.pem (serve --tls-cert/--tls-key).
    Cert {
        /// A DNS name or IP address clients use to reach the server (repeat for several).
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// Folder to write the three files into (created if missing; existing files are kept
        /// and the command fails).
        #[arg(long)]
        out: PathBuf,
        /// Days of validity.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
    /// Import an ONNX model (opset ≥ 11): batch norm folded, calibrated post-training
    /// quantisation, checked against the ONNX model run by tract; writes a .gzm.
    Import {
        /// The ONNX file.
        onnx: PathBuf,
        /// The .gzm to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        import: import::ImportArgs,
    },
    /// Classify one image privately against a `gazelle serve` server.
    Infer {
        /// Server address.
        #[arg(long)]
        server: String,
        /// The model the server must run (a bundled name or a .gzm file; only its architecture
        /// is used). Default: whatever the server serves, from the architecture it sends in
        /// the handshake (never a weight).
        #[arg(long)]
        model: Option<String>,
        /// A PNG image.
        #[arg(
            long,
            conflicts_with_all = ["mnist_index", "images"],
            required_unless_present_any = ["mnist_index", "images"]
        )]
        image: Option<std::path::PathBuf>,
        /// A folder of PNG images, classified in one session (keys and base OTs once); a file
        /// named `…_LABEL.png` carries its label, and the accuracy is printed.
        #[arg(long, conflicts_with = "mnist_index")]
        images: Option<std::path::PathBuf>,
        /// Index of a digit of the bundled MNIST test set.
        #[arg(long)]
        mnist_index: Option<usize>,
        /// Brightness of a PNG: `auto` inverts a one-channel (hand-drawn) image with a light
        /// background and says so; RGB images are never inverted unless asked (`invert`).
        #[arg(long, value_enum, default_value_t = PolarityArg::Auto)]
        polarity: PolarityArg,
        /// HE parameter set: gazelle-8192-hybrid (default: ≥128-bit and circuit privacy),
        /// gazelle-4096, gazelle-4096-fast, gazelle-8192 (faster, but they miss the privacy
        /// budget) or gazelle-2048 (the paper's set, below 128-bit); `gazelle plan` shows
        /// each one's circuit-privacy budget.
        #[arg(long, default_value = "gazelle-8192-hybrid")]
        params: String,
        /// Print one JSON object (class, class name, label, latencies, bytes; per image for
        /// --images) instead of text.
        #[arg(long)]
        json: bool,
        /// With --images: keep this many offline phases computed ahead (0 to 4), so that each
        /// answer costs only its online phase.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=4))]
        precompute: u8,
        #[command(flatten)]
        connect: net_args::ConnectArgs,
    },
    /// The evaluation plan of a model under a parameter set and its circuit-privacy budget:
    /// per stage the method, noise and flooding bounds, statistical distance per reply and
    /// replies per query; the totals per query and per session.
    Plan {
        /// Bundled model name or a `.gzm` file.
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// HE parameter set.
        #[arg(long, default_value = "gazelle-8192-hybrid")]
        params: String,
        /// Machine-readable output (keys: stages[].sd_log2, query_sd_log2, session_queries,
        /// session_sd_log2, security_bits).
        #[arg(long)]
        json: bool,
    },
    /// Benchmark one family and print one table (or JSON) with a machine header.
    Bench {
        /// Which family to measure.
        family: Family,
        /// `all` for every backend this CPU can run, side by side; `selected` for the
        /// process-wide one (GAZELLE_BACKEND or the best); or one backend name.
        #[arg(long, default_value = "selected")]
        backend: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Short measurement budget (smoke test).
        #[arg(long)]
        quick: bool,
        /// Worker threads for parallel kernels (sets GAZELLE_THREADS).
        #[arg(long)]
        threads: Option<usize>,
        /// e2e through a shaped link: lan, wan or MBIT,RTT_MS (sets GAZELLE_BENCH_LINK).
        #[arg(long)]
        link: Option<gazelle::net::link::LinkProfile>,
    },
    /// Float vs fixed-point accuracy of a bundled model on the bundled images.
    Eval {
        /// Model name (mnist-secureml, mnist-cryptonets, mnist-deepsecure, mnist-minionn,
        /// cifar-minionn), a .gzm file, or an .onnx file (with --calibrate).
        #[arg(long, default_value = "mnist-minionn")]
        model: String,
        /// A folder of labelled PNGs (labels.csv or …_LABEL.png names) to evaluate float and
        /// fixed point on, instead of the bundled sets.
        #[arg(long)]
        images: Option<PathBuf>,
        #[command(flatten)]
        import: import::ImportArgs,
    },
    /// Markdown tables and SVG plots from a saved `bench --json` run and criterion's estimates.
    Report {
        /// JSON written by `gazelle bench <family> --json` (repeat to merge several runs).
        #[arg(long, required = true)]
        bench_json: Vec<PathBuf>,
        /// Merge runs from different machines or commits (the report then says so at the top);
        /// without it such a merge is refused.
        #[arg(long)]
        allow_mixed: bool,
        /// Criterion's output directory (peers timed in the same runs give ratios).
        #[arg(long, default_value = "target/criterion")]
        criterion: PathBuf,
        /// Markdown file to write.
        #[arg(long, default_value = "perf/latest.md")]
        out: PathBuf,
        /// Directory for SVG plots.
        #[arg(long, default_value = "perf/plots")]
        plots: PathBuf,
        /// The command that produced the JSON, for reports saved before runs recorded their
        /// own command line (a recorded one wins).
        #[arg(long)]
        command: Option<String>,
    },
    /// CPU profile of a workload as a flamegraph SVG, plus the hottest functions.
    Profile {
        /// Workload to profile.
        workload: Workload,
        /// Output file (default: flame.svg, or profile.pb with `--format pprof`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seconds to sample.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Flamegraph SVG, or pprof protobuf for external viewers (`go tool pprof`).
        #[arg(long, value_enum, default_value_t = bench::profile::ProfileFormat::Flamegraph)]
        format: bench::profile::ProfileFormat,
        /// Functions listed (by inclusive time, self time beside it).
        #[arg(long, default_value_t = 25)]
        top: usize,
        /// Bundled model of the `e2e` and `queries` workloads (mnist-secureml, mnist-cryptonets,
        /// mnist-deepsecure, mnist-minionn, cifar-minionn) [default: mnist-minionn].
        #[arg(long)]
        model: Option<String>,
    },
    /// Internal: the client of `serve`'s warm-up, which `serve` runs in a child process so
    /// that its own memory is a session's only; stdin is `serve`'s end of a socket pair.
    #[command(name = cli::WARM_UP_CLIENT_COMMAND, hide = true)]
    WarmUpClient {
        /// Parameter set of the server.
        #[arg(long)]
        params: String,
        /// Queries to run.
        #[arg(long)]
        queries: usize,
    },
}

/// What `serve` reveals to its clients.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum RevealArg {
    /// The class only.
    Class,
    /// Every logit.
    Logits,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Family {
    /// NTT and modular arithmetic per backend × reduction × n × prime size.
    Kernels,
    /// Homomorphic encryption operations per parameter set.
    He,
    /// Fixed-key AES, garbling and evaluation per AND gate, ReLUs per second.
    Gc,
    /// Base OT, OT extension and online derandomisation.
    Ot,
    /// Homomorphic linear layers: cost model per network layer, ms per layer at 1, 2, 4, … workers up to the cores (weights in NTT form, as `serve --weights-memory unlimited`; `bench he` times a product with a plaintext kept as coefficients).
    Linalg,
    /// Secure inference end to end: latency and bytes per network and per stage and phase.
    E2e,
    /// Every family above.
    All,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Kernels => "kernels",
            Family::He => "he",
            Family::Gc => "gc",
            Family::Ot => "ot",
            Family::Linalg => "linalg",
            Family::E2e => "e2e",
            Family::All => "all",
        }
    }

    fn members(self) -> Vec<Family> {
        match self {
            Family::All => vec![
                Family::Kernels,
                Family::He,
                Family::Gc,
                Family::Ot,
                Family::Linalg,
                Family::E2e,
            ],
            f => vec![f],
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Workload {
    /// Forward + inverse NTT at the default parameters' n and first prime (n = 8192, 50 bits).
    Ntt,
    /// Homomorphic ct×pt multiply-accumulate and hoisted rotations at the default parameters.
    He,
    /// Garbling and evaluating ReLU circuits, with the protocol's default garbling scheme.
    Gc,
    /// One homomorphic convolution (MiniONN-CIFAR 64→64 3×3 on 8×8) on the server, at the default parameters.
    Conv,
    /// Secure inference of one image (`--model`, default MiniONN-MNIST), both parties in this
    /// process.
    E2e,
    /// Twenty queries (`--model`, default MiniONN-MNIST) in one session (session setup
    /// amortised): where the offline and online phases spend their time.
    Queries,
}

/// `--polarity` of `infer`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum PolarityArg {
    /// Guess for one-channel images (light background: invert), as is for RGB.
    Auto,
    /// Pixels as they are.
    AsIs,
    /// 255 − pixel.
    Invert,
}

impl From<PolarityArg> for gazelle::data::Polarity {
    fn from(p: PolarityArg) -> Self {
        match p {
            PolarityArg::Auto => gazelle::data::Polarity::Auto,
            PolarityArg::AsIs => gazelle::data::Polarity::AsIs,
            PolarityArg::Invert => gazelle::data::Polarity::Invert,
        }
    }
}

/// `--weights-memory`: megabytes (decimal) as a strict limit, or `unlimited`.
fn weights_memory(s: &str) -> Result<gazelle::protocol::WeightsMemory, String> {
    use gazelle::protocol::WeightsMemory;
    if s.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(WeightsMemory::Unlimited);
    }
    match s.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb > 0.0 && mb < 1e12 => Ok(WeightsMemory::Limit {
            bytes: (mb * 1e6) as usize,
            strict: true,
        }),
        _ => Err(format!(
            "expected megabytes (a number above 0) or `unlimited`, got {s:?}"
        )),
    }
}

/// A count that must be at least one (`--images 0`, `--max-sessions 0` are refused).
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {s:?}")),
    }
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

/// Runs a non-kernel family on `backend`: in process when it is the process-wide backend,
/// else in a child process with `GAZELLE_BACKEND` set (backends are fixed per process).
fn family_on(family: Family, backend: Backend, quick: bool) -> Result<Vec<BenchRow>, String> {
    let selected = Backend::selected().map_err(|e| e.to_string())?;
    if backend == selected {
        return match family {
            Family::He => bench::families::he(quick),
            Family::Gc => bench::families::gc(quick),
            Family::Ot => bench::families::ot(quick),
            Family::Linalg => bench::families::linalg(quick),
            Family::E2e => bench::families::e2e(quick),
            _ => unreachable!("kernels and all are expanded by the caller"),
        };
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", family.name(), "--json"])
        .env(gazelle::kernels::backend::BACKEND_ENV, backend.name());
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run the {backend} child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{backend} child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("{backend} child: {e}"))?;
    serde_json::from_value(v["rows"].clone()).map_err(|e| format!("{backend} child rows: {e}"))
}

fn run_bench(family: Family, backend: &str, json: bool, quick: bool) -> Result<(), String> {
    let backends = backends(backend)?;
    let mut report = Report {
        run: bench::RunInfo::now(),
        machine: MachineInfo::detect(),
        rows: Vec::new(),
        notes: Vec::new(),
    };
    for f in family.members() {
        if f == Family::Kernels {
            let opts = bench::kernels::KernelBenchOptions::new(backends.clone(), quick);
            let (rows, notes) = bench::kernels::run(&opts).map_err(|e| e.to_string())?;
            report.rows.extend(rows);
            report.notes.extend(notes);
        } else {
            for &b in &backends {
                report.rows.extend(family_on(f, b, quick)?);
            }
        }
    }
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(())
}

fn run_eval(model: &str) -> Result<(), String> {
    let report = if model.ends_with(".gzm") {
        let m = gazelle::nn::Model::load(std::path::Path::new(model)).map_err(|e| e.to_string())?;
        gazelle::nn::eval::report_for(&m)
    } else {
        gazelle::nn::accuracy_report(model)
    }
    .map_err(|e| e.to_string())?;
    print!("{report}");
    Ok(())
}

fn run_profile(
    workload: Workload,
    out: Option<PathBuf>,
    seconds: f64,
    format: bench::profile::ProfileFormat,
    top: usize,
    model: Option<&str>,
) -> Result<(), String> {
    let model = match (workload, model) {
        (Workload::E2e | Workload::Queries, m) => {
            let m = m.unwrap_or("mnist-minionn");
            // Checked before sampling starts: a wrong name fails at once.
            gazelle::nn::builtin_model(m).map_err(|e| e.to_string())?;
            m
        }
        (_, Some(_)) => return Err("--model applies to the e2e and queries workloads".into()),
        (_, None) => "",
    };
    let duration = Duration::from_secs_f64(seconds.max(0.1));
    let out = out.unwrap_or_else(|| {
        PathBuf::from(match format {
            bench::profile::ProfileFormat::Flamegraph => "flame.svg",
            bench::profile::ProfileFormat::Pprof => "profile.pb",
        })
    });
    let out = out.as_path();
    let backend = gazelle::kernels::Backend::selected()
        .map(|b| b.name().to_string())
        .unwrap_or_else(|e| e.to_string());
    let aes = gazelle::kernels::AesBackend::selected()
        .map(|b| b.to_string())
        .unwrap_or_else(|e| e.to_string());
    let name = workload
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let name = match workload {
        Workload::E2e | Workload::Queries => format!("{name} of {model}"),
        _ => name,
    };
    let title = format!(
        "workload {name} (NTT backend {backend}, AES {aes}, {} worker thread(s))",
        gazelle::sched::Scheduler::global().threads()
    );
    let summary = match workload {
        Workload::Ntt => {
            use gazelle::kernels::ntt::NttPlan64;
            let params = gazelle::he::params::ParamSetId::default()
                .params()
                .map_err(|e| e.to_string())?;
            let (n, q) = (params.n(), params.moduli()[0]);
            let plan = NttPlan64::try_new(n, q).map_err(|e| e.to_string())?;
            let mut a = gazelle::kernels::testing::TestRng::new(1).vec_below(n, q);
            bench::profile::profile(
                bench::profile::infallible(|| {
                    plan.forward(&mut a);
                    plan.inverse(&mut a);
                }),
                duration,
                out,
                top,
                &title,
                format,
            )?
        }
        Workload::He => {
            let w = bench::workloads::HeWorkload::new().map_err(|e| e.to_string())?;
            let work = bench::profile::infallible(|| w.run());
            bench::profile::profile(work, duration, out, top, &title, format)?
        }
        Workload::Gc => {
            let mut w = bench::workloads::GcWorkload::new().map_err(|e| e.to_string())?;
            let work = bench::profile::infallible(|| w.run());
            bench::profile::profile(work, duration, out, top, &title, format)?
        }
        Workload::Conv => {
            let w = bench::workloads::ConvWorkload::new()?;
            let work = bench::profile::infallible(|| w.run());
            bench::profile::profile(work, duration, out, top, &title, format)?
        }
        Workload::E2e | Workload::Queries => {
            let params = gazelle::he::params::ParamSetId::default();
            let images = if workload == Workload::Queries { 20 } else { 1 };
            let opts = cli::DemoOptions::default();
            bench::profile::profile(
                || {
                    cli::demo_run(model, images, params, &opts, |_, _, _, _| {})
                        .map(drop)
                        .map_err(|e| e.to_string())
                },
                duration,
                out,
                top,
                &title,
                format,
            )?
        }
    };
    println!("profile written to {}", out.display());
    print!("{summary}");
    Ok(())
}

fn run_report(
    bench_json: &[PathBuf],
    allow_mixed: bool,
    criterion: &std::path::Path,
    out: &std::path::Path,
    plots: &std::path::Path,
    command: Option<&str>,
) -> Result<(), String> {
    let mut runs = Vec::new();
    for path in bench_json {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: Report =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        runs.push((path.display().to_string(), report));
    }
    let (mut report, mixed) = bench::report::merge(runs, allow_mixed)?;
    if report.run.command.is_empty() {
        report.run.command = command.unwrap_or("(not recorded)").to_string();
    }
    for m in &mixed {
        eprintln!("warning: {m}");
    }
    let entries = bench::report::read_criterion(criterion);
    let ratios = bench::report::peer_ratios(&entries);
    let md = bench::report::markdown(&report, &mixed, &ratios, &bench::utc_now()[..10]);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(out, md).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "wrote {} ({} rows, {} peer ratios from {} criterion entries)",
        out.display(),
        report.rows.len(),
        ratios.len(),
        entries.len()
    );
    if let Some(p) = bench::report::plot_ntt(&report, &entries, plots)? {
        println!("wrote {}", p.display());
    }
    for p in bench::report::plot_e2e(&report, plots)? {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// The executable `serve` runs as its warm-up client: on Linux the running image itself
/// (`/proc/self/exe`, even if the file at its path was replaced since it started), else the
/// path it was started from.
fn warm_up_executable() -> Option<PathBuf> {
    let own = PathBuf::from("/proc/self/exe");
    if cfg!(target_os = "linux") && own.exists() {
        return Some(own);
    }
    std::env::current_exe().ok()
}

fn param_set(name: &str) -> Result<gazelle::he::params::ParamSetId, String> {
    gazelle::he::params::ParamSetId::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = gazelle::he::params::ParamSetId::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        format!(
            "unknown parameter set {name:?} (expected one of {})",
            names.join(", ")
        )
    })
}

/// `serve`'s log lines on stderr: text or one JSON object per line; the level from
/// $GAZELLE_LOG (default `info`).
fn init_logging(format: net_args::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("GAZELLE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        net_args::LogFormat::Text => builder.try_init(),
        net_args::LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// `gazelle cert`: a CA and a server certificate, written without overwriting anything.
fn write_cert(names: &[String], out: &std::path::Path, days: u32) -> Result<(), String> {
    let pem = gazelle::net::tls::issue(names, days).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let files = [
        ("ca.pem", pem.ca_cert.as_bytes(), 0o644),
        ("cert.pem", pem.chain.as_bytes(), 0o644),
        ("key.pem", pem.key.as_bytes(), 0o600),
    ];
    for (name, _, _) in &files {
        if out.join(name).exists() {
            return Err(format!(
                "{}: exists; not overwritten",
                out.join(name).display()
            ));
        }
    }
    for (name, bytes, mode) in files {
        let path = out.join(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        std::io::Write::write_all(&mut f, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "wrote {}/ca.pem (clients: infer --tls-ca), cert.pem and key.pem (serve --tls-cert, --tls-key) for {}; valid {days} days",
        out.display(),
        names.join(", ")
    );
    Ok(())
}

fn main() -> ExitCode {
    // Freed buffers stay in the process for the next allocation: the engine's allocate/free
    // churn otherwise re-faults and re-zeroes every page (perf/RESULTS.md, sixth session).
    // Not in `serve`'s warm-up client: a short rehearsal whose memory sits beside the
    // server's, it gives back what it frees (its key generation's ~0.1 GB for MiniONN-CIFAR).
    if std::env::args_os()
        .nth(1)
        .is_none_or(|c| c != cli::WARM_UP_CLIENT_COMMAND)
    {
        gazelle::kernels::mem::retain_freed_memory();
    }
    let args = match config::expand(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Demo {
            model,
            images,
            params,
            no_tls,
            link,
            garbling,
            weights_memory,
        } => param_set(&params).and_then(|p| {
            let opts = cli::DemoOptions {
                tls: !no_tls,
                link,
                garbling,
                weights_memory: weights_memory.unwrap_or_default(),
            };
            cli::demo(&model, images, p, &opts).map_err(|e| e.to_string())
        }),
        Command::Serve {
            model,
            import,
            listen,
            max_sessions,
            params,
            insecure_no_circuit_privacy,
            reveal,
            garbling,
            weights_memory,
            grace_seconds,
            warmup_queries,
            metrics,
            net,
        } => param_set(&params).and_then(|p| {
            let config = gazelle::protocol::ServerConfig {
                param_set: p,
                insecure_no_circuit_privacy,
                reveal_logits: reveal == RevealArg::Logits,
                garbling,
                weights_memory: weights_memory.unwrap_or_default(),
                ..Default::default()
            };
            init_logging(net.log_format);
            let mut run = cli::ServeOptions {
                max_sessions,
                grace: std::time::Duration::from_secs(grace_seconds),
                warmup_queries,
                warmup_client: warm_up_executable(),
                ..Default::default()
            };
            net.apply(&mut run)?;
            let loaded = import::load_model(&model, &import)?;
            cli::serve_model(loaded, &model, &listen, config, run, metrics.as_deref())
                .map_err(|e| e.to_string())
        }),
        Command::Cert { names, out, days } => write_cert(&names, &out, days),
        Command::Loadtest {
            server,
            clients,
            queries,
            model,
            retries,
            precompute,
            params,
            json,
            connect,
        } => param_set(&params).and_then(|p| {
            let spec = loadtest::LoadSpec {
                server,
                clients,
                queries,
                model,
                param_set: p,
                retries,
                precompute,
                connect: connect.options()?,
            };
            loadtest::loadtest(&spec, json)
        }),
        Command::Infer {
            server,
            model,
            image,
            images,
            mnist_index,
            polarity,
            params,
            json,
            precompute,
            connect,
        } => match (image, images, mnist_index) {
            (Some(path), _, _) => Ok(cli::InferInput::Png(path, polarity.into())),
            (None, Some(dir), _) => Ok(cli::InferInput::Dir(dir, polarity.into())),
            (None, None, Some(i)) => Ok(cli::InferInput::MnistIndex(i)),
            (None, None, None) => Err("give --image, --images or --mnist-index".to_string()),
        }
        .and_then(|input| {
            let p = param_set(&params)?;
            let connect = connect.options()?;
            cli::infer(
                &server,
                &connect,
                model.as_deref(),
                &input,
                p,
                json,
                precompute.into(),
            )
            .map_err(|e| e.to_string())
        }),
        Command::Plan {
            model,
            params,
            json,
        } => param_set(&params).and_then(|p| plan::run(&model, p, json)),
        Command::Bench {
            family,
            backend,
            json,
            quick,
            threads,
            link,
        } => {
            if let Some(l) = link {
                // Read by the e2e family, also in child processes.
                std::env::set_var(
                    "GAZELLE_BENCH_LINK",
                    format!("{},{}", l.mbit_per_s, l.rtt.as_secs_f64() * 1e3),
                );
            }
            if let Some(t) = threads {
                // Before any pool exists; child processes inherit it.
                std::env::set_var("GAZELLE_THREADS", t.max(1).to_string());
            }
            run_bench(family, &backend, json, quick)
        }
        Command::Eval {
            model,
            images,
            import,
        } => match images {
            Some(dir) => {
                import::load_model(&model, &import).and_then(|m| import::run_eval_dir(&m, &dir))
            }
            None if model.ends_with(".onnx") => import::load_model(&model, &import).and_then(|m| {
                let r = gazelle::nn::eval::report_for(&m).map_err(|e| e.to_string())?;
                print!("{r}");
                Ok(())
            }),
            None => run_eval(&model),
        },
        Command::Import { onnx, out, import } => import::run_import(&onnx, &out, &import),
        Command::Profile {
            workload,
            out,
            seconds,
            format,
            top,
            model,
        } => run_profile(workload, out, seconds, format, top, model.as_deref()),
        Command::WarmUpClient { params, queries } => param_set(&params).and_then(|p| {
            #[cfg(unix)]
            return cli::warm_up_client(p, queries).map_err(|e| format!("warm-up client: {e}"));
            #[cfg(not(unix))]
            {
                let _ = (p, queries);
                Err("warm-up client: Unix only".into())
            }
        }),
        Command::Report {
            bench_json,
            allow_mixed,
            criterion,
            out,
            plots,
            command,
        } => run_report(
            &bench_json,
            allow_mixed,
            &criterion,
            &out,
            &plots,
            command.as_deref(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
