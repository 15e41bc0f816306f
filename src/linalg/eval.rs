//! The server's side of a layer: plaintexts prepared once from the weights (offline), then
//! the homomorphic evaluation, tiled over the [`Scheduler`]'s workers.
use super::error::{LinalgError, Result};
use super::layout::{Rot, EMPTY};
use super::plan::Schedule;
use super::shape::LayerWeights;
use crate::he::{
    Ciphertext, FloatCiphertext, GaloisKeys, Hoisted, NoiseBound, Plaintext, PreparedPlaintext,
    ProductSum, RotationSum,
};
use crate::sched::Scheduler;
use rayon::prelude::*;

/// A schedule with the server's weights encoded: one prepared plaintext per product, one
/// bias plaintext per output ciphertext.
#[derive(Clone)]
pub struct PreparedLayer {
    schedule: Schedule,
    /// Plaintexts in schedule order (output ct, group, term).
    pts: Vec<PreparedPlaintext>,
    /// Start of each (output ct, group) in `pts`.
    offsets: Vec<Vec<usize>>,
    bias: Vec<Option<Plaintext>>,
}

impl std::fmt::Debug for PreparedLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedLayer")
            .field("shape", &self.schedule.shape)
            .field("method", &self.schedule.method_name())
            .field("plaintexts", &self.pts.len())
            .finish_non_exhaustive()
    }
}

impl PreparedLayer {
    /// Encodes `weights` for `schedule` (the offline part of the server's work), every
    /// plaintext in NTT form.
    pub fn new(schedule: &Schedule, weights: &LayerWeights, sched: &Scheduler) -> Result<Self> {
        Self::with_coefficients(schedule, weights, sched, 0)
    }

