//! Fuzzes the options objects of the exported functions through their Rust parsing and use:
//! any JSON options must give `Ok` or `Err`, never a panic.
//!
//! The bindings read an options object into the core structs below with their derived
//! `Deserialize` (serde-wasm-bindgen over a JS object; here serde_json over the same keys and
//! values: the same `deny_unknown_fields`, camelCase names, named enums and defaults), then
//! hand them to the core function that checks their ranges and runs. This target does both on
//! a small fixed input. The JS side of the boundary (getters, Proxies, `undefined` values,
//! non-objects, keys per saliency method) is wasm-only and exercised by
//! `tests/node/bad-inputs.test.mjs`. Saliency's options are read in the binding into the core
//! `MethodOptions` and turned into the method by `MethodKind::with_options`; here the same keys
//! are read from JSON (`SaliencyKeys`) and go through the same `with_options`.
//!
//! Layout of an input: the first byte chooses the options and function (its value modulo 10),
//! the rest is the JSON. Seed corpus: `fuzz/seeds/options/`. Run: `cargo +nightly fuzz run
//! options seeds/options`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ndarray::Array2;
use nnlens::data::csv::{parse_csv, CsvOptions};
use nnlens::data::playground::{generate, PlaygroundOptions, PlaygroundTask};
use nnlens::explain::display::{display_map, DisplayOptions};
use nnlens::explain::{
    saliency, Baseline, MethodKind, MethodOptions, Rule, SaliencyOptions, Variant,
};
use nnlens::project::trajectory::{plane_grid, Linspace};
use nnlens::project::{Pca, PcaOptions, Tsne, TsneOptions};
use nnlens::text::{tokenize, TokenizeOptions, Vocab};
use nnlens::train::loss::Targets;
use nnlens::train::options::TrainerOptions;
use nnlens::train::trainer::Trainer;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::OnceLock;

/// A small convolutional model: `[1, 6, 6]` → 3 classes, with a named conv layer for Grad-CAM.
const MODEL: &str = r#"{"format": "nnlens", "version": 1, "input": [1, 6, 6], "layers": [
    {"type": "conv2d", "name": "conv", "filters": 2, "kernel": 3, "padding": 1, "activation": "relu"},
    {"type": "flatten"}, {"type": "dense", "units": 3}]}"#;
/// A vocabulary with the special tokens and a few words.
const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\n##s\nsat\n.\n";
/// A CSV with a numeric and a text column.
const CSV: &str = "x,y,label\n0.5,1,a\n-1,2.5,b\n3,0,a\n1e3,-2,b\n";

fn model() -> &'static nnlens::Graph {
    static MODEL_GRAPH: OnceLock<nnlens::Graph> = OnceLock::new();
    MODEL_GRAPH.get_or_init(|| nnlens::io::json::from_json(MODEL).expect("the model reads"))
}

/// `json` read as `T` the way the bindings read an options object.
fn read<T: DeserializeOwned>(json: &[u8]) -> Option<T> {
    serde_json::from_slice(json).ok()
}

/// Data with a little structure: `rows × cols`, deterministic.
fn data(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0)
}

/// The keys of every saliency method (the binding reads each method's own subset of them).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SaliencyKeys {
    #[serde(default)]
    method: MethodKind,
    target: Option<usize>,
    logits: Option<bool>,
    abs: Option<bool>,
    steps: Option<usize>,
    rule: Option<Rule>,
    baseline: Option<BaselineValue>,
    samples: Option<usize>,
    noise: Option<f32>,
    variant: Option<Variant>,
    seed: Option<u64>,
    layer: Option<String>,
    upsample: Option<bool>,
    grid: Option<[usize; 2]>,
    window: Option<Vec<usize>>,
    strides: Option<Vec<usize>>,
}

/// A baseline: a number or one value per input element.
#[derive(Deserialize)]
#[serde(untagged)]
enum BaselineValue {
    Scalar(f32),
    Values(Vec<f32>),
}

