//! The extension's one parameter, `k`, and what it costs.
use super::BASE_OTS;
use crate::ot::{OtError, Result};

/// Parameters of the extension: `k`, the bits per small-field VOLE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtParams {
    k: u8,
}

impl Default for ExtParams {
    /// SoftSpokenOT with `k = 4`: 3.875 bytes per OT.
    fn default() -> ExtParams {
        ExtParams::SOFTSPOKEN_4
    }
}

impl ExtParams {
    /// IKNP with the ALSZ optimisations (`k = 1`): 15.875 bytes per OT, the least computation.
    pub const IKNP: ExtParams = ExtParams { k: 1 };
    /// SoftSpokenOT with `k = 2`: 7.875 bytes per OT.
    pub const SOFTSPOKEN_2: ExtParams = ExtParams { k: 2 };
    /// SoftSpokenOT with `k = 4`: 3.875 bytes per OT (the default).
    pub const SOFTSPOKEN_4: ExtParams = ExtParams { k: 4 };
    /// SoftSpokenOT with `k = 8`: 1.875 bytes per OT, 32 PRG blocks per OT and party.
    pub const SOFTSPOKEN_8: ExtParams = ExtParams { k: 8 };

    /// `k` ∈ {1, 2, 4, 8}.
    pub fn new(k: u8) -> Result<ExtParams> {
        match k {
            1 | 2 | 4 | 8 => Ok(ExtParams { k }),
            _ => Err(OtError::BadParams(format!(
                "SoftSpokenOT k = {k}: supported are 1, 2, 4, 8"
            ))),
        }
    }

    /// Bits per small-field VOLE.
    pub fn k(self) -> u8 {
        self.k
    }

    pub(super) fn k_usize(self) -> usize {
        self.k as usize
    }

    /// Number of chunks of `Δ` (`128 / k`).
    pub fn chunks(self) -> usize {
        BASE_OTS / self.k_usize()
    }

    pub(super) fn leaves(self) -> usize {
        1 << self.k
    }

    /// Bytes the receiver sends per extended OT (asymptotically).
    pub fn bytes_per_ot(self) -> f64 {
        (self.chunks() - 1) as f64 / 8.0
    }

    /// A short name for reports: `iknp` or `softspoken-k`.
    pub fn name(self) -> String {
        if self.k == 1 {
            "iknp".into()
        } else {
            format!("softspoken-{}", self.k)
        }
    }
}
