//! The float reference: the original ONNX model run by `tract`, compared with the imported
//! model's float inference (which checks the graph mapping and the batch-norm folding).
use super::quantize::ReferenceCheck;
use super::{ImportError, Result};
use gazelle::nn::{argmax, Model};
use std::panic::AssertUnwindSafe;
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// The ONNX model's logits for each image, by tract.
pub fn run_onnx(proto: &pb::ModelProto, model: &Model, images: &[&[u8]]) -> Result<Vec<Vec<f32>>> {
    let s = model.input().shape;
    let run = || -> TractResult<Vec<Vec<f32>>> {
        let plan = tract_onnx::onnx()
            .model_for_proto_model(proto)?
            .with_input_fact(0, f32::fact([1, s.c, s.h, s.w]).into())?
            .into_optimized()?
            .into_runnable()?;
        images
            .iter()
            .map(|px| {
                let x = model.input().encode_float(px);
                let t = Tensor::from_shape(&[1, s.c, s.h, s.w], &x)?;
                let out = plan.run(tvec!(t.into()))?;
                Ok(out[0]
                    .to_plain_array_view::<f32>()?
                    .iter()
                    .copied()
                    .collect())
            })
            .collect()
    };
    // tract is the referee, not a trusted parser of hostile files: a panic is an error here
    match std::panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r.map_err(|e| ImportError::Model(format!("tract could not run the model: {e:#}"))),
        Err(_) => Err(ImportError::Model("tract panicked on the model".into())),
    }
}

/// tract's logits against the imported float model's on `images`.
pub fn compare(proto: &pb::ModelProto, model: &Model, images: &[&[u8]]) -> Result<ReferenceCheck> {
    let reference = run_onnx(proto, model, images)?;
    let mut check = ReferenceCheck {
        images: images.len(),
        max_abs_diff: 0.0,
        max_abs_logit: 0.0,
        agree: 0,
    };
    for (px, want) in images.iter().zip(&reference) {
        let got = model.infer_float(&model.input().encode_float(px))?;
        if got.len() != want.len() {
            return Err(ImportError::Model(format!(
                "tract gives {} logits, the import {}",
                want.len(),
                got.len()
            )));
        }
        for (a, b) in got.iter().zip(want) {
            check.max_abs_diff = check.max_abs_diff.max((a - b).abs());
            check.max_abs_logit = check.max_abs_logit.max(b.abs());
        }
        check.agree += usize::from(argmax(&got) == argmax(want));
    }
    Ok(check)
}
