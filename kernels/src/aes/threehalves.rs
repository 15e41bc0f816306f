//! Three-halves AND gates (Rosulek–Roy, "Three Halves Make a Whole?", CRYPTO 2021): 1.5κ + 5
//! bits per gate instead of half-gates' 2κ, free XOR kept, under the same tweakable CCR hash
//! `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)` ([`super::Aes128::tccr_many`]).
//!
//! Labels are sliced into halves `X = (X_L, X_R)` (low and high 64 bits); the colour is the
//! lsb of `X_L` (Δ's is 1). `h(x)` is the low half of a hash, `m(x)` its bit 127. With
//! tweaks `t_A, t_B, t_X` per gate, the evaluator holding `A, B` (colours `i, j`) computes
//!
//! ```text
//! r1 = z0 ⊕ i·z2 ⊕ (i⊕j)·z4 ⊕ m(A, t_A) ⊕ m(A⊕B, t_X)
//! r2 = z1 ⊕ j·z3 ⊕ (i⊕j)·z4 ⊕ m(B, t_B) ⊕ m(A⊕B, t_X)
//! R  = r1·S1 ⊕ r2·S2 ⊕ Rp(i, j)                      (2×4 over GF(2), on (A_L, A_R, B_L, B_R))
//! C_L = h(A, t_A) ⊕ h(A⊕B, t_X) ⊕ i·G0 ⊕ (i⊕j)·G2 ⊕ R₀·(A_L, A_R, B_L, B_R)
//! C_R = h(B, t_B) ⊕ h(A⊕B, t_X) ⊕ j·G1 ⊕ (i⊕j)·G2 ⊕ R₁·(A_L, A_R, B_L, B_R)
//! ```
//!
//! with the paper's slicing matrices `S1, S2` and `Rp(i, j) = (ī·B_L ; j̄·A_R)`. The table is
//! `G0, G1, G2` (8 bytes each) and the control ("dice") bits `z0..z4`; the tables of one call
//! for `n` gates are laid out by region ([`regions`]): every gate's `G0 ‖ G1` (16 bytes), then
//! every gate's `G2` (8 bytes), then every gate's control byte. The garbler draws two
//! secret bits `ρ1, ρ2` per gate (the caller's `dice`), so that the evaluator's `R` is uniform
//! whatever the colours; it hashes the six labels `A, A⊕Δ, B, B⊕Δ, A⊕B, A⊕B⊕Δ` (the evaluator
//! three). What it adds to each hash difference is solved once, at compile time, from the
//! evaluation rule above (`solve`: every case of colours and dice has exactly one solution,
//! or the crate does not build). This module is the reference every backend is checked
//! against and the path of those without a fused kernel (portable, ARMv8); x86-64 runs
//! `x86_threehalves`.
use super::Aes128;
use crate::block::Block;
use zeroize::Zeroize;

/// Gates per hashing batch (the garbler hashes six blocks per gate).
const BATCH: usize = 16;

/// Bytes of one garbled AND gate: `G0, G1, G2` (little-endian 64-bit halves) and one byte
/// whose bits 0..5 are `z0..z4` (bits 5..8 zero).
pub const TABLE_BYTES: usize = 25;

/// The regions of a call's tables for `n` gates (`tables.len() == 25n`): `G0 ‖ G1` of each
/// gate (16 bytes per gate), `G2` of each gate (8), the control byte of each gate (1).
pub fn regions(tables: &[u8], n: usize) -> (&[u8], &[u8], &[u8]) {
    let (g01, rest) = tables.split_at(16 * n);
    let (g2, z) = rest.split_at(8 * n);
    (g01, g2, z)
}

/// [`regions`], writable.
pub fn regions_mut(tables: &mut [u8], n: usize) -> (&mut [u8], &mut [u8], &mut [u8]) {
    let (g01, rest) = tables.split_at_mut(16 * n);
    let (g2, z) = rest.split_at_mut(8 * n);
    (g01, g2, z)
}

/// The tweak of hash `k` (0: A, 1: B, 2: A⊕B) of AND gate number `gate`: the block
/// `(4·gate + k) mod 2^64 + 2^64 · domain`.
#[inline(always)]
pub fn tweak(gate: u64, k: u64, domain: u64) -> Block {
    Block::from_u64s(gate.wrapping_mul(4) | k, domain)
}

/// Rows of a 2×4 GF(2) matrix on (A_L, A_R, B_L, B_R): bit 0 A_L, bit 1 A_R, bit 2 B_L, bit 3 B_R.
type Rows = [u8; 2];

