//! Parameter sets: ring dimension, RNS modulus chain, plaintext modulus, error distribution,
//! key-switching decomposition, and the security level each one has by the
//! HomomorphicEncryption.org standard (uniform ternary secret, classical attacks; the table
//! allows log2 q ≤ 54 / 109 / 218 at n = 2048 / 4096 / 8192 for 128 bits, every prime counted).
//!
//! # Sets
//!
//! | name | n | q (bits) | p | digits (w) | security |
//! |---|---|---|---|---|---|
//! | `gazelle-8192-hybrid` (default) | 8192 | 3 × 50 = 150, + special P: 60 (210 in all) | 1032193 | one per prime, special prime | ≥ 128-bit |
//! | `gazelle-4096` | 4096 | q1·q2 = 54 + 54 = 108 | 1032193 | 2 × 2 (27) | ≥ 128-bit |
//! | `gazelle-4096-fast` | 4096 | same | 1032193 | 2 × 1 (54) | ≥ 128-bit |
//! | `gazelle-8192` | 8192 | 61 + 61 = 122 | 1032193 | 2 × 3 (21) | ≥ 192-bit |
//! | `gazelle-2048` (paper) | 2048 | 60 | 557057 | 1 × 3 (20) | **below 128-bit** (≈ 115 estimated) |
//!
//! The default's primes are 1125899906826241, 1125899906629633, 1125899905744897 (< 2^50, so
//! the IFMA52 NTT kernels apply; ≡ 1 mod 16384) and P = 1152921504606830593 (60 bits). Its
//! Galois keys live modulo q·P and each key switch ends with a division by P (see
//! [`crate::he::keys::galois`]): key-switching noise ≤ 2^12.2 instead of 2^40–2^71, which is what
//! lets flooding hide the weights (`gazelle plan`). Replies are flooded at three primes and
//! switched down to one.
//!
//! q1 = 18014398509309953, q2 = 18014398509293569 (prime, ≡ 1 mod 8192); the 8192 set uses
//! 2305843009213317121 and 2305843009213120513 (prime, ≡ 1 mod 16384); p = 1032193 is prime and
//! ≡ 1 mod 16384 (20 bits: the pretrained 8-bit models' worst accumulators, ≤ 450,075, fit its
//! signed range; `secure_ml-9bit`'s 857,797 needs a 21-bit p). All checked by
//! [`Parameters::new`] and the tests. Error: centered binomial with k = 21 (σ = √10.5 ≈ 3.24,
//! the standard's σ ≈ 3.2, and |e| ≤ 21 always, which makes worst-case bounds exact). Secret:
//! uniform ternary. Without a special prime, key switching splits each RNS limb of c1 into
//! base-2^w digits (all of q carries the ciphertext).
//!
//! # Noise (invariant noise v: c0 + c1·s = (q/p)·m + v mod q)
//!
//! Decryption is correct whenever ‖v‖∞ < q/(2p) − q/(p·2^42) − 1 (the last terms pay for the
//! fixed-point rounding in decryption). Worst-case bounds per operation are in
//! [`crate::he::noise`]. For the largest layer of the five networks — 576 ct×pt products with
//! arbitrary slot-encoded plaintexts (‖pt‖1 ≤ n(p−1)/2), one rotation, the mask — the worst
//! cases are (test `noise_budget_table`):
//!
//! | set | q/(2p) | key switch | layer | flooding B | SD n·b/(2B+1) |
//! |---|---|---|---|---|---|
//! | `gazelle-4096` | 2^87.0 | 2^45.4 | 2^46.0 | 2^87.0 | 2^−30.0 (2^−42 per coefficient) |
//! | `gazelle-4096-fast` | 2^87.0 | 2^71.4 | 2^71.4 | 2^87.0 | 2^−4.6: no privacy after a rotation |
//! | `gazelle-8192` | 2^101.0 | 2^40.6 | 2^45.6 | 2^101.0 | 2^−43.4 |
//! | `gazelle-2048` | 2^39.9 | 2^37.0 | 2^42.7 | — | does not fit: the paper's set relies on average-case noise |
//!
//! Measured noise of that chain at `gazelle-4096` is about 2^36.5, ~9 bits under the worst case.
//! Rotating the *inputs* before the products (Gazelle's convolution) multiplies the key-switch
//! noise by ‖pt‖1: worst case 2^84.4 at `gazelle-4096` — it decrypts, but leaves no room for
//! flooding; such layers should rotate outputs, or the client should send rotated inputs.
use super::error::{HeError, Result};
use kernels::ntt::{NttPlan32, NttPlan64};
use kernels::prime::{bit_reverse, is_prime};
use std::sync::Arc;

