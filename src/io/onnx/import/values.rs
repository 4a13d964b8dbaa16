//! The values a node reads and writes: each ONNX tensor name is bound to a [`Val`] (a run-time
//! graph value, a float constant, or integer constants that may depend on the batch size).
//! Handlers read their inputs as run-time values or constants, bind their outputs, and add graph
//! nodes with unique names; every constant materialised on the way is counted against the
//! import budget ([`MAX_IMPORT_BYTES`](crate::io::onnx::MAX_IMPORT_BYTES)).

use super::forms::{Batch, Form};
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::Val;
use ndarray::ArrayD;
use std::rc::Rc;

impl Importer {
    /// Input `i` of the node, `None` when absent or named "" (an omitted optional input).
    pub(super) fn input(&self, ctx: &NodeCtx, i: usize) -> Result<Option<Val>> {
        let Some(name) = ctx.node.input.get(i).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        if let Some(v) = self.values.get(name) {
            return Ok(Some(v.clone()));
        }
        if let Some(reason) = self.unavailable.get(name) {
            return Err(ctx.err(format!(
                "input '{name}' is {reason}, which nnlens does not compute"
            )));
        }
        Err(ctx.err(format!(
            "input '{name}' is not produced by an earlier node, an initializer or the graph input \
             (nodes must be in topological order)"
        )))
    }

    /// Input `i` of the node, which must be present.
    pub(super) fn required(&self, ctx: &NodeCtx, i: usize) -> Result<Val> {
        self.input(ctx, i)?.ok_or_else(|| {
            ctx.err(format!(
                "input {i} is missing (the node has {} inputs)",
                ctx.node.input.len()
            ))
        })
    }

    /// The node's main input `i`, which must be computed at run time, batch-first (a lifted
    /// value is lowered, [`forms`](super::forms)).
    pub(super) fn runtime(&mut self, ctx: &NodeCtx, i: usize) -> Result<ValueId> {
        let id = self.runtime_any(ctx, i)?;
        self.lower(ctx, id)
    }

    /// The node's main input `i`, which must be computed at run time, in whichever form it is:
    /// for handlers that map ONNX axes through [`Importer::graph_axis`].
    pub(super) fn runtime_any(&self, ctx: &NodeCtx, i: usize) -> Result<ValueId> {
        match self.required(ctx, i)? {
            Val::Runtime(id) => Ok(id),
            other => Err(ctx.err(format!(
                "input {i} is {}; nnlens runs {} on values computed from the model input only",
                other.describe(),
                ctx.op
            ))),
        }
    }

    /// Input `i` as a float constant.
    pub(super) fn float_const(
        &self,
        ctx: &NodeCtx,
        i: usize,
        what: &str,
    ) -> Result<Option<ArrayD<f32>>> {
        match self.input(ctx, i)? {
            None => Ok(None),
            Some(v) => {
                self.spend(ctx, v.bytes())?;
                to_float(v)
                    .map(Some)
                    .map_err(|m| ctx.err(format!("{what} (input {i}) {m}")))
            }
        }
    }

