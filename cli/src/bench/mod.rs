//! Measurement harness behind `gazelle bench`: repeated timing with median and spread, optional
//! hardware counters, the machine header, and one table/JSON format for every bench family.
//!
//! Timing never decides a test's outcome; these numbers are reported, not asserted.
pub mod counters;
pub mod families;
pub mod kernels;
pub mod profile;
pub mod report;
pub mod workloads;

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Timing summary of one operation, per call, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Median time per call (µs).
    pub median_us: f64,
    /// Fastest sample (µs per call).
    pub min_us: f64,
    /// Slowest sample (µs per call).
    pub max_us: f64,
    /// (90th − 10th percentile) / median, in percent: the run-to-run spread.
    pub spread_pct: f64,
    /// Number of samples taken.
    pub samples: usize,
    /// Calls per sample.
    pub iters_per_sample: u64,
    /// Every sample (µs per call) in the order taken.
    pub samples_us: Vec<f64>,
}

/// How long to measure each operation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Total time to spend sampling one operation.
    pub time: Duration,
    /// Most samples to take.
    pub max_samples: usize,
}

impl Budget {
    /// A short budget for smoke tests (`--quick`).
    pub const QUICK: Budget = Budget {
        time: Duration::from_millis(30),
        max_samples: 5,
    };
    /// The default for reports.
    pub const NORMAL: Budget = Budget {
        time: Duration::from_millis(400),
        max_samples: 41,
    };

    /// `QUICK` or `NORMAL`.
    pub fn new(quick: bool) -> Self {
        if quick {
            Self::QUICK
        } else {
            Self::NORMAL
        }
    }
}

