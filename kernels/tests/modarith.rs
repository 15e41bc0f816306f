//! Modular arithmetic against u128 reference arithmetic, for random primes and edge values.
use kernels::modarith::{Modulus32, Modulus64};
use kernels::prime::{is_prime, ntt_primes};
use proptest::prelude::*;

/// A prime near 2^bits (bits in 3..=61), found from a random starting point.
fn prime_near(bits: u32, r: u64) -> u64 {
    let lo = 1u64 << (bits - 1);
    let mut c = (lo | (r & (lo - 1))) | 1;
    while !is_prime(c) {
        c += 2;
    }
    c
}

fn primes64() -> impl Strategy<Value = u64> {
    prop_oneof![
        (3u32..=61, any::<u64>()).prop_map(|(b, r)| prime_near(b, r)),
        Just(ntt_primes(62, 2, 1)[0]), // the largest allowed: just below 2^62
        Just(18014398509309953u64),
        Just(1152921504499937281u64),
    ]
}

fn primes32() -> impl Strategy<Value = u64> {
    prop_oneof![
        (3u32..=30, any::<u64>()).prop_map(|(b, r)| prime_near(b, r)),
        Just(ntt_primes(31, 2, 1)[0]),
        Just(1032193u64),
    ]
}

/// A value in [0, q·k), biased towards the edges 0, q−1, q, 2q−1, kq−1.
fn value(q: u64, k: u64, r: u64, pick: u8) -> u64 {
    match pick % 6 {
        0 => 0,
        1 => q - 1,
        2 => k * q - 1,
        3 => (2 * q - 1).min(k * q - 1),
        _ => r % (k * q),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mod64_ops_match_u128(q in primes64(), ra in any::<u64>(), rb in any::<u64>(), pa in any::<u8>(), pb in any::<u8>()) {
        let m = Modulus64::new(q).unwrap();
        let (a, b) = (value(q, 1, ra, pa), value(q, 1, rb, pb));
        let (a4, big) = (value(q, 4, ra, pa), ra);
        let qq = q as u128;
        prop_assert_eq!(m.add(a, b) as u128, (a as u128 + b as u128) % qq);
        prop_assert_eq!(m.sub(a, b) as u128, (a as u128 + qq - b as u128) % qq);
        prop_assert_eq!(m.neg(a) as u128, (qq - a as u128) % qq);
        prop_assert_eq!(m.mul(a, b) as u128, a as u128 * b as u128 % qq);
        prop_assert_eq!(m.reduce(big) as u128, big as u128 % qq);
        let t = (ra as u128) << 64 | rb as u128;
        prop_assert_eq!(m.reduce_u128(t) as u128, t % qq);
        let lazy = m.reduce_u128_lazy(t);
        prop_assert!(lazy < 2 * q && lazy as u128 % qq == t % qq);
        // Shoup: any word times a fixed w < q.
        let ws = m.shoup(b);
        prop_assert_eq!(ws as u128, ((b as u128) << 64) / qq);
        let r = m.mul_shoup_lazy(big, b, ws);
        prop_assert!(r < 2 * q);
        prop_assert_eq!(r as u128 % qq, big as u128 * b as u128 % qq);
        prop_assert_eq!(m.mul_shoup(a4, b, ws) as u128, a4 as u128 * b as u128 % qq);
        // Montgomery: lazy input up to 4q.
        let bm = m.to_montgomery(b);
        prop_assert_eq!(m.from_montgomery(bm), b);
        let r = m.mul_montgomery_lazy(a4, bm);
        prop_assert!(r < 2 * q);
        prop_assert_eq!(r as u128 % qq, a4 as u128 * b as u128 % qq);
        prop_assert_eq!(m.mul_lazy(a4, b) as u128 % qq, a4 as u128 * b as u128 % qq);
        if a != 0 {
            prop_assert_eq!(m.mul(a, m.inv(a).unwrap()), 1);
        }
    }

    /// 52-bit Shoup (the IFMA52 butterflies' reference): q < 2^50, any a < 2^52.
    #[test]
    fn shoup52_matches_u128(bits in 3u32..=50, rq in any::<u64>(), ra in any::<u64>(), rb in any::<u64>(), pa in any::<u8>(), pb in any::<u8>()) {
        let q = if bits == 50 { ntt_primes(50, 2, 1)[0] } else { prime_near(bits, rq) };
        prop_assume!(q < 1 << 50);
        let m = Modulus64::new(q).unwrap();
        let qq = q as u128;
        let b = value(q, 1, rb, pb);
        let a = match pa % 4 {
            0 => (1 << 52) - 1, // the largest input the 52-bit multipliers take
            1 => value(q, 4, ra, pa), // lazy NTT values in [0, 4q)
            _ => ra >> 12,
        };
        let ws = m.shoup52(b);
        prop_assert_eq!(ws as u128, ((b as u128) << 52) / qq);
        let r = m.mul_shoup52_lazy(a, b, ws);
        prop_assert!(r < 2 * q);
        prop_assert_eq!(r as u128 % qq, a as u128 * b as u128 % qq);
        prop_assert_eq!(m.mul_shoup52(a, b, ws) as u128, a as u128 * b as u128 % qq);
    }

    #[test]
    fn mod32_ops_match_u64(q in primes32(), ra in any::<u64>(), rb in any::<u64>(), pa in any::<u8>(), pb in any::<u8>()) {
        let m = Modulus32::new(q).unwrap();
        let (a, b) = (value(q, 1, ra, pa) as u32, value(q, 1, rb, pb) as u32);
        let qq = q as u128;
        prop_assert_eq!(m.add(a, b) as u128, (a as u128 + b as u128) % qq);
        prop_assert_eq!(m.sub(a, b) as u128, (a as u128 + qq - b as u128) % qq);
        prop_assert_eq!(m.neg(a) as u128, (qq - a as u128) % qq);
        prop_assert_eq!(m.mul(a, b) as u128, a as u128 * b as u128 % qq);
        prop_assert_eq!(m.reduce_u64(ra) as u128, ra as u128 % qq);
        let big = ra as u32;
        let ws = m.shoup(b);
        prop_assert_eq!(ws as u64, ((b as u64) << 32) / q);
        let r = m.mul_shoup_lazy(big, b, ws);
        prop_assert!((r as u64) < 2 * q);
        prop_assert_eq!(r as u128 % qq, big as u128 * b as u128 % qq);
        prop_assert_eq!(m.mul_shoup(big, b, ws) as u128, big as u128 * b as u128 % qq);
        let bm = m.to_montgomery(b);
        prop_assert_eq!(m.from_montgomery(bm), b);
        // Montgomery lazy input: a·b < q·2^32, e.g. a < 2q for q < 2^31.
        let a2 = value(q, 2, ra, pa) as u32;
        let r = m.mul_montgomery_lazy(a2, bm);
        prop_assert!((r as u64) < 2 * q);
        prop_assert_eq!(r as u128 % qq, a2 as u128 * b as u128 % qq);
        if a != 0 {
            prop_assert_eq!(m.mul(a, m.inv(a).unwrap()), 1);
        }
    }
}

#[test]
fn moduli_reject_bad_values() {
    assert!(Modulus64::new(1 << 62).is_err());
    assert!(Modulus64::new(15).is_err());
    assert!(Modulus64::new(2).is_err());
    assert!(Modulus32::new(1 << 31).is_err());
    assert!(Modulus32::new(1032195).is_err());
}
