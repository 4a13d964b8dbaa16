//! Dense (fully connected) layer: `y = x W^T + b` over the last axis.
//!
//! `W` has PyTorch's `nn.Linear` layout `[out, in]`, so row `o` holds the incoming weights of
//! neuron `o`. Leading axes of `x` are flattened into rows and processed as one matrix product
//! (ndarray `dot`, i.e. matrixmultiply's sgemm). Backward:
//! `dx = g W`, `dW = g^T x`, `db = sum_rows(g)`.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Array1, Array2, ArrayView2, Axis, Ix1, Ix2};

/// A dense layer with weight `[out, in]` and optional bias `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Dense {
    /// A dense layer from a `[out, in]` weight and an optional `[out]` bias.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(Error::shape(format!(
                "dense weight must be 2-D [out, in], got shape {:?}",
                weight.shape()
            )));
        }
        if let Some(b) = &bias {
            if b.shape() != [weight.shape()[0]] {
                return Err(Error::shape(format!(
                    "dense bias must have shape [{}] to match weight {:?}, got {:?}",
                    weight.shape()[0],
                    weight.shape(),
                    b.shape()
                )));
            }
        }
        Ok(Dense { weight, bias })
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The `[out, in]` weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The `[out]` bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    fn weight_2d(&self) -> ArrayView2<'_, f32> {
        self.weight
            .view()
            .into_dimensionality::<Ix2>()
            .expect("weight is 2-D by construction")
    }
}

/// Views `x` as a matrix `[rows, last]` (copying only when it is not contiguous).
fn as_rows(x: &Tensor) -> Array2<f32> {
    let last = *x.shape().last().unwrap_or(&1);
    let rows = x.len() / last.max(1);
    x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((rows, last))
        .expect("row count times last axis equals the length")
}

impl Kernel for Dense {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if x.len() < 2 {
            return Err(Error::shape(format!(
                "dense expects input [batch, ..., {}], got {x:?}",
                self.in_features()
            )));
        }
        let last = x[x.len() - 1];
        if last != self.in_features() {
            return Err(Error::shape(format!(
                "dense expects {} input features on the last axis, got input shape {x:?}{}",
                self.in_features(),
                if x.len() > 2 { " (add a flatten layer before dense)" } else { "" }
            )));
        }
        let mut out = x.to_vec();
        *out.last_mut().expect("rank >= 2") = self.out_features();
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let out_shape = self.output_shape(&[x.shape()])?;
        let rows = as_rows(x);
        let mut y = rows.dot(&self.weight_2d().t());
        if let Some(b) = &self.bias {
            let b = b.view().into_dimensionality::<Ix1>().expect("bias is 1-D");
            y += &b;
        }
        Ok(y.into_shape_with_order(out_shape)
            .map_err(|e| Error::shape(e.to_string()))?
            .into_dyn())
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        let g = as_rows(grad_output);
        let dx = g
            .dot(&self.weight_2d())
            .into_shape_with_order(x.shape())
            .map_err(|e| Error::shape(e.to_string()))?
            .into_dyn();
        let mut params = Vec::new();
        if want_params {
            let rows = as_rows(x);
            params.push(g.t().dot(&rows).into_dyn());
            if self.bias.is_some() {
                let db: Array1<f32> = g.sum_axis(Axis(0));
                params.push(db.into_dyn());
            }
        }
        Ok(Grads {
            inputs: vec![dx],
            params,
        })
    }

    fn params(&self) -> Vec<&Tensor> {
        let mut p = vec![&self.weight];
        if let Some(b) = &self.bias {
            p.push(b);
        }
        p
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        let mut p = vec![&mut self.weight];
        if let Some(b) = &mut self.bias {
            p.push(b);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    #[test]
    fn forward_matches_hand_computation() {
        let w = Tensor::from_shape_vec(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let b = Tensor::from_shape_vec(vec![2], vec![0.5, -1.0]).unwrap();
        let dense = Dense::new(w, Some(b)).unwrap();
        let x = Tensor::from_shape_vec(vec![1, 3], vec![1., 0., -1.]).unwrap();
        let y = dense.forward(&[&x]).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-2.0 + 0.5, -2.0 - 1.0]);
    }

    #[test]
    fn rejects_wrong_features() {
        let dense = Dense::new(random_tensor(&[4, 3], -1., 1., 1), None).unwrap();
        let err = dense.output_shape(&[&[2, 5]]).unwrap_err().to_string();
        assert!(err.contains("3 input features"), "{err}");
        assert!(Dense::new(random_tensor(&[4, 3], -1., 1., 1), Some(random_tensor(&[3], 0., 1., 2))).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dense = Dense::new(
            random_tensor(&[4, 5], -1., 1., 1),
            Some(random_tensor(&[4], -1., 1., 2)),
        )
        .unwrap();
        check(&dense, &[random_tensor(&[3, 5], -1., 1., 3)], Tolerance::default());
        check(&dense, &[random_tensor(&[2, 3, 5], -1., 1., 4)], Tolerance::default());
        let no_bias = Dense::new(random_tensor(&[2, 5], -1., 1., 5), None).unwrap();
        check(&no_bias, &[random_tensor(&[1, 5], -1., 1., 6)], Tolerance::default());
    }
}
