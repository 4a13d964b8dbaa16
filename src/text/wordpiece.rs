//! WordPiece tokens and the BERT encoding of a text: `[CLS] tokens [SEP]`, then truncated or
//! padded with `[PAD]` to a given length.
//!
//! Each word of [`super::normalize::words`] is covered greedily from its start by the longest
//! vocabulary entry, every piece after the first looked up with the prefix `##`; a word with a
//! part no entry covers, or longer than [`MAX_WORD_CHARS`] characters, becomes one `[UNK]`
//! (Schuster & Nakajima 2012, Wu et al. 2016; the `WordpieceTokenizer` of BERT's reference code).
//! Special tokens of the vocabulary typed in the text (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`,
//! `[MASK]`, exact case) are kept whole and not normalised, as HuggingFace's tokenizers treat
//! their added special tokens. With a length `L`, the tokens are cut to `L - 2` (truncation
//! from the end, `longest_first` for one sequence) before `[CLS]` and `[SEP]` are added, and the
//! result is padded on the right with `[PAD]` to `L`.

use super::normalize::words;
use super::vocab::Vocab;
use crate::error::{Error, Result};

/// Words of more characters than this are `[UNK]` (BERT's `max_input_chars_per_word`).
pub const MAX_WORD_CHARS: usize = 100;
/// Largest text accepted, in bytes: 16 MiB.
pub const MAX_TEXT_BYTES: usize = 16 << 20;
/// Largest padded length accepted: 2^16 tokens.
pub const MAX_LENGTH: usize = 1 << 16;
/// The special tokens kept whole when they appear in the text.
const SPECIAL_TOKENS: [&str; 5] = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"];

/// How a text is tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenizeOptions {
    /// Lower-case and strip accents (uncased models such as `bert-base-uncased`).
    pub lowercase: bool,
    /// Truncate or pad with `[PAD]` to this many ids (`[CLS]` and `[SEP]` included); `None`
    /// keeps every token and adds no padding.
    pub length: Option<usize>,
}

impl Default for TokenizeOptions {
    fn default() -> Self {
        Self {
            lowercase: true,
            length: None,
        }
    }
}

/// A tokenized text: ids and the tokens they stand for, `[CLS]` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// The vocabulary entry of each id.
    pub tokens: Vec<String>,
}

/// Tokenizes `text` as BERT does (see the module docs).
pub fn tokenize(vocab: &Vocab, text: &str, options: &TokenizeOptions) -> Result<Encoding> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(Error::invalid(
            "text",
            format!(
                "{} bytes, more than the limit of {MAX_TEXT_BYTES}",
                text.len()
            ),
        ));
    }
    if let Some(length) = options.length {
        if !(2..=MAX_LENGTH).contains(&length) {
            return Err(Error::invalid(
                "length",
                format!("{length}; expected 2 ([CLS] and [SEP]) to {MAX_LENGTH} tokens"),
            ));
        }
    }
    let cls = vocab.required_id("[CLS]")?;
    let sep = vocab.required_id("[SEP]")?;
    let unk = vocab.required_id("[UNK]")?;
    let pad = match options.length {
        Some(_) => Some(vocab.required_id("[PAD]")?),
        None => None,
    };
    let mut ids = vec![cls];
    for (piece, special) in split_special(vocab, text) {
        match special {
            Some(id) => ids.push(id),
            None => {
                for word in words(piece, options.lowercase) {
                    word_pieces(vocab, &word, unk, &mut ids);
                }
            }
        }
    }
    if let Some(length) = options.length {
        ids.truncate(length - 1);
    }
    ids.push(sep);
    if let (Some(length), Some(pad)) = (options.length, pad) {
        ids.resize(length, pad);
    }
    let tokens = ids
        .iter()
        .map(|&id| vocab.token(id).unwrap_or_default().to_string())
        .collect();
    Ok(Encoding { ids, tokens })
}

/// The WordPiece ids of one word, appended to `ids`: greedy longest match first.
pub fn word_pieces(vocab: &Vocab, word: &str, unk: u32, ids: &mut Vec<u32>) {
    let chars = word.chars().count();
    if chars > MAX_WORD_CHARS {
        ids.push(unk);
        return;
    }
    // Byte offsets of the character boundaries, the end included.
    let bounds: Vec<usize> = word
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(word.len()))
        .collect();
    let first = ids.len();
    let mut candidate = String::with_capacity(word.len() + 2);
    let mut start = 0;
    while start < chars {
        let mut found = None;
        for end in (start + 1..=chars).rev() {
            candidate.clear();
            if start > 0 {
                candidate.push_str("##");
            }
            candidate.push_str(&word[bounds[start]..bounds[end]]);
            if let Some(id) = vocab.id(&candidate) {
                found = Some((id, end));
                break;
            }
        }
        match found {
            Some((id, end)) => {
                ids.push(id);
                start = end;
            }
            None => {
                ids.truncate(first);
                ids.push(unk);
                return;
            }
        }
    }
}

