//! Times nnlens's t-SNE natively: affinities (Tsne::new) and 1,000 iterations, exact and
//! Barnes-Hut, on seeded gaussian-blob data of a few sizes, with trustworthiness.
//!
//!     cargo run --release --example tsne_bench [exact|barnes_hut] [ROWSxCOLS ...]
//!
//! e.g. `... tsne_bench barnes_hut 5000x50`. Without sizes it times 1000x64 and 5000x50; without
//! a method both (exact only up to 2,000 rows). Wall-clock times: on a shared machine compare
//! with the user CPU time of `time`.

use ndarray::Array2;
use nnlens::project::tsne::{trustworthiness, Method, Tsne, TsneOptions};
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// `rows` points around 10 centres in `cols` dimensions (seeded, Box-Muller normals).
fn blobs(rows: usize, cols: usize) -> Array2<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut normal = move || {
        let u: f64 = 1.0 - rng.random::<f64>();
        let v: f64 = rng.random::<f64>();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let centres: Vec<f64> = (0..10 * cols).map(|_| 4.0 * normal()).collect();
    Array2::from_shape_fn((rows, cols), |(i, c)| {
        (centres[(i % 10) * cols + c] + normal()) as f32
    })
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let methods: Vec<Method> = match args.first().map(|a| a.parse::<Method>()) {
        Some(Ok(method)) => {
            args.remove(0);
            vec![method]
        }
        _ => vec![Method::Exact, Method::BarnesHut],
    };
    let sizes: Vec<(usize, usize)> = {
        if args.is_empty() {
            vec![(1000, 64), (5000, 50)]
        } else {
            args.iter()
                .map(|a| {
                    let (r, c) = a.split_once('x').expect("sizes look like 1000x64");
                    (r.parse().expect("rows"), c.parse().expect("cols"))
                })
                .collect()
        }
    };
    for (rows, cols) in sizes {
        let data = blobs(rows, cols);
        for &method in &methods {
            if method == Method::Exact && rows > 2000 && methods.len() > 1 {
                continue;
            }
            let options = TsneOptions {
                method,
                ..TsneOptions::default()
            };
            let start = Instant::now();
            let mut t = Tsne::new(data.view(), &options).expect("valid input");
            let setup = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let progress = t.run(usize::MAX).expect("bounded run");
            let optimise = start.elapsed().as_secs_f64();
            let result = t.result();
            let trust = if rows <= 5000 {
                format!(
                    "{:.4}",
                    trustworthiness(data.view(), result.embedding.view(), 5).expect("valid")
                )
            } else {
                "-".to_string()
            };
            println!(
                "{rows} x {cols} {method}: affinities + init {setup:.2} s, {} iterations {optimise:.2} s \
                 ({:.2} ms/iteration), KL {:.4}, trustworthiness {trust}",
                progress.iteration,
                1e3 * optimise / progress.iteration as f64,
                result.kl_divergence
            );
        }
    }
}
