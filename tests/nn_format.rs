//! Model format: round trips, rejection of malformed files, and the fixed-point oracle against a
//! naive reference on random small models.
use gazelle::nn::format::{self, encode_unchecked, fnv1a64};
use gazelle::nn::{
    FloatParams, InputSpec, LayerKind, LayerSpec, Model, ModelHeader, NnError, Requant, Shape,
};

mod common;
use common::{residual_model, Rng};

fn header(c: usize, h: usize, w: usize, classes: usize) -> ModelHeader {
    ModelHeader {
        name: "test-net".into(),
        source: "unit test".into(),
        act_bits: 8,
        input: InputSpec {
            shape: Shape::new(c, h, w),
            scale: 1,
            offset: 0,
            float_div: 255,
            hand_drawn: false,
        },
        num_classes: classes,
        class_names: vec![],
    }
}

fn param_layer(kind: LayerKind, shift: u32, rng: &mut Rng) -> LayerSpec {
    let (nw, nb) = kind.parameter_counts();
    let weights: Vec<i64> = (0..nw).map(|_| rng.range(-20, 20)).collect();
    let bias: Vec<i64> = (0..nb).map(|_| rng.range(-500, 500)).collect();
    let float = FloatParams {
        weights: weights.iter().map(|&v| v as f32 / 64.0).collect(),
        bias: bias.iter().map(|&v| v as f32 / 4096.0).collect(),
    };
    LayerSpec {
        kind,
        input: None,
        shift: Some(shift),
        weights,
        bias,
        float: Some(float),
    }
}

fn plain(kind: LayerKind, shift: Option<u32>) -> LayerSpec {
    LayerSpec {
        kind,
        input: None,
        shift,
        weights: vec![],
        bias: vec![],
        float: None,
    }
}

/// A small network using every layer kind: 2x9x9 input.
fn small_specs(rng: &mut Rng) -> Vec<LayerSpec> {
    vec![
        param_layer(
            LayerKind::Conv2d {
                in_c: 2,
                out_c: 3,
                k: 3,
                stride: 2,
                pad: 1,
            },
            5,
            rng,
        ), // 3x5x5
        plain(LayerKind::Square, Some(6)),
        param_layer(
            LayerKind::Conv2d {
                in_c: 3,
                out_c: 4,
                k: 2,
                stride: 1,
                pad: 0,
            },
            6,
            rng,
        ), // 4x4x4
        plain(LayerKind::Relu, None),
        plain(LayerKind::AvgPool { k: 2, stride: 2 }, Some(2)), // 4x2x2
        plain(LayerKind::MaxPool { k: 2, stride: 1 }, None),    // 4x1x1
        plain(LayerKind::Flatten, None),
        param_layer(
            LayerKind::Fc {
                inputs: 4,
                outputs: 3,
            },
            4,
            rng,
        ),
    ]
}

fn small_model() -> Model {
    let mut rng = Rng(1);
    Model::new(header(2, 9, 9, 3), small_specs(&mut rng)).unwrap()
}

/// Re-seals a file after editing it (fixes the checksum), so that the edit itself is what the
/// loader sees.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len() - 8;
    let sum = fnv1a64(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum.to_le_bytes());
    bytes
}

#[test]
fn round_trip() {
    let m = small_model();
    let bytes = m.to_bytes();
    let back = Model::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_bytes(), bytes);
    // the bundled files are version 1 (a chain, no class names): still read, and written
    // back as version 2 they read back to the same model
    for name in gazelle::nn::MODEL_NAMES {
        let raw = gazelle::nn::builtin_model_bytes(name).unwrap();
        assert_eq!(u16::from_le_bytes([raw[8], raw[9]]), 1, "{name}");
        let m = gazelle::nn::builtin_model(name).unwrap();
        assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), m, "{name}");
        // version 1: the one-channel (MNIST) networks take hand-drawn digits, CIFAR does not
        assert_eq!(m.input().hand_drawn, m.input().shape.c == 1, "{name}");
    }
    // the flag round-trips and decides the automatic polarity
    let mut h = small_model().header().clone();
    for hand_drawn in [false, true] {
        h.input.hand_drawn = hand_drawn;
        let m = Model::new(h.clone(), small_model().to_specs()).unwrap();
        let back = Model::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back.input().hand_drawn, hand_drawn);
        use gazelle::data::Polarity;
        let p = gazelle::protocol::cli::effective_polarity(Polarity::Auto, &back);
        assert_eq!(
            p,
            if hand_drawn {
                Polarity::Auto
            } else {
                Polarity::AsIs
            }
        );
    }
}

