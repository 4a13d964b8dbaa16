//! t-SNE against scikit-learn 1.9 on the fixtures of `tests/fixtures/tsne` (made by
//! `make_tsne_fixtures.py` there): 300 × 10 gaussian blobs (5 clusters) and 500 × 64 digits.
//!
//! Embeddings cannot be compared point by point (the optimisation amplifies rounding
//! differences), so the tests compare what they are for:
//!
//! * the PCA initialisation equals scikit-learn's (to 1e-3 of its scale);
//! * nnlens's trustworthiness (k = 5) of scikit-learn's own embeddings equals scikit-learn's
//!   value (ties in the input ranking broken by index: exactly the `trustworthiness_stable` the
//!   script records, and within 1e-3 of `sklearn.manifold.trustworthiness`);
//! * with the same settings (defaults, `random_state=0` / `seed: 0`), nnlens's embeddings are at
//!   least as trustworthy as scikit-learn's minus [`TRUST_SLACK`], their leave-one-out 1-NN
//!   label accuracy (the clusters separate) is at least scikit-learn's minus
//!   [`ACCURACY_SLACK`], and the KL divergence is at most scikit-learn's plus [`KL_SLACK`]
//!   (relative), for the exact and the Barnes-Hut method;
//! * runs are reproducible for a seed, and the stepper and [`tsne`] agree.

use ndarray::{Array2, ArrayView2};
use nnlens::project::tsne::{trustworthiness, tsne, Init, Method, StopReason, Tsne, TsneOptions};
use nnlens::Error;
use serde_json::Value;
use std::fs;

/// Allowed shortfall of trustworthiness against scikit-learn's on the same data and settings.
const TRUST_SLACK: f64 = 0.01;
/// Allowed shortfall of leave-one-out 1-NN accuracy in the embedding.
const ACCURACY_SLACK: f64 = 0.02;
/// Allowed relative excess of the final KL divergence.
const KL_SLACK: f64 = 0.10;

struct Fixture {
    name: &'static str,
    data: Array2<f32>,
    labels: Vec<usize>,
    json: Value,
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn fixture(name: &'static str) -> Fixture {
    let path = format!("tests/fixtures/tsne/{name}.json");
    let json: Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
            .unwrap();
    let (rows, cols) = (
        json["rows"].as_u64().unwrap() as usize,
        json["cols"].as_u64().unwrap() as usize,
    );
    let data = Array2::from_shape_vec((rows, cols), floats(&json["data"])).unwrap();
    let labels = json["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    Fixture {
        name,
        data,
        labels,
        json,
    }
}

fn matrix(v: &Value, cols: usize) -> Array2<f32> {
    let values = floats(v);
    Array2::from_shape_vec((values.len() / cols, cols), values).unwrap()
}

/// Leave-one-out accuracy of the nearest embedded neighbour's label.
fn one_nn_accuracy(y: ArrayView2<f32>, labels: &[usize]) -> f64 {
    let n = y.nrows();
    let hits = (0..n)
        .filter(|&i| {
            let d = |j: usize| {
                y.row(i)
                    .iter()
                    .zip(y.row(j))
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
            };
            let nearest = (0..n)
                .filter(|&j| j != i)
                .min_by(|&a, &b| d(a).total_cmp(&d(b)))
                .unwrap();
            labels[nearest] == labels[i]
        })
        .count();
    hits as f64 / n as f64
}

fn method_key(method: Method) -> &'static str {
    match method {
        Method::Exact => "exact",
        Method::BarnesHut => "barnes_hut",
        Method::Auto => unreachable!("the fixtures name resolved methods"),
    }
}

#[test]
fn pca_initialisation_matches_scikit_learn() {
    for f in [fixture("blobs"), fixture("digits")] {
        let want = matrix(&f.json["pca_init"], 2);
        let options = TsneOptions {
            method: Method::Exact,
            ..TsneOptions::default()
        };
        let got = Tsne::new(f.data.view(), &options).unwrap().embedding();
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for ((i, a), &w) in want.indexed_iter() {
            let g = got[[i, a]];
            assert!(
                (g - w).abs() <= 1e-3 * scale,
                "{} init[{i}, {a}]: {g} vs {w}",
                f.name
            );
        }
    }
}

#[test]
fn trustworthiness_of_scikit_learn_embeddings_matches_scikit_learn() {
    for f in [fixture("blobs"), fixture("digits")] {
        for method in [Method::Exact, Method::BarnesHut] {
            let run = &f.json["runs"][method_key(method)];
            let embedding = matrix(&run["embedding"], 2);
            let t = trustworthiness(f.data.view(), embedding.view(), 5).unwrap();
            let stable = run["trustworthiness_stable"].as_f64().unwrap();
            let sklearn = run["trustworthiness"].as_f64().unwrap();
            assert!(
                (t - stable).abs() < 1e-9,
                "{} {method}: {t} vs {stable}",
                f.name
            );
            assert!(
                (t - sklearn).abs() < 1e-3,
                "{} {method}: {t} vs sklearn {sklearn}",
                f.name
            );
        }
    }
}