/// Times `f`: one warm-up call, then samples of enough calls to last ≥ 100 µs each, until the
/// budget is spent (at least 3 samples).
pub fn measure<F: FnMut()>(mut f: F, budget: Budget) -> Stats {
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().max(Duration::from_nanos(20));
    let iters = (Duration::from_micros(100).as_nanos() / once.as_nanos()).clamp(1, 1 << 20) as u64;
    let mut per_call = Vec::new();
    let start = Instant::now();
    while per_call.len() < 3
        || (start.elapsed() < budget.time && per_call.len() < budget.max_samples)
    {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        per_call.push(t.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    summarize(&mut per_call, iters)
}

fn summarize(v: &mut [f64], iters: u64) -> Stats {
    let samples_us = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pick = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    let median = pick(0.5);
    Stats {
        median_us: median,
        min_us: v[0],
        max_us: v[v.len() - 1],
        spread_pct: if median > 0.0 {
            (pick(0.9) - pick(0.1)) / median * 100.0
        } else {
            0.0
        },
        samples: v.len(),
        iters_per_sample: iters,
        samples_us,
    }
}

/// One measured figure: a row of a bench table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRow {
    /// Bench family (`kernels`, `he`, `gc`, `ot`, `linalg`, `e2e`).
    pub family: String,
    /// Backend the operation ran on.
    pub backend: String,
    /// Operation name, e.g. `ntt-forward/shoup`.
    pub operation: String,
    /// Size and parameters, e.g. `n=4096 q=60b`.
    pub size: String,
    /// The figure: median time per call for timings, else a size or rate.
    pub median: f64,
    /// Unit of `median` (`µs`, `ns/AND`, `bytes`, …).
    pub unit: String,
    /// Run-to-run spread in percent of the median: (p90 − p10)/median, or 2·half-IQR/median
    /// where a family reports quartiles; None for single figures such as sizes.
    pub spread_pct: Option<f64>,
    /// Samples behind the median (0 for computed figures).
    pub samples: usize,
    /// Work per second in `throughput_unit`, if meaningful.
    pub throughput: Option<f64>,
    /// Unit of `throughput` (e.g. `butterflies/s`).
    pub throughput_unit: Option<String>,
    /// CPU cycles per unit of work (`per_unit`), from perf counters; None when unavailable.
    pub cycles_per_unit: Option<f64>,
    /// Instructions per unit of work, from perf counters; None when unavailable.
    pub instructions_per_unit: Option<f64>,
    /// The unit the counters are divided by (e.g. `butterfly`).
    pub per_unit: Option<String>,
    /// Secondary figures in words.
    pub note: String,
    /// The raw samples behind `median` (µs per call, in the order taken), where the family
    /// keeps them (kernels, he); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples_us: Vec<f64>,
}

impl BenchRow {
    /// A timing row from [`Stats`] (median in µs).
    pub fn timing(
        family: &str,
        backend: &str,
        operation: String,
        size: String,
        stats: Stats,
    ) -> Self {
        Self {
            family: family.into(),
            backend: backend.into(),
            operation,
            size,
            median: stats.median_us,
            unit: "µs".into(),
            spread_pct: Some(stats.spread_pct),
            samples: stats.samples,
            throughput: None,
            throughput_unit: None,
            cycles_per_unit: None,
            instructions_per_unit: None,
            per_unit: None,
            note: String::new(),
            samples_us: stats.samples_us,
        }
    }

    /// A row holding one figure with its unit.
    pub fn figure(
        family: &str,
        backend: &str,
        operation: String,
        size: String,
        value: f64,
        unit: &str,
    ) -> Self {
        Self {
            family: family.into(),
            backend: backend.into(),
            operation,
            size,
            median: value,
            unit: unit.into(),
            spread_pct: None,
            samples: 0,
            throughput: None,
            throughput_unit: None,
            cycles_per_unit: None,
            instructions_per_unit: None,
            per_unit: None,
            note: String::new(),
            samples_us: Vec::new(),
        }
    }
}

/// Facts about the machine and build, printed above every table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// SIMD/crypto features detected at run time.
    pub features_detected: Vec<String>,
    /// SIMD/crypto target features compiled in (from build.rs).
    pub features_compiled: Vec<String>,
    /// Backends this CPU can run.
    pub backends_available: Vec<String>,
    /// Backend chosen for this process (`GAZELLE_BACKEND` or the best).
    pub backend_selected: String,
    /// Compiler that built this binary.
    pub rustc: String,
    /// Build profile.
    pub profile: String,
    /// Whether perf counters can be read here.
    pub perf_counters: bool,
}

impl MachineInfo {
    /// Reads the running machine.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name") || l.starts_with("CPU part"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let interesting = [
            "sse4.1",
            "avx",
            "avx2",
            "fma",
            "bmi2",
            "aes",
            "pclmulqdq",
            "vaes",
            "vpclmulqdq",
            "avx512f",
            "avx512dq",
            "avx512ifma",
            "neon",
        ];
        let features_compiled = env!("GAZELLE_BUILD_FEATURES")
            .split(',')
            .filter(|f| interesting.contains(f))
            .map(String::from)
            .collect();
        Self {
            cpu,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            features_detected: gazelle::kernels::backend::cpu::detected_features()
                .into_iter()
                .map(String::from)
                .collect(),
            features_compiled,
            backends_available: gazelle::kernels::Backend::available()
                .into_iter()
                .map(|b| b.name().to_string())
                .collect(),
            backend_selected: match gazelle::kernels::Backend::selected() {
                Ok(b) => b.name().to_string(),
                Err(e) => format!("error: {e}"),
            },
            rustc: env!("GAZELLE_BUILD_RUSTC").to_string(),
            profile: env!("GAZELLE_BUILD_PROFILE").to_string(),
            perf_counters: counters::Counters::available(),
        }
    }
}

