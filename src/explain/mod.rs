//! Attribution (saliency): how much each input element matters for one output of the model.
//!
//! All methods explain the scalar `F(x) = y[target]`, where `y` is the model output of one
//! sample (flattened) or, with [`SaliencyOptions::logits`], the input of a trailing
//! Softmax/LogSoftmax node: Simonyan et al. (2014) explain the class score, not its
//! probability. Every method reproduces the Captum 0.9 class named beside it, numerically
//! (same points, weights and aggregation; f32 arithmetic where Captum uses it):
//!
//! | method | Captum | attribution |
//! | --- | --- | --- |
//! | `gradient` | `Saliency` | `∂F/∂x`, by default its absolute value (Simonyan et al. 2014) |
//! | `inputXGradient` | `InputXGradient` | `x ⊙ ∂F/∂x` (Shrikumar et al. 2016) |
//! | `integratedGradients` | `IntegratedGradients` | `(x - x') ⊙ Σ_k w_k ∂F/∂x(x' + α_k (x - x'))` (Sundararajan et al. 2017), see [`quadrature`] |
//! | `smoothGrad` | `NoiseTunnel(Saliency)` | mean (or mean square, or variance) of the saliency at `x + ε`, `ε ~ N(0, σ²)` (Smilkov et al. 2017; Adebayo et al. 2018 for VarGrad) |
//! | `gradCam` | `LayerGradCam(relu_attributions=True)` | `ReLU(Σ_c mean_hw(∂F/∂A_c) A_c)` at a conv layer `A` (Selvaraju et al. 2017) |
//! | `occlusion` | `Occlusion` | mean over the windows covering an element of `F(x) - F(x with the window set to the baseline)` (Zeiler & Fergus 2014) |
//!
//! Gradient methods run their samples (IG's interpolated inputs, SmoothGrad's noisy copies) as
//! one batch through [`Graph::trace`] and [`Graph::backward_from`]; occlusion runs its occluded
//! copies as one batch of forward passes. A batch is split into passes only when one pass
//! would keep more than [`limits::MAX_ELEMENTS`] values in its trace (the sum over every
//! value of the graph); the split changes no result.
//!
//! [`display`] turns an attribution into an image the way Captum's `visualization` does.
//!
//! ```
//! use nnlens::explain::{saliency, Method, Rule, SaliencyOptions};
//! let graph = nnlens::io::json::from_json(r#"{ "format": "nnlens", "version": 1, "input": [4],
//!   "seed": 3, "layers": [ { "type": "dense", "units": 8, "activation": "tanh" },
//!                          { "type": "dense", "units": 3, "activation": "softmax" } ] }"#).unwrap();
//! let x = [0.5, -1.0, 0.25, 2.0];
//! let mut method: Method = "integratedGradients".parse().unwrap();
//! if let Method::IntegratedGradients { rule, .. } = &mut method {
//!     *rule = "riemannMiddle".parse().unwrap();
//! }
//! // Class 2's score before the softmax.
//! let options = SaliencyOptions { logits: true, ..SaliencyOptions::new(method, 2) };
//! let ig = saliency(&graph, &x, &options).unwrap();
//! assert_eq!(ig.shape, vec![4]);
//! // Completeness: the attributions sum to F(x) - F(0) up to the quadrature error.
//! assert!(ig.delta.unwrap().abs() < 1e-3);
//! ```

pub mod attention;
pub mod display;
mod gradcam;
mod gradient;
mod integrated;
mod occlusion;
pub mod quadrature;
mod smoothgrad;
pub mod tokens;

pub use integrated::integrated_gradients_delta;
pub use quadrature::Rule;

use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::graph::{Graph, Trace, ValueId};
use crate::names::named_enum;
use crate::tensor::{from_vec, into_vec, limits, with_batch};
use std::ops::Range;

/// The reference input of Integrated Gradients and the fill value of occlusion.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// The same value for every input element (Captum: a scalar baseline).
    Scalar(f32),
    /// One value per input element, the shape of one sample, row-major.
    Values(Vec<f32>),
}

impl Default for Baseline {
    /// Zero, Captum's default.
    fn default() -> Self {
        Baseline::Scalar(0.0)
    }
}

