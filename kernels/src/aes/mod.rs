//! Fixed-key AES-128 and the hashes built on it, for garbled circuits and OT extension.
//!
//! * [`Aes128`] — AES-128 encryption (a keyed permutation π) of one block, of a fixed batch
//!   (`encrypt_blocks::<N>`, N = 1, 2, 4, 8 keep that many blocks in flight), or of any slice
//!   (`encrypt_many`, batched 8–32 blocks at a time by the backend).
//! * Hashes, each batched over slices so one call keeps the AES pipeline full
//!   (Guo–Katz–Wang–Yu, "Efficient and Secure Multiparty Computation from Fixed-Key Block
//!   Ciphers", eprint 2019/074; σ is [`Block::sigma`]):
//!   * [`Aes128::cr_many`] — `π(x) ⊕ x`, correlation robust (§7.2);
//!   * [`Aes128::ccr_many`] — `π(σ(x)) ⊕ σ(x)`, circular correlation robust (§7.3);
//!   * [`Aes128::tccr_many`] — `π(π(x) ⊕ i) ⊕ π(x)`, the tweakable CCR hash of §7.4 (two AES
//!     calls; secure for adversarially chosen inputs and tweaks);
//!   * [`Aes128::tmmo_many`] — `π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i`, one AES call: the hash half-gates
//!     garbling uses. It is a function of `σ(x) ⊕ i` only, so it is *not* a TCCR against an
//!     adversary choosing its inputs (`H(x, i) = H(x ⊕ σ⁻¹(i ⊕ i'), i')`); it is sound for
//!     semi-honest garbling, where every query is a random label (or label ⊕ Δ) and each tweak is
//!     used for one gate only, so such a collision needs a linear relation between independent
//!     random labels, which happens with probability ≈ 2^-128 per pair.
//!
//! # Backends
//! [`AesBackend`] names the implementations: `Portable` (constant-time bitsliced Rust),
//! `AesNi`, `Vaes256`, `Vaes512` (x86-64) and `ArmV8` (aarch64 crypto extension). The crate-wide
//! [`Backend`] choice (`GAZELLE_BACKEND`) maps onto them with [`AesBackend::for_backend`]:
//! `scalar` → portable, `avx2` → VAES-256 when the CPU has VAES else AES-NI, `avx512` → VAES-512,
//! `neon` → ARMv8 AES (each falling back to the portable code when its AES instructions are
//! missing). A hardware backend runs only with the [`crate::isa`] token of its features, which
//! [`Aes128::with_backend`] obtains (or fails) once.
use crate::backend::Backend;
use crate::block::Block;
use crate::error::KernelError;
use zeroize::Zeroize;

/// What a hardware kernel does to each block (its `MODE` const parameter).
pub(crate) mod mode {
    /// `x ← π(x)`.
    pub(crate) const ENCRYPT: u8 = 0;
    /// `x ← π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i` ([`super::Aes128::tmmo_many`]).
    pub(crate) const TMMO: u8 = 1;
    /// `x ← π(π(x) ⊕ i) ⊕ π(x)` ([`super::Aes128::tccr_many`]), both passes in registers.
    pub(crate) const TCCR: u8 = 2;
}

#[cfg(target_arch = "aarch64")]
mod aarch64;
pub mod halfgates;
mod portable;
pub mod threehalves;
#[cfg(target_arch = "x86_64")]
mod x86_aesni;
#[cfg(target_arch = "x86_64")]
mod x86_halfgates;
#[cfg(target_arch = "x86_64")]
mod x86_threehalves;
#[cfg(target_arch = "x86_64")]
mod x86_vaes;

/// An AES-128 implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AesBackend {
    /// Bitsliced, constant-time portable Rust (slow; the reference).
    Portable,
    /// x86-64 AES-NI on 128-bit registers.
    AesNi,
    /// x86-64 VAES on 256-bit registers (two blocks per instruction).
    Vaes256,
    /// x86-64 VAES on 512-bit registers (four blocks per instruction), needs AVX-512F.
    Vaes512,
    /// aarch64 ARMv8 cryptographic extension (`aese`/`aesmc`).
    ArmV8,
}

impl AesBackend {
    /// Every AES backend.
    pub const ALL: [AesBackend; 5] = [
        AesBackend::Portable,
        AesBackend::AesNi,
        AesBackend::Vaes256,
        AesBackend::Vaes512,
        AesBackend::ArmV8,
    ];

