//! The ONNX loader: protobuf parsing and the graph mapping never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proto) = gazelle_onnx::parse(data) {
        let _ = gazelle_onnx::graph::float_graph(&proto);
    }
});
