//! Attribution for JavaScript: `saliency(model, input, options)` with Captum's methods, the
//! Integrated Gradients convergence delta, and the display helper that turns a map into what
//! Captum's `visualize_image_attr` shows.

use super::inputs::{dims, floats, model_input, Progress};
use super::model::Model;
use super::options::{check_keys, object, plain, read_checked, read_options};
use super::{js_error, shape_array};
use crate::explain::display::{display_map as display, DisplayOptions};
use crate::explain::tokens::{at_embedding, token_scores};
use crate::explain::{
    saliency_reporting, Attribution, Baseline, MethodKind, MethodOptions, Rule, SaliencyOptions,
    Variant,
};
use crate::fields::struct_fields;
use crate::graph::InputType;
use crate::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `{ method, target, logits }`: the options every method takes. The method's own options are
/// read by the structs below, with [`MethodKind::defaults`] for what is not given.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommonOptions {
    #[serde(default)]
    method: MethodKind,
    target: Option<usize>,
    logits: Option<bool>,
}

/// `gradient`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GradientOptions {
    abs: Option<bool>,
}

/// `inputXGradient` takes none.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

/// `integratedGradients`' options; `baseline` is a number or one value per input element.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegratedGradientsOptions {
    steps: Option<usize>,
    rule: Option<Rule>,
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    baseline: JsValue,
    #[serde(rename = "baselineToken")]
    baseline_token: Option<u32>,
}

/// `smoothGrad`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmoothGradOptions {
    samples: Option<usize>,
    noise: Option<f32>,
    variant: Option<Variant>,
    seed: Option<u64>,
    abs: Option<bool>,
}

/// `gradCam`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GradCamOptions {
    layer: Option<String>,
    upsample: Option<bool>,
    grid: Option<[usize; 2]>,
}

/// `occlusion`'s options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OcclusionOptions {
    window: Option<Vec<usize>>,
    strides: Option<Vec<usize>>,
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    baseline: JsValue,
}

/// The options of one method, read as `T`; a key neither common nor `T`'s is an error naming
/// the method and listing the keys it takes.
fn method_options<T: DeserializeOwned>(options: &JsValue, kind: MethodKind) -> Result<T, JsError> {
    let what = format!("saliency options for method '{kind}'");
    check_keys(
        options,
        &what,
        struct_fields::<T>(),
        struct_fields::<CommonOptions>(),
    )?;
    read_checked(options.clone(), &what)
}

/// A baseline given as a number or as one value per input element (`Float32Array` or array);
/// `None` when not given.
fn baseline(value: JsValue) -> Result<Option<Baseline>, JsError> {
    if value.is_undefined() {
        Ok(None)
    } else if let Some(n) = value.as_f64() {
        Ok(Some(Baseline::Scalar(n as f32)))
    } else if value.is_instance_of::<js_sys::Float32Array>() || js_sys::Array::is_array(&value) {
        Ok(Some(Baseline::Values(floats(
            &value,
            "saliency option 'baseline'",
        )?)))
    } else {
        Err(js_error(Error::invalid(
            "saliency option 'baseline'",
            format!(
                "expected a number or a Float32Array with one value per input element, got {}",
                value.js_typeof().as_string().unwrap_or_default()
            ),
        )))
    }
}

