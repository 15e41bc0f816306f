//! The circuits of Gazelle's non-linear layers, parameterised by the plaintext modulus p.
//!
//! One instance takes a window of `w` values held as additive shares mod p — the evaluator
//! (client) holds `c_j`, the garbler (server) `s_j` — and computes, exactly as the model's
//! arithmetic does (`DESIGN.md`, "Networks"):
//!
//! 1. `x_j = (c_j + s_j) mod p`, read as signed: `v_j = x_j − p` if `x_j > (p−1)/2`, else `x_j`;
//! 2. optional arithmetic floor shift `v_j ← ⌊v_j / 2^k⌋`;
//! 3. optional clamp to `[−2^(b−1), 2^(b−1) − 1]` (the `DownShift` with `act_bits = b`);
//! 4. optional ReLU `max(v, 0)`;
//! 5. max over the window (`w = 1`: no pooling);
//! 6. output `(y + r) mod p` for a fresh garbler mask `r` (re-masking, the client learns only a
//!    share), or `y` itself revealed to the client (final logits).
//!
//! [`ArgmaxCircuit`] runs steps 1–5 for each of the k logits in one instance and outputs only
//! the index of the first maximum (the class), so the last layer need not reveal the logits.
//!
//! Shift, clamp and ReLU are monotone, so they commute with max: the circuit pools the shifted
//! values first and clamps and rectifies once — the result is the same, the circuit smaller.
//!
//! # Garbler-side precomputation (free inputs)
//! With `h = (p−1)/2` and `s'_j = (s_j + h) mod p`, the garbler inputs `A_j = p − s'_j`
//! (in [1, p]) and, when re-masking, `B = p − r` (in [1, p]). The circuit then computes
//!
//! * `d = c − A` on n+1 bits (n ANDs); its borrow says whether `c + s' < p`;
//! * `v = d + (borrow ? h+1 : −h)` on n+1 bits (n ANDs): the signed value, since
//!   `(c + s') mod p − h ≡ c + s (mod p)` and lies in [−h, h];
//! * re-masking of a non-negative `y`: `e = y − B` (n ANDs), `out = e + borrow·p` (n−1 ANDs);
//!   a signed `y` is first mapped to [0, p) by adding `p·sign` (n−1 ANDs).
//!
//! so a plain ReLU with re-masking costs 2n + (n) + (2n − 1) = 5n − 1 AND gates (99 at the
//! 20-bit p = 1032193), against the 8n target and the reference code's 178.
use crate::gc::arith::{self, modulus_bits};
use crate::gc::circuit::{from_bits, from_bits_signed, to_bits, Builder, Circuit, Gates, Wire};
use crate::gc::error::{GcError, Result};

/// What the circuit gives the evaluator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// `(y + r) mod p` for the garbler's fresh mask r (the evaluator learns a share of y).
    Remask,
    /// `y` itself, as a signed value (final layer).
    Reveal,
}

/// Parameters of one non-linear layer's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NonlinearSpec {
    /// Plaintext modulus (odd, 3 ≤ p < 2^62).
    pub p: u64,
    /// Arithmetic floor right-shift applied to the signed value (0: none).
    pub shift: u32,
    /// Clamp to this many signed bits (`act_bits`), if any.
    pub clamp_bits: Option<u32>,
    /// Apply ReLU.
    pub relu: bool,
    /// Max-pool window size (1: no pooling).
    pub window: usize,
    /// Re-mask or reveal the result.
    pub output: Output,
}

impl NonlinearSpec {
    /// ReLU with re-masking: `(max(v, 0) + r) mod p`.
    pub fn relu(p: u64) -> NonlinearSpec {
        NonlinearSpec {
            p,
            shift: 0,
            clamp_bits: None,
            relu: true,
            window: 1,
            output: Output::Remask,
        }
    }

    /// The model's `DownShift` (floor shift by `shift`, clamp to `act_bits`) followed by ReLU and
    /// re-masking.
    pub fn downshift_relu(p: u64, shift: u32, act_bits: u32) -> NonlinearSpec {
        NonlinearSpec {
            shift,
            clamp_bits: Some(act_bits),
            ..NonlinearSpec::relu(p)
        }
    }

    /// Max-pool over `window` values fused with ReLU and re-masking.
    pub fn maxpool_relu(p: u64, window: usize) -> NonlinearSpec {
        NonlinearSpec {
            window,
            ..NonlinearSpec::relu(p)
        }
    }

    /// This spec with a floor shift.
    pub fn with_shift(self, shift: u32) -> NonlinearSpec {
        NonlinearSpec { shift, ..self }
    }

    /// This spec with a clamp to `act_bits` signed bits.
    pub fn with_clamp(self, act_bits: u32) -> NonlinearSpec {
        NonlinearSpec {
            clamp_bits: Some(act_bits),
            ..self
        }
    }

    /// This spec with or without ReLU.
    pub fn with_relu(self, relu: bool) -> NonlinearSpec {
        NonlinearSpec { relu, ..self }
    }

    /// This spec with a max-pool window.
    pub fn with_window(self, window: usize) -> NonlinearSpec {
        NonlinearSpec { window, ..self }
    }

