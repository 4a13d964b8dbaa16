// Saves a panel as one PNG: its canvases in page order, each at its on-screen size, captioned
// with its accessible label, on a white background.

/** Wires every `button[data-save]` to save the panel whose id it names; `guard` wraps an event
 * handler to show its errors in the page. */
export function setupSaveButtons(guard) {
  for (const button of document.querySelectorAll("button[data-save]")) {
    const id = button.dataset.save;
    button.addEventListener("click", guard(() => savePanelPng(document.getElementById(id), `nnlens-${id}.png`)));
  }
}

function savePanelPng(panel, fileName) {
  const canvases = [...panel.querySelectorAll("canvas")].filter((c) => c.width > 0 && c.getBoundingClientRect().width > 0);
  if (!canvases.length) throw new Error("this panel has nothing drawn to save yet");
  const pad = 12, caption = 18;
  const sizes = canvases.map((c) => {
    const r = c.getBoundingClientRect();
    return { w: Math.round(r.width), h: Math.round(r.height) };
  });
  const width = Math.max(...sizes.map((s) => s.w)) + 2 * pad;
  const height = sizes.reduce((sum, s) => sum + s.h + caption + pad, pad);
  const out = document.createElement("canvas");
  out.width = width;
  out.height = height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = "#1d1f23";
  ctx.font = "13px sans-serif";
  let y = pad;
  canvases.forEach((canvas, i) => {
    ctx.fillText(canvas.getAttribute("aria-label") ?? "", pad, y + 13);
    y += caption;
    ctx.drawImage(canvas, pad, y, sizes[i].w, sizes[i].h);
    y += sizes[i].h + pad;
  });
  const link = document.createElement("a");
  link.download = fileName;
  link.href = out.toDataURL("image/png");
  link.click();
}
