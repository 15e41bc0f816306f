//! The local stages: each party transforms its own share, no messages, no prepared state.
//! A sum-pool (avg-pool, whose integer layer is a window sum) sums the shares over each
//! window; a residual add adds two shares, each scaled by a public power of two.

/// The window sums of `x` mod p: `windows` is `[output][k2]` indices into `x`.
pub(crate) fn window_sums(x: &[u64], windows: &[usize], k2: usize, p: u64) -> Vec<u64> {
    windows
        .chunks(k2)
        .map(|w| w.iter().fold(0, |a, &i| (a + x[i]) % p))
        .collect()
}

/// `x · 2^a + y · 2^b` mod p, elementwise (a residual add on shares; a, b ≤ 24, p < 2^62).
pub(crate) fn shifted_sum(x: &[u64], y: &[u64], a: u32, b: u32, p: u64) -> Vec<u64> {
    let (fa, fb) = (u128::from((1u64 << a) % p), u128::from((1u64 << b) % p));
    let p128 = u128::from(p);
    x.iter()
        .zip(y)
        .map(|(&x, &y)| ((u128::from(x) * fa + u128::from(y) * fb) % p128) as u64)
        .collect()
}
