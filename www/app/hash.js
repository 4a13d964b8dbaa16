// The page state in the URL hash, so any view can be shared as a link; the only module that reads
// or writes the hash. The state has one section per panel, each given to the panel's setup and
// returned by its `hashState()`:
//   { model, colormap, sample, input, preprocess: { name: text }, weights: { layer },
//     projection: { layer }, saliency: { method, target, options: { name: text } },
//     training: { name: text } }
// Keys in the hash: model, colormap, pre.<setting>, weights, project, method, target,
// opt.<option>, sample, train.<setting>, and input (a drawn or uploaded input as base64 of its 28x28 bytes, in place of
// sample). Absent keys leave their fields undefined (panel sections are always objects).

/** The state saved in the hash. */
export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const text = (key) => params.get(key) ?? undefined;
  const count = (key) => (params.has(key) ? Math.max(0, Number.parseInt(params.get(key), 10) || 0) : undefined);
  const prefixed = (prefix) => Object.fromEntries([...params]
    .filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]));
  return {
    model: text("model"), colormap: text("colormap"), sample: count("sample"), input: readInput(text("input")),
    preprocess: prefixed("pre."),
    weights: { layer: text("weights") },
    projection: { layer: text("project") },
    saliency: { method: text("method"), target: count("target"), options: prefixed("opt.") },
    training: prefixed("train."),
  };
}

/** Replaces the hash with `state` (as readHash returns it; undefined and null fields are left out). */
export function writeHash({ model, colormap, sample, input, preprocess, weights, projection, saliency, training }) {
  const entries = {
    model, colormap, ...withPrefix("pre.", preprocess), weights: weights.layer, project: projection.layer,
    method: saliency.method, target: saliency.target, ...withPrefix("opt.", saliency.options),
    sample: input ? undefined : sample, ...withPrefix("train.", training),
  };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(entries)) if (value !== undefined && value !== null) params.set(key, String(value));
  if (input) {
    const bytes = Uint8Array.from(input, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255));
    params.set("input", btoa(String.fromCharCode(...bytes)));
  }
  history.replaceState(null, "", `#${params}`);
}

function withPrefix(prefix, section) {
  return Object.fromEntries(Object.entries(section).map(([key, value]) => [prefix + key, value]));
}

/** A drawn input from its base64 bytes; undefined if absent or damaged (the page shows the sample). */
function readInput(base64) {
  if (base64 === undefined) return undefined;
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return bytes.length === 784 ? Float32Array.from(bytes, (v) => v / 255) : undefined;
  } catch {
    return undefined;
  }
}