const S1: Rows = [0b0111, 0b1001];
const S2: Rows = [0b1001, 0b1110];

/// `Rp(i, j)`, indexed by `2i + j`.
const RP: [Rows; 4] = [[0b0100, 0b0010], [0b0100, 0], [0, 0b0010], [0, 0]];

/// The evaluator's matrix for colours `(i, j)` and decoded dice `(r1, r2)`.
const fn r_matrix(i: bool, j: bool, r1: bool, r2: bool) -> Rows {
    let p = RP[2 * i as usize + j as usize];
    let s1 = if r1 { S1 } else { [0, 0] };
    let s2 = if r2 { S2 } else { [0, 0] };
    [p[0] ^ s1[0] ^ s2[0], p[1] ^ s1[1] ^ s2[1]]
}

/// [`r_matrix`] for every `(i, j, r1, r2)`, indexed by `8i + 4j + 2r1 + r2` (a lookup: the
/// colours and dice are random, a branch on them is mispredicted half the time).
const R_TABLE: [Rows; 16] = {
    let mut t = [[0u8; 2]; 16];
    let mut k = 0;
    while k < 16 {
        t[k] = r_matrix(k & 8 != 0, k & 4 != 0, k & 2 != 0, k & 1 != 0);
        k += 1;
    }
    t
};

/// What the garbler adds for one case of `(pa, pb, ρ1, ρ2)`: linear forms over its six
/// secret halves (bit 0 `A_L`, 1 `A_R`, 2 `B_L`, 3 `B_R`, 4 `Δ_L`, 5 `Δ_R`; `A, B` the
/// colour-0 labels) for the output zero-label's halves and `G0, G1, G2`, and the dice
/// coefficients `β1, β2, γ` that make the evaluator decode `r1 = ρ1 ⊕ i·β1 ⊕ (i⊕j)·γ`,
/// `r2 = ρ2 ⊕ j·β2 ⊕ (i⊕j)·γ`.
#[derive(Clone, Copy)]
struct Coeffs {
    c: [u8; 2],
    g: [u8; 3],
    beta: [bool; 2],
    gamma: bool,
}

/// The linear form of `rows · (A ⊕ iΔ, B ⊕ jΔ)` (row `k`), as a mask over the six halves.
const fn form(rows: Rows, k: usize, i: bool, j: bool) -> u8 {
    let x = rows[k];
    let mut f = 0u8;
    if x & 1 != 0 {
        f ^= 0b000001 | if i { 0b010000 } else { 0 };
    }
    if x & 2 != 0 {
        f ^= 0b000010 | if i { 0b100000 } else { 0 };
    }
    if x & 4 != 0 {
        f ^= 0b000100 | if j { 0b010000 } else { 0 };
    }
    if x & 8 != 0 {
        f ^= 0b001000 | if j { 0b100000 } else { 0 };
    }
    f
}

/// The coefficients of `1, i, j, i·j` of a function of the colours given at `2i + j`.
const fn coefficients(f: [u8; 4]) -> [u8; 4] {
    [f[0], f[0] ^ f[2], f[0] ^ f[1], f[0] ^ f[1] ^ f[2] ^ f[3]]
}

/// The garbler's coefficients for `(pa, pb, ρ1, ρ2)` (index `8pa + 4pb + 2ρ1 + ρ2`): for each
/// choice of `β1, β2, γ`, the evaluator's output minus the hash terms, as a function of its
/// colours, must be `C ⊕ i·(G0 ⊕ G2) ⊕ j·G2` (left) and `C' ⊕ i·G2 ⊕ j·(G1 ⊕ G2)` (right) up to
/// `(a∧b)·Δ` — no `i·j` term and one shared `G2`. Exactly one choice satisfies that; the
/// compile-time evaluation panics otherwise.
const fn solve() -> [Coeffs; 16] {
    let mut table = [Coeffs {
        c: [0; 2],
        g: [0; 3],
        beta: [false; 2],
        gamma: false,
    }; 16];
    let mut case = 0;
    while case < 16 {
        let (pa, pb) = (case & 8 != 0, case & 4 != 0);
        let (rho1, rho2) = (case & 2 != 0, case & 1 != 0);
        let mut found = 0;
        let mut choice = 0;
        while choice < 8 {
            let (b1, b2, gm) = (choice & 4 != 0, choice & 2 != 0, choice & 1 != 0);
            // f[half][2i + j]: the evaluator's R·(labels) ⊕ (a∧b)·Δ_half.
            let mut f = [[0u8; 4]; 2];
            let mut ij = 0;
            while ij < 4 {
                let (i, j) = (ij & 2 != 0, ij & 1 != 0);
                let r1 = rho1 ^ (i & b1) ^ ((i ^ j) & gm);
                let r2 = rho2 ^ (j & b2) ^ ((i ^ j) & gm);
                let r = r_matrix(i, j, r1, r2);
                // a = i ⊕ pa, b = j ⊕ pb: a∧b at colours (¬pa, ¬pb).
                let one = (i ^ pa) & (j ^ pb);
                f[0][ij] = form(r, 0, i, j) ^ if one { 0b010000 } else { 0 };
                f[1][ij] = form(r, 1, i, j) ^ if one { 0b100000 } else { 0 };
                ij += 1;
            }
            let (l, r) = (coefficients(f[0]), coefficients(f[1]));
            if l[3] == 0 && r[3] == 0 && l[2] == r[1] {
                found += 1;
                let g2 = l[2];
                table[case] = Coeffs {
                    c: [l[0], r[0]],
                    g: [l[1] ^ g2, r[2] ^ g2, g2],
                    beta: [b1, b2],
                    gamma: gm,
                };
            }
            choice += 1;
        }
        assert!(found == 1, "three-halves: no unique garbling for a case");
        case += 1;
    }
    table
}

