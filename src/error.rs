//! The one error type of nnlens.
//!
//! Every fallible function returns [`Result`]. Messages say what was wrong and what was
//! expected, with the values and shapes involved, because they reach users verbatim as the
//! message of a JavaScript `Error`.

use std::fmt;

/// Everything that can go wrong in nnlens.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input buffer does not hold `batch` samples of the model's input shape.
    #[error(
        "input has {actual} values, expected {expected} (batch {batch} x input shape {shape:?})"
    )]
    InputLength {
        /// Values given.
        actual: usize,
        /// Values needed: `batch × prod(shape)`.
        expected: usize,
        /// Samples asked for.
        batch: usize,
        /// The model's per-sample input shape.
        shape: Vec<usize>,
    },
    /// Shapes that do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An error raised while building or running one node of the graph.
    #[error("layer '{node}' ({op}): {source}")]
    AtNode {
        /// The node's name.
        node: String,
        /// The node's op (e.g. `Conv2d`, or the ONNX `op_type`).
        op: String,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },
    /// A parameter or option value that is outside its valid range.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// The parameter or option, e.g. `"learning rate"`.
        what: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A required field is absent.
    #[error("missing field '{field}' in {context}")]
    MissingField {
        /// The field's name.
        field: String,
        /// Where it was missing, e.g. `"layer 1 ('out', dense)"`.
        context: String,
    },
    /// A name that is not one of the known ones (layer type, node, method, option...).
    #[error("unknown {kind} '{name}'; expected one of: {expected}")]
    Unknown {
        /// What kind of name, e.g. `"colormap"`.
        kind: String,
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        expected: String,
    },
    /// A NaN or infinite value where finite numbers are required.
    #[error("{what} contains a non-finite value ({value}) at index {index}")]
    NonFinite {
        /// The buffer or parameter, e.g. `"input"`.
        what: String,
        /// The flat index of the first such value.
        index: usize,
        /// The value: NaN or an infinity.
        value: f32,
    },
    /// A target index outside the model's output.
    #[error("target {target} is out of range: the output has {len} elements (valid targets 0..={max})", max = .len.saturating_sub(1))]
    TargetOutOfRange {
        /// The target index given.
        target: usize,
        /// Elements in the (per-sample) output.
        len: usize,
    },
    /// A tensor larger than nnlens accepts (see [`crate::tensor::limits`]).
    #[error("{what} with shape {shape:?} has {elements} elements, more than the limit of {limit}")]
    TooLarge {
        /// What would have been allocated, e.g. `"layer output"`.
        what: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Its element count (as text: it may overflow `usize`).
        elements: String,
        /// The largest count accepted.
        limit: usize,
    },
    /// Text that is not valid JSON or not the nnlens JSON format.
    #[error("invalid nnlens JSON: {0}")]
    Json(String),
    /// Bytes that are not a valid ONNX model, or an ONNX model nnlens cannot run.
    #[error("ONNX: {0}")]
    Onnx(String),
    /// A drawing backend failed while a chart was drawn (see [`crate::render::chart`]).
    #[error("rendering failed: {0}")]
    Render(String),
}

/// Result alias used throughout nnlens.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Shape`] from anything printable.
    pub fn shape(message: impl fmt::Display) -> Self {
        Error::Shape(message.to_string())
    }

    /// A [`Error::Invalid`] for `what` with an explanation.
    pub fn invalid(what: impl fmt::Display, message: impl fmt::Display) -> Self {
        Error::Invalid {
            what: what.to_string(),
            message: message.to_string(),
        }
    }

    /// A [`Error::Unknown`] listing the accepted names.
    pub fn unknown<S: AsRef<str>>(kind: &str, name: &str, expected: &[S]) -> Self {
        Error::Unknown {
            kind: kind.to_string(),
            name: name.to_string(),
            expected: expected
                .iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Wraps the error with the node it happened at.
    pub fn at_node(self, node: &str, op: &str) -> Self {
        Error::AtNode {
            node: node.to_string(),
            op: op.to_string(),
            source: Box::new(self),
        }
    }
}

/// Fails with [`Error::NonFinite`] at the first NaN or infinity in `values`.
pub fn ensure_finite(what: &str, values: impl IntoIterator<Item = f32>) -> Result<()> {
    for (index, value) in values.into_iter().enumerate() {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: what.to_string(),
                index,
                value,
            });
        }
    }
    Ok(())
}
