//! Shoup butterflies with a double-precision quotient ([`super::Reduction::Fp52`]): u64 plans
//! with q < 2^50, for CPUs whose fastest multiplier is the FMA unit (AVX2 has no 64-bit integer
//! multiply: the integer Shoup product takes 10 `vpmuludq`, this one 1 multiply and 3 FMAs).
//!
//! For y < 2^52 and a twiddle w < q with constants `wf = w`, `wq = fl(w/q)` (doubles):
//! * `h = fl(y·w)`, `l = fma(y, w, −h)`: y·w = h + l exactly;
//! * `k = fma(y, wq, 2^52) − 2^52`: y·wq = Y·(1 + e), |e| ≤ 2^−53, with Y = y·w/q < 2^52, so
//!   |Y·e| < 1/2 and k (rounded to nearest in [2^52, 2^53), where ulp = 1) is ⌊Y⌋ or ⌊Y⌋ + 1;
//! * `r = fma(−k, q, h) + l` = y·w − k·q ∈ (−q, q), both steps exact: h is an integer (y·w
//!   is, and h = y·w below 2^53, l = 0), so h − k·q = r − l is an integer of magnitude below
//!   q + 2^48 < 2^53, which the one rounding of the FMA leaves exact, and so is the sum;
//! * the result r + q ∈ (0, 2q) leaves as an integer through `fl(r + (q + 2^52))` (exact:
//!   in [2^52, 2^53)) with the exponent bits of 2^52 cleared; y enters as
//!   `(y | bits(2^52)) − 2^52`, exact for y < 2^52.
//!
//! So the product has the 64-bit Shoup product's lazy range, [0, 2q) for y in [0, 4q), and
//! the plans' traversals are unchanged. [`mul_lazy`] is the scalar reference: the SIMD kernel
//! (avx2 with FMA) runs the same IEEE operations in the same order, so they agree bit for bit.
use crate::aligned::AlignedVec;

/// 2^52: adding it to a double in [0, 2^52) leaves the integer part in the mantissa bits.
pub(crate) const MAGIC: f64 = 4_503_599_627_370_496.0;

/// Widest prime (exclusive, in bits): lazy values in [0, 4q) must stay below 2^52.
pub const FP52_MAX_BITS: u32 = 50;

/// The double constants of a twiddle w < q: (bits of w as f64, bits of fl(w/q)).
pub(crate) fn constants(w: u64, q: u64) -> (u64, u64) {
    debug_assert!(w < q && q < 1 << FP52_MAX_BITS);
    ((w as f64).to_bits(), (w as f64 / q as f64).to_bits())
}

/// The double twiddle tables of a plan (bit patterns of f64 in u64 words, so the SIMD
/// kernels load them like the integer tables): forward and inverse twiddles in the order of
/// `Tables::tw`/`itw`, and n⁻¹ and ψ^−brv(1)·n⁻¹ for the last inverse stage.
#[derive(Debug, Clone)]
pub(crate) struct FpTwiddles {
    pub tw: AlignedVec<u64>,
    pub tw_q: AlignedVec<u64>,
    pub itw: AlignedVec<u64>,
    pub itw_q: AlignedVec<u64>,
    // Read by the x86 kernels only (the scalar reference scales with the integer constants).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub n_inv: (u64, u64),
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub itw1_n_inv: (u64, u64),
}

impl FpTwiddles {
    pub(crate) fn new(q: u64, tw: &[u64], itw: &[u64], n_inv: u64, itw1_n_inv: u64) -> Self {
        let split = |v: &[u64]| -> (AlignedVec<u64>, AlignedVec<u64>) {
            let w = v.iter().map(|&w| constants(w, q).0).collect();
            let wq = v.iter().map(|&w| constants(w, q).1).collect();
            (w, wq)
        };
        let (tw, tw_q) = split(tw);
        let (itw, itw_q) = split(itw);
        FpTwiddles {
            tw,
            tw_q,
            itw,
            itw_q,
            n_inv: constants(n_inv, q),
            itw1_n_inv: constants(itw1_n_inv, q),
        }
    }

    /// (twiddles, fl(w/q)) of the forward or inverse transform, as f64 bit patterns.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn twiddles(&self, fwd: bool) -> (&[u64], &[u64]) {
        if fwd {
            (&self.tw, &self.tw_q)
        } else {
            (&self.itw, &self.itw_q)
        }
    }
}

/// y·w mod q in [0, 2q) for y < 2^52, (w, wq) = [`constants`]`(w, q)` (module docs).
#[inline(always)]
pub(crate) fn mul_lazy(y: u64, (w, wq): (u64, u64), q: u64) -> u64 {
    debug_assert!(y < 1 << 52);
    let (w, wq, qf) = (f64::from_bits(w), f64::from_bits(wq), q as f64);
    let y = f64::from_bits(y | MAGIC.to_bits()) - MAGIC;
    let h = y * w;
    let l = y.mul_add(w, -h);
    let k = y.mul_add(wq, MAGIC) - MAGIC;
    let r = (-k).mul_add(qf, h) + l;
    (r + (qf + MAGIC)).to_bits() ^ MAGIC.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use crate::testing::TestRng;

    /// The reference against u128 arithmetic: random and extreme y, w for primes of 30–49
    /// bits; the result is congruent and in [0, 2q).
    #[test]
    fn mul_lazy_matches_u128() {
        let seed = TestRng::fresh_seed();
        println!("fp52 mul_lazy seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        for bits in [30, 40, 45, 49, 50] {
            let q = ntt_primes(bits, 2048, 1)[0];
            let edge_w = [0, 1, 2, q / 2, q - 2, q - 1];
            let edge_y = [0, 1, q - 1, q, 2 * q - 1, 4 * q - 1, (1 << 52) - 1];
            let check = |y: u64, w: u64| {
                let r = mul_lazy(y, constants(w, q), q);
                let want = ((y as u128 * w as u128) % q as u128) as u64;
                assert!(r < 2 * q && r % q == want, "q={q} y={y} w={w} r={r}");
            };
            for &w in &edge_w {
                for &y in &edge_y {
                    check(y, w);
                }
            }
            for _ in 0..20_000 {
                let (y, w) = (rng.below(1 << 52), rng.below(q));
                check(y, w);
                check(rng.below(4 * q), w);
            }
        }
    }
}
