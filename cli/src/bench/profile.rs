//! `gazelle profile`: a sampling CPU profile (pprof, SIGPROF at ~1 kHz) of a workload, written
//! as a flamegraph SVG or a pprof protobuf, plus the hottest functions by inclusive and self
//! time as text.
//!
//! Functions are the non-inlined ones: a sampled address maps to a chain of symbols (the inlined
//! calls first, the function that was compiled last); the list charges each sample to the last
//! symbol of each frame, so an inlined leaf such as `copy_nonoverlapping` is counted as the
//! function it was inlined into.
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Output format of `gazelle profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileFormat {
    /// Flamegraph SVG (inferno), titled with the workload, backend and sample count.
    Flamegraph,
    /// pprof protobuf (`go tool pprof`, speedscope, Perfetto, …).
    Pprof,
}

/// One function's share of the samples.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionTime {
    /// Demangled name without the hash suffix.
    pub name: String,
    /// Samples with the function anywhere on the stack (each sample counted once).
    pub inclusive: u64,
    /// Samples with the function as the innermost non-inlined frame.
    pub self_samples: u64,
}

/// The hottest functions of a profile.
#[derive(Debug, Clone)]
pub struct ProfileSummary {
    /// What was profiled (workload, backend).
    pub title: String,
    /// Samples taken.
    pub samples: u64,
    /// Times the workload ran.
    pub iterations: u64,
    /// Process CPU time (all threads, user + system) while sampling, in seconds, where
    /// `/proc/self/stat` tells it: the samples cover less (timer granularity, dropped stacks
    /// in [`SKIPPED`] libraries).
    pub cpu_seconds: Option<f64>,
    /// Hottest first by inclusive samples (ties: self samples), runtime frames left out.
    pub top: Vec<FunctionTime>,
}

impl std::fmt::Display for ProfileSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}, over {} runs of the workload; hottest non-inlined functions:",
            self.title, self.iterations
        )?;
        if let Some(cpu) = self.cpu_seconds {
            writeln!(
                f,
                "(the samples cover {:.2} s of the process's {cpu:.2} s of CPU time at the \
                 {SAMPLE_HZ} Hz asked for: the kernel's timer delivers fewer signals than that, \
                 and samples taken while executing in {} are dropped, memcpy and system calls \
                 among them; read the shares, not the counts)",
                self.samples as f64 / SAMPLE_HZ as f64,
                SKIPPED.join(", ")
            )?;
        }
        writeln!(f, "inclusive   self  function")?;
        let pct = |n: u64| n as f64 * 100.0 / self.samples.max(1) as f64;
        for t in &self.top {
            writeln!(
                f,
                "{:8.2}% {:6.2}%  {}",
                pct(t.inclusive),
                pct(t.self_samples),
                t.name
            )?;
        }
        Ok(())
    }
}

/// A symbol's demangled name without rustc's `::h0123456789abcdef` suffix.
fn clean(name: String) -> String {
    match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => {
            name[..i].to_string()
        }
        _ => name,
    }
}

/// Frames of the runtime, the harness and the iterator/thread-pool plumbing, which sit under
/// most samples and name no work of their own.
fn is_harness(name: &str) -> bool {
    const PLUMBING: [&str; 6] = [
        "rayon_core::",
        "<rayon_core::",
        "rayon::iter::plumbing::",
        "<core::iter::adapters::",
        "<alloc::vec::Vec<T",
        "<std::sys::",
    ];
    if PLUMBING.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    const PREFIXES: [&str; 12] = [
        "std::rt::",
        "std::sys::",
        "std::panic",
        "std::thread::",
        "core::ops::function::",
        "__rust_begin_short_backtrace",
        "std::sys_common::",
        "main",
        "_start",
        "__libc_start",
        "start_thread",
        "clone",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
        || name.starts_with("gazelle_cli::bench::profile::")
        || name.starts_with("gazelle::main")
        || name.starts_with("gazelle::run_profile")
}

/// Sampling rate (per second of process CPU time).
const SAMPLE_HZ: i32 = 997;

/// Libraries the sampler does not unwind from: a sample taken while executing in one (memcpy,
/// system calls through libc) is dropped (pprof's guard against unwinding from a signal
/// handler there).
const SKIPPED: &[&str] = &["libc", "libgcc", "pthread", "vdso"];

/// (inclusive, self) samples per non-inlined function from pprof's stacks: each stack is
/// innermost frame first, each frame's symbols inlined-first with the compiled function last.
pub fn function_times(
    stacks: impl IntoIterator<Item = (Vec<String>, u64)>,
) -> (u64, Vec<FunctionTime>) {
    let mut times: HashMap<String, (u64, u64)> = HashMap::new();
    let mut total = 0u64;
    for (functions, count) in stacks {
        total += count;
        if let Some(leaf) = functions.first() {
            times.entry(leaf.clone()).or_default().1 += count;
        }
        let mut seen = HashSet::new();
        for f in functions {
            if seen.insert(f.clone()) {
                times.entry(f).or_default().0 += count;
            }
        }
    }
    let mut top: Vec<FunctionTime> = times
        .into_iter()
        .filter(|(name, _)| !is_harness(name))
        .map(|(name, (inclusive, self_samples))| FunctionTime {
            name,
            inclusive,
            self_samples,
        })
        .collect();
    top.sort_by(|a, b| {
        (b.inclusive, b.self_samples, &a.name).cmp(&(a.inclusive, a.self_samples, &b.name))
    });
    (total, top)
}

/// A workload that cannot fail, as [`profile`] takes it.
pub fn infallible(mut work: impl FnMut()) -> impl FnMut() -> Result<(), String> {
    move || {
        work();
        Ok(())
    }
}

/// Runs `work` repeatedly for at least `duration` under the profiler and writes the profile to
/// `out` in `format`. `title` names the workload and backend. Returns the `top_n` functions, or
/// the first error of `work` (then at once, writing nothing).
pub fn profile<F: FnMut() -> Result<(), String>>(
    mut work: F,
    duration: Duration,
    out: &Path,
    top_n: usize,
    title: &str,
    format: ProfileFormat,
) -> Result<ProfileSummary, String> {
    let cpu_start = gazelle::linalg::bench::process_cpu_ms();
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(SAMPLE_HZ)
        .blocklist(SKIPPED)
        .build()
        .map_err(|e| format!("cannot start the profiler: {e}"))?;
    let start = Instant::now();
    let mut iterations = 0;
    while iterations == 0 || start.elapsed() < duration {
        work()?;
        iterations += 1;
    }
    let cpu_seconds = cpu_start
        .zip(gazelle::linalg::bench::process_cpu_ms())
        .map(|(a, b)| (b - a) / 1e3);
    let report = guard
        .report()
        .build()
        .map_err(|e| format!("cannot build the profile: {e}"))?;
    let stacks: Vec<(Vec<String>, u64)> = report
        .data
        .iter()
        .map(|(frames, &count)| {
            let functions = frames
                .frames
                .iter()
                .filter_map(|symbols| symbols.last())
                .map(|s| clean(s.name()))
                .collect();
            (functions, count.max(0) as u64)
        })
        .collect();
    let (samples, mut top) = function_times(stacks);
    top.truncate(top_n);
    let title = format!("{title}, {samples} samples ({SAMPLE_HZ} Hz asked)");
    let create =
        || std::fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()));
    match format {
        ProfileFormat::Flamegraph => {
            let mut options = pprof::flamegraph::Options::default();
            options.title = format!("gazelle profile: {title}");
            report
                .flamegraph_with_options(create()?, &mut options)
                .map_err(|e| format!("cannot write the flamegraph: {e}"))?;
        }
        ProfileFormat::Pprof => {
            use pprof::protos::Message;
            let profile = report
                .pprof()
                .map_err(|e| format!("cannot build the pprof profile: {e}"))?;
            let mut bytes = Vec::new();
            profile
                .encode(&mut bytes)
                .map_err(|e| format!("cannot encode the pprof profile: {e}"))?;
            std::io::Write::write_all(&mut create()?, &bytes)
                .map_err(|e| format!("{}: {e}", out.display()))?;
        }
    }
    Ok(ProfileSummary {
        title,
        samples,
        iterations,
        cpu_seconds,
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(fs: &[&str], n: u64) -> (Vec<String>, u64) {
        (fs.iter().map(|s| s.to_string()).collect(), n)
    }

    #[test]
    fn inclusive_and_self_times_of_non_inlined_functions() {
        let (total, top) = function_times([
            stack(&["kernels::mul", "gazelle::he::rotate", "main"], 6),
            stack(&["gazelle::he::rotate", "main"], 2),
            // Recursion counts once per sample.
            stack(&["gazelle::gc::eval", "gazelle::gc::eval", "main"], 4),
        ]);
        assert_eq!(total, 12);
        let get = |n: &str| top.iter().find(|t| t.name == n).unwrap().clone();
        assert_eq!(
            (
                get("gazelle::he::rotate").inclusive,
                get("gazelle::he::rotate").self_samples
            ),
            (8, 2)
        );
        assert_eq!(
            (
                get("gazelle::gc::eval").inclusive,
                get("gazelle::gc::eval").self_samples
            ),
            (4, 4)
        );
        assert_eq!(get("kernels::mul").self_samples, 6);
        assert!(
            top.iter().all(|t| t.name != "main"),
            "harness frames left out"
        );
        assert_eq!(top[0].name, "gazelle::he::rotate");
    }

    #[test]
    fn hash_suffixes_are_removed() {
        assert_eq!(
            clean("gazelle::he::rotate::h0123456789abcdef".into()),
            "gazelle::he::rotate"
        );
        assert_eq!(clean("a::hello".into()), "a::hello");
    }
}