#[test]
fn rejects_bad_magic_version_and_damage() {
    let bytes = small_model().to_bytes();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(matches!(Model::from_bytes(&b), Err(NnError::BadMagic)));
    let mut b = bytes.clone();
    b[8] = 3;
    assert!(matches!(
        Model::from_bytes(&b),
        Err(NnError::UnsupportedVersion {
            found: 3,
            supported: 2
        })
    ));
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    assert!(matches!(
        Model::from_bytes(&b),
        Err(NnError::ChecksumMismatch { .. })
    ));
    let mut b = bytes.clone();
    b.push(0);
    assert!(Model::from_bytes(&b).is_err());
    assert!(matches!(
        Model::from_bytes(&reseal(b)),
        Err(NnError::ChecksumMismatch { .. }) | Err(NnError::TrailingBytes { .. })
    ));
    assert!(Model::from_bytes(&[]).is_err());
}

#[test]
fn rejects_every_truncation() {
    let bytes = small_model().to_bytes();
    for n in 0..bytes.len() {
        assert!(
            Model::from_bytes(&bytes[..n]).is_err(),
            "prefix of {n} bytes accepted"
        );
        // also truncations that carry a valid checksum: the parser must notice the missing data
        if n >= 18 {
            let mut t = bytes[..n - 8].to_vec();
            t.extend_from_slice(&fnv1a64(&bytes[..n - 8]).to_le_bytes());
            assert!(
                Model::from_bytes(&t).is_err(),
                "resealed prefix of {n} bytes accepted"
            );
        }
    }
}

#[test]
fn rejects_inconsistent_shapes() {
    let mut rng = Rng(2);
    let h = header(2, 9, 9, 3);
    let check = |specs: Vec<LayerSpec>, hdr: &ModelHeader| {
        let direct = Model::new(hdr.clone(), specs.clone());
        let loaded = Model::from_bytes(&encode_unchecked(hdr, &specs));
        assert!(direct.is_err() && loaded.is_err(), "{direct:?}");
        format!("{}", loaded.unwrap_err())
    };
    // conv expects 3 channels, input has 2
    let mut s = small_specs(&mut rng);
    s[0] = param_layer(
        LayerKind::Conv2d {
            in_c: 3,
            out_c: 3,
            k: 3,
            stride: 2,
            pad: 1,
        },
        5,
        &mut rng,
    );
    assert!(check(s, &h).contains("channels"));
    // fc on a 4x2x2 input (no max-pool, no flatten)
    let mut s = small_specs(&mut rng);
    s.remove(6);
    s.remove(5);
    assert!(check(s, &h).contains("flat"));
    // fc width wrong
    let mut s = small_specs(&mut rng);
    s[7] = param_layer(
        LayerKind::Fc {
            inputs: 5,
            outputs: 3,
        },
        4,
        &mut rng,
    );
    check(s, &h);
    // output is not num_classes
    let s = small_specs(&mut rng);
    check(s, &header(2, 9, 9, 4));
    // kernel larger than the input
    let s = vec![param_layer(
        LayerKind::Conv2d {
            in_c: 2,
            out_c: 3,
            k: 12,
            stride: 1,
            pad: 1,
        },
        5,
        &mut rng,
    )];
    check(s, &header(2, 9, 9, 3));
    // weight array of the wrong length (direct construction only: the file format derives it)
    let mut s = small_specs(&mut rng);
    s[2].weights.pop();
    assert!(matches!(
        Model::new(h.clone(), s),
        Err(NnError::ParameterCount { layer: 2, .. })
    ));
    // a shift present where it must not be (a missing one is an unrequantised accumulator)
    let mut s = small_specs(&mut rng);
    s[3].shift = Some(1);
    assert!(Model::new(h.clone(), s).is_err());
}

