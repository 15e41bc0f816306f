//! Element-wise vector arithmetic modulo q with no hand-written kernel, compiled once per
//! instruction set by `multiversion` (baseline, x86-64 AVX2, x86-64 AVX-512, aarch64 NEON) and
//! dispatched on the CPU found at run time (cached after the first call) to the first target
//! listed that the CPU has: so the widest comes first. The loops are
//! branch-free so that each build vectorises.
use multiversion::multiversion;

/// out[i] = a[i] ⊕ b[i] over blocks (free-XOR gates of a garbled circuit), up to the
/// shortest length.
pub fn xor_blocks(out: &mut [crate::Block], a: &[crate::Block], b: &[crate::Block]) {
    use crate::Block;
    xor_bytes(
        Block::slice_as_bytes_mut(out),
        Block::slice_as_bytes(a),
        Block::slice_as_bytes(b),
    );
}

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn xor_bytes(out: &mut [u8], a: &[u8], b: &[u8]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
}

/// x[i] = x[i] + y[i] mod q, for x, y in [0, q), q < 2^63.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn add_mod(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = (*x + y).wrapping_sub(q);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}

/// x[i] = x[i] − y[i] mod q, for x, y in [0, q), q < 2^63.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn sub_mod(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = x.wrapping_sub(y);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}

/// x[i] = (x[i] − y[i])·c mod q, for x, y, c in [0, q) and q < 2^50 (ModDown's last step:
/// subtract the special limb's share, multiply by P⁻¹). The product's quotient round(v·c/q)
/// comes from doubles (within 7/8 of the true one, see `ntt::compact`), the remainder from
/// wrapping u64 arithmetic: exact, and vectorisable without a 128-bit product.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn sub_mul_const_mod(x: &mut [u64], y: &[u64], c: u64, q: u64) {
    debug_assert!(q < 1 << crate::ntt::COMPACT_MAX_BITS && c < q);
    // u64 ↔ f64 below 2^52 through the exponent of 2^52 (no 64-bit conversion instruction
    // before AVX-512DQ): bits(2^52 + v) = MAGIC | v, and adding 2^52 rounds to an integer.
    const MAGIC: u64 = 0x4330_0000_0000_0000;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let (cf, qinv) = (c as f64, 1.0 / q as f64);
    for (x, &y) in x.iter_mut().zip(y) {
        let t = x.wrapping_sub(y);
        let v = t.wrapping_add(q & ((t as i64) >> 63) as u64);
        let vf = f64::from_bits(v | MAGIC) - TWO52;
        // round(v·c·(1/q)) is within 7/8 of v·c/q (see `ntt::compact`); it is below 2^50.
        let k = (vf * cf * qinv + TWO52).to_bits() - MAGIC;
        let r = v.wrapping_mul(c).wrapping_sub(k.wrapping_mul(q)) as i64;
        *x = (r + ((r >> 63) & q as i64)) as u64;
    }
}

/// out[i] = ⟦v_i⟧ mod q for v_i = src[i] in [0, big), ⟦·⟧ the centered residue modulo `big`
/// (v − big when v > big/2, else v): ModDown's first step, the special limb's centered
/// coefficients brought to a smaller prime q. Needs big < 2^62 and 2^12 ≤ q < 2^50: the
/// rounded quotient v/q from doubles (v split in 32-bit halves, each exact through the 2^52
/// exponent trick; relative error ≤ 4·2^−53 on a quotient below 2^50, so within 0.4) is
/// within 0.9 of v/q, and the remainder from wrapping u64 arithmetic is exact, in (−q, q).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn centered_mod(out: &mut [u64], src: &[u64], big: u64, q: u64) {
    debug_assert!(big < 1 << 62 && (1 << 12..1 << crate::ntt::COMPACT_MAX_BITS).contains(&q));
    const MAGIC: u64 = 0x4330_0000_0000_0000;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    const TWO32: f64 = 4_294_967_296.0;
    let to_f = |x: u64| f64::from_bits(x | MAGIC) - TWO52;
    let qinv = 1.0 / q as f64;
    let (half, big_mod_q) = (big / 2, big % q);
    let qi = q as i64;
    for (o, &v) in out.iter_mut().zip(src) {
        let vf = to_f(v >> 32) * TWO32 + to_f(v & 0xffff_ffff);
        let k = (vf * qinv + TWO52).to_bits() - MAGIC;
        let mut r = v.wrapping_sub(k.wrapping_mul(q)) as i64;
        r += qi & (r >> 63);
        // v > big/2: subtract big mod q.
        let upper = ((half as i64).wrapping_sub(v as i64)) >> 63;
        r -= big_mod_q as i64 & upper;
        r += qi & (r >> 63);
        *o = r as u64;
    }
}

