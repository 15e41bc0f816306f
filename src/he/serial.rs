//! Compact, versioned serialisation, validated on read.
//!
//! Every object starts with a 4-byte magic, a format version and the parameter-set id.
//! Polynomials (NTT form, uniform-looking residues) are bit-packed at ⌈log2 q_i⌉ bits per
//! coefficient, little-endian bit order, the last byte zero-padded. A fresh ciphertext sends
//! its uniform half as the 32-byte seed it was expanded from.
//!
//! | object | layout |
//! |---|---|
//! | ciphertext | `GZCT` ver id limbs flags [seed(32) if flags&1] c0 [c1 unless seeded] |
//! | public key | `GZPK` ver id seed(32) b |
//! | Galois keys | `GZGK` ver id seed(32) count(u32 LE) g_1..g_count (u32 LE) b's |
//!
//! Reading checks, before allocating anything sized by the input, that the length is exactly
//! what the header implies; then every coefficient against its modulus, the padding bits,
//! Galois elements (odd, < 2n, strictly increasing). All failures are
//! [`DeserializeError`]s, never panics.
use super::ciphertext::Ciphertext;
use super::error::{DeserializeError, Result};
use super::keys::galois::GaloisKey;
use super::keys::{GaloisKeys, PublicKey, STREAM_CIPHERTEXT};
use super::params::Parameters;
use super::poly::{Poly, Representation};
use super::sampling::{self, Seed};
use kernels::AlignedVec;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Current format version.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC_CT: [u8; 4] = *b"GZCT";
const MAGIC_PK: [u8; 4] = *b"GZPK";
const MAGIC_GK: [u8; 4] = *b"GZGK";

fn width(q: u64) -> u32 {
    64 - q.leading_zeros()
}

/// Bits of one packed polynomial over the first `limbs` primes.
fn poly_bits(params: &Parameters, limbs: usize) -> usize {
    params.all_moduli[..limbs]
        .iter()
        .map(|&q| width(q) as usize)
        .sum::<usize>()
        * params.n
}

struct BitWriter {
    out: Vec<u8>,
    acc: u128,
    nbits: u32,
}

impl BitWriter {
    fn new(out: Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            nbits: 0,
        }
    }
    /// Appends the low `bits` (≤ 64) of `v`; whole 64-bit words go out at once.
    fn put(&mut self, v: u64, bits: u32) {
        self.acc |= (v as u128) << self.nbits;
        self.nbits += bits;
        if self.nbits >= 64 {
            self.out.extend_from_slice(&(self.acc as u64).to_le_bytes());
            self.acc >>= 64;
            self.nbits -= 64;
        }
    }
    /// Every limb of `poly`, limb k at ⌈log2 q_k⌉ bits per coefficient.
    fn poly(&mut self, params: &Parameters, poly: &Poly) {
        for (limb, &q) in poly.limbs().zip(&params.all_moduli) {
            let w = width(q);
            for &c in limb {
                self.put(c, w);
            }
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let k = self.nbits.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..k]);
        self.out
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u128,
    nbits: u32,
    index: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            pos: 0,
            acc: 0,
            nbits: 0,
            index: 0,
        }
    }
    /// The next `bits` (≤ 64) bits; refilled a 64-bit word at a time while 8 bytes remain
    /// (the callers check the message's exact length first, so nothing past it is read).
    fn get(&mut self, bits: u32) -> std::result::Result<u64, DeserializeError> {
        if self.nbits < bits {
            if let Some(w) = self.bytes.get(self.pos..self.pos + 8) {
                let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                self.acc |= (w as u128) << self.nbits;
                self.nbits += 64;
                self.pos += 8;
            }
        }
        while self.nbits < bits {
            let b = *self
                .bytes
                .get(self.pos)
                .ok_or(DeserializeError::Truncated {
                    needed: self.pos + 1,
                    available: self.bytes.len(),
                })?;
            self.acc |= (b as u128) << self.nbits;
            self.nbits += 8;
            self.pos += 1;
        }
        let v = (self.acc & ((1u128 << bits) - 1)) as u64;
        self.acc >>= bits;
        self.nbits -= bits;
        Ok(v)
    }
    /// A polynomial in NTT form on the first `limbs` primes, each coefficient checked.
    fn poly(
        &mut self,
        params: &Parameters,
        limbs: usize,
    ) -> std::result::Result<Poly, DeserializeError> {
        let n = params.n;
        let mut out = AlignedVec::zeroed(limbs * n);
        for (limb, &q) in out.chunks_exact_mut(n).zip(&params.all_moduli[..limbs]) {
            let w = width(q);
            for o in limb.iter_mut() {
                let v = self.get(w)?;
                if v >= q {
                    return Err(DeserializeError::CoefficientOutOfRange {
                        index: self.index,
                        value: v,
                        modulus: q,
                    });
                }
                self.index += 1;
                *o = v;
            }
        }
        Ok(Poly::from_limbs(n, out, Representation::Ntt))
    }
    fn finish(self) -> std::result::Result<(), DeserializeError> {
        // Whole bytes read ahead and not used are trailing bytes, as unread ones are.
        let trailing = (self.nbits / 8) as usize + self.bytes.len() - self.pos;
        let padding = self.acc & ((1u128 << (self.nbits % 8)) - 1);
        if padding != 0 {
            return Err(DeserializeError::InvalidField {
                field: "padding",
                value: padding as u64,
            });
        }
        if trailing != 0 {
            return Err(DeserializeError::TrailingBytes(trailing));
        }
        Ok(())
    }
}