/// Stable one-byte identifiers of the shipped parameter sets (used in serialised headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamSetId {
    /// n = 4096, two 54-bit primes, p = 1032193, 27-bit digits. ≥ 128-bit (the default until
    /// the circuit-privacy budget made it `Gazelle8192Hybrid`).
    Gazelle4096 = 1,
    /// The reference code's n = 2048, 60-bit q, p = 557057, 20-bit digits. Below 128-bit.
    Gazelle2048 = 2,
    /// As `gazelle-4096` but one 54-bit digit per prime: faster rotations, more noise (no room
    /// to flood after a rotation).
    Gazelle4096Fast = 3,
    /// n = 8192, two 61-bit primes, p = 1032193, 21-bit digits. ≥ 128-bit, but its flooding
    /// misses the session budget (`gazelle plan`).
    Gazelle8192 = 4,
    /// n = 8192, three 50-bit primes and a 60-bit special prime (hybrid key switching),
    /// p = 1032193: ≥ 128-bit with every prime counted, and the only set whose flooding meets
    /// the session budget for the bundled networks. The default.
    Gazelle8192Hybrid = 5,
}

impl Default for ParamSetId {
    /// `gazelle-8192-hybrid`.
    fn default() -> Self {
        ParamSetId::Gazelle8192Hybrid
    }
}

impl ParamSetId {
    /// Every shipped set.
    pub const ALL: [ParamSetId; 5] = [
        ParamSetId::Gazelle8192Hybrid,
        ParamSetId::Gazelle4096,
        ParamSetId::Gazelle2048,
        ParamSetId::Gazelle4096Fast,
        ParamSetId::Gazelle8192,
    ];

    /// The set's name.
    pub const fn name(self) -> &'static str {
        match self {
            ParamSetId::Gazelle4096 => "gazelle-4096",
            ParamSetId::Gazelle2048 => "gazelle-2048",
            ParamSetId::Gazelle4096Fast => "gazelle-4096-fast",
            ParamSetId::Gazelle8192 => "gazelle-8192",
            ParamSetId::Gazelle8192Hybrid => "gazelle-8192-hybrid",
        }
    }

    /// Parses an id byte.
    pub fn from_byte(b: u8) -> Option<ParamSetId> {
        ParamSetId::ALL.into_iter().find(|id| *id as u8 == b)
    }

    /// Looks a set up by name.
    pub fn from_name(name: &str) -> Option<ParamSetId> {
        ParamSetId::ALL.into_iter().find(|id| id.name() == name)
    }

    /// The specification of this set.
    pub fn spec(self) -> ParamSpec {
        const Q1: u64 = 18014398509309953;
        const Q2: u64 = 18014398509293569;
        match self {
            ParamSetId::Gazelle4096 => ParamSpec {
                id: self,
                n: 4096,
                moduli: vec![Q1, Q2],
                p: 1032193,
                decomp_bits: 27,
                special: None,
            },
            ParamSetId::Gazelle4096Fast => ParamSpec {
                id: self,
                n: 4096,
                moduli: vec![Q1, Q2],
                p: 1032193,
                decomp_bits: 54,
                special: None,
            },
            ParamSetId::Gazelle8192 => ParamSpec {
                id: self,
                n: 8192,
                moduli: vec![2305843009213317121, 2305843009213120513],
                p: 1032193,
                decomp_bits: 21,
                special: None,
            },
            ParamSetId::Gazelle8192Hybrid => ParamSpec {
                id: self,
                n: 8192,
                moduli: vec![1125899906826241, 1125899906629633, 1125899905744897],
                p: 1032193,
                decomp_bits: 0,
                special: Some(1152921504606830593),
            },
            ParamSetId::Gazelle2048 => ParamSpec {
                id: self,
                n: 2048,
                moduli: vec![1152921504499937281],
                p: 557057,
                decomp_bits: 20,
                special: None,
            },
        }
    }

    /// The built parameters (cached per process).
    pub fn params(self) -> Result<Arc<Parameters>> {
        use std::sync::OnceLock;
        static CACHE: [OnceLock<Arc<Parameters>>; 5] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let slot = &CACHE[self as usize - 1];
        if let Some(p) = slot.get() {
            return Ok(p.clone());
        }
        let built = Arc::new(Parameters::new(self.spec())?);
        Ok(slot.get_or_init(|| built).clone())
    }
}