/// The text cut into runs of ordinary text (`None`) and special tokens of the vocabulary
/// (their id), in order; the leftmost match wins, the longest at one position.
fn split_special<'a>(vocab: &Vocab, text: &'a str) -> Vec<(&'a str, Option<u32>)> {
    let specials: Vec<(&str, u32)> = SPECIAL_TOKENS
        .iter()
        .filter_map(|&t| vocab.id(t).map(|id| (t, id)))
        .collect();
    let mut runs = Vec::new();
    let mut plain_start = 0;
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let hit = specials
            .iter()
            .filter(|(t, _)| rest.starts_with(t))
            .max_by_key(|(t, _)| t.len());
        match hit {
            Some(&(token, id)) => {
                if plain_start < at {
                    runs.push((&text[plain_start..at], None));
                }
                runs.push((token, Some(id)));
                at += token.len();
                plain_start = at;
            }
            None => at += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_start < text.len() {
        runs.push((&text[plain_start..], None));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        Vocab::parse("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nrun\n##ning\n,\nthe\n##s\ncat\n")
            .unwrap()
    }

    fn tokens(text: &str, options: TokenizeOptions) -> Vec<String> {
        tokenize(&vocab(), text, &options).unwrap().tokens
    }

    #[test]
    fn greedy_longest_match_first_with_continuations() {
        let e = tokenize(&vocab(), "unaffable running", &TokenizeOptions::default()).unwrap();
        assert_eq!(
            e.tokens,
            ["[CLS]", "un", "##aff", "##able", "run", "##ning", "[SEP]"]
        );
        assert_eq!(e.ids, [2, 5, 6, 7, 8, 9, 3]);
        // "unrunx": "un" then "##run" is not an entry: the whole word is [UNK].
        assert_eq!(
            tokens("unrunx, cats", TokenizeOptions::default()),
            ["[CLS]", "[UNK]", ",", "cat", "##s", "[SEP]"]
        );
    }

    #[test]
    fn case_is_kept_without_lowercasing() {
        let cased = TokenizeOptions {
            lowercase: false,
            length: None,
        };
        assert_eq!(tokens("The cat", cased), ["[CLS]", "[UNK]", "cat", "[SEP]"]);
        assert_eq!(
            tokens("The cat", TokenizeOptions::default()),
            ["[CLS]", "the", "cat", "[SEP]"]
        );
    }

    #[test]
    fn long_words_are_unknown() {
        let v = Vocab::parse("[UNK]\na\n##a\n").unwrap();
        let mut ids = Vec::new();
        word_pieces(&v, &"a".repeat(MAX_WORD_CHARS), 0, &mut ids);
        assert_eq!(ids.len(), MAX_WORD_CHARS);
        ids.clear();
        word_pieces(&v, &"a".repeat(MAX_WORD_CHARS + 1), 0, &mut ids);
        assert_eq!(ids, [0]);
    }

    #[test]
    fn special_tokens_in_the_text_are_kept_whole() {
        assert_eq!(
            tokens("the[MASK] [SEP]cat [sep]", TokenizeOptions::default()),
            ["[CLS]", "the", "[MASK]", "[SEP]", "cat", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]
        );
    }

    #[test]
    fn truncation_and_padding_to_a_length() {
        let at = |length| TokenizeOptions {
            lowercase: true,
            length: Some(length),
        };
        assert_eq!(
            tokens("the cat", at(6)),
            ["[CLS]", "the", "cat", "[SEP]", "[PAD]", "[PAD]"]
        );
        assert_eq!(tokens("the cats", at(4)), ["[CLS]", "the", "cat", "[SEP]"]);
        assert_eq!(tokens("the cats", at(2)), ["[CLS]", "[SEP]"]);
        let e = tokenize(&vocab(), "x", &at(1)).unwrap_err().to_string();
        assert!(e.contains("invalid length: 1; expected 2"), "{e}");
    }

    #[test]
    fn missing_special_tokens_are_errors() {
        let v = Vocab::parse("[UNK]\n[CLS]\n[SEP]\nthe\n").unwrap();
        let e = tokenize(&v, "the", &TokenizeOptions::default()).unwrap();
        assert_eq!(e.ids, [1, 3, 2]);
        let padded = TokenizeOptions {
            lowercase: true,
            length: Some(8),
        };
        let e = tokenize(&v, "the", &padded).unwrap_err().to_string();
        assert!(e.contains("no '[PAD]' token"), "{e}");
        let e = tokenize(
            &Vocab::parse("the\n").unwrap(),
            "the",
            &TokenizeOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no '[CLS]' token"), "{e}");
    }
}