    /// This spec revealing its result instead of re-masking it.
    pub fn revealed(self) -> NonlinearSpec {
        NonlinearSpec {
            output: Output::Reveal,
            ..self
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(GcError::InvalidParams(m));
        if self.p < 3 || self.p.is_multiple_of(2) || self.p >= 1 << 62 {
            return bad(format!("p = {} must be odd with 3 <= p < 2^62", self.p));
        }
        let n = modulus_bits(self.p);
        if self.shift as usize >= n {
            return bad(format!(
                "shift {} must be below the modulus width {n}",
                self.shift
            ));
        }
        if let Some(b) = self.clamp_bits {
            if b < 2 || (1u64 << (b - 1)) > (self.p - 1) / 2 {
                return bad(format!("act_bits {b}: need 2 <= b and 2^(b-1) <= (p-1)/2"));
            }
        }
        if self.window == 0 {
            return bad("max-pool window must hold at least one value".into());
        }
        Ok(())
    }

    /// The model's result for one window (`x_j` already reconstructed, in [0, p)), before
    /// re-masking: the integer reference the circuit is tested against.
    pub fn reference_value(&self, x: &[u64]) -> i64 {
        let p = self.p as i64;
        let h = (p - 1) / 2;
        x.iter()
            .map(|&xj| {
                let xj = xj as i64;
                let mut v = if xj > h { xj - p } else { xj };
                v >>= self.shift; // arithmetic shift: floor division by 2^k
                if let Some(b) = self.clamp_bits {
                    let lim = 1i64 << (b - 1);
                    v = v.clamp(-lim, lim - 1);
                }
                if self.relu {
                    v = v.max(0);
                }
                v
            })
            .max()
            .expect("window is non-empty")
    }
}

/// A built non-linear circuit with its input/output encodings.
#[derive(Debug, Clone)]
pub struct NonlinearCircuit {
    spec: NonlinearSpec,
    circuit: Circuit,
    /// ⌈log2 p⌉.
    n: usize,
    /// Output bits per instance.
    out_bits: usize,
}

impl NonlinearCircuit {
    /// Builds the circuit of `spec`.
    ///
    /// Inputs per instance, in order: the evaluator's `c_j` (n bits each, j < window), then the
    /// garbler's `A_j` (n bits each) and, for [`Output::Remask`], `B` (n bits).
    /// Outputs per instance: n bits of `(y + r) mod p`, or the signed `y` in two's complement.
    pub fn new(spec: NonlinearSpec) -> Result<NonlinearCircuit> {
        spec.validate()?;
        let n = modulus_bits(spec.p);
        let mut b = Builder::new();
        let c: Vec<Vec<Wire>> = (0..spec.window).map(|_| b.evaluator_input(n)).collect();
        let a: Vec<Vec<Wire>> = (0..spec.window).map(|_| b.garbler_input(n)).collect();
        let bm = (spec.output == Output::Remask).then(|| b.garbler_input(n));
        let out = nonlinear(&mut b, &spec, &c, &a, bm.as_deref());
        let out_bits = out.len();
        b.output(&out);
        Ok(NonlinearCircuit {
            spec,
            circuit: b.finish(),
            n,
            out_bits,
        })
    }

    /// The spec.
    pub fn spec(&self) -> &NonlinearSpec {
        &self.spec
    }

    /// The recorded circuit.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// AND gates per instance.
    pub fn and_count(&self) -> usize {
        self.circuit.and_count()
    }

    /// Output bits per instance.
    pub fn output_bits(&self) -> usize {
        self.out_bits
    }

    fn check_range(&self, values: &[u64]) -> Result<()> {
        match values.iter().find(|&&v| v >= self.spec.p) {
            Some(&v) => Err(GcError::ValueOutOfRange {
                value: v,
                bound: self.spec.p,
            }),
            None => Ok(()),
        }
    }

    /// The evaluator's input bits for its shares `c` (`[instance][window]`, each in [0, p)).
    pub fn evaluator_bits(&self, c: &[u64]) -> Result<Vec<bool>> {
        if !c.len().is_multiple_of(self.spec.window) {
            return Err(GcError::InputLength {
                expected: c.len().next_multiple_of(self.spec.window),
                found: c.len(),
            });
        }
        self.check_range(c)?;
        Ok(c.iter().flat_map(|&v| to_bits(v, self.n)).collect())
    }

    /// The garbler's input bits for its shares `s` (`[instance][window]`) and masks `r`
    /// (`[instance]`, ignored for [`Output::Reveal`]), all in [0, p).
    pub fn garbler_bits(&self, s: &[u64], r: &[u64]) -> Result<Vec<bool>> {
        let w = self.spec.window;
        let instances = s.len() / w;
        if !s.len().is_multiple_of(w) {
            return Err(GcError::InputLength {
                expected: s.len().next_multiple_of(w),
                found: s.len(),
            });
        }
        let remask = self.spec.output == Output::Remask;
        if remask && r.len() != instances {
            return Err(GcError::InputLength {
                expected: instances,
                found: r.len(),
            });
        }
        self.check_range(s)?;
        self.check_range(r)?;
        let p = self.spec.p;
        let mut bits = Vec::new();
        for i in 0..instances {
            for &sj in &s[i * w..(i + 1) * w] {
                bits.extend(garbler_share_bits(p, self.n, sj));
            }
            if remask {
                bits.extend(to_bits(p - r[i], self.n));
            }
        }
        Ok(bits)
    }

    /// All input bits in circuit order (`[instance][input]`): for plaintext runs and tests.
    pub fn input_bits(&self, c: &[u64], s: &[u64], r: &[u64]) -> Result<Vec<bool>> {
        let e = self.evaluator_bits(c)?;
        let g = self.garbler_bits(s, r)?;
        let instances = c.len() / self.spec.window;
        crate::gc::merge_inputs(&self.circuit, instances, &g, &e)
    }

    /// Decodes output bits (`[instance][output]`) to values: in [0, p) for
    /// [`Output::Remask`], signed for [`Output::Reveal`].
    pub fn decode_outputs(&self, bits: &[bool]) -> Vec<i64> {
        bits.chunks(self.out_bits)
            .map(|ch| match self.spec.output {
                Output::Remask => from_bits(ch) as i64,
                Output::Reveal => from_bits_signed(ch),
            })
            .collect()
    }

