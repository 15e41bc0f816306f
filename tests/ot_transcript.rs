//! The OT wire bytes, pinned: a deterministic transcript (seeded setup, extensions of
//! several sizes for every `k`, online labels at unaligned pool positions and chosen messages,
//! every message and every output) hashed with SHA-256. A refactor that keeps the wire bytes
//! keeps the hash; a deliberate wire change updates it (and the protocol version).
use gazelle::ot::ext::{ExtReceiverSetup, ExtSenderSetup, ExtendMsg, SeedMsg};
use gazelle::ot::{ChoiceMsg, ChosenMsg, ExtParams, LabelMsg, OtRng};
use kernels::Block;
use sha2::{Digest, Sha256};

fn rng(seed: u128) -> OtRng {
    OtRng::from_seed(Block::from_u128(seed)).unwrap()
}

/// SHA-256 of the transcript. It was b890c38f…620ee1 at 998fc2c and after the codec refactor;
/// it changed once, deliberately, when the GGM PRG and the OT hash got their own tweak domains
/// (`ot::GGM_TWEAK_DOMAIN`, `ot::OT_TWEAK_DOMAIN`; protocol version 2). Same length.
const EXPECTED: &str = "0ea638bcd9bbfb5a6f6e7954c52d1c71d597be2ffe903c62cbdf1205407e3a7e";
/// Its length in bytes.
const EXPECTED_LEN: usize = 1_583_204;

#[test]
fn transcript_is_unchanged() {
    let mut h = Sha256::new();
    let mut total = 0usize;
    let mut put = |b: &[u8]| {
        total += b.len();
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    for (pi, params) in [
        ExtParams::IKNP,
        ExtParams::SOFTSPOKEN_2,
        ExtParams::SOFTSPOKEN_4,
        ExtParams::SOFTSPOKEN_8,
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 100 * pi as u128;
        let (mut rs, mut rr) = (rng(seed + 1), rng(seed + 2));
        let delta = rng(seed + 3).block().with_lsb(true);
        let (rsetup, a) = ExtReceiverSetup::start(params, &mut rr).unwrap();
        put(&a.to_bytes());
        let (ssetup, b) = ExtSenderSetup::start(params, delta, &a, &mut rs).unwrap();
        put(&b.to_bytes());
        let (mut recv, seeds) = rsetup.finish(&b, &mut rr).unwrap();
        put(&seeds.to_bytes());
        let seeds = SeedMsg::from_bytes(&seeds.to_bytes(), params).unwrap();
        let mut send = ssetup.finish(&seeds).unwrap();
        for n in [1usize, 7, 8, 9, 300, 8193] {
            let (mut rc, msg) = recv.extend(n).unwrap();
            put(msg.as_bytes());
            let msg = ExtendMsg::from_bytes(&msg.to_bytes(), params, n).unwrap();
            let mut sc = send.extend(&msg).unwrap();
            let mut zero = vec![Block::ZERO; n];
            rng(seed + 4 + n as u128).fill_blocks(&mut zero);
            let mut cb = vec![0u8; n];
            rng(seed + 5 + n as u128).fill_bytes(&mut cb);
            let choices: Vec<bool> = cb.iter().map(|b| b & 1 == 1).collect();
            // Online in parts of odd sizes (unaligned pool positions), then chosen messages.
            let a = n / 3;
            let b = (2 * n) / 3;
            for (lo, hi) in [(0, a), (a, b)] {
                if lo == hi {
                    continue;
                }
                let (cm, pending) = rc.choose_labels(&choices[lo..hi]).unwrap();
                put(&cm.to_bytes());
                let cm = ChoiceMsg::from_bytes(&cm.to_bytes(), hi - lo).unwrap();
                let lm = sc.send_labels(&zero[lo..hi], &cm).unwrap();
                put(lm.as_bytes());
                let lm = LabelMsg::from_bytes(&lm.to_bytes(), &pending).unwrap();
                for l in pending.finish(&lm).unwrap() {
                    put(l.as_bytes());
                }
            }
            let pairs: Vec<[Block; 2]> = zero[b..].iter().map(|&z| [z, z ^ Block::ONE]).collect();
            let (cm, pending) = rc.choose_messages(&choices[b..]).unwrap();
            put(&cm.to_bytes());
            let cm = ChoiceMsg::from_bytes(&cm.to_bytes(), n - b).unwrap();
            let zm = sc.send_messages(&pairs, &cm).unwrap();
            put(&zm.to_bytes());
            let zm = ChosenMsg::from_bytes(&zm.to_bytes(), &pending).unwrap();
            for l in pending.finish(&zm).unwrap() {
                put(l.as_bytes());
            }
        }
    }
    let got = format!("{:x}", h.finalize());
    assert_eq!(
        (total, got.as_str()),
        (EXPECTED_LEN, EXPECTED),
        "OT wire bytes changed"
    );
}