/// One prime of [`scale_round`]: q < 2^50, w = [(Q/q)⁻¹]_q, and θ = p/q (p < q) as the
/// double-double θ_hi + θ_lo (|θ − θ_hi − θ_lo| ≤ 2^−104·θ).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleLimb {
    q: u64,
    w: u64,
    theta_hi: f64,
    theta_lo: f64,
}

impl ScaleLimb {
    /// None unless 2 ≤ p < q < 2^50 and w < q.
    pub fn new(q: u64, w: u64, p: u64) -> Option<ScaleLimb> {
        if !(2 <= p && p < q && q < 1 << crate::ntt::COMPACT_MAX_BITS && w < q) {
            return None;
        }
        let (pf, qf) = (p as f64, q as f64);
        // Division is correctly rounded, so p − θ_hi·q is exact (one fma).
        let theta_hi = pf / qf;
        let theta_lo = (-theta_hi).mul_add(qf, pf) / qf;
        Some(ScaleLimb {
            q,
            w,
            theta_hi,
            theta_lo,
        })
    }
}

/// Decryption's RNS scaling: out[c] = round(Σ_i y_i·p/q_i) mod p with y_i = [x_i[c]·w_i]_{q_i},
/// for x_i[c] < q_i (one slice per limb, `limbs` alike) and at most 8 limbs. In doubles, no
/// 128-bit product: y_i·θ_hi is split exactly (an fma) into its rounded integer and a
/// fraction, the fractions and y_i·θ_lo are summed; the sum is within ℓ·2^−49 of the exact
/// one (ℓ ≤ 8), so the result is the exact rounding whenever Σ is at least that far from a
/// half-integer (decryption keeps 2^−42).
pub fn scale_round(out: &mut [u64], x: &[&[u64]], limbs: &[ScaleLimb], p: u64) {
    const CHUNK: usize = 512;
    assert!(x.len() == limbs.len() && (1..=8).contains(&limbs.len()));
    assert!(limbs.iter().all(|l| p < l.q) && x.iter().all(|xi| xi.len() >= out.len()));
    let (mut int, mut frac) = ([0f64; CHUNK], [0f64; CHUNK]);
    for (k, o) in out.chunks_mut(CHUNK).enumerate() {
        let len = o.len();
        int[..len].fill(0.0);
        frac[..len].fill(0.0);
        for (xi, l) in x.iter().zip(limbs) {
            scale_accumulate(
                &mut int[..len],
                &mut frac[..len],
                &xi[k * CHUNK..k * CHUNK + len],
                l,
            );
        }
        scale_finish(o, &int[..len], &frac[..len], p);
    }
}

/// c ∈ [0, p) taken centered (c − p when c > p/2) modulo q > p.
#[inline(always)]
fn lift_centered(c: u64, p: u64, q: u64) -> u64 {
    // All ones when c > p/2, i.e. c − (⌊p/2⌋ + 1) ≥ 0.
    let above = !((c.wrapping_sub(p / 2 + 1) as i64 >> 63) as u64);
    c + (above & (q - p))
}

