//! Helpers shared by tests, the `backend_check` program and benchmarks: a small seeded PRNG
//! (not for secrets) and the O(n²) negacyclic reference product.

/// SplitMix64: a fast, seedable generator for test vectors. Never use it for secrets.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A seed from the clock, for fresh randomness in tests (print it on failure).
    pub fn fresh_seed() -> u64 {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        t ^ (std::process::id() as u64).rotate_left(32)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, bound) (bias < 2^-64·bound, fine for tests).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }

    /// A vector of `n` values uniform in [0, bound).
    pub fn vec_below(&mut self, n: usize, bound: u64) -> Vec<u64> {
        (0..n).map(|_| self.below(bound)).collect()
    }
}

/// a·b in Z_q[X]/(X^n + 1) by schoolbook multiplication, O(n²); q prime < 2^62.
pub fn negacyclic_mul_naive(a: &[u64], b: &[u64], q: u64) -> Vec<u64> {
    let n = a.len();
    assert_eq!(n, b.len());
    let m = crate::modarith::Modulus64::new(q).expect("q must be a prime below 2^62");
    let mut out = vec![0u64; n];
    for (i, &ai) in a.iter().enumerate() {
        let ai = ai % q;
        for (j, &bj) in b.iter().enumerate() {
            let p = m.mul(ai, bj % q);
            let k = i + j;
            if k < n {
                out[k] = m.add(out[k], p);
            } else {
                out[k - n] = m.sub(out[k - n], p);
            }
        }
    }
    out
}