    /// Name used in reports and benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            AesBackend::Portable => "portable",
            AesBackend::AesNi => "aes-ni",
            AesBackend::Vaes256 => "vaes-256",
            AesBackend::Vaes512 => "vaes-512",
            AesBackend::ArmV8 => "armv8-aes",
        }
    }

    /// The CPU features this backend needs.
    pub const fn needs(self) -> &'static str {
        match self {
            AesBackend::Portable => "nothing",
            AesBackend::AesNi => "x86-64 with aes",
            AesBackend::Vaes256 => "x86-64 with aes, vaes and avx2",
            AesBackend::Vaes512 => "x86-64 with aes, vaes and avx512f",
            AesBackend::ArmV8 => "aarch64 with neon and aes",
        }
    }

    /// Whether the running CPU executes this backend (std caches the feature probes).
    pub fn is_available(self) -> bool {
        Engine::new(self).is_some()
    }

    /// `self` if the CPU runs it, else [`KernelError::BackendUnavailable`].
    pub fn check(self) -> Result<AesBackend, KernelError> {
        KernelError::require(self, self.is_available(), self.name(), self.needs())
    }

    /// The AES backends this CPU runs, portable first.
    pub fn available() -> Vec<AesBackend> {
        AesBackend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    /// The AES implementation that goes with a kernel backend on this CPU: `scalar` → portable
    /// (even when the CPU has AES instructions), `avx2` → VAES-256 if present else AES-NI,
    /// `avx512` → VAES-512 if present else as `avx2`, `neon` → ARMv8 AES. Falls back to the
    /// portable code when the CPU lacks the instructions.
    pub fn for_backend(backend: Backend) -> AesBackend {
        let first_available = |list: &[AesBackend]| {
            list.iter()
                .copied()
                .find(|b| b.is_available())
                .unwrap_or(AesBackend::Portable)
        };
        match backend {
            Backend::Scalar => AesBackend::Portable,
            Backend::Avx2 => first_available(&[AesBackend::Vaes256, AesBackend::AesNi]),
            Backend::Avx512 => {
                first_available(&[AesBackend::Vaes512, AesBackend::Vaes256, AesBackend::AesNi])
            }
            Backend::Neon => first_available(&[AesBackend::ArmV8]),
        }
    }

    /// The AES backend of the process-wide kernel backend ([`Backend::selected`]: detection or
    /// `GAZELLE_BACKEND`).
    pub fn selected() -> Result<AesBackend, KernelError> {
        Backend::selected().map(AesBackend::for_backend)
    }
}

