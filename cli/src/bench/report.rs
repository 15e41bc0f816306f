//! `gazelle report`: turns a saved `gazelle bench --json` run and criterion's saved estimates
//! (with the peer crates tfhe-ntt and fhe.rs timed in the same runs) into markdown tables and
//! SVG plots for `perf/`.
use super::{BenchRow, Report};
use plotters::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One criterion benchmark: its id and median time.
#[derive(Debug, Clone)]
pub struct CriterionEntry {
    /// Benchmark group, e.g. `forward` or `he/gazelle-4096`.
    pub group: String,
    /// Function id, e.g. `avx2-shoup-u64` or `tfhe-ntt`.
    pub function: String,
    /// Parameter, e.g. `4096/60` (empty when none).
    pub value: String,
    /// Median time per iteration, ns.
    pub median_ns: f64,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesJson {
    median: Estimate,
}

/// Reads every `*/new/{benchmark,estimates}.json` under a criterion directory.
pub fn read_criterion(dir: &Path) -> Vec<CriterionEntry> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    if let Some(entry) = read_entry(&p) {
                        out.push(entry);
                    }
                } else if p
                    .file_name()
                    .is_none_or(|n| n != "report" && n != "base" && n != "change")
                {
                    stack.push(p);
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.group, &a.function, &a.value).cmp(&(&b.group, &b.function, &b.value)));
    out
}

fn read_entry(new_dir: &Path) -> Option<CriterionEntry> {
    let b: BenchmarkJson =
        serde_json::from_slice(&std::fs::read(new_dir.join("benchmark.json")).ok()?).ok()?;
    let e: EstimatesJson =
        serde_json::from_slice(&std::fs::read(new_dir.join("estimates.json")).ok()?).ok()?;
    Some(CriterionEntry {
        group: b.group_id,
        function: b.function_id.unwrap_or_default(),
        value: b.value_str.unwrap_or_default(),
        median_ns: e.median.point_estimate,
    })
}

/// Our figure next to a peer's from the same criterion run.
#[derive(Debug, Clone)]
pub struct PeerRatio {
    /// What was compared, e.g. `forward 4096/60`.
    pub what: String,
    /// Our implementation (criterion function id).
    pub ours: String,
    /// Our median, µs.
    pub ours_us: f64,
    /// The peer (`tfhe-ntt`, `fhe.rs`).
    pub peer: String,
    /// The peer's median, µs.
    pub peer_us: f64,
}

impl PeerRatio {
    /// ours / peer: below 1 means we are faster.
    pub fn ratio(&self) -> f64 {
        self.ours_us / self.peer_us
    }
}

/// Pairs our criterion entries with the peers timed in the same run: tfhe-ntt in the NTT groups
/// (same group and parameter), fhe.rs groups `fhe.rs/SET` with ours `he/SET` (same function).
pub fn peer_ratios(entries: &[CriterionEntry]) -> Vec<PeerRatio> {
    let mut out = Vec::new();
    for peer in entries.iter().filter(|e| e.function == "tfhe-ntt") {
        for ours in entries.iter().filter(|e| {
            e.group == peer.group
                && e.value == peer.value
                && e.function != "tfhe-ntt"
                && e.function.ends_with("u64")
        }) {
            out.push(PeerRatio {
                what: format!("ntt {} {}", peer.group, peer.value),
                ours: ours.function.clone(),
                ours_us: ours.median_ns / 1e3,
                peer: "tfhe-ntt".into(),
                peer_us: peer.median_ns / 1e3,
            });
        }
    }
    for peer in entries.iter().filter(|e| e.group.starts_with("fhe.rs/")) {
        let set = &peer.group["fhe.rs/".len()..];
        if let Some(ours) = entries.iter().find(|e| {
            e.group == format!("he/{set}") && e.function == peer.function && e.value == peer.value
        }) {
            out.push(PeerRatio {
                what: format!("he {set} {}", peer.function),
                ours: "gazelle".into(),
                ours_us: ours.median_ns / 1e3,
                peer: "fhe.rs".into(),
                peer_us: peer.median_ns / 1e3,
            });
        }
    }
    out
}

/// One line naming a machine for comparison: CPU, cores, detected features, compiler, profile.
fn machine_key(m: &super::MachineInfo) -> String {
    format!(
        "{} ({} cores; {}; {} {})",
        m.cpu,
        m.cores,
        m.features_detected.join(" "),
        m.rustc,
        m.profile
    )
}

