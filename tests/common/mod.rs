//! Test support shared by the integration tests: a small residual network with random
//! integer weights (a graph: shortcuts, a projection branch, unrequantised accumulators).
#![allow(dead_code)]
use gazelle::nn::{FloatParams, InputSpec, LayerKind, LayerSpec, Model, ModelHeader, Shape};

/// splitmix64, deterministic test randomness.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

fn layer(kind: LayerKind, input: Option<usize>, shift: Option<u32>, rng: &mut Rng) -> LayerSpec {
    let (nw, nb) = kind.parameter_counts();
    let weights: Vec<i64> = (0..nw).map(|_| rng.range(-20, 20)).collect();
    let bias: Vec<i64> = (0..nb).map(|_| rng.range(-500, 500)).collect();
    let float = kind.has_parameters().then(|| FloatParams {
        weights: weights.iter().map(|&v| v as f32 / 64.0).collect(),
        bias: bias.iter().map(|&v| v as f32 / 4096.0).collect(),
    });
    LayerSpec {
        kind,
        input,
        shift,
        weights,
        bias,
        float,
    }
}

/// A 2×9×9 → 3-class residual network: conv, relu, an identity block (raw conv + add of the
/// block input, then relu), a downsampling block whose shortcut is a strided 1×1 projection
/// of an earlier tensor, and a classifier; class names given.
pub fn residual_model(seed: u64) -> Model {
    let mut rng = Rng(seed);
    let conv = |in_c, out_c, k, stride, pad| LayerKind::Conv2d {
        in_c,
        out_c,
        k,
        stride,
        pad,
    };
    let add = |other, a, b| LayerKind::Add {
        other,
        lshift_input: a,
        lshift_other: b,
    };
    let r = &mut rng;
    let specs = vec![
        layer(conv(2, 4, 3, 1, 1), None, Some(5), r), // t1
        layer(LayerKind::Relu, None, None, r),        // t2: block input
        layer(conv(4, 4, 3, 1, 1), None, None, r),    // t3: raw accumulator
        layer(add(2, 0, 4), None, Some(5), r),        // t4 = requant(t3 + t2·16)
        layer(LayerKind::Relu, None, None, r),        // t5
        layer(conv(4, 4, 1, 2, 0), Some(2), None, r), // t6: projection of t2, raw
        layer(conv(4, 4, 3, 2, 1), Some(5), None, r), // t7: main branch from t5, raw
        layer(add(6, 0, 0), None, Some(4), r),        // t8 = requant(t7 + t6)
        layer(LayerKind::Relu, None, None, r),        // t9
        layer(LayerKind::Flatten, None, None, r),     // t10
        layer(
            LayerKind::Fc {
                inputs: 100,
                outputs: 3,
            },
            None,
            Some(4),
            r,
        ),
    ];
    let header = ModelHeader {
        name: "residual-test".into(),
        source: "random weights, unit test".into(),
        act_bits: 8,
        input: InputSpec {
            shape: Shape::new(2, 9, 9),
            scale: 1,
            offset: 0,
            float_div: 255,
            hand_drawn: false,
        },
        num_classes: 3,
        class_names: vec!["cat".into(), "dog".into(), "bird".into()],
    };
    Model::new(header, specs).expect("a valid residual model")
}
