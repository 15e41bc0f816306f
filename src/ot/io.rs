//! Blocking drivers of the OT cores over a [`Channel`]: each function sends and receives the
//! typed messages of one step, with every receive bounded by the exact size the step expects.
//!
//! Roles: the *sender* is the garbler (holds `Δ`), the *receiver* the evaluator.
//! ```text
//! receiver                         sender
//! setup_receiver ── A ───────────▶ setup_sender
//!                ◀─ B_1..B_128 ──
//!                ── seeds ───────▶
//! extend_receiver ─ corrections ─▶ extend_sender           (offline, any number of times)
//! receive_labels ── d = b ⊕ r ───▶ send_labels             (online)
//!                ◀─ y = w0 ⊕ q ⊕ dΔ
//! ```
use kernels::Block;

use super::base::{BaseReceiverMsg, BaseSenderMsg};
use super::ext::{
    check_extend_count, CotReceiver, CotSender, ExtParams, ExtReceiverSetup, ExtSenderSetup,
    ExtendMsg, ReceiverCots, SeedMsg, SenderCots, BASE_OTS,
};
use super::online::{ChoiceMsg, ChosenMsg, LabelMsg};
use super::rng::OtRng;
use super::Result;
use crate::channel::Channel;

/// Setup of the OT-extension sender with correlation `delta` (the garbler's free-XOR `Δ`).
pub fn setup_sender<C: Channel>(
    ch: &mut C,
    params: ExtParams,
    delta: Block,
    rng: &mut OtRng,
) -> Result<CotSender> {
    let a = BaseSenderMsg::from_bytes(&ch.recv(BaseSenderMsg::LEN)?)?;
    let (state, reply) = ExtSenderSetup::start(params, delta, &a, rng)?;
    ch.send(&reply.to_bytes())?;
    ch.flush()?;
    let seeds = SeedMsg::from_bytes(&ch.recv(2 + 32 * BASE_OTS)?, params)?;
    state.finish(&seeds)
}

/// Setup of the OT-extension receiver.
pub fn setup_receiver<C: Channel>(
    ch: &mut C,
    params: ExtParams,
    rng: &mut OtRng,
) -> Result<CotReceiver> {
    let (state, a) = ExtReceiverSetup::start(params, rng)?;
    ch.send(&a.to_bytes())?;
    ch.flush()?;
    let b = BaseReceiverMsg::from_bytes(&ch.recv(BaseReceiverMsg::len_for(BASE_OTS))?, BASE_OTS)?;
    let (receiver, seeds) = state.finish(&b, rng)?;
    ch.send(&seeds.to_bytes())?;
    ch.flush()?;
    Ok(receiver)
}

/// Offline: the sender's side of extending `n` random correlated OTs.
pub fn extend_sender<C: Channel>(
    ch: &mut C,
    sender: &mut CotSender,
    n: usize,
) -> Result<SenderCots> {
    let mut pool = SenderCots::default();
    extend_sender_into(ch, sender, n, &mut pool, &mut IoBuffers::default())?;
    Ok(pool)
}

/// [`extend_sender`] into an existing pool (its old OTs overwritten, its memory reused),
/// receiving into `bufs`.
pub fn extend_sender_into<C: Channel>(
    ch: &mut C,
    sender: &mut CotSender,
    n: usize,
    pool: &mut SenderCots,
    bufs: &mut IoBuffers,
) -> Result<()> {
    let params = sender.params();
    check_extend_count(n)?;
    ch.recv_into(ExtendMsg::len_for(params, n), &mut bufs.frame)?;
    let msg = ExtendMsg::from_vec(std::mem::take(&mut bufs.frame), params, n)?;
    if msg.n() != n {
        return Err(super::OtError::CountMismatch {
            what: "OT-extension message",
            expected: n,
            got: msg.n(),
        });
    }
    let r = sender.extend_into(&msg, pool);
    bufs.frame = msg.into_bytes();
    r
}

