//! Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
//! Gradient-based Localization"), as Captum 0.9 `LayerGradCam(...).attribute(...,
//! relu_attributions=True)`:
//!
//! For the output `A` of a layer with shape `[C, H, W]`,
//! `w_c = (1 / HW) Σ_{h,w} ∂F/∂A_{c,h,w}` and `map_{h,w} = ReLU(Σ_c w_c A_{c,h,w})`, at the
//! layer's resolution `H × W`.
//!
//! With `upsample`, the map is resized to the input's `H × W` as Captum's
//! `LayerAttribution.interpolate(map, size, "bilinear")`, i.e. PyTorch
//! `F.interpolate(mode="bilinear", align_corners=False)`: output pixel `i` samples the source
//! at `max((i + 0.5) · in/out - 0.5, 0)`, linearly between its two neighbours (the last row or
//! column repeats at the border); computed in f32 as PyTorch's CPU kernel does.

use super::Objective;
use crate::error::{Error, Result};
use crate::graph::{Graph, ValueId};
use crate::tensor::{into_vec, Tensor};
use std::borrow::Cow;

/// The layer named `name`, which must have a `[C, H, W]` output.
fn spatial_layer(graph: &Graph, name: &str) -> Result<ValueId> {
    let spatial: Vec<&str> = graph
        .nodes()
        .iter()
        .filter(|n| n.shape.len() == 3)
        .map(|n| n.name.as_str())
        .collect();
    if name.is_empty() {
        return Err(Error::invalid(
            "Grad-CAM layer",
            format!(
                "no layer given; name a layer with a [C, H, W] output, one of: {}",
                spatial.join(", ")
            ),
        ));
    }
    let id = graph
        .find(name)
        .map_err(|_| Error::unknown("Grad-CAM layer", name, &spatial))?;
    let shape = graph.value_shape(id);
    if shape.len() != 3 {
        return Err(Error::invalid(
            "Grad-CAM layer",
            format!(
                "layer '{name}' has output shape {shape:?} without spatial dimensions; Grad-CAM \
                 needs a [C, H, W] output, e.g. one of: {}",
                spatial.join(", ")
            ),
        ));
    }
    Ok(id)
}

/// A token layer `[tokens, dim]` (leading axes of size 1 allowed: a lifted value) read as an
/// `h × w` grid of `dim` channels from its last `h · w` tokens: `(id, dim, skipped tokens)`.
fn token_layer(graph: &Graph, name: &str, [h, w]: [usize; 2]) -> Result<(ValueId, usize, usize)> {
    let id = graph.find(name).map_err(|_| {
        let names: Vec<&str> = graph.nodes().iter().map(|n| n.name.as_str()).collect();
        Error::unknown("Grad-CAM layer", name, &names)
    })?;
    let shape = graph.value_shape(id);
    let core: Vec<usize> = shape.iter().copied().skip_while(|&d| d == 1).collect();
    match core.as_slice() {
        [tokens, dim] if h * w > 0 && h * w <= *tokens => Ok((id, *dim, tokens - h * w)),
        _ => Err(Error::invalid(
            "Grad-CAM grid",
            format!(
                "layer '{name}' has output shape {shape:?}; a grid [{h}, {w}] needs a token layer \
                 [tokens, dim] with at least {} tokens (the last {} form the grid)",
                h * w,
                h * w
            ),
        )),
    }
}

/// Token-major `[tokens, dim]` values as channel-major `[dim, h·w]`, leaving out the first
/// `skip` tokens.
fn channels_of_tokens(values: &[f32], dim: usize, skip: usize) -> Vec<f32> {
    let grid = &values[skip * dim..];
    let hw = grid.len() / dim;
    let mut out = vec![0.0; grid.len()];
    for (t, token) in grid.chunks_exact(dim).enumerate() {
        for (c, &v) in token.iter().enumerate() {
            out[c * hw + t] = v;
        }
    }
    out
}

