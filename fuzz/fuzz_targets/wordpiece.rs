//! Fuzzes WordPiece vocabularies and tokenizing text with them: any `vocab.txt` text, any text
//! and any options must give `Ok` or `Err`, never a panic, and an encoding that reads starts
//! with `[CLS]`, ends with `[SEP]` (or `[PAD]`s after it), has one vocabulary entry per id and
//! the requested length.
//!
//! Layout of an input: the first byte chooses the options (bit 0: `lowercase`; bits 1-7: no
//! length when 0, else a length from 1 to 127, so lengths below 2 are tried too), then the
//! vocabulary text and the text to tokenize, separated by the first NUL. Seed corpus:
//! `fuzz/seeds/wordpiece/`. Run: `cargo +nightly fuzz run wordpiece seeds/wordpiece`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nnlens::text::{tokenize, TokenizeOptions, Vocab};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let (vocab_text, text) = rest.split_once('\0').unwrap_or((rest, ""));
    let Ok(vocab) = Vocab::parse(vocab_text) else {
        return;
    };
    assert!(!vocab.is_empty());
    let options = TokenizeOptions {
        lowercase: choice & 1 == 1,
        length: match choice >> 1 {
            0 => None,
            n => Some(usize::from(n)),
        },
    };
    let Ok(encoding) = tokenize(&vocab, text, &options) else {
        return;
    };
    assert_eq!(encoding.ids.len(), encoding.tokens.len());
    for (&id, token) in encoding.ids.iter().zip(&encoding.tokens) {
        assert_eq!(vocab.token(id), Some(token.as_str()));
    }
    assert_eq!(encoding.ids.first(), vocab.id("[CLS]").as_ref());
    if let Some(length) = options.length {
        assert_eq!(encoding.ids.len(), length);
    }
    let sep = vocab.id("[SEP]");
    assert!(encoding.ids.contains(sep.as_ref().unwrap()));
});
