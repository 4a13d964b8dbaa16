//! torchvision classifiers from both `torch.onnx` exporters against onnxruntime.
//!
//! `tests/fixtures/torchvision/<model>/<exporter>.{onnx,json}` (made by
//! `tests/fixtures/make_torchvision_fixtures.py`): nine torchvision models with ImageNet's 1,000
//! classes, exported with `dynamo=False` (opset 17, dynamic batch) and `dynamo=True` (dynamic
//! batch).
//! The committed `.onnx` files hold no weights: every float initializer of more than 64
//! elements has its data removed, and the JSON gives the seed and range of the uniform counter
//! generator that made the values onnxruntime ran with. This test regenerates them bit for bit
//! (`generate`, the same arithmetic as the script's: splitmix64's output function over a
//! counter, the top 24 bits as `u`, then `lo + width * u` in f32), writes them back into the
//! model and imports it with `from_onnx`.
//!
//! Each model × exporter is one test ([`check`]): forward at batch 2 and batch 1 within
//! `1e-4 + 1e-3 |reference|` of onnxruntime, a trace whose output is the forward's, finite
//! non-zero input gradients equal to those of the patch-matrix backward pass, layers listed.

use nnlens::io::onnx::from_onnx;
use nnlens::io::onnx::proto::{tensor_proto::DataType, ModelProto};
use nnlens::Graph;
use prost::Message;
use serde_json::Value;
use std::path::{Path, PathBuf};

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torchvision")
}

