//! `gazelle loadtest`: N concurrent clients, each one session of M queries (reconnecting
//! after a failed session, up to --retries times), against a running server or balancer.
//! Reports latency percentiles per query, throughput and errors; with --model, every answer
//! is checked against the plaintext fixed-point oracle.
use gazelle::data;
use gazelle::he::params::ParamSetId;
use gazelle::nn::{self, Model};
use gazelle::protocol::cli::ConnectOptions;
use gazelle::protocol::Client;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one load test does.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub server: String,
    pub clients: usize,
    pub queries: usize,
    pub model: Option<String>,
    pub param_set: ParamSetId,
    pub retries: usize,
    /// Compute each query's offline phase ahead (after the previous answer), so that the
    /// measured latency is the answer's: the online phase.
    pub precompute: bool,
    pub connect: ConnectOptions,
}

#[derive(Debug, Default)]
struct Tally {
    /// (total, online) seconds of every answered query.
    latencies: Vec<(f64, f64)>,
    wrong: usize,
    failed_sessions: usize,
    sessions: usize,
    errors: Vec<String>,
    bytes: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// The inputs the clients send: bundled images of the model's shape, else synthetic ones.
fn inputs(model: &Model, n: usize) -> Result<Vec<Vec<i64>>, String> {
    let s = model.input().shape;
    let imgs: Vec<Vec<u8>> = match data::bundled_for_shape(s.c, s.h, s.w) {
        Some(b) => {
            let set = b.load().map_err(|e| e.to_string())?;
            (0..n).map(|i| set.image(i % set.len()).to_vec()).collect()
        }
        None => nn::eval::synthetic_images(model, n, 11),
    };
    Ok(imgs.iter().map(|x| model.input().encode_fixed(x)).collect())
}

/// One client: `queries` queries over as few sessions as failures allow.
fn run_client(spec: &LoadSpec, model: Option<&Model>, worker: usize, tally: &Mutex<Tally>) {
    let mut done = 0usize;
    let mut attempts = 0usize;
    while done < spec.queries && attempts <= spec.retries {
        attempts += 1;
        let r = (|| -> Result<(), String> {
            let mut ch = spec
                .connect
                .connect(&spec.server)
                .map_err(|e| e.to_string())?;
            let mut client = Client::connect_with(
                &mut ch,
                model.cloned(),
                spec.param_set,
                spec.connect.credential.clone(),
            )
            .map_err(|e| e.to_string())?;
            tally.lock().unwrap().sessions += 1;
            let m = client.model().clone();
            let xs = inputs(&m, spec.queries)?;
            if spec.precompute {
                client.precompute().map_err(|e| e.to_string())?;
            }
            while done < spec.queries {
                // Each client walks the images from its own offset.
                let x = &xs[(done + worker * 7) % xs.len()];
                let t = Instant::now();
                let rep = client.query(x).map_err(|e| e.to_string())?;
                let total = t.elapsed().as_secs_f64();
                let wrong = match model {
                    Some(full) => {
                        let plain = full.infer_fixed(x).map_err(|e| e.to_string())?;
                        rep.class != nn::argmax(&plain)
                    }
                    None => false,
                };
                let mut t = tally.lock().unwrap();
                t.latencies.push((total, rep.online().time.as_secs_f64()));
                t.wrong += usize::from(wrong);
                t.bytes += rep.online().bytes() + rep.offline().bytes();
                drop(t);
                done += 1;
                if spec.precompute && done < spec.queries {
                    client.precompute().map_err(|e| e.to_string())?;
                }
            }
            client.finish().map_err(|e| e.to_string())
        })();
        if let Err(e) = r {
            let mut t = tally.lock().unwrap();
            t.failed_sessions += 1;
            if t.errors.len() < 20 {
                t.errors.push(format!("client {worker}: {e}"));
            }
            drop(t);
            // Back off before retrying (a busy or restarting server).
            std::thread::sleep(Duration::from_millis(200 * attempts as u64));
        }
    }
}

/// Runs the load test and prints its report (text, or one JSON object).
pub fn loadtest(spec: &LoadSpec, json: bool) -> Result<(), String> {
    let model = match &spec.model {
        Some(m) => Some(nn::model_by_name_or_path(m).map_err(|e| format!("--model {m}: {e}"))?),
        None => None,
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for w in 0..spec.clients {
            let (tally, model) = (tally.clone(), model.as_ref());
            s.spawn(move || run_client(spec, model, w, &tally));
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    let t = tally.lock().unwrap();
    let mut total: Vec<f64> = t.latencies.iter().map(|l| l.0 * 1e3).collect();
    let mut online: Vec<f64> = t.latencies.iter().map(|l| l.1 * 1e3).collect();
    total.sort_by(f64::total_cmp);
    online.sort_by(f64::total_cmp);
    let answered = t.latencies.len();
    let expected = spec.clients * spec.queries;
    let qps = answered as f64 / wall;
    let link = spec
        .connect
        .link
        .map_or("none".to_string(), |l| l.to_string());
    if json {
        let out = serde_json::json!({
            "server": spec.server,
            "clients": spec.clients,
            "queries_per_client": spec.queries,
            "tls": spec.connect.tls.is_some(),
            "precompute": spec.precompute,
            "link": link,
            "answered": answered,
            "expected": expected,
            "wrong": t.wrong,
            "checked": model.is_some(),
            "sessions": t.sessions,
            "failed_sessions": t.failed_sessions,
            "errors": t.errors,
            "wall_s": wall,
            "queries_per_s": qps,
            "latency_ms": {"p50": percentile(&total, 50.0), "p90": percentile(&total, 90.0),
                           "p99": percentile(&total, 99.0), "max": total.last()},
            "online_ms": {"p50": percentile(&online, 50.0), "p90": percentile(&online, 90.0),
                          "p99": percentile(&online, 99.0)},
            "mb_per_query": t.bytes as f64 / 1e6 / answered.max(1) as f64,
        });
        println!("{out:#}");
    } else {
        println!(
            "loadtest: {} clients × {} queries against {} ({}, link {link})",
            spec.clients,
            spec.queries,
            spec.server,
            if spec.connect.tls.is_some() {
                "TLS 1.3"
            } else {
                "plaintext"
            }
        );
        println!(
            "answered {answered}/{expected}{}; sessions {} ok-or-partial, {} failed",
            match &model {
                Some(_) => format!(", {} wrong vs the plaintext oracle", t.wrong),
                None => ", answers not checked (no --model with weights)".into(),
            },
            t.sessions,
            t.failed_sessions
        );
        println!(
            "latency per query (client side, {}): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            if spec.precompute {
                "answer with the offline phase computed ahead"
            } else {
                "offline + online"
            },
            percentile(&total, 50.0),
            percentile(&total, 90.0),
            percentile(&total, 99.0),
            total.last().copied().unwrap_or(f64::NAN)
        );
        println!(
            "online phase: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            percentile(&online, 50.0),
            percentile(&online, 90.0),
            percentile(&online, 99.0)
        );
        println!(
            "throughput: {qps:.2} queries/s over {wall:.1} s; {:.1} MB per query",
            t.bytes as f64 / 1e6 / answered.max(1) as f64
        );
        for e in &t.errors {
            println!("error: {e}");
        }
    }
    if answered < expected || t.wrong > 0 {
        return Err(format!(
            "{} of {expected} queries unanswered, {} wrong",
            expected - answered,
            t.wrong
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 90.0), 90.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
