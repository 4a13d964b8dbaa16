//! Fuzzes the nnlens JSON model reader: any text must give `Ok` or `Err`, never a panic, and a
//! model that reads must write back to JSON that reads again with the same input and output
//! shapes.
//!
//! Seed corpus: `fuzz/seeds/json_read/` (the site's models are larger; add
//! `../www/models/*.json` for deeper runs). Run: `cargo +nightly fuzz run json_read
//! seeds/json_read`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(graph) = nnlens::io::json::from_json(text) {
        let written = nnlens::io::json::to_json(&graph).expect("a model that reads writes");
        let again = nnlens::io::json::from_json(&written).expect("written JSON reads back");
        assert_eq!(again.input_shape(), graph.input_shape());
        assert_eq!(again.output_shape(), graph.output_shape());
    }
});
