//! The optimisers behind one type: [`Sgd`] (`torch.optim.SGD`) and [`Adam`]
//! (`torch.optim.Adam`, and `torch.optim.AdamW` with decoupled weight decay), chosen by name.
//!
//! Each updates the parameters `θ` of a graph in place from `dL/dθ`, as its module's formulas
//! state; the learning rate a schedule sets ([`Optimizer::set_learning_rate`]) is PyTorch's
//! `param_group["lr"]`. The gradient checks shared by both live here: the gradients must have
//! the parameters' shapes, and a step that would make a parameter non-finite is refused.

use super::adam::{Adam, AdamOptions};
use super::sgd::{Sgd, SgdOptions};
use crate::error::{Error, Result};
use crate::graph::ops::Kernel;
use crate::graph::Graph;
use crate::names::named_enum;
use crate::tensor::Tensor;

named_enum! {
    /// The optimisation algorithm.
    #[derive(Default)]
    pub enum OptimizerKind: "optimizer" {
        /// Stochastic gradient descent with momentum (`torch.optim.SGD`); the default.
        #[default]
        Sgd = "sgd",
        /// Adam with weight decay as an L2 penalty in the gradient (`torch.optim.Adam`).
        Adam = "adam",
        /// Adam with decoupled weight decay (`torch.optim.AdamW`).
        AdamW = "adamw",
    }
}

/// The hyper-parameters of one of the optimisers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerOptions {
    /// [`Sgd`]'s.
    Sgd(SgdOptions),
    /// [`Adam`]'s (AdamW when `decoupled`).
    Adam(AdamOptions),
}

/// An optimiser with its state.
#[derive(Debug, Clone)]
pub enum Optimizer {
    /// `torch.optim.SGD`.
    Sgd(Sgd),
    /// `torch.optim.Adam` or `torch.optim.AdamW`.
    Adam(Adam),
}

impl Optimizer {
    /// An optimiser for the parameters of `graph`, its state allocated once here.
    pub fn new(graph: &Graph, options: OptimizerOptions) -> Result<Self> {
        Ok(match options {
            OptimizerOptions::Sgd(o) => Optimizer::Sgd(Sgd::new(graph, o)?),
            OptimizerOptions::Adam(o) => Optimizer::Adam(Adam::new(graph, o)?),
        })
    }

    /// Sets the step size of the next steps.
    pub fn set_learning_rate(&mut self, learning_rate: f32) {
        match self {
            Optimizer::Sgd(sgd) => sgd.set_learning_rate(learning_rate),
            Optimizer::Adam(adam) => adam.set_learning_rate(learning_rate),
        }
    }

    /// One update of `graph`'s parameters from `dL/dθ` per node; on an error nothing changes.
    pub fn step(&mut self, graph: &mut Graph, grads: &[Vec<Tensor>]) -> Result<()> {
        match self {
            Optimizer::Sgd(sgd) => sgd.step(graph, grads),
            Optimizer::Adam(adam) => adam.step(graph, grads),
        }
    }
}

/// Checks that `grads` holds, per node, nothing (a node the loss does not depend on) or one
/// gradient of each parameter's shape.
pub(crate) fn check_gradients(graph: &Graph, grads: &[Vec<Tensor>]) -> Result<()> {
    if grads.len() != graph.nodes().len() {
        return Err(Error::shape(format!(
            "gradients for {} layers, the model has {}",
            grads.len(),
            graph.nodes().len()
        )));
    }
    for (node, node_grads) in graph.nodes().iter().zip(grads) {
        let params = node.op.params();
        if node_grads.is_empty() {
            continue;
        }
        if params.len() != node_grads.len()
            || params
                .iter()
                .zip(node_grads)
                .any(|(p, g)| p.shape() != g.shape())
        {
            return Err(Error::shape(format!(
                "the gradients of layer '{}' have shapes {:?}, its parameters {:?}",
                node.name,
                node_grads.iter().map(|g| g.shape()).collect::<Vec<_>>(),
                params.iter().map(|p| p.shape()).collect::<Vec<_>>()
            )));
        }
    }
    Ok(())
}

/// The error of a step that would make parameter `index` of `layer` non-finite.
pub(crate) fn diverged(layer: &str, index: usize, gradient: f32, value: f32, lr: f32) -> Error {
    Error::invalid(
        "training",
        format!(
            "the step would make parameter {index} of layer '{layer}' non-finite (gradient \
             {gradient}, value {value}): the run diverged; try a learning rate below {lr}"
        ),
    )
}
