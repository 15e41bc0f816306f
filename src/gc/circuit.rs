//! Boolean circuits: one description, several interpreters.
//!
//! Circuits are written once as functions generic over [`Gates`] (swanky's `Fancy` style:
//! XOR, AND, NOT and constants over an interpreter-defined wire type). Two interpreters run
//! such a function directly:
//!
//! * [`Builder`] records it, folding constants and free gates, into a [`Circuit`];
//! * [`Plain`] evaluates it on booleans (a direct plaintext oracle for the builder itself).
//!
//! A recorded [`Circuit`] is then interpreted four ways: garbled
//! ([`crate::gc::Garbler::garble`]), evaluated on labels ([`crate::gc::Evaluator::evaluate`]),
//! evaluated in plaintext ([`Circuit::eval_plain`]) and counted ([`Circuit::counts`]).
//! Every circuit's tests check garbled == plaintext == integer reference.
//!
//! Bit vectors are little-endian: `bits[0]` is the least significant bit.
use crate::gc::error::GcError;

/// The operations of a Boolean circuit over some wire type (free-XOR friendly: only
/// [`Gates::and`] costs anything when garbled).
pub trait Gates {
    /// A wire (a label index, a boolean, …).
    type Wire: Clone;
    /// A constant wire.
    fn constant(&mut self, value: bool) -> Self::Wire;
    /// `a ⊕ b` (free).
    fn xor(&mut self, a: &Self::Wire, b: &Self::Wire) -> Self::Wire;
    /// `a ∧ b` (one garbled table).
    fn and(&mut self, a: &Self::Wire, b: &Self::Wire) -> Self::Wire;
    /// `¬a` (free).
    fn not(&mut self, a: &Self::Wire) -> Self::Wire;

    /// `a ∨ b = ¬(¬a ∧ ¬b)` (one AND).
    fn or(&mut self, a: &Self::Wire, b: &Self::Wire) -> Self::Wire {
        let na = self.not(a);
        let nb = self.not(b);
        let t = self.and(&na, &nb);
        self.not(&t)
    }

    /// `if s { b } else { a }` = `a ⊕ s ∧ (a ⊕ b)` (one AND).
    fn mux(&mut self, s: &Self::Wire, a: &Self::Wire, b: &Self::Wire) -> Self::Wire {
        let d = self.xor(a, b);
        let t = self.and(s, &d);
        self.xor(a, &t)
    }
}

/// Who supplies an input wire's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The garbler (the server in Gazelle): its input labels are sent directly.
    Garbler,
    /// The evaluator (the client): its input labels travel by oblivious transfer.
    Evaluator,
}

/// A wire of a circuit under construction. Wires 0 and 1 are the constants false and true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Wire(u32);

impl Wire {
    /// The constant false.
    pub const FALSE: Wire = Wire(0);
    /// The constant true.
    pub const TRUE: Wire = Wire(1);

    fn constant_value(self) -> Option<bool> {
        match self.0 {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// The wire's index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One gate of a recorded circuit; its output is a new wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Input(Party),
    Xor(Wire, Wire),
    And(Wire, Wire),
    Not(Wire),
}

/// Records a circuit function into a [`Circuit`], folding constants (`x ∧ 0 = 0`, `x ⊕ 1 = ¬x`,
/// `x ∧ x = x`, …) so no AND gate with a constant or repeated input reaches the garbler.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    /// `ops[i]` defines wire `i + 2`.
    ops: Vec<Op>,
    outputs: Vec<Wire>,
}

impl Builder {
    /// An empty circuit.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Whether `a = ¬b` or `b = ¬a` syntactically.
    fn complementary(&self, a: Wire, b: Wire) -> bool {
        let not_of = |x: Wire| match x.index().checked_sub(2).and_then(|i| self.ops.get(i)) {
            Some(Op::Not(inner)) => Some(*inner),
            _ => None,
        };
        not_of(a) == Some(b) || not_of(b) == Some(a)
    }

    fn push(&mut self, op: Op) -> Wire {
        let id = u32::try_from(self.ops.len() + 2).expect("circuit exceeds 2^32 wires");
        self.ops.push(op);
        Wire(id)
    }

    /// `bits` new input wires owned by `party`, in input order.
    pub fn input(&mut self, party: Party, bits: usize) -> Vec<Wire> {
        (0..bits).map(|_| self.push(Op::Input(party))).collect()
    }

    /// `bits` new garbler input wires.
    pub fn garbler_input(&mut self, bits: usize) -> Vec<Wire> {
        self.input(Party::Garbler, bits)
    }

    /// `bits` new evaluator input wires.
    pub fn evaluator_input(&mut self, bits: usize) -> Vec<Wire> {
        self.input(Party::Evaluator, bits)
    }

