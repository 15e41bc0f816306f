//! The session handshake: the client says which protocol version, HE parameter set and model
//! it expects (or any model: an empty name); the server answers with its own hello and its
//! [`ServerTerms`] (whether its plan gives circuit privacy, whether it reveals the logits or
//! only the class, the session's garbling hash key) when they agree, then with the model's
//! architecture (never a weight), or with an error frame naming the difference. Both sides
//! then fail with [`NetError::Handshake`].
use super::wire::{TAG_ARCH, TAG_HELLO, TAG_HELLO_OK};
use crate::channel::Channel;
use crate::gc::Scheme;
use crate::he::params::ParamSetId;
use crate::net::{recv_msg, send_error, send_msg, NetError, Result};

/// Version of the wire protocol; both sides must agree (3: the terms say whether the logits
/// or only the class are revealed, and the last stage is then the argmax circuit; 4: the
/// server sends the model's architecture, and a client may ask for any model; 5: the hello
/// carries the client's credential; 6: the terms say how AND gates are garbled, half gates or
/// three halves, and the garbler's input labels of a stage come from a 16-byte seed; 7: the
/// online OT answer of a garbled stage comes in frames of whole instance groups, and a
/// mat-vec's rotate-and-add tail is summed by the parties instead of the server; 8: a
/// stride-1 convolution may take its input replicated per output block, one ciphertext per
/// input channel, `replicated-input`; 9: the cost model that picks each layer's method, and
/// so the schedule both sides derive, counts ModDown and decomposition transforms; 10: a
/// convolution whose channels fill less than a row spreads its blocks at a power-of-two
/// stride; 11: one Galois key per element for the whole network, its frames carrying each
/// linear stage's new elements; 12: seeds expand into public polynomials with AES-128 in
/// counter mode instead of ChaCha8; 13: a mat-vec fills every window of a row with outputs,
/// and a convolution whose channels fill at most one row may take `two-row baby-giant`; 14: a
/// replicated-input convolution may take its kernel rows as outer rotations).
pub const PROTOCOL_VERSION: u16 = 14;

/// Longest credential (access token) in a hello, in bytes.
pub const MAX_CREDENTIAL: usize = 255;

/// Largest architecture message (header strings, ≤ 64 layers of a few bytes each).
pub const MAX_ARCH_BYTES: usize = 1 << 17;

/// Magic of the hello message.
pub const MAGIC: [u8; 4] = *b"GZL1";

/// Longest model id in a hello.
const MAX_MODEL_NAME: usize = 64;

fn malformed<T>(what: &'static str, reason: impl Into<String>) -> Result<T> {
    Err(NetError::Malformed {
        what,
        reason: reason.into(),
    })
}

/// What the server states about the session beyond the agreed hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTerms {
    /// Whether the server's plan meets the circuit-privacy budget
    /// (`protocol::budget`); false only when its operator chose
    /// `--insecure-no-circuit-privacy`, which the client must show its user.
    pub circuit_privacy: bool,
    /// Whether the last garbled circuit reveals the logits (`serve --reveal logits`) rather
    /// than only the class (the default); the client builds its plan accordingly.
    pub logits_revealed: bool,
    /// The session's garbling hash key, drawn by the garbler (public to the evaluator).
    pub gc_hash_key: [u8; 16],
    /// How the server garbles AND gates (`serve --garbling`); the client evaluates so.
    pub garbling: Scheme,
}

/// Encoded size of [`ServerTerms`]: a flag byte and the key.
const TERMS_LEN: usize = 17;

/// Flag bit: the plan meets the circuit-privacy budget.
const FLAG_CIRCUIT_PRIVACY: u8 = 1;
/// Flag bit: the logits are revealed (else only the class).
const FLAG_LOGITS: u8 = 2;
/// Flag bit: AND gates are garbled with three halves (else half gates).
const FLAG_THREE_HALVES: u8 = 4;

impl ServerTerms {
    fn to_bytes(self) -> [u8; TERMS_LEN] {
        let mut b = [0u8; TERMS_LEN];
        if self.circuit_privacy {
            b[0] |= FLAG_CIRCUIT_PRIVACY;
        }
        if self.logits_revealed {
            b[0] |= FLAG_LOGITS;
        }
        if self.garbling == Scheme::ThreeHalves {
            b[0] |= FLAG_THREE_HALVES;
        }
        b[1..].copy_from_slice(&self.gc_hash_key);
        b
    }