    /// [`PreparedLayer::new`] with `kept` of the layer's `schedule.cost().mults` plaintexts
    /// (at most; spread evenly over the products) kept as coefficients
    /// ([`PreparedPlaintext::new_coefficients`]: the same outputs, less memory, three NTTs
    /// more per product).
    pub fn with_coefficients(
        schedule: &Schedule,
        weights: &LayerWeights,
        sched: &Scheduler,
        kept: usize,
    ) -> Result<Self> {
        weights.check(&schedule.shape)?;
        let params = &schedule.params;
        let (n, r, p) = (params.n(), params.row_size(), params.p() as i64);
        let mut jobs = Vec::new();
        let mut offsets = Vec::with_capacity(schedule.outs.len());
        for (o, plan) in schedule.outs.iter().enumerate() {
            let mut off = Vec::with_capacity(plan.groups.len());
            for g in &plan.groups {
                off.push(jobs.len());
                jobs.extend(g.terms.iter().map(|t| (o, g.outer, *t)));
            }
            offsets.push(off);
        }
        let shape = &schedule.shape;
        let total = jobs.len();
        let kept = kept.min(total);
        // Plaintext j is kept as coefficients when ⌊(j + 1)·kept/total⌋ steps up at j.
        let as_coefficients = |j: usize| (j + 1) * kept / total > j * kept / total;
        let pts = sched.install(|| {
            jobs.par_iter()
                .enumerate()
                .map(|(j, &(o, g, t))| {
                    let acc = &schedule.outs[o].acc;
                    let inp = schedule.input.slots(t.in_ct);
                    let ginv = g.inverse(r);
                    let vals: Vec<u64> = (0..n)
                        .map(|pos| {
                            let a = acc[ginv.offset(pos, r)];
                            let e = inp[t.inner.offset(pos, r)];
                            if a == EMPTY || e == EMPTY {
                                0
                            } else {
                                shape
                                    .weight(&weights.weights, a as usize, e as usize)
                                    .rem_euclid(p) as u64
                            }
                        })
                        .collect();
                    let pt = Plaintext::encode_slots(params, &vals)?;
                    Ok(if as_coefficients(j) {
                        PreparedPlaintext::new_coefficients(&pt)
                    } else {
                        PreparedPlaintext::new(&pt)
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        // Each output element's bias at its first slot only (with partial sums, the element
        // is the sum of its slots).
        let first = schedule.output.positions();
        let bias = (0..schedule.output.num_cts())
            .map(|o| {
                if weights.bias.is_empty() {
                    return Ok(None);
                }
                let vals: Vec<u64> = schedule
                    .output
                    .slots(o)
                    .iter()
                    .enumerate()
                    .map(|(slot, &a)| {
                        if a == EMPTY || first[a as usize] != Some((o, slot)) {
                            0
                        } else {
                            weights.bias_of(shape, a as usize).rem_euclid(p) as u64
                        }
                    })
                    .collect();
                Ok(Some(Plaintext::encode_slots(params, &vals)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let layer = PreparedLayer {
            schedule: schedule.clone(),
            pts,
            offsets,
            bias,
        };
        let limbs = params.max_level();
        let bound = layer.noise_bound(NoiseBound::fresh(), limbs);
        if !bound.decrypts(params, limbs) {
            return Err(LinalgError::NoiseBudget {
                bound_bits: bound.bits(),
                limit_bits: params.decryption_bound(limbs).log2(),
            });
        }
        Ok(layer)
    }

    /// Worst-case output noise (over all output ciphertexts) for inputs of noise `input` at
    /// `limbs` primes, from the actual plaintexts' ℓ1 norms: a rotated input adds one key
    /// switch, a product scales by ‖P‖₁, an outer rotation and every rotate-and-add step add
    /// a key switch, the bias adds a rounding term. [`PreparedLayer::new`] refuses weights
    /// whose bound for a fresh input does not decrypt; the protocol adds its flooding on top.
    pub fn noise_bound(&self, input: NoiseBound, limbs: usize) -> NoiseBound {
        let has_bias = self.bias.iter().any(Option::is_some);
        self.schedule
            .walk_noise(input, limbs, has_bias, |b, o, gi, k| {
                b.mul_plain(&self.pts[self.offsets[o][gi] + k])
            })
    }

    /// Plaintexts kept as coefficients (see [`PreparedLayer::with_coefficients`]).
    pub fn coefficient_plaintexts(&self) -> usize {
        self.pts.iter().filter(|p| p.is_coefficients()).count()
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Bytes the prepared weights take in memory (plaintext multiplicands; the biases'
    /// slot vectors are counted at 8 bytes per slot).
    pub fn weight_bytes(&self) -> usize {
        let pts: usize = self.pts.iter().map(|p| p.memory_bytes()).sum();
        let bias: usize = self.bias.iter().flatten().map(|b| 8 * b.coeffs.len()).sum();
        pts + bias
    }

    /// Evaluates the layer on the client's input ciphertexts (packed by
    /// [`Schedule::pack_input`]); returns the output ciphertexts, laid out as
    /// [`Schedule::output_layout`] says. Slots outside the output layout hold partial sums:
    /// the caller masks every slot before sending (see `he::PublicKey::make_private`).
    pub fn eval(
        &self,
        input: &[Ciphertext],
        keys: &GaloisKeys,
        sched: &Scheduler,
    ) -> Result<Vec<Ciphertext>> {
        let s = &self.schedule;
        if input.len() != s.input.num_cts() {
            return Err(LinalgError::CiphertextCount {
                expected: s.input.num_cts(),
                found: input.len(),
            });
        }
        let params = &s.params;
        let level = input.first().map_or(0, Ciphertext::level);
        if let Some(ct) = input.iter().find(|ct| ct.level() != level) {
            return Err(crate::he::HeError::ParameterMismatch {
                expected: format!("every input at level {level}"),
                found: format!("one at level {}", ct.level()),
            }
            .into());
        }
        sched.install(|| {
            // 1. Hoisted inner rotations of every input ciphertext.
            let hoisted: Vec<Option<Hoisted>> = input
                .par_iter()
                .zip(&s.inner)
                .map(|(ct, rots)| {
                    if rots.iter().any(|r| !r.is_identity()) {
                        Hoisted::new(ct).map(Some)
                    } else {
                        Ok(None)
                    }
                })
                .collect::<std::result::Result<_, _>>()?;
            let jobs: Vec<(usize, Rot)> = s
                .inner
                .iter()
                .enumerate()
                .flat_map(|(i, v)| v.iter().map(move |&rot| (i, rot)))
                .collect();
            // Where every prime has compact products, the rotated inputs go straight to double
            // form and the products are summed in double precision (`ProductSum`: the same
            // sums, about half the work per product); else they stay ciphertexts.
            let use_float =
                ProductSum::available(params, level) && self.pts.iter().all(|p| p.is_compact());
            let rotated = |i: usize, rot: Rot| match (&hoisted[i], rot.is_identity()) {
                (Some(h), false) => h.apply_galois(keys, rot.galois_element(params)).map(Some),
                _ => Ok(None),
            };
            let (flat, float): (Vec<Ciphertext>, Option<Vec<FloatCiphertext>>) = if use_float {
                let float = jobs
                    .par_iter()
                    .map(|&(i, rot)| {
                        let ct = rotated(i, rot)?;
                        Ok(FloatCiphertext::new(ct.as_ref().unwrap_or(&input[i]))
                            .expect("every prime has compact products at this level"))
                    })
                    .collect::<Result<_>>()?;
                (Vec::new(), Some(float))
            } else {
                let flat = jobs
                    .par_iter()
                    .map(|&(i, rot)| Ok(rotated(i, rot)?.unwrap_or_else(|| input[i].clone())))
                    .collect::<Result<_>>()?;
                (flat, None)
            };
            drop(hoisted);
            let mut starts = Vec::with_capacity(s.inner.len());
            let mut acc = 0;
            for v in &s.inner {
                starts.push(acc);
                acc += v.len();
            }
            let rotated_index = |i: usize, rot: Rot| -> usize {
                let k = s.inner[i]
                    .binary_search(&rot)
                    .expect("every inner rotation was computed");
                starts[i] + k
            };
            // 2. Segments: (output ct, group, run of products), each with its own accumulator.
            //    Tiles: runs of consecutive segments whose products are taken in input order,
            //    so that one rotated input (in L2) feeds every accumulator of the tile before
            //    the next is loaded, while the tile's accumulators stay in cache.
            let n_groups = s.outs.iter().map(|o| o.groups.len()).sum();
            let seg_len = sched.tile_terms(self.pts.len(), n_groups);
            let mut tiles = Vec::new();
            for (o, plan) in s.outs.iter().enumerate() {
                for (gi, g) in plan.groups.iter().enumerate() {
                    let mut a = 0;
                    while a < g.terms.len() {
                        let b = (a + seg_len).min(g.terms.len());
                        tiles.push((o, gi, a, b));
                        a = b;
                    }
                }
            }
            let per_tile = sched.tile_accumulators(tiles.len());
            let partial: Vec<Ciphertext> = tiles
                .par_chunks(per_tile)
                .map(|segs| {
                    let mut order: Vec<(usize, Rot, usize, usize)> = Vec::new();
                    for (si, &(o, gi, a, b)) in segs.iter().enumerate() {
                        let g = &s.outs[o].groups[gi];
                        let base = self.offsets[o][gi];
                        for (k, t) in g.terms[a..b].iter().enumerate() {
                            order.push((t.in_ct, t.inner, si, base + a + k));
                        }
                    }
                    order.sort_by_key(|&(i, r, si, _)| (i, r, si));
                    if let Some(float) = &float {
                        let mut sums = (0..segs.len())
                            .map(|_| ProductSum::new(params, level))
                            .collect::<Option<Vec<_>>>()
                            .expect("the inputs converted, so the level has double products");
                        for &(i, rot, si, pt) in &order {
                            sums[si].mul_plain_acc(&float[rotated_index(i, rot)], &self.pts[pt])?;
                        }
                        return Ok(sums.iter().map(ProductSum::finish).collect());
                    }
                    let mut sums = (0..segs.len())
                        .map(|_| Ciphertext::zero(params, level))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    for &(i, rot, si, pt) in &order {
                        sums[si].mul_plain_acc(&flat[rotated_index(i, rot)], &self.pts[pt])?;
                    }
                    Ok(sums)
                })
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            // The rotated inputs are done with: their memory goes back before the outer
            // rotations allocate theirs.
            drop((flat, float));
            // 3. Per output ciphertext: per group, sum its tiles and apply the outer rotation;
            //    the rotated groups are summed before their one division by the special prime
            //    (`RotationSum`), the groups of one output spread over the workers.
            let mut group_tiles: Vec<Vec<(usize, Vec<usize>)>> = vec![Vec::new(); s.outs.len()];
            for (ti, &(o, gi, _, _)) in tiles.iter().enumerate() {
                match group_tiles[o].last_mut() {
                    Some((lg, v)) if *lg == gi => v.push(ti),
                    _ => group_tiles[o].push((gi, vec![ti])),
                }
            }
            // 4. Per output ciphertext: the sum of the groups, rotate-and-add tail, bias.
            (0..s.outs.len())
                .into_par_iter()
                .map(|o| {
                    let sum = group_tiles[o]
                        .par_iter()
                        .try_fold(
                            || RotationSum::new(params, level),
                            |mut acc, (gi, ts)| -> Result<RotationSum> {
                                let mut sum = partial[ts[0]].clone();
                                for &t in &ts[1..] {
                                    sum.add_assign(&partial[t])?;
                                }
                                let outer = s.outs[o].groups[*gi].outer;
                                acc.add_galois(keys, &sum, outer.galois_element(params))?;
                                Ok(acc)
                            },
                        )
                        .try_reduce(
                            || RotationSum::new(params, level),
                            |mut a, b| {
                                a.merge(b)?;
                                Ok(a)
                            },
                        )?;
                    let mut out = sum.finish()?;
                    if let Some((step, d)) = s.outs[o].tail {
                        for t in 0..d {
                            let rot = keys.rotate_rows(&out, (step << t) as i64)?;
                            out.add_assign(&rot)?;
                        }
                    }
                    if let Some(b) = &self.bias[o] {
                        out.add_plain_assign(b)?;
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<_>>>()
        })
    }
}