#[test]
fn rejects_out_of_range_values() {
    let mut rng = Rng(3);
    let h = header(2, 9, 9, 3);
    let bad = |specs: Vec<LayerSpec>, hdr: &ModelHeader| {
        assert!(Model::from_bytes(&encode_unchecked(hdr, &specs)).is_err());
        assert!(Model::new(hdr.clone(), specs).is_err());
    };
    let mut s = small_specs(&mut rng);
    s[0].weights[3] = 1 << 20;
    bad(s, &h);
    let mut s = small_specs(&mut rng);
    s[0].bias[0] = -(1 << 31);
    bad(s, &h);
    let mut s = small_specs(&mut rng);
    s[1].shift = Some(60);
    bad(s, &h);
    let mut s = small_specs(&mut rng);
    s[0].float.as_mut().unwrap().weights[0] = f32::NAN;
    bad(s, &h);
    let mut hh = h.clone();
    hh.act_bits = 40;
    bad(small_specs(&mut rng), &hh);
    let mut hh = h.clone();
    hh.name = "Bad Name".into();
    bad(small_specs(&mut rng), &hh);
    bad(vec![], &h);
    // more than MAX_LAYERS layers
    let mut s = small_specs(&mut rng);
    let relus = vec![plain(LayerKind::Relu, None); gazelle::nn::model::MAX_LAYERS];
    s.splice(4..4, relus);
    bad(s, &h);
}

