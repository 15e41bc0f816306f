//! End-to-end secure inference: every network bit for bit against the plaintext fixed-point
//! oracle, over the in-memory duplex and TCP, concurrent clients, and clients that misbehave.
use gazelle::channel::{Channel, MemChannel, TcpChannel};
use gazelle::he::params::ParamSetId;
use gazelle::net;
use gazelle::nn::{self, Model};
use gazelle::protocol::cli::{infer_once, spawn_local_server};
use gazelle::protocol::{handshake, Client, ProtocolError, Server, ServerConfig};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

mod common;

fn mnist_inputs(model: &Model, first: usize, count: usize) -> Vec<Vec<i64>> {
    let set = gazelle::data::bundled(gazelle::data::MNIST_TEST.name).unwrap();
    (first..first + count)
        .map(|i| model.input().encode_fixed(set.image(i)))
        .collect()
}

fn random_inputs(model: &Model, count: usize, seed: u64) -> Vec<Vec<i64>> {
    nn::eval::synthetic_images(model, count, seed)
        .iter()
        .map(|px| model.input().encode_fixed(px))
        .collect()
}

/// The test server: the default set (circuit privacy on and checked), revealing the logits
/// when asked.
fn server_config(reveal_logits: bool) -> ServerConfig {
    ServerConfig {
        reveal_logits,
        ..ServerConfig::default()
    }
}

/// A session makes at most `session_queries` queries (the privacy budget's Q): the next
/// request ends it with `QueryLimit`; a limit above the budget's is refused at start.
#[test]
fn a_session_stops_at_its_query_limit() {
    let model = nn::builtin_model("mnist-secureml").unwrap();
    let too_many = ServerConfig {
        session_queries: gazelle::protocol::SESSION_QUERIES + 1,
        ..ServerConfig::default()
    };
    assert!(Server::new(model.clone(), too_many).is_err());
    let config = ServerConfig {
        session_queries: 1,
        ..ServerConfig::default()
    };
    let server = Server::new(model.clone(), config).unwrap();
    let x = random_inputs(&model, 1, 9).remove(0);
    let (mut a, b) = MemChannel::pair();
    let srv = &server;
    std::thread::scope(|sc| {
        // The server's end closes when its session ends, which the client then sees.
        let h = sc.spawn(move || {
            let mut b = b;
            srv.serve_session(&mut b, |_| {})
        });
        let mut client = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        assert!(client.terms.circuit_privacy);
        let r = client.query(&x).unwrap();
        assert_eq!(r.class, nn::argmax(&model.infer_fixed(&x).unwrap()));
        assert!(client.query(&x).is_err());
        drop(client);
        let e = h.join().unwrap().unwrap_err();
        assert!(matches!(e, ProtocolError::QueryLimit { limit: 1 }), "{e}");
    });
}

/// Runs one session over a MemChannel against a server that reveals the logits and checks
/// every query's logits against the oracle bit for bit.
fn check_in_memory(name: &str, inputs: &[Vec<i64>]) {
    check_model_in_memory(nn::builtin_model(name).unwrap(), inputs)
}

fn check_model_in_memory(model: Model, inputs: &[Vec<i64>]) {
    let name = model.name().to_string();
    let server = Server::new(model.clone(), server_config(true)).unwrap();
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let mut client = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        // The first query's offline phase runs ahead; the others run theirs on demand.
        assert!(client.terms.logits_revealed);
        let pre = client.precompute().unwrap();
        assert!(pre.down > 0 && client.precomputed() == 1);
        for x in inputs {
            let r = client.query(x).unwrap();
            let logits = r.logits.as_ref().expect("the server reveals the logits");
            assert_eq!(*logits, model.infer_fixed(x).unwrap(), "{name}");
            assert_eq!(r.class, nn::argmax(logits));
            assert!(r.online().bytes() > 0 && r.offline().bytes() > 0);
        }
        client.finish().unwrap();
        assert_eq!(h.join().unwrap().unwrap().queries, inputs.len());
    });
}