    fn from_bytes(b: &[u8]) -> Result<ServerTerms> {
        match b {
            [flag, key @ ..]
                if key.len() == 16
                    && flag & !(FLAG_CIRCUIT_PRIVACY | FLAG_LOGITS | FLAG_THREE_HALVES) == 0 =>
            {
                Ok(ServerTerms {
                    circuit_privacy: flag & FLAG_CIRCUIT_PRIVACY != 0,
                    logits_revealed: flag & FLAG_LOGITS != 0,
                    gc_hash_key: key.try_into().expect("16 bytes"),
                    garbling: if flag & FLAG_THREE_HALVES != 0 {
                        Scheme::ThreeHalves
                    } else {
                        Scheme::HalfGates
                    },
                })
            }
            _ => malformed("hello reply", "bad server terms"),
        }
    }
}

/// A client's access token (`serve --tokens`, `infer --token`): at most [`MAX_CREDENTIAL`]
/// bytes, zeroized on drop, never printed (its `Debug` says only whether there is one).
#[derive(Clone, Default, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Credential(Vec<u8>);

impl Credential {
    /// The token `token` (an error when longer than [`MAX_CREDENTIAL`] bytes).
    pub fn new(token: &[u8]) -> Result<Credential> {
        if token.len() > MAX_CREDENTIAL {
            return malformed(
                "credential",
                format!("{} bytes, at most {MAX_CREDENTIAL}", token.len()),
            );
        }
        Ok(Credential(token.to_vec()))
    }

    /// No credential.
    pub fn none() -> Credential {
        Credential(Vec::new())
    }

    /// The token's bytes (empty when there is none).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Whether a token was given.
    pub fn is_present(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Credential(none)"
        } else {
            "Credential(<redacted>)"
        })
    }
}

/// What a session is about: both sides must agree on every field but the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The HE parameter set's id byte.
    pub param_set: u8,
    /// The model id (the model's name, restricted to [A-Za-z0-9._-], ≤ 64 bytes); empty in a
    /// client's hello: whatever model the server serves.
    pub model: String,
    /// The client's access token (empty in the server's hello).
    pub credential: Credential,
}

impl Hello {
    /// The hello of this protocol version for `param_set` and `model` (other characters of
    /// the name become `_`, and it is cut to 64 bytes).
    pub fn new(param_set: ParamSetId, model: &str) -> Hello {
        let model = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(MAX_MODEL_NAME)
            .collect();
        Hello {
            version: PROTOCOL_VERSION,
            param_set: param_set as u8,
            model,
            credential: Credential::none(),
        }
    }

    /// This hello carrying `credential`.
    pub fn with_credential(mut self, credential: Credential) -> Hello {
        self.credential = credential;
        self
    }

    /// Encodes the message: `MAGIC || version (u16 LE) || param_set || len || model ||
    /// len || credential`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&self.version.to_le_bytes());
        v.push(self.param_set);
        v.push(self.model.len().min(MAX_MODEL_NAME) as u8);
        v.extend_from_slice(&self.model.as_bytes()[..self.model.len().min(MAX_MODEL_NAME)]);
        let cred = self.credential.expose();
        // `Credential::new` bounds the length by MAX_CREDENTIAL = 255.
        v.push(cred.len() as u8);
        v.extend_from_slice(cred);
        v
    }

    /// Decodes and validates the message.
    pub fn from_bytes(b: &[u8]) -> Result<Hello> {
        let what = "hello";
        if b.len() < 8 || b[..4] != MAGIC {
            return malformed(what, "not a gazelle hello (bad magic or length)");
        }
        let version = u16::from_le_bytes([b[4], b[5]]);
        let param_set = b[6];
        let len = b[7] as usize;
        if len > MAX_MODEL_NAME || b.len() < 9 + len {
            return malformed(what, "bad model-name length");
        }
        let cred_len = b[8 + len] as usize;
        if b.len() != 9 + len + cred_len {
            return malformed(what, "bad credential length");
        }
        let credential = Credential::new(&b[9 + len..])?;
        let model = std::str::from_utf8(&b[8..8 + len])
            .ok()
            .filter(|s| {
                s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
            })
            .ok_or_else(|| NetError::Malformed {
                what,
                reason: "model name is not [A-Za-z0-9._-]".into(),
            })?
            .to_string();
        Ok(Hello {
            version,
            param_set,
            model,
            credential,
        })
    }

    /// How this hello differs from `other`, if it does.
    pub fn mismatch(&self, other: &Hello) -> Option<String> {
        if self.version != other.version {
            return Some(format!(
                "protocol version {} vs {}",
                self.version, other.version
            ));
        }
        if self.param_set != other.param_set {
            return Some(format!(
                "parameter set id {} vs {}",
                self.param_set, other.param_set
            ));
        }
        if self.model != other.model && !self.model.is_empty() && !other.model.is_empty() {
            return Some(format!("model '{}' vs '{}'", self.model, other.model));
        }
        None
    }
}

