//! Projections for JavaScript: PCA (scikit-learn semantics), PCA of a layer's weight rows, a
//! layer's activations over a dataset, training trajectories and the loss surface under them.

use super::model::Model;
use super::options::{object, read_object, read_options};
use super::{js_error, shape_array};
use crate::project::landscape::loss_surface;
use crate::project::pca::{matrix_view, weight_rows_pca, Pca, PcaResult};
use crate::project::trajectory::{plane_grid, project_trajectory, Linspace};
use crate::project::tsne::Tsne;
use crate::tensor::into_vec;
use ndarray::ArrayView1;
use wasm_bindgen::prelude::*;

/// A fitted PCA: scikit-learn's attributes (camelCase) and `transform` / `inverseTransform`.
#[wasm_bindgen]
pub struct PcaFit {
    inner: PcaResult,
}

fn flat(a: ndarray::ArrayView2<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

#[wasm_bindgen]
impl PcaFit {
    /// Principal axes, `components x cols`, row-major.
    #[wasm_bindgen(getter)]
    pub fn components(&self) -> Vec<f32> {
        flat(self.inner.components.view())
    }
    /// Variance along each component, `S^2 / (n - 1)`.
    #[wasm_bindgen(getter, js_name = explainedVariance)]
    pub fn explained_variance(&self) -> Vec<f32> {
        self.inner.explained_variance.to_vec()
    }
    /// Fraction of the total variance along each component.
    #[wasm_bindgen(getter, js_name = explainedVarianceRatio)]
    pub fn explained_variance_ratio(&self) -> Vec<f32> {
        self.inner.explained_variance_ratio.to_vec()
    }
    /// Singular values of the centred data.
    #[wasm_bindgen(getter, js_name = singularValues)]
    pub fn singular_values(&self) -> Vec<f32> {
        self.inner.singular_values.to_vec()
    }
    /// Per-column mean.
    #[wasm_bindgen(getter)]
    pub fn mean(&self) -> Vec<f32> {
        self.inner.mean.to_vec()
    }
    /// The fitted rows projected, `rows x components`, row-major.
    #[wasm_bindgen(getter)]
    pub fn transformed(&self) -> Vec<f32> {
        flat(self.inner.transformed.view())
    }
    /// Number of components.
    #[wasm_bindgen(getter, js_name = nComponents)]
    pub fn n_components(&self) -> usize {
        self.inner.n_components()
    }
    /// Number of columns (features).
    #[wasm_bindgen(getter, js_name = nFeatures)]
    pub fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    /// Probabilistic-PCA noise variance, `undefined` when every direction was kept.
    #[wasm_bindgen(getter, js_name = noiseVariance)]
    pub fn noise_variance(&self) -> Option<f32> {
        self.inner.noise_variance
    }
    /// The solver that ran (`"full"`, `"covarianceEigh"` or `"randomized"`).
    #[wasm_bindgen(getter)]
    pub fn solver(&self) -> String {
        self.inner.solver.name().to_string()
    }
    /// Projects new rows (`rows x nFeatures`, row-major).
    pub fn transform(&self, data: &[f32], rows: usize) -> Result<Vec<f32>, JsError> {
        let view = matrix_view("data", data, rows, self.inner.n_features()).map_err(js_error)?;
        self.inner
            .transform(view)
            .map(|a| flat(a.view()))
            .map_err(js_error)
    }
    /// Maps coordinates (`rows x nComponents`) back to the data space.
    #[wasm_bindgen(js_name = inverseTransform)]
    pub fn inverse_transform(&self, coordinates: &[f32], rows: usize) -> Result<Vec<f32>, JsError> {
        let view = matrix_view("coordinates", coordinates, rows, self.inner.n_components())
            .map_err(js_error)?;
        self.inner
            .inverse_transform(view)
            .map(|a| flat(a.view()))
            .map_err(js_error)
    }
}

/// PCA of `rows x cols` row-major data with `options = { components = 2, whiten = false,
/// solver = "auto" | "full" | "covarianceEigh" | "randomized", seed, powerIterations }`.
#[wasm_bindgen]
pub fn pca(data: &[f32], rows: usize, cols: usize, options: JsValue) -> Result<PcaFit, JsError> {
    let options = read_options(options, "PCA options")?;
    Pca::fit_slice(data, rows, cols, &options)
        .map(|inner| PcaFit { inner })
        .map_err(js_error)
}

/// PCA of a layer's weight rows: each output unit's (or filter's) incoming weights is a point.
#[wasm_bindgen(js_name = weightRowsPca)]
pub fn weight_rows(model: &Model, layer: &str, options: JsValue) -> Result<PcaFit, JsError> {
    let options = read_options(options, "PCA options")?;
    let weight = model.graph().weight(layer).map_err(js_error)?;
    weight_rows_pca(weight, &options)
        .map(|inner| PcaFit { inner })
        .map_err(js_error)
}

/// A training trajectory on the plane of its two principal directions (Li et al. 2018):
/// `snapshots` holds `count` parameter vectors of `params` values (the last one the final
/// weights). Returns `{ directions (2 x params), coordinates (count x 2), explainedVarianceRatio }`.
#[wasm_bindgen(js_name = projectTrajectory)]
pub fn trajectory(snapshots: &[f32], count: usize, params: usize) -> Result<JsValue, JsError> {
    let view = matrix_view("trajectory snapshots", snapshots, count, params).map_err(js_error)?;
    let projection = project_trajectory(view).map_err(js_error)?;
    let array = |a: ndarray::ArrayView2<f32>| js_sys::Float32Array::from(&flat(a)[..]).into();
    object(&[
        ("directions", array(projection.directions.view())),
        ("coordinates", array(projection.coordinates.view())),
        (
            "explainedVarianceRatio",
            js_sys::Float32Array::from(&projection.explained_variance_ratio[..]).into(),
        ),
    ])
}

/// A `{ start, end, steps }` grid axis from JavaScript.
pub(crate) fn linspace(value: JsValue, what: &str) -> Result<Linspace, JsError> {
    read_object(value, what)
}

/// The mean cross-entropy of `model` over (`inputs`, `labels`) at every point
/// `final + a d1 + b d2` for `a` in `alphas` and `b` in `betas` (each `{ start, end, steps }`),
/// row-major with one row per `a`. `progress(done, total)` is called after each point.
#[wasm_bindgen(js_name = lossSurface)]
#[allow(clippy::too_many_arguments)]
pub fn loss_surface_js(
    model: &Model,
    inputs: &[f32],
    labels: &[u32],
    final_params: &[f32],
    d1: &[f32],
    d2: &[f32],
    alphas: JsValue,
    betas: JsValue,
    progress: Option<js_sys::Function>,
) -> Result<Vec<f32>, JsError> {
    let grid = plane_grid(
        ArrayView1::from(final_params),
        ArrayView1::from(d1),
        ArrayView1::from(d2),
        &linspace(alphas, "alphas")?,
        &linspace(betas, "betas")?,
    )
    .map_err(js_error)?;
    let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let mut report = |done: usize, total: usize| match &progress {
        Some(f) => f
            .call2(
                &JsValue::NULL,
                &JsValue::from(done as u32),
                &JsValue::from(total as u32),
            )
            .is_ok(),
        None => true,
    };
    loss_surface(model.graph(), inputs, &labels, &grid, &mut report).map_err(js_error)
}

#[wasm_bindgen]
impl Model {
    /// One layer's output for every sample of a dataset (`samples` inputs, row-major), computed
    /// in chunks: `samples x prod(layer shape)` values, e.g. to project with `pca`.
    #[wasm_bindgen(js_name = layerOutputs)]
    pub fn layer_outputs(
        &self,
        layer: &str,
        inputs: &[f32],
        samples: usize,
    ) -> Result<Vec<f32>, JsError> {
        let graph = self.graph();
        let id = graph.find(layer).map_err(js_error)?;
        graph
            .value_over(id, inputs, samples)
            .map(into_vec)
            .map_err(js_error)
    }

    /// Every parameter as one flat vector (node order, then weight before bias), the point in
    /// weight space that trajectories and loss surfaces use.
    #[wasm_bindgen(js_name = flatParameters)]
    pub fn flat_parameters(&self) -> Vec<f32> {
        self.graph().flat_params()
    }

    /// Shape of a layer's output for one sample.
    #[wasm_bindgen(js_name = layerShape)]
    pub fn layer_shape(&self, layer: &str) -> Result<js_sys::Array, JsError> {
        let graph = self.graph();
        let id = graph.find(layer).map_err(js_error)?;
        Ok(shape_array(graph.value_shape(id)))
    }
}

/// A t-SNE optimisation that JavaScript advances in slices (`run(iterations)`) to animate the
/// embedding or report progress; scikit-learn 1.9 `TSNE` semantics and defaults.
#[wasm_bindgen]
pub struct TsneRun {
    inner: Tsne,
}

#[wasm_bindgen]
impl TsneRun {
    /// Prepares t-SNE of `rows x cols` data with `options = { perplexity = 30,
    /// earlyExaggeration = 12, learningRate ("auto"), maxIter = 1000, init = "pca",
    /// method = "auto" | "exact" | "barnesHut", angle = 0.5, seed, ... }`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        data: &[f32],
        rows: usize,
        cols: usize,
        options: JsValue,
    ) -> Result<TsneRun, JsError> {
        let options = read_options(options, "t-SNE options")?;
        Tsne::from_slice(data, rows, cols, &options)
            .map(|inner| TsneRun { inner })
            .map_err(js_error)
    }

    /// Runs up to `iterations` more iterations; returns `{ iteration, maxIter, exaggerating,
    /// checkpoint: { iteration, klDivergence, gradientNorm, exaggerated } | null, stop }`.
    pub fn run(&mut self, iterations: usize) -> Result<JsValue, JsError> {
        let progress = self.inner.run(iterations).map_err(js_error)?;
        serde_wasm_bindgen::to_value(&progress).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The current embedding, `rows x components`, row-major.
    #[wasm_bindgen(getter)]
    pub fn embedding(&self) -> Vec<f32> {
        self.inner.embedding().iter().copied().collect()
    }

    /// Whether the optimisation has ended.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The gradient algorithm in use (`"exact"` or `"barnesHut"`).
    #[wasm_bindgen(getter)]
    pub fn method(&self) -> String {
        self.inner.method().name().to_string()
    }

    /// Stops the optimisation; the embedding so far stays available.
    pub fn cancel(&mut self) {
        self.inner.cancel();
    }
}
