//! Key storage: the secret key (and the encryption and decryption it performs), the public key,
//! and the Galois keys. Operations with the Galois keys (key switching, rotations, hoisting)
//! are in [`crate::he::keyswitch`]; re-randomisation with the public key in
//! [`crate::he::privacy`].
pub mod galois;
pub mod public;
pub mod secret;

pub use galois::GaloisKeys;
pub use public::PublicKey;
pub use secret::SecretKey;
pub(crate) use secret::STREAM_CIPHERTEXT;