    /// The integer reference: what the outputs must decode to.
    pub fn reference(&self, c: &[u64], s: &[u64], r: &[u64]) -> Vec<i64> {
        let (p, w) = (self.spec.p, self.spec.window);
        (0..c.len() / w)
            .map(|i| {
                let x: Vec<u64> = (0..w).map(|j| (c[i * w + j] + s[i * w + j]) % p).collect();
                let y = self.spec.reference_value(&x);
                match self.spec.output {
                    Output::Remask => (y.rem_euclid(p as i64) + r[i] as i64) % p as i64,
                    Output::Reveal => y,
                }
            })
            .collect()
    }
}

/// The last layer's circuit when only the class may be revealed: the index of the largest of
/// `k` values (the logits), computed inside the garbled circuit so that the evaluator learns
/// nothing else about them (Gazelle's client otherwise sees every logit, which makes model
/// extraction by equation solving cheap).
///
/// Each logit is one window of [`NonlinearSpec`] — reconstruction from the shares mod p,
/// floor shift, max-pool, clamp, ReLU, exactly as the revealing circuit computes it (the
/// spec's `output` is ignored) — and the result is the index of the **first** maximum, as
/// [`crate::nn::argmax`] breaks ties, on ⌈log2 k⌉ output bits (none for k = 1).
///
/// # Use in the protocol
/// The whole vector is **one** circuit instance: garble with `instances =`
/// [`ArgmaxCircuit::INSTANCES`] (1). The inputs are the same share encodings as the
/// revealing circuit's, with all `k · window` values in one instance:
///
/// * evaluator (client) inputs, first: [`ArgmaxCircuit::evaluator_bits`] of its shares `c`,
///   ordered `[logit][window]` (the plan's `gather` order), n = ⌈log2 p⌉ bits per value —
///   the same `k · window · n` oblivious transfers as the revealing stage;
/// * garbler (server) inputs, then: [`ArgmaxCircuit::garbler_bits`] of its shares `s`, same
///   order and size (no mask: nothing is re-masked);
/// * output: [`ArgmaxCircuit::output_bits`] decoding bits, sent like any circuit's; the
///   evaluator decodes the output labels with [`crate::gc::decode`] and turns the bits into
///   the class with [`ArgmaxCircuit::decode_class`].
///
/// AND gates: k × (the per-logit value's cost) + (k − 1) signed comparisons and k − 2 value
/// multiplexers on the value's width, plus at most k index-bit multiplexers — 764 for
/// k = 10 at the 20-bit p = 1032193 without requantisation, 653 with a shift of 8 and a clamp
/// to 8 bits (see `gc_argmax_counts_20bit`).
#[derive(Debug, Clone)]
pub struct ArgmaxCircuit {
    spec: NonlinearSpec,
    classes: usize,
    circuit: Circuit,
    /// ⌈log2 p⌉.
    n: usize,
    /// ⌈log2 k⌉.
    out_bits: usize,
}

impl ArgmaxCircuit {
    /// Instances to garble and evaluate: the circuit covers the whole logit vector.
    pub const INSTANCES: usize = 1;

    /// Builds the argmax over `classes` values, each computed by `spec` (output mode ignored)
    /// from `spec.window` shared values.
    pub fn new(spec: NonlinearSpec, classes: usize) -> Result<ArgmaxCircuit> {
        let spec = spec.revealed();
        spec.validate()?;
        if classes == 0 {
            return Err(GcError::InvalidParams(
                "the argmax needs at least one value".into(),
            ));
        }
        let n = modulus_bits(spec.p);
        let w = spec.window;
        let mut b = Builder::new();
        let c: Vec<Vec<Wire>> = (0..classes * w).map(|_| b.evaluator_input(n)).collect();
        let a: Vec<Vec<Wire>> = (0..classes * w).map(|_| b.garbler_input(n)).collect();
        let out = argmax_circuit(&mut b, &spec, &c, &a);
        let out_bits = out.len();
        b.output(&out);
        Ok(ArgmaxCircuit {
            spec,
            classes,
            circuit: b.finish(),
            n,
            out_bits,
        })
    }

    /// The per-value spec (in [`Output::Reveal`] mode).
    pub fn spec(&self) -> &NonlinearSpec {
        &self.spec
    }

    /// Number of values k (classes).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The recorded circuit.
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// AND gates of the (single) instance.
    pub fn and_count(&self) -> usize {
        self.circuit.and_count()
    }

    /// Output bits: ⌈log2 k⌉, the class index little-endian.
    pub fn output_bits(&self) -> usize {
        self.out_bits
    }

    fn check_shares(&self, v: &[u64]) -> Result<()> {
        let len = self.classes * self.spec.window;
        if v.len() != len {
            return Err(GcError::InputLength {
                expected: len,
                found: v.len(),
            });
        }
        match v.iter().find(|&&x| x >= self.spec.p) {
            Some(&x) => Err(GcError::ValueOutOfRange {
                value: x,
                bound: self.spec.p,
            }),
            None => Ok(()),
        }
    }

    /// The evaluator's input bits for its shares `c` (`[class][window]`, each in [0, p)).
    pub fn evaluator_bits(&self, c: &[u64]) -> Result<Vec<bool>> {
        self.check_shares(c)?;
        Ok(c.iter().flat_map(|&v| to_bits(v, self.n)).collect())
    }

    /// The garbler's input bits for its shares `s` (`[class][window]`, each in [0, p)).
    pub fn garbler_bits(&self, s: &[u64]) -> Result<Vec<bool>> {
        self.check_shares(s)?;
        Ok(s.iter()
            .flat_map(|&v| garbler_share_bits(self.spec.p, self.n, v))
            .collect())
    }

    /// All input bits in circuit order: for plaintext runs and tests.
    pub fn input_bits(&self, c: &[u64], s: &[u64]) -> Result<Vec<bool>> {
        let mut bits = self.evaluator_bits(c)?;
        bits.extend(self.garbler_bits(s)?);
        Ok(bits)
    }

    /// The class from the decoded output bits; an error if their number is wrong or the
    /// index is not below k (only a garbler that cheats can cause either).
    pub fn decode_class(&self, bits: &[bool]) -> Result<usize> {
        if bits.len() != self.out_bits {
            return Err(GcError::OutputLength {
                expected: self.out_bits,
                found: bits.len(),
            });
        }
        let class = from_bits(bits);
        if class >= self.classes as u64 {
            return Err(GcError::ValueOutOfRange {
                value: class,
                bound: self.classes as u64,
            });
        }
        Ok(class as usize)
    }

    /// The values the revealing circuit would give (`[class]`), from the shares.
    pub fn reference_values(&self, c: &[u64], s: &[u64]) -> Vec<i64> {
        let (p, w) = (self.spec.p, self.spec.window);
        (0..self.classes)
            .map(|i| {
                let x: Vec<u64> = (0..w).map(|j| (c[i * w + j] + s[i * w + j]) % p).collect();
                self.spec.reference_value(&x)
            })
            .collect()
    }

