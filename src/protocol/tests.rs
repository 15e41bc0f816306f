use super::*;
use crate::channel::MemChannel;
use crate::gc::Scheme;
use crate::he::params::ParamSetId;

/// [`run_mem_garbled`] with the protocol's default garbling scheme.
fn run_mem(model_name: &str, inputs: &[Vec<i64>], reveal_logits: bool) -> Vec<QueryReport> {
    let garbling = ServerConfig::default().garbling;
    run_mem_garbled(model_name, inputs, reveal_logits, garbling)
}

fn run_mem_garbled(
    model_name: &str,
    inputs: &[Vec<i64>],
    reveal_logits: bool,
    garbling: Scheme,
) -> Vec<QueryReport> {
    let model = crate::nn::builtin_model(model_name).unwrap();
    let config = ServerConfig {
        reveal_logits,
        garbling,
        ..ServerConfig::insecure(ParamSetId::default())
    };
    let server = Server::new(model.clone(), config).unwrap();
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let mut c = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        assert_eq!(c.terms.logits_revealed, reveal_logits);
        assert_eq!(c.terms.garbling, garbling);
        assert_eq!(
            c.plan().reveal,
            if reveal_logits {
                Reveal::Logits
            } else {
                Reveal::Class
            }
        );
        let reps: Vec<QueryReport> = inputs.iter().map(|x| c.query(x).unwrap()).collect();
        c.finish().unwrap();
        let s = h.join().unwrap().unwrap();
        assert_eq!(s.queries, inputs.len());
        reps
    })
}

#[test]
fn plan_of_every_model() {
    let params = ParamSetId::default().params().unwrap();
    for name in crate::nn::MODEL_NAMES {
        let model = crate::nn::builtin_model(name).unwrap();
        let plan = Plan::new(&model, &params).unwrap();
        assert!(matches!(plan.stages.last(), Some(Stage::Argmax { .. })));
        let logits = Plan::new_with(&model, &params, Reveal::Logits).unwrap();
        assert!(matches!(
            logits.stages.last(),
            Some(Stage::Nonlinear { .. })
        ));
        assert_eq!(plan.stages.len(), logits.stages.len());
        let names: Vec<String> = plan.stages.iter().map(|s| s.name(&model)).collect();
        eprintln!("{name}: {names:#?}");
        let keys: Vec<usize> = plan.galois_groups().iter().map(|g| g.len()).collect();
        eprintln!("{name}: Galois keys per linear stage {keys:?}");
    }
}

#[test]
fn minionn_mnist_matches_oracle_in_memory() {
    let model = crate::nn::builtin_model("mnist-minionn").unwrap();
    let set = crate::data::bundled(crate::data::MNIST_TEST.name).unwrap();
    let x = model.input().encode_fixed(set.image(0));
    let reps = run_mem("mnist-minionn", std::slice::from_ref(&x), true);
    let oracle = model.infer_fixed(&x).unwrap();
    assert_eq!(reps[0].logits.as_ref(), Some(&oracle));
    assert_eq!(reps[0].class, crate::nn::argmax(&oracle));
    eprintln!("{}", reps[0].table());
}

/// Three-halves garbling end to end: the oracle's logits and class, and fewer offline bytes
/// than half gates for the same query (25 instead of 32 bytes per AND gate).
#[test]
fn minionn_mnist_three_halves_matches_oracle_in_memory() {
    let model = crate::nn::builtin_model("mnist-minionn").unwrap();
    let set = crate::data::bundled(crate::data::MNIST_TEST.name).unwrap();
    let x = model.input().encode_fixed(set.image(1));
    let oracle = model.infer_fixed(&x).unwrap();
    let three = run_mem_garbled(
        "mnist-minionn",
        std::slice::from_ref(&x),
        true,
        Scheme::ThreeHalves,
    );
    assert_eq!(three[0].logits.as_ref(), Some(&oracle));
    let class = run_mem_garbled(
        "mnist-minionn",
        std::slice::from_ref(&x),
        false,
        Scheme::ThreeHalves,
    );
    assert_eq!(class[0].class, crate::nn::argmax(&oracle));
    let half = run_mem_garbled(
        "mnist-minionn",
        std::slice::from_ref(&x),
        true,
        Scheme::HalfGates,
    );
    let (b3, b2) = (three[0].offline().bytes(), half[0].offline().bytes());
    eprintln!("offline bytes: three halves {b3}, half gates {b2}");
    // 7 bytes fewer per AND gate (of 32); the tables are most of the offline bytes.
    assert!(b3 < b2 * 85 / 100, "{b3} vs {b2}");
}

