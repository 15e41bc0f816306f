//! Garbling with free-XOR and point-and-permute, AND gates by half gates (Zahur–Rosulek–Evans,
//! EUROCRYPT 2015) or three halves (Rosulek–Roy, CRYPTO 2021), streaming the tables.
//!
//! # Scheme
//! Each wire has a zero-label `W⁰`; its one-label is `W⁰ ⊕ Δ` with a global secret Δ whose
//! point bit (lsb) is 1, so a label's lsb is its *colour* and XOR/NOT gates are free
//! (`out⁰ = a⁰ ⊕ b⁰`, `out⁰ = a⁰ ⊕ Δ`). An AND gate with input zero-labels `A⁰, B⁰` (colours
//! `pa, pb`) and tweaks `j, j'` costs two 16-byte ciphertexts:
//!
//! ```text
//! T_G = H(A⁰, j) ⊕ H(A⁰⊕Δ, j) ⊕ pb·Δ          W_G⁰ = H(A⁰, j) ⊕ pa·T_G
//! T_E = H(B⁰, j') ⊕ H(B⁰⊕Δ, j') ⊕ A⁰          W_E⁰ = H(B⁰, j') ⊕ pb·(T_E ⊕ A⁰)
//! out⁰ = W_G⁰ ⊕ W_E⁰
//! ```
//!
//! and the evaluator, holding `A, B` with colours `sa, sb`, computes
//! `out = H(A, j) ⊕ sa·T_G ⊕ H(B, j') ⊕ sb·(T_E ⊕ A)`. That is [`Scheme::HalfGates`];
//! [`Scheme::ThreeHalves`] (Rosulek–Roy, CRYPTO 2021; [`kernels::aes::threehalves`] states it)
//! slices labels into halves and costs 25 bytes per AND gate (three half-blocks and five
//! control bits), with two secret random "dice" bits per gate from the label generator.
//!
//! `H` is the tweakable circular-correlation-robust hash [`GcHash`] (`π(π(x) ⊕ i) ⊕ π(x)`, π = AES under a
//! [`HashKey`] the garbler draws per session and the evaluator receives; see
//! [`crate::gc::hash`] for the choice and its citation); each AND gate of each instance gets
//! fresh tweaks (half gates: `j = 2t, j' = 2t + 1` in the garbling tweak domain; three halves:
//! `4t + k` in its own domain) from a counter `t` that the garbler and evaluator advance in the
//! same order (so one [`Garbler`] / [`Evaluator`] pair can run many circuits under one Δ).
//!
//! The garbler's own inputs, when it knows them before garbling
//! ([`Garbler::garble_parallel_known_inputs`]), take active labels from a public per-batch
//! [`LabelSeed`] (the evaluator derives them instead of receiving one block per bit).
//!
//! # Secrets
//! The garbler's Δ, its label-generator key (and so the dice) and every zero-label it holds ([`Garbling`], the
//! working label buffers, the hash inputs and outputs) are wiped with `zeroize` when dropped
//! or no longer needed. The key schedule inside the label generator's [`Aes128`] belongs to
//! `kernels` and is not wiped here.
//!
//! # Batches and streaming
//! [`Garbler::garble`] garbles `instances` copies of one [`Circuit`] (a layer's ReLUs),
//! gate-major over groups of [`GROUP`] instances: each AND gate is hashed for many independent
//! instances at once, which keeps the AES pipeline full even though a single ReLU is a long
//! dependency chain. Tables go to any [`std::io::Write`] as they are produced (64 KiB
//! buffer), and [`Evaluator::evaluate`] reads them from any [`std::io::Read`]; memory is
//! `slots × GROUP × 16` bytes of labels plus the buffers, whatever the circuit size.
//! A stream that is short gives [`GcError::TruncatedTables`]; one with bytes after the last
//! table gives [`GcError::TrailingBytes`] (the source must hold exactly this circuit's tables:
//! frame it, e.g. with `Read::take(circuit.table_bytes(instances))`). A corrupted table only
//! yields wrong labels (semi-honest setting: no authenticity check), never a panic.
//! After an error the garbler/evaluator pair is out of step (their gate counters advanced by
//! different amounts) and must be replaced.
use crate::gc::circuit::{Circuit, Gate, Party};
use crate::gc::error::{GcError, Result};
use crate::gc::hash::{GcHash, HashKey};
use kernels::{Aes128, AesBackend, Block};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;
use std::io::{ErrorKind, Read, Write};
use zeroize::Zeroize;

/// Bytes of one AND gate's table under [`Scheme::HalfGates`] (two blocks).
pub const TABLE_BYTES: usize = kernels::aes::halfgates::TABLE_BYTES;

/// How AND gates are garbled. The garbler picks it, the evaluator must use the same
/// (the protocol sends it with the hash key); XOR gates are free in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Half gates (Zahur–Rosulek–Evans 2015): 32 table bytes per AND gate; the garbler
    /// hashes four blocks per gate, the evaluator two. What a [`Garbler`] and an
    /// [`Evaluator`] start with.
    #[default]
    HalfGates,
    /// Three halves (Rosulek–Roy 2021, [`kernels::aes::threehalves`]): 25 table bytes per
    /// AND gate (−22 %); the garbler hashes six blocks per gate, the evaluator three. The
    /// protocol's default (it wins end to end on shaped LAN and WAN links, perf/RESULTS.md).
    ThreeHalves,
}

impl Scheme {
    /// Every scheme.
    pub const ALL: [Scheme; 2] = [Scheme::HalfGates, Scheme::ThreeHalves];

    /// Table bytes per AND gate.
    pub const fn table_bytes(self) -> usize {
        match self {
            Scheme::HalfGates => TABLE_BYTES,
            Scheme::ThreeHalves => kernels::aes::threehalves::TABLE_BYTES,
        }
    }

    /// The name on the command line and in reports (`half-gates`, `three-halves`).
    pub const fn name(self) -> &'static str {
        match self {
            Scheme::HalfGates => "half-gates",
            Scheme::ThreeHalves => "three-halves",
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Scheme, String> {
        Scheme::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| format!("'{s}': expected half-gates or three-halves"))
    }
}

/// The label generator's AES-CTR counters from here up are the three-halves dice (labels
/// count up from 0 and never get here).
const DICE_COUNTER: u128 = 1 << 127;

/// The label generator's counters from here up make [`LabelSeed`]s (above every dice counter:
/// those stay below `2^127 + 2^60`).
const SEED_COUNTER: u128 = 3 << 126;

/// The public seed of the garbler's own active input labels in a batch garbled with
/// [`Garbler::garble_parallel_known_inputs`]: the evaluator derives them
/// ([`seeded_input_labels`]) instead of receiving 16 bytes per input bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelSeed(pub [u8; 16]);

/// The active labels of a [`LabelSeed`]: `count` blocks of AES-128-CTR under the seed as key,
/// from counter 0 (`[instance][garbler input]` for a batch).
pub fn seeded_input_labels(seed: &LabelSeed, count: usize) -> Result<Vec<Block>> {
    let mut out = Vec::new();
    seeded_input_labels_into(seed, count, &mut out)?;
    Ok(out)
}

/// [`seeded_input_labels`] into `out` (resized to `count`; its memory reused).
pub fn seeded_input_labels_into(
    seed: &LabelSeed,
    count: usize,
    out: &mut Vec<Block>,
) -> Result<()> {
    let aes = Aes128::new(Block::new(seed.0))?;
    out.clear();
    out.resize(count, Block::ZERO);
    aes.ctr_many(0, out);
    Ok(())
}

/// Secret dice for three-halves gates `gate..gate + m` (`m ≤ GROUP`): byte `g mod 16` of
/// the label generator's block at counter `DICE_COUNTER + ⌊g / 16⌋` for gate `g`.
/// `buf` holds the keystream (the caller wipes it).
fn dice<'b>(prg: &Aes128, gate: u64, m: usize, buf: &'b mut [Block; GROUP / 16 + 1]) -> &'b [u8] {
    // In u128: gate numbers near 2^64 do not overflow.
    let first = u128::from(gate) / 16;
    let last = (u128::from(gate) + m.max(1) as u128 - 1) / 16;
    let blocks = &mut buf[..(last - first + 1) as usize];
    prg.ctr_many(DICE_COUNTER + first, blocks);
    let off = (gate % 16) as usize;
    &Block::slice_as_bytes(blocks)[off..off + m]
}

/// Instances processed together, gate by gate (both parties must agree: it fixes the order
/// of tables in the stream).
pub const GROUP: usize = 128;

/// Buffer size of the table writer and reader.
const IO_BUF: usize = 1 << 16;

