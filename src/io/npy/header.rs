//! The `.npy` header dict: the Python literal `{'descr': '<f4', 'fortran_order': False,
//! 'shape': (3, 4), }` that `numpy.lib.format` writes (NEP 1; see [`super`] for why it is
//! parsed here). Accepted: exactly the three keys in any order, each once; strings in single or
//! double quotes without escapes; `True`/`False`; a tuple of non-negative decimal integers
//! (`()`, `(3,)`, `(3, 4)`); whitespace between tokens and an optional trailing comma. Anything
//! else (a structured dtype's list, nested tuples, expressions) is an error naming the byte
//! offset. The parser does not recurse, so no header can exhaust the stack.

use super::npy_error;
use crate::error::Result;

/// The fields of a `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    /// The NumPy type string, e.g. `<f4`.
    pub descr: String,
    /// Whether the data is in Fortran order (first axis fastest).
    pub fortran_order: bool,
    /// The dimensions.
    pub shape: Vec<usize>,
}

/// Parses the header bytes that follow the preamble (`bytes` is the whole file up to the first
/// data byte: magic, version, length and the dict).
pub(super) fn parse(bytes: &[u8]) -> Result<Header> {
    let start = if bytes[6] == 1 { 10 } else { 12 };
    let text = std::str::from_utf8(&bytes[start..])
        .map_err(|e| npy_error(format!("the header is not UTF-8 text: {e}")))?;
    let mut cursor = Cursor { text, at: 0 };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    cursor.expect('{')?;
    while !cursor.eat('}') {
        let key = cursor.string("a key in quotes")?;
        cursor.expect(':')?;
        let duplicate = match key {
            "descr" => {
                if cursor.peek() == Some('[') {
                    return Err(npy_error(
                        "descr is a list (a structured dtype); expected one plain numeric type such as '<f4'",
                    ));
                }
                descr.replace(cursor.string("descr as a type string such as '<f4'")?.to_string())
                    .is_some()
            }
            "fortran_order" => fortran_order.replace(cursor.boolean()?).is_some(),
            "shape" => shape.replace(cursor.shape()?).is_some(),
            other => {
                return Err(npy_error(format!(
                    "the header has the key '{other}'; expected only 'descr', 'fortran_order' and 'shape'"
                )))
            }
        };
        if duplicate {
            return Err(npy_error(format!("the header has the key '{key}' twice")));
        }
        if !cursor.eat(',') {
            cursor.expect('}')?;
            break;
        }
    }
    cursor.skip_whitespace();
    if cursor.at != text.len() {
        return Err(cursor.unexpected("the end of the header after its dict"));
    }
    let missing = |key: &str| npy_error(format!("the header has no '{key}' key"));
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// A position in the header text.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    /// The next character after whitespace, not consumed.
    fn peek(&mut self) -> Option<char> {
        self.skip_whitespace();
        self.text[self.at..].chars().next()
    }

    /// Consumes `c` (after whitespace) if it comes next.
    fn eat(&mut self, c: char) -> bool {
        let next = self.peek() == Some(c);
        if next {
            self.at += c.len_utf8();
        }
        next
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{c}'")))
        }
    }

    /// An error saying what was found at the cursor and what was expected.
    fn unexpected(&mut self, expected: &str) -> crate::Error {
        let found: String = self.text[self.at..].chars().take(12).collect();
        let found = if found.is_empty() {
            "the end of the header".to_string()
        } else {
            format!("{found:?}")
        };
        npy_error(format!(
            "the header has {found} at byte {} of its dict text where {expected} was expected",
            self.at
        ))
    }

    /// A string in single or double quotes, without escapes.
    fn string(&mut self, what: &str) -> Result<&'a str> {
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.unexpected(what)),
        };
        let body_start = self.at + 1;
        let Some(len) = self.text[body_start..].find(quote) else {
            return Err(self.unexpected(what));
        };
        let body = &self.text[body_start..body_start + len];
        if body.contains('\\') {
            return Err(self.unexpected(what));
        }
        self.at = body_start + len + 1;
        Ok(body)
    }

    fn boolean(&mut self) -> Result<bool> {
        self.skip_whitespace();
        for (word, value) in [("True", true), ("False", false)] {
            if self.text[self.at..].starts_with(word) {
                self.at += word.len();
                return Ok(value);
            }
        }
        Err(self.unexpected("True or False"))
    }

    /// A tuple of non-negative integers.
    fn shape(&mut self) -> Result<Vec<usize>> {
        self.expect('(')?;
        let mut shape = Vec::new();
        while !self.eat(')') {
            if shape.len() == crate::tensor::limits::MAX_RANK + 1 {
                return Err(npy_error(format!(
                    "the shape has more than {} dimensions; at most {} are supported",
                    crate::tensor::limits::MAX_RANK + 1,
                    crate::tensor::limits::MAX_RANK
                )));
            }
            shape.push(self.dimension()?);
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Ok(shape)
    }

    fn dimension(&mut self) -> Result<usize> {
        self.skip_whitespace();
        let rest = &self.text[self.at..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(self.unexpected("a dimension (a non-negative integer)"));
        }
        let dimension = rest[..digits].parse::<usize>().map_err(|_| {
            npy_error(format!(
                "the shape has the dimension {}, more than {}",
                &rest[..digits],
                usize::MAX
            ))
        })?;
        self.at += digits;
        Ok(dimension)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(dict: &str) -> Result<Header> {
        let mut bytes = b"\x93NUMPY\x01\x00\x00\x00".to_vec();
        bytes.extend_from_slice(dict.as_bytes());
        parse(&bytes)
    }

    fn message(dict: &str) -> String {
        parse_text(dict).unwrap_err().to_string()
    }

    #[test]
    fn reads_what_numpy_writes() {
        let header =
            parse_text("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }    \n")
                .unwrap();
        assert_eq!(
            header,
            Header {
                descr: "<f4".into(),
                fortran_order: false,
                shape: vec![3, 4]
            }
        );
        let header =
            parse_text("{\"shape\":(7,),\"fortran_order\":True,\"descr\":\"|b1\"}").unwrap();
        assert_eq!((header.shape, header.fortran_order), (vec![7], true));
        assert_eq!(
            parse_text("{'descr': '<f8', 'fortran_order': False, 'shape': ()}")
                .unwrap()
                .shape,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn refuses_anything_else_with_the_offset() {
        assert_eq!(
            message("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"),
            "invalid .npy file: the header has \"0, 'shape': \" at byte 34 of its dict text where True or False was expected"
        );
        assert!(
            message("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}")
                .contains("descr is a list (a structured dtype)")
        );
        assert!(
            message("{'descr': '<f4', 'fortran_order': False, 'shape': ((1,),)}")
                .contains("where a dimension (a non-negative integer) was expected")
        );
        assert!(
            message("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}")
                .contains("\"-1,)}\" at byte")
        );
        assert!(message(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}"
        )
        .contains("the dimension 99999999999999999999999, more than"));
        assert!(message("{'descr': '<f4', 'fortran_order': False}").ends_with("no 'shape' key"));
        assert!(message("{'descr': '<f4', 'descr': '<f4'}").ends_with("the key 'descr' twice"));
        assert!(message("{'descr': '<f4', 'version': 1}").contains("the key 'version'"));
        assert!(message("{'descr': '<f4'} extra").contains("where the end of the header"));
        assert!(message("{'descr': 'a\\'b'}").contains("descr as a type string"));
        assert!(message("{'descr").contains("a key in quotes"));
        assert!(message("").contains("the end of the header at byte 0"));
        let deep = format!("{{'shape': {}", "(".repeat(100_000));
        assert!(message(&deep).contains("a dimension"));
        let long = format!("{{'shape': ({}", "1, ".repeat(10));
        assert!(message(&long).contains("more than 9 dimensions"));
        let mut bytes = b"\x93NUMPY\x03\x00\x00\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&[b'{', 0xff, b'}']);
        assert!(parse(&bytes).unwrap_err().to_string().contains("not UTF-8"));
    }
}
