//! Binary element-wise arithmetic `a op b` for Add, Sub, Mul, Div, Pow, Max, Min and PRelu,
//! with NumPy / ONNX multidirectional broadcasting (PRelu: unidirectional, the slope `b`
//! broadcasts to the shape of `a`).
//!
//! Broadcasting follows NumPy's rules (`elementwise/broadcast.rs`).
//!
//! Partial derivatives, on the broadcast shape:
//! `d(a ± b) = g, ±g`; `d(a b) = g b, g a`; `d(a / b) = g / b, -g a / b²`;
//! `d(a^b) = g b a^(b-1), g a^b ln a` (PyTorch's `pow` backward: `0` for `a` where `b = 0`, and
//! for `b` where `a = 0` and `b >= 0`; a negative `a` with a non-integer `b` is NaN in value and
//! gradient, as in onnxruntime and PyTorch); `max(a, b)` sends `g` to the larger operand and
//! half of it to each on a tie, `min` likewise (PyTorch's `maximum` / `minimum`; a NaN operand
//! gives NaN); `prelu(a, b) = a` for `a >= 0`, `b a` otherwise (ONNX `PRelu`, `b` the slope):
//! `d = g` where `a > 0`, `g b` elsewhere (PyTorch: the slope at 0), and `g a` for the slope
//! where `a < 0`.
//! An operand that was broadcast gets the sum of those partials over the broadcast axes.
//!
//! Both operands can be graph values, which both carry the batch axis first: their ranks and
//! batch sizes must then match. Or one operand is a constant (an ONNX initializer, a bias),
//! which is the op's single, trainable parameter; it must not reach the batch axis, so it has
//! fewer axes than the value, or as many with a leading 1.

use super::{dot, GradientReads, Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
pub use broadcast::broadcast_shapes;
use broadcast::{block_pattern, contiguous};
pub(super) use broadcast::{spread, sum_to_shape};
use ndarray::{CowArray, IxDyn, Zip};

mod broadcast;

/// Which arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (IEEE division: a zero divisor gives an infinity or NaN, as in ONNX).
    Div,
    /// `a^b` (`powf`; NaN for a negative `a` with a non-integer `b`).
    Pow,
    /// The larger of `a` and `b` (NaN if either is).
    Max,
    /// The smaller of `a` and `b` (NaN if either is).
    Min,
    /// `a` for `a >= 0`, `b a` otherwise: a leaky ReLU with the slope `b`.
    PRelu,
}

impl BinaryKind {
    /// The ONNX name of the op.
    pub fn name(&self) -> &'static str {
        match self {
            BinaryKind::Add => "Add",
            BinaryKind::Sub => "Sub",
            BinaryKind::Mul => "Mul",
            BinaryKind::Div => "Div",
            BinaryKind::Pow => "Pow",
            BinaryKind::Max => "Max",
            BinaryKind::Min => "Min",
            BinaryKind::PRelu => "PRelu",
        }
    }

    /// `a op b`.
    #[inline]
    pub fn apply(&self, a: f32, b: f32) -> f32 {
        match self {
            BinaryKind::Add => a + b,
            BinaryKind::Sub => a - b,
            BinaryKind::Mul => a * b,
            BinaryKind::Div => a / b,
            // `x²` (LayerNorm's decomposed form) is a product; `powf` rounds it the same.
            BinaryKind::Pow if b == 2.0 => a * a,
            BinaryKind::Pow => a.powf(b),
            BinaryKind::Max if a > b => a,
            BinaryKind::Max if a <= b => b,
            BinaryKind::Min if a < b => a,
            BinaryKind::Min if a >= b => b,
            // A NaN operand: NaN.
            BinaryKind::Max | BinaryKind::Min => a + b,
            BinaryKind::PRelu if a < 0.0 => b * a,
            BinaryKind::PRelu => a,
        }
    }

    /// `∂(a op b)/∂a` (`Side::Left`) or `∂(a op b)/∂b` (`Side::Right`).
    #[inline]
    fn partial(&self, side: Side, a: f32, b: f32) -> f32 {
        match (self, side) {
            (BinaryKind::Add, _) | (BinaryKind::Sub, Side::Left) => 1.0,
            (BinaryKind::Sub, Side::Right) => -1.0,
            (BinaryKind::Mul, Side::Left) => b,
            (BinaryKind::Mul, Side::Right) => a,
            (BinaryKind::Div, Side::Left) => 1.0 / b,
            (BinaryKind::Div, Side::Right) => -a / (b * b),
            (BinaryKind::Pow, Side::Left) if b == 0.0 => 0.0,
            (BinaryKind::Pow, Side::Left) => b * a.powf(b - 1.0),
            (BinaryKind::Pow, Side::Right) if a == 0.0 && b >= 0.0 => 0.0,
            (BinaryKind::Pow, Side::Right) => a.powf(b) * a.ln(),
            (BinaryKind::Max | BinaryKind::Min, _) if a == b => 0.5,
            (BinaryKind::Max, Side::Left) | (BinaryKind::Min, Side::Right) => {
                if a > b {
                    1.0
                } else {
                    0.0
                }
            }
            (BinaryKind::Max, Side::Right) | (BinaryKind::Min, Side::Left) => {
                if a < b {
                    1.0
                } else {
                    0.0
                }
            }
            (BinaryKind::PRelu, Side::Left) if a > 0.0 => 1.0,
            (BinaryKind::PRelu, Side::Left) => b,
            (BinaryKind::PRelu, Side::Right) if a < 0.0 => a,
            (BinaryKind::PRelu, Side::Right) => 0.0,
        }
    }
}