/// The lift of small plaintext coefficients to prime q: out[i] = c_i centered mod q, where
/// c_i = lo[i] | h_i·2^16 ∈ [0, p), p < q, with h_i = hi[i] & 15 in the first half of `out`
/// and hi[i − half] >> 4 in the second (two 4-bit high parts to a byte; `hi` empty: h = 0).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn lift_centered_nibbles(out: &mut [u64], lo: &[u16], hi: &[u8], p: u64, q: u64) {
    debug_assert!(p < q);
    assert!(
        out.len() == lo.len() && out.len().is_multiple_of(2),
        "n values, n even"
    );
    let half = out.len() / 2;
    let (o1, o2) = out.split_at_mut(half);
    let (l1, l2) = lo.split_at(half);
    if hi.is_empty() {
        for (o, &l) in o1.iter_mut().chain(o2.iter_mut()).zip(l1.iter().chain(l2)) {
            *o = lift_centered(l as u64, p, q);
        }
        return;
    }
    assert_eq!(hi.len(), half, "one byte of high parts per pair");
    for (((a, b), (&x, &y)), &h) in o1.iter_mut().zip(o2).zip(l1.iter().zip(l2)).zip(hi) {
        *a = lift_centered(x as u64 | ((h & 15) as u64) << 16, p, q);
        *b = lift_centered(y as u64 | ((h >> 4) as u64) << 16, p, q);
    }
}

/// [`lift_centered_nibbles`] with a whole byte of high part per coefficient:
/// c_i = lo[i] | hi[i]·2^16.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn lift_centered_bytes(out: &mut [u64], lo: &[u16], hi: &[u8], p: u64, q: u64) {
    debug_assert!(p < q);
    assert!(
        out.len() == lo.len() && out.len() == hi.len(),
        "one high byte per coefficient"
    );
    for ((o, &l), &h) in out.iter_mut().zip(lo).zip(hi) {
        *o = lift_centered(l as u64 | (h as u64) << 16, p, q);
    }
}