impl Baseline {
    /// The baseline expanded to `len` values, checking its length and that it is finite.
    fn expand(&self, len: usize) -> Result<Vec<f32>> {
        let values = match self {
            Baseline::Scalar(v) => vec![*v; len],
            Baseline::Values(v) => {
                if v.len() != len {
                    return Err(Error::invalid(
                        "baseline",
                        format!("has {} values, expected {len} (one per input element) or a single number", v.len()),
                    ));
                }
                v.clone()
            }
        };
        crate::error::ensure_finite("baseline", values.iter().copied())?;
        Ok(values)
    }
}

named_enum! {
    /// How SmoothGrad combines the saliency maps of its noisy samples (Captum `nt_type`).
    #[derive(Default)]
    pub enum Variant: "SmoothGrad variant" {
        /// The mean (Captum `"smoothgrad"`).
        #[default]
        SmoothGrad = "smoothgrad",
        /// The mean of the squares (Captum `"smoothgrad_sq"`).
        SmoothGradSq = "smoothgradSq",
        /// The variance, mean of squares minus square of the mean (Captum `"vargrad"`).
        VarGrad = "vargrad",
    }
}

/// An attribution method and its options. Parsing a name (`"smoothGrad".parse::<Method>()`)
/// gives the method with its defaults ([`MethodKind::defaults`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// Captum `Saliency`: the gradient, its absolute value when `abs` (default true).
    Gradient {
        /// Absolute value of the gradient (Captum's default) instead of the signed gradient.
        abs: bool,
    },
    /// Captum `InputXGradient`: input times gradient.
    InputXGradient,
    /// Captum `IntegratedGradients`.
    IntegratedGradients {
        /// Number of points on the path (default 50; Riemann rules need at least 2).
        steps: usize,
        /// Quadrature rule (default Gauss-Legendre).
        rule: Rule,
        /// Start of the path (default 0).
        baseline: Baseline,
    },
    /// Captum `NoiseTunnel` over `Saliency`.
    SmoothGrad {
        /// Number of noisy samples (default 25).
        samples: usize,
        /// Noise standard deviation as a fraction of `max(x) - min(x)` (default 0.15).
        noise: f32,
        /// How the samples' maps are combined (default mean).
        variant: Variant,
        /// Seed of the ChaCha8 noise generator: the same seed gives the same map.
        seed: u64,
        /// Saliency of each noisy sample as absolute gradient (Captum's default, true).
        abs: bool,
    },
    /// Captum `LayerGradCam` with `relu_attributions=True`.
    GradCam {
        /// Name of a layer whose output is `[C, H, W]`.
        layer: String,
        /// Resize the map bilinearly to the input's `H × W` (Captum
        /// `LayerAttribution.interpolate(..., "bilinear")`).
        upsample: bool,
        /// For a token layer `[tokens, dim]` (a vision transformer's block output): its last
        /// `h · w` tokens as an `h × w` grid of `dim` channels (the first tokens, such as the
        /// cls token, left out). `None` for a `[C, H, W]` layer.
        grid: Option<[usize; 2]>,
    },
    /// Captum `Occlusion`.
    Occlusion {
        /// Window shape over the per-sample input dimensions (Captum `sliding_window_shapes`).
        window: Vec<usize>,
        /// Step of the window per dimension (Captum `strides`); empty means 1 everywhere.
        strides: Vec<usize>,
        /// Value the window is filled with (default 0).
        baseline: Baseline,
    },
}

named_enum! {
    /// An attribution method without its options: the name of a [`Method`].
    #[derive(Default)]
    pub enum MethodKind: "attribution method" {
        /// [`Method::Gradient`], the default.
        #[default]
        Gradient = "gradient",
        /// [`Method::InputXGradient`].
        InputXGradient = "inputXGradient",
        /// [`Method::IntegratedGradients`].
        IntegratedGradients = "integratedGradients",
        /// [`Method::SmoothGrad`].
        SmoothGrad = "smoothGrad",
        /// [`Method::GradCam`].
        GradCam = "gradCam",
        /// [`Method::Occlusion`].
        Occlusion = "occlusion",
    }
}