fn header(magic: [u8; 4], params: &Parameters) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&magic);
    v.push(FORMAT_VERSION);
    v.push(params.id as u8);
    v
}

fn read_header<'a>(
    magic: [u8; 4],
    params: &Parameters,
    bytes: &'a [u8],
) -> std::result::Result<&'a [u8], DeserializeError> {
    if bytes.len() < 6 {
        return Err(DeserializeError::Truncated {
            needed: 6,
            available: bytes.len(),
        });
    }
    let mut found = [0u8; 4];
    found.copy_from_slice(&bytes[..4]);
    if found != magic {
        return Err(DeserializeError::BadMagic {
            expected: magic,
            found,
        });
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(DeserializeError::UnsupportedVersion(bytes[4]));
    }
    let id = super::params::ParamSetId::from_byte(bytes[5])
        .ok_or(DeserializeError::UnknownParameterSet(bytes[5]))?;
    if id != params.id {
        return Err(DeserializeError::WrongParameterSet {
            expected: params.id as u8,
            found: bytes[5],
        });
    }
    Ok(&bytes[6..])
}

fn expect_len(bytes: &[u8], needed: usize) -> std::result::Result<(), DeserializeError> {
    if bytes.len() < needed {
        return Err(DeserializeError::Truncated {
            needed,
            available: bytes.len(),
        });
    }
    if bytes.len() > needed {
        return Err(DeserializeError::TrailingBytes(bytes.len() - needed));
    }
    Ok(())
}

fn take_seed(bytes: &[u8]) -> Seed {
    let mut s = [0u8; 32];
    s.copy_from_slice(&bytes[..32]);
    s
}

impl Ciphertext {
    /// Serialised size in bytes.
    pub fn serialized_len(&self) -> usize {
        let pb = poly_bits(&self.params, self.level());
        let bits = if self.seed.is_some() { pb } else { 2 * pb };
        8 + if self.seed.is_some() { 32 } else { 0 } + bits.div_ceil(8)
    }

    /// Compact serialisation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = header(MAGIC_CT, &self.params);
        v.push(self.level() as u8);
        v.push(self.seed.is_some() as u8);
        if let Some(seed) = &self.seed {
            v.extend_from_slice(seed);
        }
        let mut w = BitWriter::new(v);
        w.poly(&self.params, &self.c0);
        if self.seed.is_none() {
            w.poly(&self.params, &self.c1);
        }
        w.finish()
    }

    /// Reads and validates a ciphertext of parameter set `params`.
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<Ciphertext> {
        let rest = read_header(MAGIC_CT, params, bytes)?;
        if rest.len() < 2 {
            return Err(DeserializeError::Truncated {
                needed: 8,
                available: bytes.len(),
            }
            .into());
        }
        let (limbs, flags) = (rest[0] as usize, rest[1]);
        if limbs == 0 || limbs > params.max_level() {
            return Err(DeserializeError::InvalidField {
                field: "limbs",
                value: limbs as u64,
            }
            .into());
        }
        if flags > 1 {
            return Err(DeserializeError::InvalidField {
                field: "flags",
                value: flags as u64,
            }
            .into());
        }
        let seeded = flags == 1;
        let rest = &rest[2..];
        let pb = poly_bits(params, limbs);
        let seed_len = if seeded { 32 } else { 0 };
        let body_bits = if seeded { pb } else { 2 * pb };
        expect_len(rest, seed_len + body_bits.div_ceil(8))?;
        let seed = seeded.then(|| take_seed(rest));
        let mut r = BitReader::new(&rest[seed_len..]);
        let c0 = r.poly(params, limbs)?;
        let c1 = match &seed {
            Some(s) => sampling::expand_uniform(params, s, STREAM_CIPHERTEXT, limbs),
            None => r.poly(params, limbs)?,
        };
        r.finish()?;
        Ok(Ciphertext {
            params: params.clone(),
            c0,
            c1,
            seed,
        })
    }
}

