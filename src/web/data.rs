//! Training data for JavaScript: `playgroundDataset` (TensorFlow Playground's built-in 2-D tasks,
//! [`crate::data::playground`]), `playgroundFeatures` (its feature inputs,
//! [`crate::data::features`]) and `parseCsv` (the user's own CSV, [`crate::data::csv`]).

use super::inputs::{floats, strings, text};
use super::js_error;
use super::options::{object, read_options};
use crate::data::csv::{parse_csv, CsvOptions};
use crate::data::features::{feature_matrix, parse_features, PlaygroundFeature};
use crate::data::playground::{generate, PlaygroundOptions, PlaygroundTask, Split};
use crate::data::Targets;
use js_sys::{Array, Float32Array, Uint32Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const DATA_TYPES: &str = r#"
/** A built-in 2-D task of TensorFlow Playground: four classification tasks, then two regression tasks. */
export type PlaygroundTask = "circle" | "xor" | "gaussian" | "spiral" | "regressionPlane" | "regressionGaussian";

/** A feature input of a point `(x1, x2)`: Playground's X1, X2, X1², X2², X1X2, sin(X1), sin(X2). */
export type PlaygroundFeature = "x1" | "x2" | "x1Squared" | "x2Squared" | "x1TimesX2" | "sinX1" | "sinX2";

/** Whether a dataset's targets are class labels or real values. */
export type DataKind = "classification" | "regression";

/** The options of `playgroundDataset`. */
export interface PlaygroundDatasetOptions {
    /** Points in all (training and test), `1..=1048576`. Default 500. */
    samples?: number;
    /** Noise in percent, `0..=50` (Playground's slider). Default 0. */
    noise?: number;
    /** The fraction of the points in the test set, `0..=1`; the training set gets `floor(samples * (1 - testFraction))`. Default 0.5. */
    testFraction?: number;
    /** The seed of the points and of their order: the same seed gives the same points everywhere. Default 0. */
    seed?: number;
}

/** The points of a training or test set with their labels or targets. */
export interface PlaygroundSplit {
    /** `[n, 2]` row-major: `x1, x2` of each point. */
    points: Float32Array;
    /** Each point's class, 0 or 1 (Playground's −1 and +1); `null` for a regression task. */
    labels: Uint32Array | null;
    /** Each point's target; `null` for a classification task. */
    targets: Float32Array | null;
}

/** A built-in task's points, shuffled and split, returned by `playgroundDataset`. */
export interface PlaygroundDataset {
    /** The task generated. */
    task: PlaygroundTask;
    /** `"classification"` for circle, xor, gaussian and spiral, else `"regression"`. */
    kind: DataKind;
    /** The training set. */
    train: PlaygroundSplit;
    /** The test set. */
    test: PlaygroundSplit;
}

/** The options of `parseCsv`. */
export interface CsvOptions {
    /** The name of the label or target column. Default the last column. */
    target?: string;
    /** Default `"classification"` when every target value is a whole number >= 0 or not a number at all, else `"regression"`. */
    kind?: DataKind;
}

/** A dataset read from CSV text by `parseCsv`. */
export interface CsvDataset {
    /** Every column name, in the header's order. */
    columns: string[];
    /** The feature columns: every column but the target, in order. */
    features: string[];
    /** The target column. */
    target: string;
    /** Classification or regression. */
    kind: DataKind;
    /** The number of data rows. */
    rows: number;
    /** `rows × features.length` row-major feature values. */
    inputs: Float32Array;
    /** Each row's class (an index into `classNames`); `null` for regression. */
    labels: Uint32Array | null;
    /** The name of each class; `null` for regression. */
    classNames: string[] | null;
    /** Each row's target; `null` for classification. */
    targets: Float32Array | null;
}
"#;

/// `(labels, targets)`: one a typed array, the other `null`.
fn target_arrays(targets: &Targets) -> (JsValue, JsValue) {
    match targets {
        Targets::Classes(labels) => (Uint32Array::from(&labels[..]).into(), JsValue::NULL),
        Targets::Values(values) => (JsValue::NULL, Float32Array::from(&values[..]).into()),
    }
}

/// `{ points, labels, targets }` of one split.
fn split_object(split: &Split) -> Result<JsValue, JsError> {
    let (labels, targets) = target_arrays(&split.targets);
    object(&[
        ("points", Float32Array::from(&split.points[..]).into()),
        ("labels", labels),
        ("targets", targets),
    ])
}

/// A JS array of strings.
fn string_array(strings: &[String]) -> JsValue {
    strings
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect::<Array>()
        .into()
}

/// Generates one of TensorFlow Playground's 2-D tasks (its geometry, labels, noise and ranges)
/// with `options = { samples = 500, noise = 0, testFraction = 0.5, seed = 0 }`, shuffled and
/// split into `{ task, kind, train, test }`, each split `{ points, labels, targets }`. Throws an
/// `Error` for an unknown task (listing the tasks) or an option out of range.
#[wasm_bindgen(js_name = playgroundDataset, unchecked_return_type = "PlaygroundDataset")]
pub fn playground_dataset(
    #[wasm_bindgen(unchecked_param_type = "PlaygroundTask")] task: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "PlaygroundDatasetOptions")] options: Option<
        JsValue,
    >,
) -> Result<JsValue, JsError> {
    let task: PlaygroundTask = text(&task, "playgroundDataset task")?
        .parse()
        .map_err(js_error)?;
    let options: PlaygroundOptions = read_options(
        options.unwrap_or(JsValue::UNDEFINED),
        "playgroundDataset options",
    )?;
    let data = generate(task, &options).map_err(js_error)?;
    object(&[
        ("task", JsValue::from_str(task.name())),
        ("kind", JsValue::from_str(task.kind().name())),
        ("train", split_object(&data.train)?),
        ("test", split_object(&data.test)?),
    ])
}

/// The `[n, features.length]` row-major matrix of the chosen feature inputs, in the order given,
/// at the `n` points of `points` (`[n, 2]`: `x1, x2`). Throws an `Error` for an empty list, an
/// unknown or repeated name (listing the valid names), an odd length or a non-finite coordinate.
#[wasm_bindgen(js_name = playgroundFeatures)]
pub fn playground_features(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] points: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PlaygroundFeature[]")] features: JsValue,
) -> Result<Vec<f32>, JsError> {
    let points = floats(&points, "playgroundFeatures points")?;
    let names = strings(&features, "playgroundFeatures features").map_err(|_| {
        JsError::new(&format!(
            "features must be an array of feature names, e.g. [\"x1\", \"x2\"]; the names are: {}",
            PlaygroundFeature::NAMES.join(", ")
        ))
    })?;
    let features = parse_features(&names).map_err(js_error)?;
    feature_matrix(&points, &features).map_err(js_error)
}