/// A residual graph (identity and projection shortcuts, raw accumulators added locally on
/// the shares): secure inference equals the oracle bit for bit, and the plan keeps exactly
/// the tensors read later and adds without a garbled circuit.
#[test]
fn residual_networks_match_the_oracle() {
    use gazelle::protocol::Stage;
    let model = common::residual_model(3);
    let params = ParamSetId::default().params().unwrap();
    let plan = gazelle::protocol::Plan::new(&model, &params).unwrap();
    let kinds: Vec<&str> = plan
        .stages
        .iter()
        .map(|s| match s {
            Stage::Linear { .. } => "lin",
            Stage::Keep { .. } => "keep",
            Stage::Load { .. } => "load",
            Stage::Add { .. } => "add",
            Stage::Nonlinear { .. } => "gc",
            Stage::Argmax { .. } => "argmax",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "lin", "gc", "keep", "lin", "add", "gc", "keep", "load", "lin", "keep", "load", "lin",
            "add", "gc", "lin", "argmax"
        ]
    );
    let inputs = random_inputs(&model, 3, 5);
    check_model_in_memory(model, &inputs);
}

#[test]
fn mnist_networks_match_the_oracle_on_real_and_random_inputs() {
    for name in [
        "mnist-minionn",
        "mnist-secureml",
        "mnist-cryptonets",
        "mnist-deepsecure",
    ] {
        let model = nn::builtin_model(name).unwrap();
        let mut inputs = mnist_inputs(&model, 0, 2);
        inputs.extend(random_inputs(&model, 1, 99));
        check_in_memory(name, &inputs);
    }
}

/// The default server reveals only the class: the argmax of the oracle's logits, and no
/// logits; the client learns so in the handshake.
#[test]
fn default_server_reveals_only_the_class() {
    for name in ["mnist-minionn", "mnist-cryptonets"] {
        let model = nn::builtin_model(name).unwrap();
        let mut inputs = mnist_inputs(&model, 0, 3);
        inputs.extend(random_inputs(&model, 2, 7));
        let server = Server::new(model.clone(), server_config(false)).unwrap();
        assert!(matches!(
            server.plan().stages.last(),
            Some(gazelle::protocol::Stage::Argmax { .. })
        ));
        let (mut a, mut b) = MemChannel::pair();
        std::thread::scope(|sc| {
            let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
            let mut client = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
            assert!(!client.terms.logits_revealed);
            client.precompute().unwrap();
            for x in &inputs {
                let r = client.query(x).unwrap();
                assert_eq!(r.logits, None, "{name}");
                assert_eq!(
                    r.class,
                    nn::argmax(&model.infer_fixed(x).unwrap()),
                    "{name}"
                );
            }
            client.finish().unwrap();
            assert_eq!(h.join().unwrap().unwrap().queries, inputs.len());
        });
    }
}

#[test]
fn cifar_minionn_matches_the_oracle_on_a_random_input() {
    let model = nn::builtin_model("cifar-minionn").unwrap();
    check_in_memory("cifar-minionn", &random_inputs(&model, 1, 5));
}

#[test]
fn tcp_concurrent_clients_and_misbehaving_peers() {
    let model = nn::builtin_model("mnist-minionn").unwrap();
    let server = Arc::new(Server::new(model.clone(), server_config(true)).unwrap());
    let addr = spawn_local_server(server, 4).unwrap();
    let inputs = mnist_inputs(&model, 10, 2);

    // Garbage instead of a hello: the server answers with an error and goes on.
    {
        let mut ch = TcpChannel::connect(addr).unwrap();
        ch.send(b"\x01this is not a hello").unwrap();
        let e = net::recv_msg(&mut ch, 0x02, 100, "reply").unwrap_err();
        assert!(matches!(e, net::NetError::PeerError(_)), "{e}");
    }
    // A raw connection announcing a huge frame, then hanging up.
    {
        use std::io::Write;
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&u32::MAX.to_le_bytes()).unwrap();
    }
    // A client that disconnects in the middle of a query (after the offline phase).
    {
        let mut ch = TcpChannel::connect(addr).unwrap();
        let mut c = Client::connect(&mut ch, model.clone(), ParamSetId::default()).unwrap();
        // Ask for a query, then vanish.
        net::send_msg(c.channel(), 0x12, &[1]).unwrap();
    }
    // Wrong model id: a clear handshake error on the client.
    {
        let other = nn::builtin_model("mnist-deepsecure").unwrap();
        let mut ch = TcpChannel::connect(addr).unwrap();
        let e = Client::connect(&mut ch, other, ParamSetId::default()).unwrap_err();
        assert!(
            matches!(&e, ProtocolError::Net(net::NetError::Handshake(r)) if r.contains("model")),
            "{e}"
        );
    }
    // Two honest clients at once, both exact.
    std::thread::scope(|sc| {
        let hs: Vec<_> = inputs
            .iter()
            .map(|x| {
                let m = model.clone();
                sc.spawn(move || {
                    infer_once(addr, m, x, gazelle::he::params::ParamSetId::default()).unwrap()
                })
            })
            .collect();
        for (h, x) in hs.into_iter().zip(&inputs) {
            assert_eq!(
                h.join().unwrap().logits,
                Some(model.infer_fixed(x).unwrap())
            );
        }
    });
}

