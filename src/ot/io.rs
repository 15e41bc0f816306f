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
    let params = sender.params();
    check_extend_count(n)?;
    let msg = ExtendMsg::from_bytes(&ch.recv(ExtendMsg::len_for(params, n))?, params, n)?;
    if msg.n as usize != n {
        return Err(super::OtError::CountMismatch {
            what: "OT-extension message",
            expected: n,
            got: msg.n as usize,
        });
    }
    sender.extend(&msg)
}

/// Offline: the receiver's side of extending `n` random correlated OTs.
pub fn extend_receiver<C: Channel>(
    ch: &mut C,
    receiver: &mut CotReceiver,
    n: usize,
) -> Result<ReceiverCots> {
    let (cots, msg) = receiver.extend(n)?;
    ch.send(&msg.to_bytes())?;
    ch.flush()?;
    Ok(cots)
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
    ch.send(&answer.to_bytes())?;
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
    let answer = LabelMsg::from_bytes(&ch.recv(13 + 16 * choices.len())?, &pending)?;
    pending.finish(answer)
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
        let zero_s = zero.clone();
        let sender = thread::spawn(move || -> Result<()> {
            let mut r = OtRng::from_entropy()?;
            let mut s = setup_sender(&mut cs, params, delta, &mut r)?;
            let mut pool = extend_sender(&mut cs, &mut s, n)?;
            send_labels(&mut cs, &mut pool, &zero_s)
        });
        let mut r = OtRng::from_entropy().unwrap();
        let mut recv = setup_receiver(&mut cr, params, &mut r).unwrap();
        let mut pool = extend_receiver(&mut cr, &mut recv, n).unwrap();
        let labels = receive_labels(&mut cr, &mut pool, &choices).unwrap();
        sender.join().unwrap().unwrap();
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