/// Which operand a constant stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The constant is `a` in `a op x`.
    Left,
    /// The constant is `b` in `x op b`.
    Right,
}

/// `a op b` with NumPy broadcasting. With `constant`, the op takes one graph value and the
/// constant is the operand on its `Side`; the constant is then the op's (trainable) parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    /// The operation.
    kind: BinaryKind,
    /// The constant operand and its side, or `None` when both operands are graph values.
    constant: Option<(Tensor, Side)>,
}

/// `a op b` on any layouts and broadcasts, through an ndarray zip.
fn general_forward(kind: BinaryKind, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    Ok(Zip::from(spread(a, shape)?)
        .and(spread(b, shape)?)
        .map_collect(|&a, &b| kind.apply(a, b)))
}

/// `a op b` as one loop when both operands are contiguous and one has the output's shape while
/// the other repeats by a [`block_pattern`] (equal shapes, per-channel scales and biases: every
/// broadcast of the CNNs), for Add, Sub, Mul and Div, with the operation chosen outside the
/// loop so the loop vectorises; `None` otherwise. Each element is `kind.apply` of the same two values as in
/// [`general_forward`]. EfficientNet-B0's SiLU and squeeze-excitation products took 7% of its
/// forward pass in Chromium through the zip.
fn contiguous_forward(
    kind: BinaryKind,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
) -> Option<Vec<f32>> {
    match kind {
        BinaryKind::Add => contiguous(|x, y| x + y, a, b, shape),
        BinaryKind::Sub => contiguous(|x, y| x - y, a, b, shape),
        BinaryKind::Mul => contiguous(|x, y| x * y, a, b, shape),
        BinaryKind::Div => contiguous(|x, y| x / y, a, b, shape),
        _ => None,
    }
}

impl Binary {
    /// `a op b` between two graph values.
    pub fn between_values(kind: BinaryKind) -> Self {
        Binary {
            kind,
            constant: None,
        }
    }

    /// `constant op x` (`Side::Left`) or `x op constant` (`Side::Right`).
    pub fn with_constant(kind: BinaryKind, constant: Tensor, side: Side) -> Self {
        Binary {
            kind,
            constant: Some((constant, side)),
        }
    }

    /// The operation.
    pub fn kind(&self) -> BinaryKind {
        self.kind
    }

    /// The constant operand and its side, or `None` when both operands are graph values.
    pub fn constant(&self) -> Option<(&Tensor, Side)> {
        self.constant.as_ref().map(|(c, side)| (c, *side))
    }

