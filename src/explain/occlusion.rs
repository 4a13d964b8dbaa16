//! Occlusion (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks"), as
//! Captum 0.9 `Occlusion` (a `FeatureAblation` with `use_weights`):
//!
//! A window of shape `window` slides over the per-sample input with step `strides`; along a
//! dimension of size `D` with window `k` and stride `s` it starts at `0, s, 2s, …` for
//! `⌈(D - k) / s⌉ + 1` positions, the last window being cut at the border. For each position
//! the window is filled with the baseline and the model is run; the attribution of an element
//! is the mean, over the windows covering it, of `F(x) - F(x occluded)`. Captum requires
//! `s ≤ k` wherever `k < D` so every element is covered.
//!
//! The occluded inputs are evaluated as batches of forward passes (Captum's
//! `perturbations_per_eval` only changes how they are grouped, not the result).

use super::{Objective, Passes};
use crate::error::{Error, Result};
use crate::graph::Graph;

/// Row-major strides of `shape`.
fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// Calls `f` with the flat index of every element of the box `lo..hi` (per dimension).
fn for_each_in_box(strides: &[usize], lo: &[usize], hi: &[usize], mut f: impl FnMut(usize)) {
    if lo.iter().zip(hi).any(|(l, h)| l >= h) {
        return;
    }
    let mut idx = lo.to_vec();
    loop {
        f(idx.iter().zip(strides).map(|(i, s)| i * s).sum());
        let mut d = idx.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < hi[d] {
                break;
            }
            idx[d] = lo[d];
        }
    }
}

/// The window positions: for each dimension the number of positions, checked as Captum does.
fn positions(
    shape: &[usize],
    window: &[usize],
    strides: &[usize],
) -> Result<(Vec<usize>, Vec<usize>)> {
    let rank = shape.len();
    if window.len() != rank {
        return Err(Error::invalid(
            "occlusion window",
            format!(
                "{window:?} has {} dimension(s), expected {rank}: one size per dimension of the input shape {shape:?}",
                window.len()
            ),
        ));
    }
    let strides = if strides.is_empty() {
        vec![1; rank]
    } else {
        strides.to_vec()
    };
    if strides.len() != rank {
        return Err(Error::invalid(
            "occlusion strides",
            format!(
                "{strides:?} has {} dimension(s), expected {rank} (one per dimension of the input shape {shape:?}) or none for 1 everywhere",
                strides.len()
            ),
        ));
    }
    let mut counts = Vec::with_capacity(rank);
    for d in 0..rank {
        let (size, k, s) = (shape[d], window[d], strides[d]);
        if k == 0 || k > size {
            return Err(Error::invalid(
                "occlusion window",
                format!("{window:?} does not fit the input shape {shape:?}: dimension {d} must be 1..={size}, got {k}"),
            ));
        }
        if s == 0 || (s > k && k < size) {
            return Err(Error::invalid(
                "occlusion strides",
                format!(
                    "{strides:?}: dimension {d} must be 1..={k} (at most the window {k}, so every element is covered), got {s}"
                ),
            ));
        }
        counts.push((size - k).div_ceil(s) + 1);
    }
    Ok((counts, strides))
}

