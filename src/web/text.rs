//! Text for JavaScript: `tokenize`, BERT's WordPiece tokenization of a text with a `vocab.txt`
//! ([`crate::text`]), for models that take token ids.

use super::inputs::text as read_text;
use super::js_error;
use super::options::{object, read_options};
use crate::text::{tokenize, TokenizeOptions, Vocab};
use js_sys::{Array, Int32Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TEXT_TYPES: &str = r###"
/** The options of `tokenize`. */
export interface TokenizeOptions {
    /** Lower-case and strip accents first, as uncased BERT models expect. Default true. */
    lowercase?: boolean;
    /** Truncate or pad with `[PAD]` to this many ids, `[CLS]` and `[SEP]` included (`2..=65536`). Default: every token, no padding. */
    length?: number;
}

/** A text as token ids, returned by `tokenize`. */
export interface Tokens {
    /** The vocabulary id of each token, `[CLS]` first (a model's int64 input takes them as they are). */
    ids: Int32Array;
    /** The vocabulary entry of each id, e.g. `["[CLS]", "un", "##aff", "##able", "[SEP]"]`. */
    tokens: string[];
}
"###;

/// Tokenizes `text` as BERT does, with the vocabulary `vocab` (the text of a WordPiece
/// `vocab.txt`: one token per line, line `i` is id `i`) and `options = { lowercase = true,
/// length }`: special tokens typed in the text kept whole, then normalised (controls dropped,
/// CJK ideographs split, accents stripped and lower-cased when `lowercase`), split at whitespace
/// and punctuation, each word greedily into the longest vocabulary pieces (`##` continuations,
/// `[UNK]` when none fits or past 100 characters), and `[CLS] ... [SEP]` around them, truncated
/// or padded with `[PAD]` to `length`. Returns `{ ids, tokens }`. Throws an `Error` for a
/// vocabulary without `[CLS]`, `[SEP]`, `[UNK]` (or `[PAD]` when padding), one over the size
/// limits, or a `length` below 2.
#[wasm_bindgen(js_name = tokenize, unchecked_return_type = "Tokens")]
pub fn tokenize_js(
    #[wasm_bindgen(unchecked_param_type = "string")] vocab: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "TokenizeOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let options: TokenizeOptions =
        read_options(options.unwrap_or(JsValue::UNDEFINED), "tokenize options")?;
    let vocab = Vocab::parse(&read_text(&vocab, "tokenize vocab")?).map_err(js_error)?;
    let text = read_text(&text, "tokenize text")?;
    let encoding = tokenize(&vocab, &text, &options).map_err(js_error)?;
    let ids: Vec<i32> = encoding.ids.iter().map(|&id| id as i32).collect();
    let tokens: Array = encoding
        .tokens
        .iter()
        .map(|t| JsValue::from_str(t))
        .collect();
    object(&[
        ("ids", Int32Array::from(&ids[..]).into()),
        ("tokens", tokens.into()),
    ])
}