fn check_quality(f: &Fixture, method: Method) {
    let run = &f.json["runs"][method_key(method)];
    let options = TsneOptions {
        method,
        seed: 0,
        ..TsneOptions::default()
    };
    let mut checkpoints = Vec::new();
    let start = std::time::Instant::now();
    let r = tsne(f.data.view(), &options, &mut |p| {
        if p.is_checkpoint() {
            checkpoints.push(p.iteration);
        }
        true
    })
    .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(r.method, method);
    assert_eq!(r.embedding.dim(), (f.data.nrows(), 2));
    let t = trustworthiness(f.data.view(), r.embedding.view(), 5).unwrap();
    let accuracy = one_nn_accuracy(r.embedding.view(), &f.labels);
    let (sk_t, sk_acc, sk_kl) = (
        run["trustworthiness"].as_f64().unwrap(),
        run["one_nn_accuracy"].as_f64().unwrap(),
        run["kl_divergence"].as_f64().unwrap(),
    );
    eprintln!(
        "{} {method}: trustworthiness {t:.4} (sklearn {sk_t:.4}), 1-NN {accuracy:.3} (sklearn {sk_acc:.3}), \
         KL {:.4} (sklearn {sk_kl:.4}), {} iterations ({:?}), {seconds:.2} s",
        f.name, r.kl_divergence, r.iterations, r.stop
    );
    assert!(
        t >= sk_t - TRUST_SLACK,
        "{} {method}: trustworthiness {t} < sklearn {sk_t} - {TRUST_SLACK}",
        f.name
    );
    assert!(
        accuracy >= sk_acc - ACCURACY_SLACK,
        "{} {method}: 1-NN accuracy {accuracy} < sklearn {sk_acc}",
        f.name
    );
    assert!(
        r.kl_divergence <= sk_kl * (1.0 + KL_SLACK),
        "{} {method}: KL {} > sklearn {sk_kl}",
        f.name,
        r.kl_divergence
    );
    // scikit-learn ran all 1000 iterations (n_iter_ = 999); so must nnlens, reporting at every
    // 50th iteration.
    assert_eq!(run["n_iter"].as_u64().unwrap() as usize + 1, 1000);
    assert_eq!(
        (r.iterations, r.stop),
        (1000, StopReason::MaxIter),
        "{}",
        f.name
    );
    assert_eq!(checkpoints, (1..=20).map(|k| 50 * k).collect::<Vec<_>>());
}

#[test]
fn exact_is_as_good_as_scikit_learn() {
    for f in [fixture("blobs"), fixture("digits")] {
        check_quality(&f, Method::Exact);
    }
}

#[test]
fn barnes_hut_is_as_good_as_scikit_learn() {
    for f in [fixture("blobs"), fixture("digits")] {
        check_quality(&f, Method::BarnesHut);
    }
}

#[test]
fn runs_are_reproducible_and_the_stepper_agrees() {
    let f = fixture("blobs");
    for method in [Method::Exact, Method::BarnesHut] {
        let options = TsneOptions {
            method,
            max_iter: 400,
            ..TsneOptions::default()
        };
        let a = tsne(f.data.view(), &options, &mut |_| true).unwrap();
        let b = tsne(f.data.view(), &options, &mut |_| true).unwrap();
        assert_eq!(a, b, "{method}");
        let mut stepper = Tsne::new(f.data.view(), &options).unwrap();
        let mut frames = 0;
        while !stepper.run(25).unwrap().is_finished() {
            frames += 1;
            assert_eq!(stepper.embedding().dim(), (300, 2));
        }
        assert_eq!(frames, 15, "{method}: 400 iterations in steps of 25");
        assert_eq!(stepper.result(), a, "{method}");
    }
    // The random initialisation depends on the seed, and so does the result.
    let random = |seed| {
        let options = TsneOptions {
            init: Init::Random,
            seed,
            max_iter: 250,
            ..TsneOptions::default()
        };
        tsne(f.data.view(), &options, &mut |_| true)
            .unwrap()
            .embedding
    };
    let (a, b, c) = (random(1), random(1), random(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn bad_input_is_rejected_with_precise_errors() {
    let options = TsneOptions::default();
    let e = Tsne::from_slice(&[0.0; 7], 3, 2, &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape mismatch: t-SNE data has 7 values, expected 6 (3 rows x 2 columns)"
    );
    let small = TsneOptions {
        perplexity: 1.0,
        ..options.clone()
    };
    let e = Tsne::from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, f32::INFINITY], 3, 2, &small).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t-SNE data contains a non-finite value (inf) at index 5"
    );
    let e = Tsne::from_slice(&[0.0, 1.0], 1, 2, &small).unwrap_err();
    assert!(e.to_string().contains("t-SNE needs at least 2 rows"), "{e}");
    let e = Tsne::from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 3, 2, &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid t-SNE perplexity: got 30; it must be less than the number of rows (3)"
    );
    let e = "fast".parse::<Method>().unwrap_err();
    assert!(matches!(e, Error::Unknown { .. }));
    assert_eq!(
        e.to_string(),
        "unknown t-SNE method 'fast'; expected one of: auto, exact, barnesHut"
    );
    let e = TsneOptions {
        learning_rate: Some(-1.0),
        perplexity: 1.0,
        ..options
    };
    let e = Tsne::from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 3, 2, &e).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid t-SNE learningRate: got -1; expected a finite number > 0, or none for \"auto\""
    );
}