/// Reads `{ method, target, logits, ...method options }`, rejecting options the method does not
/// take; `baselineToken` is an option of models of ids (`input_type` int64) only.
fn parse_options(options: &JsValue, input_type: InputType) -> Result<SaliencyOptions, JsError> {
    if !options.is_object() {
        return Err(js_error(Error::invalid(
            "saliency options",
            "expected an object such as { method: \"gradient\", target: 3 }",
        )));
    }
    let options = &plain(options, "saliency options")?;
    let common: CommonOptions = read_checked(options.clone(), "saliency options")?;
    let kind = common.method;
    let given = match kind {
        MethodKind::Gradient => {
            let o: GradientOptions = method_options(options, kind)?;
            MethodOptions {
                abs: o.abs,
                ..MethodOptions::default()
            }
        }
        MethodKind::InputXGradient => {
            method_options::<NoOptions>(options, kind)?;
            MethodOptions::default()
        }
        MethodKind::IntegratedGradients => {
            let o: IntegratedGradientsOptions = method_options(options, kind)?;
            let mut baseline = baseline(o.baseline)?;
            if let Some(token) = o.baseline_token {
                if input_type != InputType::Int64 {
                    return Err(js_error(Error::invalid(
                        "saliency option 'baselineToken'",
                        "applies to models of token ids (inputType \"int64\"); this model takes \
                         numbers, give 'baseline' instead",
                    )));
                }
                baseline = Some(Baseline::Scalar(token as f32));
            }
            MethodOptions {
                steps: o.steps,
                rule: o.rule,
                baseline,
                ..MethodOptions::default()
            }
        }
        MethodKind::SmoothGrad => {
            let o: SmoothGradOptions = method_options(options, kind)?;
            MethodOptions {
                samples: o.samples,
                noise: o.noise,
                variant: o.variant,
                seed: o.seed,
                abs: o.abs,
                ..MethodOptions::default()
            }
        }
        MethodKind::GradCam => {
            let o: GradCamOptions = method_options(options, kind)?;
            MethodOptions {
                layer: o.layer,
                upsample: o.upsample,
                grid: o.grid,
                ..MethodOptions::default()
            }
        }
        MethodKind::Occlusion => {
            let o: OcclusionOptions = method_options(options, kind)?;
            MethodOptions {
                window: o.window,
                strides: o.strides,
                baseline: baseline(o.baseline)?,
                ..MethodOptions::default()
            }
        }
    };
    let method = kind.with_options(given);
    let target = common.target.ok_or_else(|| {
        js_error(Error::MissingField {
            field: "target".into(),
            context: "saliency options (the index of the output to explain)".into(),
        })
    })?;
    let mut options = SaliencyOptions::new(method, target);
    if let Some(logits) = common.logits {
        options.logits = logits;
    }
    Ok(options)
}

#[wasm_bindgen(typescript_custom_section)]
const SALIENCY_TYPES: &str = r#"
/** An integration rule of Integrated Gradients (Captum's `method`, in camelCase). */
export type IntegrationRule = "gaussLegendre" | "riemannLeft" | "riemannRight" | "riemannMiddle" | "riemannTrapezoid";

/** How SmoothGrad combines its samples' maps (Captum's `nt_type`). */
export type SmoothGradVariant = "smoothgrad" | "smoothgradSq" | "vargrad";

/** The options every attribution method takes. */
export interface SaliencyTarget {
    /** The index into the flattened per-sample output (or logits, see `logits`) to explain. Required. */
    target: number;
    /** When the model ends in a softmax or log-softmax, explain its input (the class scores) instead of the probabilities. Default `false`. */
    logits?: boolean;
}

/** Captum `Saliency`: the gradient of the target with respect to the input. */
export interface GradientSaliencyOptions extends SaliencyTarget {
    /** The method; `"gradient"` is the default. */
    method?: "gradient";
    /** The absolute value of the gradient instead of the signed gradient. Default `true`. */
    abs?: boolean;
}

/** Captum `InputXGradient`: input times gradient; no options of its own. */
export interface InputXGradientOptions extends SaliencyTarget {
    method: "inputXGradient";
}

/** Captum `IntegratedGradients`. */
export interface IntegratedGradientsOptions extends SaliencyTarget {
    method: "integratedGradients";
    /** Points on the path from the baseline to the input (Riemann rules need at least 2). Default 50. */
    steps?: number;
    /** The quadrature rule. Default `"gaussLegendre"`. */
    rule?: IntegrationRule;
    /** The start of the path: one value for every element, or one value per input element. Default 0. */
    baseline?: number | Float32Array | number[];
    /** Models of token ids: the baseline's id at every position (Captum `LayerIntegratedGradients` with baselines of this id). Default 0. */
    baselineToken?: number;
}

/** Captum `NoiseTunnel` over `Saliency`. */
export interface SmoothGradOptions extends SaliencyTarget {
    method: "smoothGrad";
    /** Noisy samples. Default 25. */
    samples?: number;
    /** Noise standard deviation as a fraction of `max(input) - min(input)`. Default 0.15. */
    noise?: number;
    /** How the samples' maps are combined. Default `"smoothgrad"` (the mean). */
    variant?: SmoothGradVariant;
    /** Seed of the noise: the same seed gives the same map. Default 0. */
    seed?: number;
    /** Each sample's map as the absolute gradient. Default `true`. */
    abs?: boolean;
}