/// Client side of the handshake: sends `ours`, waits for the server's verdict, terms and the
/// served model's architecture (its bytes, checked by the caller).
pub fn handshake_client<C: Channel + ?Sized>(
    ch: &mut C,
    ours: &Hello,
) -> Result<(ServerTerms, Vec<u8>)> {
    if let Err(sent) = send_msg(ch, TAG_HELLO, &ours.to_bytes()) {
        // A server that refuses (e.g. busy) sends its error frame and closes before our hello
        // arrives: its reason may be waiting even though our send failed.
        return Err(
            match recv_msg(
                ch,
                TAG_HELLO_OK,
                9 + MAX_MODEL_NAME + TERMS_LEN,
                "hello reply",
            ) {
                Err(NetError::PeerError(reason)) => NetError::Handshake(reason),
                _ => sent,
            },
        );
    }
    match recv_msg(
        ch,
        TAG_HELLO_OK,
        9 + MAX_MODEL_NAME + TERMS_LEN,
        "hello reply",
    ) {
        Ok(reply) => {
            let split = reply
                .len()
                .checked_sub(TERMS_LEN)
                .ok_or(NetError::Malformed {
                    what: "hello reply",
                    reason: "too short".into(),
                })?;
            let theirs = Hello::from_bytes(&reply[..split])?;
            let terms = ServerTerms::from_bytes(&reply[split..])?;
            match ours.mismatch(&theirs) {
                Some(m) => {
                    send_error(ch, &format!("handshake mismatch: {m}"));
                    Err(NetError::Handshake(m))
                }
                None => Ok((
                    terms,
                    recv_msg(ch, TAG_ARCH, MAX_ARCH_BYTES, "architecture")?,
                )),
            }
        }
        Err(NetError::PeerError(reason)) => Err(NetError::Handshake(reason)),
        Err(e) => Err(e),
    }
}

