//! Tests of the extension: correlation for every `k`, message validation, the structural
//! privacy check of the sender's view.
use kernels::Block;

use super::ggm::chunk_of;
use super::msg::TAG_SEEDS;
use super::vole::xor_into;
use super::*;
use crate::ot::base::{BaseReceiverMsg, BaseSenderMsg};
use crate::ot::rng::OtRng;

pub(crate) fn rng(seed: u128) -> OtRng {
    OtRng::from_seed(Block::from_u128(seed)).unwrap()
}

/// Runs the setup in memory, through the byte encodings.
pub(crate) fn setup(params: ExtParams, delta: Block, seed: u128) -> (CotSender, CotReceiver) {
    let (mut rs, mut rr) = (rng(seed), rng(seed + 1));
    let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).unwrap();
    let a = BaseSenderMsg::from_bytes(&a.to_bytes()).unwrap();
    let (ssetup, b) = ExtSenderSetup::start(params, delta, &a, &mut rs).unwrap();
    let b = BaseReceiverMsg::from_bytes(&b.to_bytes(), BASE_OTS).unwrap();
    let (receiver, seeds) = rsetup.finish(&b, &mut rr).unwrap();
    let seeds = SeedMsg::from_bytes(&seeds.to_bytes(), params).unwrap();
    let sender = ssetup.finish(&seeds).unwrap();
    (sender, receiver)
}

fn delta() -> Block {
    Block::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3211)
}

pub(crate) fn check_cot(s: &SenderCots, r: &ReceiverCots) {
    assert_eq!(s.len(), r.len());
    assert_eq!(s.start(), r.start());
    let mut ones = 0;
    for j in 0..s.len() {
        let c = r.choice(j);
        ones += c as usize;
        let m0 = s.messages()[j];
        let m1 = m0 ^ s.delta();
        assert_eq!(r.messages()[j], if c { m1 } else { m0 }, "OT {j}");
    }
    if s.len() >= 1000 {
        let frac = ones as f64 / s.len() as f64;
        assert!((0.45..0.55).contains(&frac), "choice bits biased: {frac}");
    }
}

#[test]
fn cot_correlation_holds_for_every_k() {
    for params in [
        ExtParams::IKNP,
        ExtParams::SOFTSPOKEN_2,
        ExtParams::SOFTSPOKEN_4,
        ExtParams::SOFTSPOKEN_8,
    ] {
        let (mut s, mut r) = setup(params, delta(), 10);
        for n in [1usize, 127, 128, 129, 3000, SUB_BATCH + 1] {
            let (rc, msg) = r.extend(n).unwrap();
            let bytes = msg.to_bytes();
            assert_eq!(bytes.len(), ExtendMsg::len_for(params, n));
            let msg = ExtendMsg::from_bytes(&bytes, params, n).unwrap();
            let sc = s.extend(&msg).unwrap();
            check_cot(&sc, &rc);
            assert_eq!(sc.len(), n);
        }
    }
}

#[test]
fn cot_large_batch_within_four_bytes_per_ot() {
    // (10^6 OTs end to end over TCP: `io::tests::labels_over_tcp_loopback_million`.)
    let n = 200_000;
    let (mut s, mut r) = setup(ExtParams::default(), delta().with_lsb(true), 11);
    let (rc, msg) = r.extend(n).unwrap();
    let sc = s.extend(&msg).unwrap();
    check_cot(&sc, &rc);
    let bytes = msg.to_bytes().len() as f64 / n as f64;
    assert!(bytes <= 4.0, "{bytes} bytes per OT");
}

#[test]
fn extend_into_reuses_pools_across_sizes() {
    let (mut s, mut r) = setup(ExtParams::default(), delta(), 15);
    let (mut sp, mut rp) = (SenderCots::default(), ReceiverCots::default());
    let mut buf = Vec::new();
    for n in [5000usize, 130, 1, 9000] {
        let msg = r.extend_into(n, &mut rp, buf).unwrap();
        s.extend_into(&msg, &mut sp).unwrap();
        assert_eq!(rp.len(), n);
        check_cot(&sp, &rp);
        buf = msg.into_bytes();
    }
}

#[test]
fn random_ot_hashes_match() {
    let (mut s, mut r) = setup(ExtParams::default(), delta(), 12);
    let (rc, msg) = r.extend(300).unwrap();
    let sc = s.extend(&msg).unwrap();
    let pairs = sc.random_ot().unwrap();
    let got = rc.random_ot().unwrap();
    for j in 0..300 {
        let [m0, m1] = pairs[j];
        assert_eq!(got[j], if rc.choice(j) { m1 } else { m0 });
        assert_ne!(m0 ^ m1, sc.delta(), "hashed messages are not Δ-correlated");
    }
}

