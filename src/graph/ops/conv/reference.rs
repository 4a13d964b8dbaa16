//! The reference the direct kernels' tests compare with bit for bit: the im2col + sgemm forward
//! pass on `graph/sgemm.rs` (its portable kernel natively, SIMD128 in wasm32), which sums each
//! output from the bias in patch order.

use super::{im2col, matrix, matrix_mut, weight_matrix, Conv2d, ConvGeometry};
use crate::graph::sgemm::{gemm, Rhs, Start};

/// The im2col + sgemm forward pass (the portable sgemm kernel, summing in patch order).
pub(super) fn by_sgemm(conv: &Conv2d, x: &[f32], geo: &ConvGeometry) -> Vec<f32> {
    let weight = conv.weight.as_standard_layout();
    let weight = weight_matrix(weight.view(), geo);
    let bias = conv.bias.as_ref().map(|b| b.as_slice().unwrap());
    let (patch, plane, og) = (geo.patch_len(), geo.out_plane(), geo.group_outputs());
    let mut out = vec![0.0; geo.batch * geo.out_channels * plane];
    let mut cols = vec![0.0; patch * plane];
    for sample in 0..geo.batch {
        for group in 0..geo.groups {
            im2col(geo, x, group, sample..sample + 1, &mut cols);
            let channels = group * og..(group + 1) * og;
            let start = (sample * geo.out_channels + group * og) * plane;
            gemm(
                weight.slice(ndarray::s![channels.clone(), ..]),
                Rhs::Rows(matrix(&cols, patch, plane)),
                bias.map_or(Start::Current, |b| Start::RowBias(&b[channels])),
                matrix_mut(&mut out[start..], og, plane),
                None,
            );
        }
    }
    out
}