impl PublicKey {
    /// Compact serialisation (b packed, a as its seed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = header(MAGIC_PK, &self.params);
        v.extend_from_slice(&self.seed);
        let mut w = BitWriter::new(v);
        w.poly(&self.params, &self.b);
        w.finish()
    }

    /// Reads and validates a public key.
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<PublicKey> {
        let rest = read_header(MAGIC_PK, params, bytes)?;
        let limbs = params.max_level();
        expect_len(rest, 32 + poly_bits(params, limbs).div_ceil(8))?;
        let seed = take_seed(rest);
        let mut r = BitReader::new(&rest[32..]);
        let b = r.poly(params, limbs)?;
        r.finish()?;
        Ok(PublicKey::from_parts(params, seed, b))
    }
}

impl GaloisKeys {
    /// Compact serialisation (each key's b packed, all a's from one seed).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.serialise(self.keys.iter())
    }

    /// The serialisation of the keys for `elements` alone (the same seed: the parts of one
    /// set, put back together with [`GaloisKeys::merge`]); an element without a key is
    /// refused.
    pub fn subset_to_bytes(&self, elements: &[usize]) -> super::error::Result<Vec<u8>> {
        let mut els = elements.to_vec();
        els.sort_unstable();
        els.dedup();
        let keys = els
            .iter()
            .map(|g| self.key(*g).map(|k| (g, k)))
            .collect::<super::error::Result<Vec<_>>>()?;
        Ok(self.serialise(keys.into_iter()))
    }

    fn serialise<'a>(
        &self,
        keys: impl ExactSizeIterator<Item = (&'a usize, &'a GaloisKey)> + Clone,
    ) -> Vec<u8> {
        let params = &self.params;
        let mut v = header(MAGIC_GK, params);
        v.extend_from_slice(&self.seed);
        v.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for (&g, _) in keys.clone() {
            v.extend_from_slice(&(g as u32).to_le_bytes());
        }
        let mut w = BitWriter::new(v);
        for (_, key) in keys {
            for b in &key.canonical_b(params) {
                w.poly(params, b);
            }
        }
        w.finish()
    }

    /// Reads and validates Galois keys.
    pub fn from_bytes(params: &Arc<Parameters>, bytes: &[u8]) -> Result<GaloisKeys> {
        let rest = read_header(MAGIC_GK, params, bytes)?;
        if rest.len() < 36 {
            return Err(DeserializeError::Truncated {
                needed: 42,
                available: bytes.len(),
            }
            .into());
        }
        let seed = take_seed(rest);
        let count = u32::from_le_bytes([rest[32], rest[33], rest[34], rest[35]]) as usize;
        if count > params.n {
            return Err(DeserializeError::InvalidField {
                field: "count",
                value: count as u64,
            }
            .into());
        }
        let limbs = params.key_limbs();
        let per_key_bits = poly_bits(params, limbs) * params.digits.len();
        expect_len(&rest[36..], 4 * count + (per_key_bits * count).div_ceil(8))?;
        let mut elements = Vec::with_capacity(count);
        for c in rest[36..36 + 4 * count].chunks_exact(4) {
            let g = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            let prev_ok = elements.last().is_none_or(|&p| g > p);
            if g.is_multiple_of(2) || g <= 1 || g >= 2 * params.n || !prev_ok {
                return Err(DeserializeError::InvalidField {
                    field: "galois element",
                    value: g as u64,
                }
                .into());
            }
            elements.push(g);
        }
        let mut r = BitReader::new(&rest[36 + 4 * count..]);
        let mut keys = BTreeMap::new();
        for &g in &elements {
            let b = (0..params.digits.len())
                .map(|_| r.poly(params, limbs))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            keys.insert(g, GaloisKey::from_parts(params, &seed, g, b)?);
        }
        r.finish()?;
        Ok(GaloisKeys {
            params: params.clone(),
            seed,
            keys,
        })
    }
}
