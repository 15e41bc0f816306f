//! The structure of a homomorphic linear layer (which rotations, which products, which
//! output ciphertexts), built from the shape alone so that client and server agree on it, and
//! its cost.
//!
//! Every method is an instance of one form. For output ciphertext o,
//!
//! ```text
//! acc_o = Σ_g  g( Σ_{(i,s)} s(in_i) ⊙ P_{o,g,i,s} ),     out_o = tail(acc_o) + bias_o
//! ```
//!
//! where s and g are slot permutations ([`Rot`]): the *inner* rotations s of input ciphertext
//! i are hoisted (one decomposition of in_i, then one cheap key switch each), the *outer*
//! rotations g act on partial sums, and the optional tail is Gazelle's rotate-and-add
//! (`acc += rot(acc, step·2^t)` for t < doublings). The plaintexts follow from the layout:
//! slot p of P_{o,g,i,s} holds the weight linking the output element at slot p − g of o's
//! accumulator layout to the input element at slot p + s of in_i. A method is correct when
//! every (output, input) pair is reached by exactly one (g, s); for layouts without replicas
//! this holds by construction, since the pair's slot difference d fixes the term
//! (g, s) = split(d); for the replicated matrix–vector layouts it is the diagonal identity
//! of the hybrid method. Tests check every method against [`super::shape::reference`].
//!
//! Methods:
//! * [`Method::MatVec`] with block b (a power of two ≤ c, where c = next_pow2(n_in) capped at
//!   a row): the input is cut into chunks of c, each replicated along both rows of one
//!   ciphertext (r/c windows per row); each output ciphertext covers 2·(r/c)·b outputs (b per
//!   window) with b diagonals per input chunk (inner rotations 0..b, shared across output
//!   ciphertexts) and a tail of log2(c/b) rotate-and-add steps inside each window. b = 1 is
//!   the naive method (one product per chunk, then a full rotate-and-add), b = c the diagonal
//!   (Halevi–Shoup) method, anything between is Gazelle's hybrid.
//! * [`Method::ConvInputRotation`] / [`Method::ConvOutputRotation`]: channels packed in blocks
//!   of a grid Hg × Wg (several per row, rows filled in turn; channels that fill less than a
//!   row are spread at a power-of-two stride, so that block shifts are cyclic over them);
//!   a stride-s layer takes its
//!   input as s² polyphase sub-images per channel (the client packs it so, for free), which
//!   makes it a stride-1 problem on the grid. Zero padding and the boundary are masks in the
//!   plaintexts (the padded SISO kernel with the padding folded into the weights), so the
//!   layout needs no empty margins. The input-rotation variant rotates each input
//!   ciphertext by every (channel shift, kernel offset) it needs; the output-rotation variant
//!   rotates inputs only by the kernel offsets and applies the channel shifts to the partial
//!   sums. Sum pooling is the depthwise case with unit weights; a 1 × 1 convolution has a
//!   single kernel offset.
//! * [`Method::ConvBabyGiant`]: between the two, the channel (block) shift k is split into
//!   k mod b, taken with the kernel offset on the (hoisted) input side, and the rest, taken
//!   on the partial sums: about taps·b hoisted and blocks/b full rotations.
//! * [`Method::ConvPhaseMajor`] (stride > 1): the same, with the polyphase sub-images packed
//!   phase-major, each phase in its own ciphertexts with channel c at its output channel's
//!   block; a stride-k k × k sum pooling then costs one masked product per input ciphertext
//!   and no rotation.
use super::error::{LinalgError, Result};
use super::layout::{Layout, Rot, EMPTY};
use super::shape::{ConvShape, LayerShape};
use crate::he::{NoiseBound, Parameters};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a layer is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Matrix–vector product with `block` outputs per row (1: naive; the chunk size:
    /// diagonal; between: hybrid).
    MatVec {
        /// Outputs per row of an output ciphertext (a power of two).
        block: usize,
    },
    /// Convolution, input-rotation variant.
    ConvInputRotation,
    /// Convolution, output-rotation variant.
    ConvOutputRotation,
    /// Convolution, baby-step/giant-step between the two variants: inputs are rotated by the
    /// kernel offsets plus `baby` block shifts (hoisted), the partial sums by the remaining
    /// giant block shifts. `baby = 1` is the output-rotation variant.
    ConvBabyGiant {
        /// Block shifts taken on the input side.
        baby: usize,
    },
    /// [`Method::ConvBabyGiant`] for layers whose channels fill at most one row (a power of
    /// two of blocks, row 1 otherwise empty): row 1 carries the input again, shifted by half
    /// the blocks, so one product serves block shift k in row 0 and k + blocks/2 in row 1.
    /// Half the products and giant steps; each output element is the sum of its slots in the
    /// two rows (partial sums, added by the parties as a client tail's).
    ConvTwoRows {
        /// Block shifts taken on the input side (a power of two ≤ blocks/2).
        baby: usize,
    },
    /// Stride-1 convolution with each input channel in its own ciphertext, replicated in every
    /// output channel's block: only the kernel offsets rotate (hoisted), one product per
    /// (input channel, offset) and output ciphertext, no outer rotation. Pays off for few
    /// input channels (a network's first layer): c_in ciphertexts go up instead of
    /// ⌈c_in / blocks⌉.
    ConvReplicated,
    /// [`Method::ConvReplicated`] with each kernel offset split into its column (the inner,
    /// hoisted rotation) and its row (the outer rotation of a partial sum): k − 1 hoisted and
    /// k − 1 outer rotations per output ciphertext instead of k² − 1 hoisted.
    ConvReplicatedRows,
    /// Strided convolution or pooling with the input packed phase-major: polyphase
    /// sub-image (a, b) of every channel goes to its own run of ciphertexts, channel c at the
    /// block its output channel has, so the phases meet slot-aligned (sum pooling needs no
    /// rotation at all). Inner/outer rotations as the two variants above.
    ConvPhaseMajor {
        /// Output-rotation (true) or input-rotation (false) variant.
        output_rotation: bool,
    },
}