#[test]
fn huge_counts_do_not_allocate() {
    // An fc layer declaring 2^32-1 x 2^32-1 weights: must fail on the bytes left (or the range
    // check), not try to allocate.
    let h = header(4, 1, 1, 3);
    let spec = LayerSpec {
        kind: LayerKind::Fc {
            inputs: u32::MAX as usize,
            outputs: u32::MAX as usize,
        },
        input: None,
        shift: Some(1),
        weights: vec![],
        bias: vec![],
        float: None,
    };
    let bytes = encode_unchecked(&h, &[spec]);
    assert!(matches!(
        Model::from_bytes(&bytes),
        Err(NnError::Truncated { .. })
    ));
    // a layer count field of 65535
    let mut bytes = small_model().to_bytes();
    // the layer-count field sits right before the first layer tag
    let name_len = bytes[14] as usize;
    let src_len = u16::from_le_bytes([bytes[15 + name_len], bytes[16 + name_len]]) as usize;
    // (version 2: a class-names length, 0 here, and the input flags follow the class count)
    let off = 17 + name_len + src_len + 6 + 12 + 2 + 2 + 1;
    assert_eq!(
        u16::from_le_bytes([bytes[off], bytes[off + 1]]),
        8,
        "layer count field located"
    );
    bytes[off..off + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    let bytes = reseal(bytes);
    assert!(matches!(
        Model::from_bytes(&bytes),
        Err(NnError::FieldOutOfRange {
            field: "layer count",
            ..
        })
    ));
    // an unknown tag right after the header
    let mut bytes = small_model().to_bytes();
    bytes[off + 2] = 99;
    assert!(matches!(
        Model::from_bytes(&reseal(bytes)),
        Err(NnError::UnknownLayer { layer: 0, tag: 99 })
    ));
}

#[test]
fn rejects_bad_inputs() {
    let m = small_model();
    assert!(matches!(
        m.infer_fixed(&[0; 5]),
        Err(NnError::InputLength {
            found: 5,
            expected: 162
        })
    ));
    let mut x = vec![0i64; 162];
    x[7] = 256;
    assert!(matches!(
        m.infer_fixed(&x),
        Err(NnError::InputOutOfRange { index: 7, .. })
    ));
    assert!(m.infer_float(&[0.0; 3]).is_err());
    let no_float: Vec<LayerSpec> = small_specs(&mut Rng(1))
        .into_iter()
        .map(|mut s| {
            s.float = None;
            s
        })
        .collect();
    let m2 = Model::new(header(2, 9, 9, 3), no_float).unwrap();
    assert!(!m2.has_float());
    assert!(matches!(
        m2.infer_float(&[0.0; 162]),
        Err(NnError::NoFloatParameters { .. })
    ));
    assert_eq!(Model::from_bytes(&m2.to_bytes()).unwrap(), m2);
}

#[test]
fn requant_is_floor_shift_then_clamp() {
    let r = Requant::new(2, 8);
    assert_eq!((r.min, r.max), (-128, 127));
    assert_eq!(r.apply(7), 1);
    assert_eq!(r.apply(-1), -1); // floor(-1/4) = -1
    assert_eq!(r.apply(-4), -1);
    assert_eq!(r.apply(-5), -2);
    assert_eq!(r.apply(1000), 127);
    assert_eq!(r.apply(-1000), -128);
}

// ----- naive reference -------------------------------------------------------------------

fn naive_fixed(m: &Model, input: &[i64]) -> Vec<i64> {
    let mut tensors = vec![input.to_vec()];
    for l in m.layers() {
        let x = tensors[l.input_tensor()].clone();
        let (s, o) = (l.input_shape(), l.output_shape());
        let at = |x: &[i64], c: usize, y: isize, xx: isize| -> i64 {
            if y < 0 || xx < 0 || y >= s.h as isize || xx >= s.w as isize {
                0
            } else {
                x[(c * s.h + y as usize) * s.w + xx as usize]
            }
        };
        let mut acc = vec![0i64; o.numel()];
        match l.kind() {
            LayerKind::Conv2d {
                in_c,
                out_c,
                k,
                stride,
                pad,
            } => {
                for oc in 0..out_c {
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let mut sum = l.bias()[oc];
                            for c in 0..in_c {
                                for i in 0..k {
                                    for j in 0..k {
                                        let y = (oy * stride + i) as isize - pad as isize;
                                        let xx = (ox * stride + j) as isize - pad as isize;
                                        sum += l.weights()[((oc * in_c + c) * k + i) * k + j]
                                            * at(&x, c, y, xx);
                                    }
                                }
                            }
                            acc[(oc * o.h + oy) * o.w + ox] = sum;
                        }
                    }
                }
            }
            LayerKind::Fc { inputs, outputs } => {
                acc = (0..outputs)
                    .map(|r| {
                        l.bias()[r]
                            + (0..inputs)
                                .map(|i| l.weights()[r * inputs + i] * x[i])
                                .sum::<i64>()
                    })
                    .collect();
            }
            LayerKind::MaxPool { k, stride } | LayerKind::AvgPool { k, stride } => {
                for c in 0..s.c {
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let vals: Vec<i64> = (0..k * k)
                                .map(|t| {
                                    at(
                                        &x,
                                        c,
                                        (oy * stride + t / k) as isize,
                                        (ox * stride + t % k) as isize,
                                    )
                                })
                                .collect();
                            acc[(c * o.h + oy) * o.w + ox] =
                                if matches!(l.kind(), LayerKind::MaxPool { .. }) {
                                    *vals.iter().max().unwrap()
                                } else {
                                    vals.iter().sum()
                                };
                        }
                    }
                }
            }
            LayerKind::Relu => acc = x.iter().map(|&v| v.max(0)).collect(),
            LayerKind::Square => acc = x.iter().map(|&v| v * v).collect(),
            LayerKind::Flatten => acc = x.clone(),
            LayerKind::Add {
                other,
                lshift_input,
                lshift_other,
            } => {
                acc = x
                    .iter()
                    .zip(&tensors[other])
                    .map(|(&a, &b)| a * (1 << lshift_input) + b * (1 << lshift_other))
                    .collect()
            }
        }
        let y = match l.requant() {
            Some(r) => acc
                .iter()
                .map(|&v| {
                    ((v as f64 / (1u64 << r.shift) as f64).floor() as i64).clamp(r.min, r.max)
                })
                .collect(),
            None => acc,
        };
        tensors.push(y);
    }
    tensors.pop().unwrap()
}

