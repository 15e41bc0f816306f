//! `gazelle report`: turns a saved `gazelle bench --json` run and criterion's saved estimates
//! (with the peer crates tfhe-ntt and fhe.rs timed in the same runs) into markdown tables and
//! SVG plots for `perf/`.
use super::{BenchRow, Report};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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

/// Short run tag for plot titles: machine, selected backend, commit (12 hex digits).
fn run_tag(report: &Report) -> String {
    let c = or_unknown(&report.run.commit);
    let short: String = c.chars().take(12).collect();
    let dirty = if c.ends_with("+dirty") { "+dirty" } else { "" };
    format!(
        "{} ({} cores, selected backend {}), commit {short}{dirty}",
        report.machine.cpu, report.machine.cores, report.machine.backend_selected
    )
}

/// Distinct colours for plot lines (Tableau 10).
const LINE_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The series of the NTT plot: (label, points (log2 n, ns per butterfly)). Ours from the
/// report's `ntt-forward` kernels rows on u64 words at the largest prime size measured (one
/// line per backend × reduction; Shoup52 and Fp52 at their own < 2^50 prime), peers from
/// criterion's `forward` group at the same prime size.
pub fn ntt_series(report: &Report, peers: &[CriterionEntry]) -> Vec<(String, Vec<(f64, f64)>)> {
    let per_butterfly = |n: f64, us: f64| us * 1e3 / (n / 2.0 * n.log2());
    // (backend, reduction) → bits → points
    type ByBits = BTreeMap<u32, Vec<(f64, f64)>>;
    let mut ours: BTreeMap<(String, String), ByBits> = BTreeMap::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.family == "kernels" && r.operation.starts_with("ntt-forward/"))
    {
        // size: "n=4096 q=60b u64"
        let mut parts = r.size.split_whitespace();
        let n: Option<f64> = parts
            .next()
            .and_then(|p| p.strip_prefix("n="))
            .and_then(|v| v.parse().ok());
        let bits: Option<u32> = parts
            .next()
            .and_then(|p| p.strip_prefix("q="))
            .and_then(|v| v.strip_suffix('b'))
            .and_then(|v| v.parse().ok());
        let (Some(n), Some(bits), Some("u64")) = (n, bits, parts.next()) else {
            continue;
        };
        let red = r.operation["ntt-forward/".len()..].to_string();
        ours.entry((r.backend.clone(), red))
            .or_default()
            .entry(bits)
            .or_default()
            .push((n.log2(), per_butterfly(n, r.median)));
    }
    let mut out = Vec::new();
    let mut widest = 0;
    for ((backend, red), by_bits) in ours {
        if let Some((&bits, pts)) = by_bits.iter().next_back() {
            widest = widest.max(bits);
            out.push((format!("{backend} {red} ({bits}-bit q)"), pts.clone()));
        }
    }
    let mut by_peer: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for e in peers.iter().filter(|e| e.group == "forward") {
        let Some((n, bits)) = e.value.split_once('/') else {
            continue;
        };
        let (Ok(n), Ok(bits)) = (n.parse::<f64>(), bits.parse::<u32>()) else {
            continue;
        };
        let is_peer = !e.function.contains("-u64") && !e.function.contains("-u32");
        if is_peer && bits == widest {
            by_peer
                .entry(&e.function)
                .or_default()
                .push((n.log2(), per_butterfly(n, e.median_ns / 1e3)));
        }
    }
    for (peer, pts) in by_peer {
        out.push((format!("{peer} ({widest}-bit q, criterion)"), pts));
    }
    for (_, pts) in &mut out {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Plots forward-NTT time per butterfly (log axis) against n (log2 axis) from [`ntt_series`]. Returns
/// the file written, or None if there is nothing to plot.
pub fn plot_ntt(
    report: &Report,
    peers: &[CriterionEntry],
    out_dir: &Path,
) -> Result<Option<PathBuf>, String> {
    let series = ntt_series(report, peers);
    if series.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
    let path = out_dir.join("ntt-forward.svg");
    let pts = || series.iter().flat_map(|s| s.1.iter());
    // A log y axis: the scalar rows are ~50× the IFMA ones, which a linear axis flattens.
    let max_t = pts().map(|p| p.1).fold(0.0, f64::max) * 1.3;
    let min_t = pts().map(|p| p.1).fold(f64::MAX, f64::min) / 1.3;
    let (lo, hi) = pts().fold((f64::MAX, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let root = SVGBackend::new(&path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Forward NTT, ns per butterfly: {}", run_tag(report)),
            ("sans-serif", 17),
        )
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(60)
        // Room on the right for the legend, clear of the lines.
        .build_cartesian_2d((lo - 0.25)..(hi + 1.9), (min_t..max_t).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("n (log2 axis)")
        .y_desc("ns per butterfly, log axis (lower is faster)")
        .y_label_formatter(&|y| format!("{}", (y * 1000.0).round() / 1000.0))
        .light_line_style(WHITE.mix(0.0))
        .x_labels(((hi - lo) as usize + 1) * 2 + 1)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 && x.round() <= hi {
                format!("{}", 2f64.powf(x.round()) as u64)
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, pts)) in series.into_iter().enumerate() {
        let colour = LINE_COLOURS[i % LINE_COLOURS.len()];
        let peer = name.contains("criterion");
        let style = colour.stroke_width(if peer { 3 } else { 2 });
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        chart
            .draw_series(
                pts.into_iter()
                    .map(move |p| Circle::new(p, if peer { 5 } else { 3 }, colour.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::MiddleRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    drop(chart);
    drop(root);
    Ok(Some(path))
}

/// One stage of an end-to-end run: its label and (offline, online) ms.
pub type StageTimes = (String, f64, f64);

/// The `e2e` rows' stages per (network, backend), in protocol order. A stage that occurs
/// twice under the same name stays two stages (the k-th offline row pairs with the k-th
/// online one).
pub fn e2e_stages(report: &Report) -> BTreeMap<(String, String), Vec<StageTimes>> {
    let mut nets: BTreeMap<(String, String), Vec<StageTimes>> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String, String, bool), usize> = BTreeMap::new();
    for r in report.rows.iter().filter(|r| r.family == "e2e") {
        let Some((phase, stage)) = r
            .operation
            .strip_prefix("stage ")
            .and_then(|s| s.split_once(": "))
        else {
            continue;
        };
        let offline = phase == "offline";
        let k = seen
            .entry((
                r.size.clone(),
                r.backend.clone(),
                stage.to_string(),
                offline,
            ))
            .or_default();
        let stages = nets.entry((r.size.clone(), r.backend.clone())).or_default();
        let idx = stages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.0 == stage)
            .map(|(i, _)| i)
            .nth(*k)
            .unwrap_or_else(|| {
                stages.push((stage.to_string(), 0.0, 0.0));
                stages.len() - 1
            });
        *k += 1;
        if offline {
            stages[idx].1 = r.median;
        } else {
            stages[idx].2 = r.median;
        }
    }
    nets
}

/// Plots end-to-end latency per protocol stage, offline and online stacked (one colour per
/// phase), every bar labelled with its stage and total, for each network of the report's
/// `e2e` rows (one SVG per network, and per backend when the rows hold several: each chart
/// names its backend). Returns the files written.
pub fn plot_e2e(report: &Report, out_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let offline_colour = RGBColor(31, 119, 180);
    let online_colour = RGBColor(255, 127, 14);
    let mut written = Vec::new();
    let all = e2e_stages(report);
    let several = all
        .keys()
        .map(|(_, b)| b)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    for ((net, backend), stages) in all {
        std::fs::create_dir_all(out_dir).map_err(|e| e.to_string())?;
        let short = net.split_whitespace().next().unwrap_or("net");
        let file = if several {
            format!("e2e-{short}-{backend}.svg")
        } else {
            format!("e2e-{short}.svg")
        };
        let path = out_dir.join(file);
        let max_t = stages
            .iter()
            .map(|s| s.1 + s.2)
            .fold(0.0, f64::max)
            .max(1e-3)
            // Room right of the longest bar for its label (~200 of the plot's ~700 px).
            * 1.45;
        let n = stages.len();
        {
            let root = SVGBackend::new(&path, (1200, 130 + 26 * n as u32)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!(
                        "{net}, backend {backend}: ms per stage, {}",
                        run_tag(report)
                    ),
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(470)
                .build_cartesian_2d(0.0..max_t, (0..n.max(2) - 1).into_segmented())
                .map_err(|e| e.to_string())?;
            let labels: Vec<String> = stages
                .iter()
                .map(|s| s.0.chars().take(64).collect())
                .collect();
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc("ms (offline + online)")
                .y_labels(n + 1)
                .y_label_formatter(&|v| match v {
                    // Stage 0 at the top.
                    SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - *i].clone(),
                    _ => String::new(),
                })
                .draw()
                .map_err(|e| e.to_string())?;
            let row = |i: usize| n - 1 - i;
            let bar = |i: usize, x0: f64, x1: f64, colour: RGBColor| {
                let mut r = Rectangle::new(
                    [
                        (x0, SegmentValue::Exact(row(i))),
                        (x1, SegmentValue::Exact(row(i) + 1)),
                    ],
                    colour.filled(),
                );
                r.set_margin(3, 3, 0, 0);
                r
            };
            chart
                .draw_series(
                    stages
                        .iter()
                        .enumerate()
                        .map(|(i, s)| bar(i, 0.0, s.1, offline_colour)),
                )
                .map_err(|e| e.to_string())?
                .label("offline")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], offline_colour.filled())
                });
            chart
                .draw_series(
                    stages
                        .iter()
                        .enumerate()
                        .map(|(i, s)| bar(i, s.1, s.1 + s.2, online_colour)),
                )
                .map_err(|e| e.to_string())?
                .label("online")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], online_colour.filled())
                });
            chart
                .draw_series(stages.iter().enumerate().map(|(i, s)| {
                    Text::new(
                        if s.1 < 0.005 {
                            format!(" {} online", fmt_ms(s.2))
                        } else {
                            format!(" {} offline + {} online", fmt_ms(s.1), fmt_ms(s.2))
                        },
                        (s.1 + s.2, SegmentValue::CenterOf(row(i))),
                        TextStyle::from(("sans-serif", 12).into_font())
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    )
                }))
                .map_err(|e| e.to_string())?;
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
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

/// Milliseconds with three significant figures (`0.162 ms`, `84.3 ms`, `4631 ms`).
fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.3} ms")
    }
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
