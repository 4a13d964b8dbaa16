//! The ONNX project's own operator conformance cases (`onnx.backend.test.case.node`) for every
//! op in [`SUPPORTED_OPS`], extracted by `tests/fixtures/onnx_conformance/make_conformance.py`
//! (`index.json` + `cases.bin`; the case's first input is the graph input, its other inputs are
//! initializers). Every case runs through [`from_onnx`] and the forward pass and is classified:
//!
//! - **pass**: one output of the expected shape whose values are within `1e-4 + 1e-3·|expected|`
//!   (exact for integer and boolean outputs; NaN matches NaN and an infinity itself);
//! - **refused**: the import or the run returned an `Err` whose message is a clear statement of
//!   what nnlens does not do (see [`unclear_refusal`]);
//! - **wrong**: any other result;
//! - **crash**: a panic (caught per case, so one crash does not hide the others).
//!
//! The test fails on any wrong answer, crash or unclear refusal, when fewer cases pass than
//! [`PASS_FLOOR`], and when the fixtures were extracted for another list of supported ops (rerun
//! the script then). `cargo test --test onnx_conformance -- --nocapture` prints the counts per op,
//! the refusals by reason and every case that is not a pass.

use nnlens::io::onnx::{from_onnx, SUPPORTED_OPS};
use nnlens::{Graph, Tensor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;

/// The number of cases that pass today. It only goes up: raise it when an op or attribute is
/// added and the script is rerun (the issue aims at three quarters of the cases).
const PASS_FLOOR: usize = 337;

#[derive(Deserialize)]
struct Index {
    onnx_version: String,
    supported_ops: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    op: String,
    expanded: bool,
    opset: i64,
    model: [usize; 2],
    input: Option<Array>,
    outputs: Vec<Array>,
}

/// One stored array (see the script's docstring for the encodings).
#[derive(Deserialize)]
struct Array {
    name: String,
    #[serde(rename = "type")]
    elem_type: String,
    shape: Option<Vec<usize>>,
    data: String,
    offset: usize,
}

/// Values of an array, as stored.
enum Values {
    Float(Vec<f64>),
    Integer(Vec<i64>),
    None,
}

impl Array {
    fn len(&self) -> usize {
        self.shape.as_deref().map_or(0, |s| s.iter().product())
    }

    fn values(&self, blob: &[u8]) -> Values {
        let n = self.len();
        let bytes = |width: usize| &blob[self.offset..self.offset + n * width];
        match self.data.as_str() {
            "f32" => Values::Float(
                bytes(4)
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect(),
            ),
            "f64" => Values::Float(
                bytes(8)
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            "i64" => Values::Integer(
                bytes(8)
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            "none" => Values::None,
            other => panic!("{}: unknown data encoding '{other}'", self.name),
        }
    }
}

enum Outcome {
    Pass,
    Refused(String),
    Wrong(String),
    Crash(String),
}

fn fixtures() -> (Index, Vec<u8>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx_conformance");
    let index = std::fs::read_to_string(dir.join("index.json")).expect("index.json");
    let blob = std::fs::read(dir.join("cases.bin")).expect("cases.bin");
    (
        serde_json::from_str(&index).expect("index.json parses"),
        blob,
    )
}

/// The graph input's values as nnlens is fed them (f32) and their shape.
fn feed(input: &Array, blob: &[u8]) -> Result<(Vec<f32>, Vec<usize>), String> {
    let data = match input.values(blob) {
        Values::Float(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::Integer(v) => v.into_iter().map(|x| x as f32).collect(),
        Values::None => {
            return Err(format!(
                "imported a model whose input '{}' is {}, which nnlens cannot feed",
                input.name, input.elem_type
            ))
        }
    };
    Ok((data, input.shape.clone().unwrap_or_default()))
}

/// Imports and runs one case; `Ok(Err(..))` is a refusal, `Err(..)` a wrong result. The output
/// has the batch first: the input's leading dimension, or one sample where nnlens runs the
/// model with the whole input as one sample (its input shape is then the input's whole shape),
/// in which case that leading 1 is dropped.
fn run(case: &Case, blob: &[u8]) -> Result<nnlens::Result<Tensor>, String> {
    let [start, len] = case.model;
    let graph: Graph = match from_onnx(&blob[start..start + len]) {
        Ok(g) => g,
        Err(e) => return Ok(Err(e)),
    };
    let input = case
        .input
        .as_ref()
        .ok_or("imported a model that has no input")?;
    let (data, shape) = feed(input, blob)?;
    let whole = graph.input_shape() == shape.as_slice();
    let batch = if whole {
        1
    } else {
        shape.first().copied().unwrap_or(1)
    };
    Ok(graph
        .input_tensor(data, batch)
        .and_then(|x| graph.forward(x))
        .map(|y| {
            if whole {
                y.index_axis_move(ndarray::Axis(0), 0)
            } else {
                y
            }
        }))
}

/// Compares nnlens's output with the expected one.
fn compare(got: &Tensor, want: &Array, blob: &[u8]) -> Result<(), String> {
    let want_shape = want.shape.as_deref().unwrap_or(&[]);
    if got.shape() != want_shape {
        return Err(format!(
            "output shape {:?}, expected {want_shape:?} ({})",
            got.shape(),
            want.elem_type
        ));
    }
    let mismatch = |i: usize, g: f32, w: String| {
        Err(format!(
            "output element {i} is {g}, expected {w} ({})",
            want.elem_type
        ))
    };
    match want.values(blob) {
        Values::Float(w) => {
            for (i, (&g, &w)) in got.iter().zip(&w).enumerate() {
                let g64 = g as f64;
                let close = if w.is_nan() {
                    g.is_nan()
                } else if w.is_infinite() {
                    g64 == w
                } else {
                    (g64 - w).abs() <= ATOL + RTOL * w.abs()
                };
                if !close {
                    return mismatch(i, g, w.to_string());
                }
            }
        }
        Values::Integer(w) => {
            for (i, (&g, &w)) in got.iter().zip(&w).enumerate() {
                if g as f64 != w as f64 {
                    return mismatch(i, g, w.to_string());
                }
            }
        }
        Values::None => {
            return Err(format!(
                "returned numbers where the expected output is {}",
                want.elem_type
            ))
        }
    }
    Ok(())
}

fn classify(case: &Case, blob: &[u8]) -> Outcome {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let output = match run(case, blob) {
            Err(wrong) => return Outcome::Wrong(wrong),
            Ok(Err(refusal)) => return Outcome::Refused(refusal.to_string()),
            Ok(Ok(output)) => output,
        };
        let [want] = case.outputs.as_slice() else {
            return Outcome::Wrong(format!(
                "ran a model with {} outputs as if it had one",
                case.outputs.len()
            ));
        };
        match compare(&output, want, blob) {
            Ok(()) => Outcome::Pass,
            Err(wrong) => Outcome::Wrong(wrong),
        }
    }));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Outcome::Crash(message)
    })
}