/// The free choices of a parameter set; [`Parameters::new`] checks and completes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Identifier written into serialised objects.
    pub id: ParamSetId,
    /// Ring dimension (power of two).
    pub n: usize,
    /// RNS primes q_i < 2^62, each ≡ 1 mod 2n; one to three of them.
    pub moduli: Vec<u64>,
    /// Plaintext modulus: prime, ≡ 1 mod 2n, < 2^30.
    pub p: u64,
    /// Key-switching digit width w in bits (0 with a special prime: one digit per prime).
    pub decomp_bits: u32,
    /// Special prime P of hybrid key switching (< 2^62, ≡ 1 mod 2n, above every q_i): the
    /// Galois keys live modulo q·P, each key switch ends with a division by P (ModDown), and
    /// c1 is decomposed by RNS limb only. `None`: base-2^w digits, no special prime.
    pub special: Option<u64>,
}

/// Bound on |e| of the centered-binomial error (k = 21 coin pairs).
pub const ERROR_BOUND: u64 = 21;
/// Standard deviation of the error distribution, √(k/2).
pub const ERROR_STDDEV: f64 = 3.24037034920393;

/// The HomomorphicEncryption.org table (uniform ternary secret, classical): largest log2 q
/// for 128-, 192- and 256-bit security at each ring dimension.
pub const HE_STANDARD_TABLE: [(usize, [u32; 3]); 6] = [
    (1024, [27, 19, 14]),
    (2048, [54, 37, 29]),
    (4096, [109, 75, 58]),
    (8192, [218, 152, 118]),
    (16384, [438, 305, 237]),
    (32768, [881, 611, 476]),
];

/// A set's security by the standard table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecurityLevel {
    /// log2 of the full modulus (every prime counted).
    pub log2_q: f64,
    /// The highest of 128/192/256 whose table entry admits log2 q; 0 when below 128.
    pub table_bits: u32,
    /// Rough estimate for sets below the table: 128 · (table's 128-bit log q) / log2 q
    /// (security scales roughly as n / log q). Equal to `table_bits` otherwise.
    pub estimate_bits: f64,
}

impl SecurityLevel {
    fn of(n: usize, log2_q: f64) -> SecurityLevel {
        let row = HE_STANDARD_TABLE.iter().find(|(m, _)| *m == n).map(|r| r.1);
        match row {
            Some([l128, l192, l256]) => {
                let table_bits = if log2_q <= l256 as f64 {
                    256
                } else if log2_q <= l192 as f64 {
                    192
                } else if log2_q <= l128 as f64 {
                    128
                } else {
                    0
                };
                let estimate_bits = if table_bits == 0 {
                    128.0 * l128 as f64 / log2_q
                } else {
                    table_bits as f64
                };
                SecurityLevel {
                    log2_q,
                    table_bits,
                    estimate_bits,
                }
            }
            None => SecurityLevel {
                log2_q,
                table_bits: 0,
                estimate_bits: 0.0,
            },
        }
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        if self.table_bits > 0 {
            format!(
                "≥ {}-bit (log2 q = {:.1}, HE standard, ternary secret)",
                self.table_bits, self.log2_q
            )
        } else {
            format!(
                "below 128-bit (log2 q = {:.1} exceeds the HE standard's 128-bit entry; ≈ {:.0}-bit estimated)",
                self.log2_q, self.estimate_bits
            )
        }
    }
}

/// Constants of the modulus made of the first `l` primes.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    /// Q mod p.
    pub(crate) r_t: u64,
    /// ⌊Q/p⌋ mod q_i (= −(Q mod p)·p⁻¹ mod q_i, as Q ≡ 0 mod q_i).
    pub(crate) delta_mod: Vec<u64>,
    /// Fixed-point shift s of the decryption scaling (one or two primes).
    pub(crate) shift: u32,
    /// ⌊p · 2^s / Q⌋ and (two limbs) ⌊p · 2^s / q_1⌋.
    pub(crate) frac: Vec<u128>,
    /// Garner constants for two limbs: q_0 mod q_1 and q_0⁻¹ mod q_1.
    pub(crate) garner: Option<(u64, u64)>,
    /// CRT constants for any number of limbs: [(Q/q_i)⁻¹]_{q_i}.
    pub(crate) crt_inv: Vec<u64>,
    /// ⌊p · 2^128 / q_i⌋ as (high, low) words (p < q_i, checked): y·p/q_i in fixed point
    /// with a multiply.
    pub(crate) p_over_q: Vec<(u64, u64)>,
    /// The vectorised scaling's constants, where every prime is below 2^50.
    pub(crate) scale: Option<Vec<kernels::vecops::ScaleLimb>>,
    /// Mixed-radix constants: [(q_0 ⋯ q_{i−1})⁻¹]_{q_i} (entry 0 unused, 1).
    pub(crate) mixed_inv: Vec<u64>,
    /// Largest |v| that decrypts correctly.
    pub(crate) dec_bound: f64,
}