/// One ct×pt product: input ciphertext `in_ct` permuted by `inner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// Input ciphertext.
    pub in_ct: usize,
    /// Inner (hoisted) rotation.
    pub inner: Rot,
}

/// Products summed before one outer rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Rotation applied to the group's sum.
    pub outer: Rot,
    /// Products, sorted by input ciphertext then rotation.
    pub terms: Vec<Term>,
}

/// The recipe of one output ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutPlan {
    /// Output element of each accumulator slot (before the tail), [`EMPTY`] if none.
    pub acc: Vec<u32>,
    /// Groups of products.
    pub groups: Vec<Group>,
    /// Rotate-and-add tail: (step, doublings).
    pub tail: Option<(usize, u32)>,
}

/// Operation counts of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cost {
    /// Input ciphertexts the client sends.
    pub in_cts: usize,
    /// Output ciphertexts the server returns.
    pub out_cts: usize,
    /// ct×pt multiplications (= plaintexts the server prepares).
    pub mults: usize,
    /// Key switches from a hoisted decomposition (inner rotations).
    pub hoisted_rotations: usize,
    /// Decompositions (one per input ciphertext that is rotated).
    pub decompositions: usize,
    /// Full key switches (outer rotations and rotate-and-add steps).
    pub plain_rotations: usize,
    /// Of `plain_rotations`, the rotate-and-add steps.
    pub tail_rotations: usize,
    /// Distinct Galois elements (rotation keys) the layer needs.
    pub galois_keys: usize,
}

impl Cost {
    /// All key switches.
    pub fn rotations(&self) -> usize {
        self.hoisted_rotations + self.plain_rotations
    }

    /// Estimated work in passes over one n-slot vector mod one prime (an NTT ≈ log2(n)/2 + 1
    /// passes). A product: 2·limbs. A key switch: the digits' sum with the key on every prime
    /// of the switch (the special one too), 2·digits·(limbs + 1), plus the permutation; with a
    /// special prime each result then takes a ModDown, 2·(1 + limbs) transforms, except the
    /// outer rotations of one output, which share theirs. A hoisted rotation is a key switch
    /// and its ModDown, and its result is written out and read back as doubles (4·limbs); a
    /// decomposition one inverse NTT per limb and one forward per digit and prime; an outer
    /// rotation a decomposition and a key switch; a rotate-and-add step and an input
    /// ciphertext (the client's encryption and upload, the server's decoding) a full
    /// rotation. Relative weights checked against measured layer times (`examples/
    /// linalg_candidates`, perf/RESULTS.md, tenth session: 2.0–2.5 µs per pass on 2 workers
    /// for the picked methods and their neighbours; more where hundreds of hoisted results
    /// crowd memory, less where the input ciphertexts, not timed there, dominate).
    pub fn estimate(&self, params: &Parameters) -> f64 {
        let limbs = params.max_level() as f64;
        let digits = params.num_digits() as f64;
        let special = params.special_prime().is_some() as u8 as f64;
        let ntt = (params.n() as f64).log2() / 2.0 + 1.0;
        let mult = 2.0 * limbs;
        let switch = 2.0 * digits * (limbs + special) + 2.0 * limbs;
        let mod_down = special * 2.0 * (1.0 + limbs) * ntt;
        let hoisted = switch + mod_down + 4.0 * limbs;
        let decomp = (limbs + digits * (limbs + special)) * ntt;
        let full = decomp + switch + mod_down;
        let outer = self.plain_rotations.saturating_sub(self.tail_rotations);
        let shared_mod_down = if outer > 0 { self.out_cts } else { 0 };
        self.mults as f64 * mult
            + self.hoisted_rotations as f64 * hoisted
            + self.decompositions as f64 * decomp
            + outer as f64 * (decomp + switch)
            + shared_mod_down as f64 * mod_down
            + (self.tail_rotations + self.in_cts) as f64 * full
    }
}

/// The structure of one layer: layouts, products, rotations. Depends on the shape, the
/// parameters and the method, never on the weights.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) params: Arc<Parameters>,
    pub(crate) shape: LayerShape,
    pub(crate) method: Method,
    pub(crate) input: Layout,
    pub(crate) output: Layout,
    pub(crate) outs: Vec<OutPlan>,
    /// Sorted distinct inner rotations per input ciphertext.
    pub(crate) inner: Vec<Vec<Rot>>,
    pub(crate) cost: Cost,
    /// Whether an output element is the sum mod p of all its slots (the tails are left to
    /// the parties, [`Schedule::with_client_tail`]) rather than the value of its first slot.
    pub(crate) partial_sums: bool,
}