impl MethodKind {
    /// The method with its default options (Captum's). Grad-CAM's `layer` and occlusion's
    /// `window` have no default and start empty; [`saliency`] asks for them.
    pub fn defaults(self) -> Method {
        match self {
            MethodKind::Gradient => Method::Gradient { abs: true },
            MethodKind::InputXGradient => Method::InputXGradient,
            MethodKind::IntegratedGradients => Method::IntegratedGradients {
                steps: 50,
                rule: Rule::default(),
                baseline: Baseline::default(),
            },
            MethodKind::SmoothGrad => Method::SmoothGrad {
                samples: 25,
                noise: 0.15,
                variant: Variant::default(),
                seed: 0,
                abs: true,
            },
            MethodKind::GradCam => Method::GradCam {
                layer: String::new(),
                upsample: false,
                grid: None,
            },
            MethodKind::Occlusion => Method::Occlusion {
                window: Vec::new(),
                strides: Vec::new(),
                baseline: Baseline::default(),
            },
        }
    }
}

/// A method's options as a caller names them (the JavaScript saliency options other than
/// `method`, `target` and `logits`): each one left `None` keeps the method's default (see
/// [`MethodKind::with_options`]). Options of another method are ignored; the bindings refuse
/// them first, naming the method's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodOptions {
    /// Gradient and SmoothGrad: absolute values.
    pub abs: Option<bool>,
    /// Integrated Gradients: points on the path.
    pub steps: Option<usize>,
    /// Integrated Gradients: quadrature rule.
    pub rule: Option<Rule>,
    /// Integrated Gradients: start of the path; occlusion: fill value.
    pub baseline: Option<Baseline>,
    /// SmoothGrad: noisy samples.
    pub samples: Option<usize>,
    /// SmoothGrad: noise standard deviation as a fraction of the input's range.
    pub noise: Option<f32>,
    /// SmoothGrad: how the samples' maps are combined.
    pub variant: Option<Variant>,
    /// SmoothGrad: seed of the noise.
    pub seed: Option<u64>,
    /// Grad-CAM: the layer.
    pub layer: Option<String>,
    /// Grad-CAM: resize the map to the input.
    pub upsample: Option<bool>,
    /// Grad-CAM: a token layer's grid.
    pub grid: Option<[usize; 2]>,
    /// Occlusion: the window.
    pub window: Option<Vec<usize>>,
    /// Occlusion: the window's steps.
    pub strides: Option<Vec<usize>>,
}

impl MethodKind {
    /// The method with its [defaults](MethodKind::defaults), changed by each option given.
    ///
    /// ```
    /// use nnlens::explain::{Method, MethodKind, MethodOptions};
    /// let options = MethodOptions { steps: Some(8), samples: Some(3), ..MethodOptions::default() };
    /// let Method::IntegratedGradients { steps, .. } = MethodKind::IntegratedGradients.with_options(options)
    /// else { unreachable!() };
    /// assert_eq!(steps, 8);
    /// ```
    pub fn with_options(self, options: MethodOptions) -> Method {
        fn set<T>(current: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *current = value;
            }
        }
        let mut method = self.defaults();
        match &mut method {
            Method::Gradient { abs } => set(abs, options.abs),
            Method::InputXGradient => {}
            Method::IntegratedGradients {
                steps,
                rule,
                baseline,
            } => {
                set(steps, options.steps);
                set(rule, options.rule);
                set(baseline, options.baseline);
            }
            Method::SmoothGrad {
                samples,
                noise,
                variant,
                seed,
                abs,
            } => {
                set(samples, options.samples);
                set(noise, options.noise);
                set(variant, options.variant);
                set(seed, options.seed);
                set(abs, options.abs);
            }
            Method::GradCam {
                layer,
                upsample,
                grid,
            } => {
                set(layer, options.layer);
                set(upsample, options.upsample);
                *grid = options.grid;
            }
            Method::Occlusion {
                window,
                strides,
                baseline,
            } => {
                set(window, options.window);
                set(strides, options.strides);
                set(baseline, options.baseline);
            }
        }
        method
    }
}