    /// The integer reference: the index of the first maximum of
    /// [`ArgmaxCircuit::reference_values`].
    pub fn reference(&self, c: &[u64], s: &[u64]) -> usize {
        first_max(&self.reference_values(c, s))
    }
}

/// Index of the first maximum (0 for an empty slice): the tie rule of [`crate::nn::argmax`].
pub fn first_max(values: &[i64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// The garbler's encoding of its share `s` of a value: `A = p − ((s + h) mod p)` on n bits.
fn garbler_share_bits(p: u64, n: usize, s: u64) -> Vec<bool> {
    let h = (p - 1) / 2;
    to_bits(p - (s + h) % p, n)
}

/// The argmax circuit over any [`Gates`] interpreter: `c[i·w + j]`, `a[i·w + j]` (n bits each,
/// w = `spec.window`) for class i; returns the index of the first largest per-class value
/// ([`nonlinear_value`]) on ⌈log2 k⌉ bits.
pub fn argmax_circuit<G: Gates>(
    g: &mut G,
    spec: &NonlinearSpec,
    c: &[Vec<G::Wire>],
    a: &[Vec<G::Wire>],
) -> Vec<G::Wire> {
    let w = spec.window;
    let values: Vec<Vec<G::Wire>> = c
        .chunks(w)
        .zip(a.chunks(w))
        .map(|(cw, aw)| nonlinear_value(g, spec, cw, aw))
        .collect();
    argmax_signed(g, &values)
}

/// Index of the first maximum of two's-complement `values` (equal widths), ⌈log2 k⌉ bits.
///
/// A tournament over aligned blocks: at level l the candidates are the winners of the blocks
/// `[j·2^l, (j+1)·2^l)`, each with its value and its l-bit index inside the block. Two blocks
/// merge by one signed comparison: the right one wins only if its value is strictly larger,
/// and every right index exceeds every left one, so the first maximum wins, as in
/// [`crate::nn::argmax`]. The merged index is the left or right low bits (one multiplexer per
/// bit) with the comparison bit on top; a block without a partner goes up unchanged. The
/// last merge needs no value multiplexer.
pub fn argmax_signed<G: Gates>(g: &mut G, values: &[Vec<G::Wire>]) -> Vec<G::Wire> {
    assert!(!values.is_empty(), "argmax of no values");
    // (value, index inside the block) of each block's winner.
    type Candidate<W> = (Vec<W>, Vec<W>);
    let mut level: Vec<Candidate<G::Wire>> =
        values.iter().map(|v| (v.clone(), Vec::new())).collect();
    while level.len() > 1 {
        let last = level.len() == 2;
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [(lv, li), (rv, ri)] => {
                    let right = arith::lt_signed(g, lv, rv);
                    let mut idx: Vec<G::Wire> = li
                        .iter()
                        .enumerate()
                        .map(|(b, l)| {
                            let r = ri.get(b).cloned().unwrap_or_else(|| g.constant(false));
                            g.mux(&right, l, &r)
                        })
                        .collect();
                    idx.push(right.clone());
                    let v = if last {
                        Vec::new()
                    } else {
                        arith::mux(g, &right, lv, rv)
                    };
                    (v, idx)
                }
                [x] => x.clone(),
                _ => unreachable!("chunks of two"),
            });
        }
        level = next;
    }
    level.pop().expect("one candidate left").1
}

/// The circuit of `spec` over any [`Gates`] interpreter: `c[j]`, `a[j]` (n bits each) and, for
/// re-masking, `b_mask = p − r` (n bits). Returns the output bits.
pub fn nonlinear<G: Gates>(
    g: &mut G,
    spec: &NonlinearSpec,
    c: &[Vec<G::Wire>],
    a: &[Vec<G::Wire>],
    b_mask: Option<&[G::Wire]>,
) -> Vec<G::Wire> {
    let p = spec.p;
    let n = modulus_bits(p);
    let y = nonlinear_value(g, spec, c, a);
    match (spec.output, b_mask) {
        (Output::Reveal, _) => y,
        (Output::Remask, Some(bm)) => {
            // y ∈ [−h, h]; map to [0, p) (skipped when y ≥ 0 is known), then add r mod p.
            let u = if spec.relu {
                arith::zext(g, &y[..y.len() - 1], n)
            } else {
                let ys = arith::sext::<G>(&y, n);
                let sign = y.last().expect("non-empty").clone();
                let pm: Vec<G::Wire> = arith::constant(g, p, n)
                    .iter()
                    .map(|k| g.and(k, &sign))
                    .collect();
                arith::add_wrapping(g, &ys, &pm)
            };
            remask_nonnegative(g, &u, bm, p)
        }
        (Output::Remask, None) => panic!("re-masking needs the garbler's p − r input"),
    }
}

/// Steps 1–5 of `spec` (reconstruction, shift, max-pool, clamp, ReLU) over any [`Gates`]
/// interpreter, from `c[j]`, `a[j]` (n bits each): the signed value `y` in two's complement
/// (its width depends on the spec; the sign bit is the constant 0 after ReLU). `spec.output`
/// is not used.
pub fn nonlinear_value<G: Gates>(
    g: &mut G,
    spec: &NonlinearSpec,
    c: &[Vec<G::Wire>],
    a: &[Vec<G::Wire>],
) -> Vec<G::Wire> {
    let p = spec.p;
    // 1. Signed values, n+1 bits, then the floor shift (dropping low bits).
    let values: Vec<Vec<G::Wire>> = c
        .iter()
        .zip(a)
        .map(|(cj, aj)| {
            let v = signed_share_sum(g, cj, aj, p);
            v[spec.shift as usize..].to_vec()
        })
        .collect();
    // 2. Max-pool (a balanced tree) on the shifted values.
    let mut level = values;
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [x, y] => arith::max_signed(g, x, y),
                [x] => x.clone(),
                _ => unreachable!("chunks of two"),
            });
        }
        level = next;
    }
    let mut y = level.pop().expect("window is non-empty");
    // 3. Clamp, 4. ReLU.
    if let Some(bits) = spec.clamp_bits {
        y = arith::clamp_signed(g, &y, bits as usize);
    }
    if spec.relu {
        y = arith::relu(g, &y);
    }
    y
}

