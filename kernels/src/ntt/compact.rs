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
//! * avx512 with IFMA (`pair`, packed or not; not the double-precision accumulations): the
//!   52-bit integer multiplier with a Shoup constant of b estimated in double precision, at
//!   most 4 below ⌊b·2^52/q⌋; the remainder lands in [0, 2.25q) and two conditional
//!   subtractions finish it (`x86::Ifma`).
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
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    /// fl(2^52/q) lowered by two ulps: for b in [0, q), `trunc(fl(b·shoup_scale))` is in
    /// [⌊b·2^52/q⌋ − 4, ⌊b·2^52/q⌋] (the IFMA kernels' Shoup constant, see `x86::shoup8`).
    pub shoup_scale: f64,
}

impl Consts {
    pub(crate) fn new(q: u64) -> Option<Consts> {
        (q > 1 && q < 1 << COMPACT_MAX_BITS).then(|| Consts {
            q,
            qf: q as f64,
            qinv: 1.0 / q as f64,
            shoup_scale: f64::from_bits(((1u64 << 52) as f64 / q as f64).to_bits() - 2),
        })
    }
}

/// (consts, outs, as, b, accumulate): out_i (+)= a_i ⊙ b mod q.
pub(crate) type PairFn = unsafe fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u64], bool);
/// (consts, out, base, terms [a, b]): out = base + Σ a ⊙ b mod q.
pub(crate) type SumFn = unsafe fn(&Consts, &mut [u64], SumBase<'_, u64>, &[[&[u64]; 2]]);

/// (consts, accs, as, b, reduce): acc_i += a_i ⊙ b in double precision (see [`pair_float_scalar`]).
pub(crate) type FloatPairFn = unsafe fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u64], bool);

/// [`FloatPairFn`] with b packed ([`pack`]).
pub(crate) type FloatPairPackedFn = unsafe fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u8], bool);

/// The scalar `pair` and `pair_float` kernels' type.
pub(crate) type ScalarPairFn = fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u64], bool);

/// [`PairFn`] with b packed ([`pack`]).
pub(crate) type PairPackedFn = unsafe fn(&Consts, [&mut [u64]; 2], [&[u64]; 2], &[u8], bool);

/// The SIMD kernels of one backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernels {
    pub pair: PairFn,
    pub sum: SumFn,
    pub pair_float: FloatPairFn,
    /// Where the backend reads packed multiplicands with vector permutes (AVX-512BW).
    pub pair_float_packed: Option<FloatPairPackedFn>,
    /// `pair` with b packed, where `pair_float_packed` is.
    pub pair_packed: Option<PairPackedFn>,
}

/// Bits per packed value: every value of a compact prime is below 2^50.
pub const PACKED_BITS: usize = COMPACT_MAX_BITS as usize;

/// Zero bytes after the packed values: a kernel loads 64 bytes for each 8 values (50 bytes),
/// the last group reading 14 bytes past them.
pub const PACKED_PAD: usize = 16;

/// Bytes of `n` packed values, padding included.
pub const fn packed_bytes(n: usize) -> usize {
    (n * PACKED_BITS).div_ceil(8) + PACKED_PAD
}

/// Packs values below 2^50 into `dst` ([`packed_bytes`]`(src.len())` bytes): value i at bits
/// `50i .. 50i + 50`, little-endian; the padding is zero. Panics on a value ≥ 2^50 or a wrong
/// length.
pub fn pack(src: &[u64], dst: &mut [u8]) {
    assert!(
        dst.len() == packed_bytes(src.len()),
        "pack: {} values need {} bytes",
        src.len(),
        packed_bytes(src.len())
    );
    // A bit buffer: values go in at the top, whole 64-bit words come out at the bottom.
    let (mut buf, mut bits, mut at) = (0u128, 0usize, 0usize);
    for &x in src {
        assert!(
            x < 1 << PACKED_BITS,
            "pack: value {x} has more than 50 bits"
        );
        buf |= (x as u128) << bits;
        bits += PACKED_BITS;
        if bits >= 64 {
            dst[at..at + 8].copy_from_slice(&(buf as u64).to_le_bytes());
            (buf, bits, at) = (buf >> 64, bits - 64, at + 8);
        }
    }
    let rest = &mut dst[at..];
    let k = bits.div_ceil(8);
    rest[..k].copy_from_slice(&buf.to_le_bytes()[..k]);
    rest[k..].fill(0);
}

/// Value `i` of a packed array.
#[inline(always)]
pub fn unpack_one(src: &[u8], i: usize) -> u64 {
    let (byte, shift) = (PACKED_BITS * i / 8, PACKED_BITS * i % 8);
    let w = u64::from_le_bytes(src[byte..byte + 8].try_into().expect("8 bytes"));
    (w >> shift) & ((1 << PACKED_BITS) - 1)
}

