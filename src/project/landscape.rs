//! The loss over a plane of weight space, for contour lines under a training trajectory
//! (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", figure 9: the loss surface
//! over the PCA plane of the optimisation path).
//!
//! For every point `θ* + α δ_1 + β δ_2` of a [`ParameterGrid`], the model's parameters are set to
//! that point and the mean loss over a dataset is evaluated in inference form
//! ([`crate::train::loss::evaluate_loss`]: cross-entropy, mean squared error or binary
//! cross-entropy with logits, as the trainer minimises them).

use super::trajectory::ParameterGrid;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::train::loss::{evaluate_loss, Loss, Targets};

/// The mean `loss` over (`inputs`, `targets`) at every grid point, `alphas.len() x betas.len()`
/// row-major (row = alpha). `progress(done, total)` is called after each point; returning
/// `false` cancels with an error.
pub fn loss_surface(
    graph: &Graph,
    inputs: &[f32],
    targets: Targets,
    loss: Loss,
    grid: &ParameterGrid,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Vec<f32>> {
    if grid.dim() != graph.param_count() {
        return Err(Error::shape(format!(
            "the grid's points have {} parameters, the model has {}",
            grid.dim(),
            graph.param_count()
        )));
    }
    let mut model = graph.clone();
    let mut point = vec![0.0f32; grid.dim()];
    let mut losses = Vec::with_capacity(grid.len());
    for index in 0..grid.len() {
        grid.point(index, &mut point)?;
        model.set_flat_params(&point)?;
        losses.push(evaluate_loss(&model, inputs, targets, loss)?.loss);
        if !progress(index + 1, grid.len()) {
            return Err(Error::invalid("loss surface", "cancelled"));
        }
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;
    use crate::project::trajectory::{plane_grid, Linspace};
    use crate::train::loss::mean_cross_entropy;
    use ndarray::Array1;

    #[test]
    fn centre_of_the_grid_is_the_models_own_loss() {
        let g = from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"seed":9,
            "layers":[{"type":"dense","units":3,"activation":"tanh"},{"type":"dense","units":2}]}"#,
        )
        .unwrap();
        let inputs = [0.5, -1.0, 1.5, 0.25, -0.75, 0.0];
        let labels = [0, 1, 1];
        let p = g.param_count();
        let base = Array1::from(g.flat_params());
        let d1 = Array1::from_shape_fn(p, |i| if i % 2 == 0 { 0.1 } else { 0.0 });
        let d2 = Array1::from_shape_fn(p, |i| if i % 3 == 0 { -0.2 } else { 0.05 });
        let axis = Linspace {
            start: -1.0,
            end: 1.0,
            steps: 3,
        };
        let grid = plane_grid(base.view(), d1.view(), d2.view(), &axis, &axis).unwrap();
        let mut calls = 0;
        let surface = loss_surface(
            &g,
            &inputs,
            Targets::Classes(&labels),
            Loss::CrossEntropy,
            &grid,
            &mut |_, _| {
                calls += 1;
                true
            },
        )
        .unwrap();
        assert_eq!((surface.len(), calls), (9, 9));
        let own = mean_cross_entropy(&g, &inputs, &labels).unwrap();
        assert!((surface[4] - own).abs() < 1e-6, "{} vs {own}", surface[4]);
        assert!(
            surface.iter().any(|&l| (l - own).abs() > 1e-3),
            "the loss varies over the plane"
        );
        let classes = Targets::Classes(&labels);
        assert!(loss_surface(
            &g,
            &inputs,
            classes,
            Loss::CrossEntropy,
            &grid,
            &mut |_, _| false
        )
        .is_err());
        // Any of the trainer's losses: the centre is the model's own mean squared error.
        let values = [0.5, -0.5, 1.0, 0.0, 0.25, 0.75];
        let mse = loss_surface(
            &g,
            &inputs,
            Targets::Values(&values),
            Loss::Mse,
            &grid,
            &mut |_, _| true,
        )
        .unwrap();
        let own = evaluate_loss(&g, &inputs, Targets::Values(&values), Loss::Mse)
            .unwrap()
            .loss;
        assert!((mse[4] - own).abs() < 1e-6, "{} vs {own}", mse[4]);
        assert_ne!(mse, surface);
    }
}
