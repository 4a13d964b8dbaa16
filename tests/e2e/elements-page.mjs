// Helpers of the page tests that watch nnlens elements: their load/error events and their
// shadow roots' canvases.

/** Records every `load` and `error` event of an nnlens element (they do not bubble: capture),
 * with the element's id and tag name.
 * Runs in the page, through `page.addInitScript(recordEvents)`. */
export function recordEvents() {
  window.nnlensEvents = [];
  for (const type of ["load", "error"]) {
    document.addEventListener(type, (event) => {
      if (!event.target.localName?.startsWith("nnlens-")) return;
      window.nnlensEvents.push({ id: event.target.id, tag: event.target.localName, type, message: event.detail?.message ?? null });
    }, true);
  }
}

/** Waits for the `count`-th event of `type` from the element `id`; returns its message. */
export async function waitEvent(page, id, type, count = 1) {
  await page.waitForFunction(
    ([id, type, count]) => window.nnlensEvents.filter((e) => e.id === id && e.type === type).length >= count,
    [id, type, count], { timeout: 30000 },
  ).catch(async (error) => {
    const seen = await page.evaluate((id) => window.nnlensEvents.filter((e) => e.id === id), id);
    throw new Error(`no ${type} #${count} from #${id}; its events: ${JSON.stringify(seen)} (${error.message})`);
  });
  return page.evaluate(([id, type]) => window.nnlensEvents.filter((e) => e.id === id && e.type === type).at(-1).message, [id, type]);
}

/** Distinct colours of the canvases matching `selector` in the shadow root of element `id`, one count per canvas. */
export function shadowColours(page, id, selector) {
  return page.evaluate(([id, selector]) => [...document.getElementById(id).shadowRoot.querySelectorAll(selector)].map((canvas) => {
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size <= 64; i += 4) seen.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
    return seen.size;
  }), [id, selector]);
}
