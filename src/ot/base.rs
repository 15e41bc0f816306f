//! Base OT: Chou–Orlandi "simplest OT" (Latincrypt 2015, eprint 2015/267) over Ristretto255,
//! random-message 1-out-of-2 OT, `n` at once (128 for OT extension).
//!
//! * Sender: `a ← Z_ℓ`, sends `A = a·G`.
//! * Receiver, for each `i` with choice `c_i`: `b_i ← Z_ℓ`, sends `B_i = b_i·G + c_i·A`, and
//!   outputs `k_i = H(i, A, B_i, b_i·A)`.
//! * Sender outputs `k_{i,0} = H(i, A, B_i, a·B_i)` and `k_{i,1} = H(i, A, B_i, a·(B_i − A))`.
//!
//! `B_i` is a uniformly random group element whatever `c_i` is (perfectly hiding: `b·G` and
//! `b·G + A` have the same distribution), so the sender learns nothing about the choices; the
//! receiver, knowing `b_i` but not `a`, can compute only one of the two keys (CDH in the random
//! oracle model; semi-honest security). `H` is SHA-256 under the domain-separation label
//! [`DOMAIN`], binding the OT index, both protocol messages and the Diffie–Hellman point,
//! truncated to 128 bits. Points are validated on receipt: a non-canonical encoding or the
//! identity is rejected with a typed error.
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use kernels::Block;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable};
use zeroize::Zeroize;

use super::rng::OtRng;
use super::{OtError, Result};
use crate::codec::{CodecError, Reader, Writer};

/// Domain-separation label of the base-OT hash.
pub const DOMAIN: &[u8] = b"gazelle-rs/ot/base/chou-orlandi-ristretto255/v1";

/// Largest number of base OTs in one batch (bounds every allocation driven by a peer).
pub const MAX_BASE_OTS: usize = 4096;

const TAG_SENDER: u8 = 0x01;
const TAG_RECEIVER: u8 = 0x02;

fn random_scalar(rng: &mut OtRng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    s
}

fn hash_point(
    i: usize,
    a: &CompressedRistretto,
    b: &CompressedRistretto,
    p: &RistrettoPoint,
) -> Block {
    let mut h = Sha256::new();
    h.update((DOMAIN.len() as u64).to_le_bytes());
    h.update(DOMAIN);
    h.update((i as u64).to_le_bytes());
    h.update(a.as_bytes());
    h.update(b.as_bytes());
    h.update(p.compress().as_bytes());
    let mut d: [u8; 32] = h.finalize().into();
    let out = Block::try_from_slice(&d).unwrap_or(Block::ZERO);
    d.zeroize();
    out
}

fn decompress(c: &CompressedRistretto, index: usize) -> Result<RistrettoPoint> {
    let p = c.decompress().ok_or(OtError::InvalidPoint { index })?;
    if p == RistrettoPoint::identity() {
        return Err(OtError::InvalidPoint { index });
    }
    Ok(p)
}

/// The sender's message `A`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseSenderMsg {
    /// `A = a·G`, compressed.
    pub a: CompressedRistretto,
}

impl BaseSenderMsg {
    /// Encoded length in bytes.
    pub const LEN: usize = 1 + 32;

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::LEN);
        w.u8(TAG_SENDER);
        w.bytes(self.a.as_bytes());
        w.into_vec()
    }

    /// Decodes and validates (length, tag; the point itself is checked on use).
    pub fn from_bytes(bytes: &[u8]) -> Result<BaseSenderMsg> {
        let mut r = Reader::new(bytes, "base OT sender message");
        r.tag(TAG_SENDER)?;
        let a = CompressedRistretto(r.array::<32>()?);
        r.finish()?;
        Ok(BaseSenderMsg { a })
    }
}

/// The receiver's message: one point `B_i` per OT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseReceiverMsg {
    /// `B_i = b_i·G + c_i·A`, compressed.
    pub b: Vec<CompressedRistretto>,
}

impl BaseReceiverMsg {
    /// Encoded length of a message for `n` OTs.
    pub const fn len_for(n: usize) -> usize {
        1 + 4 + 32 * n
    }