/// The signed value of `(c + s) mod p` on n+1 bits, from the evaluator's `c` and the garbler's
/// `A = p − ((s + h) mod p)` (2n ANDs).
pub fn signed_share_sum<G: Gates>(g: &mut G, c: &[G::Wire], a: &[G::Wire], p: u64) -> Vec<G::Wire> {
    let n = c.len();
    let h = (p - 1) / 2;
    let c1 = arith::zext(g, c, n + 1);
    let a1 = arith::zext(g, a, n + 1);
    let (d, borrow) = arith::sub(g, &c1, &a1);
    let not_borrow = g.not(&borrow);
    let k1 = h + 1; // added when c + s' < p
    let k0 = (1u64 << (n + 1)) - h; // −h on n+1 bits
    let addend: Vec<G::Wire> = (0..=n)
        .map(|i| match ((k1 >> i) & 1, (k0 >> i) & 1) {
            (0, 0) => g.constant(false),
            (1, 1) => g.constant(true),
            (1, 0) => borrow.clone(),
            _ => not_borrow.clone(),
        })
        .collect();
    arith::add_wrapping(g, &d, &addend)
}

/// `(u + r) mod p` for `u ∈ [0, p)` from the garbler's `B = p − r` (2n − 1 ANDs).
pub fn remask_nonnegative<G: Gates>(
    g: &mut G,
    u: &[G::Wire],
    b_mask: &[G::Wire],
    p: u64,
) -> Vec<G::Wire> {
    let n = u.len();
    let (e, borrow) = arith::sub(g, u, b_mask);
    let pm: Vec<G::Wire> = arith::constant(g, p, n)
        .iter()
        .map(|k| g.and(k, &borrow))
        .collect();
    arith::add_wrapping(g, &e, &pm)
}