#[test]
fn minionn_mnist_default_reveals_only_the_class_in_memory() {
    let model = crate::nn::builtin_model("mnist-minionn").unwrap();
    let set = crate::data::bundled(crate::data::MNIST_TEST.name).unwrap();
    let xs: Vec<Vec<i64>> = (0..2)
        .map(|i| model.input().encode_fixed(set.image(i)))
        .collect();
    let reps = run_mem("mnist-minionn", &xs, false);
    for (r, x) in reps.iter().zip(&xs) {
        assert_eq!(r.logits, None);
        assert_eq!(r.class, crate::nn::argmax(&model.infer_fixed(x).unwrap()));
        assert!(r.stages.last().unwrap().name.contains("argmax"));
    }
    eprintln!("{}", reps[0].table());
}

/// A rehearsal (the warm-up's client) moves the same bytes per stage and phase as a query,
/// so the server does a query's work: with the argmax, with revealed logits, with squares.
#[test]
fn a_rehearsal_moves_the_bytes_of_a_query() {
    for (name, reveal_logits) in [
        ("mnist-minionn", false),
        ("mnist-minionn", true),
        ("mnist-cryptonets", false),
    ] {
        let model = crate::nn::builtin_model(name).unwrap();
        let x = model
            .input()
            .encode_fixed(&crate::nn::eval::synthetic_images(&model, 1, 3)[0]);
        let config = ServerConfig {
            reveal_logits,
            ..ServerConfig::insecure(ParamSetId::default())
        };
        let server = Server::new(model.clone(), config).unwrap();
        let session = |rehearsal: bool| {
            let (mut a, mut b) = MemChannel::pair();
            std::thread::scope(|sc| {
                let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
                let mut c = if rehearsal {
                    Client::connect_rehearsal(&mut a, ParamSetId::default()).unwrap()
                } else {
                    Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap()
                };
                let rep = c.query(&x).unwrap();
                c.finish().unwrap();
                assert_eq!(h.join().unwrap().unwrap().queries, 1);
                rep
            })
        };
        let (real, rehearsed) = (session(false), session(true));
        assert_eq!(
            real.class,
            crate::nn::argmax(&model.infer_fixed(&x).unwrap())
        );
        assert_eq!(rehearsed.logits.is_some(), reveal_logits);
        assert_eq!(real.stages.len(), rehearsed.stages.len());
        for (a, b) in real.stages.iter().zip(&rehearsed.stages) {
            let bytes = |m: PhaseMetrics| (m.up, m.down);
            assert_eq!(bytes(a.offline), bytes(b.offline), "{}", a.name);
            assert_eq!(bytes(a.online), bytes(b.online), "{}", a.name);
        }
    }
}

/// `profile e2e`/`queries` and `bench e2e` run the demo with its default options: they must
/// be the server's defaults, not the types' (half gates, before this test).
#[cfg(feature = "bundled")]
#[test]
fn demo_defaults_are_the_servers() {
    let (demo, server) = (cli::DemoOptions::default(), ServerConfig::default());
    assert_eq!(demo.garbling, server.garbling);
    assert_eq!(demo.weights_memory, server.weights_memory);
    assert!(!demo.tls && demo.link.is_none());
}

#[cfg(feature = "bundled")]
#[test]
fn warm_up_runs_private_queries_in_process() {
    let model = crate::nn::builtin_model("mnist-secureml").unwrap();
    let config = ServerConfig::insecure(ParamSetId::default());
    let server = std::sync::Arc::new(Server::new(model, config).unwrap());
    assert_eq!(cli::warm_up(&server, 0).unwrap(), std::time::Duration::ZERO);
    assert!(cli::warm_up(&server, 2).unwrap() > std::time::Duration::ZERO);
    // A child that cannot be started: the client runs here instead (and the caller is told).
    let missing = std::path::Path::new("/nonexistent/gazelle");
    let deadline = std::time::Duration::from_secs(60);
    let (took, ran) = cli::warm_up_in_child(&server, 1, missing, deadline).unwrap();
    assert!(took > std::time::Duration::ZERO);
    assert_eq!(ran, cli::WarmUpClient::InProcess);
    // A child that exits without a session: a prompt error that says how it ended, and what
    // it printed last (`sh` cannot open a script named `warm-up-client`).
    #[cfg(unix)]
    for (exe, says) in [
        ("true", "exit status: 0)"),
        ("false", "exit status: 1)"),
        ("sh", "warm-up-client"),
    ] {
        let err = cli::warm_up_in_child(&server, 1, std::path::Path::new(exe), deadline)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("warm-up session failed") && err.contains(says),
            "{exe}: {err}"
        );
    }
}
