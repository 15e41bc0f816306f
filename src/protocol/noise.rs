//! The noise bounds the protocol floods for, all worst cases ([`NoiseBound`]) and, for linear
//! stages, from linalg's noise walk. They size the flooding of each reply
//! (`he::PublicKey::make_private`), so a flooded reply decrypts correctly with certainty, and
//! they decide which linear schedules the plan may use.
use crate::he::{NoiseBound, Parameters};
use crate::linalg::{PreparedLayer, Schedule};

/// Noise of a linear stage's input ciphertexts when the server evaluates them: a fresh
/// encryption plus the server's share (a plaintext).
fn linear_input() -> NoiseBound {
    NoiseBound::fresh().add_plain()
}

/// Worst-case noise of a linear stage's outputs before flooding, for any weights: linalg's
/// walk of `schedule` on the input noise (a fresh encryption plus the server's share, a
/// plaintext) with every product at the largest plaintext norm,
/// the bias, and the mask (a plaintext). Weight-independent, so both parties' plans agree on
/// it.
pub fn linear_stage_any_weights(params: &Parameters, schedule: &Schedule) -> NoiseBound {
    schedule
        .worst_noise_from(linear_input(), params.max_level())
        .add_plain()
}

/// Worst-case noise of a linear stage's outputs before flooding for the server's weights
/// (at most [`linear_stage_any_weights`]): linalg's walk of the prepared layer on
/// the same input noise, then the mask.
pub fn linear_stage(params: &Parameters, layer: &PreparedLayer) -> NoiseBound {
    layer
        .noise_bound(linear_input(), params.max_level())
        .add_plain()
}

/// Worst-case noise of a square stage's outputs before flooding: `Enc(c)·2s` (a product by
/// any plaintext) plus `Enc(c²)` (fresh) plus the plaintext `s² + r`, with one more
/// plaintext rounding term of margin.
pub fn square_stage(params: &Parameters) -> NoiseBound {
    NoiseBound(
        NoiseBound::fresh().mul_any_plain(params).value() + NoiseBound::fresh().value() + 1.0,
    )
}
