//! Fuzzes MNIST preprocessing of an uploaded or drawn image: any RGBA pixels with any declared
//! size must give `Ok` or `Err`, never a panic, and an image that preprocesses gives a 28 x 28
//! field of finite values.
//!
//! The first four bytes are the width and height (little-endian u16 each); the rest are RGBA
//! pixels, turned into ink as the page does (dark, opaque pixels are ink). When the fifth byte
//! is odd, the pixels are read as raw f32 values instead, so NaN, infinities and values outside
//! [0, 1] reach the function too. Seed corpus: `fuzz/seeds/mnist_preprocess/`. Run:
//! `cargo +nightly fuzz run mnist_preprocess seeds/mnist_preprocess`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nnlens::io::image::{mnist_preprocess, FIELD};

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let width = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let height = usize::from(u16::from_le_bytes([data[2], data[3]]));
    let pixels = &data[5..];
    let gray: Vec<f32> = if data[4] & 1 == 1 {
        pixels
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        pixels
            .chunks_exact(4)
            .map(|p| {
                let luminance = (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / 765.0;
                (1.0 - luminance) * f32::from(p[3]) / 255.0
            })
            .collect()
    };
    if let Ok(field) = mnist_preprocess(&gray, width, height) {
        assert_eq!(field.len(), FIELD * FIELD);
        assert!(field.iter().all(|v| v.is_finite()));
    }
});
