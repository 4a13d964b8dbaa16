//! Matrix product of two graph values (ONNX `MatMul` between activations, as in attention
//! scores `q kᵀ`); a product with a constant weight is a [`super::dense::Dense`] layer instead.
//!
//! Both operands carry the batch axis first and have rank >= 3: `a` is `[N, ..., M, K]` and
//! `b` is `[N, ..., K, P]` with the same leading axes; the result is `[N, ..., M, P]`. The
//! leading axes are flattened into a stack of matrices, each multiplied into its place in the
//! output.
//! Backward: `da = g bᵀ`, `db = aᵀ g`, matrix by matrix.

use super::{product_into, Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array3, ArrayView3, Axis, CowArray, Ix3};

/// `a @ b` over the last two axes, stacked over the leading ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatMul;

/// Views `x` (`[..., rows, cols]`, leading axes flattened) as a stack of matrices, copied only
/// when `x` is not in standard layout.
fn stack(x: &Tensor) -> Result<CowArray<'_, f32, Ix3>> {
    let shape = x.shape();
    let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let depth: usize = shape[..shape.len() - 2].iter().product();
    x.as_standard_layout()
        .into_shape_with_order((depth, rows, cols))
        .map_err(|e| Error::shape(format!("matmul operand {shape:?}: {e}")))
}

/// `out[i] = op(x[i]) · op(y[i])` for every matrix of the stacks, transposing as asked, each
/// product written into its place in `out`: the forward pass's (no transpose) through the
/// product the convolutions use (the wasm sgemm, which reads both operands in place), the
/// backward pass's through matrixmultiply, which reads the transposed views. Against ndarray's
/// `dot` with a copy of each operand and of each product, the transformer fixture's forward
/// pass at batch 16 went 1.47 → 1.35 ms in Chromium (BENCHMARKS.md, twenty-first pass).
fn batched(x: ArrayView3<f32>, y: ArrayView3<f32>, tx: bool, ty: bool) -> Array3<f32> {
    let depth = x.shape()[0];
    let rows = if tx { x.shape()[2] } else { x.shape()[1] };
    let cols = if ty { y.shape()[1] } else { y.shape()[2] };
    let mut out = Array3::zeros((depth, rows, cols));
    for (i, c) in out.outer_iter_mut().enumerate() {
        let (a, b) = (x.index_axis(Axis(0), i), y.index_axis(Axis(0), i));
        if tx || ty {
            let a = if tx { a.reversed_axes() } else { a };
            let b = if ty { b.reversed_axes() } else { b };
            general_mat_mul(1.0, &a, &b, 0.0, &mut { c });
        } else {
            product_into(a, b, c);
        }
    }
    out
}

