//! Export of the indexing, repetition and selection ops: `Slice`, `Gather`, `Tile` and
//! `Expand` as their ONNX namesakes (the batch axis kept: start 0 / repeat 1 / size 1 there);
//! a batch constant as `Expand` of the value to `[N, ...]` with `N` read from its input's
//! `Shape`; `Where` with a `BOOL` condition (a constant one as an initializer; a computed one,
//! any float, as `Where(c == 0, y, x)`); a comparison as `Equal`/`Less`/`Greater` followed by `Cast` to `FLOAT`, since
//! nnlens values are floats; `Mod` with its `fmod` attribute.

use super::{attr_int, node, Writer};
use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::io::onnx::data::int_tensor;
use crate::io::onnx::proto::tensor_proto::DataType;
use crate::io::onnx::proto::TensorProto;
use crate::tensor::Tensor;

impl Writer {
    /// An `INT64` initializer of any shape.
    fn int_init_shaped(&mut self, base: &str, shape: &[usize], values: &[i64]) -> String {
        let name = self.fresh(base);
        let mut t = int_tensor(&name, values);
        t.dims = shape.iter().map(|&d| d as i64).collect();
        self.initializers.push(t);
        name
    }

    /// A `BOOL` initializer: `true` where `t` is non-zero.
    fn bool_init(&mut self, base: &str, t: &Tensor) -> String {
        let name = self.fresh(base);
        self.initializers.push(TensorProto {
            name: Some(name.clone()),
            dims: t.shape().iter().map(|&d| d as i64).collect(),
            data_type: Some(DataType::Bool as i32),
            raw_data: Some(t.iter().map(|&v| u8::from(v != 0.0)).collect()),
            ..Default::default()
        });
        name
    }

    /// A `Cast` of `input` to `to`, as a new tensor named after `step`.
    fn cast(&mut self, step: &str, input: String, to: DataType, out: Option<&str>) -> String {
        let output = match out {
            Some(o) => o.to_string(),
            None => self.fresh(step),
        };
        self.nodes.push(node(
            "Cast",
            step,
            vec![input],
            &output,
            vec![attr_int("to", to as i64)],
        ));
        output
    }

