//! Text for models of token ids: BERT's WordPiece tokenization (Devlin et al. 2019, "BERT:
//! Pre-training of Deep Bidirectional Transformers for Language Understanding"; Wu et al. 2016
//! for WordPiece), as HuggingFace's `BertTokenizer` runs it (transformers 5, backed by the
//! `tokenizers` crate's `BertNormalizer`, `BertPreTokenizer`, `WordPiece` and
//! `BertProcessing`).
//!
//! A text becomes ids in four steps: the special tokens of the vocabulary typed in the text
//! (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`) are kept whole; the rest is normalised and
//! split into words ([`normalize`]: control characters dropped, whitespace unified, CJK
//! ideographs split apart, accents stripped and lower-cased when lower-casing, split at
//! whitespace and around punctuation); each word becomes WordPiece tokens ([`wordpiece`]:
//! greedy longest match first, `##` before continuations, a word that cannot be covered or of
//! more than 100 characters is `[UNK]`); and `[CLS] ... [SEP]` is put around them, truncated or
//! padded with `[PAD]` to a given length. The vocabulary is a `vocab.txt` ([`vocab`]).
//!
//! The HuggingFace `tokenizers` crate itself is not used: its BERT pipeline comes with the
//! whole library (every model, normaliser and pre-tokenizer, regex engines, serde formats,
//! `esaxx` and Oniguruma C code unless the wasm feature swaps in `fancy-regex`), far more code in
//! the wasm module than this one pipeline. Canonical decomposition comes from the unicode-rs crate
//! `unicode-normalization`; the general categories from a compact table ([`classes`]) made from
//! the unicode-rs crate `unicode-properties`, whose own table would be four times its size.

pub mod classes;
mod classes_table;
pub mod normalize;
pub mod vocab;
pub mod wordpiece;

pub use vocab::Vocab;
pub use wordpiece::{tokenize, Encoding, TokenizeOptions};