/// Server side of the handshake: checks the client's hello against `ours`, then asks `admit`
/// whether its credential may start a session; on a mismatch or a refusal tells the client
/// why and fails ([`NetError::Refused`] for a refusal); else replies with `ours` and `terms`,
/// then the architecture bytes.
pub fn handshake_server<C: Channel + ?Sized>(
    ch: &mut C,
    ours: &Hello,
    terms: ServerTerms,
    architecture: &[u8],
    admit: &mut dyn FnMut(&Credential) -> std::result::Result<(), String>,
) -> Result<Hello> {
    let max_hello = 9 + MAX_MODEL_NAME + MAX_CREDENTIAL;
    let theirs =
        match recv_msg(ch, TAG_HELLO, max_hello, "hello").and_then(|b| Hello::from_bytes(&b)) {
            Ok(h) => h,
            Err(e) => {
                send_error(ch, &format!("bad hello: {e}"));
                return Err(e);
            }
        };
    if let Some(m) = theirs.mismatch(ours) {
        let reason = format!(
            "server runs protocol v{}, parameter set {}, model '{}' ({m})",
            ours.version, ours.param_set, ours.model
        );
        send_error(ch, &reason);
        return Err(NetError::Handshake(reason));
    }
    if let Err(reason) = admit(&theirs.credential) {
        send_error(ch, &reason);
        return Err(NetError::Refused(reason));
    }
    let mut reply = ours.to_bytes();
    reply.extend_from_slice(&terms.to_bytes());
    send_msg(ch, TAG_HELLO_OK, &reply)?;
    send_msg(ch, TAG_ARCH, architecture)?;
    Ok(theirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::MemChannel;

    fn hello(model: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            param_set: 1,
            model: model.into(),
            credential: Credential::none(),
        }
    }

    fn open(_: &Credential) -> std::result::Result<(), String> {
        Ok(())
    }

    const TERMS: ServerTerms = ServerTerms {
        circuit_privacy: false,
        logits_revealed: false,
        gc_hash_key: [7; 16],
        garbling: Scheme::HalfGates,
    };

    #[test]
    fn handshake_agrees_and_mismatch_errors_on_both_sides() {
        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || {
            handshake_server(&mut b, &hello("m"), TERMS, b"arch", &mut open)
        });
        assert_eq!(
            handshake_client(&mut a, &hello("m")).unwrap(),
            (TERMS, b"arch".to_vec())
        );
        t.join().unwrap().unwrap();
        // An empty name asks for whatever the server serves.
        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || {
            handshake_server(&mut b, &hello("m"), TERMS, b"arch", &mut open)
        });
        assert_eq!(handshake_client(&mut a, &hello("")).unwrap().1, b"arch");
        assert_eq!(t.join().unwrap().unwrap().model, "");
        assert_eq!(
            Hello::new(ParamSetId::Gazelle4096, "my model (v2)").model,
            "my_model__v2_"
        );
        for bad in [
            &[8u8; 17][..],
            &[1u8; 16][..],
            &[1u8; 18][..],
            &[0x83; 17][..],
        ] {
            assert!(ServerTerms::from_bytes(bad).is_err(), "{bad:?}");
        }
        for flag in 0..8u8 {
            let t = ServerTerms {
                circuit_privacy: flag & 1 != 0,
                logits_revealed: flag & 2 != 0,
                gc_hash_key: [flag; 16],
                garbling: [Scheme::HalfGates, Scheme::ThreeHalves][usize::from(flag >> 2)],
            };
            assert_eq!(t.to_bytes()[0], flag);
            assert_eq!(ServerTerms::from_bytes(&t.to_bytes()).unwrap(), t);
        }

        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || {
            handshake_server(&mut b, &hello("m"), TERMS, b"a", &mut open)
        });
        let e = handshake_client(&mut a, &hello("other")).unwrap_err();
        assert!(
            matches!(e, NetError::Handshake(ref r) if r.contains("model")),
            "{e}"
        );
        assert!(matches!(t.join().unwrap(), Err(NetError::Handshake(_))));
    }

    #[test]
    fn credentials_travel_in_the_hello_and_a_refusal_reaches_the_client() {
        let h = hello("m").with_credential(Credential::new(b"s3cret").unwrap());
        assert_eq!(Hello::from_bytes(&h.to_bytes()).unwrap(), h);
        assert_eq!(format!("{h:?}").matches("s3cret").count(), 0);
        assert!(Credential::new(&[1; MAX_CREDENTIAL + 1]).is_err());
        let (mut a, mut b) = MemChannel::pair();
        let t = std::thread::spawn(move || {
            handshake_server(&mut b, &hello("m"), TERMS, b"a", &mut |c: &Credential| {
                if c.expose() == b"good" {
                    Ok(())
                } else {
                    Err("unknown access token".to_string())
                }
            })
        });
        let bad = hello("m").with_credential(Credential::new(b"bad").unwrap());
        let e = handshake_client(&mut a, &bad).unwrap_err();
        assert!(e.to_string().contains("unknown access token"), "{e}");
        assert!(matches!(t.join().unwrap(), Err(NetError::Refused(_))));
    }

    #[test]
    fn garbage_hello_is_rejected() {
        for junk in [
            &b""[..],
            b"GZL1",
            b"XXXX\x01\x00\x01\x00",
            b"GZL1\x01\x00\x01\x05ab",
            b"GZL1\x01\x00\x01\x00",
            b"GZL1\x01\x00\x01\x00\x02a",
        ] {
            assert!(Hello::from_bytes(junk).is_err());
        }
        let (mut a, mut b) = MemChannel::pair();
        a.send(&[0x01, 1, 2, 3]).unwrap();
        assert!(handshake_server(&mut b, &hello("m"), TERMS, b"a", &mut open).is_err());
        // The server told the client why.
        assert!(matches!(
            recv_msg(&mut a, 0x02, 100, "x"),
            Err(NetError::PeerError(_))
        ));
    }
}
