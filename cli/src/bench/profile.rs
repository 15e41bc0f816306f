//! `gazelle profile`: a sampling CPU profile (pprof, SIGPROF at ~1 kHz) of a workload, written
//! as a flamegraph SVG, plus the functions with the most samples as text.
use std::path::Path;
use std::time::{Duration, Instant};

/// The hottest functions of a profile.
#[derive(Debug, Clone)]
pub struct ProfileSummary {
    /// Samples taken.
    pub samples: u64,
    /// Times the workload ran.
    pub iterations: u64,
    /// (function, self samples, percent of all samples), hottest first.
    pub top: Vec<(String, u64, f64)>,
}

impl std::fmt::Display for ProfileSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} samples over {} runs of the workload; hottest functions (self time):",
            self.samples, self.iterations
        )?;
        for (name, n, pct) in &self.top {
            writeln!(f, "{pct:6.2}% {n:7}  {name}")?;
        }
        Ok(())
    }
}

/// Runs `work` repeatedly for at least `duration` under the profiler and writes the flamegraph
/// to `out`. Returns the `top_n` functions by self samples.
pub fn profile<F: FnMut()>(
    mut work: F,
    duration: Duration,
    out: &Path,
    top_n: usize,
) -> Result<ProfileSummary, String> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(997)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| format!("cannot start the profiler: {e}"))?;
    let start = Instant::now();
    let mut iterations = 0;
    while iterations == 0 || start.elapsed() < duration {
        work();
        iterations += 1;
    }
    let report = guard
        .report()
        .build()
        .map_err(|e| format!("cannot build the profile: {e}"))?;
    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    report
        .flamegraph(file)
        .map_err(|e| format!("cannot write the flamegraph: {e}"))?;
    let mut self_samples: std::collections::HashMap<String, u64> = Default::default();
    let mut total = 0u64;
    for (frames, &count) in &report.data {
        let count = count.max(0) as u64;
        total += count;
        // frames.frames[0] is the innermost frame (inlined functions first).
        let leaf = frames
            .frames
            .first()
            .and_then(|f| f.first())
            .map(|s| s.name())
            .unwrap_or_else(|| "<unknown>".into());
        *self_samples.entry(leaf).or_default() += count;
    }
    let mut top: Vec<(String, u64, f64)> = self_samples
        .into_iter()
        .map(|(name, n)| {
            (
                name,
                n,
                if total > 0 {
                    n as f64 * 100.0 / total as f64
                } else {
                    0.0
                },
            )
        })
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(top_n);
    Ok(ProfileSummary {
        samples: total,
        iterations,
        top,
    })
}