/// A checked, ready-to-use parameter set (shared as `Arc<Parameters>`).
#[derive(Debug)]
pub struct Parameters {
    pub(crate) id: ParamSetId,
    pub(crate) n: usize,
    pub(crate) moduli: Vec<u64>,
    pub(crate) p: u64,
    pub(crate) decomp_bits: u32,
    /// The special prime of hybrid key switching (see [`ParamSpec::special`]).
    pub(crate) special: Option<u64>,
    /// The data primes followed by the special prime, if any: limb k of a key polynomial is
    /// modulo `all_moduli[k]`.
    pub(crate) all_moduli: Vec<u64>,
    /// NTT plans of `all_moduli`.
    pub(crate) plans: Vec<NttPlan64>,
    pub(crate) plan_p: NttPlan32,
    pub(crate) levels: Vec<Level>,
    /// Slot k (row-major, 2 rows of n/2) → index in the bit-reversed NTT order mod p.
    pub(crate) slot_to_ntt: Vec<usize>,
    /// Key-switching digits: (limb, bit offset), limb-major.
    pub(crate) digits: Vec<(usize, u32)>,
    security: SecurityLevel,
}

impl PartialEq for Parameters {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.n == other.n
            && self.moduli == other.moduli
            && self.p == other.p
            && self.decomp_bits == other.decomp_bits
            && self.special == other.special
    }
}

impl Eq for Parameters {}

/// Checks that two objects were made under the same parameters: the same `Arc` (the common
/// case, one pointer comparison) or equal free choices (id, n, primes, p, digit width, from
/// which everything else is derived). Comparing ids alone would let a custom set built under a
/// shipped id meet that set's objects and fail on mismatched shapes.
pub(crate) fn check_same(a: &Parameters, b: &Parameters) -> Result<()> {
    if std::ptr::eq(a, b) || a == b {
        return Ok(());
    }
    Err(HeError::ParameterMismatch {
        expected: a.describe(),
        found: b.describe(),
    })
}

fn bits_of(x: u64) -> u32 {
    64 - x.leading_zeros()
}

fn invalid(reason: impl Into<String>) -> HeError {
    HeError::InvalidParameters {
        reason: reason.into(),
    }
}