impl Method {
    /// Which method this is.
    pub fn kind(&self) -> MethodKind {
        match self {
            Method::Gradient { .. } => MethodKind::Gradient,
            Method::InputXGradient => MethodKind::InputXGradient,
            Method::IntegratedGradients { .. } => MethodKind::IntegratedGradients,
            Method::SmoothGrad { .. } => MethodKind::SmoothGrad,
            Method::GradCam { .. } => MethodKind::GradCam,
            Method::Occlusion { .. } => MethodKind::Occlusion,
        }
    }

    /// The method's name (one of [`MethodKind::NAMES`]).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

impl std::str::FromStr for Method {
    type Err = Error;

    /// The method called `name` with its defaults; an unknown name is an error listing
    /// [`MethodKind::NAMES`].
    fn from_str(name: &str) -> Result<Method> {
        name.parse::<MethodKind>().map(MethodKind::defaults)
    }
}

/// What to explain and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SaliencyOptions {
    /// The method and its options.
    pub method: Method,
    /// Index into the flattened per-sample output (or logits, see `logits`).
    pub target: usize,
    /// When the graph output is produced by a Softmax or LogSoftmax node, explain that node's
    /// input (the class scores) instead of the probabilities. No effect on other graphs.
    /// Default false.
    pub logits: bool,
}

impl SaliencyOptions {
    /// Options for `method` and `target`, explaining the model's output as given
    /// (`logits: false`, as Captum does).
    pub fn new(method: Method, target: usize) -> Self {
        SaliencyOptions {
            method,
            target,
            logits: false,
        }
    }
}

/// The result of [`saliency`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    /// The attribution, row-major.
    pub values: Vec<f32>,
    /// Its shape: the per-sample input shape, or `[H, W]` for Grad-CAM.
    pub shape: Vec<usize>,
    /// Integrated Gradients only: Captum's convergence delta
    /// `Σ attribution - (F(x) - F(baseline))` (see [`integrated_gradients_delta`]).
    pub delta: Option<f32>,
}

/// Attribution of output `options.target` of `graph` for one input sample (`input` holds the
/// per-sample input shape, row-major).
///
/// Errors: wrong input length or non-finite input, target out of range
/// ([`Error::TargetOutOfRange`]), invalid method options (each error names the option, the
/// value and what is valid), and errors of the graph's kernels.
pub fn saliency(graph: &Graph, input: &[f32], options: &SaliencyOptions) -> Result<Attribution> {
    attribute_in_passes(graph, input, options, None)
}

