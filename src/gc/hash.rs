//! The garbling hash: a tweakable circular-correlation-robust hash, keyed per session.
//!
//! # Construction
//! `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)` with `π = AES-128` under a [`HashKey`] — the TCCR hash of
//! Guo, Katz, Wang and Yu, "Efficient and Secure Multiparty Computation from Fixed-Key Block
//! Ciphers" (IEEE S&P 2020, eprint 2019/074, §7.4), which is tweakable circular
//! correlation robust, what half-gates needs, in the ideal-permutation model. It replaces the
//! tweaked MMO hash `π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i` used before, whose tweak and input collide
//! (`H(x, i) = H(x', i')` whenever `σ(x) ⊕ i = σ(x') ⊕ i'`), the weakness that paper points out.
//!
//! The key is drawn per session from the garbler's CSPRNG ([`crate::gc::Garbler::new_session`])
//! and is public: the evaluator receives it with the garbler's other public data
//! ([`HashKey::to_bytes`] / [`HashKey::from_bytes`]). With one fixed key, every offline
//! evaluation of π is useful against every hash of every session (the multi-instance loss
//! analysed by Guo, Katz, Wang, Weng and Yu, "Better Concrete Security for Half-Gates
//! Garbling (in the Multi-Instance Setting)", CRYPTO 2020, eprint 2019/1168); with a random
//! key per session an offline evaluation only helps against the session whose key it guesses.
//!
//! # Why not MITCCRH
//! That paper's MITCCRH, `H(x, i) = π_{S ⊕ i}(σ(x)) ⊕ σ(x)` (a random start S per session, the
//! tweak in the AES key, one AES call per hash), needs an AES key schedule per tweak, i.e. two
//! per AND gate. Through the `kernels` API (one key per `Aes128`, its schedule computed in
//! constant-time software) that measured 2.1 µs per key on the AVX-512 machine — about 4.3 µs
//! per garbled AND, against 11.8 ns/AND of hashing for this TCCR (2.9 ns per hash, four per
//! garbled AND, two per evaluated AND; vaes-512). End to end (`cargo run --release
//! --no-default-features --example gc_bench all 5`, ReLU circuits, vaes-512, shared 2-vCPU
//! AVX-512 machine): garble 17.5 ns/AND and evaluate 10.1 ns/AND, against 10.4 and 7.2 with
//! the tweaked MMO hash. This TCCR is kept. MITCCRH would need a
//! batched multi-key kernel (hardware key expansion for 8 keys interleaved with their
//! encryptions, as emp-toolkit's `AES_opt_key_schedule`).
//!
//! # Tweak domain
//! A tweak is `(2t + b, TWEAK_DOMAIN)` as two little-endian 64-bit words: `t` the AND-gate
//! counter the garbler and evaluator advance together, `b` the half gate, and the high word a
//! constant that no other user of an AES-based hash in this crate puts in its tweaks (the OT
//! hashes and the GGM PRG use small counters, high word 0).
use kernels::{Aes128, AesBackend, Block};
use rand::RngCore;

use crate::gc::error::Result;

/// High 64 bits of every garbling tweak: the garbling domain (ASCII `GCHALF`, version 1).
pub const TWEAK_DOMAIN: u64 = 0x4743_4841_4c46_0001;

/// High 64 bits of every three-halves garbling tweak (`(4t + k, TWEAK_DOMAIN_THREE_HALVES)`,
/// `k` 0, 1, 2 for the hashes of `A`, `B`, `A ⊕ B`): ASCII `GC3/2`, version 1.
pub const TWEAK_DOMAIN_THREE_HALVES: u64 = 0x4743_332f_3200_0001;

/// The key of the hash permutation π (public, 16 bytes): random per session, or the fixed
/// [`HashKey::UNKEYED`] for callers that cannot send it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashKey(Block);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({:?})", self.0)
    }
}

impl HashKey {
    /// The fixed key of garblers built without a session key ([`crate::gc::Garbler::new`],
    /// [`crate::gc::Garbler::from_seed`]) and of [`crate::gc::Evaluator::new`]: the 16 bytes
    /// of π's fractional part after those of [`kernels::aes::FIXED_KEY`] (so the garbling
    /// permutation differs from the fixed-key OT hashes' even then). Single-instance security
    /// only; a session should use a random key.
    pub const UNKEYED: HashKey = HashKey(Block::new([
        0xa4, 0x09, 0x38, 0x22, 0x29, 0x9f, 0x31, 0xd0, 0x08, 0x2e, 0xfa, 0x98, 0xec, 0x4e, 0x6c,
        0x89,
    ]));

    /// A uniformly random key from `rng` (the garbler's CSPRNG).
    pub fn random<R: RngCore>(rng: &mut R) -> HashKey {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        HashKey(Block::new(b))
    }

    /// The key's 16 bytes, as sent to the evaluator.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_bytes()
    }

    /// The key from the 16 bytes the garbler sent (any value is a valid key).
    pub fn from_bytes(bytes: [u8; 16]) -> HashKey {
        HashKey(Block::new(bytes))
    }

    /// The key as a block.
    pub fn block(self) -> Block {
        self.0
    }
}

/// The garbling hash `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)` under one [`HashKey`] (see the module docs).
#[derive(Debug)]
pub struct GcHash {
    aes: Aes128,
}

impl Clone for GcHash {
    /// A second instance with the same key on the same backend (`Aes128` itself is not
    /// `Clone`, so that its round keys are never copied around implicitly).
    fn clone(&self) -> GcHash {
        GcHash::with_backend(self.key(), self.aes.backend())
            .expect("the backend of an existing instance is available")
    }
}