/// AND counts of the standard circuits at modulus `p`: `(description, ANDs per instance)`
/// (the argmax rows: one instance covers all 10 values).
pub fn standard_counts(p: u64) -> Result<Vec<(String, usize)>> {
    let specs = [
        ("ReLU + re-mask".to_string(), NonlinearSpec::relu(p)),
        (
            "DownShift (shift 8, clamp 8 bits) + ReLU + re-mask".into(),
            NonlinearSpec::downshift_relu(p, 8, 8),
        ),
        (
            "DownShift (shift 8, clamp 8 bits) + re-mask (no ReLU)".into(),
            NonlinearSpec::downshift_relu(p, 8, 8).with_relu(false),
        ),
        (
            "2x2 max-pool + ReLU + re-mask".into(),
            NonlinearSpec::maxpool_relu(p, 4),
        ),
        (
            "DownShift (8, 8) + ReLU + 2x2 max-pool + re-mask".into(),
            NonlinearSpec::downshift_relu(p, 8, 8).with_window(4),
        ),
        (
            "reveal signed value (final logits)".into(),
            NonlinearSpec::relu(p).with_relu(false).revealed(),
        ),
    ];
    let mut counts = specs
        .into_iter()
        .map(|(name, s)| Ok((name, NonlinearCircuit::new(s)?.and_count())))
        .collect::<Result<Vec<_>>>()?;
    for (name, spec) in [
        (
            "argmax of 10 signed values (class only)",
            NonlinearSpec::relu(p).with_relu(false),
        ),
        (
            "argmax of 10 values after DownShift (8, 8) (class only)",
            NonlinearSpec::downshift_relu(p, 8, 8).with_relu(false),
        ),
    ] {
        counts.push((name.into(), ArgmaxCircuit::new(spec, 10)?.and_count()));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::circuit::Plain;
    use crate::gc::{run_local, Evaluator, Garbler};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const P20: u64 = 1_032_193;

    /// Runs `spec` on instances (c, s, r) three ways — garbled, plaintext circuit, integer
    /// reference — and on the generic function with the `Plain` interpreter; all must agree.
    fn check(spec: NonlinearSpec, c: &[u64], s: &[u64], r: &[u64]) {
        let nc = NonlinearCircuit::new(spec).unwrap();
        let circuit = nc.circuit();
        let instances = c.len() / spec.window;
        let inputs = nc.input_bits(c, s, r).unwrap();
        let expect = nc.reference(c, s, r);
        // Plaintext interpretation of the recorded circuit.
        let per = circuit.num_inputs();
        let plain: Vec<bool> = inputs
            .chunks(per)
            .flat_map(|i| circuit.eval_plain(i).unwrap())
            .collect();
        assert_eq!(
            nc.decode_outputs(&plain),
            expect,
            "plaintext circuit vs reference, {spec:?}"
        );
        // The circuit function run directly on booleans (no recording, no folding).
        let n = modulus_bits(spec.p);
        for i in 0..instances.min(64) {
            let inst = &inputs[i * per..(i + 1) * per];
            let w = spec.window;
            let mut chunks = inst.chunks(n);
            let cs: Vec<Vec<bool>> = (0..w).map(|_| chunks.next().unwrap().to_vec()).collect();
            let as_: Vec<Vec<bool>> = (0..w).map(|_| chunks.next().unwrap().to_vec()).collect();
            let bm = chunks.next().map(|x| x.to_vec());
            let out = nonlinear(&mut Plain, &spec, &cs, &as_, bm.as_deref());
            assert_eq!(
                nc.decode_outputs(&out),
                vec![expect[i]],
                "Plain interpreter, {spec:?}"
            );
        }
        // Garbled.
        let mut garbler = Garbler::from_seed([instances as u8; 32]).unwrap();
        let mut evaluator = Evaluator::new().unwrap();
        let out = run_local(circuit, instances, &inputs, &mut garbler, &mut evaluator).unwrap();
        assert_eq!(
            nc.decode_outputs(&out),
            expect,
            "garbled vs reference, {spec:?}"
        );
    }

    /// Edge values of x = (c + s) mod p for a spec: 0, ±1, ±p/2, clamp and shift boundaries.
    fn edge_xs(spec: &NonlinearSpec) -> Vec<u64> {
        let p = spec.p as i64;
        let h = (p - 1) / 2;
        let k = spec.shift as i64;
        let mut v: Vec<i64> = vec![0, 1, -1, h, -h, h - 1, -h + 1, 2, -2];
        for e in [1i64 << k, (1i64 << k) - 1, (1i64 << k) + 1] {
            v.extend([e, -e]);
        }
        if let Some(b) = spec.clamp_bits {
            let lim = 1i64 << (b as i64 - 1 + k);
            for e in [lim - 1, lim, lim + 1, lim - (1 << k), lim + (1 << k)] {
                v.extend([e, -e]);
            }
        }
        v.into_iter()
            .filter(|x| x.abs() <= h)
            .map(|x| x.rem_euclid(p) as u64)
            .collect()
    }

    /// Instances: every edge x with several splits into shares (c = 0, p−1, random) and masks
    /// (0, p−1, random), then random instances.
    fn cases(spec: &NonlinearSpec, random: usize, seed: u64) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
        let p = spec.p;
        let w = spec.window;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut xs: Vec<u64> = Vec::new();
        for x in edge_xs(spec) {
            xs.extend([x; 3]);
        }
        while !xs.len().is_multiple_of(w) || xs.len() < w * random {
            xs.push(rng.random_range(0..p));
        }
        // For windows, also rotate edge values through every window position.
        if w > 1 {
            let ext: Vec<u64> = xs.iter().rev().copied().collect();
            xs.extend(ext);
        }
        let (mut c, mut s) = (Vec::new(), Vec::new());
        for (i, &x) in xs.iter().enumerate() {
            let cj = match i % 3 {
                0 => 0,
                1 => p - 1,
                _ => rng.random_range(0..p),
            };
            c.push(cj);
            s.push((x + p - cj) % p);
        }
        let instances = xs.len() / w;
        let r: Vec<u64> = (0..instances)
            .map(|i| match i % 4 {
                0 => 0,
                1 => p - 1,
                _ => rng.random_range(0..p),
            })
            .collect();
        (c, s, r)
    }

    fn check_random(spec: NonlinearSpec, random: usize, seed: u64) {
        let (c, s, r) = cases(&spec, random, seed);
        check(spec, &c, &s, &r);
    }

    #[test]
    fn gc_relu_remask_20bit() {
        check_random(NonlinearSpec::relu(P20), 600, 1);
    }

    #[test]
    fn gc_signed_remask_and_reveal() {
        check_random(NonlinearSpec::relu(P20).with_relu(false), 300, 2);
        check_random(NonlinearSpec::relu(P20).with_relu(false).revealed(), 300, 3);
        check_random(NonlinearSpec::relu(P20).revealed(), 300, 4);
    }

    #[test]
    fn gc_downshift_clamp_variants() {
        for (k, b, relu) in [
            (8, 8, true),
            (8, 8, false),
            (11, 8, true),
            (0, 8, false),
            (5, 12, true),
            (12, 8, false),
        ] {
            let spec = NonlinearSpec::downshift_relu(P20, k, b).with_relu(relu);
            check_random(spec, 200, 10 + k as u64);
            check_random(spec.revealed(), 100, 20 + k as u64);
        }
    }

    #[test]
    fn gc_maxpool_windows() {
        check_random(NonlinearSpec::maxpool_relu(P20, 4), 200, 30);
        check_random(NonlinearSpec::maxpool_relu(P20, 9), 60, 31);
        check_random(NonlinearSpec::maxpool_relu(P20, 3), 60, 32);
        check_random(
            NonlinearSpec::downshift_relu(P20, 8, 8).with_window(4),
            200,
            33,
        );
        check_random(
            NonlinearSpec::maxpool_relu(P20, 4)
                .with_relu(false)
                .revealed(),
            100,
            34,
        );
    }

    #[test]
    fn gc_other_moduli() {
        for p in [557_057u64, 307_201, 1_712_129, (1 << 40) + 15] {
            check_random(NonlinearSpec::relu(p), 100, p);
            check_random(
                NonlinearSpec::downshift_relu(p, 6, 8).with_window(4),
                50,
                p + 1,
            );
        }
    }

    /// Every pair of shares for a small modulus, for several specs.
    #[test]
    fn gc_exhaustive_small_modulus() {
        let p = 97u64;
        let mut rng = ChaCha8Rng::seed_from_u64(97);
        let (mut c, mut s) = (Vec::new(), Vec::new());
        for cv in 0..p {
            for sv in 0..p {
                c.push(cv);
                s.push(sv);
            }
        }
        let r: Vec<u64> = (0..c.len()).map(|_| rng.random_range(0..p)).collect();
        for spec in [
            NonlinearSpec::relu(p),
            NonlinearSpec::relu(p).with_relu(false),
            NonlinearSpec::downshift_relu(p, 2, 4),
            NonlinearSpec::downshift_relu(p, 3, 3)
                .with_relu(false)
                .revealed(),
        ] {
            check(spec, &c, &s, &r);
        }
    }

    #[test]
    fn gc_counts_20bit() {
        let relu = NonlinearCircuit::new(NonlinearSpec::relu(P20)).unwrap();
        assert_eq!(relu.and_count(), 99);
        assert!(relu.and_count() <= 8 * 20);
        let counts = standard_counts(P20).unwrap();
        for (name, ands) in &counts {
            assert!(*ands > 0, "{name}");
        }
        let pool = NonlinearCircuit::new(NonlinearSpec::maxpool_relu(P20, 4)).unwrap();
        assert!(pool.and_count() < 4 * 99, "{}", pool.and_count());
    }

    /// Argmax instances with many ties: values drawn from a small set of signed values
    /// (including 0, ±1, ±h, ±(h − 1) and the clamp and shift edges), shared with random,
    /// 0 or p − 1 evaluator shares. Returns `(c, s)` for `instances` instances, each
    /// `[class][window]`.
    fn argmax_cases(
        spec: &NonlinearSpec,
        classes: usize,
        instances: usize,
        seed: u64,
    ) -> (Vec<u64>, Vec<u64>) {
        let p = spec.p;
        let h = ((p - 1) / 2) as i64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pool: Vec<u64> = edge_xs(spec);
        pool.extend([h, -h, h - 1, -h + 1, 0, 5, -5].map(|x| x.rem_euclid(p as i64) as u64));
        let (mut c, mut s) = (Vec::new(), Vec::new());
        for i in 0..instances * classes * spec.window {
            // A third of the instances draw every value uniformly, the rest from the pool.
            let x = if (i / (classes * spec.window)).is_multiple_of(3) {
                rng.random_range(0..p)
            } else {
                pool[rng.random_range(0..pool.len())]
            };
            let cj = match rng.random_range(0..4) {
                0 => 0,
                1 => p - 1,
                _ => rng.random_range(0..p),
            };
            c.push(cj);
            s.push((x + p - cj) % p);
        }
        (c, s)
    }

    /// Argmax three ways — garbled, plaintext circuit, Plain interpreter — against the integer
    /// reference, which must equal `nn::argmax` of the revealed values.
    fn check_argmax(spec: NonlinearSpec, classes: usize, instances: usize, seed: u64) {
        let ac = ArgmaxCircuit::new(spec, classes).unwrap();
        let per_inst = classes * spec.window;
        assert_eq!(
            ac.output_bits(),
            classes.next_power_of_two().trailing_zeros() as usize
        );
        let (c, s) = argmax_cases(&spec, classes, instances, seed);
        let circuit = ac.circuit();
        let mut inputs = Vec::new();
        let mut expect = Vec::new();
        let mut ties = 0;
        for i in 0..instances {
            let (ci, si) = (
                &c[i * per_inst..][..per_inst],
                &s[i * per_inst..][..per_inst],
            );
            let values = ac.reference_values(ci, si);
            let want = ac.reference(ci, si);
            assert_eq!(want, crate::nn::argmax(&values), "reference vs nn::argmax");
            ties += usize::from(values.iter().filter(|&&v| v == values[want]).count() > 1);
            let bits = ac.input_bits(ci, si).unwrap();
            let plain = circuit.eval_plain(&bits).unwrap();
            assert_eq!(
                ac.decode_class(&plain).unwrap(),
                want,
                "plaintext circuit, {spec:?}, k = {classes}, values {values:?}"
            );
            if i < 16 {
                let n = modulus_bits(spec.p);
                let words: Vec<Vec<bool>> = bits.chunks(n).map(|x| x.to_vec()).collect();
                let (cw, aw) = words.split_at(per_inst);
                let out = argmax_circuit(&mut Plain, &ac.spec, cw, aw);
                assert_eq!(ac.decode_class(&out).unwrap(), want, "Plain interpreter");
            }
            inputs.extend(bits);
            expect.push(want);
        }
        if classes > 1 && instances >= 30 {
            assert!(ties > 0, "the cases exercise no ties");
        }
        // Garbled: `instances` independent argmax circuits in one batch.
        let mut garbler = Garbler::from_seed([seed as u8; 32]).unwrap();
        let mut evaluator = Evaluator::new().unwrap();
        let out = run_local(circuit, instances, &inputs, &mut garbler, &mut evaluator).unwrap();
        let got: Vec<usize> = out
            .chunks(ac.output_bits().max(1))
            .take(instances)
            .map(|b| {
                if ac.output_bits() == 0 {
                    0
                } else {
                    ac.decode_class(b).unwrap()
                }
            })
            .collect();
        assert_eq!(got, expect, "garbled vs reference, {spec:?}, k = {classes}");
    }

    #[test]
    fn gc_argmax_first_maximum() {
        let reveal = NonlinearSpec::relu(P20).with_relu(false).revealed();
        for (k, seed) in [(2, 1u64), (3, 2), (5, 3), (10, 4), (16, 5), (17, 6)] {
            check_argmax(reveal, k, 120, seed);
        }
        check_argmax(
            NonlinearSpec::downshift_relu(P20, 8, 8).with_relu(false),
            10,
            150,
            7,
        );
        check_argmax(NonlinearSpec::downshift_relu(P20, 8, 8), 10, 100, 8);
        check_argmax(NonlinearSpec::relu(P20), 7, 100, 9);
        check_argmax(
            NonlinearSpec::maxpool_relu(P20, 4).with_relu(false),
            10,
            40,
            10,
        );
        check_argmax(
            NonlinearSpec::downshift_relu(97, 2, 4).with_relu(false),
            10,
            200,
            11,
        );
    }

    /// The argmax as the protocol runs it: a session-keyed garbler, one instance, the
    /// garbler's labels by `encode_party`, the evaluator's picked from the OT pairs, merged,
    /// evaluated under the received hash key, decoded to the class.
    #[test]
    fn gc_argmax_party_flow() {
        use crate::gc::{decode, merge_inputs, HashKey, Party};
        let spec = NonlinearSpec::downshift_relu(P20, 8, 8).with_relu(false);
        let ac = ArgmaxCircuit::new(spec, 10).unwrap();
        let mut g = Garbler::new_session().unwrap();
        let mut e = Evaluator::with_key(HashKey::from_bytes(g.hash_key().to_bytes())).unwrap();
        for seed in 0..20 {
            let (c, s) = argmax_cases(&spec, 10, 1, 100 + seed);
            let mut stream = Vec::new();
            let garbling = g
                .garble(ac.circuit(), ArgmaxCircuit::INSTANCES, &mut stream)
                .unwrap();
            assert_eq!(
                stream.len(),
                ac.circuit().table_bytes(1, crate::gc::Scheme::HalfGates)
            );
            let gl = garbling
                .encode_party(ac.circuit(), Party::Garbler, &ac.garbler_bits(&s).unwrap())
                .unwrap();
            let ebits = ac.evaluator_bits(&c).unwrap();
            let pairs = garbling.evaluator_label_pairs(ac.circuit());
            assert_eq!(pairs.len(), 10 * modulus_bits(P20));
            let el: Vec<_> = pairs
                .iter()
                .zip(&ebits)
                .map(|(p, &b)| if b { p.1 } else { p.0 })
                .collect();
            let labels = merge_inputs(ac.circuit(), 1, &gl, &el).unwrap();
            let out = e
                .evaluate(ac.circuit(), 1, &labels, &mut stream.as_slice())
                .unwrap();
            assert_eq!(garbling.decoding().len(), ac.output_bits());
            let class = ac
                .decode_class(&decode(&out, garbling.decoding()).unwrap())
                .unwrap();
            assert_eq!(class, ac.reference(&c, &s));
        }
    }

    #[test]
    fn gc_argmax_single_class_and_errors() {
        let spec = NonlinearSpec::relu(P20).with_relu(false);
        let one = ArgmaxCircuit::new(spec, 1).unwrap();
        assert_eq!(one.output_bits(), 0);
        assert_eq!(one.decode_class(&[]).unwrap(), 0);
        assert_eq!(one.reference(&[5], &[7]), 0);
        assert!(matches!(
            ArgmaxCircuit::new(spec, 0),
            Err(GcError::InvalidParams(_))
        ));
        let ac = ArgmaxCircuit::new(spec, 10).unwrap();
        assert_eq!(ac.spec().output, Output::Reveal);
        // 4 bits can name 10..15, which no honest garbling outputs.
        assert!(matches!(
            ac.decode_class(&[false, true, false, true]),
            Err(GcError::ValueOutOfRange {
                value: 10,
                bound: 10
            })
        ));
        assert!(matches!(
            ac.decode_class(&[true; 3]),
            Err(GcError::OutputLength { .. })
        ));
        assert!(matches!(
            ac.evaluator_bits(&[0; 9]),
            Err(GcError::InputLength { .. })
        ));
        assert!(matches!(
            ac.garbler_bits(&[P20; 10]),
            Err(GcError::ValueOutOfRange { .. })
        ));
    }

    /// The garbled argmax over the last layer of each bundled model that fits p, fed the
    /// accumulators `nn::infer_fixed_mod` reduces mod p, split into random shares, equals
    /// `nn::argmax(nn::infer_fixed(..))`.
    #[test]
    fn gc_argmax_matches_the_fixed_point_oracle() {
        use crate::nn::{builtin_model, LayerKind, MODEL_NAMES};
        let p = P20;
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut checked = 0;
        for name in MODEL_NAMES {
            let model = builtin_model(name).unwrap();
            if !model.fits_modulus(p) {
                continue;
            }
            // The last requantised (linear) layer, then only ReLU / flatten.
            let layers = model.layers();
            let last = layers
                .iter()
                .rposition(|l| l.requant().is_some())
                .expect("a requantised layer");
            let mut relu = false;
            for l in &layers[last + 1..] {
                match l.kind() {
                    LayerKind::Relu => relu = true,
                    LayerKind::Flatten => {}
                    other => panic!("{name}: unexpected {other:?} after the last linear layer"),
                }
            }
            let rq = layers[last].requant().expect("requantised");
            let spec = NonlinearSpec::relu(p)
                .with_relu(relu)
                .with_shift(rq.shift)
                .with_clamp(model.act_bits());
            let k = model.num_classes();
            let ac = ArgmaxCircuit::new(spec, k).unwrap();
            let mut g = Garbler::from_seed([9; 32]).unwrap();
            let mut e = Evaluator::new().unwrap();
            for _ in 0..3 {
                let pixels: Vec<u8> = (0..model.input().shape.numel())
                    .map(|_| rng.random())
                    .collect();
                let input = model.input().encode_fixed(&pixels);
                let want = crate::nn::argmax(&model.infer_fixed(&input).unwrap());
                let trace = model.infer_fixed_mod(&input, p).unwrap();
                let acc = trace[last].accumulator.clone().expect("accumulator");
                let x: Vec<u64> = acc.iter().map(|&v| v.rem_euclid(p as i64) as u64).collect();
                let c: Vec<u64> = x.iter().map(|_| rng.random_range(0..p)).collect();
                let s: Vec<u64> = x.iter().zip(&c).map(|(&x, &c)| (x + p - c) % p).collect();
                assert_eq!(ac.reference(&c, &s), want, "{name}: reference");
                let bits = ac.input_bits(&c, &s).unwrap();
                let out = run_local(ac.circuit(), 1, &bits, &mut g, &mut e).unwrap();
                assert_eq!(ac.decode_class(&out).unwrap(), want, "{name}: garbled");
            }
            checked += 1;
        }
        assert!(checked >= 3, "only {checked} bundled models fit p");
    }

    #[test]
    fn gc_argmax_counts_20bit() {
        let plain = ArgmaxCircuit::new(NonlinearSpec::relu(P20).with_relu(false), 10).unwrap();
        let rq = ArgmaxCircuit::new(
            NonlinearSpec::downshift_relu(P20, 8, 8).with_relu(false),
            10,
        )
        .unwrap();
        let reveal = |spec: NonlinearSpec| NonlinearCircuit::new(spec.revealed()).unwrap();
        let per_plain = reveal(NonlinearSpec::relu(P20).with_relu(false)).and_count();
        let per_rq = reveal(NonlinearSpec::downshift_relu(P20, 8, 8).with_relu(false)).and_count();
        eprintln!(
            "argmax k=10 p=1032193: {} AND (reveal: {}), with shift 8 clamp 8: {} AND (reveal: {})",
            plain.and_count(),
            10 * per_plain,
            rq.and_count(),
            10 * per_rq
        );
        // 10 values, 9 comparisons, 8 value multiplexers, 7 index multiplexers.
        assert_eq!(plain.and_count(), 10 * per_plain + 9 * 21 + 8 * 21 + 7);
        assert_eq!(rq.and_count(), 10 * per_rq + 9 * 8 + 8 * 8 + 7);
        assert_eq!(plain.and_count(), 764);
        assert_eq!(rq.and_count(), 653);
    }

    #[test]
    fn gc_bad_params_and_inputs() {
        assert!(matches!(
            NonlinearCircuit::new(NonlinearSpec::relu(1 << 20)),
            Err(GcError::InvalidParams(_))
        ));
        assert!(NonlinearCircuit::new(NonlinearSpec::relu(P20).with_shift(20)).is_err());
        assert!(NonlinearCircuit::new(NonlinearSpec::relu(P20).with_clamp(20)).is_err());
        assert!(NonlinearCircuit::new(NonlinearSpec::relu(P20).with_window(0)).is_err());
        let nc = NonlinearCircuit::new(NonlinearSpec::relu(P20)).unwrap();
        assert!(matches!(
            nc.evaluator_bits(&[P20]),
            Err(GcError::ValueOutOfRange { .. })
        ));
        assert!(matches!(
            nc.garbler_bits(&[1, 2], &[3]),
            Err(GcError::InputLength { .. })
        ));
    }
}
