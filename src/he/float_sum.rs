//! Sums of ct×pt products in double precision, for parameter sets whose data primes are all
//! below 2^50 (compact products): the left operands are converted to doubles once
//! ([`FloatCiphertext`]) and the accumulators ([`ProductSum`]) hold exact integers in doubles,
//! reduced every [`kernels::ntt::FLOAT_TERMS`] products. Each product then costs about half
//! the work of [`Ciphertext::mul_plain_acc`] (no conversions, no per-product reduction), and
//! the sums are the same bit for bit (both are the exact sum mod q).
use super::ciphertext::Ciphertext;
use super::encoding::{CompactLimb, PreparedPlaintext};
use super::error::{HeError, Result};
use super::params::{check_same, Parameters};
use super::poly::{Poly, Representation};
use kernels::ntt::FLOAT_TERMS;
use kernels::AlignedVec;
use std::sync::Arc;

/// Whether ciphertexts at `limbs` primes of `params` have double-precision products.
fn supported(params: &Parameters, limbs: usize) -> bool {
    limbs <= params.max_level() && params.plans[..limbs].iter().all(|p| p.has_compact())
}

/// A ciphertext's halves as doubles (exact), limb after limb: the left operand of
/// [`ProductSum::mul_plain_acc`].
pub struct FloatCiphertext {
    params: Arc<Parameters>,
    limbs: usize,
    halves: [AlignedVec<u64>; 2],
}

impl FloatCiphertext {
    /// `ct` in double form; None where a prime of `ct` has no compact products (q ≥ 2^50).
    pub fn new(ct: &Ciphertext) -> Option<FloatCiphertext> {
        let params = &ct.params;
        let limbs = ct.level();
        if !supported(params, limbs) {
            return None;
        }
        let n = params.n;
        let convert = |p: &Poly| {
            let mut out = AlignedVec::zeroed(n * limbs);
            for (k, (src, dst)) in p.limbs().zip(out.chunks_exact_mut(n)).enumerate() {
                params.plans[k].to_float(src, dst);
            }
            out
        };
        Some(FloatCiphertext {
            params: params.clone(),
            limbs,
            halves: [convert(&ct.c0), convert(&ct.c1)],
        })
    }
}

/// Σ ct_j ⊙ pt_j accumulated in double precision (see the module docs).
pub struct ProductSum {
    params: Arc<Parameters>,
    limbs: usize,
    acc: [AlignedVec<u64>; 2],
    /// Products since the last reduction.
    pending: usize,
}

impl ProductSum {
    /// Whether sums at `limbs` primes of `params` can be taken in double precision (every
    /// prime below 2^50).
    pub fn available(params: &Parameters, limbs: usize) -> bool {
        supported(params, limbs)
    }

    /// An empty sum at `limbs` primes; None where a prime has no compact products.
    pub fn new(params: &Arc<Parameters>, limbs: usize) -> Option<ProductSum> {
        supported(params, limbs).then(|| ProductSum {
            params: params.clone(),
            limbs,
            acc: [0, 1].map(|_| AlignedVec::zeroed(params.n * limbs)),
            pending: 0,
        })
    }

    /// sum += ct ⊙ pt; pt compact (as [`PreparedPlaintext::new`] makes it on such sets).
    pub fn mul_plain_acc(&mut self, ct: &FloatCiphertext, pt: &PreparedPlaintext) -> Result<()> {
        check_same(&self.params, &ct.params)?;
        check_same(&self.params, &pt.params)?;
        if ct.limbs != self.limbs {
            return Err(HeError::ParameterMismatch {
                expected: format!("level {}", self.limbs),
                found: format!("level {}", ct.limbs),
            });
        }
        if !pt.is_compact() {
            return Err(HeError::ParameterMismatch {
                expected: "a compact prepared plaintext".into(),
                found: "one with Shoup constants".into(),
            });
        }
        self.pending += 1;
        let reduce = self.pending == FLOAT_TERMS;
        if reduce {
            self.pending = 0;
        }
        let n = self.params.n;
        let [acc0, acc1] = &mut self.acc;
        let params = &self.params;
        pt.with_ntt(self.limbs, |form| {
            let chunks = acc0.chunks_exact_mut(n).zip(acc1.chunks_exact_mut(n)).zip(
                ct.halves[0]
                    .chunks_exact(n)
                    .zip(ct.halves[1].chunks_exact(n)),
            );
            for (k, ((o0, o1), (a0, a1))) in chunks.enumerate() {
                let plan = &params.plans[k];
                match form.compact_limb(k).expect("checked compact above") {
                    CompactLimb::Words(b) => {
                        plan.mul_compact_pair_float([o0, o1], [a0, a1], b, reduce)
                    }
                    CompactLimb::Packed(b) => {
                        plan.mul_compact_pair_float_packed([o0, o1], [a0, a1], b, reduce)
                    }
                }
            }
        });
        Ok(())
    }

    /// The sum as a ciphertext (values reduced to [0, q)).
    pub fn finish(&self) -> Ciphertext {
        let params = &self.params;
        let n = params.n;
        let half = |acc: &AlignedVec<u64>| {
            let mut p = Poly::zero(params, self.limbs, Representation::Ntt);
            for (k, (src, dst)) in acc.chunks_exact(n).zip(p.limbs_mut()).enumerate() {
                params.plans[k].from_float(src, dst);
            }
            p
        };
        Ciphertext::from_halves(params, half(&self.acc[0]), half(&self.acc[1]))
    }
}