#[test]
fn oracle_matches_naive_reference_on_random_models() {
    let mut rng = Rng(42);
    for trial in 0..30 {
        let (c, hw) = (rng.range(1, 3) as usize, rng.range(6, 12) as usize);
        let k = rng.range(1, 4) as usize;
        let stride = rng.range(1, 2) as usize;
        let pad = rng.range(0, k as i64 - 1) as usize;
        let oc = rng.range(1, 4) as usize;
        let conv_out = (hw + 2 * pad - k) / stride + 1;
        let mut specs = vec![param_layer(
            LayerKind::Conv2d {
                in_c: c,
                out_c: oc,
                k,
                stride,
                pad,
            },
            rng.range(0, 8) as u32,
            &mut rng,
        )];
        let mut side = conv_out;
        if trial % 2 == 0 {
            specs.push(plain(LayerKind::Relu, None));
        } else {
            specs.push(plain(LayerKind::Square, Some(rng.range(3, 9) as u32)));
        }
        if side >= 2 {
            let pk = 2;
            let ps = rng.range(1, 2) as usize;
            let kind = if trial % 3 == 0 {
                LayerKind::AvgPool { k: pk, stride: ps }
            } else {
                LayerKind::MaxPool { k: pk, stride: ps }
            };
            let shift = kind.is_requantised().then_some(rng.range(0, 3) as u32);
            specs.push(plain(kind, shift));
            side = (side - pk) / ps + 1;
        }
        specs.push(plain(LayerKind::Flatten, None));
        let n = oc * side * side;
        specs.push(param_layer(
            LayerKind::Fc {
                inputs: n,
                outputs: 5,
            },
            rng.range(0, 8) as u32,
            &mut rng,
        ));
        let mut h = header(c, hw, hw, 5);
        h.input.scale = 2;
        h.input.offset = -255;
        let m = Model::new(h, specs).unwrap();
        let px: Vec<u8> = (0..c * hw * hw).map(|_| rng.next() as u8).collect();
        let x = m.input().encode_fixed(&px);
        assert_eq!(
            m.infer_fixed(&x).unwrap(),
            naive_fixed(&m, &x),
            "trial {trial}"
        );
        // float inference runs and has the right length
        assert_eq!(
            m.infer_float(&m.input().encode_float(&px)).unwrap().len(),
            5
        );
        // the model survives a round trip through the file format
        assert_eq!(format::decode(&m.to_bytes()).unwrap(), m);
    }
}