/// `kernel(c, out, a, b_chunk, flag)` ([`pair_scalar`] or [`pair_float_scalar`]) over `out`'s
/// length in chunks of 64, with b packed and each chunk unpacked into a stack buffer: the
/// scalar references of the packed kernels.
pub(crate) fn packed_scalar(
    kernel: ScalarPairFn,
    c: &Consts,
    out: [&mut [u64]; 2],
    a: [&[u64]; 2],
    b: &[u8],
    flag: bool,
) {
    const CHUNK: usize = 64;
    let [o0, o1] = out;
    let mut buf = [0u64; CHUNK];
    for start in (0..o0.len()).step_by(CHUNK) {
        let m = CHUNK.min(o0.len() - start);
        for (k, v) in buf[..m].iter_mut().enumerate() {
            *v = unpack_one(b, start + k);
        }
        let r = start..start + m;
        kernel(
            c,
            [&mut o0[r.clone()], &mut o1[r.clone()]],
            [&a[0][r.clone()], &a[1][r]],
            &buf[..m],
            flag,
        );
    }
}

/// Products a double-precision accumulator takes between two reductions: it starts at most
/// q/2 + 1 in magnitude and each product adds less than q < 2^50, so it stays below 2^53.
pub const FLOAT_TERMS: usize = 7;

/// 2^52 as f64: `bits(x | bits(2^52)) − 2^52` is x for an integer x < 2^52.
const MAGIC_F: f64 = 4_503_599_627_370_496.0;

/// Values in [0, q) as doubles (exact), as f64 bit patterns in u64 words.
pub(crate) fn to_float(src: &[u64], dst: &mut [u64]) {
    for (d, &x) in dst.iter_mut().zip(src) {
        debug_assert!(x < 1 << 52);
        *d = (f64::from_bits(x | MAGIC_F.to_bits()) - MAGIC_F).to_bits();
    }
}

/// acc_i += a_i·b − round(a_i·b/q)·q for i = 0, 1: accumulators and a_i are doubles (f64 bits;
/// a_i exact values in [0, q)), b values in [0, q); each remainder is exact and in (−q, q)
/// (the products of `pair_avx2`); `reduce`: then acc_i −= round(acc_i/q)·q (exact, to at most
/// q/2 + 1 in magnitude). The reference for the SIMD kernels, bit for bit (the same IEEE
/// operations in the same order).
pub(crate) fn pair_float_scalar(
    c: &Consts,
    acc: [&mut [u64]; 2],
    a: [&[u64]; 2],
    b: &[u64],
    reduce: bool,
) {
    for (o, a) in acc.into_iter().zip(a) {
        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
            let (x, y) = (f64::from_bits(x), y as f64);
            let h = x * y;
            let l = x.mul_add(y, -h);
            let k = (h * c.qinv).round_ties_even();
            let mut s = f64::from_bits(*o) + ((-k).mul_add(c.qf, h) + l);
            if reduce {
                s = (-(s * c.qinv).round_ties_even()).mul_add(c.qf, s);
            }
            *o = s.to_bits();
        }
    }
}

/// out = acc mod q in [0, q) for double accumulators (f64 bits of integers below 2^53 in
/// magnitude).
///
/// Compiled per instruction set (`multiversion`): the baseline x86-64 build has no rounding
/// or FMA instruction and calls libm's `rint` and `fma` for every element.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
pub(crate) fn from_float(c: &Consts, acc: &[u64], out: &mut [u64]) {
    for (o, &s) in out.iter_mut().zip(acc) {
        let s = f64::from_bits(s);
        let r = (-(s * c.qinv).round_ties_even()).mul_add(c.qf, s);
        let r = if r < 0.0 { r + c.qf } else { r };
        *o = r as u64;
    }
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
    sum_scalar_from(c, out, base, terms, 0);
}

