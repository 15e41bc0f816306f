//! Every decoder a peer's bytes reach: the first byte picks the decoder, the rest is the
//! message. Any input gives a value or an error; nothing panics or allocates past the frame.
#![no_main]
use gazelle::he::{params::ParamSetId, Ciphertext, GaloisKeys, Parameters, PublicKey};
use gazelle::ot::ext::{ExtendMsg, SeedMsg};
use gazelle::ot::{base, ChoiceMsg, ExtParams};
use gazelle::protocol::{handshake::Hello, wire};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn params() -> &'static Arc<Parameters> {
    static P: OnceLock<Arc<Parameters>> = OnceLock::new();
    P.get_or_init(|| ParamSetId::default().params().expect("the default set"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, msg)) = data.split_first() else {
        return;
    };
    let p = params();
    match which % 11 {
        0 => drop(Hello::from_bytes(msg)),
        1 => drop(Ciphertext::from_bytes(p, msg)),
        2 => drop(PublicKey::from_bytes(p, msg)),
        3 => drop(GaloisKeys::from_bytes(p, msg)),
        4 => drop(wire::decode_cts(p, msg, 3, "fuzz")),
        5 => drop(wire::decode_garbler_seed(msg, 20)),
        6 => drop(base::BaseSenderMsg::from_bytes(msg)),
        7 => drop(base::BaseReceiverMsg::from_bytes(msg, 128)),
        8 => drop(SeedMsg::from_bytes(msg, ExtParams::SOFTSPOKEN_8)),
        9 => drop(ExtendMsg::from_bytes(msg, ExtParams::SOFTSPOKEN_8, 1 << 20)),
        _ => drop(ChoiceMsg::from_bytes(msg, 1 << 20)),
    }
});