impl std::fmt::Display for MachineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "machine : {} ({} logical cores)", self.cpu, self.cores)?;
        writeln!(f, "detected: {}", self.features_detected.join(" "))?;
        writeln!(
            f,
            "compiled: {}",
            if self.features_compiled.is_empty() {
                "baseline only (kernels use runtime dispatch)".to_string()
            } else {
                self.features_compiled.join(" ")
            }
        )?;
        writeln!(
            f,
            "backends: {} (selected: {})",
            self.backends_available.join(" "),
            self.backend_selected
        )?;
        writeln!(
            f,
            "build   : {} ({}); perf counters: {}",
            self.rustc,
            self.profile,
            if self.perf_counters {
                "available"
            } else {
                "unavailable"
            }
        )
    }
}

/// What produced a report: the build's commit, when, the command line and the worker threads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// Git commit the binary was built from (`+dirty`: with uncommitted changes; `unknown`:
    /// built outside a checkout, or a report from before this field).
    pub commit: String,
    /// Start of the run, UTC, RFC 3339 (`2026-12-03T11:07:14Z`).
    pub utc: String,
    /// The command line, as typed (arguments joined by spaces).
    pub command: String,
    /// Worker threads of the parallel kernels (`GAZELLE_THREADS` or the logical cores).
    pub threads: usize,
}

impl RunInfo {
    /// This process: its build's commit, the clock, its arguments and thread count.
    pub fn now() -> Self {
        RunInfo {
            commit: env!("GAZELLE_BUILD_COMMIT").to_string(),
            utc: utc_now(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            threads: gazelle::sched::Scheduler::global().threads(),
        }
    }
}

/// The system clock as RFC 3339 UTC with seconds (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's civil-from-days).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A bench report: run and machine header plus rows; prints as a table or JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// What produced it (empty fields in reports saved before it was recorded).
    #[serde(default)]
    pub run: RunInfo,
    /// The machine and build.
    pub machine: MachineInfo,
    /// Measured rows.
    pub rows: Vec<BenchRow>,
    /// Free-form conclusions (e.g. which of two options is faster).
    pub notes: Vec<String>,
}

impl Report {
    /// JSON text of the report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "unavailable".into(),
    }
}

fn fmt_rate(v: Option<f64>, unit: &Option<String>) -> String {
    match v {
        Some(x) => {
            let (s, p) = if x >= 1e9 {
                (x / 1e9, "G")
            } else if x >= 1e6 {
                (x / 1e6, "M")
            } else if x >= 1e3 {
                (x / 1e3, "k")
            } else {
                (x, "")
            };
            format!("{s:.2}{p} {}", unit.as_deref().unwrap_or("/s"))
        }
        None => "-".into(),
    }
}

impl std::fmt::Display for RunInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "run     : commit {} at {}, {} worker thread(s): {}",
            self.commit, self.utc, self.threads, self.command
        )
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.run, self.machine)?;
        let mut family = "";
        for r in &self.rows {
            if r.family != family {
                family = &r.family;
                writeln!(
                    f,
                    "\n{:<8} {:<10} {:<30} {:<24} {:>16} {:>7} {:>22} {:>11} {:>11}",
                    "family",
                    "backend",
                    "operation",
                    "size",
                    "median",
                    "spread",
                    "throughput",
                    "cycles/u",
                    "instr/u"
                )?;
            }
            let spread = r
                .spread_pct
                .map(|s| format!("{s:.1}%"))
                .unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "{:<8} {:<10} {:<30} {:<24} {:>16} {:>7} {:>22} {:>11} {:>11}{}{}",
                r.family,
                r.backend,
                r.operation,
                r.size,
                format!("{:.2} {}", r.median, r.unit),
                spread,
                fmt_rate(r.throughput, &r.throughput_unit),
                fmt_opt(r.cycles_per_unit),
                fmt_opt(r.instructions_per_unit),
                r.per_unit
                    .as_deref()
                    .map(|u| format!(" (per {u})"))
                    .unwrap_or_default(),
                if r.note.is_empty() {
                    String::new()
                } else {
                    format!("  {}", r.note)
                },
            )?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
