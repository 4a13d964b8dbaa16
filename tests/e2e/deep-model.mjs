// A deep, branched nnlens JSON model for the page tests (weights from the seed): a stem, `blocks`
// residual blocks "layer<s>.<b>" (conv, conv, add of the block's input, relu; the first block of
// each stage has a 1×1 downsample branch), one Inception-style block "mixed.0" (three branches
// concatenated), global pooling and a 10-way head: 12 blocks make 73 layers, 37 blocks 198.
export function deepModel(blocks) {
  const layers = [{ type: "conv2d", name: "stem", filters: 8, kernel: 3, padding: 1, activation: "relu" }];
  let previous = "stem.relu";
  const mixed = [
    { type: "conv2d", name: "mixed.0.branch1", filters: 4, kernel: 1, inputs: [previous] },
    { type: "conv2d", name: "mixed.0.branch3", filters: 4, kernel: 3, padding: 1, inputs: [previous] },
    { type: "maxPool2d", name: "mixed.0.pool", size: 3, stride: 1, padding: 1, inputs: [previous] },
    { type: "concat", name: "mixed.0.concat", axis: 0, inputs: ["mixed.0.branch1", "mixed.0.branch3", "mixed.0.pool"] },
    { type: "conv2d", name: "mixed.0.project", filters: 8, kernel: 1 },
  ];
  layers.push(...mixed);
  previous = "mixed.0.project";
  for (let b = 0; b < blocks; b++) {
    const stage = 1 + Math.floor((b * 4) / blocks);
    const name = `layer${stage}.${b}`;
    const first = b === 0 || Math.floor(((b - 1) * 4) / blocks) + 1 !== stage;
    layers.push(
      { type: "conv2d", name: `${name}.conv1`, filters: 8, kernel: 3, padding: 1, activation: "relu", inputs: [previous] },
      { type: "conv2d", name: `${name}.conv2`, filters: 8, kernel: 3, padding: 1 },
    );
    let shortcut = previous;
    if (first) {
      layers.push({ type: "conv2d", name: `${name}.downsample`, filters: 8, kernel: 1, inputs: [previous] });
      shortcut = `${name}.downsample`;
    }
    layers.push(
      { type: "add", name: `${name}.add`, inputs: [`${name}.conv2`, shortcut] },
      { type: "activation", name: `${name}.relu`, fn: "relu" },
    );
    previous = `${name}.relu`;
  }
  layers.push(
    { type: "reduceMean", name: "pool", axes: [1, 2], keepDims: false },
    { type: "dense", name: "fc", units: 10 },
  );
  return { format: "nnlens", version: 1, input: [3, 16, 16], seed: 3, layers };
}
