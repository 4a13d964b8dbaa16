//! Embedding lookup: rows of a table selected by integer ids computed at run time (PyTorch's
//! `nn.Embedding`, exported as ONNX `Gather` of a constant table along axis 0,
//! <https://onnx.ai/onnx/operators/onnx__Gather.html>).
//!
//! The input holds ids as f32 (exact up to 2^24, far beyond any vocabulary nnlens can hold), of
//! any shape `[N, ...]`; the output is `[N, ..., row...]`, one table row `table[id]` per id. An
//! id must be an integer in `-rows..rows` (ONNX counts negative ids from the end); any other
//! value is an error naming it and its position. Backward: ids have no gradient (zeros), and
//! `d table[r] = Σ_{positions with id r} g[position]` (a scatter-add).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{ArrayViewMut1, Axis, IxDyn};

/// A lookup table `[rows, ...row shape]` indexed by run-time ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    table: Tensor,
}

impl Embedding {
    /// A lookup into `table`, whose first axis holds the rows; fails on a scalar or empty table.
    pub fn new(table: Tensor) -> Result<Self> {
        if table.ndim() == 0 || table.shape()[0] == 0 {
            return Err(Error::shape(format!(
                "an embedding table needs at least one row, got shape {:?}",
                table.shape()
            )));
        }
        Ok(Embedding {
            table: table.as_standard_layout().into_owned(),
        })
    }

    /// The table, `[rows, ...row shape]`.
    pub fn table(&self) -> &Tensor {
        &self.table
    }

    /// Number of rows (the vocabulary size).
    pub fn rows(&self) -> usize {
        self.table.shape()[0]
    }

    /// The row of each id, in order; the error names the first bad id and its position.
    fn rows_of(&self, ids: &Tensor) -> Result<Vec<usize>> {
        let rows = self.rows();
        ids.iter()
            .enumerate()
            .map(|(position, &id)| {
                let whole = id.fract() == 0.0 && id.abs() <= rows as f32;
                let row = id as i64 + if id < 0.0 { rows as i64 } else { 0 };
                if whole && (0..rows as i64).contains(&row) {
                    Ok(row as usize)
                } else {
                    Err(Error::invalid(
                        "token id",
                        format!(
                            "id {id} at position {position} is not a row of the embedding table \
                             (expected an integer in 0..{rows}, or -{rows}..-1 counted from the end)"
                        ),
                    ))
                }
            })
            .collect()
    }
}

impl Kernel for Embedding {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(inputs[0]
            .iter()
            .chain(&self.table.shape()[1..])
            .copied()
            .collect())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let ids = inputs[0];
        let row_len: usize = self.table.shape()[1..].iter().product();
        let table = self
            .table
            .as_slice()
            .ok_or_else(|| Error::shape("embedding table is not contiguous"))?;
        let mut values = Vec::with_capacity(ids.len() * row_len);
        for row in self.rows_of(ids)? {
            values.extend_from_slice(&table[row * row_len..(row + 1) * row_len]);
        }
        let shape = self.output_shape(&[ids.shape()])?;
        Tensor::from_shape_vec(IxDyn(&shape), values).map_err(|e| Error::shape(e.to_string()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let ids = inputs[0];
        let params = if want_params {
            let mut grad = Tensor::zeros(self.table.raw_dim());
            let row_len: usize = self.table.shape()[1..].iter().product();
            let g = grad_output.as_standard_layout();
            let g = g
                .as_slice()
                .ok_or_else(|| Error::shape("gradient is not contiguous"))?;
            let mut flat = grad
                .view_mut()
                .into_shape_with_order((self.rows(), row_len))
                .map_err(|e| Error::shape(e.to_string()))?;
            for (position, row) in self.rows_of(ids)?.into_iter().enumerate() {
                let mut target: ArrayViewMut1<f32> = flat.index_axis_mut(Axis(0), row);
                for (t, &v) in target
                    .iter_mut()
                    .zip(&g[position * row_len..(position + 1) * row_len])
                {
                    *t += v;
                }
            }
            vec![grad]
        } else {
            Vec::new()
        };
        Ok(Grads {
            inputs: vec![Tensor::zeros(ids.raw_dim())],
            params,
        })
    }

    fn params(&self) -> Vec<&Tensor> {
        vec![&self.table]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.table]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check_params, Tolerance};
    use ndarray::ArrayD;

    fn table() -> Tensor {
        ArrayD::from_shape_vec(IxDyn(&[3, 2]), vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0]).unwrap()
    }

    #[test]
    fn rows_are_looked_up_by_id_and_negative_ids_count_from_the_end() {
        let e = Embedding::new(table()).unwrap();
        let ids = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![2.0, 0.0, -1.0, 1.0]).unwrap();
        assert_eq!(e.output_shape(&[&[2, 2]]).unwrap(), vec![2, 2, 2]);
        let y = e.forward(&[&ids]).unwrap();
        assert_eq!(y.shape(), &[2, 2, 2]);
        assert_eq!(
            y.as_slice().unwrap(),
            &[20.0, 21.0, 0.0, 1.0, 20.0, 21.0, 10.0, 11.0]
        );
    }

    #[test]
    fn ids_outside_the_table_or_fractional_are_errors() {
        let e = Embedding::new(table()).unwrap();
        for (bad, text) in [
            (3.0, "id 3 at position 1"),
            (-4.0, "id -4"),
            (0.5, "id 0.5"),
        ] {
            let ids = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![0.0, bad]).unwrap();
            let message = e.forward(&[&ids]).unwrap_err().to_string();
            assert!(
                message.contains(text) && message.contains("0..3"),
                "{message}"
            );
        }
        let nan = ArrayD::from_shape_vec(IxDyn(&[1, 1]), vec![f32::NAN]).unwrap();
        assert!(e.forward(&[&nan]).is_err());
        assert!(Embedding::new(ArrayD::zeros(IxDyn(&[0, 4]))).is_err());
    }

    #[test]
    fn table_gradient_is_a_scatter_add_and_ids_get_none() {
        let e = Embedding::new(table()).unwrap();
        let ids = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![1.0, 1.0, 2.0]).unwrap();
        let y = e.forward(&[&ids]).unwrap();
        let g =
            ArrayD::from_shape_vec(IxDyn(&[1, 3, 2]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let grads = e.backward(&[&ids], &y, &g, true).unwrap();
        assert_eq!(grads.inputs[0], Tensor::zeros(IxDyn(&[1, 3])));
        assert_eq!(
            grads.params[0].as_slice().unwrap(),
            &[0.0, 0.0, 4.0, 6.0, 5.0, 6.0]
        );
        check_params(&e, &[ids], Tolerance::default());
    }
}