/// The Grad-CAM map of the one-sample input `x` at layer `layer`, and its shape `[H, W]`; with
/// `grid`, the layer is a token layer read as that grid ([`token_layer`]).
pub(super) fn attribute(
    graph: &Graph,
    x: Tensor,
    objective: &Objective,
    layer: &str,
    upsample: bool,
    grid: Option<[usize; 2]>,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let (id, tokens) = match grid {
        Some(hw) => {
            let (id, dim, skip) = token_layer(graph, layer, hw)?;
            (id, Some((dim, skip, hw)))
        }
        None => (spatial_layer(graph, layer)?, None),
    };
    let input_hw = match graph.input_shape() {
        [_, h, w] => Some((*h, *w)),
        _ => None,
    };
    if upsample && input_hw.is_none() {
        return Err(Error::invalid(
            "upsample",
            format!(
                "the input has shape {:?}; upsampling needs an image input [C, H, W]",
                graph.input_shape()
            ),
        ));
    }
    let (h, w) = match (graph.value_shape(id), tokens) {
        (_, Some((_, _, [h, w]))) => (h, w),
        ([_, h, w], None) => (*h, *w),
        (other, None) => {
            return Err(Error::shape(format!(
                "Grad-CAM layer shape {other:?} is not [C, H, W]"
            )))
        }
    };
    let trace = graph.trace(x)?;
    let mut grads = objective.backward(graph, &trace, id)?;
    let hw = h * w;
    let value = trace.value(id);
    let mut activation: Cow<[f32]> = match value.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(value.iter().copied().collect()),
    };
    let mut gradient = match grads.values[id.0].take() {
        Some(g) => into_vec(g),
        None => vec![0.0; value.len()],
    };
    if let Some((dim, skip, _)) = tokens {
        activation = Cow::Owned(channels_of_tokens(&activation, dim, skip));
        gradient = channels_of_tokens(&gradient, dim, skip);
    }
    let mut map = vec![0.0f32; hw];
    for (a, g) in activation.chunks_exact(hw).zip(gradient.chunks_exact(hw)) {
        let weight = g.iter().sum::<f32>() / hw as f32;
        map.iter_mut().zip(a).for_each(|(m, a)| *m += weight * a);
    }
    map.iter_mut().for_each(|m| *m = m.max(0.0));
    match input_hw {
        Some((oh, ow)) if upsample => Ok((bilinear(&map, h, w, oh, ow), vec![oh, ow])),
        _ => Ok((map, vec![h, w])),
    }
}

