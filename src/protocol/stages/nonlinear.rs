//! A non-linear stage: one garbled circuit per output value (`gc::gazelle`) reconstructs
//! `x = c + s` from the shares, applies the pending requantisation, ReLU and max-pool, and
//! outputs `y + r'` to the client (the server's next share is `−r'`), or `y` itself at the
//! last stage when the server reveals the logits. By default the last stage is instead one
//! [`ArgmaxCircuit`] instance over all the logits, which outputs only the class.
//!
//! Offline, the server extends random OTs for the client's input bits, garbles and streams
//! the tables, and sends its own input labels with the output decoding bits; its input is
//! its share and `r'`, both known offline. Online, the client derandomises the OTs for its
//! share's bits, evaluates and decodes.
use super::{ClientOnline, ClientStep, ServerOffline};
use crate::channel::Channel;
use crate::gc::gazelle::{ArgmaxCircuit, NonlinearCircuit, Output};
use crate::gc::{
    arith, decode, seeded_input_labels_into, Circuit, InputLabels, Party, Scheme, GROUP,
};
use crate::net::{self, ChunkWriter};
use crate::ot::{io as ot_io, ChoiceMsg, CotReceiver, FoldedLabels, ReceiverCots};
use crate::protocol::server::Session;
use crate::protocol::wire::{
    decode_garbler_seed, encode_garbler_seed, garbler_seed_len, TAG_GLABELS, TAG_TABLES,
};
use crate::protocol::{random_mod, ProtocolError, Result};
use crate::sched::Scheduler;
use kernels::Block;

/// The server's per-query state: the random OTs for the client's input bits and the
/// client's zero labels they will carry.
pub(crate) struct ServerPrep {
    /// The random OTs of the client's input bits with their zero labels folded in.
    labels: FoldedLabels,
    /// Labels per online frame ([`label_frame`]).
    frame: usize,
}

/// The client's per-query state: its random OTs, the garbled tables, the server's input
/// labels and the output decoding bits.
pub(crate) struct ClientPrep {
    pool: ReceiverCots,
    /// A rehearsal's choice message, taken from `pool` offline ([`TableBuffers::rehearsal`]).
    blind: Option<ChoiceMsg>,
    tables: Vec<u8>,
    glabels: Vec<Block>,
    decoding: Vec<bool>,
}

/// The client's buffers for garbled tables, kept from one query of a session to the next: a
/// big layer's tables are ~240 MB, and fresh memory costs a page fault and a zeroed page per
/// 4 KiB (on the query's path: the receive loop copies into it). Holds at most `limit`
/// buffers, one query's worth when `limit` is the plan's garbled stages; the bytes kept are
/// tables the client has already received and evaluated (nothing secret). Likewise the
/// server's input labels of each stage (derived from its public seed: 42 MB for MiniONN-CIFAR's
/// first ReLU layer).
#[derive(Debug, Default)]
pub(crate) struct TableBuffers {
    free: Vec<Vec<u8>>,
    free_labels: Vec<Vec<Block>>,
    limit: usize,
    /// A rehearsal ([`TableBuffers::rehearsal`]): nothing is kept or evaluated.
    rehearsal: bool,
}

/// The smallest of `free` with capacity for `len`, else the largest, else a new one.
fn take_best_fit<T>(free: &mut Vec<Vec<T>>, len: usize) -> Vec<T> {
    let fit = (0..free.len())
        .filter(|&i| free[i].capacity() >= len)
        .min_by_key(|&i| free[i].capacity())
        .or_else(|| (0..free.len()).max_by_key(|&i| free[i].capacity()));
    match fit {
        Some(i) => free.swap_remove(i),
        None => Vec::new(),
    }
}

/// Keeps `buf` in `free`; past `limit` buffers the smallest goes (released off the query's
/// path).
fn keep<T: Send + 'static>(free: &mut Vec<Vec<T>>, buf: Vec<T>, limit: usize) {
    if buf.capacity() == 0 {
        return;
    }
    free.push(buf);
    if free.len() > limit {
        let smallest = (0..free.len())
            .min_by_key(|&i| free[i].capacity())
            .expect("the pool is not empty");
        release_in_background(free.swap_remove(smallest));
    }
}

impl TableBuffers {
    /// An empty pool keeping at most `limit` buffers.
    pub(crate) fn new(limit: usize) -> TableBuffers {
        TableBuffers {
            free: Vec::new(),
            free_labels: Vec::new(),
            limit,
            rehearsal: false,
        }
    }

