//! Attribution against Captum 0.9: every case of `tests/fixtures/captum/<model>.json` (written
//! by `tests/fixtures/make_captum_fixtures.py`) must match element-wise within
//! `1e-4 + 1e-3 * |expected|`, for the same models imported through ONNX.
//! SmoothGrad, being random, is checked by its properties.
//!
//! Run with `--nocapture` to see the largest absolute and relative error per model and method.

use nnlens::explain::display::{normalize, reduce_channels, Reduction, Sign};
use nnlens::explain::{saliency, Baseline, Method, Rule, SaliencyOptions, Variant};
use nnlens::{Error, Graph};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;
const MODELS: [&str; 3] = ["mlp_softmax", "lenet", "resnet_bn"];

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum")
}

struct Fixture {
    graph: Graph,
    doc: Value,
}

impl Fixture {
    fn input(&self) -> Vec<f32> {
        floats(&self.doc["input"])
    }
    fn cases(&self) -> &Vec<Value> {
        self.doc["cases"].as_array().expect("cases")
    }
}

/// The fixture `name` and its model, imported from the same ONNX file Captum's model was
/// exported to (the nnlens JSON copy beside it, with the same weights, must agree).
fn load(name: &str) -> Fixture {
    let dir = fixture_dir();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let bytes = std::fs::read(dir.join(doc["onnx"].as_str().unwrap())).unwrap();
    let graph = nnlens::io::onnx::from_onnx(&bytes).unwrap();
    let json = std::fs::read_to_string(dir.join(doc["nnlens_json"].as_str().unwrap())).unwrap();
    let copy = nnlens::io::json::from_json(&json).unwrap();
    let x = floats(&doc["input"]);
    let via_onnx = graph
        .forward(graph.input_tensor(x.clone(), 1).unwrap())
        .unwrap();
    let via_json = copy.forward(copy.input_tensor(x, 1).unwrap()).unwrap();
    for (a, b) in via_onnx.iter().zip(via_json.iter()) {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-4 * b.abs(),
            "{name}: ONNX {a} vs JSON copy {b}"
        );
    }
    Fixture { graph, doc }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

fn baseline(v: &Value) -> Baseline {
    match v {
        Value::Array(_) => Baseline::Values(floats(v)),
        other => Baseline::Scalar(other.as_f64().expect("baseline number") as f32),
    }
}

/// The options of a fixture case, parsed from nnlens's option names.
fn options(case: &Value) -> SaliencyOptions {
    let o = &case["options"];
    let mut method: Method = case["method"].as_str().unwrap().parse().unwrap();
    match &mut method {
        Method::Gradient { abs } => *abs = o["abs"].as_bool().unwrap(),
        Method::InputXGradient => {}
        Method::IntegratedGradients {
            steps,
            rule,
            baseline: b,
        } => {
            *steps = o["steps"].as_u64().unwrap() as usize;
            *rule = o["rule"].as_str().unwrap().parse().unwrap();
            *b = baseline(&o["baseline"]);
        }
        Method::GradCam {
            layer, upsample, ..
        } => {
            *layer = o["layer"].as_str().unwrap().to_string();
            *upsample = o["upsample"].as_bool().unwrap();
        }
        Method::Occlusion {
            window,
            strides,
            baseline: b,
        } => {
            *window = usizes(&o["window"]);
            *strides = usizes(&o["strides"]);
            *b = baseline(&o["baseline"]);
        }
        Method::SmoothGrad { .. } => panic!("no SmoothGrad fixtures"),
    }
    SaliencyOptions {
        method,
        target: case["target"].as_u64().unwrap() as usize,
        logits: case["logits"].as_bool().unwrap(),
    }
}

/// Largest absolute error, and largest relative error where `|expected| >= 1e-3`.
#[derive(Default, Clone, Copy)]
struct Errors {
    abs: f64,
    rel: f64,
    cases: usize,
}

impl Errors {
    fn add(&mut self, got: f32, want: f32) -> bool {
        let (g, w) = (f64::from(got), f64::from(want));
        let err = (g - w).abs();
        self.abs = self.abs.max(err);
        if w.abs() >= 1e-3 {
            self.rel = self.rel.max(err / w.abs());
        }
        err <= ATOL + RTOL * w.abs()
    }
}