/// Merges saved runs (name, report) into one report. Runs from different machines or commits
/// are refused unless `allow_mixed`; then the returned lines say what differs (the markdown
/// puts them at the top). The merged run info is the first run's, with the other commands
/// appended.
pub fn merge(
    runs: Vec<(String, Report)>,
    allow_mixed: bool,
) -> Result<(Report, Vec<String>), String> {
    let mut it = runs.into_iter();
    let (first_name, mut merged) = it.next().ok_or("no bench JSON given")?;
    let mut mixed = Vec::new();
    for (name, r) in it {
        if machine_key(&r.machine) != machine_key(&merged.machine) {
            mixed.push(format!(
                "{name} ran on {}, {first_name} on {}",
                machine_key(&r.machine),
                machine_key(&merged.machine)
            ));
        }
        if r.run.commit != merged.run.commit {
            mixed.push(format!(
                "{name} was built from commit {}, {first_name} from {}",
                or_unknown(&r.run.commit),
                or_unknown(&merged.run.commit)
            ));
        }
        if !r.run.command.is_empty() {
            merged.run.command = format!("{}; {}", merged.run.command, r.run.command);
        }
        merged.rows.extend(r.rows);
        merged.notes.extend(r.notes);
    }
    if !mixed.is_empty() && !allow_mixed {
        return Err(format!(
            "refusing to merge runs from different machines or commits (--allow-mixed to merge \
             them anyway, marked in the report): {}",
            mixed.join("; ")
        ));
    }
    Ok((merged, mixed))
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "unknown"
    } else {
        s
    }
}

/// Markdown for a bench run (run and machine header, one table per family) plus the peer
/// ratios; `mixed` lines (see [`merge`]) head the page.
pub fn markdown(report: &Report, mixed: &[String], ratios: &[PeerRatio], date: &str) -> String {
    let m = &report.machine;
    let run = &report.run;
    let mut s = format!("Generated by `gazelle report` on {date}.\n\n");
    for line in mixed {
        s += &format!("**Mixed runs:** {line}.\n\n");
    }
    s += &format!(
        "Run: commit `{}` at {} with {} worker thread(s).\nCommand: `{}`.\n\
         Machine: {} ({} logical cores); detected {}; backends {} (selected {}); {}; perf \
         counters {}.\n",
        or_unknown(&run.commit),
        or_unknown(&run.utc),
        run.threads,
        run.command,
        m.cpu,
        m.cores,
        m.features_detected.join(" "),
        m.backends_available.join(" "),
        m.backend_selected,
        m.rustc,
        if m.perf_counters {
            "available"
        } else {
            "unavailable"
        }
    );
    let mut families: BTreeMap<&str, Vec<&BenchRow>> = BTreeMap::new();
    for r in &report.rows {
        families.entry(&r.family).or_default().push(r);
    }
    for (family, rows) in families {
        s += &format!(
            "\n### {family}\n\n| backend | operation | size | median | spread | throughput | note |\n|---|---|---|---|---|---|---|\n"
        );
        for r in rows {
            s += &format!(
                "| {} | {} | {} | {:.2} {} | {} | {} | {} |\n",
                r.backend,
                r.operation,
                r.size,
                r.median,
                r.unit,
                r.spread_pct
                    .map(|x| format!("{x:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                r.throughput
                    .map(|t| format!("{t:.3e} {}", r.throughput_unit.as_deref().unwrap_or("")))
                    .unwrap_or_else(|| "-".into()),
                r.note.replace('|', "/"),
            );
        }
    }
    for n in &report.notes {
        s += &format!("\nNote: {n}\n");
    }
    if !ratios.is_empty() {
        s += "\n### Peers timed in the same criterion runs (ratio = ours / peer; below 1 is faster)\n\n\
              | comparison | ours | ours µs | peer | peer µs | ratio |\n|---|---|---|---|---|---|\n";
        for r in ratios {
            s += &format!(
                "| {} | {} | {:.2} | {} | {:.2} | {:.2} |\n",
                r.what,
                r.ours,
                r.ours_us,
                r.peer,
                r.peer_us,
                r.ratio()
            );
        }
    }
    s
}

/// Plots NTT forward time against n, one line per backend × reduction × word, from the
/// kernels rows of a report. Returns the file written, or None if the report has no such rows.
pub fn plot_ntt(report: &Report, out_dir: &Path) -> Result<Option<PathBuf>, String> {
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.family == "kernels" && r.operation.starts_with("ntt-forward"))
    {
        // size: "n=4096 q=60b u64"
        let mut parts = r.size.split_whitespace();
        let n: f64 = match parts
            .next()
            .and_then(|p| p.strip_prefix("n="))
            .and_then(|v| v.parse().ok())
        {
            Some(n) => n,
            None => continue,
        };
        let rest: Vec<&str> = parts.collect();
        let red = r.operation.split('/').nth(1).unwrap_or("");
        series
            .entry(format!("{} {} {}", r.backend, red, rest.join(" ")))
            .or_default()
            .push((n, r.median));
    }
    if series.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let path = out_dir.join("ntt-forward.svg");
    let max_t = series.values().flatten().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    let (min_n, max_n) = series
        .values()
        .flatten()
        .fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let root = SVGBackend::new(&path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Forward NTT time vs n (per backend, reduction, prime)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((min_n * 0.9)..(max_n * 1.1), 0.0..max_t)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("n")
        .y_desc("µs")
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, mut pts)) in series.into_iter().enumerate() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    drop(chart);
    drop(root);
    Ok(Some(path))
}