impl Schedule {
    /// Builds the schedule of `shape` evaluated by `method`.
    pub fn new(params: &Arc<Parameters>, shape: &LayerShape, method: Method) -> Result<Schedule> {
        shape.validate()?;
        let (input, output, outs) = match (shape, method) {
            (LayerShape::Fc { n_in, n_out }, Method::MatVec { block }) => {
                matvec(params, *n_in, *n_out, block)?
            }
            (LayerShape::Conv(c), Method::ConvInputRotation) => {
                conv(params, c, None, false, false)?
            }
            (LayerShape::Conv(c), Method::ConvOutputRotation) => {
                conv(params, c, Some(1), false, false)?
            }
            (LayerShape::Conv(c), Method::ConvBabyGiant { baby }) if baby >= 1 => {
                conv(params, c, Some(baby), false, false)?
            }
            (LayerShape::Conv(c), Method::ConvTwoRows { baby }) if baby.is_power_of_two() => {
                conv(params, c, Some(baby), false, true)?
            }
            (LayerShape::Conv(c), Method::ConvPhaseMajor { output_rotation }) if c.stride > 1 => {
                conv(params, c, output_rotation.then_some(1), true, false)?
            }
            (LayerShape::Conv(c), Method::ConvReplicated) => conv_replicated(params, c, false)?,
            (LayerShape::Conv(c), Method::ConvReplicatedRows) => conv_replicated(params, c, true)?,
            _ => {
                return Err(LinalgError::Unsupported {
                    method: format!("{method:?}"),
                    reason: format!("not a method for {}", shape.describe()),
                })
            }
        };
        let mut inner: Vec<Vec<Rot>> = vec![Vec::new(); input.num_cts()];
        for o in &outs {
            for g in &o.groups {
                for t in &g.terms {
                    inner[t.in_ct].push(t.inner);
                }
            }
        }
        for v in &mut inner {
            v.sort();
            v.dedup();
        }
        let mut s = Schedule {
            params: params.clone(),
            shape: *shape,
            method,
            input,
            output,
            outs,
            inner,
            cost: Cost::default(),
            partial_sums: matches!(method, Method::ConvTwoRows { .. }),
        };
        s.cost = s.count();
        Ok(s)
    }

    /// The same schedule with every rotate-and-add tail left to the parties: an output
    /// ciphertext holds its accumulator's partial sums (each slot masked by the server's reply
    /// as every slot is), and an output element is the sum mod p of its slots, which the client
    /// adds up after decryption ([`Schedule::unpack_output`]) and the server over its masks.
    /// Saves the tails' key switches (full rotations, one after the other) and their keys.
    /// Every output ciphertext has a tail or none does (as every method builds them); a mix
    /// is refused, since the sum over an untailed ciphertext's slots would count replicas.
    pub fn with_client_tail(&self) -> Result<Schedule> {
        let tails = self.outs.iter().filter(|o| o.tail.is_some()).count();
        if tails == 0 {
            return Ok(self.clone());
        }
        if tails != self.outs.len() {
            return Err(LinalgError::Unsupported {
                method: self.method_name(),
                reason: "only some output ciphertexts have a rotate-and-add tail".into(),
            });
        }
        let mut s = self.clone();
        let cts = s
            .outs
            .iter_mut()
            .map(|plan| {
                plan.tail = None;
                plan.acc.clone()
            })
            .collect();
        s.output = Layout::new(self.params.n(), self.output.elements(), cts)?;
        s.partial_sums = true;
        s.cost = s.count();
        Ok(s)
    }

    /// Whether the output elements are sums of slots ([`Schedule::with_client_tail`]).
    pub fn output_is_partial(&self) -> bool {
        self.partial_sums
    }

