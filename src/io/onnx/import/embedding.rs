//! `Gather` of a constant table by indices computed at run time: an embedding lookup
//! ([`Embedding`], PyTorch's `nn.Embedding` exports as `Gather(weight, ids, axis=0)`). The table
//! becomes the layer's parameter; the ids are the model's integer input or values derived from
//! it. Gathering along another axis of a constant is refused.

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::embedding::Embedding;
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;

impl Importer {
    /// `Gather(table, ids)` with a constant `table` and run-time `ids`.
    pub(super) fn embedding(&mut self, ctx: &NodeCtx, table: Val, ids: ValueId) -> Result<()> {
        self.spend(ctx, table.bytes())?;
        let table = to_float(table).map_err(|m| ctx.err(format!("the table (input 0) {m}")))?;
        let axis = fold::axis(ctx.int("axis", 0)?, table.ndim(), "axis").map_err(|e| ctx.err(e))?;
        if axis != 0 {
            return Err(ctx.err(format!(
                "gathers along axis {axis} of a constant of shape {:?} by indices computed at run \
                 time; nnlens looks up rows (axis 0) only",
                table.shape()
            )));
        }
        let op = Embedding::new(table).map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Embedding(op), &[ids])
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::InputType;
    use crate::io::onnx::test_model::{attr_int, err, float_tensor, from_onnx, model_with, node};

    #[test]
    fn a_constant_gathered_by_run_time_ids_is_an_embedding() {
        let table = float_tensor("E", &[3, 2], [0.0, 1.0, 10.0, 11.0, 20.0, 21.0]);
        let nodes = vec![node("Gather", "embed", &["E", "x"], "y", vec![])];
        let g = from_onnx(&model_with(nodes, vec![table.clone()], &[4], None, 13)).unwrap();
        assert_eq!(g.output_shape(), &[4, 2]);
        assert_eq!(g.layers()[0].params, 6);
        let x = g.input_tensor(vec![2.0, 0.0, 1.0, -1.0], 1).unwrap();
        assert_eq!(
            g.forward(x).unwrap().as_slice().unwrap(),
            &[20.0, 21.0, 0.0, 1.0, 10.0, 11.0, 20.0, 21.0]
        );
        assert_eq!(g.input_type(), InputType::Float32);
        let along_one = vec![node(
            "Gather",
            "g",
            &["E", "x"],
            "y",
            vec![attr_int("axis", 1)],
        )];
        let e = err(&model_with(along_one, vec![table], &[4], None, 13));
        assert!(
            e.contains("along axis 1") && e.contains("rows (axis 0)"),
            "{e}"
        );
    }
}
