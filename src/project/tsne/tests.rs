//! Unit tests of t-SNE: option checks, the optimiser schedule, gradients against finite
//! differences, and the internals (affinities, KL divergence, gradients) against scikit-learn's
//! on `tests/fixtures/tsne/small.json` (made by `make_tsne_fixtures.py` there).

use super::*;
use ndarray::{array, Array2};
use serde_json::Value;

fn groups(rows: usize, cols: usize, groups: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, c)| {
        (i % groups) as f32 * 6.0 + ((i * 7 + c * 13) % 11) as f32 * 0.15 + (c as f32) * 0.01
    })
}

/// `groups` gaussian blobs (unit variance, centres 8 apart on the diagonal), row `i` in group
/// `i % groups`.
fn blobs(rows: usize, cols: usize, groups: usize, seed: u64) -> Array2<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |(i, _)| {
        (standard_normal_pair(&mut rng).0 + 8.0 * (i % groups) as f64) as f32
    })
}

fn options(perplexity: f64, method: Method) -> TsneOptions {
    TsneOptions {
        perplexity,
        method,
        ..TsneOptions::default()
    }
}

fn err(data: ArrayView2<f32>, o: &TsneOptions) -> String {
    Tsne::new(data, o).unwrap_err().to_string()
}

#[test]
fn rejects_bad_options_with_the_value_and_the_range() {
    let data = groups(20, 3, 2);
    let v = data.view();
    let base = options(5.0, Method::Exact);
    let cases: Vec<(TsneOptions, &str)> = vec![
        (
            TsneOptions {
                components: 0,
                ..base.clone()
            },
            "t-SNE components: got 0; expected at least 1",
        ),
        (
            TsneOptions {
                perplexity: 0.0,
                ..base.clone()
            },
            "t-SNE perplexity: got 0; expected a finite number > 0",
        ),
        (
            TsneOptions {
                perplexity: -3.0,
                ..base.clone()
            },
            "got -3",
        ),
        (
            TsneOptions {
                perplexity: f64::NAN,
                ..base.clone()
            },
            "got NaN",
        ),
        (
            TsneOptions {
                perplexity: 20.0,
                ..base.clone()
            },
            "got 20; it must be less than the number of rows (20)",
        ),
        (
            TsneOptions {
                early_exaggeration: 0.5,
                ..base.clone()
            },
            "earlyExaggeration: got 0.5; expected a finite number >= 1",
        ),
        (
            TsneOptions {
                learning_rate: Some(0.0),
                ..base.clone()
            },
            "learningRate: got 0;",
        ),
        (
            TsneOptions {
                learning_rate: Some(f64::INFINITY),
                ..base.clone()
            },
            "learningRate: got inf;",
        ),
        (
            TsneOptions {
                max_iter: 249,
                ..base.clone()
            },
            "maxIter: got 249; expected at least 250",
        ),
        (
            TsneOptions {
                min_grad_norm: -1.0,
                ..base.clone()
            },
            "minGradNorm: got -1;",
        ),
        (
            TsneOptions {
                angle: 1.5,
                ..base.clone()
            },
            "angle: got 1.5; expected a number in [0, 1]",
        ),
        (
            TsneOptions {
                components: 4,
                method: Method::BarnesHut,
                init: Init::Random,
                ..base.clone()
            },
            "components: got 4; the barnesHut method supports 1..=3",
        ),
        (
            TsneOptions {
                components: 4,
                ..base.clone()
            },
            "'pca' needs components (4) <= min(rows, columns) = 3",
        ),
    ];
    for (o, want) in cases {
        let got = err(v, &o);
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }
}

#[test]
fn rejects_bad_data() {
    let o = options(1.0, Method::Exact);
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(err(empty.view(), &o).contains("empty (0 rows x 3 columns)"));
    let one = Array2::<f32>::zeros((1, 3));
    assert!(err(one.view(), &o).contains("it has 1 row; t-SNE needs at least 2 rows"));
    let mut nan = groups(10, 3, 2);
    nan[[4, 1]] = f32::NAN;
    let e = Tsne::new(nan.view(), &o).unwrap_err();
    assert!(matches!(e, Error::NonFinite { index: 13, .. }), "{e}");
    let e = Tsne::from_slice(&[1.0; 10], 4, 3, &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t-SNE data has 10 values, expected 12 (4 rows x 3 columns)"),
        "{e}"
    );
    let same = Array2::<f32>::ones((6, 2));
    assert!(
        err(same.view(), &o).contains("identical"),
        "{}",
        err(same.view(), &o)
    );
    // All rows identical is fine with a random start: every affinity is equal.
    let random = TsneOptions {
        init: Init::Random,
        max_iter: 250,
        ..o.clone()
    };
    assert!(Tsne::new(same.view(), &random).is_ok());
}

