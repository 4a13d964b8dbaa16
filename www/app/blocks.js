// Blocks of a deep model, for the architecture diagram (collapsible boxes) and the layer
// navigator (groups): the module a layer belongs to, read from its name. Exporters name layers by
// their module path: torch.onnx's legacy exporter "/layer1/layer1.0/conv1/Conv", nnlens JSON and
// PyTorch state names "layer1.0.conv1". A block is the path up to the first numbered module
// ("layer1/layer1.0", "features/features.3", "layer1.0"), else the top-level module of a path
// three or more deep ("inception3a" of "/inception3a/branch1/conv/Conv"). Models whose names carry
// no path (e.g. the dynamo exporter's "conv2d_3") get runs of RUN layers in execution order.
const RUN = 12;

/** The block of the layer called `name`, or null for a top-level layer. */
export function blockOf(name) {
  const slashed = name.split("/").filter(Boolean);
  const parts = slashed.length > 1 ? slashed : name.split(".");
  const dotted = slashed.length <= 1;
  for (let i = 1; i < parts.length - 1; i++) {
    const last = dotted ? parts[i] : parts[i].split(".").at(-1);
    if (/^\d+$/.test(last)) return parts.slice(0, i + 1).join(dotted ? "." : "/");
  }
  return !dotted && parts.length >= 3 ? parts[0] : null;
}

/**
 * The layers (`{ name }` objects in execution order) in groups: `[{ block, layers }]`, consecutive
 * layers of one block together (a top-level layer is a group of one with `block` null). When no
 * layer has a block, runs of RUN layers, named "layers a–b".
 */
export function groupLayers(layers) {
  const blocks = layers.map((l) => blockOf(l.name));
  if (blocks.every((b) => b === null) && layers.length > RUN) {
    const groups = [];
    for (let i = 0; i < layers.length; i += RUN) {
      const run = layers.slice(i, i + RUN);
      groups.push({ block: `layers ${i + 1}–${i + run.length}`, layers: run });
    }
    return groups;
  }
  const groups = [];
  layers.forEach((layer, i) => {
    const last = groups.at(-1);
    if (blocks[i] !== null && last?.block === blocks[i]) last.layers.push(layer);
    else groups.push({ block: blocks[i], layers: [layer] });
  });
  return groups;
}

/** A long layer name shortened to `max` characters from its end (the end tells the layers apart). */
export function shortName(name, max = 26) {
  return name.length <= max ? name : `…${name.slice(name.length - max + 1)}`;
}