/// Offline: the receiver's side of extending `n` random correlated OTs.
pub fn extend_receiver<C: Channel>(
    ch: &mut C,
    receiver: &mut CotReceiver,
    n: usize,
) -> Result<ReceiverCots> {
    let mut pool = ReceiverCots::default();
    extend_receiver_into(ch, receiver, n, &mut pool, &mut IoBuffers::default())?;
    Ok(pool)
}

/// [`extend_receiver`] into an existing pool (its old OTs overwritten, its memory reused),
/// encoding into `bufs`.
pub fn extend_receiver_into<C: Channel>(
    ch: &mut C,
    receiver: &mut CotReceiver,
    n: usize,
    pool: &mut ReceiverCots,
    bufs: &mut IoBuffers,
) -> Result<()> {
    let msg = receiver.extend_into(n, pool, std::mem::take(&mut bufs.frame))?;
    ch.send(msg.as_bytes())?;
    ch.flush()?;
    bufs.frame = msg.into_bytes();
    Ok(())
}

/// Online: the sender transfers `w0_j` or `w0_j ⊕ Δ` for each zero label, as the receiver chose.
pub fn send_labels<C: Channel>(
    ch: &mut C,
    pool: &mut SenderCots,
    zero_labels: &[Block],
) -> Result<()> {
    let n = zero_labels.len();
    let msg = ChoiceMsg::from_bytes(&ch.recv(ChoiceMsg::len_for(n))?, n)?;
    let answer = pool.send_labels(zero_labels, &msg)?;
    ch.send(answer.as_bytes())?;
    ch.flush()?;
    Ok(())
}

/// Online: the receiver obtains the labels of its `choices`.
pub fn receive_labels<C: Channel>(
    ch: &mut C,
    pool: &mut ReceiverCots,
    choices: &[bool],
) -> Result<Vec<Block>> {
    let (msg, pending) = pool.choose_labels(choices)?;
    ch.send(&msg.to_bytes())?;
    ch.flush()?;
    let answer = LabelMsg::from_vec(ch.recv(13 + 16 * choices.len())?, &pending)?;
    pending.finish(&answer)
}

/// Message buffers the `_into` / `_with` drivers reuse from one call to the next, so that a
/// steady-state offline or online phase touches no fresh memory.
#[derive(Debug, Default)]
pub struct IoBuffers {
    frame: Vec<u8>,
}

/// [`send_labels`] reusing `bufs`.
pub fn send_labels_with<C: Channel>(
    ch: &mut C,
    pool: &mut SenderCots,
    zero_labels: &[Block],
    bufs: &mut IoBuffers,
) -> Result<()> {
    let n = zero_labels.len();
    ch.recv_into(ChoiceMsg::len_for(n), &mut bufs.frame)?;
    let msg = ChoiceMsg::from_bytes(&bufs.frame, n)?;
    let answer = pool.send_labels_reusing(zero_labels, &msg, std::mem::take(&mut bufs.frame))?;
    ch.send(answer.as_bytes())?;
    ch.flush()?;
    bufs.frame = answer.into_bytes();
    Ok(())
}

/// [`receive_labels`] into `labels` (replaced), reusing `bufs`.
pub fn receive_labels_into<C: Channel>(
    ch: &mut C,
    pool: &mut ReceiverCots,
    choices: &[bool],
    bufs: &mut IoBuffers,
    labels: &mut Vec<Block>,
) -> Result<()> {
    let (msg, pending) = pool.choose_labels_reusing(choices, std::mem::take(labels))?;
    ch.send(&msg.to_bytes())?;
    ch.flush()?;
    ch.recv_into(13 + 16 * choices.len(), &mut bufs.frame)?;
    let answer = LabelMsg::from_vec(std::mem::take(&mut bufs.frame), &pending)?;
    *labels = pending.finish(&answer)?;
    bufs.frame = answer.into_bytes();
    Ok(())
}

