//! Selection by a condition and the comparisons that make conditions.
//!
//! - Where (ONNX `Where`, `np.where(c, x, y)`, `torch.where`): `x` where the condition is
//!   non-zero, `y` elsewhere, the three broadcast together (NumPy rules). Each operand is a
//!   graph value or a constant held by the op. Constants are fixed, not parameters: a masked
//!   fill of `-inf` must stay `-inf`, and a parameter must be finite. Backward: the output
//!   gradient goes to `x` where the condition holds and to `y` elsewhere, each summed over the
//!   axes it was broadcast along; the condition gets a zero gradient.
//! - Compare (ONNX `Equal`, `Less`, `Greater`): `1.0` where `a == b` (`a < b`, `a > b`), `0.0`
//!   elsewhere, broadcast; the gradient is zero almost everywhere, and zero is what it returns.
//!
//! Graph values carry the batch axis first: their ranks and batch sizes must be equal, and a
//! constant must not reach the batch axis (fewer axes than the values, or as many with a
//! leading 1), as for [`super::elementwise::Binary`].

use super::elementwise::{broadcast_shapes, spread, sum_to_shape};
use super::index::check_gradient;
use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{CowArray, Zip};

/// The output shape of an element-wise op of `operands` (`None` for a graph value, read from
/// `inputs` in order; a constant's shape otherwise), checking the batch rules.
pub(super) fn operand_shapes<'a>(
    what: &str,
    operands: &[Option<&'a Tensor>],
    inputs: &[&'a [usize]],
) -> Result<Vec<&'a [usize]>> {
    let mut next = inputs.iter();
    let shapes: Vec<&[usize]> = operands
        .iter()
        .map(|o| match o {
            Some(c) => Ok(c.shape()),
            None => next
                .next()
                .copied()
                .ok_or_else(|| Error::shape(format!("{what} takes {} input(s)", inputs.len() + 1))),
        })
        .collect::<Result<_>>()?;
    let values: Vec<&[usize]> = operands
        .iter()
        .zip(&shapes)
        .filter(|(o, _)| o.is_none())
        .map(|(_, s)| *s)
        .collect();
    let Some(&first) = values.first() else {
        return Err(Error::shape(format!(
            "{what} needs at least one graph value"
        )));
    };
    if let Some(other) = values
        .iter()
        .find(|s| s.len() != first.len() || s.first() != first.first())
    {
        return Err(Error::shape(format!(
            "{what} of values with shapes {first:?} and {other:?}: both have the batch axis first, so their ranks and batch sizes must be equal"
        )));
    }
    for (o, s) in operands.iter().zip(&shapes) {
        if o.is_some()
            && (s.len() > first.len() || (s.len() == first.len() && s.first() != Some(&1)))
        {
            return Err(Error::shape(format!(
                "{what} constant of shape {s:?} would broadcast over the batch axis of the input {first:?}; expected at most {} axes, or {} with a leading 1",
                first.len().saturating_sub(1),
                first.len()
            )));
        }
    }
    Ok(shapes)
}

/// The `K` operands of an element-wise op, each a constant the op holds or `None` for the next
/// graph value it reads (at least one is).
#[derive(Debug, Clone, PartialEq)]
pub struct Operands<const K: usize>([Option<Tensor>; K]);

impl<const K: usize> Operands<K> {
    /// `operands` of the op `what`; fails when all are constants.
    pub(super) fn new(what: &str, operands: [Option<Tensor>; K]) -> Result<Self> {
        if operands.iter().all(Option::is_some) {
            return Err(Error::invalid(
                format!("{what} operands"),
                "all are constants; at least one must be a graph value",
            ));
        }
        Ok(Operands(operands))
    }

    /// Each operand: a constant, or `None` for a graph value.
    pub fn all(&self) -> &[Option<Tensor>; K] {
        &self.0
    }

    /// How many graph values the op reads.
    pub(super) fn arity(&self) -> usize {
        self.0.iter().filter(|o| o.is_none()).count()
    }

    /// Whether operand `i` is a graph value (and so receives a gradient).
    pub(super) fn is_value(&self, i: usize) -> bool {
        self.0[i].is_none()
    }

    /// The output shape for the graph values' `inputs` shapes ([`operand_shapes`], then the
    /// broadcast).
    pub(super) fn output_shape(&self, what: &str, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let constants: Vec<Option<&Tensor>> = self.0.iter().map(Option::as_ref).collect();
        let shapes = operand_shapes(what, &constants, inputs)?;
        broadcast_all(what, &shapes)
    }