impl std::fmt::Display for AesBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fixed, public key of the garbling hash (any fixed key works in the ideal-permutation
/// analysis of GKWY; this one is the first 16 hex digits of π's fractional part).
pub const FIXED_KEY: Block = Block::new([
    0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3, 0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44,
]);

/// Blocks hashed per inner step of the batched hashes (stack buffer size).
const HASH_CHUNK: usize = 64;

/// AES-128 with an expanded key and a backend checked against this CPU.
///
/// Not `Clone` (a copy of a secret key, e.g. an OT PRG seed, would outlive the original's
/// wiping); the round keys (and the portable code's bitsliced keys) are zeroized on drop.
pub struct Aes128 {
    round_keys: [Block; 11],
    engine: Engine,
    backend: AesBackend,
}

/// The implementation an [`Aes128`] runs: the portable code with its bitsliced keys, or a
/// hardware one with the [`crate::isa`] token that allows it.
enum Engine {
    /// Built by [`Aes128::with_backend`] only (the keys need the round keys).
    Portable(Option<Box<portable::PlaneKeys>>),
    #[cfg(target_arch = "x86_64")]
    AesNi(crate::isa::AesNi),
    #[cfg(target_arch = "x86_64")]
    Vaes256(crate::isa::Vaes256),
    #[cfg(target_arch = "x86_64")]
    Vaes512(crate::isa::Vaes512),
    #[cfg(target_arch = "aarch64")]
    ArmV8(crate::isa::ArmAes),
}

impl Engine {
    /// The engine of `backend` (portable without its keys yet), `None` if the CPU lacks it.
    fn new(backend: AesBackend) -> Option<Engine> {
        match backend {
            AesBackend::Portable => Some(Engine::Portable(None)),
            #[cfg(target_arch = "x86_64")]
            AesBackend::AesNi => crate::isa::AesNi::try_new().map(Engine::AesNi),
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes256 => crate::isa::Vaes256::try_new().map(Engine::Vaes256),
            #[cfg(target_arch = "x86_64")]
            AesBackend::Vaes512 => crate::isa::Vaes512::try_new().map(Engine::Vaes512),
            #[cfg(target_arch = "aarch64")]
            AesBackend::ArmV8 => crate::isa::ArmAes::try_new().map(Engine::ArmV8),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

impl Drop for Aes128 {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Aes128 {
    /// Overwrites the round keys and the portable code's bitsliced keys with zeros (volatile
    /// writes, not elided): what `drop` does.
    fn wipe(&mut self) {
        self.round_keys.zeroize();
        if let Engine::Portable(Some(planes)) = &mut self.engine {
            (**planes).zeroize();
        }
    }
}

impl zeroize::ZeroizeOnDrop for Aes128 {}

impl std::fmt::Debug for Aes128 {
    /// Shows the backend only: the key may be secret (an OT PRG seed).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aes128")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Aes128 {
    /// AES-128 under `key` with the selected backend ([`AesBackend::selected`]).
    pub fn new(key: Block) -> Result<Aes128, KernelError> {
        Aes128::with_backend(key, AesBackend::selected()?)
    }

    /// AES-128 under `key` with a given backend; an error if the CPU lacks it.
    pub fn with_backend(key: Block, backend: AesBackend) -> Result<Aes128, KernelError> {
        let mut engine = Engine::new(backend).ok_or(KernelError::BackendUnavailable {
            name: backend.name(),
            needs: backend.needs(),
        })?;
        let round_keys = portable::expand_key(key);
        if let Engine::Portable(planes) = &mut engine {
            *planes = Some(Box::new(portable::PlaneKeys::new(&round_keys)));
        }
        Ok(Aes128 {
            round_keys,
            engine,
            backend,
        })
    }

    /// The fixed-key permutation π = AES-128 under [`FIXED_KEY`], selected backend.
    pub fn fixed() -> Result<Aes128, KernelError> {
        Aes128::new(FIXED_KEY)
    }

    /// The backend this instance runs on.
    pub fn backend(&self) -> AesBackend {
        self.backend
    }

    /// The 11 round keys (FIPS-197 key schedule; `round_keys()[0]` is the key).
    pub fn round_keys(&self) -> &[Block; 11] {
        &self.round_keys
    }

    /// Encrypts every block of `blocks` in place (the backend keeps 8–32 blocks in flight).
    #[inline]
    pub fn encrypt_many(&self, blocks: &mut [Block]) {
        self.process::<{ mode::ENCRYPT }>(blocks, &[]);
    }

    /// The dispatch point: encryption or a fused hash ([`mode`]; the hardware kernels keep
    /// each block in registers from its first round to its output).
    #[inline]
    fn process<const MODE: u8>(&self, blocks: &mut [Block], tweaks: &[Block]) {
        debug_assert!(MODE == mode::ENCRYPT || blocks.len() == tweaks.len());
        let rk = &self.round_keys;
        match &self.engine {
            Engine::Portable(planes) => match planes {
                Some(p) if MODE == mode::TMMO => portable_tmmo(p, blocks, tweaks),
                Some(_) if MODE == mode::TCCR => self.tccr_two_pass(blocks, tweaks),
                Some(p) => portable::encrypt_blocks(p, blocks),
                None => unreachable!("portable AES is built with its plane keys"),
            },
            // SAFETY: the token proves the features; unless ENCRYPT the lengths match
            // (asserted by the public callers).
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(t) => unsafe {
                x86_aesni::process_blocks::<MODE>(*t, rk, blocks, tweaks)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(t) => unsafe {
                x86_vaes::process_blocks_256::<MODE>(*t, rk, blocks, tweaks)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(t) => unsafe {
                x86_vaes::process_blocks_512::<MODE>(*t, rk, blocks, tweaks)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "aarch64")]
            Engine::ArmV8(t) => unsafe { aarch64::process_blocks::<MODE>(*t, rk, blocks, tweaks) },
        }
    }

    /// Counter mode: `out[j] = π(counter + j)` (the counter as a little-endian 128-bit
    /// integer, wrapping), returning the next counter. With a secret uniformly random key this
    /// is a PRG (AES-CTR), e.g. for garbled-circuit labels or OT extension's seed expansion.
    pub fn ctr_many(&self, counter: u128, out: &mut [Block]) -> u128 {
        let mut c = counter;
        for b in out.iter_mut() {
            *b = Block::from_u128(c);
            c = c.wrapping_add(1);
        }
        self.encrypt_many(out);
        c
    }

    /// Encrypts a fixed batch of `N` blocks in place (N = 1, 2, 4 or 8 is the intended use:
    /// that many independent blocks go through the rounds together).
    #[inline]
    pub fn encrypt_blocks<const N: usize>(&self, blocks: &mut [Block; N]) {
        self.encrypt_many(blocks);
    }

    /// Encrypts one block.
    #[inline]
    pub fn encrypt_block(&self, block: Block) -> Block {
        let mut b = [block];
        self.encrypt_many(&mut b);
        b[0]
    }

    /// Correlation-robust hash `π(x) ⊕ x` (GKWY §7.2), of every block in place.
    pub fn cr_many(&self, xs: &mut [Block]) {
        let mut buf = [Block::ZERO; HASH_CHUNK];
        for xc in xs.chunks_mut(HASH_CHUNK) {
            let buf = &mut buf[..xc.len()];
            buf.copy_from_slice(xc);
            self.encrypt_many(buf);
            for (x, h) in xc.iter_mut().zip(buf.iter()) {
                *x ^= *h;
            }
        }
    }

    /// Circular-correlation-robust hash `π(σ(x)) ⊕ σ(x)` (GKWY §7.3), in place.
    pub fn ccr_many(&self, xs: &mut [Block]) {
        let mut buf = [Block::ZERO; HASH_CHUNK];
        for xc in xs.chunks_mut(HASH_CHUNK) {
            let buf = &mut buf[..xc.len()];
            for (x, b) in xc.iter_mut().zip(buf.iter_mut()) {
                *x = x.sigma();
                *b = *x;
            }
            self.encrypt_many(buf);
            for (x, h) in xc.iter_mut().zip(buf.iter()) {
                *x ^= *h;
            }
        }
    }

    /// Tweakable circular-correlation-robust hash `π(π(x) ⊕ i) ⊕ π(x)` (GKWY §7.4; two AES
    /// calls per block), `xs[j] ← H(xs[j], tweaks[j])`.
    ///
    /// # Panics
    /// If `xs` and `tweaks` differ in length.
    pub fn tccr_many(&self, xs: &mut [Block], tweaks: &[Block]) {
        assert_eq!(xs.len(), tweaks.len(), "tccr_many: one tweak per block");
        self.process::<{ mode::TCCR }>(xs, tweaks);
    }

    /// [`Aes128::tccr_many`] as two encryption passes through a stack buffer (the portable
    /// backend's way; the reference the fused kernels are tested against).
    fn tccr_two_pass(&self, xs: &mut [Block], tweaks: &[Block]) {
        let mut buf = [Block::ZERO; HASH_CHUNK];
        for (xc, tc) in xs.chunks_mut(HASH_CHUNK).zip(tweaks.chunks(HASH_CHUNK)) {
            self.encrypt_many(xc);
            let buf = &mut buf[..xc.len()];
            for ((b, x), t) in buf.iter_mut().zip(xc.iter()).zip(tc) {
                *b = *x ^ *t;
            }
            self.encrypt_many(buf);
            for (x, h) in xc.iter_mut().zip(buf.iter()) {
                *x ^= *h;
            }
        }
    }

    /// Tweaked MMO hash with the orthomorphism, `π(σ(x) ⊕ i) ⊕ σ(x) ⊕ i` (one AES call per
    /// block), `xs[j] ← H(xs[j], tweaks[j])`: the half-gates hash (see the module docs for
    /// when it is sound).
    ///
    /// # Panics
    /// If `xs` and `tweaks` differ in length.
    #[inline]
    pub fn tmmo_many(&self, xs: &mut [Block], tweaks: &[Block]) {
        assert_eq!(xs.len(), tweaks.len(), "tmmo_many: one tweak per block");
        self.process::<{ mode::TMMO }>(xs, tweaks);
    }

    /// Garbles `n = a.len()` AND gates with half gates (Zahur–Rosulek–Evans) under the TCCR
    /// hash, gate `k` numbered `gate + k` (tweaks [`halfgates::tweak`] in `domain`):
    /// `a[k] ⊕ flips[0]` and `b[k] ⊕ flips[1]` are the operands' zero-labels (a flip of Δ
    /// complements an operand), `delta` the free-XOR offset (its lsb set). Writes the output
    /// zero-labels to `out` and the two half-tables `T_G ‖ T_E` of each gate to
    /// `tables[32k..32k + 32]`. The x86-64 backends run a fused kernel (labels, tweaks,
    /// hashes and tables stay in registers); the others batch [`Aes128::tccr_many`]
    /// ([`halfgates`]).
    ///
    /// # Panics
    /// If `b` or `out` differ from `a` in length, or `tables.len() != 32 · a.len()`.
    #[allow(clippy::too_many_arguments)]
    pub fn garble_ands(
        &self,
        delta: Block,
        flips: [Block; 2],
        a: &[Block],
        b: &[Block],
        gate: u64,
        domain: u64,
        out: &mut [Block],
        tables: &mut [u8],
    ) {
        let n = a.len();
        assert!(
            b.len() == n && out.len() == n && tables.len() == halfgates::TABLE_BYTES * n,
            "garble_ands: {n} gates need as many labels and outputs and {} table bytes",
            halfgates::TABLE_BYTES * n
        );
        // Only the x86-64 kernels take them bundled.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
        let (keys, ops) = ((delta, flips), (a, b));
        match &self.engine {
            // SAFETY: the token proves AES-NI; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(t) => unsafe {
                x86_halfgates::garble_aesni(*t, self, keys, ops, gate, domain, out, tables)
            },
            // SAFETY: the token proves VAES and AVX2; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(t) => unsafe {
                x86_halfgates::garble_vaes256(*t, self, keys, ops, gate, domain, out, tables)
            },
            // SAFETY: the token proves VAES and AVX-512F; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(t) => unsafe {
                x86_halfgates::garble_vaes512(*t, self, keys, ops, gate, domain, out, tables)
            },
            _ => halfgates::garble(self, delta, flips, a, b, gate, domain, out, tables),
        }
    }

    /// Evaluates `n = a.len()` half-gates AND gates garbled by [`Aes128::garble_ands`] (same
    /// `gate` and `domain`): `a[k]`, `b[k]` the operands' active labels, `tables` the gates'
    /// `32 · n` bytes; writes the output active labels to `out`.
    ///
    /// # Panics
    /// If `b` or `out` differ from `a` in length, or `tables.len() != 32 · a.len()`.
    pub fn evaluate_ands(
        &self,
        a: &[Block],
        b: &[Block],
        tables: &[u8],
        gate: u64,
        domain: u64,
        out: &mut [Block],
    ) {
        let n = a.len();
        assert!(
            b.len() == n && out.len() == n && tables.len() == halfgates::TABLE_BYTES * n,
            "evaluate_ands: {n} gates need as many labels and outputs and {} table bytes",
            halfgates::TABLE_BYTES * n
        );
        match &self.engine {
            // SAFETY: the token proves AES-NI; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(t) => unsafe {
                x86_halfgates::evaluate_aesni(*t, self, (a, b), tables, gate, domain, out)
            },
            // SAFETY: the token proves VAES and AVX2; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(t) => unsafe {
                x86_halfgates::evaluate_vaes256(*t, self, (a, b), tables, gate, domain, out)
            },
            // SAFETY: the token proves VAES and AVX-512F; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(t) => unsafe {
                x86_halfgates::evaluate_vaes512(*t, self, (a, b), tables, gate, domain, out)
            },
            _ => halfgates::evaluate(self, a, b, tables, gate, domain, out),
        }
    }

    /// Garbles `n = a.len()` AND gates with three-halves garbling (Rosulek–Roy; see
    /// [`threehalves`]) under the TCCR hash, gate `k` numbered `gate + k` (tweaks
    /// [`threehalves::tweak`] in `domain`): operands and `flips` as in
    /// [`Aes128::garble_ands`], `dice[k]` a secret random byte per gate (its two low bits are
    /// the gate's dice). Writes the output zero-labels to `out` and 25 table bytes per gate to
    /// `tables`, laid out by region ([`threehalves::regions`]). The x86-64 backends run a
    /// fused kernel (masks instead of per-case tables); the others batch
    /// [`Aes128::tccr_many`] ([`threehalves`]).
    ///
    /// # Panics
    /// If `b`, `dice` or `out` differ from `a` in length, or `tables.len() != 25 · a.len()`.
    #[allow(clippy::too_many_arguments)]
    pub fn garble_ands_three_halves(
        &self,
        delta: Block,
        flips: [Block; 2],
        a: &[Block],
        b: &[Block],
        dice: &[u8],
        gate: u64,
        domain: u64,
        out: &mut [Block],
        tables: &mut [u8],
    ) {
        let n = a.len();
        assert!(
            b.len() == n
                && dice.len() == n
                && out.len() == n
                && tables.len() == threehalves::TABLE_BYTES * n,
            "garble_ands_three_halves: {n} gates need as many labels, dice and outputs and {} \
             table bytes",
            threehalves::TABLE_BYTES * n
        );
        // Only the x86-64 kernels take them bundled.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
        let (keys, ops) = ((delta, flips), (a, b, dice));
        match &self.engine {
            // SAFETY: the token proves AES-NI; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(t) => unsafe {
                x86_threehalves::garble_aesni(*t, self, keys, ops, gate, domain, out, tables)
            },
            // SAFETY: the token proves VAES and AVX2; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(t) => unsafe {
                x86_threehalves::garble_vaes256(*t, self, keys, ops, gate, domain, out, tables)
            },
            // SAFETY: the token proves VAES and AVX-512F; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(t) => unsafe {
                x86_threehalves::garble_vaes512(*t, self, keys, ops, gate, domain, out, tables)
            },
            _ => {
                let regions = threehalves::regions_mut(tables, n);
                threehalves::garble(self, delta, flips, a, b, dice, gate, domain, out, regions)
            }
        }
    }

    /// Evaluates the gates of [`Aes128::garble_ands_three_halves`] on active labels `a`, `b`.
    ///
    /// # Panics
    /// If `b` or `out` differ from `a` in length, or `tables.len() != 25 · a.len()`.
    pub fn evaluate_ands_three_halves(
        &self,
        a: &[Block],
        b: &[Block],
        tables: &[u8],
        gate: u64,
        domain: u64,
        out: &mut [Block],
    ) {
        let n = a.len();
        assert!(
            b.len() == n && out.len() == n && tables.len() == threehalves::TABLE_BYTES * n,
            "evaluate_ands_three_halves: {n} gates need as many labels and outputs and {} \
             table bytes",
            threehalves::TABLE_BYTES * n
        );
        match &self.engine {
            // SAFETY: the token proves AES-NI; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(t) => unsafe {
                x86_threehalves::evaluate_aesni(*t, self, (a, b), tables, gate, domain, out)
            },
            // SAFETY: the token proves VAES and AVX2; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes256(t) => unsafe {
                x86_threehalves::evaluate_vaes256(*t, self, (a, b), tables, gate, domain, out)
            },
            // SAFETY: the token proves VAES and AVX-512F; the lengths are checked above.
            #[cfg(target_arch = "x86_64")]
            Engine::Vaes512(t) => unsafe {
                x86_threehalves::evaluate_vaes512(*t, self, (a, b), tables, gate, domain, out)
            },
            _ => {
                let regions = threehalves::regions(tables, n);
                threehalves::evaluate(self, a, b, regions, gate, domain, out)
            }
        }
    }

    /// One-block [`Aes128::tccr_many`].
    pub fn tccr(&self, x: Block, tweak: Block) -> Block {
        let mut b = [x];
        self.tccr_many(&mut b, &[tweak]);
        b[0]
    }

    /// One-block [`Aes128::tmmo_many`].
    pub fn tmmo(&self, x: Block, tweak: Block) -> Block {
        let mut b = [x];
        self.tmmo_many(&mut b, &[tweak]);
        b[0]
    }
}