    /// Input `i` as integer constants that do not depend on the batch size.
    pub(super) fn int_const(
        &self,
        ctx: &NodeCtx,
        i: usize,
        what: &str,
    ) -> Result<Option<Vec<i64>>> {
        match self.input(ctx, i)? {
            None => Ok(None),
            Some(Val::Int(a)) => a
                .iter()
                .map(|s| {
                    s.as_int().ok_or_else(|| {
                        ctx.err(format!(
                            "{what} (input {i}) holds {s}, which depends on the batch size"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(ctx.err(format!(
                "{what} (input {i}) is {}; nnlens needs integer constants here (a shape computed \
                 from tensor values at run time cannot be resolved at import)",
                other.describe()
            ))),
        }
    }

    /// Axes given as attribute `axes` (older opsets) or as input `i` (newer ones).
    pub(super) fn axes_list(&self, ctx: &NodeCtx, i: usize) -> Result<Option<Vec<i64>>> {
        match ctx.ints("axes")? {
            Some(a) => Ok(Some(a)),
            None => self.int_const(ctx, i, "axes"),
        }
    }

    /// Counts `bytes` of newly materialised constants against the budget (default
    /// [`MAX_IMPORT_BYTES`](crate::io::onnx::MAX_IMPORT_BYTES)), so that a small file cannot
    /// make the importer copy its constants without bound.
    pub(super) fn spend(&self, ctx: &NodeCtx, bytes: usize) -> Result<()> {
        let total = self.spent.get().saturating_add(bytes);
        if total > self.budget {
            return Err(ctx.err(format!(
                "the constants and weights computed or copied so far take more than {} bytes, \
                 the importer's limit",
                self.budget
            )));
        }
        self.spent.set(total);
        Ok(())
    }

    /// Binds a newly computed value to the node's first output, counting its size.
    pub(super) fn bind(&mut self, ctx: &NodeCtx, val: Val) -> Result<()> {
        self.spend(ctx, val.bytes())?;
        self.alias(ctx, val)
    }

    /// Binds an existing value (shared, not copied) to the node's first output.
    pub(super) fn alias(&mut self, ctx: &NodeCtx, val: Val) -> Result<()> {
        let Some(out) = ctx.node.output.first().filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        if self.values.contains_key(out) {
            return Err(ctx.err(format!(
                "output '{out}' is already defined by an earlier node or initializer"
            )));
        }
        self.values.insert(out.clone(), val);
        for extra in ctx.node.output.iter().skip(1).filter(|o| !o.is_empty()) {
            self.unavailable.insert(
                extra.clone(),
                format!("the extra output of {} node '{}'", ctx.op, ctx.name),
            );
        }
        Ok(())
    }

    /// Adds one graph node for the ONNX node and binds its first output.
    pub(super) fn push(&mut self, ctx: &NodeCtx, op: Op, inputs: &[ValueId]) -> Result<()> {
        let id = self.push_unbound(ctx, op, inputs)?;
        self.bind_runtime(ctx, id)
    }

    /// Adds one graph node whose output has the given form and binds it.
    pub(super) fn push_form(
        &mut self,
        ctx: &NodeCtx,
        op: Op,
        inputs: &[ValueId],
        form: Form,
    ) -> Result<()> {
        let id = self.push_unbound(ctx, op, inputs)?;
        self.forms.insert(id, form);
        self.bind_runtime(ctx, id)
    }

    /// Binds a run-time value to the node's first output; a lifted value whose batch is known
    /// to be back at axis 0 is lowered first.
    pub(super) fn bind_runtime(&mut self, ctx: &NodeCtx, id: ValueId) -> Result<()> {
        let back_first = Form::Lifted {
            batch: Batch::At(0),
        };
        let id = if self.form(id) == back_first {
            self.lower(ctx, id)?
        } else {
            id
        };
        self.bind(ctx, Val::Runtime(id))
    }

    /// Adds one graph node for the ONNX node (named after it, made unique) without binding an
    /// output: a step of a node that becomes several graph nodes. Inputs of mixed forms are
    /// all lifted first, and the output inherits their form ([`Importer::inherited_form`]).
    pub(super) fn push_unbound(
        &mut self,
        ctx: &NodeCtx,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let inputs = self.same_form(ctx, inputs)?;
        let id = self.push_named(&ctx.name, ctx.op, op, &inputs)?;
        let form = self.inherited_form(&inputs, id);
        self.forms.insert(id, form);
        Ok(id)
    }

    /// Adds a graph node that changes a value's form (named after the ONNX node and `step`);
    /// the caller records the output's form.
    pub(super) fn push_step(
        &mut self,
        ctx: &NodeCtx,
        step: &str,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        self.push_named(&format!("{}.{step}", ctx.name), ctx.op, op, inputs)
    }

    /// Adds a graph node named `base` (made unique) labelled `label`. Integer ids (the input of
    /// a model of ids, and their rearrangements) are only looked up, compared or rearranged:
    /// arithmetic on them would be f32 arithmetic where ONNX's is integer (`7 / 2` is 3).
    pub(super) fn push_named(
        &mut self,
        base: &str,
        label: &str,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let reads_ids = inputs.iter().any(|id| self.ids.contains(id));
        let rearranges = matches!(
            op,
            Op::Reshape(_)
                | Op::Transpose(_)
                | Op::Flatten(_)
                | Op::Concat(_)
                | Op::Slice(_)
                | Op::Gather(_)
                | Op::Expand(_)
                | Op::Tile(_)
        );
        let reads_as_ids = matches!(op, Op::Embedding(_) | Op::Compare(_) | Op::BatchConstant(_));
        if reads_ids && !rearranges && !reads_as_ids {
            return Err(Error::Onnx(format!(
                "node '{base}' ({label}) computes with integer ids as numbers; nnlens reads an \
                 integer input as ids for an embedding lookup (Gather of a table), a comparison \
                 or a Cast to float, since integer arithmetic is not float arithmetic"
            )));
        }
        let mut name = base.to_string();
        let mut k = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        let id = self.graph.push(name.clone(), label, op, inputs)?;
        self.names.insert(name);
        if reads_ids && rearranges {
            self.ids.insert(id);
        }
        Ok(id)
    }

    /// Per-sample shape (batch excluded) of a batch-first run-time value.
    pub(super) fn sample_shape(&self, id: ValueId) -> Vec<usize> {
        self.graph.value_shape(id).to_vec()
    }

    /// The ONNX rank of a run-time value (batch included).
    pub(super) fn rank(&self, id: ValueId) -> usize {
        self.onnx_shape(id).len()
    }
}

/// A constant as floats; integer constants are converted when they do not depend on the batch.
pub(super) fn to_float(v: Val) -> std::result::Result<ArrayD<f32>, String> {
    match v {
        Val::Float(a) => Ok(Rc::unwrap_or_clone(a)),
        Val::Int(a) => {
            let data = a
                .iter()
                .map(|s| s.as_int().map(|v| v as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    "depends on the batch size and cannot be used as a float constant".to_string()
                })?;
            ArrayD::from_shape_vec(a.raw_dim(), data).map_err(|e| e.to_string())
        }
        Val::Runtime(_) => Err("is computed at run time, a constant is needed".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::import::import_with_budget;
    use crate::io::onnx::proto::NodeProto;
    use crate::io::onnx::test_model::{float_tensor, from_onnx, model, model_with, node};

    #[test]
    fn names_come_from_nodes_or_outputs_and_are_unique() {
        let nodes = vec![
            node("Relu", "act", &["x"], "a", vec![]),
            node("Sigmoid", "", &["a"], "b", vec![]),
            node("Tanh", "act", &["b"], "y", vec![]),
        ];
        let g = from_onnx(&model(nodes, vec![], &[3])).unwrap();
        let layers: Vec<(String, String)> =
            g.layers().into_iter().map(|l| (l.name, l.op)).collect();
        let expect = [("act", "Relu"), ("b", "Sigmoid"), ("act_1", "Tanh")];
        assert_eq!(layers, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    /// Sharing one weight between many layers copies it each time and is counted; aliasing it
    /// through Identity nodes is free.
    #[test]
    fn materialised_constants_are_budgeted() {
        let w = float_tensor("W", &[64, 64], vec![0.01; 64 * 64]);
        let chain: Vec<NodeProto> = (0..100)
            .map(|i| {
                let input = if i == 0 {
                    "x".to_string()
                } else {
                    format!("h{}", i - 1)
                };
                let out = if i == 99 {
                    "y".to_string()
                } else {
                    format!("h{i}")
                };
                node("MatMul", &format!("m{i}"), &[&input, "W"], &out, vec![])
            })
            .collect();
        let bytes = model_with(chain, vec![w.clone()], &[64], None, 13);
        let e = import_with_budget(&bytes, 1 << 20).unwrap_err().to_string();
        assert!(
            e.contains("node 64 'm64' (MatMul)") && e.contains("more than 1048576 bytes"),
            "{e}"
        );
        assert_eq!(
            import_with_budget(&bytes, 2 << 20).unwrap().nodes().len(),
            100
        );
        let mut aliases: Vec<NodeProto> = (0..1000)
            .map(|i| {
                let input = if i == 0 {
                    "W".to_string()
                } else {
                    format!("w{}", i - 1)
                };
                node(
                    "Identity",
                    &format!("i{i}"),
                    &[&input],
                    &format!("w{i}"),
                    vec![],
                )
            })
            .collect();
        aliases.push(node("MatMul", "m", &["x", "w999"], "y", vec![]));
        let g =
            import_with_budget(&model_with(aliases, vec![w], &[64], None, 13), 1 << 20).unwrap();
        assert_eq!(g.nodes().len(), 1);
    }
}
