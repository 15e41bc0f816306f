//! Adapters from each layer's own bench rows to the common [`BenchRow`] table, so every family
//! prints in one format. Families other than `kernels` run on the process-wide backend
//! (`GAZELLE_BACKEND`); the CLI runs them once per backend in child processes for `--backend all`.
use super::BenchRow;
use gazelle::kernels::{AesBackend, Backend};

fn selected() -> String {
    Backend::selected()
        .map(|b| b.name().to_string())
        .unwrap_or_else(|e| e.to_string())
}

/// `he`: KeyGen, Galois keys, encrypt, decrypt, add, ct×pt, rotations (plain and hoisted),
/// ciphertext sizes, per parameter set.
pub fn he(quick: bool) -> Result<Vec<BenchRow>, String> {
    let rows = gazelle::he::bench::run(quick).map_err(|e| e.to_string())?;
    let backend = selected();
    Ok(rows
        .into_iter()
        .map(|r| {
            if r.operation.contains("bytes") {
                BenchRow::figure(
                    "he",
                    &backend,
                    r.operation,
                    r.params.into(),
                    r.median_us,
                    "bytes",
                )
            } else {
                let mut row = BenchRow::figure(
                    "he",
                    &backend,
                    r.operation,
                    r.params.into(),
                    r.median_us,
                    "µs",
                );
                row.spread_pct =
                    (r.median_us > 0.0).then(|| 2.0 * r.spread_us / r.median_us * 100.0);
                row.samples = r.samples;
                row.samples_us = r.samples_us;
                row.throughput = (r.median_us > 0.0).then(|| 1e6 / r.median_us);
                row.throughput_unit = Some("ops/s".into());
                row
            }
        })
        .collect())
}

/// `gc`: AES blocks/s per AES backend, garbling and evaluation ns per AND, ReLUs per second.
pub fn gc(quick: bool) -> Result<Vec<BenchRow>, String> {
    let mut config = gazelle::gc::bench::BenchConfig::default();
    if quick {
        config.min_and_gates = 20_000;
        config.aes_blocks = 1 << 14;
        config.repeats = 2;
    }
    let rows = gazelle::gc::bench::bench(&config).map_err(|e| e.to_string())?;
    let aes_selected = AesBackend::selected()
        .map(|b| b.to_string())
        .unwrap_or_else(|_| "?".into());
    Ok(rows
        .into_iter()
        .map(|r| {
            let backend = if r.backend.is_empty() {
                aes_selected.clone()
            } else {
                r.backend.to_string()
            };
            let mut row = BenchRow::figure(
                "gc",
                &backend,
                r.name,
                format!("p={}", config.p),
                r.value,
                r.unit,
            );
            row.note = r.detail;
            row
        })
        .collect())
}

/// `ot`: base OT, OT extension offline (per variant) and online derandomisation, both parties
/// over loopback TCP: OTs per second and bytes per OT.
pub fn ot(quick: bool) -> Result<Vec<BenchRow>, String> {
    let rows = gazelle::ot::bench::run(quick).map_err(|e| e.to_string())?;
    let backend = selected();
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut row = BenchRow::figure(
                "ot",
                &backend,
                r.name.clone(),
                format!("{} OTs", r.ots),
                r.seconds * 1e3,
                "ms",
            );
            row.throughput = Some(r.ots_per_second);
            row.throughput_unit = Some("OT/s".into());
            row.note = format!(
                "{:.2} bytes/OT{}",
                r.bytes_per_ot,
                r.ots_per_cpu_second()
                    .map(|x| format!(", {:.1} M OT/s per core pair (CPU time)", x / 1e6))
                    .unwrap_or_default()
            );
            row
        })
        .collect())
}

