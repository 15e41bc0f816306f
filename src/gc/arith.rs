//! Arithmetic building blocks on little-endian bit vectors, generic over [`Gates`].
//!
//! AND counts (n = operand width; constants fold, so an operand that is a circuit constant can
//! make a block cheaper):
//!
//! | block | ANDs |
//! |---|---|
//! | [`add`] (n + n → n+1 bits) | n |
//! | [`add_wrapping`] (mod 2^n) | n − 1 |
//! | [`sub`] (difference mod 2^n and borrow) | n |
//! | [`lt`] / [`lt_signed`] / [`ge`] | n |
//! | [`mux`] | n |
//! | [`max_signed`] | 2n |
//! | [`relu`] (signed n bits) | n − 1 |
//! | [`clamp_signed`] (n → b bits) | n − 2 |
//! | [`add_mod`] / [`sub_mod`] (values in [0, p), n = ⌈log2 p⌉) | 3n |
//!
//! [`counts`] builds each block and reports the exact numbers for a modulus.
use crate::gc::circuit::{Builder, Gates};

/// `width` constant wires holding `value`.
pub fn constant<G: Gates>(g: &mut G, value: u64, width: usize) -> Vec<G::Wire> {
    (0..width)
        .map(|i| g.constant(i < 64 && (value >> i) & 1 == 1))
        .collect()
}

/// Zero-extends (or truncates) to `width` bits.
pub fn zext<G: Gates>(g: &mut G, a: &[G::Wire], width: usize) -> Vec<G::Wire> {
    (0..width)
        .map(|i| {
            if i < a.len() {
                a[i].clone()
            } else {
                g.constant(false)
            }
        })
        .collect()
}

/// Sign-extends (or truncates) to `width` bits; `a` must be non-empty.
pub fn sext<G: Gates>(a: &[G::Wire], width: usize) -> Vec<G::Wire> {
    let top = a.last().expect("sign extension of an empty vector").clone();
    (0..width)
        .map(|i| {
            if i < a.len() {
                a[i].clone()
            } else {
                top.clone()
            }
        })
        .collect()
}

/// Ripple-carry addition with one AND per bit (`carry' = c ⊕ ((a ⊕ c) ∧ (b ⊕ c))`).
/// Returns the `n` sum bits and, if asked, the carry out.
fn add_chain<G: Gates>(
    g: &mut G,
    a: &[G::Wire],
    b: &[G::Wire],
    carry_in: G::Wire,
    carry_out: bool,
) -> (Vec<G::Wire>, Option<G::Wire>) {
    assert_eq!(a.len(), b.len(), "adder operands must have equal widths");
    let n = a.len();
    let mut c = carry_in;
    let mut sum = Vec::with_capacity(n);
    for i in 0..n {
        let axc = g.xor(&a[i], &c);
        sum.push(g.xor(&axc, &b[i]));
        if i + 1 < n || carry_out {
            let bxc = g.xor(&b[i], &c);
            let t = g.and(&axc, &bxc);
            c = g.xor(&c, &t);
        }
    }
    (sum, carry_out.then_some(c))
}

/// `a + b` with the carry as an extra top bit (n + 1 bits out; n ANDs).
pub fn add<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> Vec<G::Wire> {
    let zero = g.constant(false);
    let (mut s, c) = add_chain(g, a, b, zero, true);
    s.push(c.expect("carry requested"));
    s
}

/// `a + b mod 2^n` (n − 1 ANDs).
pub fn add_wrapping<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> Vec<G::Wire> {
    let zero = g.constant(false);
    add_chain(g, a, b, zero, false).0
}

/// `(a − b mod 2^n, a < b)` (n ANDs).
pub fn sub<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> (Vec<G::Wire>, G::Wire) {
    let nb: Vec<G::Wire> = b.iter().map(|x| g.not(x)).collect();
    let one = g.constant(true);
    let (d, c) = add_chain(g, a, &nb, one, true);
    let borrow = g.not(&c.expect("carry requested"));
    (d, borrow)
}

/// `a − b mod 2^n` (n − 1 ANDs).
pub fn sub_wrapping<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> Vec<G::Wire> {
    let nb: Vec<G::Wire> = b.iter().map(|x| g.not(x)).collect();
    let one = g.constant(true);
    add_chain(g, a, &nb, one, false).0
}

/// Unsigned `a < b` (n ANDs: the borrow chain of `a − b`; the difference bits are dropped by
/// the builder).
pub fn lt<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> G::Wire {
    sub(g, a, b).1
}

/// Unsigned `a ≥ b` (n ANDs).
pub fn ge<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> G::Wire {
    let l = lt(g, a, b);
    g.not(&l)
}