/// The tweaked-MMO hash on the portable backend, through a stack buffer.
fn portable_tmmo(keys: &portable::PlaneKeys, xs: &mut [Block], tweaks: &[Block]) {
    let mut buf = [Block::ZERO; HASH_CHUNK];
    for (xc, tc) in xs.chunks_mut(HASH_CHUNK).zip(tweaks.chunks(HASH_CHUNK)) {
        let buf = &mut buf[..xc.len()];
        for ((b, x), t) in buf.iter_mut().zip(xc.iter_mut()).zip(tc) {
            *x = x.sigma() ^ *t;
            *b = *x;
        }
        portable::encrypt_blocks(keys, buf);
        for (x, h) in xc.iter_mut().zip(buf.iter()) {
            *x ^= *h;
        }
    }
}

/// FIPS-197 known-answer vectors `(key, plaintext, ciphertext)`: Appendix C.1 and Appendix B.
pub const FIPS197_VECTORS: [([u8; 16], [u8; 16], [u8; 16]); 2] = [
    (
        [
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
            0x0e, 0x0f,
        ],
        [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ],
        [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ],
    ),
    (
        [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ],
        [
            0x32, 0x43, 0xf6, 0xa8, 0x88, 0x5a, 0x30, 0x8d, 0x31, 0x31, 0x98, 0xa2, 0xe0, 0x37,
            0x07, 0x34,
        ],
        [
            0x39, 0x25, 0x84, 0x1d, 0x02, 0xdc, 0x09, 0xfb, 0xdc, 0x11, 0x85, 0x97, 0x19, 0x6a,
            0x0b, 0x32,
        ],
    ),
];