/// Wipes blocks that held labels or Δ (`Block` has no `Zeroize` impl: through its bytes).
fn wipe(blocks: &mut [Block]) {
    Block::slice_as_bytes_mut(blocks).zeroize();
}

/// Blocks wiped when dropped, on every path out of the garbler (errors included).
struct Secret<T: AsMut<[Block]>>(T);

impl<T: AsMut<[Block]>> Drop for Secret<T> {
    fn drop(&mut self) {
        wipe(self.0.as_mut());
    }
}

impl<T: AsMut<[Block]>> std::ops::Deref for Secret<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: AsMut<[Block]>> std::ops::DerefMut for Secret<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Writes tables to a sink through a buffer that the garbling kernel fills in place.
struct TableWriter<'w, W: Write + ?Sized> {
    inner: &'w mut W,
    buf: Box<[u8]>,
    len: usize,
}

impl<'w, W: Write + ?Sized> TableWriter<'w, W> {
    fn new(inner: &'w mut W) -> Self {
        TableWriter {
            inner,
            buf: vec![0u8; IO_BUF].into_boxed_slice(),
            len: 0,
        }
    }
}

/// Where the garbler puts its tables: a stream (through a buffer) or memory.
trait TableSink {
    /// The next `k` (≤ [`IO_BUF`]) bytes of the tables, for the caller to fill.
    fn slot(&mut self, k: usize) -> Result<&mut [u8]>;
    /// Writes out what is buffered.
    fn finish(&mut self) -> Result<()>;
}

/// Tables garbled straight into memory (one parallel block's).
impl TableSink for Vec<u8> {
    #[inline]
    fn slot(&mut self, k: usize) -> Result<&mut [u8]> {
        let n = self.len();
        self.resize(n + k, 0);
        Ok(&mut self[n..])
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<W: Write + ?Sized> TableSink for TableWriter<'_, W> {
    #[inline]
    fn slot(&mut self, k: usize) -> Result<&mut [u8]> {
        debug_assert!(k <= IO_BUF);
        if self.len + k > self.buf.len() {
            self.inner.write_all(&self.buf[..self.len])?;
            self.len = 0;
        }
        let start = self.len;
        self.len += k;
        Ok(&mut self.buf[start..start + k])
    }

    fn finish(&mut self) -> Result<()> {
        self.inner.write_all(&self.buf[..self.len])?;
        self.len = 0;
        self.inner.flush()?;
        Ok(())
    }
}

/// Where the evaluator takes garbled tables from: a stream or memory.
trait TableSource {
    /// The next `k` (≤ [`IO_BUF`]) bytes, or [`GcError::TruncatedTables`].
    fn take(&mut self, k: usize) -> Result<&[u8]>;
    /// Checks that nothing is left ([`GcError::TrailingBytes`]).
    fn finish(self) -> Result<()>;
}

/// Tables already in memory, borrowed (no copy).
struct TableSlice<'a> {
    data: &'a [u8],
    pos: usize,
}

impl TableSource for TableSlice<'_> {
    #[inline]
    fn take(&mut self, k: usize) -> Result<&[u8]> {
        if self.data.len() - self.pos < k {
            return Err(GcError::TruncatedTables {
                expected: self.pos + k,
                found: self.data.len(),
            });
        }
        self.pos += k;
        Ok(&self.data[self.pos - k..self.pos])
    }

    fn finish(self) -> Result<()> {
        match self.data.len() - self.pos {
            0 => Ok(()),
            extra => Err(GcError::TrailingBytes {
                expected: self.pos,
                extra,
            }),
        }
    }
}

/// Reads tables from a source through a buffer, counting bytes for error reports.
struct TableReader<'r, R: Read> {
    inner: &'r mut R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    consumed: usize,
    expected: usize,
}

impl<'r, R: Read> TableReader<'r, R> {
    fn new(inner: &'r mut R, expected: usize) -> Self {
        TableReader {
            inner,
            buf: vec![0u8; IO_BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            consumed: 0,
            expected,
        }
    }

    /// Refills the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self) -> Result<usize> {
        self.pos = 0;
        self.end = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => {
                    self.end = n;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl<R: Read> TableSource for TableReader<'_, R> {
    /// The next `k` bytes from the buffer, refilled (its rest moved to the front) when short.
    #[inline]
    fn take(&mut self, k: usize) -> Result<&[u8]> {
        debug_assert!(k <= self.buf.len());
        if self.end - self.pos < k {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            while self.end < k {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        return Err(GcError::TruncatedTables {
                            expected: self.expected,
                            found: self.consumed + self.end,
                        })
                    }
                    Ok(n) => self.end += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.pos += k;
        self.consumed += k;
        Ok(&self.buf[self.pos - k..self.pos])
    }

    /// Checks that the stream holds nothing more.
    fn finish(mut self) -> Result<()> {
        let extra = if self.pos < self.end {
            self.end - self.pos
        } else {
            self.fill()?
        };
        if extra > 0 {
            return Err(GcError::TrailingBytes {
                expected: self.expected,
                extra,
            });
        }
        Ok(())
    }
}

/// The garbler's record of one garbled batch: input zero-labels, Δ and output decoding bits.
/// Δ and the zero-labels are wiped when it is dropped.
#[derive(Clone)]
pub struct Garbling {
    instances: usize,
    num_inputs: usize,
    num_outputs: usize,
    delta: Block,
    /// `[input][instance]` zero-labels (input-major: the garbler copies each input's labels
    /// for a group of instances at once).
    input_zero: Vec<Block>,
    /// `[instance][output]` colour of each output's zero-label.
    decoding: Vec<bool>,
}

impl std::fmt::Debug for Garbling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garbling")
            .field("instances", &self.instances)
            .field("num_inputs", &self.num_inputs)
            .field("num_outputs", &self.num_outputs)
            .finish_non_exhaustive()
    }
}

impl Drop for Garbling {
    fn drop(&mut self) {
        wipe(std::slice::from_mut(&mut self.delta));
        wipe(&mut self.input_zero);
    }
}

impl Garbling {
    /// Number of instances garbled.
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// The global offset Δ (secret; lsb 1).
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// The label of `input` of `instance` carrying `value`.
    pub fn input_label(&self, instance: usize, input: usize, value: bool) -> Block {
        self.input_zero[input * self.instances + instance] ^ self.delta.and_bit(value)
    }

    /// Active labels for `values` (`[instance][input]`, every input of the circuit).
    pub fn encode(&self, values: &[bool]) -> Result<Vec<Block>> {
        if values.len() != self.input_zero.len() {
            return Err(GcError::InputLength {
                expected: self.input_zero.len(),
                found: values.len(),
            });
        }
        let n_in = self.num_inputs;
        Ok(values
            .iter()
            .enumerate()
            .map(|(idx, &v)| self.input_label(idx / n_in, idx % n_in, v))
            .collect())
    }

    /// Active labels of one party's inputs only (`values`: `[instance][that party's inputs]`),
    /// in the same order: what the garbler sends for its own inputs.
    pub fn encode_party(
        &self,
        circuit: &Circuit,
        party: Party,
        values: &[bool],
    ) -> Result<Vec<Block>> {
        let mut out = self.party_zero_labels(circuit, party);
        if values.len() != out.len() {
            return Err(GcError::InputLength {
                expected: out.len(),
                found: values.len(),
            });
        }
        for (l, &v) in out.iter_mut().zip(values) {
            *l ^= self.delta.and_bit(v);
        }
        Ok(out)
    }

    /// `(zero, one)` label pairs of the evaluator's inputs, `[instance][evaluator input]`: the
    /// messages of the oblivious transfers.
    pub fn evaluator_label_pairs(&self, circuit: &Circuit) -> Vec<(Block, Block)> {
        self.party_zero_labels(circuit, Party::Evaluator)
            .into_iter()
            .map(|z| (z, z ^ self.delta))
            .collect()
    }

    /// Zero labels of one party's inputs, `[instance][that party's inputs]` (the one labels
    /// are these ⊕ Δ): what free-XOR oblivious transfers of the evaluator's inputs carry.
    pub fn party_zero_labels(&self, circuit: &Circuit, party: Party) -> Vec<Block> {
        let idx: Vec<usize> = circuit
            .input_parties()
            .enumerate()
            .filter(|(_, p)| *p == party)
            .map(|(i, _)| i)
            .collect();
        let (n, k) = (self.instances, idx.len());
        let mut out = vec![Block::ZERO; n * k];
        // The zero labels are input-major (`[input][instance]`): a tile of instances at a time
        // keeps both the reads and the transposed writes in cache.
        const TILE: usize = 64;
        for t0 in (0..n).step_by(TILE) {
            let t1 = (t0 + TILE).min(n);
            for (j, &i) in idx.iter().enumerate() {
                let src = &self.input_zero[i * n + t0..i * n + t1];
                for (inst, &z) in (t0..t1).zip(src) {
                    out[inst * k + j] = z;
                }
            }
        }
        out
    }