/// Two's-complement `a < b` (n ANDs): unsigned comparison with the sign bits flipped.
pub fn lt_signed<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> G::Wire {
    let n = a.len();
    let mut a2 = a.to_vec();
    let mut b2 = b.to_vec();
    a2[n - 1] = g.not(&a[n - 1]);
    b2[n - 1] = g.not(&b[n - 1]);
    lt(g, &a2, &b2)
}

/// `if s { b } else { a }`, bitwise (n ANDs).
pub fn mux<G: Gates>(g: &mut G, s: &G::Wire, a: &[G::Wire], b: &[G::Wire]) -> Vec<G::Wire> {
    assert_eq!(a.len(), b.len(), "mux operands must have equal widths");
    a.iter().zip(b).map(|(x, y)| g.mux(s, x, y)).collect()
}

/// Two's-complement maximum (2n ANDs).
pub fn max_signed<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire]) -> Vec<G::Wire> {
    let a_lt_b = lt_signed(g, a, b);
    mux(g, &a_lt_b, a, b)
}

/// `max(v, 0)` of a two's-complement value (n − 1 ANDs; the sign bit becomes 0).
pub fn relu<G: Gates>(g: &mut G, v: &[G::Wire]) -> Vec<G::Wire> {
    let n = v.len();
    let pos = g.not(&v[n - 1]);
    let mut out: Vec<G::Wire> = v[..n - 1].iter().map(|x| g.and(x, &pos)).collect();
    out.push(g.constant(false));
    out
}

/// Clamps a two's-complement value to `[−2^(b−1), 2^(b−1) − 1]`, returning `b` bits
/// (n − 2 ANDs when n > b; free otherwise).
pub fn clamp_signed<G: Gates>(g: &mut G, v: &[G::Wire], b: usize) -> Vec<G::Wire> {
    let n = v.len();
    assert!(b >= 1, "clamp to at least one bit");
    if n <= b {
        return sext::<G>(v, b);
    }
    let sign = v[n - 1].clone();
    // Overflow iff some bit in [b−1, n−2] differs from the sign.
    let mut ovf = g.constant(false);
    for x in &v[b - 1..n - 1] {
        let d = g.xor(x, &sign);
        ovf = g.or(&ovf, &d);
    }
    let not_sign = g.not(&sign);
    let mut out: Vec<G::Wire> = v[..b - 1]
        .iter()
        .map(|x| g.mux(&ovf, x, &not_sign))
        .collect();
    out.push(sign);
    out
}

/// Bits needed for values in [0, p): ⌈log2 p⌉ (p ≥ 2).
pub fn modulus_bits(p: u64) -> usize {
    (64 - (p - 1).leading_zeros()) as usize
}

/// `(a + b) mod p` for `a, b ∈ [0, p)` held in `n = ⌈log2 p⌉` bits each (3n ANDs:
/// sum, trial subtraction of p, multiplexer).
pub fn add_mod<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire], p: u64) -> Vec<G::Wire> {
    let n = a.len();
    let s = add(g, a, b); // n + 1 bits
    let pc = constant(g, p, n + 1);
    let (d, borrow) = sub(g, &s, &pc);
    let r = mux(g, &borrow, &d, &s);
    r[..n].to_vec()
}

/// `(a − b) mod p` for `a, b ∈ [0, p)` in n bits (3n − 1 ANDs: difference, conditional
/// addition of p).
pub fn sub_mod<G: Gates>(g: &mut G, a: &[G::Wire], b: &[G::Wire], p: u64) -> Vec<G::Wire> {
    let n = a.len();
    let (d, borrow) = sub(g, a, b);
    let pm: Vec<G::Wire> = constant(g, p, n)
        .iter()
        .map(|k| g.and(k, &borrow))
        .collect();
    add_wrapping(g, &d, &pm)
}

