//! The character classes BERT's normalisation needs (see [`super::normalize`]): punctuation
//! (the Unicode general categories P*), "other" characters (Cc, Cf, Co and Cn, unassigned),
//! nonspacing marks (Mn) and the rest. Looked up by binary search in a table of runs of code
//! points of one class (`classes_table.rs`, 2 bits of class beside each run's start), made from
//! the `unicode-properties` crate's general categories (Unicode 18) and checked against them for
//! every code point by `tests/unicode_classes.rs`: about a quarter of the crate's full category
//! table in the wasm module.

use super::classes_table::RUNS;

/// What BERT's tokenization does with a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// Kept as it is.
    Plain = 0,
    /// A word of its own (general categories Pc, Pd, Ps, Pe, Pi, Pf, Po).
    Punctuation = 1,
    /// Dropped (control, format, private use, unassigned).
    Other = 2,
    /// Dropped when accents are stripped (Mn).
    NonspacingMark = 3,
}

/// The class of `c`.
pub fn class(c: char) -> CharClass {
    let runs = &RUNS;
    let key = (c as u32) << 2 | 3;
    let run = runs.partition_point(|&entry| entry <= key) - 1;
    match runs[run] & 3 {
        0 => CharClass::Plain,
        1 => CharClass::Punctuation,
        2 => CharClass::Other,
        _ => CharClass::NonspacingMark,
    }
}