#[test]
fn names_parse_and_unknown_names_list_the_accepted_ones() {
    let e = "barneshut".parse::<Method>().unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown t-SNE method 'barneshut'; expected one of: auto, exact, barnesHut"
    );
    let e = "spectral".parse::<Init>().unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown t-SNE init 'spectral'; expected one of: pca, random"
    );
    let o: TsneOptions =
        serde_json::from_str(r#"{"perplexity": 10, "method": "barnesHut", "learningRate": 200}"#)
            .unwrap();
    assert_eq!(
        (o.perplexity, o.method, o.learning_rate),
        (10.0, Method::BarnesHut, Some(200.0))
    );
    assert_eq!(o.max_iter, 1000);
    assert!(serde_json::from_str::<TsneOptions>(r#"{"nIter": 500}"#).is_err());
    assert!(serde_json::from_str::<TsneOptions>(r#"{"method": "fast"}"#).is_err());
}

#[test]
fn auto_method_and_learning_rate_follow_the_documented_rules() {
    assert_eq!(Method::Auto.resolve(AUTO_EXACT_MAX_ROWS, 2), Method::Exact);
    assert_eq!(
        Method::Auto.resolve(AUTO_EXACT_MAX_ROWS + 1, 2),
        Method::BarnesHut
    );
    assert_eq!(Method::Auto.resolve(5000, 4), Method::Exact);
    assert_eq!(Method::BarnesHut.resolve(10, 2), Method::BarnesHut);
    assert_eq!(neighbour_count(1000, 30.0), 91);
    assert_eq!(neighbour_count(50, 30.0), 49);
    assert_eq!(neighbour_count(100, 2.5), 8);
    let data = groups(40, 3, 2);
    let t = Tsne::new(data.view(), &options(5.0, Method::Auto)).unwrap();
    assert_eq!(t.method(), Method::Exact);
    assert_eq!(t.learning_rate(), 50.0);
    let o = TsneOptions {
        early_exaggeration: 1.0,
        ..options(5.0, Method::Auto)
    };
    // max(40 / 1 / 4, 50) is still 50; a fixed rate is used as given.
    assert_eq!(Tsne::new(data.view(), &o).unwrap().learning_rate(), 50.0);
    let o = TsneOptions {
        learning_rate: Some(12.5),
        ..o
    };
    assert_eq!(Tsne::new(data.view(), &o).unwrap().learning_rate(), 12.5);
}

#[test]
fn initial_embeddings_have_the_documented_scale() {
    let data = groups(50, 4, 3);
    let t = Tsne::new(data.view(), &options(5.0, Method::Exact)).unwrap();
    let y = t.embedding();
    let first: Vec<f64> = y.column(0).iter().map(|&v| v as f64).collect();
    let mean = first.iter().sum::<f64>() / 50.0;
    let std = (first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 50.0).sqrt();
    assert!((std - 1e-4).abs() < 1e-9, "{std}");
    assert!(mean.abs() < 1e-9, "PCA scores are centred: {mean}");

    let random = |seed| {
        let o = TsneOptions {
            init: Init::Random,
            seed,
            ..options(5.0, Method::Exact)
        };
        Tsne::new(data.view(), &o).unwrap().embedding()
    };
    let (a, b, c) = (random(3), random(3), random(4));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let values: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    let std = (values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64).sqrt();
    assert!(
        (std - 1e-4).abs() < 2.5e-5,
        "std of 100 normals * 1e-4: {std}"
    );
}

/// KL divergence and gradient of `y` with P = `joint` (condensed), through the exact code.
fn exact_kl_and_grad(joint: &[f32], y: &[f64], n: usize, dims: usize) -> (f64, Vec<f64>) {
    let mut grad = vec![0.0; n * dims];
    let mut scratch = vec![0.0; n * dims];
    let dof = dims.saturating_sub(1).max(1) as f64;
    let kl = exact_gradient(joint, 1.0, y, n, dims, dof, &mut grad, &mut scratch, true).unwrap();
    (kl, grad)
}

fn test_joint(n: usize) -> Vec<f32> {
    let raw: Vec<f64> = (0..n * (n - 1) / 2)
        .map(|k| 0.1 + ((k * 37) % 17) as f64)
        .collect();
    let total = 2.0 * raw.iter().sum::<f64>();
    raw.iter().map(|v| (v / total) as f32).collect()
}

#[test]
fn exact_gradient_is_the_derivative_of_the_kl_divergence() {
    let n = 9;
    let joint = test_joint(n);
    for dims in [1, 2, 3, 5] {
        let y: Vec<f64> = (0..n * dims)
            .map(|k| ((k * 29) % 13) as f64 * 0.3 - 1.5)
            .collect();
        let (_, grad) = exact_kl_and_grad(&joint, &y, n, dims);
        for k in 0..n * dims {
            let h = 1e-6;
            let mut plus = y.clone();
            plus[k] += h;
            let mut minus = y.clone();
            minus[k] -= h;
            let numeric = (exact_kl_and_grad(&joint, &plus, n, dims).0
                - exact_kl_and_grad(&joint, &minus, n, dims).0)
                / (2.0 * h);
            assert!(
                (numeric - grad[k]).abs() < 1e-6 + 1e-5 * grad[k].abs(),
                "dims {dims} coordinate {k}: numeric {numeric}, analytic {}",
                grad[k]
            );
        }
    }
}

#[test]
fn barnes_hut_with_angle_zero_equals_the_exact_gradient() {
    let n = 12;
    let joint = test_joint(n);
    // The same P as a CSR matrix holding every pair in both directions.
    let mut csr = Csr {
        indptr: vec![0],
        indices: vec![],
        values: vec![],
    };
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let (a, b) = (i.min(j), i.max(j));
                csr.indices.push(j as u32);
                csr.values
                    .push(joint[affinity::condensed_index(n, a, b)] as f64);
            }
        }
        csr.indptr.push(csr.indices.len());
    }
    for dims in [1, 2, 3] {
        let y: Vec<f64> = (0..n * dims)
            .map(|k| ((k * 31) % 17) as f64 * 0.25 - 2.0)
            .collect();
        let dof = dims.saturating_sub(1).max(1) as f64;
        let mut want = vec![0.0; n * dims];
        let mut scratch = vec![0.0; n * dims];
        let kl = exact_gradient(
            &joint,
            12.0,
            &y,
            n,
            dims,
            dof,
            &mut want,
            &mut scratch,
            true,
        )
        .unwrap();
        let mut got = vec![0.0; n * dims];
        let mut tree = Tree::new();
        let bh = barnes_hut_gradient(
            &csr,
            12.0,
            &y,
            dims,
            dof,
            0.0,
            &mut tree,
            &mut got,
            &mut scratch,
            true,
        )
        .unwrap();
        assert!(
            (kl - bh).abs() < 1e-10 * kl.abs(),
            "dims {dims}: KL {kl} vs {bh}"
        );
        for k in 0..n * dims {
            assert!(
                (want[k] - got[k]).abs() < 1e-12,
                "dims {dims} coordinate {k}: {} vs {}",
                want[k],
                got[k]
            );
        }
    }
}

#[test]
fn schedule_checkpoints_and_stopping_follow_scikit_learn() {
    let data = groups(30, 4, 3);
    let o = TsneOptions {
        max_iter: 400,
        ..options(5.0, Method::Exact)
    };
    let mut t = Tsne::new(data.view(), &o).unwrap();
    let mut checkpoints = Vec::new();
    loop {
        let p = t.step().unwrap();
        assert_eq!(
            p.exaggerating,
            p.iteration < EXPLORATION_ITER && !p.is_finished(),
            "at {}",
            p.iteration
        );
        if p.is_checkpoint() {
            let c = p.checkpoint.unwrap();
            checkpoints.push((c.iteration, c.exaggerated));
            assert!(c.kl_divergence.is_finite() && c.gradient_norm.is_finite());
        }
        if p.is_finished() {
            assert_eq!(p.stop, Some(StopReason::MaxIter));
            break;
        }
    }
    let want: Vec<(usize, bool)> = (1..=8)
        .map(|k| (50 * k, 50 * k <= EXPLORATION_ITER))
        .collect();
    assert_eq!(checkpoints, want);
    let r = t.result();
    assert_eq!(r.iterations, 400);
    assert_eq!(
        r.kl_divergence,
        t.progress().checkpoint.unwrap().kl_divergence
    );
    // A finished run does not move.
    assert_eq!(t.step().unwrap().iteration, 400);

    // A huge min_grad_norm ends the first phase at its first check (i = 49); the second
    // phase starts at 50 and ends at its first check (i = 99), as in scikit-learn.
    let o = TsneOptions {
        min_grad_norm: 1e6,
        ..o
    };
    let r = tsne(data.view(), &o, &mut |_| true).unwrap();
    assert_eq!((r.iterations, r.stop), (100, StopReason::GradientNorm));

    // A callback returning false at the first checkpoint cancels there.
    let mut calls = Vec::new();
    let r = tsne(data.view(), &options(5.0, Method::BarnesHut), &mut |p| {
        calls.push(p.iteration);
        false
    })
    .unwrap();
    assert_eq!(calls, vec![50]);
    assert_eq!((r.iterations, r.stop), (50, StopReason::Cancelled));
    assert!(r.kl_divergence.is_finite() && r.kl_divergence > 0.0);
    assert_eq!(r.method, Method::BarnesHut);

    // run() stops at the budget and at the end.
    let mut t = Tsne::new(
        data.view(),
        &TsneOptions {
            max_iter: 250,
            ..options(5.0, Method::Exact)
        },
    )
    .unwrap();
    assert_eq!(t.run(120).unwrap().iteration, 120);
    let p = t.run(1000).unwrap();
    assert_eq!((p.iteration, p.stop), (250, Some(StopReason::MaxIter)));
    assert!(t.result().kl_divergence > 0.0);
}

#[test]
fn a_diverging_run_fails_with_the_iteration() {
    // A learning rate of 1e300 throws the points beyond the f32 range in the first step.
    let data = groups(30, 4, 3);
    for method in [Method::Exact, Method::BarnesHut] {
        let o = TsneOptions {
            learning_rate: Some(1e300),
            ..options(5.0, method)
        };
        let e = tsne(data.view(), &o, &mut |_| true)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "invalid t-SNE optimisation: the embedding diverged at iteration 1: row "
            ) && e.ends_with("lower the learning rate, now 1e300)"),
            "{method}: {e}"
        );
        let mut t = Tsne::new(data.view(), &o).unwrap();
        assert!(t.step().is_err());
        assert!(t.is_finished(), "{method}: a failed step ends the run");
    }
}

