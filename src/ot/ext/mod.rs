//! OT extension to random correlated OT with the sender's global `Δ`: SoftSpokenOT
//! (Roy, "SoftSpokenOT: Quieter OT Extension from Small-Field Silent VOLE in the Minicrypt
//! Model", CRYPTO 2022, eprint 2022/192), semi-honest variant; `k = 1` is IKNP (CRYPTO 2003)
//! with the ALSZ (CCS 2013) optimisations.
//!
//! # Roles
//! The OT-extension *receiver* (GC evaluator) is the base-OT *sender*, and the OT-extension
//! *sender* (garbler, holder of `Δ`) is the base-OT *receiver* whose choice bits come from `Δ`.
//!
//! # Setup (once per session)
//! The 128 bits of `Δ` are cut into `128/k` chunks of `k` bits, chunk `i` being the integer
//! `a_i = (Δ >> k·i) mod 2^k`. For each chunk the receiver grows a GGM tree of depth `k`
//! (children `H(s, 0)`, `H(s, 1)` with the fixed-key TCCR hash) with `2^k` leaves, and for each
//! level `l` sends the XOR of all left children and of all right children, each masked by one
//! of its two base-OT keys. The sender, whose base-OT choice at level `l` is the complement of
//! bit `l` (MSB first) of `a_i`, rebuilds every leaf except leaf `a_i` (a punctured PRF). Each
//! leaf seeds an AES-CTR PRG; `k = 1` degenerates to IKNP's two seeds per base OT.
//!
//! # Extension (any number of times)
//! For a batch of `ℓ` OTs (a multiple of 128) each leaf `x` of chunk `i` expands to an `ℓ`-bit
//! string `R_x`. The receiver computes `u_i = ⊕_x R_x` and, for each bit `b < k`,
//! `v_{i,b} = ⊕_{x : x_b = 1} R_x`; the sender, missing only `R_{a_i}`, computes
//! `w_{i,b} = ⊕_{x ≠ a_i : (x ⊕ a_i)_b = 1} R_x = v_{i,b} ⊕ (a_i)_b·u_i` (small-field VOLE).
//! The receiver's random choice bits are `r = u_0`; for `i ≥ 1` it sends `c_i = u_0 ⊕ u_i`
//! (`(128/k − 1)·ℓ` bits: 3.875 bytes per OT at `k = 4`), and the sender adds `(a_i)_b·c_i` to
//! its `w_{i,b}`. Column `k·i + b` of the two 128-column matrices is `v_{i,b}` resp. `w_{i,b}`;
//! transposed, row `j` gives `t_j` (receiver) and `q_j` (sender) with `t_j = q_j ⊕ r_j·Δ`.
//! The sender's view (`c_i`) is uniformly random whatever `r` is, because each `u_i` is masked
//! by the PRG output of the leaf the sender lacks.
//!
//! # Costs (per OT and party, `k = 4`)
//! `2^k/k = 4` AES blocks of PRG (IKNP: 1 for the sender, 2 for the receiver), about
//! `2^k·(1 + k/2)/k = 12` block XORs, one 128-bit transpose row; 3.875 bytes sent.
//!
//! # Files (as mpz's `kos`: parameters, messages, one file per party's core)
//! * `params` — [`ExtParams`] (`k` and what it costs); `msg` — [`SeedMsg`], [`ExtendMsg`].
//! * `ggm` — the GGM trees of the setup; `setup` — [`ExtReceiverSetup`], [`ExtSenderSetup`].
//! * `vole` — the small-field VOLE and the sub-batch scratch both cores share; `receiver`,
//!   `sender` — the extension cores [`CotReceiver`], [`CotSender`].
//! * `pool` — their output, [`ReceiverCots`], [`SenderCots`]; `tests`.
mod ggm;
mod msg;
mod params;
mod pool;
mod receiver;
mod sender;
mod setup;
mod vole;

pub use msg::{ExtendMsg, SeedMsg};
pub use params::ExtParams;
pub use pool::{ReceiverCots, SenderCots};
pub use receiver::CotReceiver;
pub use sender::CotSender;
pub use setup::{ExtReceiverSetup, ExtSenderSetup};

use super::{OtError, Result};

/// Number of base OTs (one per bit of `Δ`).
pub const BASE_OTS: usize = 128;

/// Largest number of OTs in one extension call (bounds every allocation a peer drives; an
/// IKNP message for this many is 133 MB, under the channel's frame limit).
pub const MAX_EXTEND: usize = 1 << 23;

/// OTs per internal sub-batch (keeps the 128 columns of a sub-batch in L2).
const SUB_BATCH: usize = 1 << 13;

/// Distance in blocks between two columns of a sub-batch: 64 bytes more than a column, so
/// that the transpose's 128 loads from one row of tiles fall in different L1 sets (a stride
/// of exactly 1 KiB maps them all to 4 of the 64 sets).
const STRIDE: usize = SUB_BATCH / 128 + 4;

/// Number of padded OTs (a multiple of 128) for `n` requested.
fn padded(n: usize) -> usize {
    n.div_ceil(128) * 128
}

/// Checks a requested extension size: `1 ≤ n ≤` [`MAX_EXTEND`].
pub(crate) fn check_extend_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_EXTEND {
        return Err(OtError::BadCount {
            what: "OTs per extension",
            n,
            max: MAX_EXTEND,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
