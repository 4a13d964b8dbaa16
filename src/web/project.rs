//! Projections for JavaScript: PCA (scikit-learn semantics), PCA of a layer's weight rows, a
//! layer's activations over a dataset, training trajectories and the loss surface under them.

use super::inputs::{count, floats, numbers, text, Progress};
use super::model::Model;
use super::options::{object, read_object, read_options};
use super::train::JsTargets;
use super::{js_error, shape_array};
use crate::project::landscape::loss_surface;
use crate::project::pca::{matrix_view, weight_rows_pca, Pca, PcaResult};
use crate::project::trajectory::{plane_grid, project_trajectory, Linspace};
use crate::project::tsne::Tsne;
use crate::tensor::into_vec;
use crate::train::loss::Loss;
use ndarray::ArrayView1;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const PROJECTION_TYPES: &str = r#"
/** The options of `pca` and `weightRowsPca` (scikit-learn's `PCA`, in camelCase). */
export interface PcaOptions {
    /** The number of components to keep, `1..=min(rows, cols)`. Default 2. */
    components?: number;
    /** Scale the projections to unit variance. Default `false`. */
    whiten?: boolean;
    /** The algorithm; `"auto"` picks as scikit-learn 1.9 does. Default `"auto"`. */
    solver?: "auto" | "full" | "covarianceEigh" | "randomized";
    /** The seed of the randomized solver's test vectors. Default 0. */
    seed?: number;
    /** The randomized solver's power iterations. Default scikit-learn's `"auto"`: 7 when `components < 0.1 min(rows, cols)`, else 4. */
    powerIterations?: number;
}

/** The options of `new TsneRun` (scikit-learn 1.9's `TSNE`, in camelCase). */
export interface TsneOptions {
    /** The embedding's dimensions, at least 1 (at most 3 for Barnes-Hut). Default 2. */
    components?: number;
    /** The effective number of neighbours, `0 < perplexity < rows`. Default 30. */
    perplexity?: number;
    /** The factor on the affinities during the first 250 iterations, at least 1. Default 12. */
    earlyExaggeration?: number;
    /** The step size, positive. Default `"auto"`: `max(rows / earlyExaggeration / 4, 50)`. */
    learningRate?: number;
    /** Total iterations, at least 250 (the early exaggeration phase). Default 1000. */
    maxIter?: number;
    /** Iterations without a better KL divergence after which the second phase stops (checked every 50). Default 300. */
    nIterWithoutProgress?: number;
    /** Stop when the norm of the gain-scaled gradient is at most this, at least 0. Default 1e-7. */
    minGradNorm?: number;
    /** The initial embedding: principal components or random normals. Default `"pca"`. */
    init?: "pca" | "random";
    /** The gradient algorithm; `"auto"` is exact up to 1000 rows or above 3 components, else Barnes-Hut. Default `"auto"`. */
    method?: "auto" | "exact" | "barnesHut";
    /** The Barnes-Hut accuracy in `[0, 1]`; 0 summarises nothing. Default 0.5. */
    angle?: number;
    /** The seed of the random parts (randomized PCA initialisation, random initialisation). Default 0. */
    seed?: number;
}

/** A KL divergence evaluation of t-SNE (every 50 iterations and at the end of each phase). */
export interface TsneCheckpoint {
    /** Iterations completed when it was taken (50, 100, ...). */
    iteration: number;
    /** The KL divergence before that iteration's update (with exaggerated affinities in the first phase, as scikit-learn reports it; estimated by Barnes-Hut). */
    klDivergence: number;
    /** The norm of that iteration's gain-scaled gradient. */
    gradientNorm: number;
    /** Whether the affinities were exaggerated. */
    exaggerated: boolean;
}

/** Where a t-SNE optimisation is, returned by `TsneRun.run`. */
export interface TsneProgress {
    /** Iterations completed. */
    iteration: number;
    /** The iteration budget (`maxIter`). */
    maxIter: number;
    /** Whether the next iteration uses early exaggeration. */
    exaggerating: boolean;
    /** The latest KL evaluation, `undefined` before the first. */
    checkpoint: TsneCheckpoint | undefined;
    /** Why the optimisation ended, `undefined` while it runs. */
    stop: "maxIter" | "noProgress" | "gradientNorm" | "cancelled" | undefined;
}

