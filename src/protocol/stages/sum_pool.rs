//! A sum-pool stage (avg-pool, whose integer layer is a window sum): local to each party,
//! which sums its own shares over each window. No messages, no prepared state.

/// The window sums of `x` mod p: `windows` is `[output][k2]` indices into `x`.
pub(crate) fn window_sums(x: &[u64], windows: &[usize], k2: usize, p: u64) -> Vec<u64> {
    windows
        .chunks(k2)
        .map(|w| w.iter().fold(0, |a, &i| (a + x[i]) % p))
        .collect()
}
