//! Compact pointwise products for primes q < 2^50: `a ⊙ b mod q` from the values alone, with
//! no precomputed Shoup constants, so a fixed multiplicand (a prepared plaintext) takes half
//! the memory of a Shoup-prepared one and half the bandwidth to stream.
//!
//! For a, b in [0, q) the quotient `k = round(a·b/q)` is estimated in double precision and the
//! remainder `r = a·b − k·q` computed exactly:
//! * scalar: `c = fl(fl(a·b)·fl(1/q))` is within 3·2^−53·a·b/q < 3·2^−3 of a·b/q (three
//!   roundings, relative 2^−53 each, on a value below q < 2^50), so |k − a·b/q| < 7/8 and
//!   r ∈ (−q, q); r is computed in wrapping u64 arithmetic (exact, as the true value is
//!   small) and one conditional add of q gives [0, q).
//! * avx2 with FMA (also taken by the avx512 backend): the same in double lanes with the error-free product
//!   `h = fl(a·b)`, `l = fma(a, b, −h)` (a·b = h + l exactly): `r = fma(−k, q, h) + l`, each
//!   step exact because its true result is an integer below 2^53; the u64 ↔ f64 conversions
//!   are exact below 2^52.
//!
//! Every SIMD kernel is checked against the scalar one bit for bit (tests below and
//! `kernels::testing`).
use super::SumBase;
use crate::backend::Backend;

/// Largest prime width (exclusive, in bits) for compact products.
pub const COMPACT_MAX_BITS: u32 = 50;

/// The constants of one prime.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Consts {
    pub q: u64,
    pub qf: f64,
    /// fl(1/q).
    pub qinv: f64,
}

impl Consts {
    pub(crate) fn new(q: u64) -> Option<Consts> {
        (q > 1 && q < 1 << COMPACT_MAX_BITS).then(|| Consts {
            q,
            qf: q as f64,
            qinv: 1.0 / q as f64,
        })
    }
}

/// (consts, outs, as, b, accumulate): out_i (+)= a_i ⊙ b mod q.
pub(crate) type PairFn = unsafe fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u64], bool);
/// (consts, out, base, terms [a, b]): out = base + Σ a ⊙ b mod q.
pub(crate) type SumFn = unsafe fn(&Consts, &mut [u64], SumBase<'_, u64>, &[[&[u64]; 2]]);

/// The SIMD kernels of one backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernels {
    pub pair: PairFn,
    pub sum: SumFn,
}

/// a·b mod q for a, b in [0, q) (see the module docs for the bound).
#[inline(always)]
pub(crate) fn mul_mod(c: &Consts, a: u64, b: u64) -> u64 {
    // c ≥ 0 and c + 1/2 is exact (c < 2^50 has ulp ≤ 2^−3): truncation rounds to nearest.
    let k = ((a as f64) * (b as f64) * c.qinv + 0.5) as u64;
    let r = a.wrapping_mul(b).wrapping_sub(k.wrapping_mul(c.q)) as i64;
    (r + ((r >> 63) & c.q as i64)) as u64
}

/// x + y mod q for x, y in [0, q).
#[inline(always)]
fn add_mod(q: u64, x: u64, y: u64) -> u64 {
    let s = x + y;
    if s >= q {
        s - q
    } else {
        s
    }
}

/// The scalar kernel (reference for the SIMD ones).
pub(crate) fn pair_scalar(c: &Consts, out: [&mut [u64]; 2], a: [&[u64]; 2], b: &[u64], acc: bool) {
    for (o, a) in out.into_iter().zip(a) {
        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
            let p = mul_mod(c, x, y);
            *o = if acc { add_mod(c.q, *o, p) } else { p };
        }
    }
}

/// The scalar sum kernel (reference for the SIMD ones); n = out's length.
pub(crate) fn sum_scalar(
    c: &Consts,
    out: &mut [u64],
    base: SumBase<'_, u64>,
    terms: &[[&[u64]; 2]],
) {
    for (j, o) in out.iter_mut().enumerate() {
        let mut s = match base {
            SumBase::Acc => *o,
            SumBase::From(b) => b[j],
            SumBase::Zero => 0,
        };
        for [a, b] in terms {
            s = add_mod(c.q, s, mul_mod(c, a[j], b[j]));
        }
        *o = s;
    }
}

