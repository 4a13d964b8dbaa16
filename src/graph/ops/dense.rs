//! Dense (fully connected) layer: `y = x W^T + b` over the last axis.
//!
//! `W` has PyTorch's `nn.Linear` layout `[out, in]`, so row `o` holds the incoming weights of
//! neuron `o`. Leading axes of `x` are flattened into rows and processed as one matrix product
//! starting from the bias: natively dot products up to four rows and matrixmultiply's sgemm
//! beyond; in wasm the crate's sgemm (`graph/sgemm.rs`) with the weight packed once, at every
//! batch size. Backward (matrixmultiply):
//! `dx = g W`, `dW = g^T x`, `db = sum_rows(g)`.

#[cfg(not(target_arch = "wasm32"))]
use super::dot;
use super::{Grads, Kernel};
use crate::error::{Error, Result};
#[cfg(target_arch = "wasm32")]
use crate::graph::sgemm::{gemm, PackedB, Rhs, Start};
use crate::tensor::Tensor;
#[cfg(not(target_arch = "wasm32"))]
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix1, Ix2};

/// A dense layer with weight `[out, in]` and optional bias `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
    /// The weight packed for the wasm sgemm, built by the first forward pass and
    /// dropped whenever the parameters are borrowed mutably ([`Kernel::params_mut`], the only
    /// way to change them), so it never outlives the values it was packed from.
    #[cfg(target_arch = "wasm32")]
    packed: PackedWeight,
}

/// A cache of the packed weight; it is derived from the weight, so it takes no part in
/// comparisons.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone, Default)]
struct PackedWeight(std::sync::OnceLock<PackedB>);

#[cfg(target_arch = "wasm32")]
impl PartialEq for PackedWeight {
    fn eq(&self, _: &Self) -> bool {
        true
    }
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
        let weight = weight.as_standard_layout().into_owned();
        Ok(Dense {
            weight,
            bias,
            #[cfg(target_arch = "wasm32")]
            packed: PackedWeight::default(),
        })
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

/// Up to this many rows, products are computed as dot products and row updates over the
/// contiguous `[out, in]` weight instead of through matrixmultiply, which packs both operands
/// and computes 8-row tiles on every call: at batch 1 that costs several times the arithmetic.
/// (The wasm forward pass has no such cost: its sgemm packs the weight once.)
const SMALL_BATCH: usize = 4;

impl Dense {
    /// `x W^T` for a few rows: one dot product per output unit against its weight row.
    #[cfg(not(target_arch = "wasm32"))]
    fn forward_few_rows(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let w = self.weight_2d();
        let w = w
            .as_slice()
            .expect("weights are stored contiguous, [out, in]");
        let n_in = self.in_features();
        Array2::from_shape_fn((x.nrows(), self.out_features()), |(r, o)| {
            let row = x.row(r);
            let row = row.as_slice().expect("rows are contiguous");
            dot(row, &w[o * n_in..(o + 1) * n_in])
        })
    }

    /// `bias + x W^T` (`bias[j]` in column `j`) with the weight packed once for the wasm sgemm
    /// (`graph/sgemm.rs`), which starts its accumulators from the bias: in the browser this
    /// beats matrixmultiply, which repacks the weight on every call (see ARCHITECTURE.md,
    /// "Matrix products in the browser"), and at every batch size it beats dot products per
    /// output unit, down to batch 1 (sgemm's one-row tiles: BENCHMARKS.md, twentieth pass).
    #[cfg(target_arch = "wasm32")]
    fn product_with_bias(
        &self,
        x: ArrayView2<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
    ) -> Array2<f32> {
        let mut y = Array2::zeros((x.nrows(), self.out_features()));
        let packed = self
            .packed
            .0
            .get_or_init(|| PackedB::from_transposed(self.weight_2d()));
        let bias = bias.as_ref().map(|b| b.as_standard_layout());
        let start = match &bias {
            Some(b) => Start::ColumnBias(b.as_slice().expect("standard layout is contiguous")),
            None => Start::Current,
        };
        gemm(x, Rhs::Packed(packed), start, y.view_mut(), None);
        y
    }

