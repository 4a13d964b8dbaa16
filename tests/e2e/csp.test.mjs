// The Content-Security-Policy of every page of the site: a <meta> tag allowing scripts and
// workers from the page's origin only, WebAssembly compilation but no eval, no inline script.
// The page tests run every page under its policy, and a violation is a console error there
// ("Refused to ..."), which fails them; this test also loads each page and listens for
// `securitypolicyviolation` events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { openSite } from "./browser.mjs";

const PAGES = ["index.html", "playground.html", "examples/elements.html", "docs/examples/big-model.html"];

/** The page's policy, directive by directive. */
function policy(page) {
  const html = readFileSync(new URL(`../../site/${page}`, import.meta.url), "utf8");
  const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)">/);
  assert.ok(meta, `${page} has a Content-Security-Policy <meta> tag`);
  return new Map(meta[1].split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
}

test("every page has a strict Content-Security-Policy and no inline script", () => {
  for (const page of PAGES) {
    const directives = policy(page);
    assert.deepEqual(directives.get("default-src"), ["'self'"], page);
    assert.deepEqual(directives.get("script-src"), ["'self'", "'wasm-unsafe-eval'"], `${page}: no 'unsafe-eval', no 'unsafe-inline' script`);
    const html = readFileSync(new URL(`../../site/${page}`, import.meta.url), "utf8");
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(inline, [], `${page}: inline scripts`);
    assert.doesNotMatch(html, /\son[a-z]+="/, `${page}: inline event handlers`);
  }
});

test("no page violates its policy while it starts", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  for (const path of PAGES) {
    await page.goto(`${origin}/${path}`);
    await page.waitForLoadState("networkidle");
    assert.deepEqual(await page.evaluate(() => window.cspViolations), [], path);
  }
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