/** A training trajectory on the plane of its two principal directions, returned by `projectTrajectory`. */
export interface TrajectoryProjection {
    /** The two directions, `2 x params`, row-major. */
    directions: Float32Array;
    /** Each snapshot's coordinates on the plane, `count x 2`, row-major. */
    coordinates: Float32Array;
    /** The fraction of the trajectory's variance along each direction. */
    explainedVarianceRatio: Float32Array;
}

/** The options of `lossSurface`. */
export interface LossSurfaceOptions {
    /** The loss, as the `Trainer`'s: `"crossEntropy"` (the default; class labels as targets), `"mse"` or `"bce"` (target values). */
    loss?: "crossEntropy" | "mse" | "bce";
}

/** `steps` evenly spaced values from `start` to `end` inclusive (NumPy's `linspace`). */
export interface Linspace {
    /** The first value. */
    start: number;
    /** The last value. */
    end: number;
    /** The number of values (at least 2 for a drawn landscape). */
    steps: number;
}
"#;

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
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "\"full\" | \"covarianceEigh\" | \"randomized\""
    )]
    pub fn solver(&self) -> String {
        self.inner.solver.name().to_string()
    }
    /// Projects new rows (`rows x nFeatures`, row-major).
    pub fn transform(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] rows: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let data = floats(&data, "transform data")?;
        let rows = count(&rows, "transform rows")?;
        let view = matrix_view("data", &data, rows, self.inner.n_features()).map_err(js_error)?;
        self.inner
            .transform(view)
            .map(|a| flat(a.view()))
            .map_err(js_error)
    }
    /// Maps coordinates (`rows x nComponents`) back to the data space.
    #[wasm_bindgen(js_name = inverseTransform)]
    pub fn inverse_transform(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] coordinates: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] rows: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let coordinates = floats(&coordinates, "inverseTransform coordinates")?;
        let rows = count(&rows, "inverseTransform rows")?;
        let view = matrix_view("coordinates", &coordinates, rows, self.inner.n_components())
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
pub fn pca(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] data: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] rows: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] cols: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "PcaOptions")] options: JsValue,
) -> Result<PcaFit, JsError> {
    let data = floats(&data, "pca data")?;
    let rows = count(&rows, "pca rows")?;
    let cols = count(&cols, "pca cols")?;
    let options = read_options(options, "PCA options")?;
    Pca::fit_slice(&data, rows, cols, &options)
        .map(|inner| PcaFit { inner })
        .map_err(js_error)
}

/// PCA of a layer's weight rows: each output unit's (or filter's) incoming weights is a point.
#[wasm_bindgen(js_name = weightRowsPca)]
pub fn weight_rows(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "string")] layer: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "PcaOptions")] options: JsValue,
) -> Result<PcaFit, JsError> {
    let layer = text(&layer, "weightRowsPca layer")?;
    let options = read_options(options, "PCA options")?;
    let weight = model.graph().weight(&layer).map_err(js_error)?;
    weight_rows_pca(weight, &options)
        .map(|inner| PcaFit { inner })
        .map_err(js_error)
}

/// A training trajectory on the plane of its two principal directions (Li et al. 2018):
/// `snapshots` holds `count` parameter vectors of `params` values (the last one the final
/// weights). Returns `{ directions (2 x params), coordinates (count x 2), explainedVarianceRatio }`.
#[wasm_bindgen(
    js_name = projectTrajectory,
    unchecked_return_type = "TrajectoryProjection"
)]
pub fn trajectory(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] snapshots: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] snapshot_count: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] params: JsValue,
) -> Result<JsValue, JsError> {
    let snapshots = floats(&snapshots, "projectTrajectory snapshots")?;
    let snapshot_count = count(&snapshot_count, "projectTrajectory count")?;
    let params = count(&params, "projectTrajectory params")?;
    let view = matrix_view("trajectory snapshots", &snapshots, snapshot_count, params)
        .map_err(js_error)?;
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

/// The options of `lossSurface`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct LossSurfaceOptions {
    /// The loss evaluated over the plane. Default cross-entropy.
    loss: Loss,
}

/// A `{ start, end, steps }` grid axis from JavaScript.
pub(crate) fn linspace(value: JsValue, what: &str) -> Result<Linspace, JsError> {
    read_object(value, what)
}