/// Deterministic test data (splitmix64), not for cryptographic use.
fn test_blocks(seed: u64, n: usize) -> Vec<Block> {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n).map(|_| Block::from_u64s(next(), next())).collect()
}

/// Checks one backend: FIPS-197 vectors, fixed batches of 1/2/4/8, slices of every length up to
/// 70, the four hashes and half-gates garbling, all against the portable implementation.
fn check_backend(backend: AesBackend) -> Result<(), String> {
    let fail = |what: &str| format!("AES backend {backend}: {what} mismatch");
    for (key, pt, ct) in FIPS197_VECTORS {
        let aes = Aes128::with_backend(Block::new(key), backend).map_err(|e| e.to_string())?;
        if aes.encrypt_block(Block::new(pt)) != Block::new(ct) {
            return Err(fail("FIPS-197 known answer"));
        }
    }
    let key = test_blocks(1, 1)[0];
    let aes = Aes128::with_backend(key, backend).map_err(|e| e.to_string())?;
    let reference = Aes128::with_backend(key, AesBackend::Portable).map_err(|e| e.to_string())?;
    let data = test_blocks(2, 70);
    let tweaks = test_blocks(3, 70);
    macro_rules! batch {
        ($($n:literal),*) => {$({
            let mut a: [Block; $n] = core::array::from_fn(|i| data[i]);
            let mut b = a;
            aes.encrypt_blocks::<$n>(&mut a);
            reference.encrypt_blocks::<$n>(&mut b);
            if a != b {
                return Err(fail(concat!("batch of ", $n)));
            }
        })*};
    }
    batch!(1, 2, 4, 8);
    for len in 0..=data.len() {
        let mut a = data[..len].to_vec();
        let mut b = a.clone();
        aes.encrypt_many(&mut a);
        reference.encrypt_many(&mut b);
        if a != b {
            return Err(fail(&format!("slice of {len}")));
        }
    }
    type HashFn = fn(&Aes128, &mut [Block], &[Block]);
    let hashes: [(&str, HashFn); 4] = [
        ("cr", |a, x, _| a.cr_many(x)),
        ("ccr", |a, x, _| a.ccr_many(x)),
        ("tccr", |a, x, t| a.tccr_many(x, t)),
        ("tmmo", |a, x, t| a.tmmo_many(x, t)),
    ];
    for (name, h) in hashes {
        // Every length, so that each kernel's tail paths run.
        for len in 0..=data.len() {
            let mut a = data[..len].to_vec();
            let mut b = a.clone();
            h(&aes, &mut a, &tweaks[..len]);
            h(&reference, &mut b, &tweaks[..len]);
            if a != b {
                return Err(fail(&format!("{name} of {len} blocks")));
            }
        }
    }
    check_half_gates(&aes, &reference).map_err(|e| fail(&e))?;
    check_three_halves(&aes, &reference).map_err(|e| fail(&e))
}