    /// Encodes the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::len_for(self.b.len()));
        w.u8(TAG_RECEIVER);
        w.u32(self.b.len() as u32);
        for p in &self.b {
            w.bytes(p.as_bytes());
        }
        w.into_vec()
    }

    /// Decodes and validates: exactly `expected` points.
    pub fn from_bytes(bytes: &[u8], expected: usize) -> Result<BaseReceiverMsg> {
        let mut r = Reader::new(bytes, "base OT receiver message");
        r.tag(TAG_RECEIVER)?;
        let n = r.u32()? as usize;
        if n != expected {
            return Err(OtError::CountMismatch {
                what: "base OT receiver message",
                expected,
                got: n,
            });
        }
        r.expect_remaining(32 * n)?;
        let b = (0..n)
            .map(|_| r.array::<32>().map(CompressedRistretto))
            .collect::<std::result::Result<Vec<_>, CodecError>>()?;
        r.finish()?;
        Ok(BaseReceiverMsg { b })
    }
}

/// Base-OT sender after sending `A`: waits for the receiver's points.
pub struct BaseSender {
    a: Scalar,
    big_a: CompressedRistretto,
    a_times_a: RistrettoPoint,
    n: usize,
}

impl std::fmt::Debug for BaseSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseSender")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl Drop for BaseSender {
    fn drop(&mut self) {
        self.a.zeroize();
        self.a_times_a.zeroize();
    }
}

impl BaseSender {
    /// Starts `n` base OTs (1 ≤ n ≤ [`MAX_BASE_OTS`]): returns the state and `A`.
    pub fn new(n: usize, rng: &mut OtRng) -> Result<(BaseSender, BaseSenderMsg)> {
        check_count(n)?;
        let a = random_scalar(rng);
        let point = RISTRETTO_BASEPOINT_TABLE * &a;
        let big_a = point.compress();
        let a_times_a = point * a;
        Ok((
            BaseSender {
                a,
                big_a,
                a_times_a,
                n,
            },
            BaseSenderMsg { a: big_a },
        ))
    }

    /// Consumes the receiver's message and outputs the `n` key pairs `(k_{i,0}, k_{i,1})`.
    pub fn finish(self, msg: &BaseReceiverMsg) -> Result<Vec<[Block; 2]>> {
        if msg.b.len() != self.n {
            return Err(OtError::CountMismatch {
                what: "base OT receiver message",
                expected: self.n,
                got: msg.b.len(),
            });
        }
        msg.b
            .iter()
            .enumerate()
            .map(|(i, bc)| {
                let b = decompress(bc, i)?;
                let mut p0 = b * self.a;
                let mut p1 = p0 - self.a_times_a;
                let keys = [
                    hash_point(i, &self.big_a, bc, &p0),
                    hash_point(i, &self.big_a, bc, &p1),
                ];
                p0.zeroize();
                p1.zeroize();
                Ok(keys)
            })
            .collect()
    }
}

/// Base-OT receiver: consumes `A`, produces the points and its keys.
#[derive(Debug)]
pub struct BaseReceiver;

impl BaseReceiver {
    /// Runs the receiver on `A` with `choices`: returns its message and the keys `k_{c_i}`.
    pub fn receive(
        msg: &BaseSenderMsg,
        choices: &[bool],
        rng: &mut OtRng,
    ) -> Result<(BaseReceiverMsg, Vec<Block>)> {
        check_count(choices.len())?;
        let big_a = decompress(&msg.a, 0)?;
        let mut scalars: Vec<Scalar> = choices.iter().map(|_| random_scalar(rng)).collect();
        let out = receive_with_scalars(&msg.a, &big_a, choices, &scalars);
        scalars.iter_mut().for_each(Zeroize::zeroize);
        Ok(out)
    }
}

/// The receiver with its random scalars given (the structural privacy test drives this).
fn receive_with_scalars(
    a_c: &CompressedRistretto,
    big_a: &RistrettoPoint,
    choices: &[bool],
    scalars: &[Scalar],
) -> (BaseReceiverMsg, Vec<Block>) {
    let identity = RistrettoPoint::identity();
    let mut points = Vec::with_capacity(choices.len());
    let mut keys = Vec::with_capacity(choices.len());
    for (i, (&c, b)) in choices.iter().zip(scalars).enumerate() {
        let shift = RistrettoPoint::conditional_select(&identity, big_a, Choice::from(c as u8));
        let bc = (RISTRETTO_BASEPOINT_TABLE * b + shift).compress();
        let mut dh = big_a * b;
        keys.push(hash_point(i, a_c, &bc, &dh));
        dh.zeroize();
        points.push(bc);
    }
    (BaseReceiverMsg { b: points }, keys)
}

