//! Lane index tables for the last NTT stages, where a butterfly's two halves lie within one
//! block of `2L` elements held in two vectors of L lanes (used by the AVX-512 kernels).
//!
//! For butterfly half-size h < L, element e of the block belongs to group e / 2h and is an
//! `x` (top) input if e mod 2h < h, else a `y` input paired with e − h.

/// Index tables for one stage: `x[i]`/`y[i]` are block positions gathered into lane i of the
/// x and y vectors; `group[i]` is that lane's group offset (its twiddle is tw[k + group[i]]);
/// `back[j]` is where block position j comes from in the concatenation (x ‖ y) after the
/// butterfly (lane < L: from x, else from y at lane − L).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageLanes<const L: usize, const L2: usize> {
    pub(crate) x: [usize; L],
    pub(crate) y: [usize; L],
    pub(crate) group: [usize; L],
    pub(crate) back: [usize; L2],
}

/// Index tables for half-size `h` (a power of two below L).
pub(crate) const fn stage_lanes<const L: usize, const L2: usize>(h: usize) -> StageLanes<L, L2> {
    let mut x = [0usize; L];
    let mut y = [0usize; L];
    let mut group = [0usize; L];
    let mut back = [0usize; L2];
    let mut lane = 0;
    let mut e = 0;
    while e < L2 {
        if e % (2 * h) < h {
            x[lane] = e;
            y[lane] = e + h;
            group[lane] = e / (2 * h);
            back[e] = lane;
            back[e + h] = lane + L;
            lane += 1;
        }
        e += 1;
    }
    StageLanes { x, y, group, back }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates gather → butterfly → scatter with scalars: every block position is visited
    /// exactly once, paired with the partner at distance h, with its own group's twiddle.
    #[test]
    fn tables_pair_each_element_with_its_partner() {
        fn check<const L: usize, const L2: usize>() {
            let mut h = 1;
            while h < L {
                let s = stage_lanes::<L, L2>(h);
                let mut seen = [false; L2];
                for i in 0..L {
                    assert_eq!(s.y[i], s.x[i] + h);
                    assert_eq!(s.group[i], s.x[i] / (2 * h));
                    assert!(!seen[s.x[i]] && !seen[s.y[i]]);
                    seen[s.x[i]] = true;
                    seen[s.y[i]] = true;
                }
                assert!(seen.iter().all(|&b| b));
                // back ∘ gather = identity on the concatenation (x ‖ y).
                let cat: Vec<usize> = s.x.iter().chain(s.y.iter()).copied().collect();
                for (j, &src) in s.back.iter().enumerate() {
                    assert_eq!(cat[src], j);
                }
                h *= 2;
            }
        }
        check::<2, 4>();
        check::<4, 8>();
        check::<8, 16>();
        check::<16, 32>();
    }
}