    /// Appends wires to the outputs, in order.
    pub fn output(&mut self, wires: &[Wire]) {
        self.outputs.extend_from_slice(wires);
    }

    /// Finishes the circuit: drops gates no output depends on and assigns label slots so that
    /// the interpreters keep only live wires (memory ∝ the circuit's width, not its size).
    pub fn finish(self) -> Circuit {
        Circuit::compile(self.ops, self.outputs)
    }
}

impl Gates for Builder {
    type Wire = Wire;

    fn constant(&mut self, value: bool) -> Wire {
        if value {
            Wire::TRUE
        } else {
            Wire::FALSE
        }
    }

    fn xor(&mut self, a: &Wire, b: &Wire) -> Wire {
        match (a.constant_value(), b.constant_value()) {
            (Some(x), Some(y)) => self.constant(x ^ y),
            (Some(false), None) => *b,
            (None, Some(false)) => *a,
            (Some(true), None) => self.not(b),
            (None, Some(true)) => self.not(a),
            (None, None) if a == b => Wire::FALSE,
            (None, None) if self.complementary(*a, *b) => Wire::TRUE,
            (None, None) => self.push(Op::Xor(*a, *b)),
        }
    }

    fn and(&mut self, a: &Wire, b: &Wire) -> Wire {
        match (a.constant_value(), b.constant_value()) {
            (Some(x), Some(y)) => self.constant(x & y),
            (Some(false), None) | (None, Some(false)) => Wire::FALSE,
            (Some(true), None) => *b,
            (None, Some(true)) => *a,
            (None, None) if a == b => *a,
            (None, None) if self.complementary(*a, *b) => Wire::FALSE,
            (None, None) => self.push(Op::And(*a, *b)),
        }
    }

    fn not(&mut self, a: &Wire) -> Wire {
        match a.constant_value() {
            Some(x) => self.constant(!x),
            None => {
                // ¬¬x = x.
                if let Some(Op::Not(inner)) = self.ops.get(a.index() - 2) {
                    return *inner;
                }
                self.push(Op::Not(*a))
            }
        }
    }
}

/// Evaluates a circuit function directly on booleans.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Gates for Plain {
    type Wire = bool;
    fn constant(&mut self, value: bool) -> bool {
        value
    }
    fn xor(&mut self, a: &bool, b: &bool) -> bool {
        a ^ b
    }
    fn and(&mut self, a: &bool, b: &bool) -> bool {
        a & b
    }
    fn not(&mut self, a: &bool) -> bool {
        !a
    }
}

/// A gate of a compiled circuit, over label *slots* (indices into an interpreter's label
/// array). Slot 0 holds the constant false. NOT gates are compiled away: an operand may be
/// read complemented (`inv_*`), and outputs carry their own inversion flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// `out = a ⊕ b`.
    Xor { a: u32, b: u32, out: u32 },
    /// `out = (a ⊕ inv_a) ∧ (b ⊕ inv_b)` (one half-gates table).
    And {
        a: u32,
        b: u32,
        out: u32,
        inv_a: bool,
        inv_b: bool,
    },
}

/// Gate counts of a circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GateCounts {
    /// AND gates (each one 32-byte table, 4 hashes to garble, 2 to evaluate).
    pub and: usize,
    /// XOR gates (free).
    pub xor: usize,
    /// NOT gates of the description (free: compiled into inversion flags, no run-time work).
    pub not: usize,
    /// Garbler input bits.
    pub garbler_inputs: usize,
    /// Evaluator input bits (one OT each).
    pub evaluator_inputs: usize,
    /// Output bits.
    pub outputs: usize,
    /// Label slots an interpreter keeps per instance (live wires at the widest point + 1).
    pub slots: usize,
}

/// A recorded Boolean circuit, ready to be garbled, evaluated, run in plaintext or counted.
#[derive(Debug, Clone)]
pub struct Circuit {
    /// Slot of each input, in input order, and its owner.
    inputs: Vec<(u32, Party)>,
    gates: Vec<Gate>,
    /// Slot of each output.
    outputs: Vec<u32>,
    /// Whether each output is the complement of its slot's value.
    output_inv: Vec<bool>,
    slots: usize,
    counts: GateCounts,
}