fn check_model(name: &str) {
    let fx = load(name);
    let x = fx.input();
    let mut errors: BTreeMap<String, Errors> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in fx.cases() {
        let case_name = case["name"].as_str().unwrap();
        let opts = options(case);
        let got =
            saliency(&fx.graph, &x, &opts).unwrap_or_else(|e| panic!("{name}/{case_name}: {e}"));
        assert_eq!(
            got.shape,
            usizes(&case["shape"]),
            "{name}/{case_name}: shape"
        );
        let want = floats(&case["expected"]);
        let key = case["method"].as_str().unwrap().to_string();
        let e = errors.entry(key.clone()).or_default();
        e.cases += 1;
        let mut bad = 0;
        for (i, (g, w)) in got.values.iter().zip(&want).enumerate() {
            if !e.add(*g, *w) {
                if bad < 3 {
                    failures.push(format!("{name}/{case_name}[{i}]: got {g}, expected {w}"));
                }
                bad += 1;
            }
        }
        match (&case["delta"], got.delta) {
            (Value::Null, None) => {}
            (Value::Null, Some(d)) => panic!("{name}/{case_name}: unexpected delta {d}"),
            (want, Some(d)) => {
                let w = want.as_f64().unwrap() as f32;
                let de = errors
                    .entry("integratedGradients delta".into())
                    .or_default();
                de.cases += 1;
                if !de.add(d, w) {
                    failures.push(format!("{name}/{case_name}: delta {d}, expected {w}"));
                }
            }
            (_, None) => panic!("{name}/{case_name}: no delta"),
        }
    }
    for (method, e) in &errors {
        eprintln!(
            "{name:12} {method:28} {:3} cases  max abs err {:.2e}  max rel err (|expected| >= 1e-3) {:.2e}",
            e.cases, e.abs, e.rel
        );
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mlp_softmax_matches_captum() {
    check_model("mlp_softmax");
}

#[test]
fn lenet_matches_captum() {
    check_model("lenet");
}

#[test]
fn resnet_bn_matches_captum() {
    check_model("resnet_bn");
}

/// The fixtures cover every method, rule and option the tests claim to.
#[test]
fn fixtures_cover_every_method_and_rule() {
    let mut seen = std::collections::BTreeSet::new();
    for name in MODELS {
        let fx = load(name);
        for case in fx.cases() {
            let o = options(case);
            seen.insert(o.method.name().to_string());
            if let Method::IntegratedGradients { rule, baseline, .. } = &o.method {
                seen.insert(rule.name().to_string());
                seen.insert(format!(
                    "ig baseline {}",
                    matches!(baseline, Baseline::Values(_))
                ));
            }
            if let Method::GradCam { upsample, .. } = o.method {
                seen.insert(format!("upsample {upsample}"));
            }
            seen.insert(format!("logits {}", o.logits));
        }
    }
    for want in [
        "gradient",
        "inputXGradient",
        "integratedGradients",
        "gradCam",
        "occlusion",
    ]
    .iter()
    .chain(Rule::NAMES)
    .map(|s| s.to_string())
    .chain(
        [
            "ig baseline true",
            "ig baseline false",
            "upsample true",
            "upsample false",
            "logits true",
            "logits false",
        ]
        .map(String::from),
    ) {
        assert!(seen.contains(&want), "no fixture case for {want}");
    }
}

fn smoothgrad(samples: usize, noise: f32, variant: Variant, seed: u64) -> Method {
    Method::SmoothGrad {
        samples,
        noise,
        variant,
        seed,
        abs: true,
    }
}

#[test]
fn smoothgrad_with_zero_noise_is_the_gradient() {
    for name in MODELS {
        let fx = load(name);
        let x = fx.input();
        let grad = saliency(
            &fx.graph,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(Method::Gradient { abs: true }, 1)
            },
        )
        .unwrap();
        let sg = saliency(
            &fx.graph,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(smoothgrad(4, 0.0, Variant::SmoothGrad, 9), 1)
            },
        )
        .unwrap();
        assert_eq!(sg.shape, grad.shape);
        for (a, b) in sg.values.iter().zip(&grad.values) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                "{name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn smoothgrad_same_seed_same_map() {
    let fx = load("lenet");
    let x = fx.input();
    let run = |seed| {
        saliency(
            &fx.graph,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(smoothgrad(8, 0.15, Variant::VarGrad, seed), 0)
            },
        )
        .unwrap()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5).values, run(6).values);
}