    /// Output decoding bits, `[instance][output]`: the evaluator learns output `o` as
    /// `lsb(label) ⊕ decoding[o]`.
    pub fn decoding(&self) -> &[bool] {
        &self.decoding
    }
}

/// A batch's active input labels: one `[instance][input]` array, or the garbler's and the
/// evaluator's apart (`[instance][that party's inputs]` each, as the protocol holds them), which
/// the evaluator reads in place instead of interleaving them first ([`merge_inputs`]).
#[derive(Debug, Clone, Copy)]
pub enum InputLabels<'a> {
    /// `[instance][input]`, in the circuit's input order.
    Merged(&'a [Block]),
    /// Each party's labels, `[instance][that party's inputs]`.
    Split {
        /// The garbler's inputs.
        garbler: &'a [Block],
        /// The evaluator's inputs.
        evaluator: &'a [Block],
    },
}

impl<'a> From<&'a [Block]> for InputLabels<'a> {
    fn from(all: &'a [Block]) -> InputLabels<'a> {
        InputLabels::Merged(all)
    }
}

impl<'a> From<&'a Vec<Block>> for InputLabels<'a> {
    fn from(all: &'a Vec<Block>) -> InputLabels<'a> {
        InputLabels::Merged(all)
    }
}

impl<'a> InputLabels<'a> {
    /// Checks the lengths against `instances` copies of `circuit`.
    fn check(self, circuit: &Circuit, instances: usize) -> Result<()> {
        let k = circuit.counts();
        let expect = |expected: usize, found: usize| {
            if expected == found {
                Ok(())
            } else {
                Err(GcError::InputLength { expected, found })
            }
        };
        match self {
            InputLabels::Merged(all) => expect(instances * circuit.num_inputs(), all.len()),
            InputLabels::Split { garbler, evaluator } => {
                expect(instances * k.garbler_inputs, garbler.len())?;
                expect(instances * k.evaluator_inputs, evaluator.len())
            }
        }
    }

    /// The labels of instances `range` (lengths checked).
    fn instances(self, circuit: &Circuit, range: std::ops::Range<usize>) -> InputLabels<'a> {
        let part = |v: &'a [Block], per: usize| &v[range.start * per..range.end * per];
        match self {
            InputLabels::Merged(all) => InputLabels::Merged(part(all, circuit.num_inputs())),
            InputLabels::Split { garbler, evaluator } => {
                let k = circuit.counts();
                InputLabels::Split {
                    garbler: part(garbler, k.garbler_inputs),
                    evaluator: part(evaluator, k.evaluator_inputs),
                }
            }
        }
    }