impl Circuit {
    fn compile(ops: Vec<Op>, outputs: Vec<Wire>) -> Circuit {
        let n_wires = ops.len() + 2;
        // NOT gates vanish: a wire `¬x` is x's label slot read with an inversion flag (its
        // zero-label is x's ⊕ Δ, its active label the same), so `rep[w]` names the wire that
        // owns the slot and `inv[w]` whether w is its complement. Constant true is ¬false.
        let mut rep: Vec<u32> = (0..n_wires as u32).collect();
        let mut inv = vec![false; n_wires];
        rep[1] = 0;
        inv[1] = true;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Not(a) => {
                    rep[i + 2] = rep[a.index()];
                    inv[i + 2] = !inv[a.index()];
                }
                // ¬x ⊕ y = ¬(x ⊕ y): the gate XORs the slots, the output carries the inversions.
                Op::Xor(a, b) => inv[i + 2] = inv[a.index()] ^ inv[b.index()],
                Op::And(..) | Op::Input(_) => {}
            }
        }
        let r = |w: Wire| rep[w.index()] as usize;
        // Liveness: a slot-owning wire is needed if an output or a needed gate reads it.
        let mut needed = vec![false; n_wires];
        for &w in &outputs {
            needed[r(w)] = true;
        }
        for (i, op) in ops.iter().enumerate().rev() {
            let w = i + 2;
            match op {
                Op::Input(_) => needed[w] = true,
                Op::Not(_) => {}
                _ if !needed[w] => {}
                Op::Xor(a, b) | Op::And(a, b) => {
                    needed[r(*a)] = true;
                    needed[r(*b)] = true;
                }
            }
        }
        // Last reader of each slot owner: KEEP for outputs and constants, UNREAD if none.
        const KEEP: usize = usize::MAX;
        const UNREAD: usize = usize::MAX - 1;
        let mut last_use = vec![UNREAD; n_wires];
        for (i, op) in ops.iter().enumerate() {
            if let (Op::Xor(a, b) | Op::And(a, b), true) = (op, needed[i + 2]) {
                last_use[r(*a)] = i;
                last_use[r(*b)] = i;
            }
        }
        for &w in &outputs {
            last_use[r(w)] = KEEP;
        }
        last_use[0] = KEEP;

        // Slot assignment: inputs first (all set before any gate runs), then each gate's output
        // takes a free slot; a gate's inputs are released after its output is allocated, so an
        // output never aliases an input of its own gate.
        let mut slot_of = vec![u32::MAX; n_wires];
        slot_of[0] = 0;
        let mut next_slot = 1u32;
        let mut free: Vec<u32> = Vec::new();
        let mut inputs = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Op::Input(party) = op {
                slot_of[i + 2] = next_slot;
                inputs.push((next_slot, *party));
                if last_use[i + 2] == UNREAD {
                    // An input nothing reads: its slot is free for gate outputs at once.
                    free.push(next_slot);
                }
                next_slot += 1;
            }
        }
        let mut gates = Vec::new();
        let mut counts = GateCounts::default();
        for (i, op) in ops.iter().enumerate() {
            let w = i + 2;
            let (a, b, is_and) = match *op {
                Op::Input(_) => continue,
                Op::Not(_) => {
                    counts.not += 1;
                    continue;
                }
                _ if !needed[w] => continue,
                Op::Xor(a, b) => (a, b, false),
                Op::And(a, b) => (a, b, true),
            };
            let out = free.pop().unwrap_or_else(|| {
                next_slot += 1;
                next_slot - 1
            });
            slot_of[w] = out;
            let (sa, sb) = (slot_of[r(a)], slot_of[r(b)]);
            if is_and {
                gates.push(Gate::And {
                    a: sa,
                    b: sb,
                    out,
                    inv_a: inv[a.index()],
                    inv_b: inv[b.index()],
                });
                counts.and += 1;
            } else {
                gates.push(Gate::Xor { a: sa, b: sb, out });
                counts.xor += 1;
            }
            for x in [r(a), r(b)] {
                if last_use[x] == i {
                    last_use[x] = UNREAD; // released once even when a and b share an owner
                    free.push(slot_of[x]);
                }
            }
        }
        let output_inv: Vec<bool> = outputs.iter().map(|w| inv[w.index()]).collect();
        let outputs: Vec<u32> = outputs.iter().map(|&w| slot_of[r(w)]).collect();
        counts.garbler_inputs = inputs.iter().filter(|(_, p)| *p == Party::Garbler).count();
        counts.evaluator_inputs = inputs.len() - counts.garbler_inputs;
        counts.outputs = outputs.len();
        counts.slots = next_slot as usize;
        Circuit {
            inputs,
            gates,
            outputs,
            output_inv,
            slots: next_slot as usize,
            counts,
        }
    }

    /// Gate and input counts.
    pub fn counts(&self) -> GateCounts {
        self.counts
    }

    /// Number of AND gates.
    pub fn and_count(&self) -> usize {
        self.counts.and
    }

    /// Number of input bits (both parties).
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Number of output bits.
    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Owner of each input, in input order.
    pub fn input_parties(&self) -> impl Iterator<Item = Party> + '_ {
        self.inputs.iter().map(|(_, p)| *p)
    }

    /// Bytes of garbled tables for `instances` copies of this circuit under `scheme`
    /// ([`Scheme::table_bytes`](crate::gc::Scheme::table_bytes) per AND gate).
    pub fn table_bytes(&self, instances: usize, scheme: crate::gc::Scheme) -> usize {
        self.counts.and * instances * scheme.table_bytes()
    }

    pub(crate) fn gates(&self) -> &[Gate] {
        &self.gates
    }

    pub(crate) fn input_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.inputs.iter().map(|(s, _)| *s)
    }

    pub(crate) fn output_slots(&self) -> &[u32] {
        &self.outputs
    }

    pub(crate) fn output_inversions(&self) -> &[bool] {
        &self.output_inv
    }

    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Plaintext interpretation of the recorded gates: `inputs` in input order, outputs in
    /// output order.
    pub fn eval_plain(&self, inputs: &[bool]) -> Result<Vec<bool>, GcError> {
        if inputs.len() != self.inputs.len() {
            return Err(GcError::InputLength {
                expected: self.inputs.len(),
                found: inputs.len(),
            });
        }
        let mut v = vec![false; self.slots];
        for ((slot, _), &x) in self.inputs.iter().zip(inputs) {
            v[*slot as usize] = x;
        }
        for g in &self.gates {
            match *g {
                Gate::Xor { a, b, out } => v[out as usize] = v[a as usize] ^ v[b as usize],
                Gate::And {
                    a,
                    b,
                    out,
                    inv_a,
                    inv_b,
                } => v[out as usize] = (v[a as usize] ^ inv_a) & (v[b as usize] ^ inv_b),
            }
        }
        Ok(self
            .outputs
            .iter()
            .zip(&self.output_inv)
            .map(|(&s, &i)| v[s as usize] ^ i)
            .collect())
    }
}

