// The benchmark models in TensorFlow.js, built from the same parameters as the nnlens and ONNX
// versions. TF.js is NHWC and stores dense weights [in, out] and conv filters [kh, kw, in, out]:
// the parameters are converted once at set-up, and the first dense layer of the CNN has its
// input features permuted from PyTorch's (c, h, w) flatten order to TF's (h, w, c) order, so that
// every framework computes the same function with its own fastest layout (fused ops: matMul /
// conv2d with bias and ReLU in one kernel). Functional style throughout: tfjs-core without the
// union package registers no chained tensor methods.

/** `{ predict(x: [N, in]) }` for `mlpLayers` (lib/models.js). Call under the target backend. */
export function tfMlp(tf, layers) {
  const params = layers.map((l) => ({
    w: tf.tidy(() => tf.transpose(tf.tensor2d(l.weight, [l.out, l.in]))),
    b: tf.tensor1d(l.bias),
    relu: l.relu,
  }));
  return {
    inputShape: (batch) => [batch, layers[0].in],
    predict(x) {
      let h = x;
      for (const p of params) {
        h = tf.fused.matMul({ a: h, b: p.w, bias: p.b, activation: p.relu ? "relu" : "linear" });
      }
      return h;
    },
    dispose: () => params.forEach((p) => tf.dispose([p.w, p.b])),
  };
}

/**
 * `{ predict(x: [N, 28, 28, 1]), conv1(x) }` for the built-in CNN's parameters (`cnnParams`):
 * conv 8 3x3 pad 1 + ReLU, maxpool 2, conv 16 3x3 pad 1 + ReLU, maxpool 2, flatten, dense 64 +
 * ReLU, dense 10, softmax.
 */
export function tfCnn(tf, p) {
  const filter = (w) => tf.tidy(() => tf.transpose(tf.tensor4d(w.weight, w.wshape), [2, 3, 1, 0]));
  const [c2, h2, w2] = [p.conv2.wshape[0], 7, 7];
  const units = p.fc1.bias.length;
  const permuted = new Float32Array(p.fc1.weight.length);
  for (let o = 0; o < units; o++) {
    for (let c = 0; c < c2; c++) {
      for (let y = 0; y < h2; y++) {
        for (let x = 0; x < w2; x++) {
          const torchIndex = c * h2 * w2 + y * w2 + x;
          const tfIndex = (y * w2 + x) * c2 + c;
          permuted[o * c2 * h2 * w2 + tfIndex] = p.fc1.weight[o * c2 * h2 * w2 + torchIndex];
        }
      }
    }
  }
  const w = {
    conv1: filter(p.conv1),
    b1: tf.tensor1d(p.conv1.bias),
    conv2: filter(p.conv2),
    b2: tf.tensor1d(p.conv2.bias),
    fc1: tf.tidy(() => tf.transpose(tf.tensor2d(permuted, [units, c2 * h2 * w2]))),
    b3: tf.tensor1d(p.fc1.bias),
    fc2: tf.tidy(() => tf.transpose(tf.tensor2d(p.fc2.weight, [p.fc2.bias.length, units]))),
    b4: tf.tensor1d(p.fc2.bias),
  };
  const conv1 = (x) =>
    tf.fused.conv2d({ x, filter: w.conv1, strides: 1, pad: "same", bias: w.b1, activation: "relu" });
  return {
    inputShape: (batch) => [batch, 28, 28, 1],
    conv1,
    predict(x) {
      let h = tf.maxPool(conv1(x), 2, 2, "valid");
      h = tf.fused.conv2d({ x: h, filter: w.conv2, strides: 1, pad: "same", bias: w.b2, activation: "relu" });
      h = tf.maxPool(h, 2, 2, "valid");
      h = tf.reshape(h, [h.shape[0], -1]);
      h = tf.fused.matMul({ a: h, b: w.fc1, bias: w.b3, activation: "relu" });
      h = tf.fused.matMul({ a: h, b: w.fc2, bias: w.b4 });
      return tf.softmax(h);
    },
    dispose: () => tf.dispose(Object.values(w)),
  };
}

/** `d predict(x)[0, target] / d x` as a function of a Float32Array (one sample). */
export function tfGradient(tf, model, target) {
  const grad = tf.grad((x) => tf.sum(tf.slice(model.predict(x), [0, target], [1, 1])));
  return (input) =>
    tf.tidy(() => grad(tf.tensor(input, model.inputShape(1))).dataSync());
}

/**
 * Integrated gradients of `target` from a zero baseline, the way one writes it in TF.js: the
 * `alphas.length` path points as one batch, one `tf.grad` of the summed target outputs, the
 * gradients weighted by `weights` and summed, times `(x - baseline)`.
 */
export function tfIntegratedGradients(tf, model, target, alphas, weights) {
  const steps = alphas.length;
  const grad = tf.grad((xs) => tf.sum(tf.slice(model.predict(xs), [0, target], [steps, 1])));
  const alphaT = tf.tensor(alphas, [steps, ...model.inputShape(1).slice(1).map(() => 1)]);
  const weightT = tf.tensor(weights, [steps, ...model.inputShape(1).slice(1).map(() => 1)]);
  return (input) =>
    tf.tidy(() => {
      const x = tf.tensor(input, model.inputShape(1));
      const xs = tf.mul(alphaT, x); // baseline 0: x' + a (x - x') = a x
      const g = grad(xs);
      return tf.mul(tf.sum(tf.mul(g, weightT), 0, true), x).dataSync();
    });
}