    /// Where input `j` of instance `i` is, for each `j`: `(array, stride, offset)` with the
    /// label at `array[i * stride + offset]`.
    fn columns(self, circuit: &Circuit) -> Vec<(&'a [Block], usize, usize)> {
        match self {
            InputLabels::Merged(all) => {
                let n = circuit.num_inputs();
                (0..n).map(|j| (all, n, j)).collect()
            }
            InputLabels::Split { garbler, evaluator } => {
                let k = circuit.counts();
                let (mut g, mut e) = (0, 0);
                circuit
                    .input_parties()
                    .map(|p| match p {
                        Party::Garbler => {
                            g += 1;
                            (garbler, k.garbler_inputs, g - 1)
                        }
                        Party::Evaluator => {
                            e += 1;
                            (evaluator, k.evaluator_inputs, e - 1)
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Merges per-party input vectors (`[instance][party's inputs]`) into the circuit's input
/// order (`[instance][input]`), e.g. garbler labels and labels received by OT.
pub fn merge_inputs<T: Copy>(
    circuit: &Circuit,
    instances: usize,
    garbler: &[T],
    evaluator: &[T],
) -> Result<Vec<T>> {
    let k = circuit.counts();
    if garbler.len() != k.garbler_inputs * instances {
        return Err(GcError::InputLength {
            expected: k.garbler_inputs * instances,
            found: garbler.len(),
        });
    }
    if evaluator.len() != k.evaluator_inputs * instances {
        return Err(GcError::InputLength {
            expected: k.evaluator_inputs * instances,
            found: evaluator.len(),
        });
    }
    let mut g = garbler.iter();
    let mut e = evaluator.iter();
    let mut out = Vec::with_capacity(garbler.len() + evaluator.len());
    for _ in 0..instances {
        for p in circuit.input_parties() {
            let next = match p {
                Party::Garbler => g.next(),
                Party::Evaluator => e.next(),
            };
            out.push(*next.expect("lengths checked above"));
        }
    }
    Ok(out)
}

/// Decodes output labels (`[instance][output]`) with the garbler's decoding bits.
pub fn decode(output_labels: &[Block], decoding: &[bool]) -> Result<Vec<bool>> {
    if output_labels.len() != decoding.len() {
        return Err(GcError::OutputLength {
            expected: decoding.len(),
            found: output_labels.len(),
        });
    }
    Ok(output_labels
        .iter()
        .zip(decoding)
        .map(|(l, &d)| l.lsb() ^ d)
        .collect())
}

/// Three distinct slot regions of a `[slot][GROUP]` label array.
#[inline(always)]
fn regions3(labels: &mut [Block], a: u32, b: u32, out: u32, m: usize) -> [&mut [Block]; 3] {
    let r = |s: u32| s as usize * GROUP..s as usize * GROUP + m;
    labels
        .get_disjoint_mut([r(a), r(b), r(out)])
        .expect("compiled gates read two distinct slots and write a third")
}

/// The garbler: holds Δ, the label generator (AES-CTR keyed from ChaCha12 seeded by the OS),
/// the garbling hash and the gate counter shared with its [`Evaluator`]. Δ is wiped on drop.
pub struct Garbler {
    hash: GcHash,
    delta: Block,
    /// AES-CTR under a secret key drawn from the CSPRNG: the label generator.
    label_prg: Aes128,
    label_counter: u128,
    /// Label seeds drawn ([`SEED_COUNTER`] + this).
    seeds: u128,
    next_gate: u64,
    scheme: Scheme,
    /// Memory of a recycled batch's zero-labels ([`Garbler::recycle`]), wiped, length 0.
    spare: Vec<Block>,
}

impl std::fmt::Debug for Garbler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garbler")
            .field("hash", &self.hash)
            .field("next_gate", &self.next_gate)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Drop for Garbler {
    fn drop(&mut self) {
        wipe(std::slice::from_mut(&mut self.delta));
    }
}

impl Garbler {
    /// A garbler for one session: Δ, the label-generator key and a random [`HashKey`] from a
    /// ChaCha12 CSPRNG seeded by the operating system, the selected AES backend. The evaluator
    /// needs [`Garbler::hash_key`]: send its 16 bytes with the garbler's other public data
    /// and build the evaluator with [`Evaluator::with_key`].
    pub fn new_session() -> Result<Garbler> {
        let rng = ChaCha12Rng::try_from_os_rng().map_err(|e| GcError::Rng(e.to_string()))?;
        Garbler::keyed(AesBackend::selected()?, rng)
    }

    /// A garbler with Δ and the label-generator key from `rng`, then a random hash key from
    /// `rng` as well, on `backend`.
    pub fn keyed(backend: AesBackend, mut rng: ChaCha12Rng) -> Result<Garbler> {
        let (delta, label_prg) = Garbler::secrets(backend, &mut rng)?;
        let hash = GcHash::with_backend(HashKey::random(&mut rng), backend)?;
        Ok(Garbler::assemble(hash, delta, label_prg))
    }

    /// A garbler with labels and Δ from a ChaCha12 CSPRNG seeded by the operating system and
    /// the fixed [`HashKey::UNKEYED`] hash key, so that an [`Evaluator::new`] that received no
    /// key can evaluate its circuits: for callers with no channel for the key yet. Prefer
    /// [`Garbler::new_session`].
    pub fn new() -> Result<Garbler> {
        let rng = ChaCha12Rng::try_from_os_rng().map_err(|e| GcError::Rng(e.to_string()))?;
        Ok(Garbler::with_parts(
            Aes128::new(HashKey::UNKEYED.block())?,
            rng,
        ))
    }

    /// A garbler whose randomness comes from `seed`, with the [`HashKey::UNKEYED`] hash key
    /// (reproducible runs and tests; a real garbler must use a secret, uniformly random seed
    /// and a session key, as [`Garbler::new_session`] does).
    pub fn from_seed(seed: [u8; 32]) -> Result<Garbler> {
        Ok(Garbler::with_parts(
            Aes128::new(HashKey::UNKEYED.block())?,
            ChaCha12Rng::from_seed(seed),
        ))
    }

    /// A garbler whose hash permutation π is `aes` (its key is the hash key; e.g. a forced
    /// backend) and CSPRNG `rng`. Δ and the key of the AES-CTR label generator (same backend
    /// as `aes`) are drawn from `rng`.
    pub fn with_parts(aes: Aes128, mut rng: ChaCha12Rng) -> Garbler {
        let (delta, label_prg) = Garbler::secrets(aes.backend(), &mut rng)
            .expect("the backend of an existing Aes128 is available");
        Garbler::assemble(GcHash::from_aes(aes), delta, label_prg)
    }

    /// Δ (lsb 1) and the label generator, from 32 bytes of `rng` (wiped after use).
    fn secrets(backend: AesBackend, rng: &mut ChaCha12Rng) -> Result<(Block, Aes128)> {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let delta = Block::try_from_slice(&bytes[..16])
            .expect("16 bytes")
            .with_lsb(true);
        let mut key = Block::try_from_slice(&bytes[16..]).expect("16 bytes");
        let label_prg = Aes128::with_backend(key, backend);
        bytes.zeroize();
        wipe(std::slice::from_mut(&mut key));
        Ok((delta, label_prg?))
    }

    fn assemble(hash: GcHash, delta: Block, label_prg: Aes128) -> Garbler {
        Garbler {
            hash,
            delta,
            label_prg,
            label_counter: 0,
            seeds: 0,
            next_gate: 0,
            scheme: Scheme::HalfGates,
            spare: Vec::new(),
        }
    }

    /// Takes back a finished batch's zero-label memory, wiped now, for the next batch to reuse
    /// instead of fresh pages (a 65,536-instance ReLU batch: 63 MB, whose first touch costs
    /// more than its garbling's AES on a VM). Keeps the largest such buffer while the garbler
    /// lives.
    pub fn recycle(&mut self, mut garbling: Garbling) {
        let mut labels = std::mem::take(&mut garbling.input_zero);
        wipe(&mut labels);
        labels.clear();
        if labels.capacity() > self.spare.capacity() {
            self.spare = labels;
        }
    }

    /// This garbler with AND gates garbled under `scheme` from now on (the evaluator must
    /// switch with it; the default is [`Scheme::HalfGates`]).
    pub fn with_scheme(mut self, scheme: Scheme) -> Garbler {
        self.scheme = scheme;
        self
    }

    /// The garbling scheme of AND gates.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The global offset Δ.
    pub fn delta(&self) -> Block {
        self.delta
    }

    /// The public key of the garbling hash: what the evaluator needs ([`Evaluator::with_key`]).
    pub fn hash_key(&self) -> HashKey {
        self.hash.key()
    }

    /// The AES instance π of the hash (and so the backend).
    pub fn aes(&self) -> &Aes128 {
        self.hash.aes()
    }

    /// Garbles `instances` copies of `circuit`, writing every AND table to `sink` as it goes
    /// (`circuit.table_bytes(instances, self.scheme())` bytes in all). Returns the input labels and output
    /// decoding. On one thread; see [`Garbler::garble_parallel`].
    pub fn garble<W: Write>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        sink: &mut W,
    ) -> Result<Garbling> {
        self.garble_on(circuit, instances, sink, None, None)
    }

    /// [`Garbler::garble`] on the threads of `pool`: blocks of whole
    /// [`GROUP`]s are garbled side by side into memory (a few MiB each) and written to `sink`
    /// in order, a wave of blocks at a time. Same tables, labels and decoding as
    /// [`Garbler::garble`] (the gate counter gives each block its first tweak).
    pub fn garble_parallel<W: Write>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        sink: &mut W,
        pool: &rayon::ThreadPool,
    ) -> Result<Garbling> {
        self.garble_on(circuit, instances, sink, Some(pool), None)
    }

    /// [`Garbler::garble_parallel`] with the garbler's own input values known before
    /// garbling (`garbler_bits`, `[instance][garbler input]`): their active labels are
    /// AES-CTR blocks under a fresh public [`LabelSeed`] (drawn from the label generator)
    /// and their zero-labels those ⊕ value·Δ, so the evaluator derives the active labels
    /// from the seed ([`seeded_input_labels`]) — 16 bytes for the batch instead of 16 per
    /// input bit. The active labels are as unpredictable to anyone without the seed and as
    /// independent of the values and of Δ as drawn ones (the evaluator learns them either
    /// way); Δ stays hidden.
    pub fn garble_parallel_known_inputs<W: Write>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        garbler_bits: &[bool],
        sink: &mut W,
        pool: &rayon::ThreadPool,
    ) -> Result<(Garbling, LabelSeed)> {
        let k = circuit.counts().garbler_inputs;
        if garbler_bits.len() != instances * k {
            return Err(GcError::InputLength {
                expected: instances * k,
                found: garbler_bits.len(),
            });
        }
        let mut seed_block = [Block::ZERO];
        self.label_prg
            .ctr_many(SEED_COUNTER + self.seeds, &mut seed_block);
        self.seeds += 1;
        let seed = LabelSeed(seed_block[0].to_bytes());
        let garbling = self.garble_on(
            circuit,
            instances,
            sink,
            Some(pool),
            Some((garbler_bits, &seed)),
        )?;
        Ok((garbling, seed))
    }

    fn garble_on<W: Write>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        sink: &mut W,
        pool: Option<&rayon::ThreadPool>,
        known: Option<(&[bool], &LabelSeed)>,
    ) -> Result<Garbling> {
        use rayon::prelude::*;
        let n_in = circuit.num_inputs();
        let n_out = circuit.num_outputs();
        let ands = circuit.counts().and as u64;
        let delta = self.delta;
        let mut input_zero = std::mem::take(&mut self.spare);
        input_zero.resize(instances * n_in, Block::ZERO);
        let mut input_zero = Secret(input_zero);
        self.label_counter = self.label_prg.ctr_many(self.label_counter, &mut input_zero);
        if let Some((bits, seed)) = known {
            // The garbler's inputs: zero-label = seeded active label ⊕ value·Δ, the active
            // labels ([instance][garbler input], as `seeded_input_labels`) made a tile of
            // instances at a time, so that the transpose into `input_zero` ([input][instance])
            // reads and writes in cache.
            const TILE: usize = 64;
            let aes = Aes128::new(Block::new(seed.0))?;
            let garbler_inputs: Vec<usize> = circuit
                .input_parties()
                .enumerate()
                .filter(|(_, p)| *p == Party::Garbler)
                .map(|(i, _)| i)
                .collect();
            let k = garbler_inputs.len();
            let mut active = Secret(vec![Block::ZERO; TILE * k]);
            for t0 in (0..instances).step_by(TILE) {
                let t1 = (t0 + TILE).min(instances);
                let tile = &mut active[..(t1 - t0) * k];
                aes.ctr_many((t0 * k) as u128, tile);
                for (j, &i) in garbler_inputs.iter().enumerate() {
                    let dst = &mut input_zero[i * instances + t0..i * instances + t1];
                    for (d, t) in dst.iter_mut().zip(t0..t1) {
                        *d = tile[(t - t0) * k + j] ^ delta.and_bit(bits[t * k + j]);
                    }
                }
            }
        }
        let mut decoding = vec![false; instances * n_out];
        let first_gate = self.next_gate;
        let scheme = self.scheme;
        let job = |range: std::ops::Range<usize>,
                   writer: &mut dyn TableSink,
                   dec: &mut [bool],
                   labels: &mut [Block]| {
            let gate = first_gate + range.start as u64 * ands;
            garble_range(
                &self.hash,
                (scheme, &self.label_prg),
                delta,
                circuit,
                &input_zero,
                instances,
                range,
                gate,
                writer,
                dec,
                labels,
            )?;
            writer.finish()
        };
        let scratch = || Secret(vec![Block::ZERO; circuit.slots() * GROUP]);
        let threads = pool.map_or(1, |p| p.current_num_threads());
        let block = block_instances(circuit, instances, threads, scheme);
        // (Blocks are cut by their decoding bits: a circuit without outputs stays in one.)
        if let (Some(pool), true) = (pool, threads > 1 && block < instances && n_out > 0) {
            let ranges: Vec<_> = (0..instances)
                .step_by(block)
                .map(|a| a..(a + block).min(instances))
                .collect();
            let mut dec_blocks: Vec<&mut [bool]> = decoding.chunks_mut(block * n_out).collect();
            // Two sets of table buffers and label scratch, one per block of a wave, reused
            // wave after wave (freeing MiB-sized buffers on worker threads costs page faults
            // and TLB shootdowns): the workers garble wave k into one set while this thread
            // writes wave k − 1 from the other to the sink (a socket, TLS).
            let set = || -> Vec<(Vec<u8>, Secret<Vec<Block>>)> {
                (0..2 * threads)
                    .map(|_| {
                        let bytes = circuit.table_bytes(block, scheme);
                        (Vec::with_capacity(bytes), scratch())
                    })
                    .collect()
            };
            let (mut front, mut back) = (set(), set());
            let mut pending = 0;
            for (wave, decs) in ranges
                .chunks(2 * threads)
                .zip(dec_blocks.chunks_mut(2 * threads))
            {
                let mut garbled = Ok(());
                let mut written = Ok(());
                pool.in_place_scope(|scope| {
                    scope.spawn(|_| {
                        garbled = wave
                            .par_iter()
                            .zip(decs.par_iter_mut())
                            .zip(front.par_iter_mut())
                            .try_for_each(|((r, dec), (buf, labels))| {
                                buf.clear();
                                job(r.clone(), buf, dec, labels)
                            });
                    });
                    written = back[..pending]
                        .iter()
                        .try_for_each(|(b, _)| sink.write_all(b));
                });
                garbled?;
                written?;
                std::mem::swap(&mut front, &mut back);
                pending = wave.len();
            }
            for (b, _) in &back[..pending] {
                sink.write_all(b)?;
            }
            sink.flush()?;
        } else {
            job(
                0..instances,
                &mut TableWriter::new(sink),
                &mut decoding,
                &mut scratch(),
            )?;
        }
        self.next_gate = first_gate + instances as u64 * ands;
        Ok(Garbling {
            instances,
            num_inputs: n_in,
            num_outputs: n_out,
            delta,
            input_zero: std::mem::take(&mut input_zero.0),
            decoding,
        })
    }
}

/// Instances per parallel block: whole [`GROUP`]s, about 2 MiB of tables, and at least two
/// blocks per thread when there are enough groups.
fn block_instances(circuit: &Circuit, instances: usize, threads: usize, scheme: Scheme) -> usize {
    let group_bytes = circuit.table_bytes(GROUP, scheme).max(1);
    let groups = instances.div_ceil(GROUP);
    let by_size = ((2 << 20) / group_bytes).max(1);
    let by_threads = groups.div_ceil(2 * threads.max(1)).max(1);
    by_size.min(by_threads) * GROUP
}

/// Garbles instances `range` (its start a multiple of [`GROUP`]) of a batch of `instances`
/// whose input zero-labels are `input_zero` (`[input][instance]`), AND gates numbered from
/// `gate`, writing the tables to `writer` and the decoding bits of the range to `decoding`
/// (`[instance][output]`); `labels` is `slots × GROUP` blocks of scratch, slot 0 zero.
/// `dice_prg` draws the three-halves dice ([`dice`]).
#[allow(clippy::too_many_arguments)]
fn garble_range(
    hash: &GcHash,
    (scheme, dice_prg): (Scheme, &Aes128),
    delta: Block,
    circuit: &Circuit,
    input_zero: &[Block],
    instances: usize,
    range: std::ops::Range<usize>,
    mut gate: u64,
    writer: &mut dyn TableSink,
    decoding: &mut [bool],
    labels: &mut [Block],
) -> Result<()> {
    debug_assert!(range.start.is_multiple_of(GROUP));
    debug_assert_eq!(labels.len(), circuit.slots() * GROUP);
    let n_out = circuit.num_outputs();
    let mut keystream = Secret([Block::ZERO; GROUP / 16 + 1]);
    // Slot 0 is the constant false: zero-label 0 (the evaluator holds label 0 too); no
    // gate writes it, so a reused scratch keeps it zero.
    for g0 in range.clone().step_by(GROUP) {
        let m = GROUP.min(range.end - g0);
        for (j, slot) in circuit.input_slots().enumerate() {
            let dst = &mut labels[slot as usize * GROUP..][..m];
            dst.copy_from_slice(&input_zero[j * instances + g0..][..m]);
        }
        for gate_def in circuit.gates() {
            match *gate_def {
                Gate::Xor { a, b, out } => {
                    let [la, lb, lo] = regions3(labels, a, b, out, m);
                    kernels::vecops::xor_blocks(lo, la, lb);
                }
                Gate::And {
                    a,
                    b,
                    out,
                    inv_a,
                    inv_b,
                } => {
                    // A complemented operand's zero-label is the slot's label ⊕ Δ.
                    let flips = [delta.and_bit(inv_a), delta.and_bit(inv_b)];
                    let [la, lb, lo] = regions3(labels, a, b, out, m);
                    let tables = writer.slot(scheme.table_bytes() * m)?;
                    match scheme {
                        Scheme::HalfGates => {
                            hash.garble_ands(delta, flips, la, lb, gate, lo, tables)
                        }
                        Scheme::ThreeHalves => {
                            let d = dice(dice_prg, gate, m, &mut keystream);
                            hash.garble_ands_three_halves(delta, flips, la, lb, d, gate, lo, tables)
                        }
                    }
                    gate += m as u64;
                }
            }
        }
        let outs = circuit
            .output_slots()
            .iter()
            .zip(circuit.output_inversions());
        for (o, (&slot, &inv)) in outs.enumerate() {
            let src = &labels[slot as usize * GROUP..][..m];
            for (k, l) in src.iter().enumerate() {
                decoding[(g0 - range.start + k) * n_out + o] = l.lsb() ^ inv;
            }
        }
    }
    Ok(())
}

/// The evaluator: the garbling hash under the garbler's [`HashKey`] and the gate counter
/// matching its [`Garbler`]'s.
pub struct Evaluator {
    hash: GcHash,
    next_gate: u64,
    scheme: Scheme,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("hash", &self.hash)
            .field("next_gate", &self.next_gate)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl Evaluator {
    /// An evaluator for the garbler's hash key `key` ([`Garbler::hash_key`]), selected AES
    /// backend.
    pub fn with_key(key: HashKey) -> Result<Evaluator> {
        Ok(Evaluator::with_aes(Aes128::new(key.block())?))
    }

    /// An evaluator with the fixed [`HashKey::UNKEYED`] hash key, matching [`Garbler::new`]
    /// and [`Garbler::from_seed`] (for callers that do not transmit the key).
    pub fn new() -> Result<Evaluator> {
        Evaluator::with_key(HashKey::UNKEYED)
    }

    /// An evaluator whose hash permutation π is `aes` (its key is the hash key; e.g. a forced
    /// backend).
    pub fn with_aes(aes: Aes128) -> Evaluator {
        Evaluator {
            hash: GcHash::from_aes(aes),
            next_gate: 0,
            scheme: Scheme::HalfGates,
        }
    }

    /// This evaluator for tables garbled under `scheme` (the garbler's).
    pub fn with_scheme(mut self, scheme: Scheme) -> Evaluator {
        self.scheme = scheme;
        self
    }

    /// The garbling scheme of AND gates.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Evaluates `instances` copies of `circuit` on active `input_labels`
    /// (`[instance][input]`), reading the tables from `source`, which must then be exhausted.
    /// Returns the output labels, `[instance][output]`. On one thread; see
    /// [`Evaluator::evaluate_parallel`].
    pub fn evaluate<R: Read>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        input_labels: &[Block],
        source: &mut R,
    ) -> Result<Vec<Block>> {
        let input_labels = InputLabels::Merged(input_labels);
        input_labels.check(circuit, instances)?;
        self.evaluate_on_one_thread(circuit, instances, input_labels, source)
    }

    /// [`Evaluator::evaluate`] on checked input labels of either form.
    fn evaluate_on_one_thread<R: Read>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        input_labels: InputLabels<'_>,
        source: &mut R,
    ) -> Result<Vec<Block>> {
        let mut out_labels = vec![Block::ZERO; instances * circuit.num_outputs()];
        let mut reader = TableReader::new(source, circuit.table_bytes(instances, self.scheme));
        evaluate_range(
            (&self.hash, self.scheme),
            circuit,
            input_labels,
            0..instances,
            self.next_gate,
            &mut reader,
            &mut out_labels,
            &mut vec![Block::ZERO; circuit.slots() * GROUP],
        )?;
        self.next_gate += (instances * circuit.counts().and) as u64;
        reader.finish()?;
        Ok(out_labels)
    }

    /// [`Evaluator::evaluate`] of tables held in memory (exactly
    /// `circuit.table_bytes(instances, self.scheme())` bytes), on the threads of `pool`:
    /// blocks of whole [`GROUP`]s side by side, each from its own slice of the tables and its
    /// own first gate number. Same output labels as [`Evaluator::evaluate`].
    /// The input labels may be one array or each party's apart ([`InputLabels`]).
    pub fn evaluate_parallel<'a>(
        &mut self,
        circuit: &Circuit,
        instances: usize,
        input_labels: impl Into<InputLabels<'a>>,
        tables: &[u8],
        pool: &rayon::ThreadPool,
    ) -> Result<Vec<Block>> {
        use rayon::prelude::*;
        let input_labels = input_labels.into();
        input_labels.check(circuit, instances)?;
        let scheme = self.scheme;
        let expected = circuit.table_bytes(instances, scheme);
        if tables.len() < expected {
            return Err(GcError::TruncatedTables {
                expected,
                found: tables.len(),
            });
        }
        if tables.len() > expected {
            return Err(GcError::TrailingBytes {
                expected,
                extra: tables.len() - expected,
            });
        }
        let n_out = circuit.num_outputs();
        if n_out == 0 {
            // Blocks are cut by their output labels: nothing to split.
            return self.evaluate_on_one_thread(circuit, instances, input_labels, &mut &tables[..]);
        }
        let ands = circuit.counts().and;
        let block = block_instances(circuit, instances, pool.current_num_threads(), scheme);
        let mut out_labels = vec![Block::ZERO; instances * n_out];
        let first_gate = self.next_gate;
        let hash = &self.hash;
        pool.install(|| {
            out_labels
                .par_chunks_mut((block * n_out).max(1))
                .enumerate()
                .try_for_each_init(
                    || vec![Block::ZERO; circuit.slots() * GROUP],
                    |labels, (b, out)| {
                        let start = b * block;
                        let range = start..(start + block).min(instances);
                        let mut reader = TableSlice {
                            data: &tables[circuit.table_bytes(range.start, scheme)
                                ..circuit.table_bytes(range.end, scheme)],
                            pos: 0,
                        };
                        evaluate_range(
                            (hash, scheme),
                            circuit,
                            input_labels.instances(circuit, range.clone()),
                            0..range.len(),
                            first_gate + (start * ands) as u64,
                            &mut reader,
                            out,
                            labels,
                        )?;
                        reader.finish()
                    },
                )
        })?;
        self.next_gate = first_gate + (instances * ands) as u64;
        Ok(out_labels)
    }
}

/// Evaluates instances `range` of `input_labels` (`[instance][input]`, indexed from the
/// range's own start, a multiple of [`GROUP`]), AND gates numbered from `gate`, tables from
/// `reader`, output labels of the range into `out_labels` (`[instance][output]`); `labels` is
/// `slots × GROUP` blocks of scratch, slot 0 zero.
#[allow(clippy::too_many_arguments)]
fn evaluate_range(
    (hash, scheme): (&GcHash, Scheme),
    circuit: &Circuit,
    input_labels: InputLabels<'_>,
    range: std::ops::Range<usize>,
    mut gate: u64,
    reader: &mut impl TableSource,
    out_labels: &mut [Block],
    labels: &mut [Block],
) -> Result<()> {
    debug_assert_eq!(labels.len(), circuit.slots() * GROUP);
    let columns = input_labels.columns(circuit);
    let n_out = circuit.num_outputs();
    for g0 in range.clone().step_by(GROUP) {
        let m = GROUP.min(range.end - g0);
        for (slot, &(src, stride, off)) in circuit.input_slots().zip(&columns) {
            let dst = &mut labels[slot as usize * GROUP..][..m];
            for (k, d) in dst.iter_mut().enumerate() {
                *d = src[(g0 + k) * stride + off];
            }
        }
        for gate_def in circuit.gates() {
            match *gate_def {
                Gate::Xor { a, b, out } => {
                    let [la, lb, lo] = regions3(labels, a, b, out, m);
                    kernels::vecops::xor_blocks(lo, la, lb);
                }
                // A complemented operand has the same active label: nothing to do.
                Gate::And { a, b, out, .. } => {
                    let [la, lb, lo] = regions3(labels, a, b, out, m);
                    let tables = reader.take(scheme.table_bytes() * m)?;
                    match scheme {
                        Scheme::HalfGates => hash.evaluate_ands(la, lb, tables, gate, lo),
                        Scheme::ThreeHalves => {
                            hash.evaluate_ands_three_halves(la, lb, tables, gate, lo)
                        }
                    }
                    gate += m as u64;
                }
            }
        }
        for (o, &slot) in circuit.output_slots().iter().enumerate() {
            let src = &labels[slot as usize * GROUP..][..m];
            for (k, l) in src.iter().enumerate() {
                out_labels[(g0 - range.start + k) * n_out + o] = *l;
            }
        }
    }
    Ok(())
}

/// Garbles and evaluates `instances` copies of `circuit` in one process (tables through a
/// `Vec<u8>`) on plaintext `inputs` (`[instance][input]`), returning the decoded outputs.
/// The check that garbled evaluation equals [`Circuit::eval_plain`].
pub fn run_local(
    circuit: &Circuit,
    instances: usize,
    inputs: &[bool],
    garbler: &mut Garbler,
    evaluator: &mut Evaluator,
) -> Result<Vec<bool>> {
    let mut stream = Vec::with_capacity(circuit.table_bytes(instances, garbler.scheme()));
    let garbling = garbler.garble(circuit, instances, &mut stream)?;
    let labels = garbling.encode(inputs)?;
    let out = evaluator.evaluate(circuit, instances, &labels, &mut stream.as_slice())?;
    decode(&out, garbling.decoding())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc::gazelle::{NonlinearCircuit, NonlinearSpec};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const P20: u64 = 1_032_193;

    fn relu_case(instances: usize, seed: u64) -> (NonlinearCircuit, Vec<bool>, Vec<i64>) {
        let nc = NonlinearCircuit::new(NonlinearSpec::relu(P20)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw =
            |n: usize| -> Vec<u64> { (0..n).map(|_| rng.random_range(0..P20)).collect() };
        let (c, s, r) = (draw(instances), draw(instances), draw(instances));
        let bits = nc.input_bits(&c, &s, &r).unwrap();
        let expect = nc.reference(&c, &s, &r);
        (nc, bits, expect)
    }

    fn garble_to_vec(
        nc: &NonlinearCircuit,
        instances: usize,
        bits: &[bool],
    ) -> (Vec<u8>, Garbling, Vec<Block>) {
        let mut g = Garbler::from_seed([1; 32]).unwrap();
        let mut stream = Vec::new();
        let garbling = g.garble(nc.circuit(), instances, &mut stream).unwrap();
        let labels = garbling.encode(bits).unwrap();
        (stream, garbling, labels)
    }

    #[test]
    fn gc_stream_length_and_groups() {
        for instances in [0usize, 1, 31, 33, GROUP - 1, GROUP + 7, 2 * GROUP + 100] {
            let (nc, bits, expect) = relu_case(instances, instances as u64);
            let (stream, garbling, labels) = garble_to_vec(&nc, instances, &bits);
            assert_eq!(
                stream.len(),
                nc.circuit().table_bytes(instances, Scheme::HalfGates)
            );
            assert_eq!(stream.len(), instances * 99 * TABLE_BYTES);
            assert!(garbling.delta().lsb());
            let mut e = Evaluator::new().unwrap();
            let out = e
                .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
                .unwrap();
            let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
            assert_eq!(values, expect, "{instances} instances");
            // Three halves: 25 bytes per AND gate, the same outputs.
            let mut g = Garbler::from_seed([1; 32])
                .unwrap()
                .with_scheme(Scheme::ThreeHalves);
            let mut stream = Vec::new();
            let garbling = g.garble(nc.circuit(), instances, &mut stream).unwrap();
            assert_eq!(stream.len(), instances * 99 * 25);
            let labels = garbling.encode(&bits).unwrap();
            let mut e = Evaluator::new().unwrap().with_scheme(Scheme::ThreeHalves);
            let out = e
                .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
                .unwrap();
            let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
            assert_eq!(values, expect, "three halves, {instances} instances");
            // Evaluated as half gates, the stream is too short (and the outputs wrong).
            let mut e = Evaluator::new().unwrap();
            if instances > 0 {
                assert!(matches!(
                    e.evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice()),
                    Err(GcError::TruncatedTables { .. })
                ));
            }
        }
    }

    /// Garbler inputs known before garbling: the evaluator derives their active labels from the
    /// seed, the outputs are the reference's, each batch has its own seed, and the labels are
    /// those of `encode_party` (so one Δ still relates them to the zero-labels).
    #[test]
    fn known_garbler_inputs_take_seeded_labels() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let instances = GROUP + 9;
        let (nc, bits, expect) = relu_case(instances, 21);
        let c = nc.circuit();
        assert!(!instances.is_multiple_of(64), "a partial tile of instances");
        let (mut gbits, mut ebits) = (Vec::new(), Vec::new());
        for inst in bits.chunks(c.num_inputs()) {
            for (b, p) in inst.iter().zip(c.input_parties()) {
                match p {
                    Party::Garbler => gbits.push(*b),
                    Party::Evaluator => ebits.push(*b),
                }
            }
        }
        for scheme in Scheme::ALL {
            let mut g = Garbler::from_seed([5; 32]).unwrap().with_scheme(scheme);
            let mut e = Evaluator::new().unwrap().with_scheme(scheme);
            let mut seeds = Vec::new();
            for _ in 0..2 {
                let mut tables = Vec::new();
                let (garbling, seed) = g
                    .garble_parallel_known_inputs(c, instances, &gbits, &mut tables, &pool)
                    .unwrap();
                let glabels = seeded_input_labels(&seed, gbits.len()).unwrap();
                assert_eq!(
                    glabels,
                    garbling.encode_party(c, Party::Garbler, &gbits).unwrap()
                );
                let elabels = garbling.encode_party(c, Party::Evaluator, &ebits).unwrap();
                let split = InputLabels::Split {
                    garbler: &glabels,
                    evaluator: &elabels,
                };
                let out = e
                    .evaluate_parallel(c, instances, split, &tables, &pool)
                    .unwrap();
                let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
                assert_eq!(values, expect, "{scheme}");
                seeds.push(seed);
                // The second batch garbles into the first one's memory.
                g.recycle(garbling);
            }
            assert_ne!(seeds[0], seeds[1]);
            assert!(matches!(
                g.garble_parallel_known_inputs(c, instances, &gbits[1..], &mut Vec::new(), &pool),
                Err(GcError::InputLength { .. })
            ));
        }
    }

