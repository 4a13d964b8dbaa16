// The Playground's settings: read from and written to the URL hash (so a set-up can be shared as
// a link, as the explorer does), and read from and written to the page's controls. The only
// module that touches the hash. Keys: task, noise, test (test data percent), seed, features
// (comma-separated), layers (`units:activation` per hidden layer, comma-separated), lr, batch,
// optimizer, loss, reg, regRate, speed (steps per update), showTest (1 or 0).

/** The hidden layers' activations the editor offers. */
export const ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"];
/** The most hidden layers and units per layer the editor allows. */
export const MAX_LAYERS = 6;
export const MAX_UNITS = 256;

export const DEFAULTS = {
  task: "circle", noise: 0, test: 50, seed: 0, features: ["x1", "x2"],
  layers: [{ units: 4, activation: "tanh" }, { units: 2, activation: "tanh" }],
  lr: "0.03", batch: 10, optimizer: "sgd", loss: "auto", reg: "none", regRate: "0", speed: "10", showTest: false,
};

const int = (text, min, max, fallback) => {
  const value = Number.parseInt(text, 10);
  return Number.isFinite(value) ? Math.min(Math.max(value, min), max) : fallback;
};

/** The hidden layers written as `units:activation,...`; null when damaged. */
function readLayers(text) {
  if (text === "") return [];
  const layers = text.split(",").slice(0, MAX_LAYERS).map((part) => {
    const [units, activation] = part.split(":");
    return { units: int(units, 1, MAX_UNITS, NaN), activation };
  });
  return layers.every((l) => Number.isFinite(l.units) && ACTIVATIONS.includes(l.activation)) ? layers : null;
}

/** The settings in the hash, each absent or damaged one at its default. Choices offered by the
 * page's selects are checked against them when they are shown (`writeControls`). */
export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const has = (key) => params.has(key);
  const get = (key) => params.get(key);
  const settings = structuredClone(DEFAULTS);
  for (const key of ["task", "lr", "optimizer", "loss", "reg", "regRate", "speed"]) if (has(key)) settings[key] = get(key);
  if (has("noise")) settings.noise = int(get("noise"), 0, 50, DEFAULTS.noise);
  if (has("test")) settings.test = int(get("test"), 10, 90, DEFAULTS.test);
  if (has("seed")) settings.seed = int(get("seed"), 0, 999999, DEFAULTS.seed);
  if (has("batch")) settings.batch = int(get("batch"), 1, 500, DEFAULTS.batch);
  if (has("features")) settings.features = get("features").split(",").filter(Boolean);
  if (has("layers")) settings.layers = readLayers(get("layers")) ?? settings.layers;
  if (has("showTest")) settings.showTest = get("showTest") === "1";
  return settings;
}

/** Replaces the hash with `settings`. */
export function writeHash(settings) {
  const params = new URLSearchParams({
    task: settings.task, noise: settings.noise, test: settings.test, seed: settings.seed,
    features: settings.features.join(","), layers: settings.layers.map((l) => `${l.units}:${l.activation}`).join(","),
    lr: settings.lr, batch: settings.batch, optimizer: settings.optimizer, loss: settings.loss, reg: settings.reg,
    regRate: settings.regRate, speed: settings.speed, showTest: settings.showTest ? "1" : "0",
  });
  history.replaceState(null, "", `#${params}`);
}

const $ = (id) => document.getElementById(id);
/** The controls holding one setting each, by setting. */
const CONTROLS = {
  task: "task", noise: "noise", test: "test-percent", seed: "seed", lr: "learning-rate", batch: "batch-size",
  optimizer: "optimizer", loss: "loss", reg: "regularization", regRate: "regularization-rate", speed: "speed",
};

/** Shows `settings` in the controls; a choice a select does not offer falls back to its default
 * (or the select's first option) and `settings` is corrected to what is shown. */
export function writeControls(settings) {
  for (const [key, id] of Object.entries(CONTROLS)) {
    const control = $(id);
    const text = String(settings[key]);
    if (control.tagName === "SELECT") {
      const offered = (value) => [...control.options].some((o) => o.value === value);
      control.value = offered(text) ? text : offered(String(DEFAULTS[key])) ? String(DEFAULTS[key]) : control.options[0].value;
      settings[key] = typeof DEFAULTS[key] === "number" ? Number(control.value) : control.value;
    } else {
      control.value = text;
    }
  }
  $("show-test").checked = settings.showTest;
  const boxes = [...document.querySelectorAll("#features input")];
  settings.features = settings.features.filter((f) => boxes.some((b) => b.value === f));
  for (const box of boxes) box.checked = settings.features.includes(box.value);
  showValues(settings);
}

/** The setting a control holds, as its setting key and value; null for other elements. */
export function readControl(element) {
  if (element.id === "show-test") return ["showTest", element.checked];
  if (element.closest("#features")) {
    return ["features", [...document.querySelectorAll("#features input")].filter((b) => b.checked).map((b) => b.value)];
  }
  const key = Object.keys(CONTROLS).find((k) => CONTROLS[k] === element.id);
  if (!key) return null;
  if (typeof DEFAULTS[key] !== "number") return [key, element.value];
  const value = Number.parseInt(element.value, 10);
  return [key, Number.isFinite(value) ? Math.min(Math.max(value, Number(element.min)), Number(element.max)) : DEFAULTS[key]];
}

/** The values shown beside the range controls. */
export function showValues(settings) {
  $("noise-value").textContent = `${settings.noise}%`;
  $("test-percent-value").textContent = `${settings.test}%`;
}