/// Half-gates garbling and evaluation of `aes` against `reference` (the portable backend)
/// at every gate count 0..=35 (each kernel's tail paths), complemented operands or not, gate
/// numbers across 2^64; and the evaluated label of every gate is its zero-label ⊕ (a ∧ b)·Δ.
/// Three-halves gates of `aes` against the portable composition `reference`: every gate count
/// 0..=75 (whole steps of every width and every tail), complemented operands, gate numbers
/// across 2^64, random dice, and the AND semantics of every evaluated label.
fn check_three_halves(aes: &Aes128, reference: &Aes128) -> Result<(), String> {
    let delta = test_blocks(14, 1)[0].with_lsb(true);
    let (a, b) = (test_blocks(15, 75), test_blocks(16, 75));
    let dice: Vec<u8> = test_blocks(17, 75)
        .iter()
        .map(|x| x.as_bytes()[3])
        .collect();
    let (bits_a, bits_b) = (
        test_blocks(18, 1)[0].to_u128(),
        test_blocks(19, 1)[0].to_u128(),
    );
    let domain = 0x4743_332f_3200_0001;
    for (len, inv) in (0..=75).zip([0u8, 1, 2, 3].into_iter().cycle()) {
        let flips = [delta.and_bit(inv & 1 == 1), delta.and_bit(inv & 2 == 2)];
        let gate = (u64::MAX - 40).wrapping_add(len as u64 * 0x1_0000_0001);
        let mut outs = [vec![Block::ZERO; len], vec![Block::ZERO; len]];
        let bytes = threehalves::TABLE_BYTES * len;
        let mut tables = [vec![0u8; bytes], vec![0u8; bytes]];
        for ((x, out), t) in [aes, reference].iter().zip(&mut outs).zip(&mut tables) {
            let (a, b, d) = (&a[..len], &b[..len], &dice[..len]);
            x.garble_ands_three_halves(delta, flips, a, b, d, gate, domain, out, t);
        }
        if outs[0] != outs[1] || tables[0] != tables[1] {
            return Err(format!("three-halves garbling of {len} gates"));
        }
        let active = |zero: &[Block], bits: u128, flip: Block| -> Vec<Block> {
            let z = zero.iter().map(|l| *l ^ flip);
            z.enumerate()
                .map(|(k, l)| l ^ delta.and_bit(bits >> k & 1 == 1))
                .collect()
        };
        let xa = active(&a[..len], bits_a, flips[0]);
        let xb = active(&b[..len], bits_b, flips[1]);
        let mut got = [vec![Block::ZERO; len], vec![Block::ZERO; len]];
        for (x, g) in [aes, reference].iter().zip(&mut got) {
            x.evaluate_ands_three_halves(&xa, &xb, &tables[0], gate, domain, g);
        }
        if got[0] != got[1] {
            return Err(format!("three-halves evaluation of {len} gates"));
        }
        for (k, (g, zero)) in got[0].iter().zip(&outs[0]).enumerate() {
            let and = (bits_a >> k) & (bits_b >> k) & 1 == 1;
            if *g != *zero ^ delta.and_bit(and) {
                return Err(format!(
                    "three-halves gate {k} of {len}: wrong output label"
                ));
            }
        }
    }
    Ok(())
}