/// The architecture a server sends: every layer's kind, shape and shift and the header, no
/// weight (every bundled model's is a few hundred bytes); it reads back with zero parameters,
/// re-encodes to the same bytes, and a damaged or oversized one is an error, not an allocation.
#[test]
fn architecture_has_no_weights_and_round_trips() {
    for name in gazelle::nn::MODEL_NAMES {
        let m = gazelle::nn::builtin_model(name).unwrap();
        let arch = format::encode_architecture(&m);
        assert!(arch.len() < 1024, "{name}: {} bytes", arch.len());
        let back = format::decode(&arch).unwrap();
        assert_eq!(back.header(), m.header());
        for (a, b) in back.to_specs().iter().zip(m.to_specs()) {
            assert_eq!((a.kind, a.shift), (b.kind, b.shift), "{name}");
            assert_eq!(
                (a.weights.len(), a.bias.len()),
                (b.weights.len(), b.bias.len())
            );
            assert!(a.weights.iter().chain(&a.bias).all(|&v| v == 0));
            assert!(a.float.is_none());
        }
        assert_eq!(format::encode_architecture(&back), arch);
        for cut in [1, 8, arch.len() / 2] {
            assert!(
                format::decode(&arch[..arch.len() - cut]).is_err(),
                "{name}: cut {cut}"
            );
        }
    }
    // A few bytes claiming 2^32 − 1 × 2^32 − 1 fc weights: refused before any allocation.
    let huge = [LayerSpec {
        kind: LayerKind::Fc {
            inputs: u32::MAX as usize,
            outputs: u32::MAX as usize,
        },
        input: None,
        shift: Some(0),
        weights: vec![],
        bias: vec![],
        float: None,
    }];
    let mut bytes = encode_unchecked(&header(1, 1, 1, 10), &huge);
    // Turn the file into an architecture: flag 2, and the checksum recomputed.
    bytes[10..12].copy_from_slice(&format::FLAG_ARCHITECTURE.to_le_bytes());
    let n = bytes.len();
    let sum = fnv1a64(&bytes[..n - 8]);
    bytes[n - 8..].copy_from_slice(&sum.to_le_bytes());
    assert!(format::decode(&bytes).is_err());
}

/// A residual graph (shortcuts, a projection branch, raw accumulators): the oracle follows it
/// like the naive reference, it survives the file format and the architecture round trip, and
/// a layer reading a later tensor or adding a tensor of another shape is refused.
#[test]
fn residual_graphs_follow_the_reference_and_round_trip() {
    for seed in 0..8 {
        let m = residual_model(seed);
        assert!(!m.is_sequential());
        assert!(m.is_kept(2) && m.is_kept(5) && !m.is_kept(3));
        let mut rng = Rng(seed + 100);
        for _ in 0..4 {
            let px: Vec<u8> = (0..2 * 81).map(|_| rng.next() as u8).collect();
            let x = m.input().encode_fixed(&px);
            assert_eq!(
                m.infer_fixed(&x).unwrap(),
                naive_fixed(&m, &x),
                "seed {seed}"
            );
            assert_eq!(
                m.infer_float(&m.input().encode_float(&px)).unwrap().len(),
                3
            );
        }
        assert_eq!(format::decode(&m.to_bytes()).unwrap(), m);
        let arch = format::decode(&format::encode_architecture(&m)).unwrap();
        assert_eq!(arch.header(), m.header());
        assert_eq!(arch.class_name(1), "dog");
        for (a, b) in arch.layers().iter().zip(m.layers()) {
            assert_eq!(
                (a.kind(), a.input_tensor(), a.requant()),
                (b.kind(), b.input_tensor(), b.requant())
            );
        }
    }
    let m = residual_model(1);
    let (h, specs) = (m.header().clone(), m.to_specs());
    let mut s = specs.clone();
    s[5].input = Some(9);
    assert!(matches!(
        Model::new(h.clone(), s),
        Err(NnError::ShapeMismatch { layer: 5, .. })
    ));
    let mut s = specs.clone();
    s[7].kind = LayerKind::Add {
        other: 2,
        lshift_input: 0,
        lshift_other: 0,
    };
    assert!(matches!(
        Model::new(h.clone(), s),
        Err(NnError::ShapeMismatch { layer: 7, .. })
    ));
    let mut bad_names = h.clone();
    bad_names.class_names.pop();
    assert!(Model::new(bad_names, specs.clone()).is_err());
    // raw accumulators chained without a requantisation until they could overflow i64
    let mut s = specs.clone();
    for l in s.iter_mut() {
        l.shift = l.kind.is_requantised().then_some(0).filter(|_| false);
    }
    for l in s.iter_mut().filter(|l| l.kind.has_parameters()) {
        for w in l.weights.iter_mut() {
            *w = 1 << 16;
        }
    }
    let e = Model::new(h, s).unwrap_err();
    assert!(e.to_string().contains("2^62"), "{e}");
}