#[test]
fn malformed_messages_and_stalled_peers_end_the_session_with_an_error() {
    let model = nn::builtin_model("mnist-deepsecure").unwrap();
    let server = Server::new(model.clone(), ServerConfig::insecure(ParamSetId::default())).unwrap();
    let hello = handshake::Hello::new(ParamSetId::default(), model.name());
    // Valid handshake, then a truncated public key.
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        handshake::handshake_client(&mut a, &hello).unwrap();
        net::send_msg(&mut a, 0x10, b"GZPK\x01").unwrap();
        let e = h.join().unwrap().unwrap_err();
        assert!(matches!(e, ProtocolError::He(_)), "{e}");
        assert!(matches!(
            net::recv_msg(&mut a, 0x11, 10, "x"),
            Err(net::NetError::PeerError(_))
        ));
    });
    // Wrong parameter set.
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let bad = handshake::Hello {
            param_set: hello.param_set ^ 0x7f,
            ..hello.clone()
        };
        let e = handshake::handshake_client(&mut a, &bad).unwrap_err();
        assert!(e.to_string().contains("parameter set"), "{e}");
        assert!(h.join().unwrap().is_err());
    });
    // A full session set up, then garbage where the first layer's ciphertexts belong, and a
    // request for an offline phase that was never precomputed.
    for garbage_query in [true, false] {
        let (mut a, mut b) = MemChannel::pair();
        std::thread::scope(|sc| {
            let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
            let mut c = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
            if garbage_query {
                c.precompute().unwrap();
                net::send_msg(c.channel(), 0x12, &[3]).unwrap();
                net::send_msg(c.channel(), 0x15, &[1, 0, 0, 0, 5, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
            } else {
                net::send_msg(c.channel(), 0x12, &[3]).unwrap();
            }
            let e = h.join().unwrap().unwrap_err();
            assert!(
                matches!(e, ProtocolError::He(_) | ProtocolError::Malformed { .. }),
                "{e}"
            );
        });
    }
    // A peer that stalls: the receive times out.
    let (mut a, mut b) = MemChannel::pair_with_timeout(Duration::from_millis(300));
    let e = server.serve_session(&mut b, |_| {}).unwrap_err();
    assert!(e.to_string().contains("timed out"), "{e}");
    drop(a.send(b"late"));
}

/// The client's side of a channel that corrupts the `nth` OT label frame (tag 0x22) it
/// receives: the start index in its header.
struct CorruptLabelFrame<C> {
    inner: C,
    nth: usize,
    seen: usize,
}

impl<C: Channel> Channel for CorruptLabelFrame<C> {
    fn send(&mut self, frame: &[u8]) -> gazelle::channel::Result<()> {
        self.inner.send(frame)
    }
    fn recv(&mut self, max_len: usize) -> gazelle::channel::Result<Vec<u8>> {
        let mut f = self.inner.recv(max_len)?;
        if f.first() == Some(&0x22) && f.len() > 13 {
            self.seen += 1;
            if self.seen == self.nth {
                f[1] ^= 1;
            }
        }
        Ok(f)
    }
    fn flush(&mut self) -> gazelle::channel::Result<()> {
        self.inner.flush()
    }
    fn bytes_sent(&self) -> u64 {
        self.inner.bytes_sent()
    }
    fn bytes_received(&self) -> u64 {
        self.inner.bytes_received()
    }
}

/// A garbled stage's labels come in frames while the client evaluates the earlier ones: a bad
/// second frame (MiniONN-MNIST's first ReLU layer has two) ends the query with the OT's typed
/// error, the evaluation thread stops, and the server's session ends.
#[test]
fn a_bad_label_frame_mid_stage_ends_the_query_with_a_typed_error() {
    let model = nn::builtin_model("mnist-minionn").unwrap();
    let server = Server::new(model.clone(), server_config(false)).unwrap();
    let x = &mnist_inputs(&model, 0, 1)[0];
    for nth in [1, 2] {
        let (a, mut b) = MemChannel::pair_with_timeout(Duration::from_secs(20));
        let mut a = CorruptLabelFrame {
            inner: a,
            nth,
            seen: 0,
        };
        std::thread::scope(|sc| {
            let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
            let mut c = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
            let e = c.query(x).unwrap_err();
            assert!(
                matches!(e, ProtocolError::Ot(gazelle::ot::OtError::OutOfStep { .. })),
                "frame {nth}: {e}"
            );
            drop(c);
            drop(a);
            assert!(h.join().unwrap().is_err());
        });
    }
}

/// Fail closed: a plan that misses the circuit-privacy budget is refused by default, with the
/// stage and the bits missing named; served only when the operator says so, and then every
/// client is told in the handshake.
#[test]
fn plans_that_miss_the_privacy_budget_are_refused_unless_the_operator_insists() {
    let model = nn::builtin_model("mnist-minionn").unwrap();
    for set in ParamSetId::ALL {
        let Ok(params) = set.params() else { continue };
        let Ok(plan) = gazelle::protocol::Plan::new(&model, &params) else {
            continue;
        };
        let budget = gazelle::protocol::PrivacyBudget::of(&plan, &model, true);
        let config = ServerConfig {
            param_set: set,
            ..ServerConfig::default()
        };
        match Server::new(model.clone(), config) {
            Ok(s) => assert!(s.circuit_privacy() && budget.holds(), "{}", set.name()),
            Err(e) => {
                assert!(!budget.holds(), "{}", set.name());
                let msg = e.to_string();
                assert!(matches!(e, ProtocolError::NoCircuitPrivacy(_)), "{msg}");
                assert!(
                    msg.contains("bits above the required") || msg.contains("below 128"),
                    "{msg}"
                );
            }
        }
    }
    // The default set meets the budget; gazelle-4096 misses it (session bound far above
    // 2^-40): refused, and served insecurely only on request, which the client learns in the
    // handshake.
    let params = ParamSetId::default().params().unwrap();
    let plan = gazelle::protocol::Plan::new(&model, &params).unwrap();
    let budget = gazelle::protocol::PrivacyBudget::of(&plan, &model, true);
    assert!(budget.holds(), "{}", budget.session_sd_log2);
    assert!(budget.security_bits >= 128);
    assert!(Server::new(model.clone(), ServerConfig::default())
        .unwrap()
        .circuit_privacy());
    let weak = ParamSetId::Gazelle4096;
    let params = weak.params().unwrap();
    let plan = gazelle::protocol::Plan::new(&model, &params).unwrap();
    let budget = gazelle::protocol::PrivacyBudget::of(&plan, &model, true);
    assert!(budget.session_sd_log2 > gazelle::protocol::SESSION_SD_LOG2);
    assert!(budget
        .stages
        .iter()
        .all(|s| s.replies >= 1 && s.sd_log2.is_finite()));
    let config = ServerConfig {
        param_set: weak,
        ..ServerConfig::default()
    };
    assert!(Server::new(model.clone(), config).is_err());
    let server = Server::new(model.clone(), ServerConfig::insecure(weak)).unwrap();
    assert!(!server.circuit_privacy());
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let client = Client::connect(&mut a, model.clone(), weak).unwrap();
        assert!(!client.terms.circuit_privacy);
        client.finish().unwrap();
        h.join().unwrap().unwrap();
    });
}