/// The script's `uniform24`: the top 24 bits of splitmix64's output function applied to
/// `(seed << 32) + GOLDEN * (j + 1)` (arithmetic modulo 2^64).
fn uniform24(seed: u64, j: u64) -> u32 {
    let mut z = (seed << 32).wrapping_add(GOLDEN.wrapping_mul(j + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as u32
}

/// `count` values `lo + width * u`, `u = uniform24 / 2^24`, in f32 step by step.
fn generate(seed: u64, count: usize, lo: f32, width: f32) -> Vec<f32> {
    let scale = 1.0 / (1u32 << 24) as f32;
    (0..count as u64)
        .map(|j| lo + width * (uniform24(seed, j) as f32 * scale))
        .collect()
}

fn uint(v: &Value) -> u64 {
    v.as_u64().expect("unsigned integer")
}

fn f32_bits(v: &Value) -> f32 {
    f32::from_bits(u32::try_from(uint(v)).expect("f32 bit pattern"))
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|d| uint(d) as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// A fixture's JSON description.
fn description(model: &str, exporter: &str) -> Value {
    let path = dir().join(model).join(format!("{exporter}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The committed `.onnx` with its generated initializers filled back in, as bytes.
fn refilled_model(model: &str, exporter: &str, fixture: &Value) -> Vec<u8> {
    let path = dir()
        .join(model)
        .join(fixture["model"].as_str().expect("model file"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut proto = ModelProto::decode(bytes.as_slice()).expect("a valid ModelProto");
    let graph = proto.graph.as_mut().expect("a graph");
    let generated = fixture["generated"].as_array().expect("generated list");
    assert!(
        !generated.is_empty(),
        "{model}/{exporter}: nothing generated"
    );
    for g in generated {
        let name = g["name"].as_str().unwrap();
        let dims = usizes(&g["dims"]);
        let init = graph
            .initializer
            .iter_mut()
            .find(|i| i.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{model}/{exporter}: initializer '{name}' is missing"));
        assert_eq!(init.data_type(), DataType::Float as i32, "{name}");
        assert_eq!(
            init.dims.iter().map(|&d| d as usize).collect::<Vec<_>>(),
            dims,
            "{name}"
        );
        assert!(
            init.raw_data.as_deref().is_none_or(|r| r.is_empty()) && init.float_data.is_empty(),
            "{model}/{exporter}: '{name}' already holds data"
        );
        let values = generate(
            uint(&g["seed"]),
            dims.iter().product(),
            f32_bits(&g["lo"]),
            f32_bits(&g["width"]),
        );
        let first: Vec<u32> = values.iter().take(3).map(|v| v.to_bits()).collect();
        let want: Vec<u32> = usizes(&g["first"]).iter().map(|&b| b as u32).collect();
        assert_eq!(
            first, want,
            "{model}/{exporter}: '{name}' generated differently"
        );
        init.raw_data = Some(values.iter().flat_map(|v| v.to_le_bytes()).collect());
    }
    proto.encode_to_vec()
}

/// The fixture's generated input, `[batch, C, H, W]` flat.
fn input(fixture: &Value) -> (Vec<usize>, Vec<f32>) {
    let spec = &fixture["input"];
    let shape = usizes(&spec["shape"]);
    let values = generate(
        uint(&spec["seed"]),
        shape.iter().product(),
        f32_bits(&spec["lo"]),
        f32_bits(&spec["width"]),
    );
    (shape, values)
}

/// Largest `|got - want|`, and whether every element is within tolerance.
fn compare(got: &[f32], want: &[f32]) -> (f64, bool) {
    let mut max = 0.0f64;
    let mut ok = got.len() == want.len();
    for (&g, &w) in got.iter().zip(want) {
        let err = (g as f64 - w as f64).abs();
        max = max.max(err);
        ok &= err <= ATOL + RTOL * (w as f64).abs();
    }
    (max, ok)
}

/// Forward at `batch` against the reference case; an error is returned for the table.
fn forward_case(
    g: &Graph,
    fixture: &Value,
    input: &[f32],
    batch: usize,
    label: &str,
) -> nnlens::Result<Vec<f32>> {
    let case = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| uint(&c["batch"]) as usize == batch)
        .unwrap_or_else(|| panic!("{label}: no batch-{batch} case"));
    let per_sample = input.len() / uint(&fixture["input"]["shape"][0]) as usize;
    let out = g.forward(g.input_tensor(input[..batch * per_sample].to_vec(), batch)?)?;
    assert_eq!(
        out.shape(),
        usizes(&case["output_shape"]),
        "{label} batch {batch}"
    );
    let got: Vec<f32> = out.iter().copied().collect();
    let (max, ok) = compare(&got, &floats(&case["output"]));
    println!("{label} batch {batch}: max error {max:.2e}");
    assert!(
        ok,
        "{label} batch {batch}: max error {max:e} beyond tolerance"
    );
    Ok(got)
}

/// Runs one model × exporter: forward at batch 2 and 1 against onnxruntime, the trace's output
/// equal to the forward's, a finite non-zero input gradient that the patch-matrix backward
/// pass confirms, layers listed.
fn check(model: &str, exporter: &str) {
    let label = format!("{model}/{exporter}");
    let fixture = description(model, exporter);
    let bytes = refilled_model(model, exporter, &fixture);
    let g = from_onnx(&bytes).unwrap_or_else(|e| panic!("{label}: import failed: {e}"));
    let (_, x) = input(&fixture);
    forward_case(&g, &fixture, &x, 2, &label).unwrap_or_else(|e| panic!("{label}: {e}"));
    let out_1 =
        forward_case(&g, &fixture, &x, 1, &label).unwrap_or_else(|e| panic!("{label}: {e}"));
    let per_sample = x.len() / uint(&fixture["input"]["shape"][0]) as usize;
    let trace = g
        .trace(g.input_tensor(x[..per_sample].to_vec(), 1).unwrap())
        .unwrap_or_else(|e| panic!("{label}: trace: {e}"));
    let traced: Vec<f32> = trace.output().iter().copied().collect();
    assert_eq!(
        traced, out_1,
        "{label}: the trace's output is the forward's"
    );
    let grad = g
        .input_gradient(&trace, 0)
        .unwrap_or_else(|e| panic!("{label}: gradient: {e}"));
    assert_eq!(grad.shape(), trace.input().shape(), "{label}");
    assert!(
        grad.iter().all(|v| v.is_finite()),
        "{label}: non-finite gradient"
    );
    assert!(grad.iter().any(|&v| v != 0.0), "{label}: zero gradient");
    // A gradient trace keeps only what the backward pass reads, and gives the same gradient.
    let lean = g
        .gradient_trace(trace.input().clone(), g.output())
        .unwrap_or_else(|e| panic!("{label}: gradient trace: {e}"));
    let dropped = (0..trace.values().len())
        .filter(|&id| !lean.is_kept(nnlens::graph::ValueId(id)))
        .count();
    assert!(dropped > 0, "{label}: the gradient trace dropped no value");
    assert_eq!(
        g.input_gradient(&lean, 0)
            .unwrap_or_else(|e| panic!("{label}: gradient from the gradient trace: {e}")),
        grad,
        "{label}: the gradient trace's input gradient is the full trace's"
    );
    // The input gradient alone takes the convolutions' adjoints (forward kernels, one per phase
    // of a stride); with parameter gradients they take the patch matrix. Both must agree.
    let mut seed = nnlens::tensor::Tensor::zeros(trace.output().raw_dim());
    seed[[0, 0]] = 1.0;
    let via_patches = g
        .backward(&trace, seed, true)
        .unwrap_or_else(|e| panic!("{label}: backward with parameters: {e}"))
        .input(&g, 1);
    let scale = via_patches.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in grad.iter().zip(&via_patches) {
        assert!(
            (a - b).abs() <= 1e-4 * scale,
            "{label}: input gradient {a} by the adjoints, {b} by the patch matrix"
        );
    }
    assert!(!g.layers().is_empty(), "{label}: no layers");
}

/// Every model × exporter; `tests/fixtures/torchvision/index.json` lists the fixtures and
/// `table_covers_every_fixture` keeps the two in step.
const CASES: &[(&str, &str)] = &[
    ("resnet18", "legacy"),
    ("resnet18", "dynamo"),
    ("mobilenet_v2", "legacy"),
    ("mobilenet_v2", "dynamo"),
    ("mobilenet_v3_small", "legacy"),
    ("mobilenet_v3_small", "dynamo"),
    ("squeezenet1_1", "legacy"),
    ("squeezenet1_1", "dynamo"),
    ("shufflenet_v2_x0_5", "legacy"),
    ("shufflenet_v2_x0_5", "dynamo"),
    ("efficientnet_b0", "legacy"),
    ("efficientnet_b0", "dynamo"),
    ("densenet121", "legacy"),
    ("densenet121", "dynamo"),
    ("googlenet", "legacy"),
    ("googlenet", "dynamo"),
    ("regnet_y_400mf", "legacy"),
    ("regnet_y_400mf", "dynamo"),
];

#[test]
fn table_covers_every_fixture() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("index.json")).unwrap()).unwrap();
    let mut listed: Vec<(String, String)> = index["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["exporter"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut table: Vec<(String, String)> = CASES
        .iter()
        .map(|(m, e)| (m.to_string(), e.to_string()))
        .collect();
    listed.sort();
    table.sort();
    assert_eq!(listed, table);
    assert_eq!(table.len(), 18, "nine models, two exporters each");
}

/// Values printed by the script's `uniform24` and `generate` (the first four of the input).
#[test]
fn generator_matches_the_script() {
    let u: Vec<u32> = (0..3).map(|j| uniform24(0, j)).collect();
    assert_eq!(u, [14_819_496, 7_239_838, 443_485]);
    assert_eq!(
        [uniform24(123_456, 0), uniform24(123_456, 1)],
        [8_929_598, 6_097_934]
    );
    let x: Vec<u32> = generate(7, 4, -2.0, 4.0)
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(x, [0x3f73_6918, 0xbf02_8814, 0xbff7_2a4e, 0x3faa_4d22]);
}

macro_rules! model_tests {
    ($($test:ident: $model:literal, $exporter:literal;)*) => {$(
        #[test]
        fn $test() {
            check($model, $exporter);
        }
    )*};
}

model_tests! {
    resnet18_legacy: "resnet18", "legacy";
    resnet18_dynamo: "resnet18", "dynamo";
    mobilenet_v2_legacy: "mobilenet_v2", "legacy";
    mobilenet_v2_dynamo: "mobilenet_v2", "dynamo";
    mobilenet_v3_small_legacy: "mobilenet_v3_small", "legacy";
    mobilenet_v3_small_dynamo: "mobilenet_v3_small", "dynamo";
    squeezenet1_1_legacy: "squeezenet1_1", "legacy";
    squeezenet1_1_dynamo: "squeezenet1_1", "dynamo";
    shufflenet_v2_x0_5_legacy: "shufflenet_v2_x0_5", "legacy";
    shufflenet_v2_x0_5_dynamo: "shufflenet_v2_x0_5", "dynamo";
    efficientnet_b0_legacy: "efficientnet_b0", "legacy";
    efficientnet_b0_dynamo: "efficientnet_b0", "dynamo";
    densenet121_legacy: "densenet121", "legacy";
    densenet121_dynamo: "densenet121", "dynamo";
    googlenet_legacy: "googlenet", "legacy";
    googlenet_dynamo: "googlenet", "dynamo";
    regnet_y_400mf_legacy: "regnet_y_400mf", "legacy";
    regnet_y_400mf_dynamo: "regnet_y_400mf", "dynamo";
}
