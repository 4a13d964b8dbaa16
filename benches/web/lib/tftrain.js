// Training in TensorFlow.js as the training rows compare it with nnlens's `Trainer`: a chain of
// dense layers (weights copied from nnlens, PyTorch's [out, in] transposed to TF's [in, out]),
// plain SGD (`tf.train.sgd`, no momentum) on the mean softmax cross-entropy
// (`tf.losses.softmaxCrossEntropy` on the logits, one-hot float labels), one step being
// `optimizer.minimize(loss, true, variables)` with the cost read back (nnlens returns each step's
// loss too).
//
// Why this form: it is the fastest of TF.js's idiomatic ones that we measured. Each layer is
// `tf.matMul`, `tf.add` of the bias, then the activation, which is what TF.js runs for a
// `tf.fused.matMul` with ReLU while it records gradients (`shouldFuse` in tfjs-core). A
// `tf.fused.matMul` with the bias and no activation stays one fused kernel with its own gradient
// (the Layers API's Dense does that for a linear layer), and with it on every layer a step of the
// digits MLP took 1.4x to 2x as long on the wasm backend. The Layers API's `model.trainOnBatch`
// (the same layers, `tf.train.sgd(0.01)`, `tf.losses.softmaxCrossEntropy` as its loss) was no
// faster than `minimize`: 3.19 against 3.17 ms per step on the digits MLP at batch 32, 0.52
// against 0.49 ms on 2-8-8-2 at batch 10 (wasm backend, Chromium, best of 21 interleaved rounds
// on a loaded machine: equal within noise); it is also asynchronous and needs a compiled model,
// so the rows use `minimize`.

/** The activations the chain may use after a dense layer (undefined: none). */
const ACTIVATIONS = new Set(["relu", "tanh"]);

/**
 * A TF.js trainer for `layers` ([{ in, out, activation }], activation "relu", "tanh" or
 * undefined) with `classes` outputs, starting from `flat` (nnlens `Trainer.parameters()`: each
 * layer's weight [out, in] then its bias), SGD with `learningRate`, minibatches of `batchSize`.
 * Call under the backend it will run on. Returns:
 * - `step(inputs, labels)`: one step on a batch given from JS (Float32Array, Int32Array), its
 *   loss before the update;
 * - `setData(inputs, labels)` and `train(k)`: the training set as tensors in the backend, then
 *   `k` steps on its minibatches (a new random order each epoch, the last minibatch of an epoch
 *   holds the samples left over, as nnlens), the losses as a Float32Array;
 * - `dispose()`.
 */
export function tfTrainer(tf, { layers, classes, flat, learningRate, batchSize }) {
  let offset = 0;
  const take = (n) => flat.subarray(offset, (offset += n));
  const params = layers.map((l) => {
    if (l.activation !== undefined && !ACTIVATIONS.has(l.activation)) {
      throw new Error(`tfTrainer: activation ${l.activation} is not one of ${[...ACTIVATIONS]}`);
    }
    const [weight, bias] = tf.tidy(() => [
      tf.transpose(tf.tensor2d(take(l.out * l.in), [l.out, l.in])),
      tf.tensor1d(take(l.out)),
    ]);
    const p = { w: tf.variable(weight), b: tf.variable(bias), activation: l.activation };
    tf.dispose([weight, bias]); // the variables keep the data
    return p;
  });
  if (offset !== flat.length) {
    throw new Error(`tfTrainer: the layers take ${offset} parameters, nnlens has ${flat.length}`);
  }
  const variables = params.flatMap((p) => [p.w, p.b]);
  const inputSize = layers[0].in;
  const optimizer = tf.train.sgd(learningRate);

  const logits = (x) => {
    let h = x;
    for (const p of params) {
      h = tf.add(tf.matMul(h, p.w), p.b);
      if (p.activation) h = tf[p.activation](h);
    }
    return h;
  };
  // One-hot as int32, then cast: the wasm backend's OneHot kernel asked for float32 writes the
  // integer bit patterns (1 reads as 1.4e-45) in TF.js 4.22, which the loss check caught.
  const oneHot = (labels) => tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), classes), "float32"));
  const stepOn = (x, y) => {
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, logits(x)), true, variables);
    const loss = cost.dataSync()[0];
    cost.dispose();
    return loss;
  };

  let data = null;
  return {
    step(inputs, labels) {
      const x = tf.tensor2d(inputs, [labels.length, inputSize]);
      const y = oneHot(labels);
      const loss = stepOn(x, y);
      tf.dispose([x, y]);
      return loss;
    },
    setData(inputs, labels) {
      if (data) tf.dispose([data.x, data.y]);
      const n = labels.length;
      data = {
        x: tf.tensor2d(inputs, [n, inputSize]),
        y: oneHot(labels),
        order: Int32Array.from({ length: n }, (_, i) => i),
        next: n,
      };
    },
    train(k) {
      const losses = new Float32Array(k);
      for (let s = 0; s < k; s++) {
        if (data.next >= data.order.length) {
          tf.util.shuffle(data.order);
          data.next = 0;
        }
        const picked = data.order.subarray(data.next, Math.min(data.next + batchSize, data.order.length));
        data.next += picked.length;
        const [x, y] = tf.tidy(() => {
          const indices = tf.tensor1d(picked, "int32");
          return [tf.gather(data.x, indices), tf.gather(data.y, indices)];
        });
        losses[s] = stepOn(x, y);
        tf.dispose([x, y]);
      }
      return losses;
    },
    dispose() {
      tf.dispose(variables);
      if (data) tf.dispose([data.x, data.y]);
      optimizer.dispose();
    },
  };
}