    /// The operand tensors, graph values taken from `inputs` in order.
    pub(super) fn tensors<'a>(
        &'a self,
        what: &str,
        inputs: &[&'a Tensor],
    ) -> Result<[&'a Tensor; K]> {
        let mut next = inputs.iter();
        let mut picked = Vec::with_capacity(K);
        for operand in &self.0 {
            picked.push(match operand {
                Some(c) => c,
                None => next
                    .next()
                    .copied()
                    .ok_or_else(|| Error::shape(format!("{what}: too few inputs")))?,
            });
        }
        picked
            .try_into()
            .map_err(|_| Error::shape(format!("{what}: {K} operands expected")))
    }
}

/// The broadcast of `shapes`, or an error naming them.
pub(super) fn broadcast_all(what: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let mut out: Vec<usize> = Vec::new();
    for s in shapes {
        out = broadcast_shapes(&out, s).ok_or_else(|| {
            Error::shape(format!(
                "{what} cannot broadcast shapes {shapes:?}; aligned from the right, the sizes on every axis must be equal or one of them 1"
            ))
        })?;
    }
    Ok(out)
}

/// `x` where `condition` is non-zero, else `y`.
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    /// `[condition, x, y]`.
    operands: Operands<3>,
}

impl Where {
    /// The selection of `[condition, x, y]`, each a constant or `None` for a graph value (the
    /// graph values are the op's inputs, in that order); fails when all three are constants.
    pub fn new(operands: [Option<Tensor>; 3]) -> Result<Self> {
        Ok(Where {
            operands: Operands::new("where", operands)?,
        })
    }

    /// `[condition, x, y]`: each a constant, or `None` for a graph value.
    pub fn operands(&self) -> &[Option<Tensor>; 3] {
        self.operands.all()
    }
}

impl Kernel for Where {
    fn arity(&self) -> usize {
        self.operands.arity()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.operands.output_shape("where", inputs)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let [c, x, y] = self.operands.tensors("where", inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        Ok(Zip::from(spread(c, &out)?)
            .and(spread(x, &out)?)
            .and(spread(y, &out)?)
            .map_collect(|&c, &x, &y| if c != 0.0 { x } else { y }))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let [c, x, y] = self.operands.tensors("where", inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        check_gradient("where", grad_output, &out)?;
        let cond = spread(c, &out)?;
        let routed = |take: bool, operand: &Tensor| -> Result<Tensor> {
            let full = Zip::from(grad_output).and(&cond).map_collect(|&g, &c| {
                if (c != 0.0) == take {
                    g
                } else {
                    0.0
                }
            });
            sum_to_shape(CowArray::from(full), operand.shape())
        };
        let mut grads = Vec::with_capacity(inputs.len());
        if self.operands.is_value(0) {
            grads.push(Tensor::zeros(c.raw_dim()));
        }
        if self.operands.is_value(1) {
            grads.push(routed(true, x)?);
        }
        if self.operands.is_value(2) {
            grads.push(routed(false, y)?);
        }
        Ok(Grads {
            inputs: grads,
            params: Vec::new(),
        })
    }
}

/// Which comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareKind {
    /// `a == b`.
    Equal,
    /// `a < b`.
    Less,
    /// `a > b`.
    Greater,
}

impl CompareKind {
    /// The ONNX op name: `"Equal"`, `"Less"`, `"Greater"`.
    pub fn name(self) -> &'static str {
        match self {
            CompareKind::Equal => "Equal",
            CompareKind::Less => "Less",
            CompareKind::Greater => "Greater",
        }
    }

    /// Whether `a kind b` holds.
    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CompareKind::Equal => a == b,
            CompareKind::Less => a < b,
            CompareKind::Greater => a > b,
        }
    }
}

/// `1.0` where `a kind b`, else `0.0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    kind: CompareKind,
    /// `[a, b]`.
    operands: Operands<2>,
}

impl Compare {
    /// The comparison of `[a, b]`, each a constant or `None` for a graph value; fails when
    /// both are constants.
    pub fn new(kind: CompareKind, operands: [Option<Tensor>; 2]) -> Result<Self> {
        Ok(Compare {
            kind,
            operands: Operands::new("comparison", operands)?,
        })
    }

