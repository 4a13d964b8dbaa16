//! Fuzzes the CSV reader: any text with any options must give `Ok` or `Err`, never a panic, and
//! a dataset that reads holds `rows × features` inputs and one target per row.
//!
//! The first byte chooses the options (the target column by index among the header's names,
//! or the default last column; the kind, or inferred), the rest is the text. Seed corpus:
//! `fuzz/seeds/csv_parse/`. Run: `cargo +nightly fuzz run csv_parse seeds/csv_parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nnlens::data::csv::{parse_csv, CsvOptions};
use nnlens::data::DataKind;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
    let target = match choice & 0x0f {
        0 => None,
        i => header.get(usize::from(i) - 1).map(|name| name.to_string()),
    };
    let kind = match choice >> 6 {
        1 => Some(DataKind::Classification),
        2 => Some(DataKind::Regression),
        _ => None,
    };
    if let Ok(set) = parse_csv(text, &CsvOptions { target, kind }) {
        assert_eq!(set.inputs.len(), set.rows * set.features.len());
        assert_eq!(set.targets.len(), set.rows);
    }
});
