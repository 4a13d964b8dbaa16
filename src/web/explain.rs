//! Attribution for JavaScript: `saliency(model, input, options)` with Captum's methods, the
//! Integrated Gradients convergence delta, and the display helper that turns a map into what
//! Captum's `visualize_image_attr` shows.

use super::model::Model;
use super::{check_option_keys, js_error};
use crate::explain::display::{normalize, reduce_channels, Reduction, Sign};
use crate::explain::{saliency as explain, Attribution, Baseline, Method, Rule, SaliencyOptions, Variant};
use crate::Error;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const COMMON: &[&str] = &["method", "target", "logits"];

fn field(options: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(options, &key.into()).ok().filter(|v| !v.is_undefined())
}

fn bad(key: &str, expected: &str, got: &JsValue) -> JsError {
    js_error(Error::invalid(
        format!("saliency option '{key}'"),
        format!("expected {expected}, got {}", describe(got)),
    ))
}

fn describe(v: &JsValue) -> String {
    v.as_string()
        .map(|s| format!("\"{s}\""))
        .or_else(|| v.as_f64().map(|n| n.to_string()))
        .or_else(|| v.as_bool().map(|b| b.to_string()))
        .unwrap_or_else(|| v.js_typeof().as_string().unwrap_or_default())
}

fn usize_field(options: &JsValue, key: &str) -> Result<Option<usize>, JsError> {
    match field(options, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Ok(Some(n as usize)),
            _ => Err(bad(key, "a non-negative integer", &v)),
        },
    }
}

fn bool_field(options: &JsValue, key: &str) -> Result<Option<bool>, JsError> {
    match field(options, key) {
        None => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| bad(key, "true or false", &v)),
    }
}

fn f32_field(options: &JsValue, key: &str) -> Result<Option<f32>, JsError> {
    match field(options, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() => Ok(Some(n as f32)),
            _ => Err(bad(key, "a finite number", &v)),
        },
    }
}

fn str_field(options: &JsValue, key: &str) -> Result<Option<String>, JsError> {
    match field(options, key) {
        None => Ok(None),
        Some(v) => v.as_string().map(Some).ok_or_else(|| bad(key, "a string", &v)),
    }
}