/// [`saliency`], calling `progress(done, total)` after each pass of the methods that evaluate
/// many samples: Integrated Gradients' path points, SmoothGrad's noisy samples and Occlusion's
/// windows (`total` is their count). These methods then split their samples into at least
/// [`PROGRESS_PASSES`] passes (fewer when there are fewer samples), so that progress moves on a
/// large model; the split changes no result. The other methods make one pass and report nothing.
/// `progress` returning `false` stops the attribution with an error.
///
/// ```
/// use nnlens::explain::{saliency_reporting, Method, SaliencyOptions};
/// let graph = nnlens::io::json::from_json(r#"{ "format": "nnlens", "version": 1, "input": [4],
///   "seed": 3, "layers": [ { "type": "dense", "units": 3, "activation": "softmax" } ] }"#).unwrap();
/// let method: Method = "integratedGradients".parse().unwrap();
/// let mut reports = Vec::new();
/// saliency_reporting(&graph, &[0.5, -1.0, 0.25, 2.0], &SaliencyOptions::new(method, 2),
///     &mut |done, total| { reports.push((done, total)); true }).unwrap();
/// // 50 path points (the default) in passes of at most 5.
/// assert_eq!(reports.first(), Some(&(5, 50)));
/// assert_eq!(reports.last(), Some(&(50, 50)));
/// ```
pub fn saliency_reporting(
    graph: &Graph,
    input: &[f32],
    options: &SaliencyOptions,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Attribution> {
    attribute_in_passes(graph, input, options, Some(progress))
}

/// [`saliency`] and [`saliency_reporting`]: the methods' samples in passes, reported to
/// `progress` when there is one.
fn attribute_in_passes(
    graph: &Graph,
    input: &[f32],
    options: &SaliencyOptions,
    progress: Option<&mut dyn FnMut(usize, usize) -> bool>,
) -> Result<Attribution> {
    let objective = Objective::new(graph, options.target, options.logits)?;
    check_input(graph, input)?;
    let mut passes = Passes {
        most: pass_limit(graph, limits::MAX_ELEMENTS),
        progress,
    };
    if tokens::at_embedding(graph, &options.method) {
        return tokens::attribute(graph, input, &options.method, &objective, &mut passes);
    }
    let sample = || graph.input_tensor(input.to_vec(), 1);
    let shape = graph.input_shape().to_vec();
    let plain = |values| Attribution {
        values,
        shape: shape.clone(),
        delta: None,
    };
    Ok(match &options.method {
        Method::Gradient { abs } => plain(gradient::saliency(graph, sample()?, &objective, *abs)?),
        Method::InputXGradient => plain(gradient::input_x_gradient(
            graph,
            input,
            sample()?,
            &objective,
        )?),
        Method::IntegratedGradients {
            steps,
            rule,
            baseline,
        } => {
            let baseline = baseline.expand(input.len())?;
            let (values, delta) = integrated::attribute(
                graph,
                input,
                &baseline,
                &objective,
                *rule,
                *steps,
                &mut passes,
            )?;
            Attribution {
                values,
                shape,
                delta: Some(delta),
            }
        }
        Method::SmoothGrad {
            samples,
            noise,
            variant,
            seed,
            abs,
        } => plain(smoothgrad::attribute(
            graph,
            input,
            &objective,
            &smoothgrad::Settings {
                samples: *samples,
                noise: *noise,
                variant: *variant,
                seed: *seed,
                abs: *abs,
            },
            &mut passes,
        )?),
        Method::GradCam {
            layer,
            upsample,
            grid,
        } => {
            let (values, shape) =
                gradcam::attribute(graph, sample()?, &objective, layer, *upsample, *grid)?;
            Attribution {
                values,
                shape,
                delta: None,
            }
        }
        Method::Occlusion {
            window,
            strides,
            baseline,
        } => {
            let baseline = baseline.expand(input.len())?;
            plain(occlusion::attribute(
                graph,
                input,
                &baseline,
                &objective,
                window,
                strides,
                &mut passes,
            )?)
        }
    })
}

/// Checks that `input` holds one finite sample of the graph's input shape, without copying it.
fn check_input(graph: &Graph, input: &[f32]) -> Result<()> {
    let expected: usize = graph.input_shape().iter().product();
    if input.len() != expected {
        return Err(Error::InputLength {
            actual: input.len(),
            expected,
            batch: 1,
            shape: graph.input_shape().to_vec(),
        });
    }
    crate::error::ensure_finite("input", input.iter().copied())
}

/// The scalar being explained: element `target` of value `value` of every sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Objective {
    value: ValueId,
    len: usize,
    target: usize,
}

impl Objective {
    /// The graph output, or the input of a trailing softmax when `logits`; checks the target.
    fn new(graph: &Graph, target: usize, logits: bool) -> Result<Objective> {
        let mut value = graph.output();
        if logits {
            if let Some(node) = graph.node_of(value) {
                if matches!(node.op, Op::Softmax(_)) {
                    value = node.inputs[0];
                }
            }
        }
        let len: usize = graph.value_shape(value).iter().product();
        if target >= len {
            return Err(Error::TargetOutOfRange { target, len });
        }
        Ok(Objective { value, len, target })
    }

    /// `F` of every sample of `trace`.
    fn scores(&self, trace: &Trace) -> Vec<f32> {
        let v = trace.value(self.value);
        let pick = |s: &[f32]| -> Vec<f32> {
            (0..trace.batch())
                .map(|b| s[b * self.len + self.target])
                .collect()
        };
        match v.as_slice() {
            Some(s) => pick(s),
            None => pick(&v.iter().copied().collect::<Vec<_>>()),
        }
    }

