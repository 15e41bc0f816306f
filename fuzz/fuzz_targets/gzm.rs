//! The `.gzm` loader (also what a client decodes as the server's architecture): any bytes give
//! a model or an error, and a model re-encodes to one that reads back equal.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = gazelle::nn::Model::from_bytes(data) {
        let again = gazelle::nn::Model::from_bytes(&m.to_bytes()).expect("re-encoded model reads");
        assert_eq!(again, m);
        let _ = gazelle::nn::format::decode(&gazelle::nn::format::encode_architecture(&m))
            .expect("architecture reads");
    }
    let _ = gazelle::data::ImageSet::from_bytes(data);
});