    /// `bias + x W^T` (`bias[j]` in column `j`): up to [`SMALL_BATCH`] rows as dot products
    /// with the bias added after them, beyond with matrixmultiply (its x86 FMA kernels), the
    /// bias written first and the product added onto it.
    #[cfg(not(target_arch = "wasm32"))]
    fn product_with_bias(
        &self,
        x: ArrayView2<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
    ) -> Array2<f32> {
        if x.nrows() <= SMALL_BATCH {
            let mut y = self.forward_few_rows(x);
            if let Some(b) = bias {
                y += &b;
            }
            return y;
        }
        let mut y = Array2::zeros((x.nrows(), self.out_features()));
        if let Some(b) = bias {
            y.assign(&b);
        }
        general_mat_mul(1.0, &x, &self.weight_2d().t(), 1.0, &mut y);
        y
    }

    /// `g W` for a few rows: each output's gradient scales its weight row into the result.
    fn backward_few_rows(&self, g: ArrayView2<'_, f32>) -> Array2<f32> {
        let w = self.weight_2d();
        let w = w
            .as_slice()
            .expect("weights are stored contiguous, [out, in]");
        let n_in = self.in_features();
        let mut dx = Array2::<f32>::zeros((g.nrows(), n_in));
        for (g_row, mut dx_row) in g.rows().into_iter().zip(dx.rows_mut()) {
            let dx_row = dx_row.as_slice_mut().expect("fresh rows are contiguous");
            for (o, &go) in g_row.iter().enumerate() {
                if go != 0.0 {
                    for (d, &wv) in dx_row.iter_mut().zip(&w[o * n_in..(o + 1) * n_in]) {
                        *d += go * wv;
                    }
                }
            }
        }
        dx
    }
}

/// Views `x` as a matrix `[rows, last]` (copying only when it is not contiguous).
fn as_rows(x: &Tensor) -> CowArray<'_, f32, Ix2> {
    let last = *x.shape().last().unwrap_or(&1);
    let shape = (x.len() / last.max(1), last);
    match x.as_slice() {
        Some(values) => ArrayView2::from_shape(shape, values)
            .expect("row count times last axis equals the length")
            .into(),
        None => x
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(shape)
            .expect("row count times last axis equals the length")
            .into(),
    }
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
                if x.len() > 2 {
                    " (add a flatten layer before dense)"
                } else {
                    ""
                }
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
        let bias = self
            .bias
            .as_ref()
            .map(|b| b.view().into_dimensionality::<Ix1>().expect("bias is 1-D"));
        let y = self.product_with_bias(rows.view(), bias);
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
        let dx = if g.nrows() <= SMALL_BATCH {
            self.backward_few_rows(g.view())
        } else {
            g.dot(&self.weight_2d())
        };
        let dx = dx
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
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        #[cfg(target_arch = "wasm32")]
        {
            self.packed = PackedWeight::default();
        }
        std::iter::once(&mut self.weight)
            .chain(&mut self.bias)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    // Run in wasm32 too (`make test-wasm`), where every batch goes through the SIMD128 sgemm
    // with the packed weight (natively batches of up to 4 rows take dot products).
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn forward_matches_hand_computation() {
        let w = Tensor::from_shape_vec(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let b = Tensor::from_shape_vec(vec![2], vec![0.5, -1.0]).unwrap();
        let dense = Dense::new(w, Some(b)).unwrap();
        let x = Tensor::from_shape_vec(vec![1, 3], vec![1., 0., -1.]).unwrap();
        let y = dense.forward(&[&x]).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-2.0 + 0.5, -2.0 - 1.0]);
    }

    /// The few-row paths and the sgemm path agree (batch 1..=4 vs 5+ of the same rows).
    #[test]
    fn few_rows_equal_the_matrix_product() {
        let dense = Dense::new(
            random_tensor(&[7, 37], -1., 1., 8),
            Some(random_tensor(&[7], -1., 1., 9)),
        )
        .unwrap();
        let x = random_tensor(&[9, 37], -1., 1., 10);
        let all = dense.forward(&[&x]).unwrap();
        for r in 0..3 {
            let one = x.slice(ndarray::s![r..r + 1, ..]).to_owned().into_dyn();
            let y = dense.forward(&[&one]).unwrap();
            for (a, b) in y.iter().zip(all.slice(ndarray::s![r, ..]).iter()) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        let g = random_tensor(&[2, 7], -1., 1., 11);
        let few = dense
            .backward(
                &[&x.slice(ndarray::s![0..2, ..]).to_owned().into_dyn()],
                &g,
                &g,
                false,
            )
            .unwrap();
        let expected = as_rows(&g).dot(&dense.weight_2d());
        for (a, b) in few.inputs[0].iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    /// The forward pass equals the definition summed over the inputs in order from the bias:
    /// bit for bit in wasm32 (the sgemm kernel keeps that order, its one-row tiles at batch 1
    /// too), within rounding natively (matrixmultiply, dot products at batch 1); on shapes with
    /// partial row tiles and panels and more inputs than the kernel's block length; and it
    /// follows a change of the parameters (in wasm32 the packed weight is rebuilt).
    #[test]
    fn forward_matches_the_definition_and_follows_parameter_changes() {
        for (seed, (batch, n_in, n_out, bias)) in [
            (1, 784, 45, true),
            (1, 300, 64, false),
            (5, 3, 1, true),
            (7, 300, 13, false),
            (13, 260, 35, true),
            (9, 17, 9, true),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = 10 * seed as u64;
            let w = random_tensor(&[n_out, n_in], -1., 1., seed + 1);
            let b = bias.then(|| random_tensor(&[n_out], -1., 1., seed + 2));
            let mut dense = Dense::new(w.clone(), b.clone()).unwrap();
            let x = random_tensor(&[batch, n_in], -1., 1., seed + 3);
            let expected = |w: &Tensor| {
                Tensor::from_shape_fn(vec![batch, n_out], |index| {
                    let (r, o) = (index[0], index[1]);
                    (0..n_in).fold(b.as_ref().map_or(0.0, |b| b[[o]]), |sum, i| {
                        sum + x[[r, i]] * w[[o, i]]
                    })
                })
            };
            let assert_matches = |got: Tensor, expected: Tensor, label: &str| {
                if cfg!(target_arch = "wasm32") {
                    assert_eq!(got, expected, "{batch}x{n_in}->{n_out} {label}");
                } else {
                    for (g, e) in got.iter().zip(&expected) {
                        assert!(
                            (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                            "{label}: {g} vs {e}"
                        );
                    }
                }
            };
            assert_matches(dense.forward(&[&x]).unwrap(), expected(&w), "");
            dense.params_mut()[0].mapv_inplace(|v| -2.0 * v);
            let changed = w.mapv(|v| -2.0 * v);
            assert_matches(
                dense.forward(&[&x]).unwrap(),
                expected(&changed),
                "after params_mut",
            );
        }
    }

    #[test]
    fn rejects_wrong_features() {
        let dense = Dense::new(random_tensor(&[4, 3], -1., 1., 1), None).unwrap();
        let err = dense.output_shape(&[&[2, 5]]).unwrap_err().to_string();
        assert!(err.contains("3 input features"), "{err}");
        assert!(Dense::new(
            random_tensor(&[4, 3], -1., 1., 1),
            Some(random_tensor(&[3], 0., 1., 2))
        )
        .is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dense = Dense::new(
            random_tensor(&[4, 5], -1., 1., 1),
            Some(random_tensor(&[4], -1., 1., 2)),
        )
        .unwrap();
        check(
            &dense,
            &[random_tensor(&[3, 5], -1., 1., 3)],
            Tolerance::default(),
        );
        check(
            &dense,
            &[random_tensor(&[2, 3, 5], -1., 1., 4)],
            Tolerance::default(),
        );
        let no_bias = Dense::new(random_tensor(&[2, 5], -1., 1., 5), None).unwrap();
        check(
            &no_bias,
            &[random_tensor(&[1, 5], -1., 1., 6)],
            Tolerance::default(),
        );
    }
}