    /// The three-halves dice: per gate, from the label generator's keystream above the label
    /// counters; the same whatever the batch boundaries, balanced, different under another key.
    #[test]
    fn three_halves_dice_are_the_keystream_of_their_gate() {
        let prg = Aes128::new(Block::from_u128(99)).unwrap();
        let mut buf = [Block::ZERO; GROUP / 16 + 1];
        let all: Vec<u8> = (0..64u64)
            .flat_map(|k| dice(&prg, k * GROUP as u64, GROUP, &mut buf).to_vec())
            .collect();
        for (gate, m) in [(0u64, 1usize), (5, 128), (15, 2), (16, 127), (1000, 77)] {
            let d = dice(&prg, gate, m, &mut buf).to_vec();
            assert_eq!(d, all[gate as usize..gate as usize + m], "gate {gate}, {m}");
        }
        let mut counts = [0usize; 4];
        for d in &all {
            counts[usize::from(d & 3)] += 1;
        }
        // 8192 gates: each of the four dice values about 2048 times.
        assert!(
            counts.iter().all(|&c| (1800..2300).contains(&c)),
            "{counts:?}"
        );
        let other = Aes128::new(Block::from_u128(100)).unwrap();
        assert_ne!(dice(&other, 0, GROUP, &mut buf), &all[..GROUP]);
        // Gate numbers at the top of the u64 range.
        assert_eq!(dice(&prg, u64::MAX - 5, GROUP, &mut buf).len(), GROUP);
        // Far above any label counter.
        let mut label = [Block::ZERO; 1];
        prg.ctr_many(0, &mut label);
        assert_ne!(label[0].as_bytes()[..], all[..16]);
    }