impl From<BaselineValue> for Baseline {
    fn from(value: BaselineValue) -> Self {
        match value {
            BaselineValue::Scalar(v) => Baseline::Scalar(v),
            BaselineValue::Values(v) => Baseline::Values(v),
        }
    }
}

/// The core options the binding builds from `keys`: the method's options through the same
/// [`MethodKind::with_options`] the binding calls.
fn saliency_options(keys: SaliencyKeys) -> Option<SaliencyOptions> {
    let method = keys.method.with_options(MethodOptions {
        abs: keys.abs,
        steps: keys.steps,
        rule: keys.rule,
        baseline: keys.baseline.map(Baseline::from),
        samples: keys.samples,
        noise: keys.noise,
        variant: keys.variant,
        seed: keys.seed,
        layer: keys.layer,
        upsample: keys.upsample,
        grid: keys.grid,
        window: keys.window,
        strides: keys.strides,
    });
    let mut options = SaliencyOptions::new(method, keys.target?);
    if let Some(logits) = keys.logits {
        options.logits = logits;
    }
    Some(options)
}

fuzz_target!(|data_in: &[u8]| {
    let Some((&choice, json)) = data_in.split_first() else {
        return;
    };
    match choice % 10 {
        0 => {
            if let Some(options) = read::<TokenizeOptions>(json) {
                let vocab = Vocab::parse(VOCAB).expect("the vocabulary reads");
                let _ = tokenize(&vocab, "The cats sat. [MASK] dog", &options);
            }
        }
        1 => {
            if let Some(options) = read::<CsvOptions>(json) {
                let _ = parse_csv(CSV, &options);
            }
        }
        2 => {
            if let Some(options) = read::<PlaygroundOptions>(json) {
                for task in [PlaygroundTask::Spiral, PlaygroundTask::RegressionPlane] {
                    let _ = generate(task, &options);
                }
            }
        }
        3 => {
            if let Some(options) = read::<PcaOptions>(json) {
                if let Ok(result) = Pca::fit(data(9, 5).view(), &options) {
                    let _ = result.transform(data(3, 5).view());
                }
            }
        }
        4 => {
            if let Some(options) = read::<TsneOptions>(json) {
                if let Ok(mut tsne) = Tsne::new(data(12, 3).view(), &options) {
                    let _ = tsne.run(300);
                }
            }
        }
        5 => {
            if let Some(options) = read::<TrainerOptions>(json) {
                if let Ok(mut trainer) = Trainer::new(model().clone(), options) {
                    let inputs: Vec<f32> = (0..72).map(|i| (i % 5) as f32 / 4.0).collect();
                    let _ = trainer.step(&inputs, Targets::Classes(&[0, 2]));
                    let _ = trainer.step(&inputs, Targets::Values(&[0.0, 1.0, 0.5, 1.0, 0.0, 0.5]));
                }
            }
        }
        6 => {
            if let Some(options) = read::<DisplayOptions>(json) {
                let map: Vec<f32> = (0..48).map(|i| (i as f32 - 20.0) / 7.0).collect();
                let _ = display_map(&map, &[3, 4, 4], &options);
                let _ = display_map(&map[..16], &[4, 4], &options);
            }
        }
        7 => {
            // lossSurface's two axes, `[alphas, betas]`, over a plane of three parameters.
            if let Some([alphas, betas]) = read::<[Linspace; 2]>(json) {
                let p = ndarray::Array1::<f32>::from(vec![0.5, -1.0, 2.0]);
                if let Ok(grid) = plane_grid(p.view(), p.view(), p.view(), &alphas, &betas) {
                    let mut point = vec![0.0; grid.dim()];
                    for index in 0..grid.len() {
                        let _ = grid.point(index, &mut point);
                    }
                }
            }
        }
        _ => {
            if let Some(options) = read::<SaliencyKeys>(json).and_then(saliency_options) {
                let input: Vec<f32> = (0..36).map(|i| (i % 7) as f32 / 6.0).collect();
                let _ = saliency(model(), &input, &options);
            }
        }
    }
});