/// The mean loss of `model` over (`inputs`, `targets`) at every point `trained + a d1 + b d2`
/// for `a` in `alphas` and `b` in `betas` (each `{ start, end, steps }`), row-major with one row
/// per `a`. `progress(done, total)` is called after each point. `options.loss` is the trainer's
/// loss (`crossEntropy` by default, with class labels as targets; `mse` and `bce` take target
/// values, as `Trainer.step` does).
#[wasm_bindgen(js_name = lossSurface)]
#[allow(clippy::too_many_arguments)]
pub fn loss_surface_js(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "ModelInput")] inputs: JsValue,
    #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] targets: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] trained: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] d1: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] d2: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Linspace")] alphas: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Linspace")] betas: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "(done: number, total: number) => void")]
    progress: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "LossSurfaceOptions")] options: Option<JsValue>,
) -> Result<Vec<f32>, JsError> {
    let options: LossSurfaceOptions =
        read_options(options.unwrap_or(JsValue::UNDEFINED), "lossSurface options")?;
    let mut progress = Progress::read(&progress, "lossSurface progress")?;
    let inputs = super::inputs::model_input(model.graph(), &inputs)?;
    let targets = JsTargets::read(options.loss, &numbers(&targets, "lossSurface targets")?)?;
    let trained = floats(&trained, "lossSurface trained")?;
    let d1 = floats(&d1, "lossSurface d1")?;
    let d2 = floats(&d2, "lossSurface d2")?;
    let grid = plane_grid(
        ArrayView1::from(&trained[..]),
        ArrayView1::from(&d1[..]),
        ArrayView1::from(&d2[..]),
        &linspace(alphas, "alphas")?,
        &linspace(betas, "betas")?,
    )
    .map_err(js_error)?;
    loss_surface(
        model.graph(),
        &inputs,
        targets.view(),
        options.loss,
        &grid,
        &mut |done, total| progress.call(done, total),
    )
    .map_err(|e| progress.error(e))
}

#[wasm_bindgen]
impl Model {
    /// One layer's output for every sample of a dataset (`samples` inputs, row-major), computed
    /// in chunks: `samples x prod(layer shape)` values, e.g. to project with `pca`.
    #[wasm_bindgen(js_name = layerOutputs)]
    pub fn layer_outputs(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] layer: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ModelInput")] inputs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] samples: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let graph = self.graph();
        let id = graph
            .find(&text(&layer, "layerOutputs layer")?)
            .map_err(js_error)?;
        let samples = count(&samples, "layerOutputs samples")?;
        let inputs = super::inputs::model_input(graph, &inputs)?;
        graph
            .value_over(id, &inputs, samples)
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
    #[wasm_bindgen(js_name = layerShape, unchecked_return_type = "number[]")]
    pub fn layer_shape(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] layer: JsValue,
    ) -> Result<js_sys::Array, JsError> {
        let graph = self.graph();
        let id = graph
            .find(&text(&layer, "layerShape layer")?)
            .map_err(js_error)?;
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
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] rows: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] cols: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TsneOptions")] options: JsValue,
    ) -> Result<TsneRun, JsError> {
        let data = floats(&data, "TsneRun data")?;
        let rows = count(&rows, "TsneRun rows")?;
        let cols = count(&cols, "TsneRun cols")?;
        let options = read_options(options, "t-SNE options")?;
        Tsne::from_slice(&data, rows, cols, &options)
            .map(|inner| TsneRun { inner })
            .map_err(js_error)
    }

    /// Runs up to `iterations` more iterations; returns `{ iteration, maxIter, exaggerating,
    /// checkpoint: { iteration, klDivergence, gradientNorm, exaggerated } | undefined, stop }`.
    #[wasm_bindgen(unchecked_return_type = "TsneProgress")]
    pub fn run(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] iterations: JsValue,
    ) -> Result<JsValue, JsError> {
        let iterations = count(&iterations, "TsneRun.run iterations")?;
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
    #[wasm_bindgen(getter, unchecked_return_type = "\"exact\" | \"barnesHut\"")]
    pub fn method(&self) -> String {
        self.inner.method().name().to_string()
    }

    /// Stops the optimisation; the embedding so far stays available.
    pub fn cancel(&mut self) {
        self.inner.cancel();
    }
}
