// The text panel, for models of token ids (`inputType` "int64"): the input as text, made ids by a
// WordPiece vocabulary (`tokenize`, BERT's rules: [CLS] ... [SEP], padded with [PAD] to the
// model's length), or without one as ids typed directly (numbers separated by spaces or commas,
// padded with 0 or cut to the model's length), the tokens
// shown as chips coloured by their attribution for the chosen class (Integrated Gradients or
// Input × Gradient at the embedding, Captum's layer methods), and the attention of a layer and
// head as a token-to-token matrix and as lines from the token under the pointer to the others.
import { drawColorbar, drawHeatmap, saliency, tokenize } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";

const $ = (id) => document.getElementById(id);

/** The ids of `text` (integers separated by spaces or commas) fitted to `length`: padded with
 * 0, or cut. Throws on anything that is not a whole number. */
export function parseIds(text, length) {
  const words = text.split(/[\s,]+/).filter(Boolean);
  const ids = new Int32Array(length);
  words.slice(0, length).forEach((word, i) => {
    if (!/^-?\d+$/.test(word)) throw new Error(`'${word}' is not a token id: type whole numbers separated by spaces`);
    ids[i] = Number(word);
  });
  return { ids, typed: Math.min(words.length, length), cut: Math.max(0, words.length - length) };
}

/** CSS colour of a score in [-1, 1]: red for positive, blue for negative (the rdbu map's ends). */
function chipColour(score) {
  const a = Math.min(1, Math.abs(score));
  return score >= 0 ? `rgba(178, 24, 43, ${a.toFixed(3)})` : `rgba(33, 102, 172, ${a.toFixed(3)})`;
}

/**
 * Wires the panel. `onInput()` is called when the ids change. Returns `{ useVocabulary(vocab),
 * showModel(model), ids(), showOutput(predicted) }`: a vocabulary (or null) says how the input
 * is read; a model of ids shows the panel; `ids()` gives the current input; `showOutput` draws
 * the chips and the attention for the predicted class.
 */