fn check_half_gates(aes: &Aes128, reference: &Aes128) -> Result<(), String> {
    let delta = test_blocks(4, 1)[0].with_lsb(true);
    let (a, b) = (test_blocks(5, 35), test_blocks(6, 35));
    let bits = test_blocks(7, 1)[0].to_u128();
    let domain = 0x4743_4841_4c46_0001;
    for (len, inv) in (0..=35).zip([0u8, 1, 2, 3].into_iter().cycle()) {
        let flips = [delta.and_bit(inv & 1 == 1), delta.and_bit(inv & 2 == 2)];
        let gate = (u64::MAX - 20).wrapping_add(len as u64 * 0x1_0000_0001);
        let mut outs = [vec![Block::ZERO; len], vec![Block::ZERO; len]];
        let mut tables = [vec![0u8; 32 * len], vec![0u8; 32 * len]];
        for ((x, out), t) in [aes, reference].iter().zip(&mut outs).zip(&mut tables) {
            x.garble_ands(delta, flips, &a[..len], &b[..len], gate, domain, out, t);
        }
        if outs[0] != outs[1] || tables[0] != tables[1] {
            return Err(format!("half-gates garbling of {len} gates"));
        }
        // Active labels: operand k carries bits k and k + 64 of `bits` (before any flip).
        let bit = |k: usize| bits >> k & 1 == 1;
        let active = |zero: &[Block], shift: usize, flip: Block| -> Vec<Block> {
            let z = zero.iter().map(|l| *l ^ flip);
            z.enumerate()
                .map(|(k, l)| l ^ delta.and_bit(bit(k + shift)))
                .collect()
        };
        let (xa, xb) = (
            active(&a[..len], 0, flips[0]),
            active(&b[..len], 64, flips[1]),
        );
        let mut got = [vec![Block::ZERO; len], vec![Block::ZERO; len]];
        for (x, g) in [aes, reference].iter().zip(&mut got) {
            x.evaluate_ands(&xa, &xb, &tables[0], gate, domain, g);
        }
        if got[0] != got[1] {
            return Err(format!("half-gates evaluation of {len} gates"));
        }
        for (k, (g, zero)) in got[0].iter().zip(&outs[0]).enumerate() {
            if *g != *zero ^ delta.and_bit(bit(k) & bit(k + 64)) {
                return Err(format!("half-gates gate {k} of {len}: wrong output label"));
            }
        }
    }
    Ok(())
}

/// Self-test of every AES backend this CPU runs against FIPS-197 and the portable code, for
/// programs that cannot use libtest (the aarch64 check under qemu). `log` receives one line per
/// backend: `ok`, or `skipped` with the missing features.
pub fn self_check_with(mut log: impl FnMut(&str)) -> Result<(), String> {
    let selected = AesBackend::selected().map_err(|e| e.to_string())?;
    log(&format!("aes: selected backend {selected}"));
    // The SIMD `Block` operations against their integer definitions.
    for x in test_blocks(4, 32) {
        let v = x.to_u128();
        let (hi, lo) = (v >> 64, v & u128::from(u64::MAX));
        if x.sigma().to_u128() != (((hi ^ lo) << 64) | hi)
            || (x ^ Block::ONES).to_u128() != !v
            || x.and_bit(true) != x
            || x.and_bit(false) != Block::ZERO
            || (x & Block::ONE).to_u128() != v & 1
            || x.lsb() != (v & 1 == 1)
            || Block::from_u64s(lo as u64, hi as u64) != x
        {
            return Err(format!("Block operations wrong on {x}"));
        }
    }
    log("block: sigma, xor, and, and_bit, lsb, from_u64s ok");
    for backend in AesBackend::ALL {
        if backend.is_available() {
            check_backend(backend)?;
            log(&format!(
                "aes {backend}: ok (FIPS-197, batches 1/2/4/8, slices 0..=70, hashes, half gates 0..=35, three halves 0..=75)"
            ));
        } else {
            log(&format!(
                "aes {backend}: SKIPPED (cpu lacks: {})",
                backend.needs()
            ));
        }
    }
    Ok(())
}