    /// A rehearsal's client (the server's warm-up, [`crate::protocol::cli::warm_up`]): the
    /// garbled tables are received, checked as always and dropped chunk by chunk, the server's
    /// input labels are not derived, the random OTs are spent on a choice message right after
    /// their extension ([`ReceiverCots::choose_blind`]), and online the labels they carry are
    /// received, checked and dropped, nothing evaluated: the next shares are fresh random
    /// values (the class 0 at an argmax). The server's side is a query's, which it cannot
    /// tell apart; the client holds a frame at a time instead of a query's tables and OTs
    /// (~0.8 GB for MiniONN-CIFAR).
    pub(crate) fn rehearsal() -> TableBuffers {
        TableBuffers {
            rehearsal: true,
            ..TableBuffers::new(0)
        }
    }

    /// Whether this is a rehearsal's ([`TableBuffers::rehearsal`]).
    pub(crate) fn is_rehearsal(&self) -> bool {
        self.rehearsal
    }

    /// A buffer for `bytes`: the smallest kept one with that capacity, else the largest kept
    /// one, else a new one. A kept buffer still holds its earlier tables (received into in
    /// place, see [`net::recv_chunked_into`]: no clearing).
    fn take(&mut self, bytes: usize) -> Vec<u8> {
        take_best_fit(&mut self.free, bytes)
    }

    /// A buffer for `count` server input labels, as [`TableBuffers::take`].
    fn take_labels(&mut self, count: usize) -> Vec<Block> {
        take_best_fit(&mut self.free_labels, count)
    }

    /// Keeps a stage's server input labels for a later [`TableBuffers::take_labels`].
    fn give_labels(&mut self, buf: Vec<Block>) {
        keep(&mut self.free_labels, buf, self.limit);
    }

    /// Buffers for tables of `sizes` bytes (up to the limit), their pages touched now: a
    /// session's first query then receives its tables into memory that is already mapped
    /// instead of taking a page fault per 4 KiB on its path (~500 MB for MiniONN-CIFAR).
    // Written, not `vec![0; n]`: calloc'd pages stay unmapped until first written.
    #[allow(clippy::slow_vector_initialization)]
    pub(crate) fn prefault(&mut self, sizes: impl IntoIterator<Item = usize>) {
        for bytes in sizes
            .into_iter()
            .take(self.limit.saturating_sub(self.free.len()))
        {
            let mut buf = Vec::with_capacity(bytes);
            buf.resize(bytes, 0);
            self.free.push(buf);
        }
    }

    /// Keeps `buf` for a later [`TableBuffers::take`]; past the limit, the smallest buffer
    /// goes (released off the query's path).
    fn give(&mut self, buf: Vec<u8>) {
        keep(&mut self.free, buf, self.limit);
    }
}

/// Bytes of the garbled tables of a non-linear stage under `scheme`.
pub(crate) fn table_bytes(circuit: &NonlinearCircuit, gather: &[usize], scheme: Scheme) -> usize {
    circuit
        .circuit()
        .table_bytes(sizes(circuit, gather).0, scheme)
}

/// Bytes of the garbled tables of the argmax stage under `scheme`.
pub(crate) fn argmax_table_bytes(circuit: &ArgmaxCircuit, scheme: Scheme) -> usize {
    circuit
        .circuit()
        .table_bytes(ArgmaxCircuit::INSTANCES, scheme)
}

/// Circuit instances (output values) of the stage and the evaluator's input bits.
fn sizes(circuit: &NonlinearCircuit, gather: &[usize]) -> (usize, usize) {
    let spec = circuit.spec();
    let inst = gather.len() / spec.window;
    (inst, inst * spec.window * arith::modulus_bits(spec.p))
}

/// Evaluator labels per online frame for `inst` instances with `eval_bits` evaluator inputs
/// in all: whole [`GROUP`]s of instances, about 2 MiB of labels, so that the client evaluates
/// the first frames while the rest are on the way. Both parties derive it from the stage.
fn label_frame(inst: usize, eval_bits: usize) -> usize {
    const FRAME_LABELS: usize = (2 << 20) / 16;
    let per = (eval_bits / inst.max(1)).max(1);
    let groups = (FRAME_LABELS / per / GROUP).max(1);
    (groups * GROUP * per).min(eval_bits).max(1)
}