/// Why a refusal message is not a clear statement of what nnlens does not do, if it is not.
///
/// Clear means both: it says where the problem is (a node with its op, `node 3 'y' (Pad)` or
/// `layer 'y' (Pad)`, the graph's inputs, outputs or initializers, or the input values), and it says what
/// nnlens does not take, in its own words: it names nnlens ("...; nnlens keeps the batch first"),
/// says something is not supported, names the batch axis that the model would move, or names a
/// property of the model nnlens cannot run (training mode, a non-finite input, an output that
/// does not depend on the input, an input that is not a tensor). A message that only states an
/// internal shape conflict ("the element counts must match") fails: it reads as if the model
/// were broken.
fn unclear_refusal(message: &str) -> Option<&'static str> {
    const PLACES: &[&str] = &[
        "' (",
        "graph input '",
        "graph output '",
        "initializer '",
        "the graph has ",
        "input contains ",
    ];
    const LIMITS: &[&str] = &[
        "nnlens",
        "not supported",
        "unsupported",
        "batch",
        "eval() mode",
        "non-finite value",
        "does not depend on the input",
        "is not a tensor",
    ];
    if !PLACES.iter().any(|p| message.contains(p)) {
        return Some("does not name the node, the graph input or output, or the input values");
    }
    if !LIMITS.iter().any(|l| message.contains(l)) {
        return Some("does not say what nnlens does not do");
    }
    None
}

/// A short reason for a refusal, for the summary (the first rule whose text the message
/// contains; "other" otherwise).
fn refusal_reason(message: &str) -> String {
    if let Some(rest) = message.split("unsupported op type '").nth(1) {
        let op = rest.split('\'').next().unwrap_or(rest);
        return format!("op {op} not supported (in the model)");
    }
    const RULES: &[(&str, &str)] = &[
        (
            "nnlens feeds float inputs",
            "graph input not float (integer, bool, float8/4)",
        ),
        (
            "expects a batch dimension followed by",
            "graph input of rank < 2 (no batch axis + sample)",
        ),
        (
            "is not a tensor",
            "graph input not a tensor (sequence, optional)",
        ),
        (
            "casts a run-time tensor",
            "Cast of a run-time tensor to a non-float type",
        ),
        (
            "does not depend on the input",
            "output is a constant (folded at import)",
        ),
        (
            "concatenates run-time tensors with constants",
            "Concat of run-time tensors with constants",
        ),
        ("eval() mode", "training mode"),
        ("non-finite value", "non-finite input value"),
        ("exactly one output", "more than one output"),
        ("exactly one input", "not exactly one input"),
        (
            "sizes after the batch must be positive",
            "graph input with a zero-size dimension",
        ),
        (
            "batch",
            "would move, merge, reduce or broadcast over the batch axis",
        ),
        ("Pool", "pooling variant (1-D/3-D, dilation, storage order)"),
        ("weight B has shape", "MatMul weight not 2-D"),
        ("bias C has shape", "Gemm bias shape"),
    ];
    RULES
        .iter()
        .find(|(text, _)| message.contains(text))
        .map_or("other", |(_, reason)| reason)
        .to_string()
}