/// Over the session limit, a client is told the server is busy (not just "closed").
#[test]
fn a_client_over_the_session_limit_is_told_the_server_is_busy() {
    let model = nn::builtin_model("mnist-secureml").unwrap();
    let server = Arc::new(
        Server::new(model.clone(), ServerConfig::insecure(ParamSetId::default())).unwrap(),
    );
    let addr = spawn_local_server(server, 1).unwrap();
    // The first client holds the only slot (connected, idle).
    let mut first = TcpChannel::connect(addr).unwrap();
    let held = Client::connect(&mut first, model.clone(), ParamSetId::default()).unwrap();
    for _ in 0..3 {
        let x = random_inputs(&model, 1, 5).remove(0);
        let e = infer_once(addr, model.clone(), &x, ParamSetId::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("server busy (1/1 sessions), retry later"),
            "{e}"
        );
    }
    held.finish().unwrap();
}

/// A model no client carries (a bundled network with other weights and another name, as a
/// user's own `.gzm` would be): a client that asks for whatever the server serves learns its
/// architecture in the handshake, never a weight, and gets the server's class bit for bit; a
/// client that insists on another architecture is refused.
#[test]
fn a_client_needs_only_the_address() {
    let base = nn::builtin_model("mnist-secureml").unwrap();
    let mut specs = base.to_specs();
    for (i, s) in specs.iter_mut().enumerate() {
        for (j, w) in s.weights.iter_mut().enumerate() {
            *w = ((i * 31 + j * 17) % 13) as i64 - 6;
        }
        s.float = None;
    }
    let mut header = base.header().clone();
    header.name = "my-own-model.v1".into();
    let model = Model::new(header, specs).unwrap();
    let bytes = nn::format::encode(&model);
    let model = Model::from_bytes(&bytes).unwrap();
    let server = Server::new(model.clone(), ServerConfig::default()).unwrap();
    let x = random_inputs(&model, 1, 11).remove(0);
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let mut client = Client::connect_served(&mut a, ParamSetId::default()).unwrap();
        assert_eq!(client.model().name(), "my-own-model.v1");
        assert!(client.model().layers().iter().all(|l| l
            .weights()
            .iter()
            .chain(l.bias())
            .all(|&v| v == 0)));
        let r = client.query(&x).unwrap();
        assert_eq!(r.class, nn::argmax(&model.infer_fixed(&x).unwrap()));
        client.finish().unwrap();
        h.join().unwrap().unwrap();
    });
    // Another architecture under any name: refused on both sides.
    let other = nn::builtin_model("mnist-minionn").unwrap();
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let e = Client::connect(&mut a, other, ParamSetId::default()).unwrap_err();
        assert!(
            e.to_string().contains("handshake") || e.to_string().contains("architecture"),
            "{e}"
        );
        assert!(h.join().unwrap().is_err());
    });
}

