//! A WordPiece vocabulary read from the text of a `vocab.txt`: one token per line, the token on
//! line `i` (from 0) has id `i`; a line ends at `\n` or `\r\n`, and nothing else of it is
//! trimmed. A token listed twice keeps the id of its last line, as HuggingFace's `load_vocab`
//! does. Sizes are checked before anything is allocated ([`MAX_VOCAB_BYTES`],
//! [`MAX_VOCAB_TOKENS`], [`MAX_TOKEN_BYTES`]), so a hostile file gives an error, not an
//! out-of-memory abort.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// Largest vocabulary text accepted: 64 MiB (BERT's is 232 KB, multilingual ones about 1 MB).
pub const MAX_VOCAB_BYTES: usize = 64 << 20;
/// Most tokens (lines) a vocabulary may have: 2^21 (ids fit an `i32`).
pub const MAX_VOCAB_TOKENS: usize = 1 << 21;
/// Longest token accepted, in bytes of UTF-8.
pub const MAX_TOKEN_BYTES: usize = 1024;

/// Tokens and their ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Vocab {
    /// Reads the text of a `vocab.txt` (see the module docs).
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_VOCAB_BYTES {
            return Err(Error::invalid(
                "vocabulary",
                format!(
                    "the text has {} bytes, more than the limit of {MAX_VOCAB_BYTES}",
                    text.len()
                ),
            ));
        }
        let mut count = 0usize;
        for (line, token) in text.lines().enumerate() {
            if token.len() > MAX_TOKEN_BYTES {
                return Err(Error::invalid(
                    "vocabulary",
                    format!(
                        "line {} has {} bytes, more than the limit of {MAX_TOKEN_BYTES} for one token",
                        line + 1,
                        token.len()
                    ),
                ));
            }
            count += 1;
        }
        if count == 0 {
            return Err(Error::invalid(
                "vocabulary",
                "the text is empty; expected one token per line (a WordPiece vocab.txt)",
            ));
        }
        if count > MAX_VOCAB_TOKENS {
            return Err(Error::invalid(
                "vocabulary",
                format!("{count} tokens, more than the limit of {MAX_VOCAB_TOKENS}"),
            ));
        }
        let mut tokens = Vec::with_capacity(count);
        let mut ids = HashMap::with_capacity(count);
        for (id, token) in text.lines().enumerate() {
            tokens.push(token.to_string());
            ids.insert(token.to_string(), id as u32);
        }
        Ok(Self { tokens, ids })
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// The id of a token the tokenizer needs, or an error naming it.
    pub fn required_id(&self, token: &str) -> Result<u32> {
        self.id(token).ok_or_else(|| {
            Error::invalid(
                "vocabulary",
                format!(
                    "it has no '{token}' token among its {} lines; a BERT vocab.txt lists [PAD], [UNK], [CLS] and [SEP]",
                    self.tokens.len()
                ),
            )
        })
    }

    /// The token of line `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Number of lines (ids) of the vocabulary.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always false: a vocabulary has at least one token.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_line_numbers_and_crlf_is_a_line_end() {
        let v = Vocab::parse("[PAD]\r\n[UNK]\nhello\n##s").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v.id("[UNK]"), Some(1));
        assert_eq!(v.id("##s"), Some(3));
        assert_eq!(v.token(2), Some("hello"));
        assert_eq!(v.token(4), None);
        assert_eq!(v.id("hello\r"), None);
    }

    #[test]
    fn a_repeated_token_keeps_its_last_id_and_spaces_are_kept() {
        let v = Vocab::parse("a\nb\na\n b\n").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v.id("a"), Some(2));
        assert_eq!(v.token(0), Some("a"));
        assert_eq!(v.id(" b"), Some(3));
    }

    #[test]
    fn empty_and_oversized_vocabularies_are_refused() {
        let e = Vocab::parse("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let long = format!("a\n{}\n", "x".repeat(MAX_TOKEN_BYTES + 1));
        let e = Vocab::parse(&long).unwrap_err().to_string();
        assert!(e.contains("line 2 has 1025 bytes"), "{e}");
        let many = "\n".repeat(MAX_VOCAB_TOKENS + 1);
        let e = Vocab::parse(&many).unwrap_err().to_string();
        assert!(e.contains("2097153 tokens"), "{e}");
    }

    #[test]
    fn a_missing_special_token_is_named() {
        let v = Vocab::parse("[PAD]\nhello\n").unwrap();
        assert_eq!(v.required_id("[PAD]").unwrap(), 0);
        let e = v.required_id("[UNK]").unwrap_err().to_string();
        assert!(e.contains("no '[UNK]' token among its 2 lines"), "{e}");
    }
}