export function setupText({ guard, onInput }) {
  const el = {};
  for (const key of ["panel", "ids", "ids-label", "vocab-file", "status", "method", "target", "chips", "layer", "head", "matrix", "colorbar", "lines"]) el[key] = $(`text-${key}`);
  const state = { model: null, vocab: null, ids: null, tokens: [], maps: null, predicted: 0, focus: null };

  /** The input's ids and tokens, from the text through the vocabulary, or from the ids typed. */
  function readIds() {
    const length = state.model.inputShape.reduce((a, b) => a * b, 1);
    if (state.vocab) {
      const { ids, tokens } = tokenize(state.vocab, el.ids.value, { length });
      state.ids = ids;
      state.tokens = tokens;
      const words = tokens.filter((t) => t !== "[PAD]").length;
      el.status.textContent = `${words} tokens with [CLS] and [SEP], padded with [PAD] to ${length}`;
      return;
    }
    const { ids, typed, cut } = parseIds(el.ids.value, length);
    state.ids = ids;
    state.tokens = [...ids].map(String);
    el.status.textContent = `${typed} ids typed, ${length - typed} padded with 0` + (cut ? `, ${cut} cut` : "");
  }

  /** Text through `vocab` (a WordPiece vocab.txt), or ids typed when `vocab` is null. */
  function useVocabulary(vocab) {
    state.vocab = vocab;
    el["ids-label"].firstChild.textContent = vocab ? "Text " : "Token ids ";
    el["ids-label"].querySelector(".muted").textContent = vocab
      ? "(tokenized with the vocabulary, as BERT does)"
      : "(whole numbers separated by spaces; padded with 0 or cut to the model's length)";
  }

  function drawChips() {
    const target = el.target.value === "" ? state.predicted : Number(el.target.value);
    const options = el.method.value === "integratedGradients"
      ? { method: "integratedGradients", target, steps: 32 }
      : { method: "inputXGradient", target };
    const scores = saliency(state.model, state.ids, options);
    const max = Math.max(...scores.map(Math.abs), 1e-12);
    el.chips.replaceChildren(...state.tokens.map((token, i) => {
      const chip = document.createElement("span");
      chip.className = "token-chip";
      chip.textContent = token;
      chip.style.background = chipColour(scores[i] / max);
      chip.title = `token ${i}: ${scores[i].toExponential(2)}`;
      chip.dataset.score = String(scores[i]);
      chip.addEventListener("pointerenter", () => { state.focus = i; drawLines(); });
      return chip;
    }));
  }

  /** The chosen layer's attention for the chosen head (or the mean over heads): `[q, k]`. */
  function chosenAttention() {
    const map = state.maps[Number(el.layer.value)];
    const [heads, q, k] = map.shape;
    const chosen = el.head.value === "mean" ? [...Array(heads).keys()] : [Number(el.head.value)];
    const out = new Float32Array(q * k);
    for (const h of chosen) for (let i = 0; i < q * k; i++) out[i] += map.values[h * q * k + i] / chosen.length;
    return { values: out, q, k };
  }

  function drawMatrix() {
    const { values, q, k } = chosenAttention();
    drawHeatmap(el.matrix, values, [q, k], { colormap: "magma", min: 0, max: 1 });
    el.matrix.setAttribute("aria-label", `attention of ${state.maps[Number(el.layer.value)].layer}, ${el.head.value === "mean" ? "mean over heads" : `head ${el.head.value}`}: rows are queries, columns keys`);
    sizeCanvasForCss(el.colorbar);
    drawColorbar(el.colorbar, "magma", 0, 1);
    drawLines();
  }

  /** Lines from the focused token (the chip under the pointer; the first token at first) to every
   * token, as opaque as the attention it pays them. */
  function drawLines() {
    const { values, k } = chosenAttention();
    const focus = state.focus ?? 0;
    const chips = [...el.chips.children];
    const canvas = el.lines;
    const box = el.chips.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(box.width));
    canvas.height = 60;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const centre = (chip) => { const r = chip.getBoundingClientRect(); return r.left - box.left + r.width / 2; };
    if (!chips[focus]) return;
    const from = centre(chips[focus]);
    ctx.lineWidth = 2;
    for (let j = 0; j < k && j < chips.length; j++) {
      const weight = values[focus * k + j];
      ctx.strokeStyle = `rgba(120, 40, 140, ${weight.toFixed(3)})`;
      ctx.beginPath();
      ctx.moveTo(from, 0);
      ctx.bezierCurveTo(from, 40, centre(chips[j]), 40, centre(chips[j]), 60);
      ctx.stroke();
    }
    canvas.dataset.focus = String(focus);
  }

  el.ids.addEventListener("change", guard(() => { readIds(); onInput(); }));
  el["vocab-file"].addEventListener("change", guard(async () => {
    const file = el["vocab-file"].files[0];
    if (!file) return;
    useVocabulary(await file.text());
    readIds();
    onInput();
  }));
  for (const control of [el.method, el.target]) control.addEventListener("change", guard(drawChips));
  for (const control of [el.layer, el.head]) control.addEventListener("change", guard(drawMatrix));

  return {
    useVocabulary(vocab) {
      useVocabulary(vocab);
      el.ids.value = vocab ? "the cat saw a dog and the dog" : "1 2 3 4";
    },
    showModel(model) {
      state.model = model;
      const text = model.inputType === "int64";
      el.panel.hidden = !text;
      if (!text) return;
      const classes = model.outputShape.reduce((a, b) => a * b, 1);
      el.target.replaceChildren(new Option("predicted class", ""), ...Array.from({ length: classes }, (_, i) => new Option(String(i), String(i))));
      if (!el.ids.value.trim()) el.ids.value = state.vocab ? "the cat saw a dog and the dog" : "1 2 3 4";
      readIds();
    },
    ids() {
      return state.ids;
    },
    showOutput(predicted) {
      state.predicted = predicted;
      drawChips();
      let maps = [];
      try {
        maps = state.model.attention(state.ids);
      } catch {
        maps = []; // a model of ids without attention: chips only
      }
      state.maps = maps;
      $("text-attention").hidden = !maps.length;
      if (!maps.length) return;
      const layers = maps.map((m) => m.layer).join();
      if (el.layer.dataset.layers !== layers) {
        el.layer.replaceChildren(...maps.map((m, i) => new Option(`${i + 1}: ${m.layer}`, String(i))));
        el.layer.dataset.layers = layers;
        el.head.replaceChildren(new Option("mean", "mean"), ...[...Array(maps[0].shape[0]).keys()].map((h) => new Option(`head ${h}`, String(h))));
      }
      drawMatrix();
    },
  };
}