#[test]
fn extension_rejects_bad_messages() {
    let params = ExtParams::default();
    let (mut s, mut r) = setup(params, delta(), 13);
    let (_, msg) = r.extend(256).unwrap();
    let bytes = msg.to_bytes();
    // Truncated, extended, wrong tag, count over the limit or zero, wrong k.
    assert!(ExtendMsg::from_bytes(&bytes[..bytes.len() - 1], params, 256).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(ExtendMsg::from_bytes(&long, params, 256).is_err());
    let mut tag = bytes.clone();
    tag[0] = TAG_SEEDS;
    assert!(matches!(
        ExtendMsg::from_bytes(&tag, params, 256),
        Err(OtError::BadTag { .. })
    ));
    assert!(matches!(
        ExtendMsg::from_bytes(&bytes, params, 255),
        Err(OtError::BadCount { .. })
    ));
    let mut huge = bytes.clone();
    huge[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(ExtendMsg::from_bytes(&huge, params, usize::MAX).is_err());
    let mut zero = bytes.clone();
    zero[9..13].copy_from_slice(&0u32.to_le_bytes());
    assert!(ExtendMsg::from_bytes(&zero, params, 256).is_err());
    assert!(ExtendMsg::from_bytes(&bytes, ExtParams::IKNP, 256).is_err());
    assert!(ExtendMsg::from_bytes(&[], params, 256).is_err());
    // Out of step: a replayed or skipped message.
    let mut skipped = msg.clone();
    skipped.start = 256;
    assert!(matches!(s.extend(&skipped), Err(OtError::OutOfStep { .. })));
    let mut short = msg.clone();
    short.encoded.truncate(short.encoded.len() - 16);
    assert!(matches!(
        s.extend(&short),
        Err(OtError::CountMismatch { .. })
    ));
    s.extend(&msg).unwrap();
    assert!(matches!(s.extend(&msg), Err(OtError::OutOfStep { .. })));
    // Seed message of other parameters, truncated.
    let (_, mut rr) = (rng(1), rng(2));
    let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).unwrap();
    let (_, b) = ExtSenderSetup::start(params, delta(), &a, &mut rng(3)).unwrap();
    let (_, seeds) = rsetup.finish(&b, &mut rr).unwrap();
    let sb = seeds.to_bytes();
    assert!(SeedMsg::from_bytes(&sb, ExtParams::IKNP).is_err());
    assert!(SeedMsg::from_bytes(&sb[..sb.len() - 16], params).is_err());
    assert!(ExtSenderSetup::start(params, Block::ZERO, &a, &mut rng(3)).is_err());
    assert!(r.extend(0).is_err());
    assert!(r.extend(MAX_EXTEND + 1).is_err());
    assert!(ExtParams::new(3).is_err());
}

#[test]
fn sender_view_is_independent_of_receiver_choices() {
    // Structural check with fixed randomness: the sender never sees the PRG output of the
    // punctured leaf a_i of any chunk. Adding the same string δ to that output in every
    // chunk turns the receiver's choice vector r into r ⊕ δ (any vector at all), yet every
    // byte the sender receives (setup and extension) is unchanged, and the sender's q is
    // still correctly correlated with the new receiver. So the sender's view is the same
    // for every choice vector: it carries no information about the choices.
    let params = ExtParams::default();
    let d = delta();
    let n = 1000;
    let (mut s, mut r) = setup(params, d, 14);
    let (_, mut r2) = setup(params, d, 14);
    let (rc, msg) = r.extend(n).unwrap();
    let mut offsets = vec![Block::ZERO; padded(n) / 128];
    rng(99).fill_blocks(&mut offsets);
    let hook = |i: usize, x: usize, first: usize, buf: &mut [Block]| {
        if x == chunk_of(d, params, i) {
            xor_into(buf, &offsets[first..first + buf.len()]);
        }
    };
    let mut rc2 = ReceiverCots::default();
    let msg2 = r2
        .extend_hooked(n, Some(&hook), &mut rc2, Vec::new())
        .unwrap();
    assert_eq!(msg.to_bytes(), msg2.to_bytes(), "sender's view changed");
    let sc = s.extend(&msg).unwrap();
    check_cot(&sc, &rc);
    check_cot(&sc, &rc2);
    for j in 0..n {
        let flip = (offsets[j / 128].to_u128() >> (j % 128)) & 1 == 1;
        assert_eq!(rc2.choice(j), rc.choice(j) ^ flip);
    }
}