impl Parameters {
    /// Checks a specification and precomputes everything the scheme needs.
    ///
    /// Rejects (with [`HeError::InvalidParameters`] or a kernel error): n not a power of two
    /// in [256, 32768]; zero or more than three primes, repeated primes, composite or
    /// non-NTT-friendly primes; p not prime, not ≡ 1 mod 2n, ≥ 2^30 or equal to a q_i;
    /// w outside [1, 62] (without a special prime) or not 0 (with one); a special prime that
    /// is not an NTT-friendly prime above every q_i; fewer than 24 bits between q and p.
    pub fn new(spec: ParamSpec) -> Result<Parameters> {
        let n = spec.n;
        if !n.is_power_of_two() || !(256..=32768).contains(&n) {
            return Err(invalid(format!(
                "n = {n} is not a power of two in [256, 32768]"
            )));
        }
        if spec.moduli.is_empty() || spec.moduli.len() > 3 {
            return Err(invalid(format!(
                "{} primes given; this implementation supports one to three",
                spec.moduli.len()
            )));
        }
        let mut all_moduli = spec.moduli.clone();
        all_moduli.extend(spec.special);
        for (i, q) in all_moduli.iter().enumerate() {
            if all_moduli[..i].contains(q) {
                return Err(invalid(format!("the prime {q} is repeated")));
            }
        }
        if let Some(sp) = spec.special {
            if spec.moduli.iter().any(|&q| q >= sp) {
                return Err(invalid(format!(
                    "the special prime {sp} must exceed every q_i"
                )));
            }
        }
        let two_n = 2 * n as u64;
        for &q in &all_moduli {
            if q >= 1 << 62 || !is_prime(q) || q % two_n != 1 {
                return Err(invalid(format!(
                    "q = {q} must be a prime below 2^62 with q ≡ 1 mod {two_n}"
                )));
            }
        }
        let p = spec.p;
        if p >= 1 << 30 || !is_prime(p) || p % two_n != 1 || spec.moduli.iter().any(|&q| q <= p) {
            return Err(invalid(format!(
                "p = {p} must be a prime below 2^30 and below every q_i, ≡ 1 mod {two_n}"
            )));
        }
        if spec.special.is_none() && !(1..=62).contains(&spec.decomp_bits) {
            return Err(invalid(format!(
                "digit width {} outside [1, 62]",
                spec.decomp_bits
            )));
        }
        if spec.special.is_some() && spec.decomp_bits != 0 {
            return Err(invalid(
                "with a special prime the digits are the RNS limbs: digit width must be 0",
            ));
        }
        let plans = all_moduli
            .iter()
            .map(|&q| NttPlan64::try_new(n, q))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let plan_p = NttPlan32::try_new(n, p)?;

        let mut levels = Vec::new();
        for l in 1..=spec.moduli.len() {
            levels.push(Self::level(&spec.moduli[..l], p)?);
        }

        let log_n = n.trailing_zeros();
        let half = n / 2;
        let mut slot_to_ntt = vec![0usize; n];
        let mut e: usize = 1;
        for j in 0..half {
            let e_conj = 2 * n - e;
            slot_to_ntt[j] = bit_reverse((e - 1) / 2, log_n);
            slot_to_ntt[half + j] = bit_reverse((e_conj - 1) / 2, log_n);
            e = (e * 3) % (2 * n);
        }

        let w = spec.decomp_bits;
        let mut digits = Vec::new();
        for (i, &q) in spec.moduli.iter().enumerate() {
            if spec.special.is_some() {
                digits.push((i, 0));
                continue;
            }
            let b = bits_of(q);
            let mut off = 0;
            while off < b {
                digits.push((i, off));
                off += w;
            }
        }
        let log2_q: f64 = all_moduli.iter().map(|&q| (q as f64).log2()).sum();
        Ok(Parameters {
            id: spec.id,
            n,
            moduli: spec.moduli,
            p,
            decomp_bits: w,
            special: spec.special,
            all_moduli,
            plans,
            plan_p,
            levels,
            slot_to_ntt,
            digits,
            security: SecurityLevel::of(n, log2_q),
        })
    }

    fn level(moduli: &[u64], p: u64) -> Result<Level> {
        let log2_q: f64 = moduli.iter().map(|&q| (q as f64).log2()).sum();
        if log2_q - (p as f64).log2() < 24.0 {
            return Err(invalid("q/p below 2^24: no noise room"));
        }
        let mods = moduli
            .iter()
            .map(|&q| kernels::modarith::Modulus64::new(q))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let not_coprime = || invalid("the primes are not coprime");
        let r_t = moduli.iter().fold(1u64, |acc, &q| {
            ((acc as u128 * (q % p) as u128) % p as u128) as u64
        });
        let mut delta_mod = Vec::new();
        let mut crt_inv = Vec::new();
        let mut mixed_inv = Vec::new();
        for (i, md) in mods.iter().enumerate() {
            let p_inv = md.inv(md.reduce(p)).ok_or_else(not_coprime)?;
            delta_mod.push(md.mul(md.sub(0, md.reduce(r_t)), p_inv));
            let others = moduli
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .fold(1u64, |acc, (_, &q)| md.mul(acc, md.reduce(q)));
            crt_inv.push(md.inv(others).ok_or_else(not_coprime)?);
            let below = moduli[..i]
                .iter()
                .fold(1u64, |acc, &q| md.mul(acc, md.reduce(q)));
            mixed_inv.push(md.inv(below).ok_or_else(not_coprime)?);
        }
        // One or two primes: Q fits a u128, and decryption uses the exact fixed-point path.
        let (mut frac, mut garner, mut shift) = (Vec::new(), None, 0);
        let mut q_f: f64 = moduli.iter().map(|&x| x as f64).product();
        if moduli.len() <= 2 {
            let q: u128 = moduli.iter().map(|&x| x as u128).product();
            q_f = q as f64;
            shift = 126 - bits_of(p);
            let scaled = (p as u128) << shift;
            frac.push(scaled / q);
            if moduli.len() == 2 {
                let (q0, q1) = (moduli[0], moduli[1]);
                frac.push(scaled / q1 as u128);
                let q0m = q0 % q1;
                garner = Some((q0m, mixed_inv[1]));
            }
        }
        let dec_bound = q_f / (2.0 * p as f64) - q_f / (p as f64) / 2f64.powi(42) - 1.0;
        // p < q_i: ⌊p·2^64/q⌋ < 2^64, then the remainder's next 64 bits.
        let p_over_q = moduli
            .iter()
            .map(|&q| {
                let (q, top) = (q as u128, (p as u128) << 64);
                ((top / q) as u64, (((top % q) << 64) / q) as u64)
            })
            .collect();
        let scale = moduli
            .iter()
            .zip(&crt_inv)
            .map(|(&q, &w)| kernels::vecops::ScaleLimb::new(q, w, p))
            .collect();
        Ok(Level {
            r_t,
            delta_mod,
            shift,
            frac,
            garner,
            crt_inv,
            p_over_q,
            scale,
            mixed_inv,
            dec_bound,
        })
    }

