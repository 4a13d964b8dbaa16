//! The `.npy` and safetensors readers against files written by NumPy 2 and safetensors 0.8
//! (fixtures in `tests/fixtures/arrays`, made by `make_array_fixtures.py`): every value must
//! equal NumPy's own conversion of the array to float32, in C order.

use nnlens::io::array::LoadedArray;
use nnlens::io::npy::from_npy;
use nnlens::io::safetensors::from_safetensors;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Expected {
    npy: BTreeMap<String, ExpectedArray>,
    safetensors: ExpectedSafetensors,
}

#[derive(Deserialize)]
struct ExpectedSafetensors {
    file: String,
    metadata: BTreeMap<String, String>,
    tensors: BTreeMap<String, ExpectedArray>,
}

#[derive(Deserialize)]
struct ExpectedArray {
    shape: Vec<usize>,
    dtype: String,
    values: Vec<f64>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/arrays")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected() -> Expected {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

fn check(what: &str, array: &LoadedArray, expected: &ExpectedArray) {
    assert_eq!(array.shape, expected.shape, "{what}: shape");
    assert_eq!(array.dtype.name(), expected.dtype, "{what}: dtype");
    let expected_values: Vec<f32> = expected.values.iter().map(|&v| v as f32).collect();
    assert_eq!(array.values, expected_values, "{what}: values");
}

#[test]
fn every_npy_fixture_matches_numpy() {
    let expected = expected();
    assert!(expected.npy.len() >= 19);
    for (name, want) in &expected.npy {
        let array = from_npy(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, &array, want);
    }
}

#[test]
fn fortran_order_and_big_endian_read_as_their_c_order_twins() {
    let fortran = from_npy(&fixture("float64_fortran.npy")).unwrap();
    let c_order = from_npy(&fixture("float32_3d.npy")).unwrap();
    assert_eq!(fortran.shape, vec![2, 3, 4]);
    assert_eq!(fortran.values, c_order.values);
    let big = from_npy(&fixture("float32_big_endian.npy")).unwrap();
    assert_eq!(big.values, c_order.values[..12]);
}

#[test]
fn safetensors_fixture_matches_numpy() {
    let expected = expected().safetensors;
    let loaded = from_safetensors(&fixture(&expected.file)).unwrap();
    assert_eq!(loaded.metadata, expected.metadata);
    assert_eq!(loaded.tensors.len(), expected.tensors.len());
    for (name, array) in &loaded.tensors {
        check(name, array, &expected.tensors[name]);
    }
    let tensor = loaded.tensors.into_iter().find(|(n, _)| n == "conv.weight");
    let tensor = tensor.unwrap().1.into_tensor().unwrap();
    assert_eq!(tensor.shape(), &[2, 1, 2, 3]);
}

#[test]
fn truncated_fixtures_are_errors_at_every_length() {
    for name in ["float32_3d.npy", "float32_v3.npy", "tensors.safetensors"] {
        let bytes = fixture(name);
        for len in 0..bytes.len() {
            let result = if name.ends_with(".npy") {
                from_npy(&bytes[..len]).map(|_| ())
            } else {
                from_safetensors(&bytes[..len]).map(|_| ())
            };
            let err = result.expect_err(&format!("{name} cut to {len} bytes"));
            assert!(
                err.to_string().starts_with("invalid "),
                "{name}[..{len}]: {err}"
            );
        }
    }
}

#[test]
fn the_readers_refuse_each_others_files() {
    let err = from_npy(&fixture("tensors.safetensors")).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not start with the magic string"),
        "{err}"
    );
    let err = from_safetensors(&fixture("float32_3d.npy")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid safetensors file: the header length is"),
        "{err}"
    );
}

#[test]
fn every_single_byte_corruption_reads_or_fails_cleanly() {
    for name in [
        "float64_fortran.npy",
        "int32_big_endian.npy",
        "tensors.safetensors",
    ] {
        let bytes = fixture(name);
        for index in 0..bytes.len() {
            for value in [0x00, 0x01, 0x28, 0x7f, 0xff] {
                let mut corrupt = bytes.clone();
                corrupt[index] = value;
                if name.ends_with(".npy") {
                    if let Ok(array) = from_npy(&corrupt) {
                        assert_eq!(array.values.len(), array.shape.iter().product::<usize>());
                    }
                } else if let Ok(loaded) = from_safetensors(&corrupt) {
                    for (_, array) in &loaded.tensors {
                        assert_eq!(array.values.len(), array.shape.iter().product::<usize>());
                    }
                }
            }
        }
    }
}