/// Fraction of rows whose nearest other row in `y` has the same `label`.
fn nearest_neighbour_agreement(y: &Array2<f32>, label: impl Fn(usize) -> usize) -> f64 {
    let n = y.nrows();
    let hits = (0..n)
        .filter(|&i| {
            let d = |j: usize| {
                y.row(i)
                    .iter()
                    .zip(y.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
            };
            let nearest = (0..n)
                .filter(|&j| j != i)
                .min_by(|&p, &q| d(p).total_cmp(&d(q)))
                .unwrap();
            label(nearest) == label(i)
        })
        .count();
    hits as f64 / n as f64
}

#[test]
fn one_three_and_four_components_separate_groups() {
    let data = blobs(40, 4, 2, 7);
    for (components, method) in [
        (1, Method::Exact),
        (1, Method::BarnesHut),
        (3, Method::BarnesHut),
        (3, Method::Exact),
        (4, Method::Exact),
    ] {
        let o = TsneOptions {
            components,
            ..options(5.0, method)
        };
        let r = tsne(data.view(), &o, &mut |_| true).unwrap();
        assert_eq!(r.embedding.dim(), (40, components));
        assert!(r.kl_divergence.is_finite());
        let agreement = nearest_neighbour_agreement(&r.embedding, |i| i % 2);
        // On a line points cannot pass each other, so a group may end up split in pieces.
        let want = if components == 1 { 0.75 } else { 1.0 };
        assert!(
            agreement >= want,
            "{components} components, {method}: {agreement}"
        );
        // With the true gradient for α = components - 1 > 1 (not scikit-learn's, which reaches
        // 0.86 for 3-D Barnes-Hut and 0.57 for 4-D exact on these blobs) the map stays faithful.
        if components > 1 {
            let t = trustworthiness(data.view(), r.embedding.view(), 5).unwrap();
            assert!(
                t > 0.95,
                "{components} components, {method}: trustworthiness {t}"
            );
        }
    }
}

#[test]
fn two_rows_are_enough() {
    let data = array![[0.0f32, 1.0], [2.0, 3.0]];
    for method in [Method::Exact, Method::BarnesHut] {
        let r = tsne(data.view(), &options(1.0, method), &mut |_| true).unwrap();
        assert!(r.embedding.iter().all(|v| v.is_finite()), "{method}");
        assert_ne!(r.embedding.row(0), r.embedding.row(1));
    }
}

// ---- scikit-learn internals on tests/fixtures/tsne/small.json ----

fn small() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tsne/small.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn small_data(f: &Value) -> Array2<f32> {
    let (n, d) = (
        f["rows"].as_u64().unwrap() as usize,
        f["cols"].as_u64().unwrap() as usize,
    );
    Array2::from_shape_vec(
        (n, d),
        floats(&f["data"]).iter().map(|&v| v as f32).collect(),
    )
    .unwrap()
}

fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-300),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn exact_affinities_match_scikit_learn() {
    let f = small();
    let data = small_data(&f);
    let perplexity = f["perplexity"].as_f64().unwrap();
    let p = affinity::exact_joint_probabilities(data.view(), perplexity).unwrap();
    let want = floats(&f["p_exact"]);
    assert_eq!(p.len(), want.len());
    for (k, (&g, &w)) in p.iter().zip(&want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 2e-6 * w + 1e-12,
            "p_exact[{k}]: got {g}, want {w}"
        );
    }
}

