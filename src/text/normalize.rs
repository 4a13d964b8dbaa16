//! BERT's text normalisation and pre-tokenization (the `BasicTokenizer` of the BERT reference
//! code), as HuggingFace `tokenizers`' `BertNormalizer` and `BertPreTokenizer` define it:
//!
//! 1. clean: U+0000, U+FFFD and "other" characters (general categories Cc, Cf, Co, Cn, except
//!    tab, line feed and carriage return) are dropped; every whitespace character (Unicode
//!    `White_Space`) becomes a space;
//! 2. every CJK ideograph (the CJK Unified Ideographs blocks and extensions A-E, the
//!    compatibility ideographs and their supplement) gets a space on each side, so it is a word;
//! 3. when lower-casing: accents stripped (canonical decomposition NFD, then the nonspacing
//!    marks, category Mn, removed) and each character lower-cased (`char::to_lowercase`);
//! 4. split at whitespace (dropped) and around punctuation (ASCII punctuation and the Unicode
//!    categories P*), each punctuation character a word of its own.

use super::classes::{class, CharClass};
use unicode_normalization::char::{canonical_combining_class, decompose_canonical};

/// The words of `text` after BERT's normalisation (see the module docs).
pub fn words(text: &str, lowercase: bool) -> Vec<String> {
    let cleaned = clean(text);
    let normalized = if lowercase {
        strip_accents(&cleaned)
            .chars()
            .flat_map(char::to_lowercase)
            .collect()
    } else {
        cleaned
    };
    split(&normalized)
}

/// Steps 1 and 2: control characters dropped, whitespace unified, CJK ideographs spaced.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{FFFD}' || is_control(c) {
            continue;
        }
        if c.is_whitespace() {
            out.push(' ');
        } else if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// NFD (each character's full canonical decomposition, then every run of non-starters sorted
/// stably by canonical combining class: the canonical ordering) without the nonspacing marks.
/// Per character through `unicode-normalization`'s `decompose_canonical`: its `nfd()` iterator
/// also links the compatibility tables, 60 KB more of wasm.
fn strip_accents(text: &str) -> String {
    let mut decomposed: Vec<(u8, char)> = Vec::with_capacity(text.len());
    for c in text.chars() {
        decompose_canonical(c, |d| decomposed.push((canonical_combining_class(d), d)));
    }
    for run in decomposed.split_mut(|&(combining_class, _)| combining_class == 0) {
        run.sort_by_key(|&(combining_class, _)| combining_class);
    }
    decomposed
        .into_iter()
        .map(|(_, c)| c)
        .filter(|&c| class(c) != CharClass::NonspacingMark)
        .collect()
}

/// Step 4: whitespace-separated words, each punctuation character on its own.
fn split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || is_punctuation(c) {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                words.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// BERT's "control" characters: the Unicode "other" categories, except tab, `\n` and `\r`.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && class(c) == CharClass::Other
}

/// ASCII punctuation (which includes `$`, `+`, `<`, `^`, `` ` ``, `|`, `~`) or a Unicode
/// punctuation character.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || class(c) == CharClass::Punctuation
}

/// CJK ideographs, the ranges of BERT's `_is_chinese_char` (Hangul, kana are not among them).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_whitespace_and_around_punctuation() {
        assert_eq!(
            words("Hello,  world!\tIt's\n$5", false),
            ["Hello", ",", "world", "!", "It", "'", "s", "$", "5"]
        );
        assert_eq!(words(" \u{3000} ", true), Vec::<String>::new());
        assert_eq!(
            words("a\u{2014}b\u{00BF}", false),
            ["a", "\u{2014}", "b", "\u{00BF}"]
        );
    }

    #[test]
    fn lowercasing_strips_accents_and_keeps_other_marks() {
        assert_eq!(words("Héllo CAFÉ naïve", true), ["hello", "cafe", "naive"]);
        assert_eq!(words("Héllo", false), ["Héllo"]);
        // Devanagari vowel sign AA (U+093E) is a spacing mark (Mc): kept.
        assert_eq!(words("\u{0915}\u{093E}", true), ["\u{0915}\u{093E}"]);
    }

    #[test]
    fn accents_are_stripped_as_nfd_without_nonspacing_marks() {
        use unicode_normalization::UnicodeNormalization;
        let nfd = |s: &str| -> String {
            s.nfd()
                .filter(|&c| class(c) != CharClass::NonspacingMark)
                .collect()
        };
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(strip_accents(&s), nfd(&s), "U+{:04X}", c as u32);
        }
        // Reordered marks: spacing marks with combining classes (musical symbols), a nonspacing
        // mark of class 0 between them, Hangul, Vietnamese.
        for s in [
            "\u{1D15F}\u{1D16D}\u{1D165}x",
            "a\u{1D16D}\u{034F}\u{1D165}\u{0301}\u{1D166}",
            "\u{1E09}\u{0323}\u{0302}",
            "한국어 Tiếng Việt",
        ] {
            assert_eq!(strip_accents(s), nfd(s), "{s:?}");
        }
    }

    #[test]
    fn control_characters_go_and_cjk_ideographs_stand_alone() {
        assert_eq!(
            words("a\u{0}b\u{FFFD}c\u{200B}d\u{E000}e\u{7}", false),
            ["abcde"]
        );
        assert_eq!(words("我爱ab猫", false), ["我", "爱", "ab", "猫"]);
        assert_eq!(words("カタカナ한국", false), ["カタカナ한국"]);
    }
}
