// The page state in the URL hash, so any view can be shared as a link. A drawn or uploaded input
// is stored as base64 of its 28x28 bytes.
export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const state = {};
  for (const key of ["model", "colormap", "weights", "project", "method", "layer"]) if (params.has(key)) state[key] = params.get(key);
  if (params.has("target")) state.target = Math.max(0, Number.parseInt(params.get("target"), 10) || 0);
  if (params.has("sample")) state.sample = Math.max(0, Number.parseInt(params.get("sample"), 10) || 0);
  if (params.has("input")) {
    try {
      const bytes = Uint8Array.from(atob(params.get("input")), (c) => c.charCodeAt(0));
      if (bytes.length === 784) state.input = Float32Array.from(bytes, (v) => v / 255);
    } catch {
      // A damaged input in a shared link falls back to the sample.
    }
  }
  for (const [key, value] of params) if (key.startsWith("opt.")) (state.options ??= {})[key.slice(4)] = value;
  for (const [key, value] of params) if (key.startsWith("train.")) (state.training ??= {})[key.slice(6)] = value;
  return state;
}

export function writeHash(entries, input) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(entries)) if (value !== undefined && value !== null) params.set(key, String(value));
  if (input) {
    const bytes = Uint8Array.from(input, (v) => Math.round(Math.min(Math.max(v, 0), 1) * 255));
    params.set("input", btoa(String.fromCharCode(...bytes)));
  }
  history.replaceState(null, "", `#${params}`);
}