#[derive(Default)]
struct Counts {
    pass: usize,
    refused: usize,
    wrong: usize,
    crash: usize,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Refused(_) => self.refused += 1,
            Outcome::Wrong(_) => self.wrong += 1,
            Outcome::Crash(_) => self.crash += 1,
        }
    }

    fn total(&self) -> usize {
        self.pass + self.refused + self.wrong + self.crash
    }

    fn row(&self, label: &str) -> String {
        format!(
            "{label:<20} {:>5} {:>5} {:>7} {:>5} {:>5}",
            self.total(),
            self.pass,
            self.refused,
            self.wrong,
            self.crash
        )
    }
}

#[test]
fn fixtures_match_the_supported_ops() {
    let (index, _) = fixtures();
    let mut ours: Vec<&str> = SUPPORTED_OPS.to_vec();
    ours.sort_unstable();
    assert_eq!(
        index.supported_ops, ours,
        "the conformance fixtures were extracted for another SUPPORTED_OPS list: rerun \
         `python3 tests/fixtures/onnx_conformance/make_conformance.py` and raise PASS_FLOOR"
    );
    for case in &index.cases {
        assert!(
            ours.contains(&case.op.as_str()),
            "{}: op {} is not supported",
            case.name,
            case.op
        );
    }
}

#[test]
fn conformance_cases_pass_or_are_refused_clearly() {
    let (index, blob) = fixtures();
    let mut per_op: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut all = Counts::default();
    let mut expanded = Counts::default();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut report = String::new();
    for case in &index.cases {
        let outcome = classify(case, &blob);
        per_op.entry(&case.op).or_default().add(&outcome);
        all.add(&outcome);
        if case.expanded {
            expanded.add(&outcome);
        }
        let label = format!("{} ({}, opset {})", case.name, case.op, case.opset);
        match &outcome {
            Outcome::Pass => {}
            Outcome::Refused(message) => {
                *reasons.entry(refusal_reason(message)).or_default() += 1;
                if let Some(why) = unclear_refusal(message) {
                    failures.push(format!("UNCLEAR {label}: {why}: {message}"));
                }
                let _ = writeln!(report, "refused {label}: {message}");
            }
            Outcome::Wrong(why) => failures.push(format!("WRONG {label}: {why}")),
            Outcome::Crash(why) => failures.push(format!("CRASH {label}: {why}")),
        }
    }
    let _ = writeln!(
        report,
        "\nONNX {} conformance cases of nnlens's ops\n{:<20} {:>5} {:>5} {:>7} {:>5} {:>5}",
        index.onnx_version, "op", "cases", "pass", "refused", "wrong", "crash"
    );
    for (op, counts) in &per_op {
        let _ = writeln!(report, "{}", counts.row(op));
    }
    let _ = writeln!(report, "{}", all.row("all"));
    let _ = writeln!(report, "{}", expanded.row("(of which expanded)"));
    let mut by_count: Vec<_> = reasons.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(report, "\nrefusals by reason");
    for (reason, n) in by_count {
        let _ = writeln!(report, "{n:>5}  {reason}");
    }
    println!("{report}");
    assert!(
        failures.is_empty(),
        "{} cases are wrong, crash or are refused unclearly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        all.pass >= PASS_FLOOR,
        "{} cases pass, fewer than the floor of {PASS_FLOOR}",
        all.pass
    );
}

#[test]
fn a_changed_expected_value_is_a_wrong_answer() {
    let (index, mut blob) = fixtures();
    let case = index
        .cases
        .iter()
        .find(|c| c.name == "test_relu")
        .expect("test_relu is a case");
    assert!(matches!(classify(case, &blob), Outcome::Pass));
    let want = &case.outputs[0];
    assert_eq!(want.data, "f32");
    let at = want.offset + 4 * (want.len() - 1);
    let value = f32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
    let changed = value + 2e-4 + 2e-3 * value.abs();
    blob[at..at + 4].copy_from_slice(&changed.to_le_bytes());
    match classify(case, &blob) {
        Outcome::Wrong(why) => assert!(why.contains("output element"), "{why}"),
        _ => panic!("a changed expected value was not reported as wrong"),
    }
}
