// Shared set-up of the page tests: serves site/ on a free loopback port and drives Debian's
// Chromium through playwright-core, collecting console errors and requests to other origins.
// With NNLENS_ISOLATED=1 (the second pass of `make test-page`) the site is served cross-origin
// isolated, so the pages run the threaded build; `isolated` overrides it per test.
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

export const ISOLATED = process.env.NNLENS_ISOLATED === "1";

export async function openSite(t, { viewport = { width: 1280, height: 900 }, subPath = "/", hasTouch = false, isolated = ISOLATED } = {}) {
  const server = await serve(new URL("../../site/", import.meta.url).pathname, 0, subPath, { isolated });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport, acceptDownloads: true, hasTouch });
  const problems = { consoleErrors: [], foreignRequests: [] };
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.consoleErrors.push(msg.text());
  });
  page.on("pageerror", (err) => problems.consoleErrors.push(String(err)));
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) {
      problems.foreignRequests.push(url);
    }
  });
  t.after(async () => {
    await browser.close();
    server.close();
  });
  return { page, origin, problems };
}

/** Waits until the page's main module has drawn every panel (data-ready marks only the activations). */
export async function ready(page) {
  await page.waitForSelector("body[data-complete=true]", { timeout: 30000 });
}

/** Number of distinct colours in a canvas (a blank or failed drawing has one). */
export function distinctColours(page, selector) {
  return page.$eval(selector, (canvas) => {
    const ctx = canvas.getContext("2d");
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) {
      seen.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
      if (seen.size > 64) break;
    }
    return seen.size;
  });
}