/// `linalg`: the cost model's choice per layer of each network of DESIGN.md (counts of
/// rotations, products and ciphertexts), then measured ms per layer at 1, 2, 4, … workers up to the cores.
pub fn linalg(quick: bool) -> Result<Vec<BenchRow>, String> {
    let backend = selected();
    let params = gazelle::he::ParamSetId::default()
        .params()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in gazelle::linalg::bench::cost_table(&params).map_err(|e| e.to_string())? {
        let c = &r.cost;
        let mut row = BenchRow::figure(
            "linalg",
            &backend,
            format!("cost {} L{} {}", r.network, r.layer, r.method),
            r.shape.clone(),
            (c.hoisted_rotations + c.plain_rotations) as f64,
            "rotations",
        );
        row.note = format!(
            "{} ct×pt, {} hoisted + {} plain rotations, {} decompositions, {} in / {} out cts, {} Galois keys",
            c.mults, c.hoisted_rotations, c.plain_rotations, c.decompositions, c.in_cts, c.out_cts, c.galois_keys
        );
        out.push(row);
    }
    for r in gazelle::linalg::bench::run(quick).map_err(|e| e.to_string())? {
        let mut row = BenchRow::figure(
            "linalg",
            &backend,
            format!(
                "eval {} L{} {} ({} thr)",
                r.network, r.layer, r.method, r.threads
            ),
            r.shape.clone(),
            r.eval_ms,
            "ms",
        );
        row.note = format!(
            "prepare {:.1} ms{}; {} ct×pt, {} rotations",
            r.prepare_ms,
            r.cpu_ms
                .map(|c| format!(", CPU {c:.0} ms"))
                .unwrap_or_default(),
            r.cost.mults,
            r.cost.hoisted_rotations + r.cost.plain_rotations
        );
        out.push(row);
    }
    Ok(out)
}

/// `e2e`: secure inference, both parties in this process over loopback TCP: per network the
/// median online and offline latency and bytes (with agreement with the plaintext oracle), and
/// per stage of the last query its time and bytes by phase. Quick: MiniONN-MNIST, 2 images.
/// With `GAZELLE_BENCH_LINK` set (`bench e2e --link`), through that shaped link.
pub fn e2e(quick: bool) -> Result<Vec<BenchRow>, String> {
    use gazelle::protocol::cli::{demo_run, DemoOptions};
    let link = match std::env::var("GAZELLE_BENCH_LINK") {
        Ok(s) => Some(s.parse::<gazelle::net::link::LinkProfile>()?),
        Err(_) => None,
    };
    let opts = DemoOptions {
        link,
        ..DemoOptions::default()
    };
    let backend = selected();
    let param_set = gazelle::he::params::ParamSetId::default();
    let runs: &[(&str, usize)] = if quick {
        &[("mnist-minionn", 2)]
    } else {
        &[
            ("mnist-secureml", 10),
            ("mnist-cryptonets", 10),
            ("mnist-deepsecure", 10),
            ("mnist-minionn", 10),
            ("cifar-minionn", 2),
        ]
    };
    let mut out = Vec::new();
    for &(model, images) in runs {
        let s = demo_run(model, images, param_set, &opts, |_, _, _, _| {})
            .map_err(|e| e.to_string())?;
        let size = match link {
            Some(l) => format!("{model} {} link {l}", param_set.name()),
            None => format!("{model} {}", param_set.name()),
        };
        let note = format!(
            "agreement {}/{} with the fixed-point oracle",
            s.agree, s.images
        );
        for (op, v, unit) in [
            ("online latency (median)", s.online_s * 1e3, "ms"),
            ("offline latency (median)", s.offline_s * 1e3, "ms"),
            ("online bytes (median)", s.online_bytes / 1e6, "MB"),
            ("offline bytes (median)", s.offline_bytes / 1e6, "MB"),
            ("session setup", s.setup.time.as_secs_f64() * 1e3, "ms"),
        ] {
            let mut row = BenchRow::figure("e2e", &backend, op.into(), size.clone(), v, unit);
            row.samples = images;
            row.note = note.clone();
            out.push(row);
        }
        if let Some(last) = &s.last {
            for st in &last.stages {
                for (phase, m) in [("offline", st.offline), ("online", st.online)] {
                    let mut row = BenchRow::figure(
                        "e2e",
                        &backend,
                        format!("stage {phase}: {}", st.name),
                        size.clone(),
                        m.time.as_secs_f64() * 1e3,
                        "ms",
                    );
                    row.note = format!(
                        "{:.1} KB up, {:.1} KB down",
                        m.up as f64 / 1e3,
                        m.down as f64 / 1e3
                    );
                    out.push(row);
                }
            }
        }
    }
    Ok(out)
}