/// Online, in frames: [`send_labels_with`] with the answer cut into frames of at most
/// `chunk` labels, each flushed as soon as it is made, so that the receiver can use the
/// first labels while the rest are on the way ([`receive_labels_chunked`], same `chunk`).
pub fn send_labels_chunked<C: Channel>(
    ch: &mut C,
    pool: &mut SenderCots,
    zero_labels: &[Block],
    chunk: usize,
    bufs: &mut IoBuffers,
) -> Result<()> {
    let n = zero_labels.len();
    ch.recv_into(ChoiceMsg::len_for(n), &mut bufs.frame)?;
    let msg = ChoiceMsg::from_bytes(&bufs.frame, n)?;
    let mut frame = std::mem::take(&mut bufs.frame);
    let r = pool.send_labels_chunked(zero_labels, &msg, chunk, &mut frame, |f| {
        ch.send(f)?;
        ch.flush()?;
        Ok::<(), super::OtError>(())
    });
    bufs.frame = frame;
    r
}

/// [`send_labels_chunked`] with the zero labels folded into the pool
/// ([`super::SenderCots::fold_labels`]).
pub fn send_folded_labels_chunked<C: Channel>(
    ch: &mut C,
    labels: &mut super::FoldedLabels,
    chunk: usize,
    bufs: &mut IoBuffers,
) -> Result<()> {
    let n = labels.len();
    ch.recv_into(ChoiceMsg::len_for(n), &mut bufs.frame)?;
    let msg = ChoiceMsg::from_bytes(&bufs.frame, n)?;
    let mut frame = std::mem::take(&mut bufs.frame);
    let r = labels.send_labels_chunked(&msg, chunk, &mut frame, |f| {
        ch.send(f)?;
        ch.flush()?;
        Ok::<(), super::OtError>(())
    });
    bufs.frame = frame;
    r
}

/// Online, in frames: the receiver's side of [`send_labels_chunked`]. Writes the labels of
/// `choices` into `out` (as long as `choices`) frame by frame, and after each frame calls
/// `ready` with its range and its labels, which stay valid while the next frames arrive. The
/// pending state's memory is `pending_buf` (kept for the next call; wiped).
pub fn receive_labels_chunked<'a, C: Channel, E: From<super::OtError>>(
    ch: &mut C,
    pool: &mut ReceiverCots,
    choices: &[bool],
    chunk: usize,
    (bufs, pending_buf): (&mut IoBuffers, &mut Vec<Block>),
    out: &'a mut [Block],
    mut ready: impl FnMut(std::ops::Range<usize>, &'a [Block]) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let n = choices.len();
    if chunk == 0 {
        return Err(super::OtError::BadCount {
            what: "labels per frame",
            n: chunk,
            max: n,
        }
        .into());
    }
    if out.len() != n {
        return Err(super::OtError::CountMismatch {
            what: "OT label buffer",
            expected: n,
            got: out.len(),
        }
        .into());
    }
    let (msg, pending) = pool.choose_labels_reusing(choices, std::mem::take(pending_buf))?;
    let send = |ch: &mut C| -> Result<()> {
        ch.send(&msg.to_bytes())?;
        ch.flush()?;
        Ok(())
    };
    let mut result = send(ch).map_err(E::from);
    let mut rest = out;
    let mut off = 0;
    while result.is_ok() && off < n {
        let len = chunk.min(n - off);
        let (now, later) = std::mem::take(&mut rest).split_at_mut(len);
        rest = later;
        result = ch
            .recv_into(LabelMsg::len_for(len), &mut bufs.frame)
            .map_err(super::OtError::from)
            .and_then(|()| pending.finish_chunk(off, &bufs.frame, now))
            .map_err(E::from)
            .and_then(|()| ready(off..off + len, now));
        off += len;
    }
    *pending_buf = pending.into_buffer();
    result
}