/// Extends the OTs, garbles and sends the tables and the server's labels, and sets the
/// server's next share (`−r'`, or nothing at the last stage).
pub(crate) fn server_offline<C: Channel>(
    ch: &mut C,
    s: &mut Session,
    cx: &mut ServerOffline<'_>,
    circuit: &NonlinearCircuit,
    gather: &[usize],
) -> Result<ServerPrep> {
    let p = cx.params.p();
    let (inst, eval_bits) = sizes(circuit, gather);
    let sg: Vec<u64> = gather.iter().map(|&i| cx.share[i]).collect();
    let r = match circuit.spec().output {
        Output::Reveal => vec![],
        Output::Remask => random_mod(&mut cx.rng, p, inst),
    };
    let gbits = circuit.garbler_bits(&sg, &r)?;
    let prep = garble_and_send(ch, s, circuit.circuit(), inst, eval_bits, &gbits)?;
    cx.share = r.iter().map(|&v| (p - v) % p).collect();
    Ok(prep)
}

/// The server's offline phase of the argmax stage: as [`server_offline`] with one instance
/// over all the logits and no mask (the server has no next share).
pub(crate) fn server_offline_argmax<C: Channel>(
    ch: &mut C,
    s: &mut Session,
    cx: &mut ServerOffline<'_>,
    circuit: &ArgmaxCircuit,
    gather: &[usize],
) -> Result<ServerPrep> {
    let sg: Vec<u64> = gather.iter().map(|&i| cx.share[i]).collect();
    let gbits = circuit.garbler_bits(&sg)?;
    let prep = garble_and_send(
        ch,
        s,
        circuit.circuit(),
        ArgmaxCircuit::INSTANCES,
        argmax_eval_bits(circuit, gather),
        &gbits,
    )?;
    cx.share = vec![];
    Ok(prep)
}

/// The evaluator's input bits of the argmax stage.
fn argmax_eval_bits(circuit: &ArgmaxCircuit, gather: &[usize]) -> usize {
    gather.len() * arith::modulus_bits(circuit.spec().p)
}

/// Extends the random OTs for the `eval_bits` evaluator inputs, garbles `inst` instances of
/// `circuit` with the garbler's inputs `gbits` known (their labels come from a seed) and
/// streams the tables, then sends the seed with the output decoding bits.
fn garble_and_send<C: Channel>(
    ch: &mut C,
    s: &mut Session,
    circuit: &Circuit,
    inst: usize,
    eval_bits: usize,
    gbits: &[bool],
) -> Result<ServerPrep> {
    let pool = ot_io::extend_sender(ch, &mut s.cot, eval_bits)?;
    let mut w = ChunkWriter::new(ch, TAG_TABLES);
    let (garbling, seed) = s.garbler.garble_parallel_known_inputs(
        circuit,
        inst,
        gbits,
        &mut w,
        Scheduler::global().pool(),
    )?;
    w.finish()?;
    net::send_msg(
        ch,
        TAG_GLABELS,
        &encode_garbler_seed(&seed, garbling.decoding()),
    )?;
    let mut zero_labels = garbling.party_zero_labels(circuit, Party::Evaluator);
    s.garbler.recycle(garbling);
    Ok(ServerPrep {
        labels: pool.fold_labels(&mut zero_labels)?,
        frame: label_frame(inst, eval_bits),
    })
}

/// Sends the client's input labels through the random OTs, in frames ([`label_frame`]).
pub(crate) fn server_online<C: Channel>(
    ch: &mut C,
    cx: &mut super::ServerOnline<'_>,
    mut prep: ServerPrep,
) -> Result<()> {
    ot_io::send_folded_labels_chunked(ch, &mut prep.labels, prep.frame, cx.io)?;
    Ok(())
}

/// The client's buffers for the online label transfer (the OT messages and its input labels),
/// kept from stage to stage and query to query of a session: the first ReLU layer of
/// MiniONN-CIFAR moves 21 MB each way, which fresh memory pays for in page faults.
#[derive(Debug, Default)]
pub(crate) struct LabelBuffers {
    io: ot_io::IoBuffers,
    /// The OT receiver's pending state (wiped after each use).
    pending: Vec<Block>,
    labels: Vec<Block>,
}

impl Drop for LabelBuffers {
    /// The client's active input labels are wiped with the session.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.labels);
        zeroize::Zeroize::zeroize(&mut self.pending);
    }
}