/** Captum `LayerGradCam` (with `relu_attributions`): a map of the layer's `H x W`. */
export interface GradCamOptions extends SaliencyTarget {
    method: "gradCam";
    /** The name of a layer whose output is `[C, H, W]`, or `[tokens, dim]` with `grid`. Required. */
    layer: string;
    /** Resize the map bilinearly to the input's `H x W`. Default `false`. */
    upsample?: boolean;
    /** A token layer's (a vision transformer block's) last `h · w` tokens as an `h × w` grid of `dim` channels; earlier tokens (the cls token) are left out. */
    grid?: [number, number];
}

/** Captum `Occlusion`: the output's change as a window slides over the input. */
export interface OcclusionOptions extends SaliencyTarget {
    method: "occlusion";
    /** The window's shape over the per-sample input dimensions. Required. */
    window: number[];
    /** The window's step per dimension. Default 1 in every dimension. */
    strides?: number[];
    /** The value the window is filled with: one value, or one per input element. Default 0. */
    baseline?: number | Float32Array | number[];
}

/** The options of `saliency`, `attribute` and `integratedGradientsDelta`, by `method`. */
export type SaliencyOptions =
    | GradientSaliencyOptions
    | InputXGradientOptions
    | IntegratedGradientsOptions
    | SmoothGradOptions
    | GradCamOptions
    | OcclusionOptions;

/** An attribution map, returned by `attribute`. */
export interface Attribution {
    /** The attribution, row-major. */
    values: Float32Array;
    /** Its shape: the per-sample input shape, or `[H, W]` for Grad-CAM without `upsample`. */
    shape: number[];
    /** Integrated Gradients' convergence delta, `sum(values) - (f(input) - f(baseline))`; `null` for the other methods. */
    delta: number | null;
}

/** The options of `displayMap` (Captum's `visualize_image_attr`). */
export interface DisplayOptions {
    /** How a `[C, H, W]` map is reduced over channels: `"maxAbs"` (Simonyan et al.) or `"sum"`. Default `"maxAbs"`. */
    reduce?: "maxAbs" | "sum";
    /** The values shown: `"absoluteValue"` and `"positive"` / `"negative"` in `[0, 1]`, `"all"` in `[-1, 1]`. Default `"absoluteValue"`. */
    sign?: "absoluteValue" | "all" | "positive" | "negative";
    /** The percent of the mass clipped at the ends of the scale, `0..=100`. Default 2. */
    outlierPercent?: number;
}