/// Plots end-to-end latency per protocol stage, offline and online stacked, for each network
/// of the report's `e2e` rows (one SVG per network). Returns the files written.
pub fn plot_e2e(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    // network → ordered stages → (offline ms, online ms)
    let mut nets: BTreeMap<String, Vec<(String, f64, f64)>> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| r.family == "e2e") {
        let (phase, stage) = match r
            .operation
            .strip_prefix("stage ")
            .and_then(|s| s.split_once(": "))
        {
            Some(x) => x,
            None => continue,
        };
        let stages = nets.entry(r.size.clone()).or_default();
        let idx = match stages.iter().position(|s| s.0 == stage) {
            Some(i) => i,
            None => {
                stages.push((stage.to_string(), 0.0, 0.0));
                stages.len() - 1
            }
        };
        if phase == "offline" {
            stages[idx].1 = r.median;
        } else {
            stages[idx].2 = r.median;
        }
    }
    let mut written = Vec::new();
    for (net, stages) in nets {
        std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
        let file = format!("e2e-{}.svg", net.split_whitespace().next().unwrap_or("net"));
        let path = out_dir.join(file);
        let max_t = stages
            .iter()
            .map(|s| s.1 + s.2)
            .fold(0.0, f64::max)
            .max(1e-3)
            * 1.1;
        let n = stages.len();
        {
            let root = SVGBackend::new(&path, (1100, 160 + 28 * n as u32)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("Latency per stage, offline + online: {net}"),
                    ("sans-serif", 18),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(520)
                .build_cartesian_2d(0.0..max_t, 0.0..n as f64)
                .map_err(|e| e.to_string())?;
            let labels: Vec<String> = stages.iter().map(|s| s.0.clone()).collect();
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc("ms")
                .y_labels(n)
                .y_label_formatter(&|y| {
                    let i = (n as f64 - y - 0.5).round();
                    if (0.0..n as f64).contains(&i) {
                        labels[i as usize].chars().take(70).collect()
                    } else {
                        String::new()
                    }
                })
                .draw()
                .map_err(|e| e.to_string())?;
            let bar = |i: usize| (n - 1 - i) as f64;
            chart
                .draw_series(stages.iter().enumerate().map(|(i, s)| {
                    Rectangle::new(
                        [(0.0, bar(i) + 0.15), (s.1, bar(i) + 0.85)],
                        BLUE.mix(0.6).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?
                .label("offline")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.mix(0.6).filled())
                });
            chart
                .draw_series(stages.iter().enumerate().map(|(i, s)| {
                    Rectangle::new(
                        [(s.1, bar(i) + 0.15), (s.1 + s.2, bar(i) + 0.85)],
                        RED.mix(0.6).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?
                .label("online")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], RED.mix(0.6).filled())
                });
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{civil_from_days, MachineInfo, RunInfo};

    fn run(cpu: &str, commit: &str) -> Report {
        Report {
            run: RunInfo {
                commit: commit.into(),
                utc: "2026-12-03T11:00:00Z".into(),
                command: format!("gazelle bench kernels --json # {commit}"),
                threads: 2,
            },
            machine: MachineInfo {
                cpu: cpu.into(),
                cores: 2,
                features_detected: vec!["avx2".into()],
                features_compiled: Vec::new(),
                backends_available: vec!["scalar".into(), "avx2".into()],
                backend_selected: "avx2".into(),
                rustc: "rustc 1.95.0".into(),
                profile: "release".into(),
                perf_counters: false,
            },
            rows: vec![BenchRow::figure(
                "kernels",
                "avx2",
                "ntt-forward/shoup".into(),
                "n=4096 q=50b u64".into(),
                1.0,
                "µs",
            )],
            notes: Vec::new(),
        }
    }

    #[test]
    fn merging_refuses_other_machines_and_commits_unless_allowed() {
        let same = merge(
            vec![
                ("a".into(), run("EPYC", "c1")),
                ("b".into(), run("EPYC", "c1")),
            ],
            false,
        )
        .unwrap();
        assert!(same.1.is_empty());
        assert_eq!(same.0.rows.len(), 2);
        for other in [run("Xeon", "c1"), run("EPYC", "c2")] {
            let runs = || vec![("a".into(), run("EPYC", "c1")), ("b".into(), other.clone())];
            let err = merge(runs(), false).unwrap_err();
            assert!(err.contains("refusing"), "{err}");
            let (merged, mixed) = merge(runs(), true).unwrap();
            assert_eq!(mixed.len(), 1, "{mixed:?}");
            let md = markdown(&merged, &mixed, &[], "2026-12-03");
            assert!(md.contains("**Mixed runs:**"), "{md}");
        }
        let md = markdown(&same.0, &[], &[], "2026-12-03");
        assert!(md.contains("commit `c1` at 2026-12-03T11:00:00Z with 2 worker thread(s)"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
        let now = crate::bench::utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