/// Extends the OTs and receives the tables, the server's labels and the decoding bits.
pub(crate) fn client_offline<C: Channel>(
    ch: &mut C,
    cot: &mut CotReceiver,
    tables: &mut TableBuffers,
    circuit: &NonlinearCircuit,
    gather: &[usize],
    scheme: Scheme,
) -> Result<ClientPrep> {
    let (inst, eval_bits) = sizes(circuit, gather);
    receive(
        ch,
        cot,
        tables,
        (circuit.circuit(), scheme),
        inst,
        eval_bits,
        circuit.output_bits() * inst,
    )
}

/// [`client_offline`] of the argmax stage.
pub(crate) fn client_offline_argmax<C: Channel>(
    ch: &mut C,
    cot: &mut CotReceiver,
    tables: &mut TableBuffers,
    circuit: &ArgmaxCircuit,
    gather: &[usize],
    scheme: Scheme,
) -> Result<ClientPrep> {
    receive(
        ch,
        cot,
        tables,
        (circuit.circuit(), scheme),
        ArgmaxCircuit::INSTANCES,
        argmax_eval_bits(circuit, gather),
        circuit.output_bits(),
    )
}

/// The client's side of [`garble_and_send`]: `dec_len` decoding bits in all.
fn receive<C: Channel>(
    ch: &mut C,
    cot: &mut CotReceiver,
    buffers: &mut TableBuffers,
    (circuit, scheme): (&Circuit, Scheme),
    inst: usize,
    eval_bits: usize,
    dec_len: usize,
) -> Result<ClientPrep> {
    let mut pool = ot_io::extend_receiver(ch, cot, eval_bits)?;
    // A rehearsal's OTs go at once: only the choice message stays (1 bit per OT, not 16 bytes).
    let blind = if buffers.rehearsal {
        Some(pool.choose_blind(eval_bits)?)
    } else {
        None
    };
    let bytes = circuit.table_bytes(inst, scheme);
    let mut tables = Vec::new();
    if buffers.rehearsal {
        net::recv_chunked_discard(ch, TAG_TABLES, bytes, "garbled tables")?;
    } else {
        tables = buffers.take(bytes);
        if let Err(e) = net::recv_chunked_into(ch, TAG_TABLES, bytes, "garbled tables", &mut tables)
        {
            buffers.give(tables);
            return Err(e.into());
        }
    }
    let g_inputs = circuit.counts().garbler_inputs * inst;
    let msg = net::recv_msg(ch, TAG_GLABELS, garbler_seed_len(dec_len), "garbler seed")?;
    let (seed, decoding) = decode_garbler_seed(&msg, dec_len)?;
    let mut glabels = Vec::new();
    if !buffers.rehearsal {
        glabels = buffers.take_labels(g_inputs);
        seeded_input_labels_into(&seed, g_inputs, &mut glabels)?;
    }
    Ok(ClientPrep {
        pool,
        blind,
        tables,
        glabels,
        decoding,
    })
}

/// Derandomises the OTs for the evaluator's input `bits`, evaluates `inst` instances of
/// `circuit` and decodes the output bits. The labels come in frames ([`label_frame`]); a
/// second thread evaluates each frame's instances on the global scheduler while the next
/// frames are received.
fn evaluate<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    circuit: &Circuit,
    inst: usize,
    bits: &[bool],
    mut prep: ClientPrep,
) -> Result<Vec<bool>> {
    let LabelBuffers {
        io,
        pending,
        labels,
    } = &mut *cx.labels;
    labels.clear();
    labels.resize(bits.len(), Block::ZERO);
    let per = bits.len() / inst.max(1);
    let frame = label_frame(inst, bits.len());
    let evaluator = &mut *cx.evaluator;
    let scheme = evaluator.scheme();
    let g_per = circuit.counts().garbler_inputs;
    let (tables, glabels) = (&prep.tables, &prep.glabels);
    let pool = Scheduler::global().pool();
    let out = std::thread::scope(|s| -> Result<Vec<Block>> {
        let (tx, rx) = std::sync::mpsc::channel::<(std::ops::Range<usize>, &[Block])>();
        let worker = std::thread::Builder::new()
            .name("gazelle-evaluate".into())
            .spawn_scoped(s, move || -> Result<Vec<Block>> {
                let mut out = Vec::with_capacity(inst * circuit.num_outputs());
                for (range, evaluator_labels) in rx {
                    let (a, b) = (range.start / per, range.end / per);
                    let part = evaluator.evaluate_parallel(
                        circuit,
                        b - a,
                        InputLabels::Split {
                            garbler: glabels.get(a * g_per..b * g_per).unwrap_or_default(),
                            evaluator: evaluator_labels,
                        },
                        tables
                            .get(circuit.table_bytes(a, scheme)..circuit.table_bytes(b, scheme))
                            .unwrap_or_default(),
                        pool,
                    )?;
                    out.extend_from_slice(&part);
                }
                Ok(out)
            })
            .map_err(|e| ProtocolError::Unsupported(format!("no evaluation thread: {e}")))?;
        let received = ot_io::receive_labels_chunked(
            ch,
            &mut prep.pool,
            bits,
            frame,
            (io, pending),
            labels,
            |range, evaluator_labels| {
                tx.send((range, evaluator_labels))
                    .map_err(|_| ProtocolError::Unsupported("the evaluation stopped".into()))
            },
        );
        drop(tx);
        let evaluated = worker
            .join()
            .map_err(|_| ProtocolError::Unsupported("the evaluation thread panicked".into()))?;
        // The evaluation's own error first: a failed send above only reports it.
        let out = evaluated?;
        received?;
        Ok(out)
    })?;
    if out.len() != inst * circuit.num_outputs() {
        return Err(ProtocolError::Malformed {
            what: "garbled-circuit evaluation",
            reason: "fewer output labels than instances".into(),
        });
    }
    // Kept for the next query's tables and labels (see `TableBuffers`).
    cx.tables.give(std::mem::take(&mut prep.tables));
    cx.tables.give_labels(std::mem::take(&mut prep.glabels));
    Ok(decode(&out, &prep.decoding)?)
}