fn usize_list(options: &JsValue, key: &str) -> Result<Option<Vec<usize>>, JsError> {
    let Some(v) = field(options, key) else { return Ok(None) };
    if !js_sys::Array::is_array(&v) && !v.is_instance_of::<js_sys::Uint32Array>() {
        return Err(bad(key, "an array of positive integers", &v));
    }
    let list = js_sys::Array::from(&v);
    list.iter()
        .map(|x| match x.as_f64() {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Ok(n as usize),
            _ => Err(bad(key, "an array of positive integers", &x)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn baseline_field(options: &JsValue) -> Result<Option<Baseline>, JsError> {
    let Some(v) = field(options, "baseline") else { return Ok(None) };
    if let Some(n) = v.as_f64() {
        return Ok(Some(Baseline::Scalar(n as f32)));
    }
    if v.is_instance_of::<js_sys::Float32Array>() || js_sys::Array::is_array(&v) {
        let values = js_sys::Float32Array::new(&v).to_vec();
        return Ok(Some(Baseline::Values(values)));
    }
    Err(bad("baseline", "a number or a Float32Array with one value per input element", &v))
}

/// Reads `{ method, target, logits, ...method options }`, rejecting options the method does not take.
fn parse_options(options: &JsValue) -> Result<SaliencyOptions, JsError> {
    if !options.is_object() {
        return Err(js_error(Error::invalid(
            "saliency options",
            "expected an object such as { method: \"gradient\", target: 3 }",
        )));
    }
    let name = str_field(options, "method")?.unwrap_or_else(|| "gradient".to_string());
    let mut method = Method::from_name(&name).map_err(js_error)?;
    let extra: &[&str] = match &mut method {
        Method::Gradient { abs } => {
            *abs = bool_field(options, "abs")?.unwrap_or(*abs);
            &["abs"]
        }
        Method::InputXGradient => &[],
        Method::IntegratedGradients { steps, rule, baseline } => {
            *steps = usize_field(options, "steps")?.unwrap_or(*steps);
            if let Some(r) = str_field(options, "rule")? {
                *rule = Rule::from_name(&r).map_err(js_error)?;
            }
            *baseline = baseline_field(options)?.unwrap_or_else(|| baseline.clone());
            &["steps", "rule", "baseline"]
        }
        Method::SmoothGrad { samples, noise, variant, seed, abs } => {
            *samples = usize_field(options, "samples")?.unwrap_or(*samples);
            *noise = f32_field(options, "noise")?.unwrap_or(*noise);
            if let Some(v) = str_field(options, "variant")? {
                *variant = Variant::from_name(&v).map_err(js_error)?;
            }
            *seed = usize_field(options, "seed")?.map_or(*seed, |s| s as u64);
            *abs = bool_field(options, "abs")?.unwrap_or(*abs);
            &["samples", "noise", "variant", "seed", "abs"]
        }
        Method::GradCam { layer, upsample } => {
            *layer = str_field(options, "layer")?.unwrap_or_default();
            *upsample = bool_field(options, "upsample")?.unwrap_or(*upsample);
            &["layer", "upsample"]
        }
        Method::Occlusion { window, strides, baseline } => {
            *window = usize_list(options, "window")?.unwrap_or_default();
            *strides = usize_list(options, "strides")?.unwrap_or_default();
            *baseline = baseline_field(options)?.unwrap_or_else(|| baseline.clone());
            &["window", "strides", "baseline"]
        }
    };
    let known: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    check_option_keys(options, &format!("saliency options for method '{name}'"), &known)?;
    let target = usize_field(options, "target")?.ok_or_else(|| {
        js_error(Error::MissingField {
            field: "target".into(),
            context: "saliency options (the index of the output to explain)".into(),
        })
    })?;
    Ok(SaliencyOptions {
        method,
        target,
        logits: bool_field(options, "logits")?.unwrap_or(false),
    })
}

fn attribution(model: &Model, input: &[f32], options: &JsValue) -> Result<Attribution, JsError> {
    let options = parse_options(options)?;
    explain(model.graph(), input, &options).map_err(js_error)
}

/// The attribution of `output[options.target]` for one input sample, as a `Float32Array` with
/// the input's shape (Grad-CAM: the layer's `H x W`, or the input's when `upsample`).
/// `options.method` is `"gradient"` (`abs`), `"inputXGradient"`, `"integratedGradients"`
/// (`steps`, `rule`, `baseline`), `"smoothGrad"` (`samples`, `noise`, `variant`, `seed`, `abs`),
/// `"gradCam"` (`layer`, `upsample`) or `"occlusion"` (`window`, `strides`, `baseline`);
/// `logits: true` explains the input of a trailing softmax.
#[wasm_bindgen]
pub fn saliency(model: &Model, input: &[f32], options: JsValue) -> Result<Vec<f32>, JsError> {
    attribution(model, input, &options).map(|a| a.values)
}

/// Like `saliency`, returning `{ values, shape, delta }` (`delta`: Integrated Gradients'
/// convergence delta, `null` for the other methods).
#[wasm_bindgen]
pub fn attribute(model: &Model, input: &[f32], options: JsValue) -> Result<JsValue, JsError> {
    let a = attribution(model, input, &options)?;
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&out, &k.into(), &v).map(drop);
    set("values", js_sys::Float32Array::from(a.values.as_slice()).into())
        .and(set("shape", super::shape_array(&a.shape).into()))
        .and(set("delta", a.delta.map_or(JsValue::NULL, |d| JsValue::from(d))))
        .map_err(|_| JsError::new("could not build the attribution result"))?;
    Ok(out.into())
}

/// Captum's convergence delta of Integrated Gradients for these options:
/// `sum(attribution) - (f(input) - f(baseline))`.
#[wasm_bindgen(js_name = integratedGradientsDelta)]
pub fn integrated_gradients_delta(model: &Model, input: &[f32], options: JsValue) -> Result<f32, JsError> {
    let a = attribution(model, input, &options)?;
    a.delta.ok_or_else(|| {
        js_error(Error::invalid(
            "integratedGradientsDelta",
            "the delta exists for method \"integratedGradients\" only",
        ))
    })
}

/// What Captum's `visualize_image_attr` shows: a `[C, H, W]` map reduced over channels
/// (`reduce: "maxAbs"` as Simonyan et al. or `"sum"`), then normalised to `[-1, 1]` or `[0, 1]`
/// by `sign` (`"absolute_value"`, `"all"`, `"positive"`, `"negative"`) with `outlierPercent`
/// (default 2) of the largest values clipped. Returns `{ values, shape }` (`[H, W]`).
#[wasm_bindgen(js_name = displayMap)]
pub fn display_map(values: &[f32], shape: Vec<usize>, options: JsValue) -> Result<JsValue, JsError> {
    check_option_keys(&options, "display options", &["reduce", "sign", "outlierPercent"])?;
    let read = |key: &str| -> Result<Option<String>, JsError> {
        if options.is_undefined() || options.is_null() {
            Ok(None)
        } else {
            str_field(&options, key)
        }
    };
    let reduction = match read("reduce")? {
        Some(name) => Reduction::from_name(&name).map_err(js_error)?,
        None => Reduction::default(),
    };
    let sign = match read("sign")? {
        Some(name) => Sign::from_name(&name).map_err(js_error)?,
        None => Sign::default(),
    };
    let outlier = if options.is_undefined() || options.is_null() {
        None
    } else {
        f32_field(&options, "outlierPercent")?
    };
    let (reduced, reduced_shape) = if shape.len() == 3 {
        reduce_channels(values, &shape, reduction).map_err(js_error)?
    } else {
        (values.to_vec(), shape)
    };
    let normalised = normalize(&reduced, sign, outlier.unwrap_or(2.0)).map_err(js_error)?;
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"values".into(), &js_sys::Float32Array::from(normalised.as_slice()).into())
        .and(js_sys::Reflect::set(&out, &"shape".into(), &super::shape_array(&reduced_shape).into()))
        .map_err(|_| JsError::new("could not build the display map"))?;
    Ok(out.into())
}