/// Graceful shutdown: after `drain`, a session finishes what it runs, then its next query
/// request is answered "server shutting down" and the session ends with `ShuttingDown`.
#[test]
fn a_draining_server_refuses_the_next_query_with_a_reason() {
    let model = nn::builtin_model("mnist-secureml").unwrap();
    let server = Server::new(model.clone(), ServerConfig::default()).unwrap();
    let x = random_inputs(&model, 1, 12).remove(0);
    let (mut a, b) = MemChannel::pair();
    let srv = &server;
    std::thread::scope(|sc| {
        let h = sc.spawn(move || {
            let mut b = b;
            srv.serve_session(&mut b, |_| {})
        });
        let mut client = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        client.query(&x).unwrap();
        srv.drain();
        let e = client.query(&x).unwrap_err();
        assert!(e.to_string().contains("server shutting down"), "{e}");
        drop(client);
        let e = h.join().unwrap().unwrap_err();
        assert!(matches!(e, ProtocolError::ShuttingDown), "{e}");
    });
}

/// Under a weights-memory limit the server keeps the fewest plaintexts needed as coefficients
/// and answers bit for bit as before; a strict limit that cannot be met refuses to start, the
/// default (not strict) keeps them all as coefficients and says so; unlimited keeps none.
#[test]
fn a_weights_memory_limit_keeps_coefficients_and_the_same_answers() {
    use gazelle::protocol::WeightsMemory;
    let model = nn::builtin_model("mnist-minionn").unwrap();
    let with = |weights_memory| ServerConfig {
        reveal_logits: true,
        weights_memory,
        ..ServerConfig::default()
    };
    let full = Server::new(model.clone(), with(WeightsMemory::Unlimited)).unwrap();
    let (none, total) = full.coefficient_plaintexts();
    assert_eq!(none, 0);
    assert!(total > 0 && full.weights_memory_note().is_none());
    let limit = full.weight_bytes() / 2;
    let server = Server::new(
        model.clone(),
        with(WeightsMemory::Limit {
            bytes: limit,
            strict: true,
        }),
    )
    .unwrap();
    let (kept, total2) = server.coefficient_plaintexts();
    assert_eq!(total2, total);
    // The plan's memory figures (`gazelle plan`) agree with the server's.
    let params = ParamSetId::default().params().unwrap();
    let mem = gazelle::protocol::MemoryPlan::of(
        server.plan(),
        &params,
        WeightsMemory::Limit {
            bytes: limit,
            strict: true,
        },
    )
    .unwrap();
    assert_eq!((mem.kept_as_coefficients, mem.plaintexts), (kept, total));
    assert!(server.weight_bytes() <= mem.weights_bytes && mem.weights_bytes <= limit);
    assert!(full.weight_bytes() <= mem.weights_ntt_bytes);
    let mut distinct = server.plan().galois_groups().concat();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(mem.galois_keys, distinct.len());
    assert!(kept > 0 && kept < total, "{kept} of {total}");
    assert!(
        server.weight_bytes() <= limit,
        "{} > {limit}",
        server.weight_bytes()
    );
    assert!(server.describe_weights().contains("as coefficients"));
    // Every query's logits as the oracle's (and so as the unlimited server's).
    let inputs = mnist_inputs(&model, 0, 2);
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        let mut client = Client::connect(&mut a, model.clone(), ParamSetId::default()).unwrap();
        for x in &inputs {
            let r = client.query(x).unwrap();
            assert_eq!(r.logits.unwrap(), model.infer_fixed(x).unwrap());
        }
        client.finish().unwrap();
        h.join().unwrap().unwrap();
    });
    // 1 kB cannot hold even the coefficients.
    let tiny = |strict| {
        with(WeightsMemory::Limit {
            bytes: 1000,
            strict,
        })
    };
    let e = Server::new(model.clone(), tiny(true)).unwrap_err();
    assert!(matches!(e, ProtocolError::WeightsMemory(_)), "{e}");
    let all = Server::new(model.clone(), tiny(false)).unwrap();
    assert_eq!(all.coefficient_plaintexts(), (total, total));
    assert!(all.weights_memory_note().is_some());
    assert!(all.describe_weights().contains("over the limit"));
}