/// Little-endian bits of `x` (`bits` of them).
pub fn to_bits(x: u64, bits: usize) -> Vec<bool> {
    (0..bits).map(|i| i < 64 && (x >> i) & 1 == 1).collect()
}

/// The unsigned value of little-endian bits (at most 64).
pub fn from_bits(bits: &[bool]) -> u64 {
    bits.iter()
        .take(64)
        .enumerate()
        .fold(0, |acc, (i, &b)| acc | ((b as u64) << i))
}

/// The two's-complement value of little-endian bits (1 to 64 of them).
pub fn from_bits_signed(bits: &[bool]) -> i64 {
    let n = bits.len().min(64);
    let u = from_bits(bits);
    if n == 0 {
        0
    } else if n < 64 && bits[n - 1] {
        (u as i64) - (1i64 << n)
    } else {
        u as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_slot_reuse() {
        let mut b = Builder::new();
        let x = b.garbler_input(4);
        let y = b.evaluator_input(4);
        let t = b.constant(true);
        let f = b.constant(false);
        assert_eq!(b.and(&x[0], &f), Wire::FALSE);
        assert_eq!(b.and(&x[0], &t), x[0]);
        assert_eq!(b.xor(&x[0], &x[0]), Wire::FALSE);
        let nx = b.not(&x[1]);
        assert_eq!(b.not(&nx), x[1]);
        assert_eq!(b.and(&nx, &x[1]), Wire::FALSE);
        assert_eq!(b.xor(&x[1], &nx), Wire::TRUE);
        // A chain: acc = ((x0 ∧ y0) ⊕ x1) ∧ y1 …
        let mut acc = b.and(&x[0], &y[0]);
        for i in 1..4 {
            let t = b.xor(&acc, &x[i]);
            acc = b.and(&t, &y[i]);
        }
        let dead = b.and(&x[2], &y[3]); // never output: dropped
        let _ = dead;
        b.output(&[acc]);
        let c = b.finish();
        let k = c.counts();
        assert_eq!(k.and, 4);
        assert_eq!(k.xor, 3);
        assert_eq!((k.garbler_inputs, k.evaluator_inputs, k.outputs), (4, 4, 1));
        // The constant + 8 inputs + a couple of temporaries.
        assert!(k.slots <= 1 + 8 + 2, "{k:?}");
        for v in 0..256u64 {
            let bits = to_bits(v, 8);
            let (xs, ys) = bits.split_at(4);
            let mut acc = xs[0] & ys[0];
            for i in 1..4 {
                acc = (acc ^ xs[i]) & ys[i];
            }
            assert_eq!(c.eval_plain(&bits).unwrap(), vec![acc]);
        }
        assert!(matches!(
            c.eval_plain(&[true]),
            Err(GcError::InputLength { .. })
        ));
    }

    #[test]
    fn bit_conversions() {
        assert_eq!(from_bits(&to_bits(0b1011, 4)), 11);
        assert_eq!(from_bits_signed(&to_bits(0b1011, 4)), -5);
        assert_eq!(from_bits_signed(&to_bits(0b0111, 4)), 7);
    }
}