    /// Writes one of the indexing ops (`Slice`, `Gather`, `Tile`, `Expand`, `BatchConstant`,
    /// `Where`, `Compare`) or `Mod`; other ops are written by [`Writer::node`].
    pub(super) fn indexing(
        &mut self,
        op: &Op,
        name: &str,
        inputs: &[String],
        out: &str,
    ) -> Result<()> {
        let x = || inputs[0].clone();
        match op {
            Op::Slice(s) => {
                let field = |f: fn(&crate::graph::ops::index::AxisSlice) -> i64| -> Vec<i64> {
                    s.axes().iter().map(f).collect()
                };
                let ins = vec![
                    x(),
                    self.int_init(&format!("{name}.starts"), &field(|a| a.start)),
                    self.int_init(&format!("{name}.ends"), &field(|a| a.end)),
                    self.int_init(&format!("{name}.axes"), &field(|a| a.axis as i64)),
                    self.int_init(&format!("{name}.steps"), &field(|a| a.step)),
                ];
                self.push("Slice", name, ins, out, vec![]);
            }
            Op::Gather(g) => {
                let picks: Vec<i64> = g.indices().iter().map(|&i| i as i64).collect();
                let indices =
                    self.int_init_shaped(&format!("{name}.indices"), g.indices().shape(), &picks);
                let attrs = vec![attr_int("axis", g.axis() as i64)];
                self.push("Gather", name, vec![x(), indices], out, attrs);
            }
            Op::Tile(t) => {
                let repeats: Vec<i64> = t.repeats().iter().map(|&r| r as i64).collect();
                let repeats = self.int_init(&format!("{name}.repeats"), &repeats);
                self.push("Tile", name, vec![x(), repeats], out, vec![]);
            }
            Op::Expand(e) => {
                let shape: Vec<i64> = std::iter::once(1)
                    .chain(e.shape().iter().map(|&d| d as i64))
                    .collect();
                let shape = self.int_init(&format!("{name}.shape"), &shape);
                self.push("Expand", name, vec![x(), shape], out, vec![]);
            }
            Op::BatchConstant(b) => {
                let value = b.value();
                let one: Vec<usize> = std::iter::once(1)
                    .chain(value.shape().iter().copied())
                    .collect();
                let lifted = Tensor::from_shape_vec(one, value.iter().copied().collect())
                    .map_err(|e| Error::Onnx(format!("batch constant value: {e}")))?;
                let value = self.float_init(&format!("{name}.value"), &lifted);
                let [shape, batch, sizes] =
                    ["shape", "batch", "sizes"].map(|s| self.fresh(&format!("{name}/{s}")));
                self.push("Shape", &shape, vec![x()], &shape, vec![]);
                let ins = vec![
                    shape,
                    self.int_init(&format!("{name}.batch_start"), &[0]),
                    self.int_init(&format!("{name}.batch_end"), &[1]),
                ];
                self.push("Slice", &batch, ins, &batch, vec![]);
                let kept: Vec<i64> = b.value().shape().iter().map(|&d| d as i64).collect();
                let kept = self.int_init(&format!("{name}.sample_shape"), &kept);
                self.push(
                    "Concat",
                    &sizes,
                    vec![batch, kept],
                    &sizes,
                    vec![attr_int("axis", 0)],
                );
                self.push("Expand", name, vec![value, sizes], out, vec![]);
            }
            Op::Where(w) => {
                let mut next = inputs.iter().cloned();
                let [c, a, b] = w.operands();
                // A computed condition `c` (any float, non-zero selects x) is written as
                // `Where(c == 0, y, x)`, which nnlens reads back as a comparison.
                let (condition, swap) = match c {
                    Some(t) => (self.bool_init(&format!("{name}.condition"), t), false),
                    None => {
                        let computed = next.next().unwrap_or_default();
                        let zero = self.scalar_init(&format!("{name}.zero"), 0.0);
                        let step = format!("{name}/condition_is_zero");
                        let is_zero = self.fresh(&step);
                        self.push("Equal", &step, vec![computed, zero], &is_zero, vec![]);
                        (is_zero, true)
                    }
                };
                let mut operand = |w: &mut Writer, t: &Option<Tensor>, what: &str| match t {
                    Some(t) => w.float_init(&format!("{name}.{what}"), t),
                    None => next.next().unwrap_or_default(),
                };
                let a = operand(self, a, "x");
                let b = operand(self, b, "y");
                let ins = if swap {
                    vec![condition, b, a]
                } else {
                    vec![condition, a, b]
                };
                self.push("Where", name, ins, out, vec![]);
            }
            Op::Compare(c) => {
                let mut next = inputs.iter().cloned();
                let [a, b] = c.operands();
                let mut operand = |w: &mut Writer, t: &Option<Tensor>, what: &str| match t {
                    Some(t) => w.float_init(&format!("{name}.{what}"), t),
                    None => next.next().unwrap_or_default(),
                };
                let a = operand(self, a, "a");
                let b = operand(self, b, "b");
                let step = format!("{name}/{}", c.kind().name().to_lowercase());
                let truth = self.fresh(&step);
                self.push(c.kind().name(), &step, vec![a, b], &truth, vec![]);
                self.cast(name, truth, DataType::Float, Some(out));
            }
            Op::Mod(m) => {
                let mut next = inputs.iter().cloned();
                let [a, b] = m.operands();
                let mut operand = |w: &mut Writer, t: &Option<Tensor>, what: &str| match t {
                    Some(t) => w.float_init(&format!("{name}.{what}"), t),
                    None => next.next().unwrap_or_default(),
                };
                let a = operand(self, a, "a");
                let b = operand(self, b, "b");
                let attrs = vec![attr_int("fmod", i64::from(m.fmod()))];
                self.push("Mod", name, vec![a, b], out, attrs);
            }
            other => {
                return Err(Error::Onnx(format!(
                    "{} is not an indexing op",
                    other.kind()
                )))
            }
        }
        Ok(())
    }
}