/// The garbler's coefficients, solved at compile time.
const GARBLER: [Coeffs; 16] = solve();

/// [`GARBLER`]'s linear forms as word masks (all ones where a half is selected): per case,
/// the output's left and right halves, then `G0, G1, G2`, each over the six halves.
static GARBLER_MASKS: [[[u64; 6]; 5]; 16] = {
    let mut t = [[[0u64; 6]; 5]; 16];
    let mut case = 0;
    while case < 16 {
        let e = GARBLER[case];
        let forms = [e.c[0], e.c[1], e.g[0], e.g[1], e.g[2]];
        let mut f = 0;
        while f < 5 {
            let mut k = 0;
            while k < 6 {
                if forms[f] >> k & 1 != 0 {
                    t[case][f][k] = u64::MAX;
                }
                k += 1;
            }
            f += 1;
        }
        case += 1;
    }
    t
};

/// `⊕` of the halves selected by `masks` (a row of [`GARBLER_MASKS`]).
#[inline(always)]
fn combine(masks: &[u64; 6], halves: &[u64; 6]) -> u64 {
    (masks[0] & halves[0])
        ^ (masks[1] & halves[1])
        ^ (masks[2] & halves[2])
        ^ (masks[3] & halves[3])
        ^ (masks[4] & halves[4])
        ^ (masks[5] & halves[5])
}

/// `⊕` of the label halves selected by a row (four bits: A_L, A_R, B_L, B_R).
#[inline(always)]
fn apply(row: u8, halves: &[u64; 4]) -> u64 {
    let mut x = 0;
    for (k, h) in halves.iter().enumerate() {
        x ^= h & 0u64.wrapping_sub(u64::from((row >> k) & 1));
    }
    x
}

#[inline(always)]
fn halves(x: Block) -> (u64, u64) {
    let v = x.to_u128();
    (v as u64, (v >> 64) as u64)
}

#[inline(always)]
fn low(x: Block) -> u64 {
    x.to_u128() as u64
}

#[inline(always)]
fn top(x: Block) -> u8 {
    (x.to_u128() >> 127) as u8
}