/// [`self_check_with`] without the log.
pub fn self_check() -> Result<(), String> {
    self_check_with(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes around libtest's capture so that a skip is visible in the test output.
    fn report_skip(test: &str, backend: AesBackend) {
        let _ = writeln!(
            std::io::stderr(),
            "{test}: backend {backend} SKIPPED (cpu lacks: {})",
            backend.needs()
        );
    }

    fn for_each_backend(test: &str, f: impl Fn(AesBackend)) {
        for backend in AesBackend::ALL {
            if backend.is_available() {
                f(backend);
            } else {
                report_skip(test, backend);
            }
        }
    }

    #[test]
    fn aes_fips197_known_answer_every_backend() {
        for_each_backend("aes_fips197_known_answer_every_backend", |backend| {
            for (key, pt, ct) in FIPS197_VECTORS {
                let aes = Aes128::with_backend(Block::new(key), backend).unwrap();
                assert_eq!(
                    aes.encrypt_block(Block::new(pt)),
                    Block::new(ct),
                    "{backend}"
                );
                let mut eight = [Block::new(pt); 8];
                aes.encrypt_blocks(&mut eight);
                assert_eq!(eight, [Block::new(ct); 8], "{backend}");
            }
        });
    }

    #[test]
    fn aes_backends_match_portable() {
        for_each_backend("aes_backends_match_portable", |backend| {
            check_backend(backend).unwrap();
        });
    }

    #[test]
    fn aes_self_check_passes() {
        let mut lines = Vec::new();
        self_check_with(|l| lines.push(l.to_string())).unwrap();
        assert_eq!(lines.len(), 2 + AesBackend::ALL.len());
    }

    /// What `drop` runs leaves no key material: round keys and bitsliced keys all zero.
    #[test]
    fn aes_wipe_zeroes_the_keys() {
        for backend in AesBackend::available() {
            let mut aes =
                Aes128::with_backend(Block::from_u128(0x0123_4567_89ab_cdef), backend).unwrap();
            assert!(aes.round_keys().iter().all(|k| *k != Block::ZERO));
            aes.wipe();
            assert!(
                aes.round_keys().iter().all(|k| *k == Block::ZERO),
                "{backend}"
            );
            if let Engine::Portable(planes) = &aes.engine {
                assert!(planes.as_ref().unwrap().is_zero(), "{backend}");
            }
        }
    }

    #[test]
    fn aes_unavailable_backend_is_an_error() {
        for backend in AesBackend::ALL {
            let r = Aes128::with_backend(FIXED_KEY, backend);
            assert_eq!(r.is_ok(), backend.is_available(), "{backend}");
        }
    }

    #[test]
    fn aes_backend_mapping() {
        assert_eq!(
            AesBackend::for_backend(Backend::Scalar),
            AesBackend::Portable
        );
        for b in Backend::ALL {
            assert!(AesBackend::for_backend(b).is_available());
        }
        if AesBackend::Vaes256.is_available() {
            assert_eq!(AesBackend::for_backend(Backend::Avx2), AesBackend::Vaes256);
        } else if AesBackend::AesNi.is_available() {
            assert_eq!(AesBackend::for_backend(Backend::Avx2), AesBackend::AesNi);
        }
    }

    #[test]
    fn aes_ctr_mode() {
        let aes = Aes128::new(FIXED_KEY).unwrap();
        let mut out = [Block::ZERO; 5];
        let next = aes.ctr_many(u128::MAX - 1, &mut out);
        assert_eq!(next, 3);
        assert_eq!(out[0], aes.encrypt_block(Block::from_u128(u128::MAX - 1)));
        assert_eq!(out[2], aes.encrypt_block(Block::ZERO));
        assert_eq!(out[4], aes.encrypt_block(Block::from_u128(2)));
    }

    #[test]
    fn aes_hash_formulas() {
        let aes = Aes128::with_backend(FIXED_KEY, AesBackend::Portable).unwrap();
        let x = test_blocks(9, 1)[0];
        let i = Block::from_u128(42);
        let p = |b| aes.encrypt_block(b);
        let mut v = [x];
        aes.cr_many(&mut v);
        assert_eq!(v[0], p(x) ^ x);
        let mut v = [x];
        aes.ccr_many(&mut v);
        assert_eq!(v[0], p(x.sigma()) ^ x.sigma());
        assert_eq!(aes.tccr(x, i), p(p(x) ^ i) ^ p(x));
        let y = x.sigma() ^ i;
        assert_eq!(aes.tmmo(x, i), p(y) ^ y);
    }
}