    /// The comparison.
    pub fn kind(&self) -> CompareKind {
        self.kind
    }

    /// `[a, b]`: each a constant, or `None` for a graph value.
    pub fn operands(&self) -> &[Option<Tensor>; 2] {
        self.operands.all()
    }
}

impl Kernel for Compare {
    fn arity(&self) -> usize {
        self.operands.arity()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.operands.output_shape(self.kind.name(), inputs)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let [a, b] = self.operands.tensors(self.kind.name(), inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        let kind = self.kind;
        Ok(Zip::from(spread(a, &out)?)
            .and(spread(b, &out)?)
            .map_collect(|&a, &b| f32::from(u8::from(kind.holds(a, b)))))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        check_gradient(self.kind.name(), grad_output, output.shape())?;
        Ok(Grads {
            inputs: inputs.iter().map(|x| Tensor::zeros(x.raw_dim())).collect(),
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    use ndarray::IxDyn;

    fn tensor(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::from_shape_vec(IxDyn(shape), data.to_vec()).unwrap()
    }

    #[test]
    fn where_selects_with_broadcasting() {
        let cond = tensor(&[2], &[1.0, 0.0]);
        let fill = tensor(&[], &[f32::NEG_INFINITY]);
        let op = Where::new([Some(cond.clone()), None, Some(fill)]).unwrap();
        let x = tensor(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(
            y,
            tensor(&[2, 2], &[1.0, f32::NEG_INFINITY, 3.0, f32::NEG_INFINITY])
        );
        assert!(op.params().is_empty());
        let both = Where::new([Some(cond), None, None]).unwrap();
        assert_eq!(both.arity(), 2);
        assert!(both.output_shape(&[&[2, 2], &[2, 2, 1]]).is_err());
        let over_batch = Where::new([Some(tensor(&[2, 2], &[1.0; 4])), None, None]).unwrap();
        let e = over_batch
            .output_shape(&[&[1, 2], &[1, 2]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch axis"), "{e}");
        assert!(Where::new([Some(x.clone()), Some(x.clone()), Some(x)]).is_err());
    }

    #[test]
    fn where_gradients_follow_the_condition() {
        let cond = tensor(&[3, 1], &[1.0, 0.0, 1.0]);
        let op = Where::new([Some(cond), None, None]).unwrap();
        check(
            &op,
            &[
                random_tensor(&[2, 3, 4], -1.0, 1.0, 8),
                random_tensor(&[2, 1, 4], -1.0, 1.0, 9),
            ],
            Tolerance::default(),
        );
        // A run-time condition gets a zero gradient (its finite differences are zero away from
        // the 0/1 values).
        let op = Where::new([None, Some(tensor(&[], &[0.5])), None]).unwrap();
        let c = tensor(&[2, 2], &[1.0, 0.0, 0.0, 1.0]);
        let g = op
            .backward(
                &[&c, &c],
                &c,
                &tensor(&[2, 2], &[1.0, 2.0, 3.0, 4.0]),
                false,
            )
            .unwrap();
        assert_eq!(g.inputs[0], Tensor::zeros(IxDyn(&[2, 2])));
        assert_eq!(g.inputs[1], tensor(&[2, 2], &[0.0, 2.0, 3.0, 0.0]));
    }

    #[test]
    fn comparisons_give_ones_and_zeros() {
        let x = tensor(&[1, 3], &[1.0, 2.0, 3.0]);
        let b = Some(tensor(&[1], &[2.0]));
        for (kind, want) in [
            (CompareKind::Equal, [0.0, 1.0, 0.0]),
            (CompareKind::Less, [1.0, 0.0, 0.0]),
            (CompareKind::Greater, [0.0, 0.0, 1.0]),
        ] {
            let op = Compare::new(kind, [None, b.clone()]).unwrap();
            assert_eq!(op.forward(&[&x]).unwrap(), tensor(&[1, 3], &want));
            let g = op.backward(&[&x], &x, &x, false).unwrap();
            assert_eq!(g.inputs[0], Tensor::zeros(IxDyn(&[1, 3])));
        }
        let nan = tensor(&[1, 1], &[f32::NAN]);
        let op = Compare::new(CompareKind::Equal, [None, None]).unwrap();
        assert_eq!(op.forward(&[&nan, &nan]).unwrap(), tensor(&[1, 1], &[0.0]));
        assert!(Compare::new(CompareKind::Less, [b.clone(), b]).is_err());
    }
}
