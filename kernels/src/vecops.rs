//! Element-wise vector arithmetic modulo q with no hand-written kernel, compiled once per
//! instruction set by `multiversion` (baseline, x86-64 AVX2, x86-64 AVX-512, aarch64 NEON) and
//! dispatched on the CPU found at run time (cached after the first call). The loops are
//! branch-free so that each build vectorises.
use multiversion::multiversion;

/// x[i] = x[i] + y[i] mod q, for x, y in [0, q), q < 2^63.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx512f+avx512dq+avx512vl", "aarch64+neon"))]
pub fn add_mod(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = (*x + y).wrapping_sub(q);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}

/// x[i] = x[i] − y[i] mod q, for x, y in [0, q), q < 2^63.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx512f+avx512dq+avx512vl", "aarch64+neon"))]
pub fn sub_mod(x: &mut [u64], y: &[u64], q: u64) {
    for (x, &y) in x.iter_mut().zip(y) {
        let t = x.wrapping_sub(y);
        *x = t.wrapping_add(q & ((t as i64) >> 63) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRng;

    #[test]
    fn add_and_sub_mod_match_the_definition() {
        let mut rng = TestRng::new(3);
        for q in [3u64, 65537, (1 << 50) - 27, (1 << 62) - 57] {
            let x = rng.vec_below(1003, q);
            let y = rng.vec_below(1003, q);
            let mut s = x.clone();
            add_mod(&mut s, &y, q);
            let mut d = x.clone();
            sub_mod(&mut d, &y, q);
            for i in 0..x.len() {
                assert_eq!(s[i] as u128, (x[i] as u128 + y[i] as u128) % q as u128);
                assert_eq!(
                    d[i] as u128,
                    (x[i] as u128 + q as u128 - y[i] as u128) % q as u128
                );
            }
        }
    }
}