/// Occlusion attribution of the sample `x` with `baseline` (both flat, validated), in
/// `passes` (one report per pass of occluded copies).
pub(super) fn attribute(
    graph: &Graph,
    x: &[f32],
    baseline: &[f32],
    objective: &Objective,
    window: &[usize],
    strides: &[usize],
    passes: &mut Passes,
) -> Result<Vec<f32>> {
    let shape = graph.input_shape();
    let (counts, steps) = positions(shape, window, strides)?;
    let total: usize = counts.iter().product();
    let layout = row_major(shape);
    let count_layout = row_major(&counts);
    let bounds = |k: usize| -> (Vec<usize>, Vec<usize>) {
        let lo: Vec<usize> = (0..shape.len())
            .map(|d| (k / count_layout[d]) % counts[d] * steps[d])
            .collect();
        let hi: Vec<usize> = (0..shape.len())
            .map(|d| (lo[d] + window[d]).min(shape[d]))
            .collect();
        (lo, hi)
    };
    let mut reference = Vec::new();
    passes.forward(
        graph,
        objective,
        1,
        false,
        |_| Ok(x.to_vec()),
        |_, s| {
            reference = s;
            Ok(())
        },
    )?;
    let f0 = reference[0];
    let n = x.len();
    let mut sum = vec![0.0f64; n];
    let mut covered = vec![0u32; n];
    passes.forward(
        graph,
        objective,
        total,
        true,
        |range| {
            let mut batch = Vec::with_capacity(range.len() * n);
            for k in range {
                let start = batch.len();
                batch.extend_from_slice(x);
                let (lo, hi) = bounds(k);
                for_each_in_box(&layout, &lo, &hi, |i| batch[start + i] = baseline[i]);
            }
            Ok(batch)
        },
        |range, scores| {
            for (k, score) in range.zip(scores) {
                let diff = f64::from(f0 - score);
                let (lo, hi) = bounds(k);
                for_each_in_box(&layout, &lo, &hi, |i| {
                    sum[i] += diff;
                    covered[i] += 1;
                });
            }
            Ok(())
        },
    )?;
    Ok(sum
        .iter()
        .zip(&covered)
        .map(|(s, &c)| (s / f64::from(c)) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{mlp, mlp_input, unreported};
    use super::super::{saliency, Baseline, Method, SaliencyOptions};
    use super::*;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Op;
    use crate::graph::ValueId;

    fn occlusion(window: &[usize], strides: &[usize], baseline: Baseline) -> SaliencyOptions {
        SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(
                Method::Occlusion {
                    window: window.to_vec(),
                    strides: strides.to_vec(),
                    baseline,
                },
                1,
            )
        }
    }

    #[test]
    fn positions_follow_captum() {
        // 10 wide, window 3, stride 2: starts 0, 2, 4, 6, 8 (the last cut to 8..10).
        assert_eq!(positions(&[10], &[3], &[2]).unwrap().0, vec![5]);
        assert_eq!(
            positions(&[3, 8, 8], &[1, 3, 3], &[1, 2, 2]).unwrap().0,
            vec![3, 4, 4]
        );
        // A window as large as the dimension allows any stride.
        assert_eq!(positions(&[4], &[4], &[9]).unwrap().0, vec![1]);
        let err = positions(&[4, 4], &[2], &[]).unwrap_err().to_string();
        assert!(err.contains("expected 2"), "{err}");
        let err = positions(&[4, 4], &[2, 5], &[]).unwrap_err().to_string();
        assert!(err.contains("1..=4, got 5"), "{err}");
        let err = positions(&[4, 4], &[2, 2], &[3, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1..=2") && err.contains("got 3"), "{err}");
        assert!(positions(&[4, 4], &[2, 2], &[1, 0]).is_err());
        assert!(positions(&[4, 4], &[2, 2], &[1]).is_err());
        assert!(positions(&[4, 4], &[0, 2], &[]).is_err());
    }

    #[test]
    fn box_iteration_visits_exactly_the_box() {
        let layout = row_major(&[2, 3, 4]);
        assert_eq!(layout, vec![12, 4, 1]);
        let mut seen = Vec::new();
        for_each_in_box(&layout, &[1, 1, 2], &[2, 3, 4], |i| seen.push(i));
        assert_eq!(seen, vec![18, 19, 22, 23]);
    }

    /// A linear model: occluding element i changes F by w_i (x_i - b_i), so a window-1
    /// occlusion equals (x - b) ⊙ w, and wider windows average those over their elements.
    #[test]
    fn linear_model_closed_form() {
        let mut g = Graph::new(&[5]).unwrap();
        let w = random_tensor(&[2, 5], -1.0, 1.0, 3);
        g.push(
            "fc",
            "Gemm",
            Op::Dense(Dense::new(w.clone(), None).unwrap()),
            &[ValueId::INPUT],
        )
        .unwrap();
        let x = [1.0, -2.0, 0.5, 3.0, 0.25];
        let c: Vec<f32> = (0..5).map(|i| (x[i] - 0.5) * w[[1, i]]).collect();
        let single = saliency(&g, &x, &occlusion(&[1], &[], Baseline::Scalar(0.5))).unwrap();
        for (got, want) in single.values.iter().zip(&c) {
            assert!((got - want).abs() < 1e-6);
        }
        // Window 2 stride 2 over 5: windows {0,1}, {2,3}, {4}.
        let pairs = saliency(&g, &x, &occlusion(&[2], &[2], Baseline::Scalar(0.5))).unwrap();
        let want = [c[0] + c[1], c[0] + c[1], c[2] + c[3], c[2] + c[3], c[4]];
        for i in 0..5 {
            assert!(
                (pairs.values[i] - want[i]).abs() < 1e-6,
                "{:?} vs {want:?}",
                pairs.values
            );
        }
        // Window 2 stride 1: windows {0,1} {1,2} {2,3} {3,4}; element 1 averages two windows.
        let slide = saliency(&g, &x, &occlusion(&[2], &[1], Baseline::Scalar(0.5))).unwrap();
        let want1 = ((c[0] + c[1]) + (c[1] + c[2])) / 2.0;
        assert!((slide.values[1] - want1).abs() < 1e-6);
        assert!((slide.values[0] - (c[0] + c[1])).abs() < 1e-6);
    }

    #[test]
    fn tensor_baseline_and_chunking() {
        let g = mlp();
        let x = mlp_input();
        let obj = Objective::new(&g, 1, true).unwrap();
        let b: Vec<f32> = (0..6).map(|i| i as f32 * 0.1).collect();
        let whole = attribute(&g, &x, &b, &obj, &[2], &[1], &mut unreported(100)).unwrap();
        let split = attribute(&g, &x, &b, &obj, &[2], &[1], &mut unreported(2)).unwrap();
        for (a, b) in whole.iter().zip(&split) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");
        }
        // Occluding with the input itself changes nothing.
        let none = attribute(&g, &x, &x, &obj, &[3], &[2], &mut unreported(100)).unwrap();
        assert!(none.iter().all(|&v| v == 0.0));
    }
}