/// Reads CSV text (a header row, numeric feature columns and one label or target column) with
/// `options = { target = the last column, kind = from the values }` into `{ columns, features,
/// target, kind, rows, inputs, labels, classNames, targets }`. Throws an `Error` naming the line
/// (the header is line 1) and the column of the first problem.
#[wasm_bindgen(js_name = parseCsv, unchecked_return_type = "CsvDataset")]
pub fn parse_csv_js(
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "CsvOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let text = super::inputs::text(&text, "parseCsv text")?;
    let options: CsvOptions =
        read_options(options.unwrap_or(JsValue::UNDEFINED), "parseCsv options")?;
    let data = parse_csv(&text, &options).map_err(js_error)?;
    let (labels, targets) = target_arrays(&data.targets);
    let class_names = data
        .class_names
        .as_deref()
        .map_or(JsValue::NULL, string_array);
    object(&[
        ("columns", string_array(&data.columns)),
        ("features", string_array(&data.features)),
        ("target", JsValue::from_str(&data.target)),
        ("kind", JsValue::from_str(data.kind().name())),
        ("rows", JsValue::from(data.rows as u32)),
        ("inputs", Float32Array::from(&data.inputs[..]).into()),
        ("labels", labels),
        ("classNames", class_names),
        ("targets", targets),
    ])
}