    #[test]
    fn parallel_garbling_and_evaluation_match_one_thread() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        // Enough instances for several blocks per thread (blocks are ≥ one GROUP).
        for (instances, scheme) in [0usize, 1, GROUP + 7, 9 * GROUP + 100]
            .into_iter()
            .flat_map(|i| Scheme::ALL.map(|s| (i, s)))
        {
            let (nc, bits, expect) = relu_case(instances, 7 + instances as u64);
            let c = nc.circuit();
            // Two batches under one Δ: the gate counters must continue across them.
            let mut g1 = Garbler::from_seed([3; 32]).unwrap().with_scheme(scheme);
            let mut g2 = Garbler::from_seed([3; 32]).unwrap().with_scheme(scheme);
            for batch in 0..2 {
                let (mut s1, mut s2) = (Vec::new(), Vec::new());
                let a = g1.garble(c, instances, &mut s1).unwrap();
                let b = g2.garble_parallel(c, instances, &mut s2, &pool).unwrap();
                assert_eq!(s1, s2, "tables, {instances} instances, batch {batch}");
                assert_eq!(a.decoding(), b.decoding());
                let labels = a.encode(&bits).unwrap();
                assert_eq!(labels, b.encode(&bits).unwrap());
                let mut e1 = Evaluator::new().unwrap().with_scheme(scheme);
                let mut e2 = Evaluator::new().unwrap().with_scheme(scheme);
                e1.next_gate = g1.next_gate - (c.counts().and * instances) as u64;
                e2.next_gate = e1.next_gate;
                let o1 = e1
                    .evaluate(c, instances, &labels, &mut s1.as_slice())
                    .unwrap();
                let o2 = e2
                    .evaluate_parallel(c, instances, &labels, &s2, &pool)
                    .unwrap();
                assert_eq!(o1, o2);
                assert_eq!(e1.next_gate, e2.next_gate);
                // Each party's labels apart, read in place: the same output labels.
                let (mut gl, mut el) = (Vec::new(), Vec::new());
                for inst in labels.chunks(c.num_inputs()) {
                    for (l, p) in inst.iter().zip(c.input_parties()) {
                        match p {
                            Party::Garbler => gl.push(*l),
                            Party::Evaluator => el.push(*l),
                        }
                    }
                }
                let mut e3 = Evaluator::new().unwrap().with_scheme(scheme);
                e3.next_gate = e1.next_gate - (c.counts().and * instances) as u64;
                let split = InputLabels::Split {
                    garbler: &gl,
                    evaluator: &el,
                };
                assert_eq!(
                    e3.evaluate_parallel(c, instances, split, &s2, &pool)
                        .unwrap(),
                    o1
                );
                if instances > 0 {
                    let short = InputLabels::Split {
                        garbler: &gl,
                        evaluator: &el[1..],
                    };
                    assert!(matches!(
                        e3.evaluate_parallel(c, instances, short, &s2, &pool),
                        Err(GcError::InputLength { .. })
                    ));
                }
                let values = nc.decode_outputs(&decode(&o2, a.decoding()).unwrap());
                assert_eq!(values, expect);
                if instances > 0 {
                    let short = &s2[..s2.len() - 1];
                    assert!(matches!(
                        e2.evaluate_parallel(c, instances, &labels, short, &pool),
                        Err(GcError::TruncatedTables { .. })
                    ));
                }
            }
        }
    }

    #[test]
    fn gc_truncated_long_and_corrupt_streams() {
        let instances = 40;
        let (nc, bits, expect) = relu_case(instances, 5);
        let (stream, garbling, labels) = garble_to_vec(&nc, instances, &bits);
        let full = stream.len();
        for cut in [0, 1, 31, 32, full / 2, full - 1] {
            let mut e = Evaluator::new().unwrap();
            let r = e.evaluate(nc.circuit(), instances, &labels, &mut &stream[..cut]);
            match r {
                Err(GcError::TruncatedTables { expected, found }) => {
                    assert_eq!(expected, full);
                    assert!(found <= cut);
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        for extra in [1usize, 32, 100_000] {
            let mut long = stream.clone();
            long.extend(std::iter::repeat_n(0xa5u8, extra));
            let mut e = Evaluator::new().unwrap();
            let r = e.evaluate(nc.circuit(), instances, &labels, &mut long.as_slice());
            assert!(
                matches!(r, Err(GcError::TrailingBytes { extra: x, .. }) if x >= 1),
                "{extra}: {r:?}"
            );
        }
        // Corruption: no panic, and the outputs of the touched gates' instances change.
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut changed = 0;
        for _ in 0..20 {
            let mut bad = stream.clone();
            let pos = rng.random_range(0..bad.len());
            bad[pos] ^= 1 << rng.random_range(0..8);
            let mut e = Evaluator::new().unwrap();
            let out = e
                .evaluate(nc.circuit(), instances, &labels, &mut bad.as_slice())
                .unwrap();
            let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
            changed += usize::from(values != expect);
        }
        assert!(changed > 0, "flipping table bits never changed an output");
        // Wrong lengths.
        let mut e = Evaluator::new().unwrap();
        let r = e.evaluate(
            nc.circuit(),
            instances,
            &labels[1..],
            &mut stream.as_slice(),
        );
        assert!(matches!(r, Err(GcError::InputLength { .. })));
        assert!(matches!(
            decode(&labels[..3], garbling.decoding()),
            Err(GcError::OutputLength { .. })
        ));
        assert!(matches!(
            garbling.encode(&bits[1..]),
            Err(GcError::InputLength { .. })
        ));
    }

    /// A reader that returns at most 7 bytes per call (and sometimes `Interrupted`).
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 += 1;
            if self.1.is_multiple_of(5) {
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.0.len()).min(1 + self.1 % 7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn gc_trickling_stream_evaluates_the_same() {
        // Table requests straddle partial reads: the reader moves what it holds to the front
        // and refills; the outputs are those of the in-memory evaluation.
        let instances = 300;
        let (nc, bits, expect) = relu_case(instances, 8);
        let (stream, garbling, labels) = garble_to_vec(&nc, instances, &bits);
        let mut e = Evaluator::new().unwrap();
        let out = e
            .evaluate(nc.circuit(), instances, &labels, &mut Trickle(&stream, 0))
            .unwrap();
        let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
        assert_eq!(values, expect);
        let cut = &stream[..stream.len() - 40];
        let r = Evaluator::new().unwrap().evaluate(
            nc.circuit(),
            instances,
            &labels,
            &mut Trickle(cut, 0),
        );
        assert!(
            matches!(r, Err(GcError::TruncatedTables { found, .. }) if found == cut.len()),
            "{r:?}"
        );
    }

    /// A failing reader: errors surface as `GcError::Io`.
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("link down"))
        }
    }

    #[test]
    fn gc_io_error_is_typed() {
        let (nc, bits, _) = relu_case(3, 7);
        let (_, _, labels) = garble_to_vec(&nc, 3, &bits);
        let mut e = Evaluator::new().unwrap();
        let r = e.evaluate(nc.circuit(), 3, &labels, &mut Broken);
        assert!(matches!(r, Err(GcError::Io(_))), "{r:?}");
    }

    #[test]
    fn gc_sequential_circuits_share_delta_and_counter() {
        let mut g = Garbler::new().unwrap();
        let mut e = Evaluator::new().unwrap();
        for round in 0..3 {
            let (nc, bits, expect) = relu_case(50 + round, 100 + round as u64);
            let out = run_local(nc.circuit(), 50 + round, &bits, &mut g, &mut e).unwrap();
            assert_eq!(nc.decode_outputs(&out), expect);
        }
    }

    #[test]
    fn gc_party_encodings_merge_to_full_inputs() {
        let instances = 9;
        let nc = NonlinearCircuit::new(NonlinearSpec::relu(P20)).unwrap();
        let c: Vec<u64> = (0..instances as u64).map(|i| i * 1000).collect();
        let s: Vec<u64> = (0..instances as u64).map(|i| P20 - 1 - i * 77).collect();
        let r: Vec<u64> = (0..instances as u64).map(|i| i * 31).collect();
        let mut g = Garbler::from_seed([3; 32]).unwrap();
        let mut stream = Vec::new();
        let garbling = g.garble(nc.circuit(), instances, &mut stream).unwrap();
        let gl = garbling
            .encode_party(
                nc.circuit(),
                Party::Garbler,
                &nc.garbler_bits(&s, &r).unwrap(),
            )
            .unwrap();
        // The evaluator's labels as OT would deliver them: pick from each pair by its bit.
        let ebits = nc.evaluator_bits(&c).unwrap();
        let pairs = garbling.evaluator_label_pairs(nc.circuit());
        let el: Vec<Block> = pairs
            .iter()
            .zip(&ebits)
            .map(|(p, &b)| if b { p.1 } else { p.0 })
            .collect();
        let labels = merge_inputs(nc.circuit(), instances, &gl, &el).unwrap();
        let mut e = Evaluator::new().unwrap();
        let out = e
            .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
            .unwrap();
        let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
        assert_eq!(values, nc.reference(&c, &s, &r));
    }

    #[test]
    fn gc_session_hash_key() {
        let instances = 60;
        let (nc, bits, expect) = relu_case(instances, 11);
        let mut g = Garbler::new_session().unwrap();
        let key = g.hash_key();
        assert_ne!(key, HashKey::UNKEYED);
        assert_ne!(key, Garbler::new_session().unwrap().hash_key());
        let mut stream = Vec::new();
        let garbling = g.garble(nc.circuit(), instances, &mut stream).unwrap();
        let labels = garbling.encode(&bits).unwrap();
        // The evaluator that received the key's bytes evaluates correctly, twice in a row.
        let mut e = Evaluator::with_key(HashKey::from_bytes(key.to_bytes())).unwrap();
        let out = e
            .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
            .unwrap();
        assert_eq!(
            nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap()),
            expect
        );
        let out = run_local(nc.circuit(), instances, &bits, &mut g, &mut e).unwrap();
        assert_eq!(nc.decode_outputs(&out), expect);
        // Without the key (the fixed default), the outputs are garbage.
        let mut wrong = Evaluator::new().unwrap();
        let out = wrong
            .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
            .unwrap();
        let values = nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap());
        let same = values.iter().zip(&expect).filter(|(a, b)| a == b).count();
        assert!(
            same < instances / 4,
            "{same} of {instances} right without the key"
        );
        // A seeded keyed garbler is reproducible and draws its key from the seed.
        let backend = AesBackend::selected().unwrap();
        let k1 = Garbler::keyed(backend, ChaCha12Rng::from_seed([5; 32])).unwrap();
        let k2 = Garbler::keyed(backend, ChaCha12Rng::from_seed([5; 32])).unwrap();
        let k3 = Garbler::keyed(backend, ChaCha12Rng::from_seed([6; 32])).unwrap();
        assert_eq!(k1.hash_key(), k2.hash_key());
        assert_eq!(k1.delta(), k2.delta());
        assert_ne!(k1.hash_key(), k3.hash_key());
        assert_ne!(k1.hash_key().block(), k1.delta());
        // The unkeyed constructors agree with each other.
        assert_eq!(
            Garbler::from_seed([1; 32]).unwrap().hash_key(),
            HashKey::UNKEYED
        );
        assert_eq!(Garbler::new().unwrap().hash_key(), HashKey::UNKEYED);
    }

    #[test]
    fn gc_wipe_clears_blocks() {
        let mut b = [Block::ONES, Block::from_u128(12345), Block::ONE];
        wipe(&mut b);
        assert!(b.iter().all(|x| *x == Block::ZERO));
        let mut s = Secret(vec![Block::ONES; 3]);
        s[1] = Block::ONE;
        assert_eq!(s.len(), 3);
        wipe(&mut s);
        assert!(s.iter().all(|x| *x == Block::ZERO));
    }

    #[test]
    fn gc_every_aes_backend_garbles_identically() {
        let instances = 70;
        let (nc, bits, expect) = relu_case(instances, 8);
        for scheme in Scheme::ALL {
            let mut reference: Option<Vec<u8>> = None;
            for backend in AesBackend::ALL {
                if !backend.is_available() {
                    use std::io::Write as _;
                    let _ = writeln!(
                    std::io::stderr(),
                    "gc_every_aes_backend_garbles_identically: {backend} SKIPPED (cpu lacks: {})",
                    backend.needs()
                );
                    continue;
                }
                let aes = || Aes128::with_backend(kernels::aes::FIXED_KEY, backend).unwrap();
                let mut g =
                    Garbler::with_parts(aes(), ChaCha12Rng::from_seed([4; 32])).with_scheme(scheme);
                let mut stream = Vec::new();
                let garbling = g.garble(nc.circuit(), instances, &mut stream).unwrap();
                match &reference {
                    None => reference = Some(stream.clone()),
                    Some(r) => assert!(r == &stream, "{backend} {scheme}: different tables"),
                }
                let mut e = Evaluator::with_aes(aes()).with_scheme(scheme);
                let labels = garbling.encode(&bits).unwrap();
                let out = e
                    .evaluate(nc.circuit(), instances, &labels, &mut stream.as_slice())
                    .unwrap();
                assert_eq!(
                    nc.decode_outputs(&decode(&out, garbling.decoding()).unwrap()),
                    expect,
                    "{backend} {scheme}"
                );
            }
        }
    }
}
