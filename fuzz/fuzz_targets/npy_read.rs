//! Fuzzes the `.npy` reader: any bytes must give `Ok` or `Err`, never a panic or an allocation
//! larger than the input justifies, and an array that reads must hold its shape's product of
//! values.
//!
//! Seed the corpus with the fixtures: `cp ../tests/fixtures/arrays/*.npy corpus/npy_read/`,
//! then `cargo +nightly fuzz run npy_read`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = nnlens::io::npy::from_npy(data) {
        assert_eq!(array.values.len(), array.shape.iter().product::<usize>());
    }
});