/// A rehearsal's [`evaluate`] ([`TableBuffers::rehearsal`]): receives the labels of its
/// input bits through the OTs, as a query does (the choice message taken offline), checks
/// and drops them, and evaluates nothing.
fn receive_labels_only<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    inst: usize,
    prep: ClientPrep,
) -> Result<()> {
    let Some(msg) = prep.blind else {
        return Err(ProtocolError::Unsupported(
            "a rehearsal's stage without its choice message".into(),
        ));
    };
    let frame = label_frame(inst, msg.n as usize);
    ot_io::receive_labels_blind(ch, &msg, frame, &mut cx.labels.io)?;
    Ok(())
}

/// Drops `buf` on a short-lived thread when it is large: freeing it is page unmapping (~20 ms
/// for ~200 MB of tables), kernel time the query need not wait for. If no
/// thread can be spawned, the closure and the buffer are dropped right here.
fn release_in_background<T: Send + 'static>(buf: Vec<T>) {
    const LARGE: usize = 16 << 20;
    if buf.capacity() * std::mem::size_of::<T>() < LARGE {
        return;
    }
    if let Err(e) = std::thread::Builder::new()
        .name("gazelle-free".into())
        .spawn(move || drop(buf))
    {
        tracing::debug!("garbled tables freed inline: {e}");
    }
}

/// Receives the labels of its share's bits, evaluates and decodes: the client's next share
/// `y + r'` (checked below p), or the logits at the last stage.
pub(crate) fn client_online<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    circuit: &NonlinearCircuit,
    gather: &[usize],
    prep: ClientPrep,
    c: &[u64],
) -> Result<ClientStep> {
    let p = cx.params.p();
    let (inst, _) = sizes(circuit, gather);
    if cx.tables.is_rehearsal() {
        receive_labels_only(ch, cx, inst, prep)?;
        let count = inst * circuit.circuit().num_outputs() / circuit.output_bits().max(1);
        let shares = crate::protocol::random_mod(&mut cx.rng, p, count);
        return Ok(match circuit.spec().output {
            Output::Reveal => ClientStep::Reveal(shares.iter().map(|&v| v as i64).collect()),
            Output::Remask => ClientStep::Share(shares),
        });
    }
    let cg: Vec<u64> = gather.iter().map(|&i| c[i]).collect();
    let bits = circuit.evaluator_bits(&cg)?;
    let values = circuit.decode_outputs(&evaluate(ch, cx, circuit.circuit(), inst, &bits, prep)?);
    match circuit.spec().output {
        Output::Reveal => Ok(ClientStep::Reveal(values)),
        Output::Remask => {
            if values.iter().any(|&v| !(0..p as i64).contains(&v)) {
                return Err(ProtocolError::Malformed {
                    what: "garbled-circuit output",
                    reason: "a re-masked value is not below p".into(),
                });
            }
            Ok(ClientStep::Share(
                values.iter().map(|&v| v as u64).collect(),
            ))
        }
    }
}