/// Online, a rehearsal's [`receive_labels_chunked`]: sends `msg` (from
/// [`ReceiverCots::choose_blind`]) and receives the sender's answer in frames of `chunk`
/// labels, each checked and dropped.
pub fn receive_labels_blind<C: Channel>(
    ch: &mut C,
    msg: &ChoiceMsg,
    chunk: usize,
    bufs: &mut IoBuffers,
) -> Result<()> {
    let n = msg.n as usize;
    if chunk == 0 {
        return Err(super::OtError::BadCount {
            what: "labels per frame",
            n: chunk,
            max: n,
        });
    }
    ch.send(&msg.to_bytes())?;
    ch.flush()?;
    let mut off = 0;
    while off < n {
        let len = chunk.min(n - off);
        ch.recv_into(LabelMsg::len_for(len), &mut bufs.frame)?;
        msg.check_label_frame(off, len, &bufs.frame)?;
        off += len;
    }
    Ok(())
}

/// Online: the sender transfers one of each pair of arbitrary messages.
pub fn send_messages<C: Channel>(
    ch: &mut C,
    pool: &mut SenderCots,
    pairs: &[[Block; 2]],
) -> Result<()> {
    let n = pairs.len();
    let msg = ChoiceMsg::from_bytes(&ch.recv(ChoiceMsg::len_for(n))?, n)?;
    let answer = pool.send_messages(pairs, &msg)?;
    ch.send(&answer.to_bytes())?;
    ch.flush()?;
    Ok(())
}