    /// `∂F/∂x` of every sample of `trace`, flat: the backward pass of `F` summed over the
    /// samples (each sample's input gradient is its own, since samples do not interact).
    fn input_gradients(&self, graph: &Graph, trace: &Trace) -> Result<Vec<f32>> {
        let grads = self.backward(graph, trace, ValueId::INPUT)?;
        let batch = trace.batch();
        Ok(match grads.values.into_iter().next().flatten() {
            Some(g) => into_vec(g),
            None => vec![0.0; batch * graph.input_shape().iter().product::<usize>()],
        })
    }

    /// The backward pass of `F` summed over the samples of `trace`, keeping the gradient of
    /// the value `kept` only.
    fn backward(
        &self,
        graph: &Graph,
        trace: &Trace,
        kept: ValueId,
    ) -> Result<crate::graph::Gradients> {
        let batch = trace.batch();
        let mut seed = vec![0.0f32; batch * self.len];
        for b in 0..batch {
            seed[b * self.len + self.target] = 1.0;
        }
        let seed = from_vec(
            "output gradient",
            &with_batch(batch, graph.value_shape(self.value)),
            seed,
        )?;
        graph.backward_to(trace, self.value, seed, false, kept)
    }
}

/// How many samples one pass may hold: the largest batch whose trace keeps at most `budget`
/// values in total (at least 1, at most [`limits::MAX_BATCH`]).
fn pass_limit(graph: &Graph, budget: usize) -> usize {
    (budget / graph.trace_elements_per_sample().max(1)).clamp(1, limits::MAX_BATCH)
}

/// With a progress report, a method's samples are split into at least this many passes (when
/// it has that many samples).
pub const PROGRESS_PASSES: usize = 10;

/// How a method's samples are split into passes, and who hears of each pass.
pub(crate) struct Passes<'a> {
    /// The most samples one pass may hold (memory, [`pass_limit`]).
    most: usize,
    /// `progress(done, total)` after each pass of a method's main samples, if anyone listens;
    /// `false` stops.
    progress: Option<&'a mut dyn FnMut(usize, usize) -> bool>,
}

