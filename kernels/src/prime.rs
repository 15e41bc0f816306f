//! Primality, modular exponentiation and roots of unity for NTT-friendly primes.

/// `a · b mod m` through u128.
#[inline]
pub const fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

/// `base^exp mod m` (square and multiply, variable time: public values only).
pub const fn pow_mod(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Inverse of `a` modulo the prime `m` (Fermat), `None` for `a ≡ 0`.
pub const fn inv_mod_prime(a: u64, m: u64) -> Option<u64> {
    if a.is_multiple_of(m) {
        None
    } else {
        Some(pow_mod(a, m - 2, m))
    }
}

/// Deterministic Miller–Rabin for every u64 (bases of Jim Sinclair's set).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'bases: for a in [2u64, 325, 9375, 28178, 450775, 9780504, 1795265022] {
        let a = a % n;
        if a == 0 {
            continue;
        }
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

/// The smallest primitive `order`-th root of unity mod the prime `q`, where `order` is a power
/// of two dividing `q − 1`; `None` if `order ∤ q − 1`.
pub fn primitive_root_of_unity(order: u64, q: u64) -> Option<u64> {
    if order < 2 || !order.is_power_of_two() || !(q - 1).is_multiple_of(order) {
        return None;
    }
    let cofactor = (q - 1) / order;
    // x^((q-1)/order) has order dividing `order`; it is primitive iff its (order/2)-th power is −1.
    let mut best: Option<u64> = None;
    for x in 2..q.min(1 << 20) {
        let r = pow_mod(x, cofactor, q);
        if pow_mod(r, order / 2, q) == q - 1 {
            // Every primitive root is r^odd; take the smallest for determinism.
            let r2 = mul_mod(r, r, q);
            let mut cand = r;
            let mut min = r;
            for _ in 0..order / 2 {
                min = min.min(cand);
                cand = mul_mod(cand, r2, q);
            }
            best = Some(min);
            break;
        }
    }
    best
}

/// The `count` largest primes below `2^bits` that are ≡ 1 mod `modulus_of` (e.g. 2n), descending.
pub fn ntt_primes(bits: u32, modulus_of: u64, count: usize) -> Vec<u64> {
    assert!((2..=63).contains(&bits), "bits must be in 2..=63");
    let mut out = Vec::with_capacity(count);
    let top = 1u64 << bits;
    // Largest candidate ≡ 1 mod `modulus_of` below 2^bits.
    let mut c = top - (top - 1) % modulus_of;
    if c >= top {
        c -= modulus_of;
    }
    while out.len() < count && c > modulus_of {
        if is_prime(c) {
            out.push(c);
        }
        c -= modulus_of;
    }
    out
}

/// Reverses the low `bits` bits of `x`.
#[inline]
pub const fn bit_reverse(x: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        x.reverse_bits() >> (usize::BITS - bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_primes() {
        for p in [
            2u64,
            3,
            65537,
            557057,
            1032193,
            18014398509309953,
            18014398509293569,
            1152921504499937281,
        ] {
            assert!(is_prime(p), "{p}");
        }
        for c in [
            0u64,
            1,
            4,
            561,
            1105,
            3215031751,
            18014398509309951,
            u64::MAX,
        ] {
            assert!(!is_prime(c), "{c}");
        }
    }

    #[test]
    fn roots_of_unity() {
        for (q, order) in [
            (1032193u64, 8192u64),
            (18014398509309953, 8192),
            (1152921504499937281, 4096),
        ] {
            let r = primitive_root_of_unity(order, q).unwrap();
            assert_eq!(pow_mod(r, order, q), 1);
            assert_eq!(pow_mod(r, order / 2, q), q - 1);
        }
        assert!(primitive_root_of_unity(1 << 20, 1032193).is_none());
    }

    #[test]
    fn ntt_prime_search() {
        let ps = ntt_primes(30, 8192, 3);
        assert_eq!(ps.len(), 3);
        for p in ps {
            assert!(is_prime(p) && p % 8192 == 1 && p < 1 << 30 && p > 1 << 29);
        }
    }
}