/// Signed round-to-nearest of |v| < 2^51 by adding and removing 1.5·2^52 (the sum's ulp is 1).
const ROUND: f64 = 6_755_399_441_055_744.0;

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn scale_accumulate(int: &mut [f64], frac: &mut [f64], x: &[u64], l: &ScaleLimb) {
    const MAGIC: u64 = 0x4330_0000_0000_0000;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let (q, w) = (l.q, l.w);
    let (wf, qinv, qi) = (w as f64, 1.0 / q as f64, q as i64);
    let (th, tl) = (l.theta_hi, l.theta_lo);
    for ((i, f), &v) in int.iter_mut().zip(frac.iter_mut()).zip(x) {
        // y = v·w mod q: the quotient from doubles within 7/8 (see `sub_mul_const_mod`).
        let vf = f64::from_bits(v | MAGIC) - TWO52;
        let k = (vf * wf * qinv + TWO52).to_bits() - MAGIC;
        let r = v.wrapping_mul(w).wrapping_sub(k.wrapping_mul(q)) as i64;
        let y = (r + ((r >> 63) & qi)) as u64;
        let yf = f64::from_bits(y | MAGIC) - TWO52;
        // y·θ_hi = prod + err exactly; prod = whole + part exactly (|part| ≤ 1/2).
        let prod = yf * th;
        let err = yf.mul_add(th, -prod);
        let whole = (prod + ROUND) - ROUND;
        *i += whole;
        *f += (prod - whole) + yf.mul_add(tl, err);
    }
}

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn scale_finish(out: &mut [u64], int: &[f64], frac: &[f64], p: u64) {
    let (pf, pinv) = (p as f64, 1.0 / p as f64);
    let round_bits = ROUND.to_bits();
    for ((o, &i), &f) in out.iter_mut().zip(int).zip(frac) {
        // t = round(Σ) is an integer below 2^34, exact in a double; r = t − p·round(t/p) is
        // exact and within p/2 + 1 of 0, brought to [0, p).
        let t = i + ((f + ROUND) - ROUND);
        let k = (t * pinv + ROUND) - ROUND;
        let r = k.mul_add(-pf, t);
        let r = if r < 0.0 { r + pf } else { r };
        let r = if r >= pf { r - pf } else { r };
        *o = (r + ROUND).to_bits() - round_bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRng;

    #[test]
    fn lifts_match_the_centered_residue() {
        let mut rng = TestRng::new(9);
        let q = crate::prime::ntt_primes(50, 1 << 14, 1)[0];
        let reference = |c: u64, p: u64| {
            let v = if c > p / 2 {
                c as i64 - p as i64
            } else {
                c as i64
            };
            v.rem_euclid(q as i64) as u64
        };
        for p in [
            3u64,
            65537,
            1032193,
            (1 << 20) - 3,
            2 * 1032193 + 1,
            (1 << 24) - 3,
        ] {
            let n = 2 * 1001;
            let mut c = rng.vec_below(n, p);
            let edges = [0, 1, p / 2, p / 2 + 1, p - 1, p / 2 - 1];
            c[..edges.len()].copy_from_slice(&edges);
            c[n - edges.len()..].copy_from_slice(&edges);
            let lo: Vec<u16> = c.iter().map(|&v| v as u16).collect();
            let want: Vec<u64> = c.iter().map(|&v| reference(v, p)).collect();
            let mut out = vec![0; n];
            if p <= 1 << 16 {
                lift_centered_nibbles(&mut out, &lo, &[], p, q);
                assert_eq!(out, want, "p={p}");
            }
            if p <= 1 << 20 {
                let hi: Vec<u8> = (0..n / 2)
                    .map(|j| ((c[j] >> 16) | (c[j + n / 2] >> 16) << 4) as u8)
                    .collect();
                lift_centered_nibbles(&mut out, &lo, &hi, p, q);
                assert_eq!(out, want, "p={p}");
            }
            let hi: Vec<u8> = c.iter().map(|&v| (v >> 16) as u8).collect();
            lift_centered_bytes(&mut out, &lo, &hi, p, q);
            assert_eq!(out, want, "p={p}");
        }
    }

    #[test]
    fn sub_mul_const_mod_matches_u128() {
        let mut rng = TestRng::new(4);
        for q in crate::prime::ntt_primes(50, 1 << 14, 2)
            .into_iter()
            .chain(crate::prime::ntt_primes(36, 1 << 14, 1))
            .chain([3, 65537])
        {
            for c in [0, 1, q - 1, q / 2, rng.below(q)] {
                let mut x = rng.vec_below(20_003, q);
                let mut y = rng.vec_below(20_003, q);
                (x[0], y[0], x[1], y[1]) = (0, q - 1, q - 1, 0);
                let expect: Vec<u64> = x
                    .iter()
                    .zip(&y)
                    .map(|(&a, &b)| {
                        ((a as u128 + q as u128 - b as u128) % q as u128 * c as u128 % q as u128)
                            as u64
                    })
                    .collect();
                sub_mul_const_mod(&mut x, &y, c, q);
                assert_eq!(x, expect, "q={q} c={c}");
            }
        }
    }

    #[test]
    fn centered_mod_matches_i128() {
        let seed = TestRng::fresh_seed();
        println!("centered_mod seed {seed:#x}");
        let mut rng = TestRng::new(seed);
        let bigs = crate::prime::ntt_primes(61, 1 << 14, 1)
            .into_iter()
            .chain(crate::prime::ntt_primes(50, 1 << 14, 1))
            .chain([(1 << 62) - 57]);
        for big in bigs {
            for q in crate::prime::ntt_primes(50, 1 << 14, 2)
                .into_iter()
                .chain(crate::prime::ntt_primes(30, 1 << 14, 1))
                .chain([1 << 12, 12289])
            {
                let mut v = rng.vec_below(1001, big);
                let h = big / 2;
                let edges = [
                    0,
                    1,
                    h - 1,
                    h,
                    h + 1,
                    big - 2,
                    big - 1,
                    q - 1,
                    q,
                    q + 1,
                    big % q,
                ];
                v.extend(edges.into_iter().filter(|&x| x < big));
                let mut out = vec![0; v.len()];
                centered_mod(&mut out, &v, big, q);
                for (i, (&o, &x)) in out.iter().zip(&v).enumerate() {
                    let c = if x > h {
                        x as i128 - big as i128
                    } else {
                        x as i128
                    };
                    assert_eq!(o as i128, c.rem_euclid(q as i128), "big={big} q={q} i={i}");
                }
            }
        }
    }

    /// `scale_round` against long division and add/sub mod q against their definitions
    /// (`testing::check_vecops`, which `backend_check` also runs under qemu).
    #[test]
    fn scale_round_add_and_sub_match_their_definitions() {
        let seed = TestRng::fresh_seed();
        println!("check_vecops seed {seed:#x}");
        let cases = crate::testing::check_vecops(seed).unwrap();
        assert!(cases > 0);
        assert!(ScaleLimb::new(1 << 50, 1, 3).is_none() && ScaleLimb::new(97, 1, 97).is_none());
    }
}