/// Garbles `a.len()` AND gates numbered from `gate`: `a`, `b` the operands' slot labels,
/// `flips` XORed into them for complemented operands, `dice` one secret random byte per gate
/// (bits 0 and 1 used), zero-labels of the outputs to `out`, the tables to the regions
/// `(g01, g2, z)` (see [`regions`]; indexed from this call's first gate). Lengths checked by
/// the caller.
#[allow(clippy::too_many_arguments)]
pub(super) fn garble(
    aes: &Aes128,
    delta: Block,
    flips: [Block; 2],
    a: &[Block],
    b: &[Block],
    dice: &[u8],
    gate: u64,
    domain: u64,
    out: &mut [Block],
    (g01, g2, zs): (&mut [u8], &mut [u8], &mut [u8]),
) {
    let mut h = [Block::ZERO; 6 * BATCH];
    let mut tw = [Block::ZERO; 6 * BATCH];
    let (dl, dr) = halves(delta);
    let mut v = [0u64; 6];
    for c0 in (0..a.len()).step_by(BATCH) {
        let n = BATCH.min(a.len() - c0);
        for i in 0..n {
            let t = gate.wrapping_add((c0 + i) as u64);
            let a0 = a[c0 + i] ^ flips[0];
            let b0 = b[c0 + i] ^ flips[1];
            // Colour-0 labels.
            let ac = a0 ^ delta.and_bit(a0.lsb());
            let bc = b0 ^ delta.and_bit(b0.lsb());
            let xc = ac ^ bc;
            let (hs, ts) = (&mut h[6 * i..6 * i + 6], &mut tw[6 * i..6 * i + 6]);
            (hs[0], hs[1], hs[2], hs[3]) = (ac, ac ^ delta, bc, bc ^ delta);
            (hs[4], hs[5]) = (xc, xc ^ delta);
            let (ta, tb, tx) = (
                tweak(t, 0, domain),
                tweak(t, 1, domain),
                tweak(t, 2, domain),
            );
            (ts[0], ts[1], ts[2], ts[3], ts[4], ts[5]) = (ta, ta, tb, tb, tx, tx);
        }
        aes.tccr_many(&mut h[..6 * n], &tw[..6 * n]);
        for i in 0..n {
            let a0 = a[c0 + i] ^ flips[0];
            let b0 = b[c0 + i] ^ flips[1];
            let (pa, pb) = (a0.lsb(), b0.lsb());
            let ac = a0 ^ delta.and_bit(pa);
            let bc = b0 ^ delta.and_bit(pb);
            let (al, ar) = halves(ac);
            let (bl, br) = halves(bc);
            v = [al, ar, bl, br, dl, dr];
            let (rho1, rho2) = (dice[c0 + i] & 1, (dice[c0 + i] >> 1) & 1);
            let case = usize::from(pa) << 3
                | usize::from(pb) << 2
                | usize::from(rho1) << 1
                | usize::from(rho2);
            let (e, m) = (&GARBLER[case], &GARBLER_MASKS[case]);
            let h = &h[6 * i..6 * i + 6];
            let cl = low(h[0]) ^ low(h[4]) ^ combine(&m[0], &v);
            let cr = low(h[2]) ^ low(h[4]) ^ combine(&m[1], &v);
            out[c0 + i] = Block::from_u64s(cl, cr);
            let g = [
                low(h[0]) ^ low(h[1]) ^ combine(&m[2], &v),
                low(h[2]) ^ low(h[3]) ^ combine(&m[3], &v),
                low(h[4]) ^ low(h[5]) ^ combine(&m[4], &v),
            ];
            let z = [
                rho1 ^ top(h[0]) ^ top(h[4]),
                rho2 ^ top(h[2]) ^ top(h[4]),
                u8::from(e.beta[0]) ^ top(h[0]) ^ top(h[1]),
                u8::from(e.beta[1]) ^ top(h[2]) ^ top(h[3]),
                u8::from(e.gamma) ^ top(h[4]) ^ top(h[5]),
            ];
            let k = c0 + i;
            g01[16 * k..16 * k + 8].copy_from_slice(&g[0].to_le_bytes());
            g01[16 * k + 8..16 * k + 16].copy_from_slice(&g[1].to_le_bytes());
            g2[8 * k..8 * k + 8].copy_from_slice(&g[2].to_le_bytes());
            zs[k] = z[0] | z[1] << 1 | z[2] << 2 | z[3] << 3 | z[4] << 4;
        }
    }
    Block::slice_as_bytes_mut(&mut h).zeroize();
    v.zeroize();
}

