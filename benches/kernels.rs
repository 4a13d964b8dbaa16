//! Native kernel benchmarks (`cargo bench --bench kernels`, run by `make bench`).
//!
//! Throughput is reported by criterion as "elem/s" where one element is ONE FLOATING-POINT
//! OPERATION (a multiply-add counts 2), so criterion's "Gelem/s" reads as GFLOP/s; the
//! benchmark driver (benches/run.mjs) prints GFLOP/s from these results into BENCHMARKS.md.
//!
//! - `sgemm`: a plain square `C = A B` through ndarray `general_mat_mul` (matrixmultiply, the
//!   sgemm every nnlens kernel uses), single-threaded: the machine's rough attainable peak.
//! - `dense`: the Dense op (`y = x Wᵀ + b`) forward and backward at the benchmark MLP's shapes.
//! - `conv2d`: the Conv2d op (im2col + sgemm) forward and backward at the built-in CNN's shapes
//!   and at a larger 64 -> 64 channel layer, and the forward pass of depthwise layers of
//!   MobileNetV2 and EfficientNet-B0 at 224×224 (`conv/depthwise.rs`) and of a pointwise one.
//! - `elementwise`: ReLU and 2x2 max pooling at the CNN's batch-64 shapes, throughput in BYTES
//!   (read + written) per second: they are memory-bound, and the profiles of the browser
//!   benchmark show them costing as much as the convolutions' sgemm.
//! - `pca`: nnlens PCA of 10,000 x 784 to 50 components (the browser benchmark's PCA row),
//!   covariance-eigendecomposition and randomized solvers. The flop count is that of the
//!   covariance product `XᵀX` (2·n·p²) plus the projection (2·n·p·k) only: the 784 x 784
//!   eigendecomposition is left out, so GFLOP/s here is a lower bound of the work done.
//! - `model`: whole forward passes of the browser benchmark's models natively (flops of their
//!   dense and conv layers), the CNN's input gradient and its Integrated Gradients with 50 steps
//!   (a backward pass counted as twice a forward), for comparison with the wasm numbers.
//!
//! Sample sizes are kept modest (`make bench` runs this on a shared 2-core machine).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::linalg::general_mat_mul;
use ndarray::Array2;
use nnlens::explain::{saliency, Method, Rule, SaliencyOptions};
use nnlens::graph::ops::activation::Activation;
use nnlens::graph::ops::conv::Conv2d;
use nnlens::graph::ops::dense::Dense;
use nnlens::graph::ops::pool::MaxPool2d;
use nnlens::graph::ops::Kernel;
use nnlens::io::json::from_json;
use nnlens::project::pca::{Pca, PcaOptions, Solver};
use nnlens::Tensor;
use std::hint::black_box;
use std::time::Duration;

/// Deterministic pseudo-random values in [-1, 1) (a 64-bit LCG; quality is irrelevant here).
fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Tensor::from_shape_fn(shape, |_| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    })
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g
}

fn sgemm(c: &mut Criterion) {
    let mut g = configure(c, "sgemm");
    for n in [256usize, 512, 1024] {
        let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) % 13) as f32 - 6.0);
        let b = Array2::from_shape_fn((n, n), |(i, j)| ((i * 5 + j * 11) % 17) as f32 - 8.0);
        let mut out = Array2::<f32>::zeros((n, n));
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        g.bench_with_input(BenchmarkId::new("square", n), &n, |bench, _| {
            bench.iter(|| general_mat_mul(1.0, black_box(&a), black_box(&b), 0.0, &mut out))
        });
    }
    g.finish();
}