impl GcHash {
    /// The hash under `key`, on the selected AES backend.
    pub fn new(key: HashKey) -> Result<GcHash> {
        Ok(GcHash::from_aes(Aes128::new(key.0)?))
    }

    /// The hash under `key` on a given backend.
    pub fn with_backend(key: HashKey, backend: AesBackend) -> Result<GcHash> {
        Ok(GcHash::from_aes(Aes128::with_backend(key.0, backend)?))
    }

    /// The hash whose permutation π is `aes` (its key is the hash key).
    pub fn from_aes(aes: Aes128) -> GcHash {
        GcHash { aes }
    }

    /// The key of π.
    pub fn key(&self) -> HashKey {
        HashKey(self.aes.round_keys()[0])
    }

    /// The AES instance π (and so the backend).
    pub fn aes(&self) -> &Aes128 {
        &self.aes
    }

    /// `xs[j] ← H(xs[j], tweaks[j])`.
    ///
    /// # Panics
    /// If `xs` and `tweaks` differ in length.
    #[inline]
    pub fn hash_many(&self, xs: &mut [Block], tweaks: &[Block]) {
        self.aes.tccr_many(xs, tweaks);
    }

    /// The tweak of half gate `b` (0: garbler half, 1: evaluator half) of AND gate `t`:
    /// `(2t + b) mod 2^64 + 2^64 · TWEAK_DOMAIN`.
    #[inline(always)]
    pub fn tweak(t: u64, b: bool) -> Block {
        kernels::aes::halfgates::tweak(t, b, TWEAK_DOMAIN)
    }

    /// Half-gates garbling of AND gates numbered from `gate` ([`Aes128::garble_ands`] with
    /// this hash's tweaks): output zero-labels to `out`, 32 table bytes per gate to `tables`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn garble_ands(
        &self,
        delta: Block,
        flips: [Block; 2],
        a: &[Block],
        b: &[Block],
        gate: u64,
        out: &mut [Block],
        tables: &mut [u8],
    ) {
        (self.aes).garble_ands(delta, flips, a, b, gate, TWEAK_DOMAIN, out, tables);
    }

    /// Three-halves garbling of AND gates numbered from `gate`
    /// ([`Aes128::garble_ands_three_halves`] in [`TWEAK_DOMAIN_THREE_HALVES`]): output
    /// zero-labels to `out`, 25 table bytes per gate to `tables`; `dice` one secret random
    /// byte per gate.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn garble_ands_three_halves(
        &self,
        delta: Block,
        flips: [Block; 2],
        a: &[Block],
        b: &[Block],
        dice: &[u8],
        gate: u64,
        out: &mut [Block],
        tables: &mut [u8],
    ) {
        (self.aes).garble_ands_three_halves(
            delta,
            flips,
            a,
            b,
            dice,
            gate,
            TWEAK_DOMAIN_THREE_HALVES,
            out,
            tables,
        );
    }

    /// Evaluation of the gates of [`GcHash::garble_ands_three_halves`].
    #[inline]
    pub fn evaluate_ands_three_halves(
        &self,
        a: &[Block],
        b: &[Block],
        tables: &[u8],
        gate: u64,
        out: &mut [Block],
    ) {
        (self.aes).evaluate_ands_three_halves(a, b, tables, gate, TWEAK_DOMAIN_THREE_HALVES, out);
    }

    /// Evaluation of the gates of [`GcHash::garble_ands`] on active labels `a`, `b`.
    #[inline]
    pub fn evaluate_ands(
        &self,
        a: &[Block],
        b: &[Block],
        tables: &[u8],
        gate: u64,
        out: &mut [Block],
    ) {
        (self.aes).evaluate_ands(a, b, tables, gate, TWEAK_DOMAIN, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn gc_hash_is_tccr_under_its_key() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let key = HashKey::random(&mut rng);
        assert_ne!(key, HashKey::random(&mut rng));
        assert_eq!(HashKey::from_bytes(key.to_bytes()), key);
        let h = GcHash::new(key).unwrap();
        assert_eq!(h.key(), key);
        let pi = Aes128::new(key.block()).unwrap();
        let xs: Vec<Block> = (0..100u128)
            .map(|i| Block::from_u128(i * 0x9e37_79b9))
            .collect();
        let tw: Vec<Block> = (0..100u64).map(|t| GcHash::tweak(t, t % 3 == 0)).collect();
        let mut got = xs.clone();
        h.hash_many(&mut got, &tw);
        for ((x, t), g) in xs.iter().zip(&tw).zip(&got) {
            let px = pi.encrypt_block(*x);
            assert_eq!(*g, pi.encrypt_block(px ^ *t) ^ px);
        }
        // Another key, another function; the tweak matters.
        let mut other = xs.clone();
        GcHash::new(HashKey::UNKEYED)
            .unwrap()
            .hash_many(&mut other, &tw);
        assert!(other.iter().zip(&got).all(|(a, b)| a != b));
        let mut shifted = xs.clone();
        h.hash_many(&mut shifted[..99], &tw[1..]);
        assert!(shifted[..99].iter().zip(&got).all(|(a, b)| a != b));
        // Tweaks: distinct per gate and half, the domain in the high word.
        assert_ne!(GcHash::tweak(5, false), GcHash::tweak(5, true));
        assert_ne!(GcHash::tweak(5, true), GcHash::tweak(6, false));
        assert_eq!(GcHash::tweak(7, true).to_u128() >> 64, TWEAK_DOMAIN as u128);
        assert_ne!(HashKey::UNKEYED.block(), kernels::aes::FIXED_KEY);
    }
}