/// One Galois key per element: the frames carry each linear stage's new elements; frames that
/// repeat an element, come from another seed, or carry a key not asked for end the session
/// with a `Malformed` error.
#[test]
fn galois_key_frames_must_be_exactly_the_new_elements_of_one_seed() {
    use gazelle::he::{GaloisKeys, PublicKey, SecretKey};
    let model = nn::builtin_model("mnist-minionn").unwrap();
    let server = Server::new(model.clone(), ServerConfig::insecure(ParamSetId::default())).unwrap();
    let plan = server.plan();
    let frames = plan.galois_frames();
    let mut distinct = plan.galois_groups().concat();
    distinct.sort_unstable();
    distinct.dedup();
    let mut sent = frames.concat();
    sent.sort_unstable();
    assert_eq!(sent, distinct, "each element in exactly one frame");
    assert!(frames.len() > 1 && frames.iter().skip(1).any(|f| !f.is_empty()));
    let hello = handshake::Hello::new(ParamSetId::default(), model.name());
    let params = ParamSetId::default().params().unwrap();
    for case in ["repeated", "other seed", "extra key"] {
        let (mut a, mut b) = MemChannel::pair();
        std::thread::scope(|sc| {
            let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
            handshake::handshake_client(&mut a, &hello).unwrap();
            let mut rng = gazelle::he::sampling::secret_rng().unwrap();
            let sk = SecretKey::generate(&params, &mut rng);
            net::send_msg(&mut a, 0x10, &PublicKey::generate(&sk, &mut rng).to_bytes()).unwrap();
            let gk = GaloisKeys::generate(&sk, &distinct, &mut rng).unwrap();
            let second = frames.iter().position(|f| !f.is_empty()).unwrap() + 1;
            for (i, f) in frames.iter().enumerate() {
                let bytes = match (case, i == second) {
                    ("repeated", true) => {
                        let mut f = f.clone();
                        f[0] = frames[second - 1][0];
                        gk.subset_to_bytes(&f).unwrap()
                    }
                    ("other seed", true) => {
                        GaloisKeys::generate(&sk, f, &mut rng).unwrap().to_bytes()
                    }
                    ("extra key", true) => {
                        let mut f = f.clone();
                        f.push(frames[second - 1][0]);
                        gk.subset_to_bytes(&f).unwrap()
                    }
                    _ => gk.subset_to_bytes(f).unwrap(),
                };
                if net::send_msg(&mut a, 0x11, &bytes).is_err() {
                    break;
                }
            }
            let e = h.join().unwrap().unwrap_err();
            assert!(matches!(e, ProtocolError::Malformed { .. }), "{case}: {e}");
        });
    }
}
