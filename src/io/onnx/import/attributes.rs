//! Reading a node's attributes: [`NodeCtx`] names the node for messages and reads its
//! attributes with their declared types checked against the ones the importer expects
//! (`AttributeProto`, <https://onnx.ai/onnx/repo-docs/IR.html#attributes>), defaults for absent
//! ones, and ranges for integer lists.

use crate::error::{Error, Result};
use crate::io::onnx::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};

/// One node being imported, for attribute access and messages.
pub(super) struct NodeCtx<'a> {
    pub(super) node: &'a NodeProto,
    pub(super) index: usize,
    pub(super) op: &'a str,
    pub(super) name: String,
}

impl<'a> NodeCtx<'a> {
    pub(super) fn new(index: usize, node: &'a NodeProto) -> Self {
        let op = node.op_type();
        let name = if !node.name().is_empty() {
            node.name().to_string()
        } else if let Some(out) = node.output.first().filter(|o| !o.is_empty()) {
            out.clone()
        } else if !op.is_empty() {
            op.to_string()
        } else {
            format!("node{index}")
        };
        NodeCtx {
            node,
            index,
            op,
            name,
        }
    }

    /// `error` (from building this node's op) marked with the node, as [`Graph::push`] marks
    /// the errors of the ops it checks.
    ///
    /// [`Graph::push`]: crate::graph::Graph::push
    pub(super) fn at_node(&self, error: Error) -> Error {
        error.at_node(&self.name, self.op)
    }

    pub(super) fn err(&self, message: impl std::fmt::Display) -> Error {
        Error::Onnx(format!(
            "node {} '{}' ({}): {message}",
            self.index, self.name, self.op
        ))
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name() == name)
    }

    /// The attribute `name` if present, after checking its declared type.
    pub(super) fn typed(
        &self,
        name: &str,
        ty: AttributeType,
    ) -> Result<Option<&'a AttributeProto>> {
        let Some(a) = self.attr(name) else {
            return Ok(None);
        };
        if !a.ref_attr_name().is_empty() {
            return Err(self.err(format!("attribute '{name}' refers to a function attribute")));
        }
        match a.r#type {
            Some(t) if t != ty as i32 => Err(self.err(format!(
                "attribute '{name}' has type {}, expected {}",
                AttributeType::try_from(t)
                    .map(|t| t.as_str_name())
                    .unwrap_or("unknown"),
                ty.as_str_name()
            ))),
            _ => Ok(Some(a)),
        }
    }

    pub(super) fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self
            .typed(name, AttributeType::Int)?
            .and_then(|a| a.i)
            .unwrap_or(default))
    }

    pub(super) fn float(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self
            .typed(name, AttributeType::Float)?
            .and_then(|a| a.f)
            .unwrap_or(default))
    }

    pub(super) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    pub(super) fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    pub(super) fn string(&self, name: &str, default: &str) -> Result<String> {
        match self
            .typed(name, AttributeType::String)?
            .and_then(|a| a.s.as_ref())
        {
            Some(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| self.err(format!("attribute '{name}' is not valid UTF-8"))),
            None => Ok(default.to_string()),
        }
    }

    pub(super) fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.int(name, i64::from(default))? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.err(format!("attribute '{name}' must be 0 or 1, got {v}"))),
        }
    }

    /// A non-negative integer attribute as `usize`.
    pub(super) fn usizes(&self, name: &str, values: &[i64], min: i64) -> Result<Vec<usize>> {
        values
            .iter()
            .map(|&v| {
                if v < min {
                    Err(self.err(format!(
                        "attribute '{name}' values must be >= {min}, got {values:?}"
                    )))
                } else {
                    usize::try_from(v)
                        .map_err(|_| self.err(format!("attribute '{name}' value {v} is too large")))
                }
            })
            .collect()
    }
}