/// SmoothGrad equals the mean of single-sample saliency maps at noise drawn the same way: a
/// ChaCha8 generator seeded with `seed`, `Normal(0, noise * (max - min))`, sample after sample,
/// element after element.
#[test]
fn smoothgrad_is_the_mean_of_gradients_over_the_same_noise() {
    for name in ["mlp_softmax", "resnet_bn"] {
        let fx = load(name);
        let x = fx.input();
        let (samples, noise, seed, target) = (16, 0.2f32, 11u64, 1);
        let range = x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
            - x.iter().copied().fold(f32::INFINITY, f32::min);
        let normal = Normal::new(0.0f32, noise * range).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut mean = vec![0.0f64; x.len()];
        for _ in 0..samples {
            let z: Vec<f32> = x.iter().map(|&v| v + normal.sample(&mut rng)).collect();
            let g = saliency(
                &fx.graph,
                &z,
                &SaliencyOptions {
                    logits: true,
                    ..SaliencyOptions::new(Method::Gradient { abs: true }, target)
                },
            )
            .unwrap();
            mean.iter_mut()
                .zip(&g.values)
                .for_each(|(m, g)| *m += f64::from(*g) / samples as f64);
        }
        let sg = saliency(
            &fx.graph,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(
                    smoothgrad(samples, noise, Variant::SmoothGrad, seed),
                    target,
                )
            },
        )
        .unwrap();
        for (a, b) in sg.values.iter().zip(&mean) {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-5 + 1e-4 * b.abs(),
                "{name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn errors_are_precise() {
    let fx = load("lenet");
    let x = fx.input();
    let g = &fx.graph;
    let err = saliency(
        g,
        &x,
        &SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(Method::InputXGradient, 5)
        },
    )
    .unwrap_err();
    assert_eq!(err, Error::TargetOutOfRange { target: 5, len: 5 });
    let cam = |layer: &str| SaliencyOptions {
        logits: true,
        ..SaliencyOptions::new(
            Method::GradCam {
                layer: layer.into(),
                upsample: true,
                grid: None,
            },
            0,
        )
    };
    let err = saliency(g, &x, &cam("/conv9/Conv"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/conv9/Conv") && err.contains("/conv1/Conv") && err.contains("/conv2/Conv"),
        "{err}"
    );
    let dense = g
        .nodes()
        .iter()
        .find(|n| n.shape.len() == 1)
        .unwrap()
        .name
        .clone();
    let err = saliency(g, &x, &cam(&dense)).unwrap_err().to_string();
    assert!(err.contains("without spatial dimensions"), "{err}");
    let occ = |window: Vec<usize>, strides: Vec<usize>| SaliencyOptions {
        logits: true,
        ..SaliencyOptions::new(
            Method::Occlusion {
                window,
                strides,
                baseline: Baseline::default(),
            },
            0,
        )
    };
    let err = saliency(g, &x, &occ(vec![1, 13, 3], vec![]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1..=12, got 13"), "{err}");
    let err = saliency(g, &x, &occ(vec![3, 3], vec![]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 3"), "{err}");
    assert!(saliency(g, &x, &occ(vec![1, 2, 2], vec![1, 3, 1])).is_err());
    let err = saliency(
        g,
        &x[1..],
        &SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(Method::InputXGradient, 0)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("143 values, expected 144"), "{err}");
}

/// The display helpers on a real attribution: `[1, 12, 12]` reduces to `[12, 12]` and
/// normalizes into `[0, 1]` with the top 2% of the mass saturated.
#[test]
fn display_of_a_saliency_map() {
    let fx = load("resnet_bn");
    let a = saliency(
        &fx.graph,
        &fx.input(),
        &SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(Method::Gradient { abs: false }, 0)
        },
    )
    .unwrap();
    let (map, shape) = reduce_channels(&a.values, &a.shape, Reduction::MaxAbs).unwrap();
    assert_eq!(shape, vec![10, 10]);
    let n = normalize(&map, Sign::AbsoluteValue, 2.0).unwrap();
    assert!(n.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(n.contains(&1.0) && n.iter().any(|&v| v < 0.5));
    let (sum, _) = reduce_channels(&a.values, &a.shape, Reduction::Sum).unwrap();
    let s = normalize(&sum, Sign::All, 2.0).unwrap();
    assert!(s.iter().any(|&v| v < 0.0) && s.iter().any(|&v| v > 0.0));
}
