// The benchmark's TF.js peer of the small text classifier of tests/fixtures/transformers
// (`nn.Embedding(50, 32)` -> one post-norm `nn.TransformerEncoderLayer` (4 heads, ReLU
// feed-forward of 64, batch first) -> mean over tokens -> `nn.Linear(32, 4)`), built from its
// PyTorch `state_dict` (text.json `weights`), and its token Integrated Gradients as Captum's
// `LayerIntegratedGradients` on the embedding: the path interpolates the embeddings, one batch
// through one tf.grad.

const HEADS = 4;

/** The model as TF.js functions of the embeddings `[batch, tokens, 32]`. */
export function tfText(tf, weights) {
  const w = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, tf.tensor(v.data, v.shape)]));
  const linear = (x, name) => tf.add(tf.matMul(x, w[`${name}.weight`], false, true), w[`${name}.bias`]);
  const layerNorm = (x, name) => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
    return tf.add(tf.mul(normed, w[`${name}.weight`]), w[`${name}.bias`]);
  };
  const attention = (x) => {
    const [batch, tokens, dim] = x.shape;
    const d = dim / HEADS;
    const qkv = tf.add(tf.matMul(x, w["encoder.self_attn.in_proj_weight"], false, true), w["encoder.self_attn.in_proj_bias"]);
    const heads = (part) =>
      tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, part * dim], [batch, tokens, dim]), [batch, tokens, HEADS, d]), [0, 2, 1, 3]);
    const scores = tf.div(tf.matMul(heads(0), heads(1), false, true), Math.sqrt(d));
    const mixed = tf.matMul(tf.softmax(scores), heads(2));
    return linear(tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch, tokens, dim]), "encoder.self_attn.out_proj");
  };
  const logits = (embedded) => {
    const x = layerNorm(tf.add(embedded, attention(embedded)), "encoder.norm1");
    const ff = linear(tf.relu(linear(x, "encoder.linear1")), "encoder.linear2");
    const y = layerNorm(tf.add(x, ff), "encoder.norm2");
    return linear(tf.mean(y, 1), "head");
  };
  const embed = (ids) => tf.gather(w["embedding.weight"], tf.tensor(ids, [1, ids.length], "int32"));
  return { logits, embed };
}

/** Token Integrated Gradients of logit `target`: per-token scores (the sum over the embedding). */
export function tfTokenIntegratedGradients(tf, model, target, alphas, weights, baselineToken = 0) {
  const steps = alphas.length;
  const grad = tf.grad((path) => tf.sum(tf.slice(model.logits(path), [0, target], [steps, 1])));
  const alphaT = tf.tensor(alphas, [steps, 1, 1]);
  const weightT = tf.tensor(weights, [steps, 1, 1]);
  return (ids) =>
    tf.tidy(() => {
      const e = model.embed(ids);
      const base = model.embed(new Int32Array(ids.length).fill(baselineToken));
      const diff = tf.sub(e, base);
      const g = grad(tf.add(base, tf.mul(alphaT, diff)));
      return tf.sum(tf.mul(tf.sum(tf.mul(g, weightT), 0, true), diff), -1).dataSync();
    });
}