    /// Every method that applies to `shape` and whose worst-case noise decrypts (if none
    /// does, every method that applies: [`super::PreparedLayer::new`] then checks the bound
    /// with the actual weights), with its schedule.
    pub fn candidates(params: &Arc<Parameters>, shape: &LayerShape) -> Result<Vec<Schedule>> {
        shape.validate()?;
        let methods: Vec<Method> = match shape {
            LayerShape::Fc { n_in, .. } => {
                let c = chunk_size(params, *n_in);
                (0..=c.trailing_zeros())
                    .map(|e| Method::MatVec { block: 1 << e })
                    .collect()
            }
            LayerShape::Conv(c) => {
                let mut m = vec![Method::ConvInputRotation, Method::ConvOutputRotation];
                let bg =
                    c.h.div_ceil(c.stride).max(c.out_h()) * c.w.div_ceil(c.stride).max(c.out_w());
                let bpr = blocks_per_row(params.row_size(), bg.max(1), c, false);
                m.extend(
                    (1..)
                        .map(|e| 1usize << e)
                        .take_while(|&b| b < bpr)
                        .map(|baby| Method::ConvBabyGiant { baby }),
                );
                // Refused by `conv` unless the channels fill at most one row.
                m.extend(
                    (0..)
                        .map(|e| 1usize << e)
                        .take_while(|&b| 2 * b <= bpr)
                        .map(|baby| Method::ConvTwoRows { baby }),
                );
                if c.stride == 1 && !c.depthwise_sum {
                    m.push(Method::ConvReplicated);
                    m.push(Method::ConvReplicatedRows);
                }
                if c.stride > 1 {
                    m.push(Method::ConvPhaseMajor {
                        output_rotation: false,
                    });
                    m.push(Method::ConvPhaseMajor {
                        output_rotation: true,
                    });
                }
                m
            }
        };
        // Built in parallel (the slot maps of a large layer take tens of ms each), taken in
        // method order: the same candidates and errors as one after another.
        let built: Vec<Result<Schedule>> = {
            use rayon::prelude::*;
            methods
                .par_iter()
                .map(|&m| Schedule::new(params, shape, m))
                .collect()
        };
        let mut out = Vec::new();
        let mut last_err = None;
        for b in built {
            match b {
                Ok(s) => out.push(s),
                Err(e @ LinalgError::Unsupported { .. }) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        if out.iter().any(Schedule::fits_noise_budget) {
            out.retain(Schedule::fits_noise_budget);
        }
        if out.is_empty() {
            return Err(last_err.unwrap_or(LinalgError::Shape {
                reason: "no method applies".into(),
            }));
        }
        Ok(out)
    }

    /// The cheapest schedule by [`Cost::estimate`] (ties: fewer rotation keys, then the first).
    pub fn best(params: &Arc<Parameters>, shape: &LayerShape) -> Result<Schedule> {
        Ok(Schedule::pick(params, Schedule::candidates(params, shape)?))
    }

    /// The cheapest of `candidates` (non-empty) by [`Cost::estimate`], then fewer keys.
    pub(crate) fn pick(params: &Arc<Parameters>, c: Vec<Schedule>) -> Schedule {
        let key = |s: &Schedule| (s.cost.estimate(params), s.cost.galois_keys);
        c.into_iter()
            .min_by(|a, b| {
                let (ea, ka) = key(a);
                let (eb, kb) = key(b);
                ea.total_cmp(&eb).then(ka.cmp(&kb))
            })
            .expect("candidates is never empty")
    }

    fn count(&self) -> Cost {
        let mut c = Cost {
            in_cts: self.input.num_cts(),
            out_cts: self.output.num_cts(),
            ..Cost::default()
        };
        for v in &self.inner {
            let nontrivial = v.iter().filter(|r| !r.is_identity()).count();
            c.hoisted_rotations += nontrivial;
            c.decompositions += (nontrivial > 0) as usize;
        }
        for o in &self.outs {
            c.mults += o.groups.iter().map(|g| g.terms.len()).sum::<usize>();
            c.plain_rotations += o.groups.iter().filter(|g| !g.outer.is_identity()).count();
            let tail = o.tail.map_or(0, |(_, d)| d as usize);
            c.plain_rotations += tail;
            c.tail_rotations += tail;
        }
        c.galois_keys = self.galois_elements().len();
        c
    }

    /// The Galois elements the server needs keys for (the client generates them with
    /// [`crate::he::GaloisKeys::generate`]).
    pub fn galois_elements(&self) -> Vec<usize> {
        let r = self.params.row_size();
        let mut els: Vec<usize> = self
            .inner
            .iter()
            .flatten()
            .copied()
            .chain(
                self.outs
                    .iter()
                    .flat_map(|o| o.groups.iter().map(|g| g.outer)),
            )
            .chain(self.outs.iter().flat_map(|o| {
                o.tail.into_iter().flat_map(move |(step, d)| {
                    (0..d).map(move |t| Rot::rotate((step << t) as i64, r))
                })
            }))
            .filter(|r| !r.is_identity())
            .map(|r| r.galois_element(&self.params))
            .collect();
        els.sort_unstable();
        els.dedup();
        els
    }

    /// Worst-case output noise over the output ciphertexts for inputs of noise `input` at
    /// `limbs` primes; `product(bound, o, group, k)` bounds the k-th product of a group (see
    /// [`super::PreparedLayer::noise_bound`]).
    pub(crate) fn walk_noise(
        &self,
        input: NoiseBound,
        limbs: usize,
        bias: bool,
        product: impl Fn(NoiseBound, usize, usize, usize) -> NoiseBound,
    ) -> NoiseBound {
        let params = &self.params;
        let rotated = input.rotate(params, limbs);
        let mut worst = NoiseBound::zero();
        for (o, plan) in self.outs.iter().enumerate() {
            let mut total = NoiseBound::zero();
            for (gi, g) in plan.groups.iter().enumerate() {
                let mut acc = NoiseBound::zero();
                for (k, t) in g.terms.iter().enumerate() {
                    let src = if t.inner.is_identity() {
                        input
                    } else {
                        rotated
                    };
                    acc = acc.add_ct(product(src, o, gi, k));
                }
                if !g.outer.is_identity() {
                    acc = acc.rotate(params, limbs);
                }
                total = total.add_ct(acc);
            }
            if let Some((_, d)) = plan.tail {
                for _ in 0..d {
                    total = total.add_ct(total.rotate(params, limbs));
                }
            }
            if bias {
                total = total.add_plain();
            }
            if total.value() > worst.value() {
                worst = total;
            }
        }
        worst
    }

    /// Worst-case output noise for a fresh input at full level and any weights (every
    /// plaintext at the largest ℓ1 norm, n·(p−1)/2), bias included.
    pub fn worst_noise(&self) -> NoiseBound {
        self.worst_noise_from(NoiseBound::fresh(), self.params.max_level())
    }

    /// Worst-case output noise for inputs of noise `input` at `limbs` primes and any weights
    /// (the weight-independent counterpart of [`super::PreparedLayer::noise_bound`]), bias
    /// included.
    pub fn worst_noise_from(&self, input: NoiseBound, limbs: usize) -> NoiseBound {
        let params = &self.params;
        self.walk_noise(input, limbs, true, |b, _, _, _| b.mul_any_plain(params))
    }

    /// Whether [`Schedule::worst_noise`] decrypts.
    pub fn fits_noise_budget(&self) -> bool {
        self.worst_noise()
            .decrypts(&self.params, self.params.max_level())
    }

    /// The layer's shape.
    pub fn shape(&self) -> &LayerShape {
        &self.shape
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method's name: `naive`, `diagonal`, `hybrid(b)`, `input-rotation`,
    /// `output-rotation`, `baby-giant(b)`, `two-row baby-giant(b)`, `replicated-input`,
    /// `replicated-input baby-giant` or `phase-major …`.
    pub fn method_name(&self) -> String {
        match (self.method, self.shape) {
            (Method::MatVec { block: 1 }, _) => "naive".into(),
            (Method::MatVec { block }, LayerShape::Fc { n_in, .. })
                if block == chunk_size(&self.params, n_in) =>
            {
                "diagonal".into()
            }
            (Method::MatVec { block }, _) => format!("hybrid({block})"),
            (Method::ConvInputRotation, _) => "input-rotation".into(),
            (Method::ConvOutputRotation, _) => "output-rotation".into(),
            (Method::ConvBabyGiant { baby }, _) => format!("baby-giant({baby})"),
            (Method::ConvTwoRows { baby }, _) => format!("two-row baby-giant({baby})"),
            (Method::ConvReplicated, _) => "replicated-input".into(),
            (Method::ConvReplicatedRows, _) => "replicated-input baby-giant".into(),
            (
                Method::ConvPhaseMajor {
                    output_rotation: false,
                },
                _,
            ) => "phase-major input-rotation".into(),
            (
                Method::ConvPhaseMajor {
                    output_rotation: true,
                },
                _,
            ) => "phase-major output-rotation".into(),
        }
    }

    /// Operation counts.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The client's layout of the layer input.
    pub fn input_layout(&self) -> &Layout {
        &self.input
    }

    /// Where each output element ends up in the server's output ciphertexts.
    pub fn output_layout(&self) -> &Layout {
        &self.output
    }

    /// Per output ciphertext, its recipe.
    pub fn out_plans(&self) -> &[OutPlan] {
        &self.outs
    }

    /// Client side: the slot vectors to encrypt for input `x` (signed, reduced mod p).
    pub fn pack_input(&self, x: &[i64]) -> Result<Vec<Vec<u64>>> {
        self.input.pack_signed(x, self.params.p())
    }

    /// Client side: the output tensor (mod p) from the decrypted output slot vectors (the
    /// server reads its masks' share with the same map).
    pub fn unpack_output(&self, slots: &[Vec<u64>]) -> Result<Vec<u64>> {
        if self.partial_sums {
            self.output.unpack_sum(slots, self.params.p())
        } else {
            self.output.unpack(slots)
        }
    }
}

/// Chunk size of a matrix–vector input: next power of two of n_in, at most one row.
pub(crate) fn chunk_size(params: &Parameters, n_in: usize) -> usize {
    n_in.next_power_of_two().min(params.row_size())
}

type Built = (Layout, Layout, Vec<OutPlan>);

/// Where an input block sits relative to an output block: (its first slot's column minus the
/// output block's, whether the rows differ, input phase row, phase column).
type Placement = (i64, bool, usize, usize);

fn matvec(params: &Parameters, n_in: usize, n_out: usize, block: usize) -> Result<Built> {
    let (n, r) = (params.n(), params.row_size());
    let c = chunk_size(params, n_in);
    if !block.is_power_of_two() || block > c {
        return Err(LinalgError::Unsupported {
            method: format!("matvec block {block}"),
            reason: format!("block must be a power of two ≤ {c}"),
        });
    }
    let chunks = n_in.div_ceil(c);
    let in_cts: Vec<Vec<u32>> = (0..chunks)
        .map(|k| {
            (0..n)
                .map(|s| {
                    let e = k * c + (s % r) % c;
                    if e < n_in {
                        e as u32
                    } else {
                        EMPTY
                    }
                })
                .collect()
        })
        .collect();
    // A row holds r/c windows of c slots, each a copy of the chunk; window m of row `row`
    // accumulates outputs (row·windows + m)·b .. + b of the ciphertext.
    let windows = r / c;
    let per_ct = 2 * windows * block;
    let m = n_out.div_ceil(per_ct);
    let elem = |ct: usize, row: usize, col: usize| {
        let a = ct * per_ct + (row * windows + col / c) * block + col % block;
        if a < n_out {
            a as u32
        } else {
            EMPTY
        }
    };
    let mut out_cts = Vec::with_capacity(m);
    let mut outs = Vec::with_capacity(m);
    let terms: Vec<Term> = (0..chunks)
        .flat_map(|k| {
            (0..block).map(move |j| Term {
                in_ct: k,
                inner: Rot::rotate(j as i64, r),
            })
        })
        .collect();
    let doublings = (c / block).trailing_zeros();
    for ct in 0..m {
        let acc: Vec<u32> = (0..n).map(|s| elem(ct, s / r, s % r)).collect();
        // After the tail, output (window, j) sits at the window's slot j.
        let fin: Vec<u32> = (0..n)
            .map(|s| {
                if s % c < block {
                    elem(ct, s / r, s % r)
                } else {
                    EMPTY
                }
            })
            .collect();
        out_cts.push(fin);
        outs.push(OutPlan {
            acc,
            groups: vec![Group {
                outer: Rot::ID,
                terms: terms.clone(),
            }],
            tail: (doublings > 0).then_some((block, doublings)),
        });
    }
    Ok((
        Layout::new(n, n_in, in_cts)?,
        Layout::new(n, n_out, out_cts)?,
        outs,
    ))
}

/// Geometry of a channel-packed convolution.
struct Grid {
    r: usize,
    wg: usize,
    bg: usize,
    bpr: usize,
}

impl Grid {
    fn blocks_per_ct(&self) -> usize {
        2 * self.bpr
    }
    /// (ciphertext, first slot) of block `b` (counted over all ciphertexts).
    fn block(&self, b: usize) -> (usize, usize) {
        let bpc = self.blocks_per_ct();
        let (ct, k) = (b / bpc, b % bpc);
        (ct, (k / self.bpr) * self.r + (k % self.bpr) * self.bg)
    }
    /// The output slot maps of `c` on n-slot ciphertexts: output channel co in block co, its
    /// element (co, y, x) at row y, column x of the block.
    fn output_cts(&self, c: &ConvShape, n: usize) -> Vec<Vec<u32>> {
        let (ho, wo) = (c.out_h(), c.out_w());
        let mut cts = vec![vec![EMPTY; n]; c.c_out.div_ceil(self.blocks_per_ct())];
        for co in 0..c.c_out {
            let (ct, base) = self.block(co);
            for y in 0..ho {
                for x in 0..wo {
                    cts[ct][base + y * self.wg + x] = ((co * ho + y) * wo + x) as u32;
                }
            }
        }
        cts
    }
}

/// Channel blocks per row for a grid of `bg` slots: as many as fit, or, where the layer's
/// channels (input phases or outputs, whichever are more) fill less than a row, the next
/// power of two above their count, so that a shift by k blocks is cyclic over the channels
/// (one rotation per channel shift, where a partly filled row needs two, k and
/// k − channels). [`conv`] places the blocks at a pitch of r / (blocks per row) slots, at
/// least `bg`.
fn blocks_per_row(r: usize, bg: usize, c: &ConvShape, phase_major: bool) -> usize {
    let fit = r / bg;
    let used = (c.c_in * c.stride * c.stride)
        .max(c.c_out)
        .next_power_of_two();
    if !phase_major && used < fit {
        used
    } else {
        fit
    }
}

/// The channel-packed methods (see the module doc); `two_rows`: [`Method::ConvTwoRows`].
fn conv(
    params: &Parameters,
    c: &ConvShape,
    baby: Option<usize>,
    phase_major: bool,
    two_rows: bool,
) -> Result<Built> {
    let (n, r) = (params.n(), params.row_size());
    let st = c.stride;
    let (ho, wo) = (c.out_h(), c.out_w());
    let (hp, wp) = (c.h.div_ceil(st), c.w.div_ceil(st));
    let (hg, wg) = (hp.max(ho), wp.max(wo));
    let bg = hg * wg;
    if bg > r {
        return Err(LinalgError::Unsupported {
            method: format!("conv (baby steps {baby:?})"),
            reason: format!("a {hg}×{wg} channel grid exceeds a row of {r} slots"),
        });
    }
    let bpr = blocks_per_row(r, bg, c, phase_major);
    let grid = Grid {
        r,
        wg,
        bg: r / bpr,
        bpr,
    };
    let bpc = grid.blocks_per_ct();
    // Virtual channel of phase (a, b) of input channel ci: channel-major (the phases of a
    // channel side by side) or phase-major (each phase a run of whole ciphertexts).
    let per_phase = c.c_in.div_ceil(bpc) * bpc;
    let virtual_channel = |ci: usize, a: usize, b: usize| {
        if phase_major {
            (a * st + b) * per_phase + ci
        } else {
            (ci * st + a) * st + b
        }
    };
    let n_vc = if phase_major {
        st * st * per_phase
    } else {
        c.c_in * st * st
    };
    let in_n = n_vc.div_ceil(bpc);
    let out_n = c.c_out.div_ceil(bpc);
    // Two rows: every channel in row 0 at its block and the row cyclic over the blocks; row 1
    // holds input channel v at block v + half (mod bpr), so that a shift by k ≥ half blocks
    // in row 0 is one by k − half in row 1.
    let half = bpr / 2;
    if two_rows {
        let refuse = |reason: String| {
            Err(LinalgError::Unsupported {
                method: format!("conv (two rows, baby steps {baby:?})"),
                reason,
            })
        };
        let baby = baby.unwrap_or(0);
        if phase_major || !bpr.is_power_of_two() || bpr < 2 || grid.bg * bpr != r {
            return refuse(format!(
                "{bpr} blocks of {} slots do not fill a row",
                grid.bg
            ));
        }
        if n_vc.max(c.c_out) > bpr {
            return refuse(format!(
                "{} channels fill more than one row of {bpr} blocks",
                n_vc.max(c.c_out)
            ));
        }
        if !baby.is_power_of_two() || baby > half {
            return refuse(format!("baby steps {baby} must be a power of two ≤ {half}"));
        }
    }
    // Input position of element (ci, iy, ix): polyphase sub-image (iy mod s, ix mod s).
    let in_pos = |ci: usize, iy: usize, ix: usize| {
        let vc = virtual_channel(ci, iy % st, ix % st);
        let (ct, base) = grid.block(vc);
        (ct, base + (iy / st) * grid.wg + ix / st)
    };
    // The slot of block v's copy in row 1 (two rows).
    let twin = |v: usize| r + ((v + half) % bpr) * grid.bg;
    let mut in_cts = vec![vec![EMPTY; n]; in_n];
    for ci in 0..c.c_in {
        for iy in 0..c.h {
            for ix in 0..c.w {
                let (ct, s) = in_pos(ci, iy, ix);
                let e = ((ci * c.h + iy) * c.w + ix) as u32;
                in_cts[ct][s] = e;
                if two_rows {
                    in_cts[ct][twin(s / grid.bg) + s % grid.bg] = e;
                }
            }
        }
    }
    let mut out_cts = grid.output_cts(c, n);
    if two_rows {
        // Each output element in both rows: the row-0 and row-1 partial sums.
        for ct in &mut out_cts {
            let (row0, row1) = ct.split_at_mut(r);
            row1.copy_from_slice(row0);
        }
    }
    // For every (output ct, input ct, slot difference d) that links a connected pair: the
    // inner part s of d (d itself, or the kernel offset for the output-rotation variant).
    //
    // The differences depend only on where the two channels' blocks sit relative to each other
    // (blocks lie inside a row, at multiples of the pitch; and on the input phase), so the
    // spatial sweep runs once per such placement and its distinct (d, s) are reused for every
    // channel pair with that placement.
    let mut split = vec![EMPTY; out_n * in_n * 2 * r];
    let pad = c.pad as isize;
    let mut memo: std::collections::HashMap<Placement, Vec<(usize, u32)>> =
        std::collections::HashMap::new();
    let sweep = |jb: usize, qb: usize, a: usize, b: usize| {
        let mut seen = std::collections::BTreeMap::new();
        for y in 0..ho {
            for x in 0..wo {
                let j = jb + y * grid.wg + x;
                for ky in 0..c.k {
                    let iy = (st * y + ky) as isize - pad;
                    if iy < 0 || iy >= c.h as isize || iy as usize % st != a {
                        continue;
                    }
                    for kx in 0..c.k {
                        let ix = (st * x + kx) as isize - pad;
                        if ix < 0 || ix >= c.w as isize || ix as usize % st != b {
                            continue;
                        }
                        let (u, v) = (iy as usize / st, ix as usize / st);
                        let q = qb + u * grid.wg + v;
                        let d = Rot::between(j, q, r);
                        let s = match baby {
                            // Inner: the kernel offset plus the block shift modulo `baby`
                            // (signed, within the row); outer: the rest.
                            Some(baby) => {
                                let delta =
                                    (u as i64 - y as i64) * grid.wg as i64 + v as i64 - x as i64;
                                let k = ((qb % r) / grid.bg) as i64 - ((jb % r) / grid.bg) as i64;
                                let kb = k.rem_euclid(baby as i64);
                                Rot::rotate(delta + kb * grid.bg as i64, r)
                            }
                            None => d,
                        };
                        seen.entry(d.index(r)).or_insert(s.index(r) as u32);
                    }
                }
            }
        }
        seen.into_iter().collect::<Vec<_>>()
    };
    for co in 0..c.c_out {
        let (o, jb0) = grid.block(co);
        let chans = if c.depthwise_sum {
            co..co + 1
        } else {
            0..c.c_in
        };
        for ci in chans {
            for a in 0..st {
                for b in 0..st {
                    let vc = virtual_channel(ci, a, b);
                    let (i, mut qb) = grid.block(vc);
                    let mut jb = jb0;
                    // Two rows: block shifts of half or more are taken in row 1.
                    if two_rows && (vc + bpr - co) % bpr >= half {
                        (jb, qb) = (jb + r, twin(vc));
                    }
                    let placement = ((qb % r) as i64 - (jb % r) as i64, qb / r != jb / r, a, b);
                    let list = memo.entry(placement).or_insert_with(|| sweep(jb, qb, a, b));
                    // The first split seen for a difference is kept: the term (g, s) covers
                    // every pair with that difference, so a second decomposition of d would
                    // only double-count.
                    let base = (o * in_n + i) * 2 * r;
                    for &(di, si) in list.iter() {
                        if split[base + di] == EMPTY {
                            split[base + di] = si;
                        }
                    }
                }
            }
        }
    }
    if two_rows {
        // Every product acts on both rows: a pair reached at difference d in one row is
        // reached at d ± half a row in the other, so no difference may occur with its twin.
        for base in (0..out_n * in_n).map(|k| k * 2 * r) {
            let row = &split[base..base + r];
            if (0..r / 2).any(|d| row[d] != EMPTY && row[d + r / 2] != EMPTY) {
                return Err(LinalgError::Unsupported {
                    method: format!("conv (two rows, baby steps {baby:?})"),
                    reason: "a slot difference and its half-row twin both occur".into(),
                });
            }
        }
    }
    let mut outs = Vec::with_capacity(out_n);
    for (o, acc) in out_cts.iter().enumerate() {
        let mut groups: BTreeMap<Rot, Vec<Term>> = BTreeMap::new();
        for i in 0..in_n {
            let base = (o * in_n + i) * 2 * r;
            for (di, &si) in split[base..base + 2 * r].iter().enumerate() {
                if si == EMPTY {
                    continue;
                }
                let d = Rot::from_index(di, r);
                let s = Rot::from_index(si as usize, r);
                let g = d.compose(s.inverse(r), r);
                groups
                    .entry(g)
                    .or_default()
                    .push(Term { in_ct: i, inner: s });
            }
        }
        let groups = groups
            .into_iter()
            .map(|(outer, mut terms)| {
                terms.sort_by_key(|t| (t.in_ct, t.inner));
                Group { outer, terms }
            })
            .collect();
        outs.push(OutPlan {
            acc: acc.clone(),
            groups,
            tail: None,
        });
    }
    Ok((
        Layout::new(n, c.input_len(), in_cts)?,
        Layout::new(n, c.c_out * ho * wo, out_cts)?,
        outs,
    ))
}

/// [`Method::ConvReplicated`]: the output blocks as in [`conv`]; input ciphertext ci holds
/// channel ci in every block an output channel uses, so output slot p and its input at p + δ
/// (δ = (ky − pad)·wg + kx − pad) share a block. Refused where a product could reach one
/// input element twice (two offsets landing on two replicas of it).
fn conv_replicated(params: &Parameters, c: &ConvShape, split_rows: bool) -> Result<Built> {
    let (n, r) = (params.n(), params.row_size());
    let unsupported = |reason: String| LinalgError::Unsupported {
        method: "conv (replicated input)".into(),
        reason,
    };
    if c.stride != 1 || c.depthwise_sum {
        return Err(unsupported("stride 1 convolutions only".into()));
    }
    let (ho, wo) = (c.out_h(), c.out_w());
    let (hg, wg) = (c.h.max(ho), c.w.max(wo));
    let bg = hg * wg;
    if bg > r {
        return Err(unsupported(format!(
            "a {hg}×{wg} channel grid exceeds a row of {r} slots"
        )));
    }
    let grid = Grid {
        r,
        wg,
        bg,
        bpr: r / bg,
    };
    let bpc = grid.blocks_per_ct();
    let used = bpc.min(c.c_out);
    let mut in_cts = vec![vec![EMPTY; n]; c.c_in];
    for (ci, slots) in in_cts.iter_mut().enumerate() {
        for b in 0..used {
            let (_, base) = grid.block(b);
            for iy in 0..c.h {
                for ix in 0..c.w {
                    slots[base + iy * wg + ix] = ((ci * c.h + iy) * c.w + ix) as u32;
                }
            }
        }
    }
    let out_cts = grid.output_cts(c, n);
    let (k, pad) = (c.k as i64, c.pad as i64);
    // Distinct rotations: two kernel offsets can be one slot difference (a kernel wider
    // than the grid row); the plaintext's weight then follows from the elements it links.
    // Each difference d as (outer g, inner s) with g + s = d: (0, d), or split by kernel
    // row and column; the first split seen of a difference is kept.
    let mut split: BTreeMap<Rot, (Rot, Rot)> = BTreeMap::new();
    for ky in 0..k {
        for kx in 0..k {
            let (row, col) = ((ky - pad) * wg as i64, kx - pad);
            let (g, s) = if split_rows {
                (row, col)
            } else {
                (0, row + col)
            };
            split
                .entry(Rot::rotate(row + col, r))
                .or_insert((Rot::rotate(g, r), Rot::rotate(s, r)));
        }
    }
    let offsets: Vec<Rot> = split.keys().copied().collect();
    // Each connected (output, input) pair exactly once per output ciphertext: an input
    // element reached from one output slot by two rotations would be counted twice.
    let connected = |a: u32, e: u32| {
        let (y, x) = ((a as usize / wo) % ho, a as usize % wo);
        let (iy, ix) = ((e as usize / c.w) % c.h, e as usize % c.w);
        let ky = (iy + c.pad) as isize - y as isize;
        let kx = (ix + c.pad) as isize - x as isize;
        (0..c.k as isize).contains(&ky) && (0..c.k as isize).contains(&kx)
    };
    // Whether a pair is reached twice depends on the slots' pixels only, not on the channels,
    // and the first output ciphertext uses every block any other does: checking it suffices.
    let mut reached = Vec::with_capacity(offsets.len());
    for acc in out_cts.iter().take(1) {
        for (p, &a) in acc.iter().enumerate() {
            if a == EMPTY {
                continue;
            }
            reached.clear();
            reached.extend(
                offsets
                    .iter()
                    .map(|s| in_cts[0][s.offset(p, r)])
                    .filter(|&e| e != EMPTY && connected(a, e)),
            );
            let all = reached.len();
            reached.sort_unstable();
            reached.dedup();
            if reached.len() != all {
                return Err(unsupported(
                    "two kernel offsets reach one input element".into(),
                ));
            }
        }
    }
    let mut groups: BTreeMap<Rot, Vec<Rot>> = BTreeMap::new();
    for &(g, s) in split.values() {
        groups.entry(g).or_default().push(s);
    }
    let outs = out_cts
        .iter()
        .map(|acc| OutPlan {
            acc: acc.clone(),
            groups: groups
                .iter()
                .map(|(&outer, inner)| {
                    let mut terms: Vec<Term> = (0..c.c_in)
                        .flat_map(|i| inner.iter().map(move |&s| Term { in_ct: i, inner: s }))
                        .collect();
                    terms.sort_by_key(|t| (t.in_ct, t.inner));
                    Group { outer, terms }
                })
                .collect(),
            tail: None,
        })
        .collect();
    Ok((
        Layout::new(n, c.input_len(), in_cts)?,
        Layout::new(n, c.c_out * ho * wo, out_cts)?,
        outs,
    ))
}

impl ConvShape {
    fn input_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
}
