//! nnlens's BERT tokenization against HuggingFace's `BertTokenizer` (transformers 5, its
//! `tokenizers` backend): the cases of `tests/fixtures/text/wordpiece.json`, written by
//! `tests/fixtures/make_wordpiece_fixtures.py` with the vocabulary `tests/fixtures/text/vocab.txt`
//! (accents, Greek final sigma, Cyrillic, CJK ideographs, Hangul, control and format characters,
//! Unicode whitespace and punctuation, special tokens typed in the text, words of 100 and 101
//! characters, truncation and padding), each uncased and cased: the same ids and tokens.

use nnlens::text::{tokenize, TokenizeOptions, Vocab};
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/text/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn tokenization_matches_huggingface_bert_tokenizer() {
    let vocab = Vocab::parse(&fixture("vocab.txt")).unwrap();
    let doc: Value = serde_json::from_str(&fixture("wordpiece.json")).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 54);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let options = TokenizeOptions {
            lowercase: case["lowercase"].as_bool().unwrap(),
            length: case["length"].as_u64().map(|l| l as usize),
        };
        let got = tokenize(&vocab, text, &options).unwrap();
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let tokens: Vec<&str> = case["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(got.ids, ids, "{text:?} {options:?}");
        assert_eq!(got.tokens, tokens, "{text:?} {options:?}");
    }
}
