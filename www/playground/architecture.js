// The network's architecture: the hidden-layer editor (add or remove a layer, units and activation
// per layer) and the nnlens JSON document of the model it describes (README.md, "The nnlens JSON
// model format"): dense layers on the task's inputs, then the output layer the loss needs. The
// document's `seed` fixes the initialisation, so the same document is the same starting network.
import { ACTIVATIONS, MAX_LAYERS, MAX_UNITS } from "./settings.js";

/**
 * The output layer and how the plane reads it for `loss` on a dataset of `kind` with `classes`:
 * cross-entropy has one logit per class (read as the probability of class 1 minus that of class 0),
 * binary cross-entropy one sigmoid unit (read as 2p − 1), squared error one linear unit (its
 * value; classes as targets −1 and +1).
 */
export function outputFor(loss, kind, classes) {
  if (kind === "regression" || loss === "mse") return { layer: { type: "dense", units: 1 }, readout: "value" };
  if (loss === "bce") return { layer: { type: "dense", units: 1, activation: "sigmoid" }, readout: "probability" };
  return { layer: { type: "dense", units: classes }, readout: classes === 2 ? "softmax2" : "value" };
}

/** The layers holding the activated output of every dense layer but the last, from
 * `Model.layers()`: the dense layer, or the last of the parameterless layers (its activation)
 * that follow it before the next layer with parameters. */
export function hiddenOutputs(layers) {
  const outputs = [];
  layers.forEach((layer, i) => {
    if (layer.op !== "dense") return;
    let last = layer.name;
    for (let j = i + 1; j < layers.length && layers[j].params === 0; j++) last = layers[j].name;
    outputs.push(last);
  });
  return outputs.slice(0, -1);
}

/** The nnlens JSON document (text) of `hidden` layers on `inputs` values per sample, seeded. */
export function modelDocument({ inputShape, hidden, output, seed }) {
  const layers = hidden.map(({ units, activation }) => ({ type: "dense", units, ...(activation === "linear" ? {} : { activation }) }));
  return JSON.stringify({ format: "nnlens", version: 1, input: inputShape, seed, layers: [...layers, output] });
}

/**
 * Wires the editor in `container` and the add and remove buttons; `onChange(layers)` is called
 * with the new hidden layers after each edit. Returns `{ show(layers) }`.
 */
export function setupArchitectureEditor({ container, add, remove, onChange }) {
  let layers = [];
  const changed = () => {
    show(layers);
    onChange(layers.map((l) => ({ ...l })));
  };
  function show(next) {
    layers = next.map((l) => ({ ...l }));
    // A row edits its layer through its index: a row's events may come after a newer render.
    const edit = (index, patch) => {
      layers[index] = { ...layers[index], ...patch };
      changed();
    };
    container.replaceChildren(...layers.map((layer, i) => layerRow(layer, i, (patch) => edit(i, patch))));
    add.disabled = layers.length >= MAX_LAYERS;
    remove.disabled = layers.length === 0;
  }
  add.addEventListener("click", () => {
    layers.push({ ...(layers.at(-1) ?? { units: 4, activation: "tanh" }) });
    changed();
  });
  remove.addEventListener("click", () => {
    layers.pop();
    changed();
  });
  return { show };
}

/** The editor's row of hidden layer `index`; `edit(patch)` changes its fields. */
function layerRow(layer, index, edit) {
  const row = document.createElement("div");
  row.className = "layer-row";
  const title = document.createElement("span");
  title.textContent = `Hidden layer ${index + 1}`;
  const unitsId = `layer-${index}-units`;
  const unitsLabel = document.createElement("label");
  unitsLabel.htmlFor = unitsId;
  unitsLabel.className = "muted";
  unitsLabel.textContent = "units";
  const units = Object.assign(document.createElement("input"), { type: "number", id: unitsId, min: "1", max: String(MAX_UNITS), value: String(layer.units) });
  units.addEventListener("change", () => {
    const value = Number.parseInt(units.value, 10);
    edit({ units: Number.isFinite(value) ? Math.min(Math.max(value, 1), MAX_UNITS) : layer.units });
  });
  const activation = document.createElement("select");
  activation.id = `layer-${index}-activation`;
  activation.setAttribute("aria-label", `Activation of hidden layer ${index + 1}`);
  activation.append(...ACTIVATIONS.map((name) => new Option(name, name)));
  activation.value = layer.activation;
  activation.addEventListener("change", () => {
    edit({ activation: activation.value });
  });
  row.append(title, unitsLabel, units, activation);
  return row;
}