    /// The two operands `[a, b]`: the inputs, or the input and the constant on its side.
    fn operands<'a, T: ?Sized>(
        &'a self,
        inputs: &[&'a T],
        constant: impl Fn(&'a Tensor) -> &'a T,
    ) -> Result<[&'a T; 2]> {
        match (&self.constant, inputs) {
            (None, &[a, b]) => Ok([a, b]),
            (Some((c, Side::Left)), &[x]) => Ok([constant(c), x]),
            (Some((c, Side::Right)), &[x]) => Ok([x, constant(c)]),
            _ => Err(Error::shape(format!(
                "{} takes {} input(s), got {}",
                self.kind.name(),
                self.arity(),
                inputs.len()
            ))),
        }
    }

    /// The operand tensors `[a, b]`.
    fn operand_tensors<'a>(&'a self, inputs: &[&'a Tensor]) -> Result<[&'a Tensor; 2]> {
        self.operands(inputs, |c| c)
    }

    /// `dL/d operand` for the operand on `side`, summed to that operand's shape.
    fn operand_gradient(&self, side: Side, [a, b]: [&Tensor; 2], g: &Tensor) -> Result<Tensor> {
        if self.kind == BinaryKind::Mul {
            if let Some(gradient) = mul_gradient(side, [a, b], g) {
                return Ok(gradient);
            }
        }
        let shape = g.shape();
        let full = match (self.kind, side) {
            (BinaryKind::Add, _) | (BinaryKind::Sub, Side::Left) => CowArray::from(g.view()),
            (BinaryKind::Sub, Side::Right) => {
                let mut negated = sum_to_shape(CowArray::from(g.view()), b.shape())?;
                negated.mapv_inplace(|v| -v);
                return Ok(negated);
            }
            (BinaryKind::Mul, Side::Left) => Zip::from(g)
                .and(spread(b, shape)?)
                .map_collect(|&g, &b| g * b)
                .into(),
            (BinaryKind::Mul, Side::Right) => Zip::from(g)
                .and(spread(a, shape)?)
                .map_collect(|&g, &a| g * a)
                .into(),
            (BinaryKind::Div, Side::Left) => Zip::from(g)
                .and(spread(b, shape)?)
                .map_collect(|&g, &b| g / b)
                .into(),
            (BinaryKind::Div, Side::Right) => Zip::from(g)
                .and(spread(a, shape)?)
                .and(spread(b, shape)?)
                .map_collect(|&g, &a, &b| -g * a / (b * b))
                .into(),
            (kind, side) => {
                // Pow, Max, Min, PRelu: the partial at each element.
                Zip::from(g)
                    .and(spread(a, shape)?)
                    .and(spread(b, shape)?)
                    .map_collect(|&g, &a, &b| g * kind.partial(side, a, b))
                    .into()
            }
        };
        let operand = match side {
            Side::Left => a,
            Side::Right => b,
        };
        sum_to_shape(full, operand.shape())
    }
}

/// Mul's gradient, all three contiguous, when the operands repeat as in [`contiguous_forward`]
/// (equal shapes, as SiLU's `x · sigmoid(x)`; per-channel or per-plane scales, as
/// squeeze-and-excitation's): for the operand of the output's shape, the output gradient times
/// the other operand repeated by its [`block_pattern`] (the forward pass's loop); for the
/// repeated one, each block's products summed over the repeats (dot products of the blocks of
/// the output gradient with those of the full operand). The same terms as the broadcast product
/// and its reduction (the sums added in another order), without the full product; `None`
/// otherwise.
fn mul_gradient(side: Side, [a, b]: [&Tensor; 2], g: &Tensor) -> Option<Tensor> {
    let (operand, other) = match side {
        Side::Left => (a, b),
        Side::Right => (b, a),
    };
    let shape = g.shape();
    if operand.shape() == shape {
        let product = contiguous(|g, x| g * x, g, other, shape)?;
        return Tensor::from_shape_vec(g.raw_dim(), product).ok();
    }
    let [_, mid, inner] =
        block_pattern(operand.shape(), shape).filter(|_| other.shape() == shape)?;
    let (g_values, other_values) = (g.as_slice()?, other.as_slice()?);
    if g_values.is_empty() {
        return None;
    }
    let mut sums = vec![0.0; mid];
    for (g_repeat, x_repeat) in g_values
        .chunks_exact(mid * inner)
        .zip(other_values.chunks_exact(mid * inner))
    {
        for ((sum, g_block), x_block) in sums
            .iter_mut()
            .zip(g_repeat.chunks_exact(inner))
            .zip(x_repeat.chunks_exact(inner))
        {
            *sum += dot(g_block, x_block);
        }
    }
    Tensor::from_shape_vec(operand.raw_dim(), sums).ok()
}

impl Kernel for Binary {
    fn arity(&self) -> usize {
        if self.constant.is_some() {
            1
        } else {
            2
        }
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let name = self.kind.name();
        let [a, b] = self.operands(inputs, |c| c.shape())?;
        match &self.constant {
            None if a.len() != b.len() || a.first() != b.first() => {
                return Err(Error::shape(format!(
                    "{name} of two values with shapes {a:?} and {b:?}: both have the batch axis first, so their ranks and batch sizes must be equal"
                )));
            }
            Some((c, side)) => {
                let x = match side {
                    Side::Left => b,
                    Side::Right => a,
                };
                let c = c.shape();
                if c.len() > x.len() || (c.len() == x.len() && c.first() != Some(&1)) {
                    return Err(Error::shape(format!(
                        "{name} constant of shape {c:?} would broadcast over the batch axis of the input {x:?}; expected at most {} axes, or {} with a leading 1",
                        x.len().saturating_sub(1),
                        x.len()
                    )));
                }
            }
            None => {}
        }
        let shape = broadcast_shapes(a, b).ok_or_else(|| {
            Error::shape(format!(
                "{name} cannot broadcast shapes {a:?} and {b:?}; aligned from the right, the sizes on every axis must be equal or one of them 1"
            ))
        })?;
        if self.kind == BinaryKind::PRelu && shape != a {
            return Err(Error::shape(format!(
                "PRelu slope of shape {b:?} does not broadcast to the input shape {a:?}; the slope must fit the input (unidirectional broadcasting)"
            )));
        }
        Ok(shape)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let [a, b] = self.operand_tensors(inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let shape = self.output_shape(&shapes)?;
        if let Some(values) = contiguous_forward(self.kind, a, b, &shape) {
            return Tensor::from_shape_vec(IxDyn(&shape), values)
                .map_err(|e| Error::shape(format!("{} output: {e}", self.kind.name())));
        }
        general_forward(self.kind, a, b, &shape)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let operands = self.operand_tensors(inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let expected = self.output_shape(&shapes)?;
        if grad_output.shape() != expected.as_slice() {
            return Err(Error::shape(format!(
                "{} gradient has shape {:?}, expected the output shape {expected:?}",
                self.kind.name(),
                grad_output.shape()
            )));
        }
        let gradient = |side| self.operand_gradient(side, operands, grad_output);
        Ok(match &self.constant {
            None => Grads {
                inputs: vec![gradient(Side::Left)?, gradient(Side::Right)?],
                params: Vec::new(),
            },
            Some((_, side)) => {
                let value_side = match side {
                    Side::Left => Side::Right,
                    Side::Right => Side::Left,
                };
                Grads {
                    inputs: vec![gradient(value_side)?],
                    params: if want_params {
                        vec![gradient(*side)?]
                    } else {
                        Vec::new()
                    },
                }
            }
        })
    }

    fn gradient_reads(&self) -> GradientReads {
        match self.kind {
            BinaryKind::Add => GradientReads::Shapes,
            _ => GradientReads::Values,
        }
    }

    fn lean_input_gradients(
        &self,
        input_shapes: &[&[usize]],
        _output: Option<&Tensor>,
        grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        if self.kind != BinaryKind::Add {
            return None;
        }
        let check = self.output_shape(input_shapes).and_then(|expected| {
            if grad.shape() == expected.as_slice() {
                Ok(())
            } else {
                Err(Error::shape(format!(
                    "{} gradient has shape {:?}, expected the output shape {expected:?}",
                    self.kind.name(),
                    grad.shape()
                )))
            }
        });
        // Each input's gradient is the output gradient summed to its shape, as in `backward`.
        Some(check.and_then(|()| {
            input_shapes
                .iter()
                .map(|shape| sum_to_shape(CowArray::from(grad.view()), shape))
                .collect()
        }))
    }

    fn params(&self) -> Vec<&Tensor> {
        self.constant.iter().map(|(c, _)| c).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        self.constant.iter_mut().map(|(c, _)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    use ndarray::Axis;

    const KINDS: [BinaryKind; 4] = [
        BinaryKind::Add,
        BinaryKind::Sub,
        BinaryKind::Mul,
        BinaryKind::Div,
    ];

    /// Values in ±[0.5, 1.5], safely away from zero so they can be divisors.
    fn nonzero(shape: &[usize], seed: u64) -> Tensor {
        let signs = random_tensor(shape, -1.0, 1.0, seed + 1000).mapv(f32::signum);
        random_tensor(shape, 0.5, 1.5, seed) * signs
    }

    /// Mul's gradient through the block patterns: for the full operand the product with the
    /// other operand repeated (bit for bit the broadcast product), for the repeated one the
    /// broadcast product summed over the repeats (to rounding), on either side and for
    /// per-plane, per-channel, per-row, lower-rank and equal shapes; other broadcasts and
    /// layouts take the general path.
    #[test]
    fn mul_gradient_is_the_broadcast_product_summed() {
        let full = random_tensor(&[2, 3, 4, 5], -2.0, 2.0, 1);
        let g = random_tensor(&[2, 3, 4, 5], -1.0, 1.0, 2);
        let small_shapes: [&[usize]; 6] = [
            &[2, 3, 1, 1],
            &[2, 1, 1, 1],
            &[2, 3, 4, 1],
            &[1, 3, 1, 1],
            &[3, 1, 1],
            &[5],
        ];
        for small_shape in small_shapes {
            let small = random_tensor(small_shape, -2.0, 2.0, 3);
            let spread_small = small.broadcast(IxDyn(full.shape())).unwrap();
            let summed = sum_to_shape(CowArray::from(&g * &full), small_shape).unwrap();
            let scaled = &g * &spread_small;
            for (side, operands) in [
                (Side::Left, [&small, &full]),
                (Side::Right, [&full, &small]),
            ] {
                let other = match side {
                    Side::Left => Side::Right,
                    Side::Right => Side::Left,
                };
                let mul = Binary::between_values(BinaryKind::Mul);
                let of_small = mul_gradient(side, operands, &g).unwrap();
                let of_full = mul_gradient(other, operands, &g).unwrap();
                assert_eq!(of_full, scaled, "{small_shape:?}");
                assert_eq!(of_small.shape(), small_shape);
                for (a, b) in of_small.iter().zip(&summed) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                        "{small_shape:?}: {a} vs {b}"
                    );
                }
                assert_eq!(mul.operand_gradient(side, operands, &g).unwrap(), of_small);
            }
        }
        let other = random_tensor(&[2, 3, 4, 5], -2.0, 2.0, 5);
        assert_eq!(
            mul_gradient(Side::Left, [&full, &other], &g).unwrap(),
            &g * &other,
            "equal shapes"
        );
        let scattered = random_tensor(&[2, 1, 4, 1], -2.0, 2.0, 4);
        assert!(mul_gradient(Side::Left, [&scattered, &full], &g).is_none());
        assert!(mul_gradient(Side::Right, [&scattered, &full], &g).is_none());
        let transposed = other.view().permuted_axes(IxDyn(&[0, 1, 3, 2])).to_owned();
        assert!(mul_gradient(Side::Left, [&full, &transposed], &g).is_none());
    }

    /// The one-loop path gives bit for bit what the general zip gives, on equal shapes,
    /// per-channel scales, rows, scalars and a repeated middle block, with either operand the
    /// smaller one, and declines the broadcasts it does not cover.
    #[test]
    fn contiguous_path_equals_the_zip() {
        let pairs: [(&[usize], &[usize]); 7] = [
            (&[2, 3, 4, 5], &[2, 3, 4, 5]),
            (&[2, 3, 4, 5], &[2, 3, 1, 1]),
            (&[2, 3, 4, 5], &[5]),
            (&[2, 3, 4, 5], &[1]),
            (&[2, 3, 4, 5], &[3, 1, 1]),
            (&[2, 3, 4, 5], &[1, 3, 4, 1]),
            (&[1, 3, 4], &[1, 3, 1]),
        ];
        for (i, (big, small)) in pairs.into_iter().enumerate() {
            let x = random_tensor(big, -2.0, 2.0, 3 + i as u64);
            let y = random_tensor(small, 0.5, 2.0, 30 + i as u64);
            for kind in [
                BinaryKind::Add,
                BinaryKind::Sub,
                BinaryKind::Mul,
                BinaryKind::Div,
            ] {
                for (a, b) in [(&x, &y), (&y, &x)] {
                    let shape = broadcast_shapes(a.shape(), b.shape()).unwrap();
                    let general = general_forward(kind, a, b, &shape).unwrap();
                    let fast = contiguous_forward(kind, a, b, &shape).expect("a block pattern");
                    assert!(
                        fast.iter()
                            .zip(general.iter())
                            .all(|(f, g)| f.to_bits() == g.to_bits()),
                        "{kind:?} {:?} {:?}",
                        a.shape(),
                        b.shape()
                    );
                }
            }
        }
        let x = random_tensor(&[2, 3, 4], -1.0, 1.0, 1);
        let column = random_tensor(&[2, 1, 4], -1.0, 1.0, 2);
        assert!(contiguous_forward(BinaryKind::Add, &x, &column, &[2, 3, 4]).is_none());
        let (p, q) = (
            random_tensor(&[2, 1, 4], 0.0, 1.0, 3),
            random_tensor(&[1, 3, 1], 0.0, 1.0, 4),
        );
        assert!(contiguous_forward(BinaryKind::Mul, &p, &q, &[2, 3, 4]).is_none());
        assert!(contiguous_forward(BinaryKind::Pow, &x, &x, &[2, 3, 4]).is_none());
    }

    #[test]
    fn forward_matches_hand_computation() {
        let x = Tensor::from_shape_vec(vec![1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
        let column = Tensor::from_shape_vec(vec![2, 1], vec![10., 20.]).unwrap();
        let add = Binary::with_constant(BinaryKind::Add, column.clone(), Side::Right);
        assert_eq!(
            add.forward(&[&x]).unwrap().as_slice().unwrap(),
            &[11., 12., 23., 24.]
        );
        let sub = Binary::with_constant(BinaryKind::Sub, column.clone(), Side::Left);
        assert_eq!(
            sub.forward(&[&x]).unwrap().as_slice().unwrap(),
            &[9., 8., 17., 16.]
        );
        let div = Binary::with_constant(BinaryKind::Div, column, Side::Left);
        assert_eq!(
            div.forward(&[&x]).unwrap().as_slice().unwrap(),
            &[10., 5., 20. / 3., 5.]
        );
        let row = Tensor::from_shape_vec(vec![1, 1, 2], vec![2., 3.]).unwrap();
        let mul = Binary::between_values(BinaryKind::Mul)
            .forward(&[&x, &row])
            .unwrap();
        assert_eq!(mul.as_slice().unwrap(), &[2., 6., 6., 12.]);
    }

    #[test]
    fn output_shape_broadcasts_and_rejects_misfits() {
        let values = Binary::between_values(BinaryKind::Add);
        assert_eq!(
            values.output_shape(&[&[1, 3, 1], &[1, 1, 4]]).unwrap(),
            vec![1, 3, 4]
        );
        let err = values
            .output_shape(&[&[1, 3, 4], &[1, 2, 4]])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[1, 3, 4]") && err.contains("[1, 2, 4]"),
            "{err}"
        );
        let rank = values
            .output_shape(&[&[1, 3, 4], &[1, 4]])
            .unwrap_err()
            .to_string();
        assert!(rank.contains("ranks"), "{rank}");
        assert!(
            values.output_shape(&[&[2, 3], &[1, 3]]).is_err(),
            "batch sizes differ"
        );
        assert!(
            values.output_shape(&[&[1, 3]]).is_err(),
            "one input for two operands"
        );

        let constant = |shape: &[usize]| {
            Binary::with_constant(BinaryKind::Mul, Tensor::zeros(shape), Side::Right)
        };
        assert_eq!(constant(&[5]).output_shape(&[&[1, 1]]).unwrap(), vec![1, 5]);
        assert_eq!(
            constant(&[1, 3, 1]).output_shape(&[&[1, 3, 4]]).unwrap(),
            vec![1, 3, 4]
        );
        let batch = constant(&[2, 3, 4])
            .output_shape(&[&[1, 3, 4]])
            .unwrap_err()
            .to_string();
        assert!(
            batch.contains("[2, 3, 4]") && batch.contains("batch"),
            "{batch}"
        );
        assert!(constant(&[1, 1, 3, 4]).output_shape(&[&[1, 3, 4]]).is_err());
        let misfit = constant(&[3])
            .output_shape(&[&[1, 4]])
            .unwrap_err()
            .to_string();
        assert!(
            misfit.contains("[3]") && misfit.contains("[1, 4]"),
            "{misfit}"
        );
    }

    #[test]
    fn gradients_between_values_match_finite_differences() {
        for kind in KINDS {
            let op = Binary::between_values(kind);
            for (a, b) in [
                (&[2, 3, 4][..], &[2, 3, 4][..]),
                (&[2, 3, 4], &[2, 3, 1]),
                (&[2, 1, 4], &[2, 3, 1]),
                (&[2, 3, 4], &[2, 1, 1]),
            ] {
                check(&op, &[nonzero(a, 61), nonzero(b, 62)], Tolerance::default());
            }
        }
    }

    #[test]
    fn gradients_with_constants_match_finite_differences() {
        let x = nonzero(&[2, 3, 4], 63);
        for kind in KINDS {
            for side in [Side::Left, Side::Right] {
                for shape in [&[3, 1][..], &[1], &[], &[4], &[1, 3, 4], &[3, 4]] {
                    let op = Binary::with_constant(kind, nonzero(shape, 64), side);
                    check(&op, std::slice::from_ref(&x), Tolerance::default());
                }
            }
            // The constant stretches an axis of size 1 of the input.
            let widen = Binary::with_constant(kind, nonzero(&[5], 65), Side::Left);
            check(&widen, &[nonzero(&[2, 3, 1], 66)], Tolerance::default());
        }
    }

    #[test]
    fn pow_max_min_prelu_match_pytorch() {
        let a = Tensor::from_shape_vec(vec![1, 4], vec![-2.0, 0.0, 2.0, 1.5]).unwrap();
        let b = Tensor::from_shape_vec(vec![1, 4], vec![3.0, 0.5, 0.0, 1.5]).unwrap();
        let forward = |kind| {
            Binary::between_values(kind)
                .forward(&[&a, &b])
                .unwrap()
                .into_raw_vec_and_offset()
                .0
        };
        assert_eq!(forward(BinaryKind::Pow)[..3], [-8.0, 0.0, 1.0]);
        assert!((forward(BinaryKind::Pow)[3] - 1.5f32.powf(1.5)).abs() < 1e-6);
        assert_eq!(forward(BinaryKind::Max), [3.0, 0.5, 2.0, 1.5]);
        assert_eq!(forward(BinaryKind::Min), [-2.0, 0.0, 0.0, 1.5]);
        assert_eq!(forward(BinaryKind::PRelu), [-6.0, 0.0, 2.0, 1.5]);
        assert!(BinaryKind::Pow.apply(-8.0, 1.0 / 3.0).is_nan());
        assert!(BinaryKind::Max.apply(f32::NAN, 1.0).is_nan());
        assert!(BinaryKind::Min.apply(1.0, f32::NAN).is_nan());

        // PyTorch's gradients at the edges: torch.pow of [0, -2, 2] by [0.5, 3, 0] gives
        // [inf, 12, 0] for the base and [0, nan, ln 2] for the exponent; a tie of
        // torch.maximum splits the gradient in halves.
        let base = Tensor::from_shape_vec(vec![1, 3], vec![0.0, -2.0, 2.0]).unwrap();
        let exponent = Tensor::from_shape_vec(vec![1, 3], vec![0.5, 3.0, 0.0]).unwrap();
        let pow = Binary::between_values(BinaryKind::Pow);
        let y = pow.forward(&[&base, &exponent]).unwrap();
        let grads = pow
            .backward(&[&base, &exponent], &y, &Tensor::ones(vec![1, 3]), false)
            .unwrap();
        assert_eq!(
            grads.inputs[0].as_slice().unwrap(),
            &[f32::INFINITY, 12.0, 0.0]
        );
        let d_exponent = grads.inputs[1].as_slice().unwrap();
        assert!(d_exponent[0] == 0.0 && d_exponent[1].is_nan());
        assert!((d_exponent[2] - std::f32::consts::LN_2).abs() < 1e-6);
        let tie = Tensor::from_shape_vec(vec![1, 2], vec![1.0, 2.0]).unwrap();
        let ones = Tensor::ones(vec![1, 2]);
        for kind in [BinaryKind::Max, BinaryKind::Min] {
            let op = Binary::between_values(kind);
            let y = op.forward(&[&tie, &ones]).unwrap();
            let g = op.backward(&[&tie, &ones], &y, &ones, false).unwrap();
            let (left, right) = match kind {
                BinaryKind::Max => ([0.5, 1.0], [0.5, 0.0]),
                _ => ([0.5, 0.0], [0.5, 1.0]),
            };
            assert_eq!(g.inputs[0].as_slice().unwrap(), &left);
            assert_eq!(g.inputs[1].as_slice().unwrap(), &right);
        }
    }

    #[test]
    fn prelu_slope_broadcasts_to_the_input_only() {
        let prelu = |shape: &[usize]| {
            Binary::with_constant(BinaryKind::PRelu, Tensor::zeros(shape), Side::Right)
        };
        assert_eq!(
            prelu(&[3, 1, 1]).output_shape(&[&[2, 3, 4, 5]]).unwrap(),
            vec![2, 3, 4, 5]
        );
        assert_eq!(prelu(&[1]).output_shape(&[&[2, 3]]).unwrap(), vec![2, 3]);
        let e = prelu(&[5])
            .output_shape(&[&[2, 3, 1]])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[5]") && e.contains("[2, 3, 1]") && e.contains("slope"),
            "{e}"
        );
    }

    #[test]
    fn pow_max_min_prelu_gradients_match_finite_differences() {
        // Away from ties (Max, Min) and kinks (PRelu at 0); Pow on positive bases.
        let x = nonzero(&[2, 3, 4], 67);
        let positive = random_tensor(&[2, 3, 4], 0.5, 2.0, 68);
        for (kind, value) in [
            (BinaryKind::Max, &x),
            (BinaryKind::Min, &x),
            (BinaryKind::PRelu, &x),
            (BinaryKind::Pow, &positive),
        ] {
            let other = random_tensor(&[2, 3, 1], -1.0, 1.0, 69).mapv(|v| v * 0.4 + 0.05);
            check(
                &Binary::between_values(kind),
                &[value.clone(), other],
                Tolerance::default(),
            );
            for shape in [&[3, 1][..], &[1], &[], &[4], &[3, 4]] {
                let slope = random_tensor(shape, -0.4, 0.45, 70);
                let op = Binary::with_constant(kind, slope, Side::Right);
                check(&op, std::slice::from_ref(value), Tolerance::default());
            }
        }
        for kind in [BinaryKind::Max, BinaryKind::Min, BinaryKind::Pow] {
            let op = Binary::with_constant(kind, random_tensor(&[4], 0.6, 1.4, 71), Side::Left);
            check(
                &op,
                &[random_tensor(&[2, 3, 4], -0.3, 0.3, 72)],
                Tolerance::default(),
            );
        }
        // An integer exponent on negative bases: d x³/dx = 3x² (the exponent's own gradient,
        // x³ ln x, is NaN there, as in PyTorch).
        let cube =
            Binary::with_constant(BinaryKind::Pow, Tensor::from_elem(vec![], 3.0), Side::Right);
        let bases = Tensor::from_shape_vec(vec![1, 2], vec![-2.0, -0.5]).unwrap();
        let y = cube.forward(&[&bases]).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-8.0, -0.125]);
        let g = cube
            .backward(&[&bases], &y, &Tensor::ones(vec![1, 2]), true)
            .unwrap();
        assert_eq!(g.inputs[0].as_slice().unwrap(), &[12.0, 0.75]);
        assert!(g.params[0].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn graph_shapes_hold_for_larger_batches() {
        use crate::graph::ops::Op;
        use crate::graph::{Graph, ValueId};
        let mut g = Graph::new(&[2, 3]).unwrap();
        let bias = Tensor::from_shape_vec(vec![3], vec![1., 2., 3.]).unwrap();
        let shifted = g
            .push(
                "shift",
                "Add",
                Op::Binary(Binary::with_constant(BinaryKind::Add, bias, Side::Right)),
                &[ValueId::INPUT],
            )
            .unwrap();
        let product = g
            .push(
                "product",
                "Mul",
                Op::Binary(Binary::between_values(BinaryKind::Mul)),
                &[shifted, ValueId::INPUT],
            )
            .unwrap();
        assert_eq!(g.value_shape(product), &[2, 3]);
        let x = g
            .input_tensor((0..18).map(|v| v as f32).collect(), 3)
            .unwrap();
        let trace = g.trace(x.clone()).unwrap();
        let expected = Zip::from(&x)
            .and_broadcast(&Tensor::from_shape_vec(vec![3], vec![1., 2., 3.]).unwrap())
            .map_collect(|&x, &b| (x + b) * x);
        assert_eq!(trace.output(), &expected);
        let grads = g
            .backward(&trace, Tensor::ones(vec![3, 2, 3]), true)
            .unwrap();
        // d/dx (x + b) x = 2x + b, and the bias gradient sums x over batch and rows.
        let dx = grads.input(&g, 3);
        assert_eq!(dx[[2, 1, 2]], 2.0 * 17.0 + 3.0);
        assert_eq!(grads.params[0][0].shape(), &[3]);
        assert_eq!(grads.params[0][0][[0]], x.index_axis(Axis(2), 0).sum());
    }

    #[test]
    fn params_are_the_constant() {
        let mut op = Binary::with_constant(BinaryKind::Add, Tensor::zeros(vec![3]), Side::Right);
        assert_eq!(op.params().len(), 1);
        op.params_mut()[0].fill(2.0);
        let x = Tensor::zeros(vec![1, 3]);
        assert_eq!(op.forward(&[&x]).unwrap().sum(), 6.0);
        assert!(Binary::between_values(BinaryKind::Add).params().is_empty());
        let y = op.forward(&[&x]).unwrap();
        let no_params = op
            .backward(&[&x], &y, &Tensor::ones(vec![1, 3]), false)
            .unwrap();
        assert!(no_params.params.is_empty());
        assert!(op
            .backward(&[&x], &y, &Tensor::ones(vec![1, 4]), true)
            .is_err());
    }
}