fn dense(c: &mut Criterion) {
    let mut g = configure(c, "dense");
    for (batch, inp, out) in [
        (1usize, 784usize, 256usize),
        (64, 784, 256),
        (64, 256, 128),
        (256, 1024, 1024),
    ] {
        let op = Dense::new(tensor(&[out, inp], 1), Some(tensor(&[out], 2))).unwrap();
        let x = tensor(&[batch, inp], 3);
        let y = op.forward(&[&x]).unwrap();
        let gy = tensor(&[batch, out], 4);
        let flops = 2 * (batch * inp * out) as u64;
        let label = format!("b{batch}_{inp}x{out}");
        g.throughput(Throughput::Elements(flops));
        g.bench_function(BenchmarkId::new("forward", &label), |b| {
            b.iter(|| op.forward(&[black_box(&x)]).unwrap())
        });
        // Input gradient only (what saliency needs): one sgemm of the same size.
        g.bench_function(BenchmarkId::new("backward_input", &label), |b| {
            b.iter(|| {
                op.backward(&[black_box(&x)], &y, black_box(&gy), false)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn conv2d(c: &mut Criterion) {
    let mut g = configure(c, "conv2d");
    // (batch, in channels, out channels, height = width); all 3x3, stride 1, padding 1.
    for (batch, cin, cout, hw) in [
        (1usize, 1usize, 8usize, 28usize),
        (64, 1, 8, 28),
        (64, 8, 16, 14),
        (8, 64, 64, 32),
    ] {
        let op = Conv2d::new(
            tensor(&[cout, cin, 3, 3], 5),
            Some(tensor(&[cout], 6)),
            [1, 1],
            [1, 1, 1, 1],
            [1, 1],
            1,
        )
        .unwrap();
        let x = tensor(&[batch, cin, hw, hw], 7);
        let y = op.forward(&[&x]).unwrap();
        let gy = tensor(y.shape(), 8);
        let flops = 2 * (batch * cout * hw * hw * cin * 9) as u64;
        let label = format!("b{batch}_{cin}to{cout}_{hw}x{hw}");
        g.throughput(Throughput::Elements(flops));
        g.bench_function(BenchmarkId::new("forward", &label), |b| {
            b.iter(|| op.forward(&[black_box(&x)]).unwrap())
        });
        g.bench_function(BenchmarkId::new("backward_input", &label), |b| {
            b.iter(|| {
                op.backward(&[black_box(&x)], &y, black_box(&gy), false)
                    .unwrap()
            })
        });
    }
    // Depthwise (groups = channels): MobileNetV2's 3×3 layers at 224×224 (stride 1 and 2) and
    // EfficientNet-B0's 5×5 (`conv/depthwise.rs`).
    for (channels, hw, kernel, stride) in [
        (96usize, 112usize, 3usize, 2usize),
        (144, 56, 3, 1),
        (240, 28, 5, 1),
        (672, 14, 5, 2),
    ] {
        let pad = kernel / 2;
        let op = Conv2d::new(
            tensor(&[channels, 1, kernel, kernel], 5),
            Some(tensor(&[channels], 6)),
            [stride, stride],
            [pad; 4],
            [1, 1],
            channels,
        )
        .unwrap();
        let x = tensor(&[1, channels, hw, hw], 7);
        let y = op.forward(&[&x]).unwrap();
        let flops = 2 * (y.len() * kernel * kernel) as u64;
        let label = format!("b1_dw{channels}_{hw}x{hw}_k{kernel}s{stride}");
        g.throughput(Throughput::Elements(flops));
        g.bench_function(BenchmarkId::new("forward", &label), |b| {
            b.iter(|| op.forward(&[black_box(&x)]).unwrap())
        });
    }
    // Pointwise (1×1, stride 1): MobileNetV2's expansion 24 -> 144 at 56×56 (224×224 input),
    // whose products read the input in place.
    let op = Conv2d::new(
        tensor(&[144, 24, 1, 1], 5),
        Some(tensor(&[144], 6)),
        [1, 1],
        [0; 4],
        [1, 1],
        1,
    )
    .unwrap();
    let x = tensor(&[1, 24, 56, 56], 7);
    g.throughput(Throughput::Elements(2 * 144 * 24 * 56 * 56));
    g.bench_function(BenchmarkId::new("forward", "b1_pw24to144_56x56"), |b| {
        b.iter(|| op.forward(&[black_box(&x)]).unwrap())
    });
    g.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut g = configure(c, "elementwise");
    for shape in [[64usize, 8, 28, 28], [64, 16, 14, 14]] {
        let x = tensor(&shape, 10);
        let n = x.len();
        let label = format!("{}x{}x{}x{}", shape[0], shape[1], shape[2], shape[3]);
        g.throughput(Throughput::Bytes((8 * n) as u64));
        g.bench_function(BenchmarkId::new("relu", &label), |b| {
            b.iter(|| Activation::Relu.forward(&[black_box(&x)]).unwrap())
        });
        let pool = MaxPool2d::new([2, 2], [2, 2], [0; 4], false).unwrap();
        g.throughput(Throughput::Bytes((4 * n + n) as u64));
        g.bench_function(BenchmarkId::new("maxpool2x2", &label), |b| {
            b.iter(|| pool.forward(&[black_box(&x)]).unwrap())
        });
    }
    g.finish();
}

fn pca(c: &mut Criterion) {
    let mut g = c.benchmark_group("pca");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(5));
    let (n, p, k) = (10_000usize, 784usize, 50usize);
    // Low-rank structure plus noise, like image data: 60 factors with decaying scale.
    let (factors, scores, noise) = (
        tensor(&[60, p], 12),
        tensor(&[n, 60], 13),
        tensor(&[n, p], 14),
    );
    let (factors, scores, noise) = (
        factors.as_slice().unwrap(),
        scores.as_slice().unwrap(),
        noise.as_slice().unwrap(),
    );
    let mut data = vec![0.0f32; n * p];
    for r in 0..n {
        for f in 0..60 {
            let s = scores[r * 60 + f] / (1.0 + f as f32);
            for j in 0..p {
                data[r * p + j] += s * factors[f * p + j];
            }
        }
        for j in 0..p {
            data[r * p + j] += 0.05 * noise[r * p + j];
        }
    }
    g.throughput(Throughput::Elements((2 * n * p * p + 2 * n * p * k) as u64));
    for (name, solver) in [
        ("covariance_eigh", Solver::CovarianceEigh),
        ("randomized", Solver::Randomized),
    ] {
        let options = PcaOptions {
            components: k,
            solver,
            ..PcaOptions::default()
        };
        g.bench_function(BenchmarkId::new(name, "10000x784_k50"), |b| {
            b.iter(|| Pca::fit_slice(black_box(&data), n, p, &options).unwrap())
        });
    }
    g.finish();
}

/// The browser benchmark's models natively (flop counts of their dense and conv layers).
fn model(c: &mut Criterion) {
    let mut g = configure(c, "model");
    let cnn = from_json(
        &std::fs::read_to_string("www/models/cnn.json").expect("run from the crate root"),
    )
    .unwrap();
    // conv1 1->8 @28x28, conv2 8->16 @14x14, fc1 784->64, fc2 64->10 (multiply-adds x 2).
    let cnn_flops = 2 * (8 * 28 * 28 * 9 + 16 * 14 * 14 * 8 * 9 + 784 * 64 + 64 * 10) as u64;
    for batch in [1usize, 64] {
        let x = tensor(&[batch, 1, 28, 28], 9).mapv(|v| v.abs());
        g.throughput(Throughput::Elements(cnn_flops * batch as u64));
        g.bench_function(BenchmarkId::new("cnn_forward", batch), |b| {
            b.iter(|| cnn.forward(black_box(x.clone())).unwrap())
        });
    }
    let x = tensor(&[1, 1, 28, 28], 9).mapv(|v| v.abs());
    g.throughput(Throughput::Elements(3 * cnn_flops));
    g.bench_function("cnn_input_gradient/1", |b| {
        b.iter(|| {
            let trace = cnn.trace(black_box(x.clone())).unwrap();
            cnn.input_gradient(&trace, 3).unwrap()
        })
    });
    let mlp = from_json(
        r#"{ "format": "nnlens", "version": 1, "input": [784], "seed": 1, "layers": [
              { "type": "dense", "units": 256, "activation": "relu" },
              { "type": "dense", "units": 128, "activation": "relu" },
              { "type": "dense", "units": 10 } ] }"#,
    )
    .unwrap();
    let mlp_flops = 2 * (784 * 256 + 256 * 128 + 128 * 10) as u64;
    for batch in [1usize, 64] {
        let x = tensor(&[batch, 784], 11).mapv(|v| v.abs());
        g.throughput(Throughput::Elements(mlp_flops * batch as u64));
        g.bench_function(BenchmarkId::new("mlp_forward", batch), |b| {
            b.iter(|| mlp.forward(black_box(x.clone())).unwrap())
        });
    }
    // Integrated Gradients, 50 steps (right Riemann rule, zero baseline, explaining the softmax
    // output as the browser row does): one batch of 50 forward + backward passes, plus the
    // forward pass of [x, baseline] for the convergence delta.
    let x = tensor(&[784], 15).mapv(|v| v.abs());
    let x = x.as_slice().unwrap();
    let mut method: Method = "integratedGradients".parse().unwrap();
    if let Method::IntegratedGradients { rule, steps, .. } = &mut method {
        *rule = Rule::RiemannRight;
        *steps = 50;
    }
    let options = SaliencyOptions::new(method, 3);
    g.throughput(Throughput::Elements(52 * cnn_flops + 50 * 2 * cnn_flops));
    g.bench_function("cnn_integrated_gradients/50", |b| {
        b.iter(|| saliency(&cnn, black_box(x), &options).unwrap())
    });
    g.finish();
}

criterion_group!(kernels, sgemm, dense, conv2d, elementwise, pca, model);
criterion_main!(kernels);
