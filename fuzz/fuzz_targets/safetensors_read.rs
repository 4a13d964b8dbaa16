//! Fuzzes the safetensors reader: any bytes must give `Ok` or `Err`, never a panic, and every
//! tensor of a file that reads must hold its shape's product of values.
//!
//! Seed the corpus with the fixture: `cp ../tests/fixtures/arrays/*.safetensors
//! corpus/safetensors_read/`, then `cargo +nightly fuzz run safetensors_read`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = nnlens::io::safetensors::from_safetensors(data) {
        for (_, array) in &loaded.tensors {
            assert_eq!(array.values.len(), array.shape.iter().product::<usize>());
        }
    }
});