/// [`sum_scalar`] on coefficients `from..` only (the SIMD kernels' tails).
fn sum_scalar_from(
    c: &Consts,
    out: &mut [u64],
    base: SumBase<'_, u64>,
    terms: &[[&[u64]; 2]],
    from: usize,
) {
    for j in from..out.len() {
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

/// The fastest kernels `backend` has (None: scalar).
pub(crate) fn select(backend: Backend) -> Option<Kernels> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 => crate::isa::Avx2Fma::try_new().map(x86::avx2_kernels),
        // AVX-512 CPUs have AVX2 and FMA (the 4-lane `pair`, off the hot path, stays).
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => match (
            crate::isa::Avx512::try_new(),
            crate::isa::Avx2Fma::try_new(),
        ) {
            (Some(v4), Some(v3)) => Some(x86::avx512_kernels(
                v4,
                v3,
                crate::isa::Avx512Bw::try_new(),
                crate::isa::Avx512Ifma::try_new(),
            )),
            (None, v3) => v3.map(x86::avx2_kernels),
            (Some(_), None) => None,
        },
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{add_mod, mul_mod, Consts, Kernels, SumBase};
    use crate::isa::{Avx2Fma, Avx512, Avx512Bw, Avx512Ifma};
    use std::arch::x86_64::*;

    /// 2^52 as f64 and as its bit pattern: `bits(x | MAGIC) − 2^52` is x for x < 2^52.
    const MAGIC: u64 = 0x4330_0000_0000_0000;

    pub(super) fn avx2_kernels(_: Avx2Fma) -> Kernels {
        Kernels {
            pair: pair_avx2,
            sum: sum_avx2,
            pair_float: pair_float_avx2,
            pair_float_packed: None,
            pair_packed: None,
        }
    }

    /// The 8-lane `sum`, `pair_float` and `pair` (the tokens prove AVX-512F/DQ and AVX2 with
    /// FMA); packed multiplicands where `bw` proves AVX-512BW; the integer `pair`s with the
    /// 52-bit multiplier where `ifma` proves IFMA.
    pub(super) fn avx512_kernels(
        _: Avx512,
        _: Avx2Fma,
        bw: Option<Avx512Bw>,
        ifma: Option<Avx512Ifma>,
    ) -> Kernels {
        Kernels {
            pair: match ifma {
                Some(_) => pair_words_ifma::<Ifma>,
                None => pair_words::<Exact>,
            },
            sum: sum_avx512,
            pair_float: pair_words::<Float>,
            pair_float_packed: bw.map(|_| pair_packed::<Float> as super::FloatPairPackedFn),
            pair_packed: bw.map(|_| match ifma {
                Some(_) => pair_packed_ifma::<Ifma> as super::PairPackedFn,
                None => pair_packed::<Exact>,
            }),
        }
    }

    /// The Shoup constants `b' = trunc(fl(b·fl(2^52/q)↓))` of 8 values b < q given as doubles
    /// `bf`: each within 4 below ⌊b·2^52/q⌋ and never above it (`Consts::shoup_scale`: the
    /// product's rounding error is below t·2^−50 < 4 for t = b·2^52/q < 2^52, and the lowered
    /// scale keeps it below t).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn shoup8(bf: __m512d, scale: __m512d) -> __m512i {
        _mm512_cvttpd_epu64(_mm512_mul_pd(bf, scale))
    }

    /// [`unpack8`]'s constants: the word permutation, the shifts and the 50-bit mask.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn unpack_consts() -> (__m512i, __m512i, __m512i) {
        let words: [i16; 32] = core::array::from_fn(|i| ((50 * (i / 4)) / 16 + i % 4) as i16);
        // SAFETY: `words` holds 64 bytes.
        let idx = unsafe { _mm512_loadu_si512(words.as_ptr().cast()) };
        let shifts = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        (
            idx,
            shifts,
            _mm512_set1_epi64((1 << super::PACKED_BITS) - 1),
        )
    }

    /// Eight packed values (group `g`: bytes `50g ..`) as u64 lanes: word permute (lane l
    /// takes the 4 16-bit words from `⌊50l/16⌋`), shift right by `50l mod 16`, mask.
    ///
    /// # Safety
    /// AVX-512F and BW; `p` readable for 64 bytes.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn unpack8(p: *const u8, idx: __m512i, shifts: __m512i, mask: __m512i) -> __m512i {
        // SAFETY: the caller passes 64 readable bytes.
        let raw = unsafe { _mm512_loadu_si512(p.cast()) };
        _mm512_and_si512(
            _mm512_srlv_epi64(_mm512_permutexvar_epi16(idx, raw), shifts),
            mask,
        )
    }

    /// Rounds to the nearest integer, ties to even (8 lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn round_near8(x: __m512d) -> __m512d {
        _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }

    /// x (< 2^52 per lane) as f64, exactly (8 lanes).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn to_f64_8(x: __m512i, magic_i: __m512i, magic: __m512d) -> __m512d {
        _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(x, magic_i)), magic)
    }

    /// One 8-lane step of a pair kernel with its per-call constants: `out_h[i..i + 8]` for both
    /// halves h from `a_h[i..i + 8]` and b's 8 values, as `SCALAR` computes each lane.
    trait Step8 {
        /// The scalar kernel the step reproduces (the drivers' tails).
        const SCALAR: super::ScalarPairFn;
        /// The constants of prime `c`; `flag`: the kernel's accumulate (or reduce) flag.
        ///
        /// # Safety
        /// The CPU has the implementation's target features.
        unsafe fn new(c: &Consts, flag: bool) -> Self;
        /// The step at `i` with b's values `b` (each below q).
        ///
        /// # Safety
        /// The CPU has the implementation's target features; `out` and `a` hold at least
        /// `i + 8` values each.
        unsafe fn step(&self, out: [*mut u64; 2], a: [&[u64]; 2], i: usize, b: __m512i);
    }

    /// [`MAGIC`] broadcast, as integers and as doubles (for [`to_f64_8`]).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn magic8() -> (__m512i, __m512d) {
        let magic_i = _mm512_set1_epi64(MAGIC as i64);
        (magic_i, _mm512_castsi512_pd(magic_i))
    }

    /// `a·b − round(a·b/q)·q` ∈ (−q, q) of 8 lanes, exactly (the module docs: the error-free
    /// product `h + l`, the quotient from `h`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn remainder8(af: __m512d, bf: __m512d, (q, qinv): (__m512d, __m512d)) -> __m512d {
        let h = _mm512_mul_pd(af, bf);
        let l = _mm512_fmsub_pd(af, bf, h);
        let k = round_near8(_mm512_mul_pd(h, qinv));
        _mm512_add_pd(_mm512_fnmadd_pd(k, q, h), l)
    }

    /// [`super::pair_scalar`]: the module docs' exact remainder from the double-precision
    /// quotient, then one conditional add of q (accumulated with one conditional subtraction).
    struct Exact {
        magic: (__m512i, __m512d),
        q: (__m512d, __m512d),
        qi: (__m512i, __m512i),
        acc: bool,
    }

    impl Step8 for Exact {
        const SCALAR: super::ScalarPairFn = super::pair_scalar;

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn new(c: &Consts, acc: bool) -> Exact {
            Exact {
                magic: magic8(),
                q: (_mm512_set1_pd(c.qf), _mm512_set1_pd(c.qinv)),
                qi: (
                    _mm512_set1_epi64(c.q as i64),
                    _mm512_set1_epi64(c.q as i64 - 1),
                ),
                acc,
            }
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn step(&self, out: [*mut u64; 2], a: [&[u64]; 2], i: usize, b: __m512i) {
            let ((magic_i, magic), (q, qinv), (qi, qm1)) = (self.magic, self.q, self.qi);
            let bf = to_f64_8(b, magic_i, magic);
            for (o, a) in out.into_iter().zip(a) {
                // SAFETY: i + 8 ≤ each slice's length (the caller's contract); unaligned access.
                unsafe {
                    let af = to_f64_8(_mm512_loadu_si512(a.as_ptr().add(i).cast()), magic_i, magic);
                    let r = remainder8(af, bf, (q, qinv));
                    let neg = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(r, _mm512_setzero_pd());
                    let r = _mm512_mask_add_pd(r, neg, r, q);
                    let mut p =
                        _mm512_xor_si512(_mm512_castpd_si512(_mm512_add_pd(r, magic)), magic_i);
                    let dst = o.add(i).cast::<__m512i>();
                    if self.acc {
                        let s = _mm512_add_epi64(_mm512_loadu_si512(dst.cast()), p);
                        p = _mm512_mask_sub_epi64(s, _mm512_cmpgt_epu64_mask(s, qm1), s, qi);
                    }
                    _mm512_storeu_si512(dst.cast(), p);
                }
            }
        }
    }

    /// [`super::pair_float_scalar`] (the same IEEE operations per lane): `acc_h += a_h ⊙ b` as
    /// an exact remainder in double precision, then reduced if `reduce`.
    struct Float {
        magic: (__m512i, __m512d),
        q: (__m512d, __m512d),
        reduce: bool,
    }

    impl Step8 for Float {
        const SCALAR: super::ScalarPairFn = super::pair_float_scalar;

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn new(c: &Consts, reduce: bool) -> Float {
            Float {
                magic: magic8(),
                q: (_mm512_set1_pd(c.qf), _mm512_set1_pd(c.qinv)),
                reduce,
            }
        }

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn step(&self, acc: [*mut u64; 2], a: [&[u64]; 2], i: usize, b: __m512i) {
            let ((magic_i, magic), (q, qinv)) = (self.magic, self.q);
            let bf = to_f64_8(b, magic_i, magic);
            for (o, a) in acc.into_iter().zip(a) {
                // SAFETY: i + 8 ≤ each slice's length (the caller's contract); unaligned access.
                unsafe {
                    let af = _mm512_loadu_pd(a.as_ptr().add(i).cast());
                    let r = remainder8(af, bf, (q, qinv));
                    let dst = o.add(i).cast::<f64>();
                    let mut s = _mm512_add_pd(_mm512_loadu_pd(dst), r);
                    if self.reduce {
                        s = _mm512_fnmadd_pd(round_near8(_mm512_mul_pd(s, qinv)), q, s);
                    }
                    _mm512_storeu_pd(dst, s);
                }
            }
        }
    }

    /// [`super::pair_scalar`] with the 52-bit integer multiplier: `Q = ⌊a·b'/2^52⌋` (b' from
    /// [`shoup8`]) is ⌊a·b/q⌋ or up to two below it (b' ≥ ⌊b·2^52/q⌋ − 4 and a < 2^50 lose
    /// less than one in Q; Shoup's own error is below 1.25), so `r = a·b − Q·q` ∈ [0, 2.25q) ⊂
    /// [0, 2^52) is exact as `lo52(a·b) + lo52(Q·(2^52 − q))` mod 2^52; two conditional
    /// subtractions (`min(r, r − q)` unsigned) give [0, q), and the accumulation one more.
    struct Ifma {
        magic: (__m512i, __m512d),
        scale: __m512d,
        /// q and 2^52 − q.
        q: (__m512i, __m512i),
        acc: bool,
    }

    impl Step8 for Ifma {
        const SCALAR: super::ScalarPairFn = super::pair_scalar;

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
        unsafe fn new(c: &Consts, acc: bool) -> Ifma {
            Ifma {
                magic: magic8(),
                scale: _mm512_set1_pd(c.shoup_scale),
                q: (
                    _mm512_set1_epi64(c.q as i64),
                    _mm512_set1_epi64(((1 << 52) - c.q) as i64),
                ),
                acc,
            }
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
        unsafe fn step(&self, out: [*mut u64; 2], a: [&[u64]; 2], i: usize, b: __m512i) {
            let ((magic_i, magic), (q, negq)) = (self.magic, self.q);
            let bs = shoup8(to_f64_8(b, magic_i, magic), self.scale);
            let zero = _mm512_setzero_si512();
            let mask = _mm512_set1_epi64((1 << 52) - 1);
            for (o, a) in out.into_iter().zip(a) {
                // SAFETY: i + 8 ≤ each slice's length (the caller's contract); unaligned access.
                unsafe {
                    let av = _mm512_loadu_si512(a.as_ptr().add(i).cast());
                    let k = _mm512_madd52hi_epu64(zero, av, bs);
                    let lo = _mm512_madd52lo_epu64(zero, av, b);
                    let r = _mm512_and_si512(_mm512_madd52lo_epu64(lo, k, negq), mask);
                    let r = _mm512_min_epu64(r, _mm512_sub_epi64(r, q));
                    let mut p = _mm512_min_epu64(r, _mm512_sub_epi64(r, q));
                    let dst = o.add(i).cast::<__m512i>();
                    if self.acc {
                        let s = _mm512_add_epi64(_mm512_loadu_si512(dst.cast()), p);
                        p = _mm512_min_epu64(s, _mm512_sub_epi64(s, q));
                    }
                    _mm512_storeu_si512(dst.cast(), p);
                }
            }
        }
    }

    /// The two drivers of a [`Step8`] compiled with one set of target features: `$words`
    /// (b as u64 words) and `$packed` (b packed at 50 bits, [`super::pack`]; the features
    /// with AVX-512BW). Both run `S` on every full group of 8 and `S::SCALAR` on the rest, the
    /// same results lane for lane.
    macro_rules! pair_drivers {
        ($words:ident: $wf:literal, $packed:ident: $pf:literal) => {
            /// # Safety
            /// The CPU has the target features (a token was taken to reach it), which cover
            /// `S`'s.
            #[target_feature(enable = $wf)]
            unsafe fn $words<S: Step8>(
                c: &Consts,
                out: [&mut [u64]; 2],
                a: [&[u64]; 2],
                b: &[u64],
                flag: bool,
            ) {
                // SAFETY: the CPU has `S`'s features (this function's contract).
                let step = unsafe { S::new(c, flag) };
                let [o0, o1] = out;
                let len = o0
                    .len()
                    .min(o1.len())
                    .min(a[0].len())
                    .min(a[1].len())
                    .min(b.len());
                let body = len - len % 8;
                for i in (0..body).step_by(8) {
                    // SAFETY: i + 8 ≤ len ≤ each slice's length; unaligned loads and stores;
                    // the CPU has `S`'s features.
                    unsafe {
                        let bi = _mm512_loadu_si512(b.as_ptr().add(i).cast());
                        step.step([o0.as_mut_ptr(), o1.as_mut_ptr()], a, i, bi);
                    }
                }
                S::SCALAR(
                    c,
                    [&mut o0[body..len], &mut o1[body..len]],
                    [&a[0][body..len], &a[1][body..len]],
                    &b[body..len],
                    flag,
                );
            }

            /// # Safety
            /// As the words driver, with AVX-512BW; `b` holds [`super::packed_bytes`] of the
            /// slices' common length (checked by the caller).
            #[target_feature(enable = $pf)]
            unsafe fn $packed<S: Step8>(
                c: &Consts,
                out: [&mut [u64]; 2],
                a: [&[u64]; 2],
                b: &[u8],
                flag: bool,
            ) {
                // SAFETY: the CPU has `S`'s features (this function's contract).
                let step = unsafe { S::new(c, flag) };
                let (idx, shifts, mask) = unpack_consts();
                let [o0, o1] = out;
                let len = o0.len().min(o1.len()).min(a[0].len()).min(a[1].len());
                let body = len - len % 8;
                assert!(b.len() >= super::packed_bytes(body));
                for i in (0..body).step_by(8) {
                    // SAFETY: i + 8 ≤ len ≤ each slice's length; group i/8 reads bytes
                    // 50i/8 .. 50i/8 + 64 ≤ packed_bytes(body) ≤ b.len(); unaligned
                    // accesses; the CPU has `S`'s features.
                    unsafe {
                        let bi = unpack8(b.as_ptr().add(i / 8 * 50), idx, shifts, mask);
                        step.step([o0.as_mut_ptr(), o1.as_mut_ptr()], a, i, bi);
                    }
                }
                if body < len {
                    let mut tail = [0u64; 8];
                    for (k, t) in tail[..len - body].iter_mut().enumerate() {
                        *t = super::unpack_one(b, body + k);
                    }
                    S::SCALAR(
                        c,
                        [&mut o0[body..len], &mut o1[body..len]],
                        [&a[0][body..len], &a[1][body..len]],
                        &tail[..len - body],
                        flag,
                    );
                }
            }
        };
    }

    pair_drivers!(pair_words: "avx512f", pair_packed: "avx512f,avx512bw");
    pair_drivers!(
        pair_words_ifma: "avx512f,avx512dq,avx512ifma",
        pair_packed_ifma: "avx512f,avx512dq,avx512bw,avx512ifma"
    );

    /// [`sum_avx2`] on 8 lanes.
    ///
    /// # Safety
    /// The CPU has AVX-512F (an [`Avx512`] token was taken to reach it).
    #[target_feature(enable = "avx512f")]
    unsafe fn sum_avx512(
        c: &Consts,
        out: &mut [u64],
        base: SumBase<'_, u64>,
        terms: &[[&[u64]; 2]],
    ) {
        let n = out.len();
        // Every operand checked once here, so the loop loads without per-load checks.
        assert!(terms.iter().all(|[a, b]| a.len() == n && b.len() == n));
        if let SumBase::From(b) = base {
            assert_eq!(b.len(), n);
        }
        let magic_i = _mm512_set1_epi64(MAGIC as i64);
        let magic = _mm512_castsi512_pd(magic_i);
        let q = _mm512_set1_pd(c.qf);
        let qinv = _mm512_set1_pd(c.qinv);
        let zero = _mm512_setzero_pd();
        let ptrs: Vec<[*const u64; 2]> = terms
            .iter()
            .map(|[a, b]| [a.as_ptr(), b.as_ptr()])
            .collect();
        let body = n - n % 8;
        for j in (0..body).step_by(8) {
            // SAFETY: j + 8 ≤ n and every operand holds n u64 (asserted above); unaligned.
            unsafe {
                let dst = out.as_mut_ptr().add(j);
                let mut s = match base {
                    SumBase::Acc => to_f64_8(_mm512_loadu_si512(dst.cast()), magic_i, magic),
                    SumBase::From(b) => {
                        to_f64_8(_mm512_loadu_si512(b.as_ptr().add(j).cast()), magic_i, magic)
                    }
                    SumBase::Zero => zero,
                };
                for chunk in ptrs.chunks(TERMS_PER_REDUCTION) {
                    for &[a, b] in chunk {
                        let af = to_f64_8(_mm512_loadu_si512(a.add(j).cast()), magic_i, magic);
                        let bf = to_f64_8(_mm512_loadu_si512(b.add(j).cast()), magic_i, magic);
                        let h = _mm512_mul_pd(af, bf);
                        let l = _mm512_fmsub_pd(af, bf, h);
                        let k = round_near8(_mm512_mul_pd(h, qinv));
                        s = _mm512_add_pd(s, _mm512_add_pd(_mm512_fnmadd_pd(k, q, h), l));
                    }
                    s = _mm512_fnmadd_pd(round_near8(_mm512_mul_pd(s, qinv)), q, s);
                }
                // s in (−q, q) (also with no terms: then it is the base, in [0, q)).
                let negative = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(s, zero);
                s = _mm512_mask_add_pd(s, negative, s, q);
                _mm512_storeu_si512(
                    dst.cast(),
                    _mm512_xor_si512(_mm512_castpd_si512(_mm512_add_pd(s, magic)), magic_i),
                );
            }
        }
        super::sum_scalar_from(c, out, base, terms, body);
    }

    /// Rounds to the nearest integer, ties to even.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn round_near(x: __m256d) -> __m256d {
        _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x)
    }

    /// [`super::pair_float_scalar`] on 4 lanes.
    ///
    /// # Safety
    /// The CPU has avx2 and fma (an [`Avx2Fma`] token was taken to reach it).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pair_float_avx2(
        c: &Consts,
        acc: [&mut [u64]; 2],
        a: [&[u64]; 2],
        b: &[u64],
        reduce: bool,
    ) {
        let magic_i = _mm256_set1_epi64x(MAGIC as i64);
        let magic = _mm256_castsi256_pd(magic_i);
        let q = _mm256_set1_pd(c.qf);
        let qinv = _mm256_set1_pd(c.qinv);
        let [o0, o1] = acc;
        let len = o0
            .len()
            .min(o1.len())
            .min(a[0].len())
            .min(a[1].len())
            .min(b.len());
        let body = len - len % 4;
        for i in (0..body).step_by(4) {
            // SAFETY: i + 4 ≤ len ≤ each slice's length; unaligned loads and stores.
            unsafe {
                let bf = to_f64(_mm256_loadu_si256(b.as_ptr().add(i).cast()), magic_i, magic);
                for (o, a) in [(o0.as_mut_ptr(), a[0]), (o1.as_mut_ptr(), a[1])] {
                    let af = _mm256_loadu_pd(a.as_ptr().add(i).cast());
                    let h = _mm256_mul_pd(af, bf);
                    let l = _mm256_fmsub_pd(af, bf, h);
                    let k = round_near(_mm256_mul_pd(h, qinv));
                    let dst = o.add(i).cast::<f64>();
                    let r = _mm256_add_pd(_mm256_fnmadd_pd(k, q, h), l);
                    let mut s = _mm256_add_pd(_mm256_loadu_pd(dst), r);
                    if reduce {
                        s = reduce_f64(s, q, qinv);
                    }
                    _mm256_storeu_pd(dst, s);
                }
            }
        }
        let (t0, t1) = (&mut o0[body..len], &mut o1[body..len]);
        super::pair_float_scalar(
            c,
            [t0, t1],
            [&a[0][body..len], &a[1][body..len]],
            &b[body..len],
            reduce,
        );
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
        super::sum_scalar_from(c, out, base, terms, body);
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

    /// Double-precision accumulation: SIMD against scalar bit for bit (accumulators included),
    /// and the result against u128 arithmetic, over 20 products with a reduction every
    /// [`FLOAT_TERMS`], all-maximal operands included.
    #[test]
    fn float_pairs_match_scalar_and_u128() {
        let seed = TestRng::fresh_seed();
        println!("compact float seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        for q in crate::prime::ntt_primes(50, 1 << 14, 1)
            .into_iter()
            .chain(crate::prime::ntt_primes(40, 1 << 14, 1))
        {
            let c = Consts::new(q).unwrap();
            for len in [0usize, 5, 4096 + 3] {
                for max in [false, true] {
                    let vals = |rng: &mut TestRng| {
                        if max {
                            vec![q - 1; len]
                        } else {
                            rng.vec_below(len, q)
                        }
                    };
                    let mut want = [vec![0u128; len], vec![0u128; len]];
                    let mut acc_s = [vec![0u64; len], vec![0u64; len]];
                    let mut acc_v: Vec<[Vec<u64>; 2]> = Backend::available()
                        .iter()
                        .filter(|&&b| select(b).is_some())
                        .map(|_| [vec![0u64; len], vec![0u64; len]])
                        .collect();
                    for t in 0..20 {
                        let (a0, a1, b) = (vals(&mut rng), vals(&mut rng), vals(&mut rng));
                        for j in 0..len {
                            want[0][j] += a0[j] as u128 * b[j] as u128;
                            want[1][j] += a1[j] as u128 * b[j] as u128;
                        }
                        let (mut f0, mut f1) = (vec![0; len], vec![0; len]);
                        to_float(&a0, &mut f0);
                        to_float(&a1, &mut f1);
                        let reduce = t % FLOAT_TERMS == FLOAT_TERMS - 1;
                        let [s0, s1] = &mut acc_s;
                        pair_float_scalar(&c, [s0, s1], [&f0, &f1], &b, reduce);
                        let simd = Backend::available().into_iter().filter_map(select);
                        for (k, [v0, v1]) in simd.zip(acc_v.iter_mut()) {
                            // SAFETY: `select` returned the kernels of an available backend.
                            unsafe { (k.pair_float)(&c, [v0, v1], [&f0, &f1], &b, reduce) };
                        }
                        for v in &acc_v {
                            assert_eq!(v, &acc_s, "q={q} len={len} term {t}");
                        }
                    }
                    for (s, w) in acc_s.iter().zip(&want) {
                        let mut out = vec![0; len];
                        from_float(&c, s, &mut out);
                        for j in 0..len {
                            assert_eq!(out[j] as u128, w[j] % q as u128, "q={q} j={j}");
                        }
                    }
                }
            }
        }
    }

    /// Unpacking gives back every packed value: lengths around the 4-value groups, the edge
    /// values in every position of a group, random 50-bit values.
    #[test]
    fn unpack_returns_what_pack_stored() {
        let seed = TestRng::fresh_seed();
        println!("unpack seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        let edge = [
            (1u64 << 50) - 1,
            0,
            1 << 49,
            1,
            0x2_aaaa_aaaa_aaaa,
            0x1_5555_5555_5555,
        ];
        for len in (0usize..=20).chain([63, 64, 65, 4097, 4098, 8192]) {
            let mut vals = rng.vec_below(len, 1 << 50);
            for (i, v) in vals.iter_mut().enumerate().take(24) {
                *v = edge[(i + len) % edge.len()];
            }
            let mut packed = vec![0xa5u8; packed_bytes(len)];
            pack(&vals, &mut packed);
            let back: Vec<u64> = (0..len).map(|i| unpack_one(&packed, i)).collect();
            assert_eq!(back, vals, "len {len}");
        }
    }

    /// Packed multiplicands: the round trip at the edges, and every packed kernel (scalar and
    /// SIMD) gives the unpacked scalar sums bit for bit.
    #[test]
    fn packed_float_pairs_match_unpacked() {
        let seed = TestRng::fresh_seed();
        println!("compact packed seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        let q = crate::prime::ntt_primes(50, 1 << 14, 1)[0];
        let c = Consts::new(q).unwrap();
        let edge = [0, 1, (1 << 50) - 1, 1 << 49, q - 1, 12345];
        let mut packed = vec![0xffu8; packed_bytes(edge.len())];
        pack(&edge, &mut packed);
        let back: Vec<u64> = (0..edge.len()).map(|i| unpack_one(&packed, i)).collect();
        assert_eq!(back, edge);
        assert!(packed[packed.len() - PACKED_PAD..].iter().all(|&b| b == 0));
        let packed_simd: Vec<FloatPairPackedFn> = Backend::available()
            .into_iter()
            .filter_map(select)
            .filter_map(|k| k.pair_float_packed)
            .collect();
        println!("packed SIMD kernels: {}", packed_simd.len());
        for len in [0usize, 7, 8, 64 + 5, 8192] {
            let mut want = [vec![0u64; len], vec![0u64; len]];
            let mut got = vec![[vec![0u64; len], vec![0u64; len]]; 1 + packed_simd.len()];
            for t in 0..10 {
                let (a0, a1) = (rng.vec_below(len, q), rng.vec_below(len, q));
                let b = if t == 3 {
                    vec![q - 1; len]
                } else {
                    rng.vec_below(len, q)
                };
                let (mut f0, mut f1) = (vec![0; len], vec![0; len]);
                to_float(&a0, &mut f0);
                to_float(&a1, &mut f1);
                let mut bp = vec![0u8; packed_bytes(len)];
                pack(&b, &mut bp);
                let reduce = t % FLOAT_TERMS == FLOAT_TERMS - 1;
                let [w0, w1] = &mut want;
                pair_float_scalar(&c, [w0, w1], [&f0, &f1], &b, reduce);
                let [g0, g1] = &mut got[0];
                packed_scalar(pair_float_scalar, &c, [g0, g1], [&f0, &f1], &bp, reduce);
                for (f, [g0, g1]) in packed_simd.iter().zip(&mut got[1..]) {
                    // SAFETY: `select` set the packed kernel after taking its token; `bp` is
                    // packed_bytes(len) long.
                    unsafe { f(&c, [g0, g1], [&f0, &f1], &bp, reduce) };
                }
                for g in &got {
                    assert_eq!(g, &want, "len {len} term {t}");
                }
            }
        }
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

    /// Each available backend's kernels, and on an IFMA machine also the avx512 set without
    /// IFMA (which `select` then never returns).
    fn every_kernel_set() -> Vec<(String, Kernels)> {
        let mut sets: Vec<(String, Kernels)> = Backend::available()
            .into_iter()
            .filter_map(|b| select(b).map(|k| (b.to_string(), k)))
            .collect();
        #[cfg(target_arch = "x86_64")]
        if let (Some(v4), Some(v3), Some(_)) = (
            crate::isa::Avx512::try_new(),
            crate::isa::Avx2Fma::try_new(),
            crate::isa::Avx512Ifma::try_new(),
        ) {
            let bw = crate::isa::Avx512Bw::try_new();
            sets.push((
                "avx512 without IFMA".into(),
                x86::avx512_kernels(v4, v3, bw, None),
            ));
        }
        sets
    }

    /// Every kernel set's `pair` and packed `pair` against u128 arithmetic on the operands where
    /// the quotient estimates are tightest (0, 1, q/2, q − 2, q − 1, all crossed) and at random
    /// (a fresh seed, printed), for moduli from 3 to just below 2^50 (primality not needed).
    #[test]
    fn pair_kernels_match_u128_at_the_edges() {
        let seed = TestRng::fresh_seed();
        println!("pair edge seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        let mut moduli = vec![3, 1 << 49, (1 << 49) + 1, (1 << 50) - 1, (1 << 50) - 3];
        moduli.extend(crate::prime::ntt_primes(50, 1 << 14, 2));
        moduli.extend(crate::prime::ntt_primes(45, 1 << 14, 1));
        moduli.push(rng.below(1 << 50).max(2));
        for q in moduli {
            let c = Consts::new(q).unwrap();
            let edge = [0, 1, q / 2, q.saturating_sub(2), q - 1];
            let (mut a0, mut b): (Vec<u64>, Vec<u64>) = edge
                .iter()
                .flat_map(|&x| edge.iter().map(move |&y| (x, y)))
                .unzip();
            a0.extend(rng.vec_below(67, q));
            b.extend(rng.vec_below(67, q));
            let a1: Vec<u64> = a0.iter().rev().copied().collect();
            let acc0 = rng.vec_below(a0.len(), q);
            let mut bp = vec![0u8; packed_bytes(b.len())];
            pack(&b, &mut bp);
            for (backend, k) in every_kernel_set() {
                for acc in [false, true] {
                    let want = |a: &[u64]| -> Vec<u64> {
                        (0..a.len())
                            .map(|j| {
                                let p = reference(a[j], b[j], q);
                                if acc {
                                    (p + acc0[j]) % q
                                } else {
                                    p
                                }
                            })
                            .collect()
                    };
                    let (mut g0, mut g1) = (acc0.clone(), acc0.clone());
                    // SAFETY: `select` returned the kernel for an available backend, whose
                    // token it took.
                    unsafe { (k.pair)(&c, [&mut g0, &mut g1], [&a0, &a1], &b, acc) };
                    assert_eq!((&g0, &g1), (&want(&a0), &want(&a1)), "{backend} q={q}");
                    if let Some(f) = k.pair_packed {
                        let (mut p0, mut p1) = (acc0.clone(), acc0.clone());
                        // SAFETY: as above; `bp` is packed_bytes(len) long.
                        unsafe { f(&c, [&mut p0, &mut p1], [&a0, &a1], &bp, acc) };
                        assert_eq!((&p0, &p1), (&g0, &g1), "{backend} packed q={q}");
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
                for (backend, k) in every_kernel_set() {
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
                        // b packed: the scalar reference and the SIMD kernel.
                        let mut bp = vec![0u8; packed_bytes(len)];
                        pack(&b, &mut bp);
                        let (mut p0, mut p1) = (acc0.clone(), acc0.clone());
                        packed_scalar(pair_scalar, &c, [&mut p0, &mut p1], [&a0, &a1], &bp, acc);
                        assert_eq!((&p0, &p1), (&e0, &e1), "packed scalar len={len}");
                        if let Some(f) = k.pair_packed {
                            let (mut p0, mut p1) = (acc0.clone(), acc0.clone());
                            // SAFETY: `select` set the packed kernel after taking its token;
                            // `bp` is packed_bytes(len) long.
                            unsafe { f(&c, [&mut p0, &mut p1], [&a0, &a1], &bp, acc) };
                            assert_eq!((&p0, &p1), (&e0, &e1), "{backend} packed len={len}");
                        }
                    }
                }
            }
        }
    }
}