/** A map ready to draw, returned by `displayMap`. */
export interface DisplayMap {
    /** The normalised values, row-major. */
    values: Float32Array;
    /** Their shape, `[H, W]` for a `[C, H, W]` input. */
    shape: number[];
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const ROLLOUT_TYPES: &str = r#"
/** Attention rollout of one sample, as `attentionRollout` returns it. */
export interface AttentionRollout {
    /** Row 0 of the rollout: how much each token flows into the first (cls) token. */
    values: Float32Array;
    /** `[tokens]`. */
    shape: number[];
    /** The whole rollout `A_n ⋯ A_1`, `[tokens, tokens]` row-major. */
    matrix: Float32Array;
}
"#;

/// Attention rollout (Abnar & Zuidema 2020) of one sample: each attention layer's mean over
/// heads plus the identity, rows renormalised, multiplied through the layers; `values` is the
/// first (cls) token's row, `matrix` the whole product.
#[wasm_bindgen(js_name = attentionRollout, unchecked_return_type = "AttentionRollout")]
pub fn attention_rollout(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
) -> Result<JsValue, JsError> {
    let input = model_input(model.graph(), &input)?;
    let rollout =
        crate::explain::attention::attention_rollout(model.graph(), &input).map_err(js_error)?;
    object(&[
        ("values", js_sys::Float32Array::from(rollout.row(0)).into()),
        ("shape", shape_array(&[rollout.tokens]).into()),
        (
            "matrix",
            js_sys::Float32Array::from(&rollout.matrix[..]).into(),
        ),
    ])
}

/// The attribution, and whether it is a model of ids' attribution at its embedding output.
fn attribution(
    model: &Model,
    input: &JsValue,
    options: &JsValue,
    progress: &JsValue,
    what: &'static str,
) -> Result<(Attribution, bool), JsError> {
    let options = parse_options(options, model.graph().input_type())?;
    let input = model_input(model.graph(), input)?;
    let mut progress = Progress::read(progress, what)?;
    let a = saliency_reporting(model.graph(), &input, &options, &mut |done, total| {
        progress.call(done, total)
    })
    .map_err(|e| progress.error(e))?;
    Ok((a, at_embedding(model.graph(), &options.method)))
}

/// The attribution of `output[options.target]` for one input sample, as a `Float32Array` with
/// the input's shape (Grad-CAM: the layer's `H x W`, or the input's when `upsample`). For a
/// model of token ids, one score per token: the sum over the embedding dimension of the
/// attribution at the embedding output (`attribute` gives it whole, `[tokens, dim]`).
/// `options.method` is `"gradient"` (`abs`), `"inputXGradient"`, `"integratedGradients"`
/// (`steps`, `rule`, `baseline`), `"smoothGrad"` (`samples`, `noise`, `variant`, `seed`, `abs`),
/// `"gradCam"` (`layer`, `upsample`) or `"occlusion"` (`window`, `strides`, `baseline`);
/// `logits: true` explains the input of a trailing softmax. `progress(done, total)`, when
/// given, is called after each pass of Integrated Gradients' path points, SmoothGrad's samples
/// or Occlusion's windows (at least 10 passes); if it throws, the attribution stops and throws
/// that.
#[wasm_bindgen]
pub fn saliency(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SaliencyOptions")] options: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "(done: number, total: number) => void")]
    progress: JsValue,
) -> Result<Vec<f32>, JsError> {
    let (a, per_token) = attribution(model, &input, &options, &progress, "saliency progress")?;
    Ok(if per_token {
        token_scores(&a)
    } else {
        a.values
    })
}

/// Like `saliency`, returning `{ values, shape, delta }` (`delta`: Integrated Gradients'
/// convergence delta, `null` for the other methods).
#[wasm_bindgen(unchecked_return_type = "Attribution")]
pub fn attribute(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SaliencyOptions")] options: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "(done: number, total: number) => void")]
    progress: JsValue,
) -> Result<JsValue, JsError> {
    let (a, _) = attribution(model, &input, &options, &progress, "attribute progress")?;
    object(&[
        ("values", js_sys::Float32Array::from(&a.values[..]).into()),
        ("shape", shape_array(&a.shape).into()),
        ("delta", a.delta.map_or(JsValue::NULL, JsValue::from)),
    ])
}

/// Captum's convergence delta of Integrated Gradients for these options:
/// `sum(attribution) - (f(input) - f(baseline))`.
#[wasm_bindgen(js_name = integratedGradientsDelta)]
pub fn integrated_gradients_delta(
    model: &Model,
    #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SaliencyOptions")] options: JsValue,
) -> Result<f32, JsError> {
    let (a, _) = attribution(
        model,
        &input,
        &options,
        &JsValue::UNDEFINED,
        "integratedGradientsDelta progress",
    )?;
    a.delta.ok_or_else(|| {
        js_error(Error::invalid(
            "integratedGradientsDelta",
            "the delta exists for method \"integratedGradients\" only",
        ))
    })
}

/// What Captum's `visualize_image_attr` shows: a `[C, H, W]` map reduced over channels
/// (`reduce: "maxAbs"` as Simonyan et al. or `"sum"`), then normalised to `[-1, 1]` or `[0, 1]`
/// by `sign` (`"absoluteValue"`, `"all"`, `"positive"`, `"negative"`) with `outlierPercent`
/// (default 2) of the largest values clipped. Returns `{ values, shape }` (`[H, W]`).
#[wasm_bindgen(js_name = displayMap, unchecked_return_type = "DisplayMap")]
pub fn display_map(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] values: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] shape: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "DisplayOptions")] options: JsValue,
) -> Result<JsValue, JsError> {
    let values = floats(&values, "displayMap values")?;
    let shape = dims(&shape, "displayMap shape")?;
    let options: DisplayOptions = read_options(options, "display options")?;
    let (map, shape) = display(&values, &shape, &options).map_err(js_error)?;
    object(&[
        ("values", js_sys::Float32Array::from(&map[..]).into()),
        ("shape", shape_array(&shape).into()),
    ])
}