fn check_count(n: usize) -> Result<()> {
    if n == 0 || n > MAX_BASE_OTS {
        return Err(OtError::BadCount {
            what: "base OTs",
            n,
            max: MAX_BASE_OTS,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u128) -> OtRng {
        OtRng::from_seed(Block::from_u128(seed)).unwrap()
    }

    #[test]
    fn base_ot_receiver_gets_chosen_key_only() {
        let mut rs = rng(1);
        let mut rr = rng(2);
        let choices: Vec<bool> = (0..128)
            .map(|i| (i * 7 + i / 3_usize).is_multiple_of(3))
            .collect();
        let (sender, a) = BaseSender::new(128, &mut rs).unwrap();
        let a = BaseSenderMsg::from_bytes(&a.to_bytes()).unwrap();
        let (bmsg, keys) = BaseReceiver::receive(&a, &choices, &mut rr).unwrap();
        let bmsg = BaseReceiverMsg::from_bytes(&bmsg.to_bytes(), 128).unwrap();
        let pairs = sender.finish(&bmsg).unwrap();
        for ((pair, k), &c) in pairs.iter().zip(&keys).zip(&choices) {
            assert_eq!(*k, pair[c as usize]);
            assert_ne!(*k, pair[1 - c as usize]);
        }
        let all: std::collections::HashSet<_> = pairs.iter().flatten().collect();
        assert_eq!(all.len(), 256, "keys are distinct");
    }

    #[test]
    fn base_ot_sender_view_is_independent_of_choice() {
        // With the sender's randomness fixed (a known), choice 0 with scalar b and choice 1 with
        // scalar b − a give the same receiver message byte for byte: every message the sender
        // sees is explained equally by either choice.
        let a = random_scalar(&mut rng(3));
        let big_a = RISTRETTO_BASEPOINT_TABLE * &a;
        let ac = big_a.compress();
        let bs: Vec<Scalar> = (0..16).map(|i| random_scalar(&mut rng(100 + i))).collect();
        let shifted: Vec<Scalar> = bs.iter().map(|b| b - a).collect();
        let (m0, _) = receive_with_scalars(&ac, &big_a, &[false; 16], &bs);
        let (m1, _) = receive_with_scalars(&ac, &big_a, &[true; 16], &shifted);
        assert_eq!(m0.to_bytes(), m1.to_bytes());
    }

    #[test]
    fn base_ot_rejects_bad_messages() {
        let mut r = rng(4);
        assert!(BaseSenderMsg::from_bytes(&[TAG_SENDER; 32]).is_err());
        assert!(BaseSenderMsg::from_bytes(&[TAG_SENDER; 34]).is_err());
        let mut bad = vec![0u8; 33];
        bad[0] = TAG_RECEIVER;
        assert!(matches!(
            BaseSenderMsg::from_bytes(&bad),
            Err(OtError::BadTag { .. })
        ));
        // Identity and non-canonical encodings are rejected.
        let identity = BaseSenderMsg {
            a: CompressedRistretto([0u8; 32]),
        };
        assert!(matches!(
            BaseReceiver::receive(&identity, &[true], &mut r),
            Err(OtError::InvalidPoint { .. })
        ));
        let garbage = BaseSenderMsg {
            a: CompressedRistretto([0xff; 32]),
        };
        assert!(BaseReceiver::receive(&garbage, &[true], &mut r).is_err());
        // Wrong counts and truncation.
        let (sender, a) = BaseSender::new(4, &mut r).unwrap();
        let (bmsg, _) = BaseReceiver::receive(&a, &[true; 4], &mut r).unwrap();
        let bytes = bmsg.to_bytes();
        assert!(BaseReceiverMsg::from_bytes(&bytes, 5).is_err());
        assert!(BaseReceiverMsg::from_bytes(&bytes[..bytes.len() - 1], 4).is_err());
        let mut huge = bytes.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(BaseReceiverMsg::from_bytes(&huge, 4).is_err());
        let short = BaseReceiverMsg {
            b: bmsg.b[..3].to_vec(),
        };
        assert!(matches!(
            sender.finish(&short),
            Err(OtError::CountMismatch { .. })
        ));
        assert!(BaseSender::new(0, &mut r).is_err());
        assert!(BaseSender::new(MAX_BASE_OTS + 1, &mut r).is_err());
    }
}
