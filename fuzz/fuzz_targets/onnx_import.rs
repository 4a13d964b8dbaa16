//! Fuzzes the ONNX importer: any bytes must give `Ok` or `Err`, never a panic, and a model
//! that imports must run (or fail cleanly) on a small input. The same bytes go through the
//! reader of the model's `metadata_props` (class labels), which the page calls on every file.
//!
//! Seed the corpus with the fixtures: `cp ../tests/fixtures/onnx/*/*.onnx
//! ../tests/fixtures/onnx_ops/*.onnx corpus/onnx_import/`, then
//! `cargo +nightly fuzz run onnx_import`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nnlens::io::onnx::metadata(data);
    if let Ok(graph) = nnlens::io::onnx::from_onnx(data) {
        let n: usize = graph.input_shape().iter().product();
        // Run only small graphs: a 200-byte model may legitimately pad to 2^27 elements, which
        // is slow under instrumentation without being a bug.
        let values: usize = graph
            .nodes()
            .iter()
            .map(|node| node.shape.iter().product::<usize>())
            .fold(n, usize::saturating_add);
        if values <= 1 << 20 {
            if let Ok(x) = graph.input_tensor(vec![0.25; n], 1) {
                let _ = graph.forward(x);
            }
        }
        let _ = nnlens::io::onnx::to_onnx(&graph);
    }
});
