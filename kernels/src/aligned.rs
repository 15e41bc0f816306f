//! Word buffers whose first word sits on a 64-byte boundary (a cache line, one AVX-512
//! register).
//!
//! A plain `Vec<u64>` is aligned to 8 bytes only; with the system allocator its offset within
//! a cache line depends on the heap's history, and the vector kernels' loads then split cache
//! lines in some processes and not in others (measured: up to 1.5× between two runs of the
//! same NTT). [`AlignedVec`] stores whole 64-byte lines, so element 0 — and every multiple of
//! 8 (u64) or 16 (u32) words after it, e.g. each limb of an RNS polynomial — is line-aligned.
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use zeroize::{DefaultIsZeroes, Zeroize};

/// One 64-byte cache line of words.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(64))]
struct Line([u64; 8]);

impl DefaultIsZeroes for Line {}

const LINE_BYTES: usize = std::mem::size_of::<Line>();
const _: () = assert!(LINE_BYTES == 64 && std::mem::align_of::<Line>() == 64);

mod sealed {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for u64 {}
}

/// A machine word an [`AlignedVec`] can hold: `u32` or `u64` (every bit pattern valid,
/// alignment ≤ 64).
pub trait Word: sealed::Sealed + Copy + Default + PartialEq + std::fmt::Debug + 'static {
    /// Words per 64-byte line.
    const PER_LINE: usize = LINE_BYTES / std::mem::size_of::<Self>();
}
impl Word for u32 {}
impl Word for u64 {}

/// A growable buffer of `W` whose storage starts on a 64-byte boundary. Dereferences to `[W]`.
///
/// Invariant: `lines.len() == len.div_ceil(W::PER_LINE)`; words of the last line past `len`
/// are unspecified (initialized) and never exposed.
pub struct AlignedVec<W> {
    lines: Vec<Line>,
    len: usize,
    _word: PhantomData<W>,
}

impl<W: Word> AlignedVec<W> {
    /// An empty buffer (no allocation).
    pub const fn new() -> Self {
        AlignedVec {
            lines: Vec::new(),
            len: 0,
            _word: PhantomData,
        }
    }

    /// `len` zero words.
    pub fn zeroed(len: usize) -> Self {
        AlignedVec {
            lines: vec![Line::default(); len.div_ceil(W::PER_LINE)],
            len,
            _word: PhantomData,
        }
    }

    /// An empty buffer with room for `cap` words.
    pub fn with_capacity(cap: usize) -> Self {
        AlignedVec {
            lines: Vec::with_capacity(cap.div_ceil(W::PER_LINE)),
            len: 0,
            _word: PhantomData,
        }
    }

    /// A copy of `words`.
    pub fn from_slice(words: &[W]) -> Self {
        let mut v = Self::with_capacity(words.len());
        v.extend_from_slice(words);
        v
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Resizes to `new_len` words; new words are `value`. Keeps the allocation when shrinking.
    pub fn resize(&mut self, new_len: usize, value: W) {
        let old = self.len;
        self.lines
            .resize(new_len.div_ceil(W::PER_LINE), Line::default());
        self.len = new_len;
        if new_len > old {
            self[old..].fill(value);
        }
    }

    /// Keeps the first `len` words (no-op if there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.lines.truncate(len.div_ceil(W::PER_LINE));
            self.len = len;
        }
    }

    /// Removes every word, keeping the allocation.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Appends `words`.
    pub fn extend_from_slice(&mut self, words: &[W]) {
        let old = self.len;
        self.resize(old + words.len(), W::default());
        self[old..].copy_from_slice(words);
    }
}

impl<W: Word> Default for AlignedVec<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Word> Deref for AlignedVec<W> {
    type Target = [W];
    fn deref(&self) -> &[W] {
        // SAFETY: `Line` is `repr(C)` over `[u64; 8]`: 64 initialized bytes without padding, and
        // the lines are contiguous, so the buffer holds `lines.len() · 64` initialized bytes
        // from a 64-byte-aligned pointer (dangling but aligned when empty). The invariant
        // gives `len · size_of::<W>() ≤ lines.len() · 64`; W is u32 or u64 (sealed), for which
        // every bit pattern is valid and whose alignment divides 64.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<W>(), self.len) }
    }
}

impl<W: Word> DerefMut for AlignedVec<W> {
    fn deref_mut(&mut self) -> &mut [W] {
        // SAFETY: as in `deref`; the unique borrow of `self.lines` makes the slice exclusive,
        // and any u32/u64 written leaves the lines' bytes valid `u64`s.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<W>(), self.len) }
    }
}

impl<W> Clone for AlignedVec<W> {
    fn clone(&self) -> Self {
        AlignedVec {
            lines: self.lines.clone(),
            len: self.len,
            _word: PhantomData,
        }
    }
}

impl<W: Word> PartialEq for AlignedVec<W> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl<W: Word> Eq for AlignedVec<W> {}

impl<W> std::fmt::Debug for AlignedVec<W> {
    /// Length only (the words may be secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedVec")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<W: Word> FromIterator<W> for AlignedVec<W> {
    fn from_iter<I: IntoIterator<Item = W>>(iter: I) -> Self {
        let words: Vec<W> = iter.into_iter().collect();
        Self::from_slice(&words)
    }
}

impl<W: Word> From<&[W]> for AlignedVec<W> {
    fn from(words: &[W]) -> Self {
        Self::from_slice(words)
    }
}

impl<W: Word> Zeroize for AlignedVec<W> {
    /// Overwrites every line (spare capacity included) with zeros and empties the buffer.
    fn zeroize(&mut self) {
        self.lines.zeroize();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_line_aligned_and_behaves_as_a_vec() {
        let mut a = AlignedVec::<u64>::zeroed(13);
        assert_eq!(a.as_ptr() as usize % 64, 0);
        assert_eq!(&a[..], &[0u64; 13]);
        a.resize(20, 7);
        assert_eq!(a.len(), 20);
        assert_eq!(&a[13..], &[7u64; 7]);
        a.truncate(9);
        a.resize(17, 1);
        assert_eq!(&a[..9], &[0u64; 9]);
        assert_eq!(&a[9..], &[1u64; 8]);
        a.extend_from_slice(&[5, 6]);
        assert_eq!(&a[17..], &[5, 6]);
        assert_eq!(a.as_ptr() as usize % 64, 0);
        let b = a.clone();
        assert_eq!(a, b);
        assert_eq!(b.as_ptr() as usize % 64, 0);
        let c: AlignedVec<u32> = (0..37u32).collect();
        assert_eq!(c.as_ptr() as usize % 64, 0);
        assert_eq!(c.iter().copied().sum::<u32>(), 36 * 37 / 2);
        let mut d = c.clone();
        d.zeroize();
        assert!(d.is_empty());
        d.clear();
        assert_eq!(AlignedVec::<u64>::new().len(), 0);
        assert!(AlignedVec::<u64>::new().is_empty());
    }
}