/// Evaluates the gates of [`garble`] on active labels `a`, `b`, tables in the regions
/// `(g01, g2, z)`; lengths checked by the caller.
pub(super) fn evaluate(
    aes: &Aes128,
    a: &[Block],
    b: &[Block],
    (g01, g2, zs): (&[u8], &[u8], &[u8]),
    gate: u64,
    domain: u64,
    out: &mut [Block],
) {
    let mut h = [Block::ZERO; 3 * BATCH];
    let mut tw = [Block::ZERO; 3 * BATCH];
    for c0 in (0..a.len()).step_by(BATCH) {
        let n = BATCH.min(a.len() - c0);
        for i in 0..n {
            let t = gate.wrapping_add((c0 + i) as u64);
            let (x, y) = (a[c0 + i], b[c0 + i]);
            (h[3 * i], h[3 * i + 1], h[3 * i + 2]) = (x, y, x ^ y);
            (tw[3 * i], tw[3 * i + 1], tw[3 * i + 2]) = (
                tweak(t, 0, domain),
                tweak(t, 1, domain),
                tweak(t, 2, domain),
            );
        }
        aes.tccr_many(&mut h[..3 * n], &tw[..3 * n]);
        for i in 0..n {
            let (al, ar) = halves(a[c0 + i]);
            let (bl, br) = halves(b[c0 + i]);
            // Branch-free: colours, dice and control bits are random.
            let (si, sj) = ((al & 1) as u8, (bl & 1) as u8);
            let k = c0 + i;
            let word =
                |r: &[u8], at: usize| u64::from_le_bytes(r[at..at + 8].try_into().expect("8"));
            let g = [word(g01, 16 * k), word(g01, 16 * k + 8), word(g2, 8 * k)];
            let z = zs[k];
            let h = &h[3 * i..3 * i + 3];
            let sx = si ^ sj;
            let mx = top(h[2]);
            let r1 = (z ^ (si * (z >> 2)) ^ (sx * (z >> 4)) ^ top(h[0]) ^ mx) & 1;
            let r2 = ((z >> 1) ^ (sj * (z >> 3)) ^ (sx * (z >> 4)) ^ top(h[1]) ^ mx) & 1;
            let r = R_TABLE[usize::from(si << 3 | sj << 2 | r1 << 1 | r2)];
            let lab = [al, ar, bl, br];
            let sel = |s: u8, v: u64| v & 0u64.wrapping_sub(u64::from(s));
            let g2 = sel(sx, g[2]);
            let cl = low(h[0]) ^ low(h[2]) ^ sel(si, g[0]) ^ g2 ^ apply(r[0], &lab);
            let cr = low(h[1]) ^ low(h[2]) ^ sel(sj, g[1]) ^ g2 ^ apply(r[1], &lab);
            out[c0 + i] = Block::from_u64s(cl, cr);
        }
    }
    Block::slice_as_bytes_mut(&mut h).zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aes::AesBackend;

    /// The solved dice coefficients are the paper's: β1 = ¬pa, β2 = ¬pb, γ = pa ⊕ pb.
    #[test]
    fn solved_dice_coefficients_place_the_one_of_the_truth_table() {
        for (case, e) in GARBLER.iter().enumerate() {
            let (pa, pb) = (case & 8 != 0, case & 4 != 0);
            assert_eq!(e.beta, [!pa, !pb], "case {case}");
            assert_eq!(e.gamma, pa ^ pb, "case {case}");
        }
    }

    /// Every gate, every input value, complemented operands and any dice: the evaluated label
    /// is the output's zero-label ⊕ (a∧b)·Δ.
    #[test]
    fn evaluation_gives_the_and_of_the_values() {
        let aes = Aes128::with_backend(Block::from_u128(0x1234_5678), AesBackend::Portable)
            .expect("portable");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 5, 16, 17, 40] {
            let delta = Block::from_u64s(next(), next()).with_lsb(true);
            let a: Vec<Block> = (0..n).map(|_| Block::from_u64s(next(), next())).collect();
            let b: Vec<Block> = (0..n).map(|_| Block::from_u64s(next(), next())).collect();
            let dice: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            for (fa, fb) in [(false, false), (true, false), (false, true), (true, true)] {
                let flips = [delta.and_bit(fa), delta.and_bit(fb)];
                let gate = u64::MAX - 3;
                let mut zero = vec![Block::ZERO; n];
                let mut tables = vec![0u8; TABLE_BYTES * n];
                garble(
                    &aes,
                    delta,
                    flips,
                    &a,
                    &b,
                    &dice,
                    gate,
                    7,
                    &mut zero,
                    regions_mut(&mut tables, n),
                );
                assert!(regions(&tables, n).2.iter().all(|z| z >> 5 == 0));
                for (va, vb) in [(false, false), (true, false), (false, true), (true, true)] {
                    // The evaluator holds the labels of values va, vb of the (complemented)
                    // operands: zero-label ⊕ value·Δ, the zero-label being slot ⊕ flip.
                    let x: Vec<Block> = a
                        .iter()
                        .map(|&l| l ^ flips[0] ^ delta.and_bit(va))
                        .collect();
                    let y: Vec<Block> = b
                        .iter()
                        .map(|&l| l ^ flips[1] ^ delta.and_bit(vb))
                        .collect();
                    let mut got = vec![Block::ZERO; n];
                    evaluate(&aes, &x, &y, regions(&tables, n), gate, 7, &mut got);
                    for k in 0..n {
                        assert_eq!(got[k], zero[k] ^ delta.and_bit(va & vb), "n {n} gate {k}");
                    }
                }
            }
        }
    }
}