fn small_sparse(f: &Value) -> Csr {
    let data = small_data(f);
    let perplexity = f["perplexity"].as_f64().unwrap();
    let k = neighbour_count(data.nrows(), perplexity);
    assert_eq!(k, 31);
    affinity::knn_joint_probabilities(data.view(), perplexity, k).unwrap()
}

#[test]
fn sparse_affinities_match_scikit_learn() {
    let f = small();
    let p = small_sparse(&f);
    let rows: Vec<usize> = f["p_nn"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let cols: Vec<u32> = f["p_nn"]["cols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let values = floats(&f["p_nn"]["values"]);
    assert_eq!(p.indices, cols, "same neighbour graph, same column order");
    for (e, (&r, &v)) in rows.iter().zip(&values).enumerate() {
        assert!(
            p.indptr[r] <= e && e < p.indptr[r + 1],
            "entry {e} in row {r}"
        );
        // Far-tail entries (1e-17) carry the rounding of β times a large distance: compare them
        // absolutely.
        let what = format!("p_nn entry {e} ({r}, {})", cols[e]);
        assert!(
            (p.values[e] - v).abs() <= 2e-6 * v + 1e-12,
            "{what}: got {}, want {v}",
            p.values[e]
        );
    }
}

#[test]
fn kl_divergence_and_gradients_match_scikit_learn() {
    let f = small();
    let n = f["rows"].as_u64().unwrap() as usize;
    let y = floats(&f["y"]);
    let joint: Vec<f32> = floats(&f["p_exact"]).iter().map(|&v| v as f32).collect();
    let (kl, grad) = exact_kl_and_grad(&joint, &y, n, 2);
    assert_rel(kl, f["kl_exact"].as_f64().unwrap(), 1e-6, "exact KL");
    let want = floats(&f["grad_exact"]);
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for k in 0..2 * n {
        assert!(
            (grad[k] - want[k]).abs() < 1e-6 * scale,
            "exact grad[{k}]: {} vs {}",
            grad[k],
            want[k]
        );
    }

    let p = small_sparse(&f);
    for (angle, kl_key, grad_key, tol) in [
        (0.0, "kl_bh_angle0", "grad_bh_angle0", 1e-5),
        (0.5, "kl_bh", "grad_bh", 1e-5),
    ] {
        let mut grad = vec![0.0; 2 * n];
        let mut scratch = vec![0.0; 2 * n];
        let kl = barnes_hut_gradient(
            &p,
            1.0,
            &y,
            2,
            1.0,
            angle,
            &mut Tree::new(),
            &mut grad,
            &mut scratch,
            true,
        )
        .unwrap();
        // scikit-learn computes the Barnes-Hut terms in f32.
        assert_rel(kl, f[kl_key].as_f64().unwrap(), tol, kl_key);
        let want = floats(&f[grad_key]);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for k in 0..2 * n {
            assert!(
                (grad[k] - want[k]).abs() < tol * scale,
                "{grad_key}[{k}]: {} vs {}",
                grad[k],
                want[k]
            );
        }
    }
}