impl Passes<'_> {
    /// The ranges of `total` samples, one per pass: of at most `most` samples, and at most
    /// `⌊total / PROGRESS_PASSES⌋` (at least 1) when `reported` and someone listens.
    fn ranges(&self, total: usize, reported: bool) -> impl Iterator<Item = Range<usize>> {
        let mut size = self.most.max(1);
        if reported && self.progress.is_some() {
            size = size.min((total / PROGRESS_PASSES).max(1));
        }
        (0..total)
            .step_by(size)
            .map(move |start| start..(start + size).min(total))
    }

    /// Evaluates `total` samples in passes, reporting each pass. `build(range)` returns the
    /// flat inputs of the samples in `range` (in order); `consume(range, grads, scores)`
    /// receives their input gradients `∂F/∂x` (flat, row-major) and `F` values.
    fn gradients(
        &mut self,
        graph: &Graph,
        objective: &Objective,
        total: usize,
        mut build: impl FnMut(Range<usize>) -> Result<Vec<f32>>,
        mut consume: impl FnMut(Range<usize>, Vec<f32>, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        for range in self.ranges(total, true) {
            let x = graph.input_tensor(build(range.clone())?, range.len())?;
            let trace = graph.gradient_trace(x, objective.value)?;
            let scores = objective.scores(&trace);
            let grads = objective.input_gradients(graph, &trace)?;
            drop(trace);
            let done = range.end;
            consume(range, grads, scores)?;
            self.report(done, total)?;
        }
        Ok(())
    }

    /// Like [`Passes::gradients`] with forward passes only: `consume(range, scores)`. Reported
    /// when `reported` (a method's main samples, not a reference pass).
    fn forward(
        &mut self,
        graph: &Graph,
        objective: &Objective,
        total: usize,
        reported: bool,
        mut build: impl FnMut(Range<usize>) -> Result<Vec<f32>>,
        mut consume: impl FnMut(Range<usize>, Vec<f32>) -> Result<()>,
    ) -> Result<()> {
        for range in self.ranges(total, reported) {
            let x = graph.input_tensor(build(range.clone())?, range.len())?;
            let trace = graph.trace(x)?;
            let done = range.end;
            consume(range, objective.scores(&trace))?;
            if reported {
                self.report(done, total)?;
            }
        }
        Ok(())
    }

    /// Tells the listener, if any, that `done` of `total` samples are evaluated; an error when
    /// it answers `false`.
    fn report(&mut self, done: usize, total: usize) -> Result<()> {
        let go_on = self
            .progress
            .as_mut()
            .is_none_or(|progress| progress(done, total));
        if go_on {
            Ok(())
        } else {
            Err(Error::invalid(
                "attribution",
                format!("stopped by its progress callback after {done} of {total} samples"),
            ))
        }
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Small graphs for the unit tests of the methods.
    use crate::graph::ops::activation::{Activation, Softmax};
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Op;
    use crate::graph::{Graph, ValueId};

    /// Passes of at most `most` samples, reported to no one.
    pub fn unreported(most: usize) -> super::Passes<'static> {
        super::Passes {
            most,
            progress: None,
        }
    }

    /// `x[6] -> dense 8 -> tanh -> dense 5 -> relu -> dense 3 -> softmax`.
    pub fn mlp() -> Graph {
        let mut g = Graph::new(&[6]).unwrap();
        let dense = |o, i, s| {
            Op::Dense(
                Dense::new(
                    random_tensor(&[o, i], -1., 1., s),
                    Some(random_tensor(&[o], -0.5, 0.5, s + 100)),
                )
                .unwrap(),
            )
        };
        let a = g
            .push("fc1", "Gemm", dense(8, 6, 1), &[ValueId::INPUT])
            .unwrap();
        let a = g
            .push("tanh", "Tanh", Op::Activation(Activation::Tanh), &[a])
            .unwrap();
        let a = g.push("fc2", "Gemm", dense(5, 8, 2), &[a]).unwrap();
        let a = g
            .push("relu", "Relu", Op::Activation(Activation::Relu), &[a])
            .unwrap();
        let a = g.push("fc3", "Gemm", dense(3, 5, 3), &[a]).unwrap();
        g.push(
            "softmax",
            "Softmax",
            Op::Softmax(Softmax::new(1, false)),
            &[a],
        )
        .unwrap();
        g
    }

    /// A fixed input for [`mlp`].
    pub fn mlp_input() -> Vec<f32> {
        vec![0.5, -1.25, 0.75, 2.0, -0.375, 1.0]
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{mlp, mlp_input};
    use super::*;

    #[test]
    fn method_names_give_the_method_with_its_defaults() {
        for &kind in MethodKind::ALL {
            assert_eq!(kind.defaults().kind(), kind);
            assert_eq!(kind.name().parse::<Method>().unwrap().name(), kind.name());
        }
        let err = "lime".parse::<Method>().unwrap_err();
        assert!(matches!(err, Error::Unknown { .. }));
        assert!(
            err.to_string().contains("'lime'") && err.to_string().contains("integratedGradients")
        );
        let err = "smoothgrad_sq".parse::<Variant>().unwrap_err().to_string();
        assert!(err.contains("smoothgradSq"), "{err}");
    }

    #[test]
    fn defaults_follow_captum() {
        assert_eq!(
            "integratedGradients".parse::<Method>().unwrap(),
            Method::IntegratedGradients {
                steps: 50,
                rule: Rule::GaussLegendre,
                baseline: Baseline::Scalar(0.0)
            }
        );
        assert_eq!(
            "gradient".parse::<Method>().unwrap(),
            Method::Gradient { abs: true }
        );
        let Method::SmoothGrad {
            samples,
            noise,
            variant,
            abs,
            ..
        } = "smoothGrad".parse::<Method>().unwrap()
        else {
            panic!("smoothGrad")
        };
        assert_eq!(
            (samples, noise, variant, abs),
            (25, 0.15, Variant::SmoothGrad, true)
        );
    }

    #[test]
    fn objective_takes_logits_before_a_trailing_softmax() {
        let g = mlp();
        let probs = Objective::new(&g, 2, false).unwrap();
        assert_eq!(probs.value, g.output());
        let logits = Objective::new(&g, 2, true).unwrap();
        assert_eq!(logits.value, g.find("fc3").unwrap());
        let err = Objective::new(&g, 3, true).unwrap_err();
        assert_eq!(err, Error::TargetOutOfRange { target: 3, len: 3 });
        let x = g.input_tensor(mlp_input(), 1).unwrap();
        let trace = g.trace(x).unwrap();
        let fc3 = trace.value(g.find("fc3").unwrap())[[0, 2]];
        assert_eq!(logits.scores(&trace), vec![fc3]);
    }

    /// With a listener, the many-sample methods report every pass, in order, up to their
    /// sample count, and give the attribution they give without one.
    #[test]
    fn progress_reports_every_pass_and_changes_no_result() {
        let g = mlp();
        let x = mlp_input();
        let occlusion = Method::Occlusion {
            window: vec![2],
            strides: vec![1],
            baseline: Baseline::default(),
        };
        let methods = [
            ("integratedGradients".parse().unwrap(), 50, 10),
            ("smoothGrad".parse().unwrap(), 25, 13),
            (occlusion, 5, 5),
            ("gradient".parse().unwrap(), 0, 0),
        ];
        for (method, total, reports) in methods {
            let name = format!("{method:?}");
            let options = SaliencyOptions::new(method, 1);
            let plain = saliency(&g, &x, &options).unwrap();
            let mut heard = Vec::new();
            let reported = saliency_reporting(&g, &x, &options, &mut |done, all| {
                heard.push((done, all));
                true
            })
            .unwrap();
            assert_eq!(heard.len(), reports, "{name}: {heard:?}");
            assert!(heard.iter().all(|&(_, all)| all == total), "{name}");
            assert!(heard.windows(2).all(|w| w[0].0 < w[1].0), "{name}");
            assert_eq!(
                heard.last().map(|&(done, _)| done),
                (total > 0).then_some(total)
            );
            for (a, b) in plain.values.iter().zip(&reported.values) {
                assert!(
                    (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                    "{name}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn a_progress_answering_false_stops_the_attribution() {
        let options = SaliencyOptions::new("integratedGradients".parse().unwrap(), 1);
        let mut calls = 0;
        let err = saliency_reporting(&mlp(), &mlp_input(), &options, &mut |_, _| {
            calls += 1;
            calls < 3
        })
        .unwrap_err();
        assert_eq!(calls, 3);
        assert!(
            err.to_string()
                .contains("stopped by its progress callback after 15 of 50 samples"),
            "{err}"
        );
    }

    #[test]
    fn saliency_checks_input_and_target() {
        let g = mlp();
        let opts = SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(Method::InputXGradient, 0)
        };
        let err = saliency(&g, &[0.0; 5], &opts).unwrap_err().to_string();
        assert!(err.contains("5 values, expected 6"), "{err}");
        let mut bad = mlp_input();
        bad[1] = f32::NAN;
        assert!(matches!(
            saliency(&g, &bad, &opts),
            Err(Error::NonFinite { .. })
        ));
        let far = SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(Method::InputXGradient, 7)
        };
        assert!(matches!(
            saliency(&g, &mlp_input(), &far),
            Err(Error::TargetOutOfRange { target: 7, len: 3 })
        ));
    }

    #[test]
    fn baselines_are_checked() {
        assert_eq!(Baseline::Scalar(0.5).expand(3).unwrap(), vec![0.5; 3]);
        let err = Baseline::Values(vec![0.0; 2])
            .expand(3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 values, expected 3"), "{err}");
        assert!(Baseline::Scalar(f32::INFINITY).expand(3).is_err());
    }

    #[test]
    fn pass_limit_counts_every_value() {
        let g = mlp();
        // Per sample: input 6 + 8 + 8 + 5 + 5 + 3 + 3 = 38 values.
        assert_eq!(pass_limit(&g, 38 * 4), 4);
        assert_eq!(pass_limit(&g, 38 * 4 + 37), 4);
        assert_eq!(pass_limit(&g, 10), 1);
        assert_eq!(pass_limit(&g, usize::MAX), limits::MAX_BATCH);
    }
}
