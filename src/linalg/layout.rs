//! Slot layouts: which tensor element each slot of each ciphertext holds, and the slot
//! permutations ([`Rot`]) that Galois automorphisms realise.
//!
//! The n slots of a ciphertext form 2 rows of R = n/2. A [`Rot`] `(swap, step)` maps a slot
//! vector v to `v'[row, col] = v[row ⊕ swap, (col + step) mod R]`: a left rotation of both rows
//! by `step`, after exchanging the rows when `swap` is set. These form the group Z₂ × Z_R; one
//! Galois element (and one key switch) realises each.
use super::error::{LinalgError, Result};
use crate::he::Parameters;

/// Marker of an unused slot.
pub const EMPTY: u32 = u32::MAX;

/// A slot permutation realised by one Galois automorphism (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rot {
    /// Exchange the two rows.
    pub swap: bool,
    /// Left rotation of both rows, in [0, R).
    pub step: u32,
}

impl Rot {
    /// The identity.
    pub const ID: Rot = Rot {
        swap: false,
        step: 0,
    };

    /// Whether this is the identity (no key switch needed).
    pub fn is_identity(self) -> bool {
        !self.swap && self.step == 0
    }

    /// A left rotation of both rows by `step` (any sign) with rows of `r` slots.
    pub fn rotate(step: i64, r: usize) -> Rot {
        Rot {
            swap: false,
            step: step.rem_euclid(r as i64) as u32,
        }
    }

    /// `self` followed by `other` (the group is abelian).
    pub fn compose(self, other: Rot, r: usize) -> Rot {
        Rot {
            swap: self.swap ^ other.swap,
            step: ((self.step as usize + other.step as usize) % r) as u32,
        }
    }

    /// The inverse permutation.
    pub fn inverse(self, r: usize) -> Rot {
        Rot {
            swap: self.swap,
            step: ((r - self.step as usize) % r) as u32,
        }
    }

    /// Slot position `pos + self`: the slot whose value lands at `pos` after the permutation.
    pub fn offset(self, pos: usize, r: usize) -> usize {
        let (row, col) = (pos / r, pos % r);
        ((row ^ self.swap as usize) * r) + (col + self.step as usize) % r
    }

    /// The permutation d with `q = j + d`: it brings the value of slot q to slot j.
    pub fn between(j: usize, q: usize, r: usize) -> Rot {
        Rot {
            swap: (j / r) != (q / r),
            step: ((q % r + r - j % r) % r) as u32,
        }
    }

    /// Dense index in [0, 2R).
    pub fn index(self, r: usize) -> usize {
        self.swap as usize * r + self.step as usize
    }

    /// Inverse of [`Rot::index`].
    pub fn from_index(i: usize, r: usize) -> Rot {
        Rot {
            swap: i >= r,
            step: (i % r) as u32,
        }
    }

    /// The Galois element realising this permutation.
    pub fn galois_element(self, params: &Parameters) -> usize {
        let g = params.galois_element_for_step(self.step as i64);
        if self.swap {
            g * params.galois_element_row_swap() % (2 * params.n())
        } else {
            g
        }
    }
}

/// Which element of a flat tensor each slot of each ciphertext holds (an element may sit in
/// several slots: replicated copies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    n: usize,
    elements: usize,
    cts: Vec<Vec<u32>>,
}

impl Layout {
    /// Builds a layout from per-ciphertext slot maps (each of length n; [`EMPTY`] for unused).
    pub fn new(n: usize, elements: usize, cts: Vec<Vec<u32>>) -> Result<Layout> {
        for ct in &cts {
            if ct.len() != n {
                return Err(LinalgError::Length {
                    what: "layout slot map",
                    expected: n,
                    found: ct.len(),
                });
            }
            if let Some(&e) = ct.iter().find(|&&e| e != EMPTY && e as usize >= elements) {
                return Err(LinalgError::Shape {
                    reason: format!("layout names element {e} of a {elements}-element tensor"),
                });
            }
        }
        Ok(Layout { n, elements, cts })
    }