/// The argmax stage online: evaluates the single instance on the client's shares of the
/// logits and decodes the class (checked below the number of classes).
pub(crate) fn client_online_argmax<C: Channel>(
    ch: &mut C,
    cx: &mut ClientOnline<'_>,
    circuit: &ArgmaxCircuit,
    gather: &[usize],
    prep: ClientPrep,
    c: &[u64],
) -> Result<ClientStep> {
    if cx.tables.is_rehearsal() {
        receive_labels_only(ch, cx, ArgmaxCircuit::INSTANCES, prep)?;
        return Ok(ClientStep::Class(0));
    }
    let cg: Vec<u64> = gather.iter().map(|&i| c[i]).collect();
    let bits = circuit.evaluator_bits(&cg)?;
    let out = evaluate(
        ch,
        cx,
        circuit.circuit(),
        ArgmaxCircuit::INSTANCES,
        &bits,
        prep,
    )?;
    Ok(ClientStep::Class(circuit.decode_class(&out)?))
}

#[cfg(test)]
mod tests {
    use super::{label_frame, TableBuffers, GROUP};

    #[test]
    fn label_frames_hold_whole_instance_groups_of_about_2_mib() {
        for (inst, per) in [
            (65536usize, 20usize),
            (16384, 20),
            (100, 20),
            (1, 200),
            (1, 20_000),
            (3000, 1),
        ] {
            let bits = inst * per;
            let frame = label_frame(inst, bits);
            assert!(frame >= 1 && frame <= bits, "{inst}×{per}: {frame}");
            assert_eq!(frame % per, 0, "whole instances");
            let whole_groups = (frame / per).is_multiple_of(GROUP);
            assert!(whole_groups || frame == bits, "{inst}×{per}: {frame}");
            assert!(16 * frame <= (2 << 20) || frame / per == GROUP.min(inst));
        }
        // MiniONN-CIFAR's first ReLU layer: 10 frames of 6528 instances (2.0 MiB) and a tail.
        assert_eq!(label_frame(65536, 65536 * 20), 6528 * 20);
    }

    #[test]
    fn table_buffers_reuse_the_best_fit_and_keep_at_most_the_limit() {
        let mut pool = TableBuffers::new(2);
        let a = pool.take(1000);
        assert_eq!(a.capacity(), 0, "an empty pool hands out a new buffer");
        pool.give(Vec::with_capacity(100));
        pool.give(Vec::with_capacity(5000));
        pool.give(Vec::with_capacity(2000));
        // Over the limit: the smallest (100) went.
        let mut caps: Vec<usize> = pool.free.iter().map(Vec::capacity).collect();
        caps.sort_unstable();
        assert_eq!(caps, [2000, 5000]);
        // The smallest that fits; then the largest when none fits; a buffer comes with its
        // earlier contents (the receive overwrites them in place).
        let mut b = pool.take(1500);
        assert_eq!((b.capacity(), b.len()), (2000, 0));
        b.extend_from_slice(&[7; 1500]);
        pool.give(b);
        let c = pool.take(1 << 20);
        assert_eq!((c.capacity(), c.len()), (5000, 0));
        let d = pool.take(10);
        assert_eq!((d.capacity(), d.len()), (2000, 1500));
        assert!(pool.free.is_empty());
        // The server's input labels have their own buffers, kept the same way.
        pool.give_labels(Vec::with_capacity(10));
        pool.give_labels(Vec::with_capacity(40));
        pool.give_labels(Vec::with_capacity(20));
        let mut caps: Vec<usize> = pool.free_labels.iter().map(Vec::capacity).collect();
        caps.sort_unstable();
        assert_eq!(caps, [20, 40]);
        assert_eq!(pool.take_labels(15).capacity(), 20);
        assert!(pool.free.is_empty());
    }

    #[test]
    fn table_buffers_prefault_one_query_up_to_the_limit() {
        let mut pool = TableBuffers::new(2);
        pool.prefault([3000, 70_000, 500]);
        // Written through (mapped), at most the limit, each the size of its stage.
        let mut lens: Vec<usize> = pool.free.iter().map(Vec::len).collect();
        lens.sort_unstable();
        assert_eq!(lens, [3000, 70_000]);
        assert_eq!(pool.take(3000).len(), 3000);
        pool.prefault([10, 20]);
        assert_eq!(pool.free.len(), 2);
    }
}