    /// The set's identifier.
    pub fn id(&self) -> ParamSetId {
        self.id
    }
    /// The set's name.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }
    /// The name with the free choices, e.g. for errors where a custom set shares a name.
    pub fn describe(&self) -> String {
        let ks = match self.special {
            Some(sp) => format!("P = {sp}"),
            None => format!("w = {}", self.decomp_bits),
        };
        format!(
            "{} (n = {}, q = {:?}, p = {}, {ks})",
            self.name(),
            self.n,
            self.moduli,
            self.p,
        )
    }
    /// Ring dimension n (= number of slots).
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of slots per row (n/2).
    pub fn row_size(&self) -> usize {
        self.n / 2
    }
    /// The RNS primes.
    pub fn moduli(&self) -> &[u64] {
        &self.moduli
    }
    /// Plaintext modulus p.
    pub fn p(&self) -> u64 {
        self.p
    }
    /// Key-switching digit width in bits.
    pub fn decomp_bits(&self) -> u32 {
        self.decomp_bits
    }
    /// Number of key-switching digits (over all primes).
    pub fn num_digits(&self) -> usize {
        self.digits.len()
    }
    /// Number of primes of a fresh ciphertext.
    pub fn max_level(&self) -> usize {
        self.moduli.len()
    }
    /// The special prime of hybrid key switching, if the set has one.
    pub fn special_prime(&self) -> Option<u64> {
        self.special
    }
    /// Number of primes of a key-switching key: the data primes and the special prime.
    pub fn key_limbs(&self) -> usize {
        self.all_moduli.len()
    }
    /// The security level by the HE standard table.
    pub fn security(&self) -> SecurityLevel {
        self.security
    }
    /// Largest |v|∞ of the invariant noise that still decrypts correctly at `limbs` primes.
    pub fn decryption_bound(&self, limbs: usize) -> f64 {
        self.levels
            .get(limbs.wrapping_sub(1))
            .map_or(0.0, |l| l.dec_bound)
    }
    /// The full modulus of the first `limbs` primes (as f64, for reports).
    pub fn modulus_f64(&self, limbs: usize) -> f64 {
        self.moduli[..limbs.min(self.moduli.len())]
            .iter()
            .map(|&q| q as f64)
            .product()
    }
    pub(crate) fn level_ctx(&self, limbs: usize) -> Result<&Level> {
        self.levels
            .get(limbs.wrapping_sub(1))
            .ok_or(HeError::LevelTooLow { level: limbs })
    }

    /// Galois element of a left rotation of both rows by `step` slots (negative: right).
    pub fn galois_element_for_step(&self, step: i64) -> usize {
        let half = self.row_size() as i64;
        let r = step.rem_euclid(half) as u64;
        let two_n = 2 * self.n as u64;
        let mut g = 1u64;
        let mut base = 3u64;
        let mut e = r;
        while e > 0 {
            if e & 1 == 1 {
                g = g * base % two_n;
            }
            base = base * base % two_n;
            e >>= 1;
        }
        g as usize
    }

    /// Galois element that swaps the two rows (X → X^(2n−1)).
    pub fn galois_element_row_swap(&self) -> usize {
        2 * self.n - 1
    }
}