    /// Number of ciphertexts.
    pub fn num_cts(&self) -> usize {
        self.cts.len()
    }

    /// Number of tensor elements.
    pub fn elements(&self) -> usize {
        self.elements
    }

    /// Slots per ciphertext.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The element in slot `slot` of ciphertext `ct`.
    pub fn get(&self, ct: usize, slot: usize) -> Option<usize> {
        match self.cts[ct][slot] {
            EMPTY => None,
            e => Some(e as usize),
        }
    }

    /// The raw slot map of ciphertext `ct`.
    pub fn slots(&self, ct: usize) -> &[u32] {
        &self.cts[ct]
    }

    /// First (ciphertext, slot) holding each element; `None` for elements not placed.
    pub fn positions(&self) -> Vec<Option<(usize, usize)>> {
        let mut pos = vec![None; self.elements];
        for (c, ct) in self.cts.iter().enumerate() {
            for (s, &e) in ct.iter().enumerate() {
                if e != EMPTY && pos[e as usize].is_none() {
                    pos[e as usize] = Some((c, s));
                }
            }
        }
        pos
    }

    /// Lays out a tensor (values mod p, indexed by element) into slot vectors, one per
    /// ciphertext, unused slots 0. This is the client's free packing step.
    pub fn pack(&self, values: &[u64]) -> Result<Vec<Vec<u64>>> {
        if values.len() != self.elements {
            return Err(LinalgError::Length {
                what: "tensor",
                expected: self.elements,
                found: values.len(),
            });
        }
        Ok(self
            .cts
            .iter()
            .map(|ct| {
                ct.iter()
                    .map(|&e| if e == EMPTY { 0 } else { values[e as usize] })
                    .collect()
            })
            .collect())
    }

    /// Signed variant of [`Layout::pack`]: values are reduced mod p (negatives as p − |x|).
    pub fn pack_signed(&self, values: &[i64], p: u64) -> Result<Vec<Vec<u64>>> {
        let v: Vec<u64> = values
            .iter()
            .map(|&x| x.rem_euclid(p as i64) as u64)
            .collect();
        self.pack(&v)
    }

    /// Reads the tensor back from slot vectors of values mod `p`, each element the sum mod p
    /// of all its slots (a layout of partial sums).
    pub fn unpack_sum(&self, slots: &[Vec<u64>], p: u64) -> Result<Vec<u64>> {
        if slots.len() != self.cts.len() {
            return Err(LinalgError::CiphertextCount {
                expected: self.cts.len(),
                found: slots.len(),
            });
        }
        let mut out = vec![0u64; self.elements];
        for (ct, v) in self.cts.iter().zip(slots) {
            if v.len() != self.n {
                return Err(LinalgError::Length {
                    what: "slot vector",
                    expected: self.n,
                    found: v.len(),
                });
            }
            for (&e, &x) in ct.iter().zip(v) {
                if e != EMPTY {
                    let o = &mut out[e as usize];
                    *o = ((*o as u128 + (x % p) as u128) % p as u128) as u64;
                }
            }
        }
        Ok(out)
    }

    /// Reads the tensor back from decrypted slot vectors (each element from its first slot).
    pub fn unpack(&self, slots: &[Vec<u64>]) -> Result<Vec<u64>> {
        if slots.len() != self.cts.len() {
            return Err(LinalgError::CiphertextCount {
                expected: self.cts.len(),
                found: slots.len(),
            });
        }
        let mut out = vec![0u64; self.elements];
        for (pos, o) in self.positions().into_iter().zip(out.iter_mut()) {
            if let Some((c, s)) = pos {
                let v = slots[c].get(s).ok_or(LinalgError::Length {
                    what: "slot vector",
                    expected: self.n,
                    found: slots[c].len(),
                })?;
                *o = *v;
            }
        }
        Ok(out)
    }
}