impl Kernel for MatMul {
    fn arity(&self) -> usize {
        2
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let (a, b) = (inputs[0], inputs[1]);
        if a.len() < 3 || a.len() != b.len() {
            return Err(Error::shape(format!(
                "matmul of two values needs operands [batch, ..., M, K] and [batch, ..., K, P] of \
                 the same rank >= 3, got {a:?} and {b:?}"
            )));
        }
        let r = a.len();
        if a[..r - 2] != b[..r - 2] || a[r - 1] != b[r - 2] {
            return Err(Error::shape(format!(
                "matmul operands {a:?} and {b:?} do not fit: the leading axes must be equal and \
                 the last axis of the first ({}) must equal the second-to-last of the second ({})",
                a[r - 1],
                b[r - 2]
            )));
        }
        let mut out = a.to_vec();
        out[r - 1] = b[r - 1];
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let shape = self.output_shape(&[inputs[0].shape(), inputs[1].shape()])?;
        let (a, b) = (stack(inputs[0])?, stack(inputs[1])?);
        batched(a.view(), b.view(), false, false)
            .into_shape_with_order(shape)
            .map(|y| y.into_dyn())
            .map_err(|e| Error::shape(e.to_string()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let (a, b, g) = (stack(inputs[0])?, stack(inputs[1])?, stack(grad_output)?);
        let da = batched(g.view(), b.view(), false, true);
        let db = batched(a.view(), g.view(), true, false);
        let reshape = |x: Array3<f32>, like: &Tensor| {
            x.into_shape_with_order(like.shape())
                .map(|y| y.into_dyn())
                .map_err(|e| Error::shape(e.to_string()))
        };
        Ok(Grads {
            inputs: vec![reshape(da, inputs[0])?, reshape(db, inputs[1])?],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    // Run in wasm32 too (`make test-wasm`), where the forward products are the SIMD128 sgemm's.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Stacks of products of several shapes (rows and columns off the sgemm's tile sizes, a
    /// long inner axis past its `k` block, one-row products, operands in another memory order)
    /// equal the sums of the definition in f64 to f32 rounding.
    #[test]
    fn forward_equals_the_definition() {
        for (seed, (lead, m, k, p)) in [
            (vec![2, 3], 5, 7, 9),
            (vec![1, 1], 17, 300, 13),
            (vec![4], 1, 8, 17),
            (vec![3], 6, 1, 4),
        ]
        .into_iter()
        .enumerate()
        {
            let with = |rows, cols| [lead.clone(), vec![rows, cols]].concat();
            let a = random_tensor(&with(m, k), -1., 1., 10 + seed as u64);
            let b = random_tensor(&with(k, p), -1., 1., 20 + seed as u64);
            // The same values in another memory order: `b` stored transposed.
            let rank = lead.len() + 2;
            let mut order: Vec<usize> = (0..rank).collect();
            order.swap(rank - 2, rank - 1);
            let b_stored_transposed = b
                .view()
                .permuted_axes(order.clone())
                .as_standard_layout()
                .into_owned()
                .permuted_axes(order);
            for b in [&b, &b_stored_transposed] {
                let y = MatMul.forward(&[&a, b]).unwrap();
                assert_eq!(y.shape(), with(m, p).as_slice());
                let depth: usize = lead.iter().product();
                let a3 = a.to_shape((depth, m, k)).unwrap();
                let b3 = b.to_shape((depth, k, p)).unwrap();
                let y3 = y.to_shape((depth, m, p)).unwrap();
                for ((d, i), j) in (0..depth)
                    .flat_map(|d| (0..m).map(move |i| (d, i)))
                    .flat_map(|di| (0..p).map(move |j| (di, j)))
                {
                    let want: f64 = (0..k)
                        .map(|t| a3[[d, i, t]] as f64 * b3[[d, t, j]] as f64)
                        .sum();
                    let got = y3[[d, i, j]] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{lead:?} {m}x{k}x{p} [{d}, {i}, {j}]: {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn forward_matches_hand_computation() {
        let a = Tensor::from_shape_vec(vec![1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
        let b = Tensor::from_shape_vec(vec![1, 2, 1], vec![1., -1.]).unwrap();
        let y = MatMul.forward(&[&a, &b]).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[-1., -1.]);
    }

    #[test]
    fn shape_rule_rejects_misfits() {
        assert_eq!(
            MatMul.output_shape(&[&[2, 3, 4], &[2, 4, 5]]).unwrap(),
            [2, 3, 5]
        );
        assert!(MatMul
            .output_shape(&[&[2, 3, 4], &[2, 3, 5]])
            .unwrap_err()
            .to_string()
            .contains("(4)"));
        assert!(MatMul.output_shape(&[&[2, 3], &[2, 3]]).is_err());
        assert!(MatMul
            .output_shape(&[&[2, 1, 3, 4], &[2, 2, 4, 5]])
            .is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let a = random_tensor(&[2, 3, 4], -1., 1., 1);
        let b = random_tensor(&[2, 4, 5], -1., 1., 2);
        check(&MatMul, &[a, b], Tolerance::default());
        let a = random_tensor(&[2, 2, 3, 2], -1., 1., 3);
        let b = random_tensor(&[2, 2, 2, 3], -1., 1., 4);
        check(&MatMul, &[a, b], Tolerance::default());
    }
}