/// Source index and weights along one axis, as PyTorch's `compute_indices_weights_linear`
/// with `align_corners=False` and no explicit scale: `(i0, i1, λ0, λ1)`.
fn linear_taps(input: usize, output: usize) -> Vec<(usize, usize, f32, f32)> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| {
            let real = (scale * (i as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (real.floor() as usize).min(input - 1);
            let l1 = (real - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            (i0, i1, 1.0 - l1, l1)
        })
        .collect()
}

/// Bilinear resize of an `h × w` map to `oh × ow` (PyTorch `align_corners=False`).
pub(super) fn bilinear(map: &[f32], h: usize, w: usize, oh: usize, ow: usize) -> Vec<f32> {
    let rows = linear_taps(h, oh);
    let cols = linear_taps(w, ow);
    let mut out = Vec::with_capacity(oh * ow);
    for &(r0, r1, a0, a1) in &rows {
        for &(c0, c1, b0, b1) in &cols {
            let top = b0 * map[r0 * w + c0] + b1 * map[r0 * w + c1];
            let bottom = b0 * map[r1 * w + c0] + b1 * map[r1 * w + c1];
            out.push(a0 * top + a1 * bottom);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::mlp;
    use super::super::{saliency, Method, SaliencyOptions};
    use super::*;

    /// Values printed by torch 2.15 `F.interpolate(t, size=(5, 3), mode="bilinear")` for
    /// `t = torch.arange(6.).reshape(1, 1, 2, 3) ** 2`.
    #[test]
    fn bilinear_matches_torch() {
        let map = [0.0, 1.0, 4.0, 9.0, 16.0, 25.0];
        let cases: [(usize, usize, &[f64]); 2] = [
            (
                5,
                3,
                &[
                    0.0,
                    1.0,
                    4.0,
                    0.900_000_095_367_431_6,
                    2.5,
                    6.099_999_904_632_568,
                    4.5,
                    8.5,
                    14.5,
                    8.100_000_381_469_727,
                    14.500_000_953_674_316,
                    22.900_001_525_878_906,
                    9.0,
                    16.0,
                    25.0,
                ],
            ),
            (
                3,
                4,
                &[
                    0.0,
                    0.625,
                    2.125,
                    4.0,
                    4.5,
                    7.0,
                    10.75,
                    14.5,
                    9.0,
                    13.375,
                    19.375,
                    25.000_001_907_348_633,
                ],
            ),
        ];
        for (oh, ow, want) in cases {
            let got = bilinear(&map, 2, 3, oh, ow);
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(want) {
                assert!(
                    (f64::from(*a) - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "{oh}x{ow}: {got:?}"
                );
            }
        }
        // Same size is the identity; downsampling averages neighbours.
        assert_eq!(bilinear(&map, 2, 3, 2, 3), map);
        assert_eq!(bilinear(&[1.0, 3.0, 5.0, 7.0], 1, 4, 1, 2), vec![2.0, 6.0]);
    }

    /// `x [2, 3, 4] -> d1 (dense 4 -> 5) -> d2 (dense 5 -> 1)`: the output `[2, 3, 1]` is
    /// linear in `A = d1`, and only channel `c` of the target `(c, h)` reaches it, with
    /// `∂F/∂A_{c,h,w} = W2[0, w]`; so `w_c = Σ_w W2[0, w] / (H W)` and the map is
    /// `ReLU(w_c A_c)`.
    #[test]
    fn map_matches_the_closed_form_of_a_linear_head() {
        use crate::graph::ops::dense::Dense;
        use crate::graph::ops::gradcheck::random_tensor;
        use crate::graph::ops::Op;
        let mut g = Graph::new(&[2, 3, 4]).unwrap();
        let w1 = random_tensor(&[5, 4], -1.0, 1.0, 8);
        let w2 = random_tensor(&[1, 5], -1.0, 1.0, 9);
        let d1 = g
            .push(
                "d1",
                "Gemm",
                Op::Dense(Dense::new(w1, None).unwrap()),
                &[ValueId::INPUT],
            )
            .unwrap();
        g.push(
            "d2",
            "Gemm",
            Op::Dense(Dense::new(w2.clone(), None).unwrap()),
            &[d1],
        )
        .unwrap();
        let x = random_tensor(&[1, 2, 3, 4], -1.0, 1.0, 10);
        let a = g.trace(x.clone()).unwrap().value(d1).clone();
        let weight = w2.sum() / 15.0;
        for target in [1, 4] {
            let c = target / 3;
            for upsample in [false, true] {
                let opts = SaliencyOptions {
                    logits: true,
                    ..SaliencyOptions::new(
                        Method::GradCam {
                            layer: "d1".into(),
                            upsample,
                            grid: None,
                        },
                        target,
                    )
                };
                let got = saliency(&g, x.as_slice().unwrap(), &opts).unwrap();
                let map: Vec<f32> = a.as_slice().unwrap()[c * 15..(c + 1) * 15]
                    .iter()
                    .map(|v| (weight * v).max(0.0))
                    .collect();
                if upsample {
                    assert_eq!(got.shape, vec![3, 4]);
                    let want = bilinear(&map, 3, 5, 3, 4);
                    for (a, b) in got.values.iter().zip(&want) {
                        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
                    }
                } else {
                    assert_eq!(got.shape, vec![3, 5]);
                    for (a, b) in got.values.iter().zip(&map) {
                        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
                    }
                }
            }
        }
        assert!(map_has_positive_and_zero(&g, x.as_slice().unwrap()));
    }

    /// The ReLU clips: with a random head some pixels are zero and some positive.
    fn map_has_positive_and_zero(g: &Graph, x: &[f32]) -> bool {
        let opts = SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(
                Method::GradCam {
                    layer: "d1".into(),
                    upsample: false,
                    grid: None,
                },
                1,
            )
        };
        let v = saliency(g, x, &opts).unwrap().values;
        v.iter().any(|&v| v > 0.0) && v.contains(&0.0)
    }

    #[test]
    fn layer_must_exist_and_be_spatial() {
        let g = mlp();
        let x = vec![0.0; 6];
        let opts = |layer: &str| SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(
                Method::GradCam {
                    layer: layer.into(),
                    upsample: false,
                    grid: None,
                },
                0,
            )
        };
        let err = saliency(&g, &x, &opts("fc2")).unwrap_err().to_string();
        assert!(
            err.contains("'fc2'") && err.contains("[5]") && err.contains("[C, H, W]"),
            "{err}"
        );
        let err = saliency(&g, &x, &opts("conv9")).unwrap_err();
        assert!(matches!(err, Error::Unknown { .. }), "{err}");
        let err = saliency(&g, &x, &opts("")).unwrap_err().to_string();
        assert!(err.contains("no layer given"), "{err}");
    }

    /// A flat input reshaped to an image: Grad-CAM at the layer works, upsampling to the input's
    /// `H × W` does not, since the input has none.
    #[test]
    fn upsampling_needs_an_image_input() {
        use crate::graph::ops::dense::Dense;
        use crate::graph::ops::gradcheck::random_tensor;
        use crate::graph::ops::shape::Reshape;
        use crate::graph::ops::Op;
        let mut g = Graph::new(&[12]).unwrap();
        let r = g
            .push(
                "reshape",
                "Reshape",
                Op::Reshape(Reshape::new(vec![1, 3, 4])),
                &[ValueId::INPUT],
            )
            .unwrap();
        let d = g
            .push(
                "d",
                "Gemm",
                Op::Dense(Dense::new(random_tensor(&[2, 4], -1.0, 1.0, 1), None).unwrap()),
                &[r],
            )
            .unwrap();
        g.push(
            "head",
            "Gemm",
            Op::Dense(Dense::new(random_tensor(&[1, 2], -1.0, 1.0, 2), None).unwrap()),
            &[d],
        )
        .unwrap();
        let x: Vec<f32> = (0..12).map(|i| i as f32 / 6.0 - 1.0).collect();
        let at = |upsample| {
            saliency(
                &g,
                &x,
                &SaliencyOptions {
                    logits: true,
                    ..SaliencyOptions::new(
                        Method::GradCam {
                            layer: "d".into(),
                            upsample,
                            grid: None,
                        },
                        0,
                    )
                },
            )
        };
        assert_eq!(at(false).unwrap().shape, vec![3, 2]);
        let err = at(true).unwrap_err().to_string();
        assert!(err.contains("upsample") && err.contains("[12]"), "{err}");
    }
}