/// Exact AND counts of every block at the width of modulus `p`, as `(name, ANDs)`.
pub fn counts(p: u64) -> Vec<(&'static str, usize)> {
    let n = modulus_bits(p);
    type Make =
        fn(&mut Builder, &[crate::gc::Wire], &[crate::gc::Wire], u64) -> Vec<crate::gc::Wire>;
    let blocks: [(&'static str, Make); 10] = [
        ("add (n+n -> n+1 bits)", |g, a, b, _| add(g, a, b)),
        ("add mod 2^n", |g, a, b, _| add_wrapping(g, a, b)),
        ("sub with borrow", |g, a, b, _| {
            let (mut d, br) = sub(g, a, b);
            d.push(br);
            d
        }),
        ("lt (unsigned)", |g, a, b, _| vec![lt(g, a, b)]),
        ("lt (signed)", |g, a, b, _| vec![lt_signed(g, a, b)]),
        ("mux", |g, a, b, _| {
            let s = a[0];
            mux(g, &s, &a[1..], &b[1..])
        }),
        ("max (signed)", |g, a, b, _| max_signed(g, a, b)),
        ("relu (signed)", |g, a, _, _| relu(g, a)),
        ("add mod p", |g, a, b, p| add_mod(g, a, b, p)),
        ("sub mod p", |g, a, b, p| sub_mod(g, a, b, p)),
    ];
    blocks
        .into_iter()
        .map(|(name, f)| {
            let mut b = Builder::new();
            // The mux takes its selector from an extra first bit of `a`.
            let extra = usize::from(name == "mux");
            let x = b.evaluator_input(n + extra);
            let y = b.garbler_input(n + extra);
            let out = f(&mut b, &x, &y, p);
            b.output(&out);
            (name, b.finish().and_count())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::circuit::{from_bits, from_bits_signed, to_bits, Plain};
    use crate::gc::{run_local, Evaluator, Garbler};

    fn bits(v: u64, n: usize) -> Vec<bool> {
        to_bits(v, n)
    }

    #[test]
    fn plain_blocks_match_integers() {
        let mut g = Plain;
        let p = 1_032_193u64;
        let n = modulus_bits(p);
        assert_eq!(n, 20);
        let samples = [0, 1, 2, p / 2, p / 2 + 1, p - 2, p - 1, 12345, 777_777];
        for &a in &samples {
            for &b in &samples {
                let (x, y) = (bits(a, n), bits(b, n));
                assert_eq!(from_bits(&add(&mut g, &x, &y)), a + b);
                assert_eq!(from_bits(&add_wrapping(&mut g, &x, &y)), (a + b) % (1 << n));
                let (d, br) = sub(&mut g, &x, &y);
                assert_eq!(from_bits(&d), a.wrapping_sub(b) % (1 << n));
                assert_eq!(br, a < b);
                assert_eq!(lt(&mut g, &x, &y), a < b);
                assert_eq!(ge(&mut g, &x, &y), a >= b);
                assert_eq!(from_bits(&add_mod(&mut g, &x, &y, p)), (a + b) % p);
                assert_eq!(from_bits(&sub_mod(&mut g, &x, &y, p)), (a + p - b) % p);
                let (sa, sb) = (from_bits_signed(&x), from_bits_signed(&y));
                assert_eq!(lt_signed(&mut g, &x, &y), sa < sb);
                assert_eq!(from_bits_signed(&max_signed(&mut g, &x, &y)), sa.max(sb));
                let t = g.constant(true);
                assert_eq!(from_bits(&mux(&mut g, &t, &x, &y)), b);
                assert_eq!(from_bits_signed(&relu(&mut g, &x)), sa.max(0));
                for bb in [2usize, 8, 19, 20, 24] {
                    let c = clamp_signed(&mut g, &x, bb);
                    assert_eq!(c.len(), bb);
                    let lim = 1i64 << (bb - 1);
                    assert_eq!(
                        from_bits_signed(&c),
                        sa.clamp(-lim, lim - 1),
                        "clamp {sa} to {bb}"
                    );
                }
            }
        }
    }

    #[test]
    fn garbled_blocks_match_plain() {
        let p = 1_032_193u64;
        let n = modulus_bits(p);
        let mut b = Builder::new();
        let x = b.evaluator_input(n);
        let y = b.garbler_input(n);
        let s = add_mod(&mut b, &x, &y, p);
        let d = sub_mod(&mut b, &x, &y, p);
        let m = max_signed(&mut b, &x, &y);
        let l = lt(&mut b, &x, &y);
        b.output(&s);
        b.output(&d);
        b.output(&m);
        b.output(&[l]);
        let c = b.finish();
        let samples = [0, 1, p / 2, p / 2 + 1, p - 1, 4242, 999_999];
        let mut inputs = Vec::new();
        let mut expect = Vec::new();
        for &a in &samples {
            for &bv in &samples {
                let mut i = bits(a, n);
                i.extend(bits(bv, n));
                expect.extend(c.eval_plain(&i).unwrap());
                inputs.extend(i);
            }
        }
        let k = samples.len() * samples.len();
        let mut garbler = Garbler::from_seed([7; 32]).unwrap();
        let mut evaluator = Evaluator::new().unwrap();
        assert_eq!(
            run_local(&c, k, &inputs, &mut garbler, &mut evaluator).unwrap(),
            expect
        );
    }

    #[test]
    fn counts_at_20_bits() {
        let c: std::collections::HashMap<_, _> = counts(1_032_193).into_iter().collect();
        assert_eq!(c["add (n+n -> n+1 bits)"], 20);
        assert_eq!(c["add mod 2^n"], 19);
        assert_eq!(c["sub with borrow"], 20);
        assert_eq!(c["lt (unsigned)"], 20);
        assert_eq!(c["lt (signed)"], 20);
        assert_eq!(c["mux"], 20);
        assert_eq!(c["max (signed)"], 40);
        assert_eq!(c["relu (signed)"], 19);
        assert!(c["add mod p"] <= 60, "{c:?}");
        assert!(c["sub mod p"] <= 60, "{c:?}");
    }
}