/// Online: the receiver obtains `x_{j, b_j}` for its `choices`.
pub fn receive_messages<C: Channel>(
    ch: &mut C,
    pool: &mut ReceiverCots,
    choices: &[bool],
) -> Result<Vec<Block>> {
    let (msg, pending) = pool.choose_messages(choices)?;
    ch.send(&msg.to_bytes())?;
    ch.flush()?;
    let answer = ChosenMsg::from_bytes(&ch.recv(13 + 32 * choices.len())?, &pending)?;
    pending.finish(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{MemChannel, TcpChannel};
    use crate::ot::OtError;
    use std::thread;

    fn rng(seed: u128) -> OtRng {
        OtRng::from_seed(Block::from_u128(seed)).unwrap()
    }

    /// Setup, offline extension of `n`, online labels for all of them, over any channel pair.
    fn run<C: Channel + Send + 'static>(mut cs: C, mut cr: C, params: ExtParams, n: usize) {
        let delta = rng(1).block().with_lsb(true);
        let mut zero = vec![Block::ZERO; n];
        rng(2).fill_blocks(&mut zero);
        let mut bits = vec![0u8; n];
        rng(3).fill_bytes(&mut bits);
        let choices: Vec<bool> = bits.iter().map(|b| b & 1 == 1).collect();
        // Online in up to three calls: allocating drivers, then buffer-reusing ones twice.
        let h = n / 2;
        let parts: Vec<(usize, usize)> = [(0, h), (h, h + (n - h) / 2), (h + (n - h) / 2, n)]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect();
        let (zero_s, parts_s) = (zero.clone(), parts.clone());
        let sender = thread::spawn(move || -> Result<()> {
            let mut r = OtRng::from_entropy()?;
            let mut s = setup_sender(&mut cs, params, delta, &mut r)?;
            let mut pool = extend_sender(&mut cs, &mut s, n)?;
            let mut bufs = IoBuffers::default();
            for (i, &(a, b)) in parts_s.iter().enumerate() {
                if i == 0 {
                    send_labels(&mut cs, &mut pool, &zero_s[a..b])?;
                } else {
                    send_labels_with(&mut cs, &mut pool, &zero_s[a..b], &mut bufs)?;
                }
            }
            Ok(())
        });
        let mut r = OtRng::from_entropy().unwrap();
        let mut recv = setup_receiver(&mut cr, params, &mut r).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, n).unwrap();
        let mut labels = Vec::new();
        let mut bufs = IoBuffers::default();
        let mut part = Vec::new();
        for (i, &(a, b)) in parts.iter().enumerate() {
            if i == 0 {
                part = receive_labels(&mut cr, &mut pool, &choices[a..b]).unwrap();
            } else {
                receive_labels_into(&mut cr, &mut pool, &choices[a..b], &mut bufs, &mut part)
                    .unwrap();
            }
            labels.extend_from_slice(&part);
        }
        sender.join().unwrap().unwrap();
        assert_eq!(labels.len(), n);
        for j in 0..n {
            let want = if choices[j] { zero[j] ^ delta } else { zero[j] };
            assert_eq!(labels[j], want, "OT {j}");
        }
    }

    #[test]
    fn labels_over_mem_channel_counts() {
        for n in [1usize, 2, 10, 1000] {
            let (a, b) = MemChannel::pair();
            run(a, b, ExtParams::default(), n);
        }
        let (a, b) = MemChannel::pair();
        run(a, b, ExtParams::IKNP, 333);
    }

    #[test]
    fn labels_over_tcp_loopback_million() {
        let (a, b) = TcpChannel::loopback_pair().unwrap();
        run(a, b, ExtParams::default(), 1_000_000);
    }

    #[test]
    fn chunked_labels_arrive_frame_by_frame() {
        let (mut cs, mut cr) = TcpChannel::loopback_pair().unwrap();
        let (n, chunk) = (10_000usize, 1280usize);
        let delta = rng(7).block().with_lsb(true);
        let mut zero = vec![Block::ZERO; n];
        rng(8).fill_blocks(&mut zero);
        let choices: Vec<bool> = (0..n).map(|j| j % 3 == 1).collect();
        let zs = zero.clone();
        let sender = thread::spawn(move || -> Result<()> {
            let mut s = setup_sender(&mut cs, ExtParams::default(), delta, &mut rng(9))?;
            let mut pool = extend_sender(&mut cs, &mut s, n)?;
            let mut bufs = IoBuffers::default();
            send_labels_chunked(&mut cs, &mut pool, &zs[..n / 2], chunk, &mut bufs)?;
            // The second half with its zero labels folded into the pool: as many as remain.
            let mut second = zs[n / 2..].to_vec();
            let mut folded = pool.fold_labels(&mut second)?;
            assert!(second.iter().all(|b| *b == Block::ZERO), "labels wiped");
            assert_eq!(folded.len(), n / 2);
            send_folded_labels_chunked(&mut cs, &mut folded, chunk, &mut bufs)?;
            assert!(folded.is_empty());
            Ok(())
        });
        let mut recv = setup_receiver(&mut cr, ExtParams::default(), &mut rng(10)).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, n).unwrap();
        let (mut bufs, mut pending) = (IoBuffers::default(), Vec::new());
        let mut labels = vec![Block::ZERO; n];
        let (first, second) = labels.split_at_mut(n / 2);
        for (half, out) in [(0..n / 2, first), (n / 2..n, second)] {
            let mut seen = Vec::new();
            receive_labels_chunked::<_, OtError>(
                &mut cr,
                &mut pool,
                &choices[half.clone()],
                chunk,
                (&mut bufs, &mut pending),
                out,
                |range, got| {
                    assert_eq!(got.len(), range.len());
                    seen.push(range);
                    Ok(())
                },
            )
            .unwrap();
            let want: Vec<_> = (0..(n / 2).div_ceil(chunk))
                .map(|k| k * chunk..((k + 1) * chunk).min(n / 2))
                .collect();
            assert_eq!(seen, want);
        }
        sender.join().unwrap().unwrap();
        for j in 0..n {
            assert_eq!(labels[j], zero[j] ^ delta.and_bit(choices[j]), "OT {j}");
        }
        assert!(
            pending.iter().all(|b| *b == Block::ZERO),
            "pending state wiped"
        );
    }

    #[test]
    fn blind_receiver_checks_the_frames_and_keeps_the_pool_in_step() {
        // Two transfers from one pool: the first blind, the second decoded; then a sender
        // whose frames are of another size than agreed.
        let (mut cs, mut cr) = MemChannel::pair();
        let (n, chunk) = (1000usize, 128usize);
        let delta = rng(20).block().with_lsb(true);
        let zero = vec![Block::from_u128(5); 2 * n];
        let zs = zero.clone();
        let sender = thread::spawn(move || -> Result<()> {
            let mut s = setup_sender(&mut cs, ExtParams::default(), delta, &mut rng(21))?;
            let mut pool = extend_sender(&mut cs, &mut s, 3 * n)?;
            let mut bufs = IoBuffers::default();
            send_labels_chunked(&mut cs, &mut pool, &zs[..n], chunk, &mut bufs)?;
            send_labels_chunked(&mut cs, &mut pool, &zs[n..], chunk, &mut bufs)?;
            send_labels_chunked(&mut cs, &mut pool, &zs[..n], chunk + 1, &mut bufs)
        });
        let mut recv = setup_receiver(&mut cr, ExtParams::default(), &mut rng(22)).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, 3 * n).unwrap();
        let mut bufs = IoBuffers::default();
        let blind = pool.choose_blind(n).unwrap();
        assert_eq!(blind.start, 0);
        receive_labels_blind(&mut cr, &blind, chunk, &mut bufs).unwrap();
        let choices: Vec<bool> = (0..n).map(|j| j % 5 == 2).collect();
        let mut labels = vec![Block::ZERO; n];
        receive_labels_chunked::<_, OtError>(
            &mut cr,
            &mut pool,
            &choices,
            chunk,
            (&mut bufs, &mut Vec::new()),
            &mut labels,
            |_, _| Ok(()),
        )
        .unwrap();
        for j in 0..n {
            assert_eq!(labels[j], zero[n + j] ^ delta.and_bit(choices[j]), "OT {j}");
        }
        let blind = pool.choose_blind(n).unwrap();
        assert_eq!(blind.start, 2 * n as u64);
        let r = receive_labels_blind(&mut cr, &blind, chunk, &mut bufs);
        // Too long a frame, refused by the channel before it is read.
        assert!(matches!(r, Err(OtError::Channel(_))), "{r:?}");
        assert!(pool.choose_blind(1).is_err(), "the pool is spent");
        drop(cr);
        let _ = sender.join().unwrap();
    }

    #[test]
    fn folding_needs_one_label_per_remaining_ot() {
        let mut one = vec![Block::ONE];
        assert!(crate::ot::SenderCots::default()
            .fold_labels(&mut one)
            .is_err());
        assert_eq!(one, [Block::ZERO], "wiped when refused");
        assert!(crate::ot::SenderCots::default()
            .fold_labels(&mut [])
            .is_ok());
    }

    #[test]
    fn chunked_labels_from_a_broken_sender_fail_and_stop() {
        // The sender answers in frames of another size than agreed: the receiver reports a
        // typed error and calls back for no frame it could not check.
        let (mut cs, mut cr) = MemChannel::pair();
        let n = 300;
        let t = thread::spawn(move || -> Result<()> {
            let mut s = setup_sender(&mut cs, ExtParams::default(), Block::ONE, &mut rng(14))?;
            let mut pool = extend_sender(&mut cs, &mut s, n)?;
            send_labels_chunked(
                &mut cs,
                &mut pool,
                &vec![Block::ONE; n],
                100,
                &mut IoBuffers::default(),
            )
        });
        let mut recv = setup_receiver(&mut cr, ExtParams::default(), &mut rng(15)).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, n).unwrap();
        let mut out = vec![Block::ZERO; n];
        let mut calls = 0;
        let r = receive_labels_chunked::<_, OtError>(
            &mut cr,
            &mut pool,
            &[false; 300],
            128,
            (&mut IoBuffers::default(), &mut Vec::new()),
            &mut out,
            |_, _| {
                calls += 1;
                Ok(())
            },
        );
        assert!(r.is_err(), "{r:?}");
        assert_eq!(calls, 0);
        drop(cr);
        let _ = t.join().unwrap();
    }

    #[test]
    fn chosen_messages_over_tcp() {
        let (mut cs, mut cr) = TcpChannel::loopback_pair().unwrap();
        let n = 200;
        let mut flat = vec![Block::ZERO; 2 * n];
        rng(4).fill_blocks(&mut flat);
        let pairs: Vec<[Block; 2]> = flat.chunks(2).map(|c| [c[0], c[1]]).collect();
        let ps = pairs.clone();
        let sender = thread::spawn(move || -> Result<()> {
            let mut r = rng(5);
            let mut s = setup_sender(&mut cs, ExtParams::default(), Block::ONE, &mut r)?;
            let mut pool = extend_sender(&mut cs, &mut s, n)?;
            send_messages(&mut cs, &mut pool, &ps)
        });
        let mut r = rng(6);
        let mut recv = setup_receiver(&mut cr, ExtParams::default(), &mut r).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, n).unwrap();
        let choices: Vec<bool> = (0..n).map(|j| j.is_multiple_of(3)).collect();
        let got = receive_messages(&mut cr, &mut pool, &choices).unwrap();
        sender.join().unwrap().unwrap();
        for j in 0..n {
            assert_eq!(got[j], pairs[j][choices[j] as usize]);
        }
    }

    #[test]
    fn broken_peer_in_extension_and_online_gets_typed_errors() {
        // A receiver that, after an honest setup, sends a short extension frame, then one for
        // more OTs than asked, then an oversized online answer; the other side errors each time.
        let (mut cs, mut cr) = MemChannel::pair();
        let params = ExtParams::default();
        let t = thread::spawn(move || -> Result<()> {
            let mut r = setup_receiver(&mut cr, params, &mut rng(11))?;
            let (_, msg) = r.extend(256)?;
            let bytes = msg.to_bytes();
            cr.send(&bytes[..bytes.len() - 1])?;
            let (_, big) = r.extend(512)?;
            cr.send(&big.to_bytes())?;
            Ok(())
        });
        let mut s = setup_sender(&mut cs, params, Block::ONE, &mut rng(12)).unwrap();
        assert!(matches!(
            extend_sender(&mut cs, &mut s, 256),
            Err(OtError::BadLength { .. })
        ));
        assert!(matches!(
            extend_sender(&mut cs, &mut s, 256),
            Err(OtError::Channel(_))
        ));
        t.join().unwrap().unwrap();

        // Online: the sender answers with a frame longer than the labels asked for.
        let (mut cs, mut cr) = MemChannel::pair();
        let t = thread::spawn(move || -> Result<()> {
            let mut s = setup_sender(&mut cs, params, Block::ONE, &mut rng(13))?;
            let _pool = extend_sender(&mut cs, &mut s, 10)?;
            let _choice = cs.recv(1 << 10)?;
            cs.send(&[0x22; 13 + 16 * 11])?;
            Ok(())
        });
        let mut r = setup_receiver(&mut cr, params, &mut rng(14)).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut r, 10).unwrap();
        assert!(matches!(
            receive_labels(&mut cr, &mut pool, &[true; 10]),
            Err(OtError::Channel(_))
        ));
        t.join().unwrap().unwrap();
    }

    #[test]
    fn broken_peer_gets_typed_errors() {
        // A peer that sends garbage, an oversized frame, or hangs up.
        let (mut a, mut b) = MemChannel::pair();
        b.send(&[0x01; 5]).unwrap();
        assert!(matches!(
            setup_sender(&mut a, ExtParams::default(), Block::ONE, &mut rng(7)),
            Err(OtError::Truncated { .. }) | Err(OtError::BadLength { .. })
        ));
        b.send(&vec![0u8; 1 << 20]).unwrap();
        assert!(matches!(
            setup_sender(&mut a, ExtParams::default(), Block::ONE, &mut rng(7)),
            Err(OtError::Channel(_))
        ));
        drop(b);
        assert!(matches!(
            setup_receiver(&mut a, ExtParams::default(), &mut rng(8)),
            Err(OtError::Channel(_))
        ));
        // A receiver that asks for other parameters than the sender runs.
        let (mut cs, mut cr) = MemChannel::pair();
        let t = thread::spawn(move || {
            setup_receiver(&mut cr, ExtParams::IKNP, &mut rng(9)).map(|_| ())
        });
        let r = setup_sender(&mut cs, ExtParams::default(), Block::ONE, &mut rng(10));
        assert!(matches!(
            r,
            Err(OtError::Channel(_)) | Err(OtError::BadParams(_))
        ));
        let _ = t.join();
    }
}