/// The fastest kernels `backend` has (None: scalar).
pub(crate) fn select(backend: Backend) -> Option<Kernels> {
    match backend {
        // AVX-512 CPUs have AVX2 and FMA. An 8-lane kernel is left for a session with such a
        // machine to check it against scalar on.
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => crate::isa::Avx2Fma::try_new().map(x86::avx2_kernels),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{add_mod, mul_mod, Consts, Kernels, SumBase};
    use crate::isa::Avx2Fma;
    use std::arch::x86_64::*;

    /// 2^52 as f64 and as its bit pattern: `bits(x | MAGIC) − 2^52` is x for x < 2^52.
    const MAGIC: u64 = 0x4330_0000_0000_0000;

    pub(super) fn avx2_kernels(_: Avx2Fma) -> Kernels {
        Kernels {
            pair: pair_avx2,
            sum: sum_avx2,
        }
    }

    /// Terms summed in double precision between two reductions: each product's remainder is
    /// below q < 2^50 in magnitude and the partial sum starts below q, so it stays below
    /// 8q < 2^53 (exact).
    const TERMS_PER_REDUCTION: usize = 7;

    /// s − round(s/q)·q for an integer |s| < 2^53: exact, in [−q/2 − 1, q/2 + 1].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce_f64(s: __m256d, q: __m256d, qinv: __m256d) -> __m256d {
        let k = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_pd(s, qinv),
        );
        _mm256_fnmadd_pd(k, q, s)
    }

    /// out = base + Σ a·b mod q, every operand in [0, q): the remainders a·b − round(a·b/q)·q
    /// (in (−q, q), exact as in `pair_avx2`) are summed in double precision, reduced every
    /// [`TERMS_PER_REDUCTION`] terms and once at the end to [0, q).
    ///
    /// # Safety
    /// The CPU has avx2 and fma (an [`Avx2Fma`] token was taken to reach it).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sum_avx2(c: &Consts, out: &mut [u64], base: SumBase<'_, u64>, terms: &[[&[u64]; 2]]) {
        let n = out.len();
        // Every operand checked once here, so the loop loads without per-load checks.
        assert!(terms.iter().all(|[a, b]| a.len() == n && b.len() == n));
        if let SumBase::From(b) = base {
            assert_eq!(b.len(), n);
        }
        let magic_i = _mm256_set1_epi64x(MAGIC as i64);
        let magic = _mm256_castsi256_pd(magic_i);
        let q = _mm256_set1_pd(c.qf);
        let qinv = _mm256_set1_pd(c.qinv);
        let zero = _mm256_setzero_pd();
        let ptrs: Vec<[*const u64; 2]> = terms
            .iter()
            .map(|[a, b]| [a.as_ptr(), b.as_ptr()])
            .collect();
        let body = n - n % 4;
        for j in (0..body).step_by(4) {
            // SAFETY: j + 4 ≤ n and every operand holds n u64 (asserted above); unaligned.
            unsafe {
                let dst = out.as_mut_ptr().add(j).cast::<__m256i>();
                let mut s = match base {
                    SumBase::Acc => to_f64(_mm256_loadu_si256(dst), magic_i, magic),
                    SumBase::From(b) => {
                        to_f64(_mm256_loadu_si256(b.as_ptr().add(j).cast()), magic_i, magic)
                    }
                    SumBase::Zero => zero,
                };
                for chunk in ptrs.chunks(TERMS_PER_REDUCTION) {
                    for &[a, b] in chunk {
                        let af = to_f64(_mm256_loadu_si256(a.add(j).cast()), magic_i, magic);
                        let bf = to_f64(_mm256_loadu_si256(b.add(j).cast()), magic_i, magic);
                        let h = _mm256_mul_pd(af, bf);
                        let l = _mm256_fmsub_pd(af, bf, h);
                        let k = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                            _mm256_mul_pd(h, qinv),
                        );
                        s = _mm256_add_pd(s, _mm256_add_pd(_mm256_fnmadd_pd(k, q, h), l));
                    }
                    s = reduce_f64(s, q, qinv);
                }
                // s in (−q, q) (also with no terms: then it is the base, in [0, q)).
                s = _mm256_add_pd(s, _mm256_and_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(s, zero), q));
                _mm256_storeu_si256(
                    dst,
                    _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(s, magic)), magic_i),
                );
            }
        }
        for j in body..n {
            let mut s = match base {
                SumBase::Acc => out[j],
                SumBase::From(b) => b[j],
                SumBase::Zero => 0,
            };
            for [a, b] in terms {
                s = add_mod(c.q, s, mul_mod(c, a[j], b[j]));
            }
            out[j] = s;
        }
    }

    /// x (< 2^52 per lane) as f64, exactly.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn to_f64(x: __m256i, magic_i: __m256i, magic: __m256d) -> __m256d {
        _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(x, magic_i)), magic)
    }

    /// # Safety
    /// The CPU has avx2 and fma (an [`Avx2Fma`] token was taken to reach it).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pair_avx2(c: &Consts, out: [&mut [u64]; 2], a: [&[u64]; 2], b: &[u64], acc: bool) {
        let magic_i = _mm256_set1_epi64x(MAGIC as i64);
        let magic = _mm256_castsi256_pd(magic_i);
        let q = _mm256_set1_pd(c.qf);
        let qinv = _mm256_set1_pd(c.qinv);
        let qi = _mm256_set1_epi64x(c.q as i64);
        let qm1 = _mm256_set1_epi64x(c.q as i64 - 1);
        let zero = _mm256_setzero_pd();
        for (o, a) in out.into_iter().zip(a) {
            let len = o.len().min(a.len()).min(b.len());
            let body = len - len % 4;
            for i in (0..body).step_by(4) {
                // SAFETY: i + 4 ≤ len ≤ each slice's length; unaligned loads and stores.
                unsafe {
                    let af = to_f64(_mm256_loadu_si256(a.as_ptr().add(i).cast()), magic_i, magic);
                    let bf = to_f64(_mm256_loadu_si256(b.as_ptr().add(i).cast()), magic_i, magic);
                    let h = _mm256_mul_pd(af, bf);
                    let l = _mm256_fmsub_pd(af, bf, h);
                    let k = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                        _mm256_mul_pd(h, qinv),
                    );
                    let mut r = _mm256_add_pd(_mm256_fnmadd_pd(k, q, h), l);
                    r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(r, zero), q));
                    let mut p =
                        _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(r, magic)), magic_i);
                    let dst = o.as_mut_ptr().add(i).cast::<__m256i>();
                    if acc {
                        // Values < 2^50: signed compares are unsigned ones.
                        let s = _mm256_add_epi64(_mm256_loadu_si256(dst), p);
                        p = _mm256_sub_epi64(s, _mm256_and_si256(_mm256_cmpgt_epi64(s, qm1), qi));
                    }
                    _mm256_storeu_si256(dst, p);
                }
            }
            for i in body..len {
                let p = mul_mod(c, a[i], b[i]);
                o[i] = if acc { add_mod(c.q, o[i], p) } else { p };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRng;

    fn reference(a: u64, b: u64, q: u64) -> u64 {
        (a as u128 * b as u128 % q as u128) as u64
    }

    #[test]
    fn scalar_matches_u128_at_the_edges_and_at_random() {
        let primes = crate::prime::ntt_primes(49, 1 << 14, 2)
            .into_iter()
            .chain(crate::prime::ntt_primes(50, 1 << 14, 2))
            .chain(crate::prime::ntt_primes(30, 1 << 14, 1))
            .chain([3, 65537]);
        let mut rng = TestRng::new(9);
        for q in primes {
            let c = Consts::new(q).unwrap();
            let edges = [0, 1, 2, q / 2, q / 2 + 1, q - 2, q - 1];
            for &a in &edges {
                for &b in &edges {
                    assert_eq!(mul_mod(&c, a, b), reference(a, b, q), "q={q} a={a} b={b}");
                }
            }
            for _ in 0..20_000 {
                let (a, b) = (rng.below(q), rng.below(q));
                assert_eq!(mul_mod(&c, a, b), reference(a, b, q), "q={q} a={a} b={b}");
            }
        }
        assert!(Consts::new(1 << 50).is_none());
    }

    /// The sum kernels against u128 arithmetic (scalar) and against scalar (every backend):
    /// 0 to 15 terms (across the 7-term reductions), every base, all-maximal operands.
    #[test]
    fn sum_every_backend_matches_scalar() {
        let seed = TestRng::fresh_seed();
        println!("compact sum seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        for q in crate::prime::ntt_primes(50, 1 << 14, 1)
            .into_iter()
            .chain(crate::prime::ntt_primes(40, 1 << 14, 1))
        {
            let c = Consts::new(q).unwrap();
            for len in [0usize, 3, 8, 4096 + 5] {
                for count in [0usize, 1, 3, 7, 8, 15] {
                    let max = count == 8;
                    let vals = |rng: &mut TestRng| {
                        if max {
                            vec![q - 1; len]
                        } else {
                            rng.vec_below(len, q)
                        }
                    };
                    let ops: Vec<[Vec<u64>; 2]> = (0..count)
                        .map(|_| [vals(&mut rng), vals(&mut rng)])
                        .collect();
                    let terms: Vec<[&[u64]; 2]> =
                        ops.iter().map(|[a, b]| [&a[..], &b[..]]).collect();
                    let from = vals(&mut rng);
                    let init = vals(&mut rng);
                    for base in [SumBase::Acc, SumBase::From(&from), SumBase::Zero] {
                        let mut want = init.clone();
                        sum_scalar(&c, &mut want, base, &terms);
                        for (j, &w) in want.iter().enumerate() {
                            let mut s: u128 = match base {
                                SumBase::Acc => init[j] as u128,
                                SumBase::From(b) => b[j] as u128,
                                SumBase::Zero => 0,
                            };
                            for [a, b] in &terms {
                                s += a[j] as u128 * b[j] as u128;
                            }
                            assert_eq!(w as u128, s % q as u128, "scalar q={q} j={j}");
                        }
                        for backend in Backend::available() {
                            let Some(k) = select(backend) else { continue };
                            let mut got = init.clone();
                            // SAFETY: `select` returned the kernels of an available backend,
                            // whose token it took.
                            unsafe { (k.sum)(&c, &mut got, base, &terms) };
                            assert_eq!(got, want, "{backend} q={q} len={len} terms={count}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_backend_matches_scalar() {
        let mut rng = TestRng::new(10);
        for q in crate::prime::ntt_primes(50, 1 << 14, 1)
            .into_iter()
            .chain(crate::prime::ntt_primes(40, 1 << 14, 1))
        {
            let c = Consts::new(q).unwrap();
            for len in [0usize, 1, 7, 8, 9, 4096 + 5] {
                let a0 = rng.vec_below(len, q);
                let a1 = rng.vec_below(len, q);
                let mut b = rng.vec_below(len, q);
                if len > 2 {
                    (b[0], b[1]) = (q - 1, 0);
                }
                let acc0 = rng.vec_below(len, q);
                for backend in Backend::available() {
                    let Some(k) = select(backend) else { continue };
                    for acc in [false, true] {
                        let (mut e0, mut e1) = (acc0.clone(), acc0.clone());
                        pair_scalar(&c, [&mut e0, &mut e1], [&a0, &a1], &b, acc);
                        let (mut g0, mut g1) = (acc0.clone(), acc0.clone());
                        // SAFETY: `select` returned the kernel for an available backend, whose
                        // token it took.
                        unsafe { (k.pair)(&c, [&mut g0, &mut g1], [&a0, &a1], &b, acc) };
                        assert_eq!(
                            (&g0, &g1),
                            (&e0, &e1),
                            "{backend} q={q} len={len} acc={acc}"
                        );
                    }
                }
            }
        }
    }
}
