// `make bench` driver: assembles the benchmark folder (benches/web + the nnlens package + the
// site + the peers' files from node_modules), serves it on loopback, runs the benchmark page and
// the cold-start pages in headless Chromium (playwright-core; the rows marked `isolated`, threads,
// in a second page served cross-origin isolated), measures package sizes, reads the
// native criterion results, prints the tables and writes them into BENCHMARKS.md.
//
//   node benches/run.mjs            full run, updates BENCHMARKS.md (between its bench markers)
//   node benches/run.mjs --quick    tiny sizes, one sample, nothing written (the harness test)
//   options: --json FILE (write the raw results), --rows id,id (only those rows), --cold N,
//            --pkg DIR (another build of the package, for experiments; nothing written),
//            --cold-only (only the cold-start pages, interleaved, N rounds; nothing written)
//   node benches/run.mjs --profile ROW   runs one row under Chromium's sampling CPU profiler with
//            a symbolised nnlens wasm (wasm-bindgen --keep-debug of cargo's output, no wasm-opt)
//            and prints the functions with the most self time (--impls nnlens: only those
//            frameworks run; --top N lines; --wasm FILE: another cargo build's nnlens.wasm;
//            --by-op: nnlens's wasm time only, each function under the op that called it and the
//            half of the pass it ran in, F for the forward node loop, B for the backward one;
//            a row ending in -threads: the threaded relaxed-SIMD build in the isolated page,
//            the page's thread profiled)
//
// Ratios everywhere are PEER TIME / NNLENS TIME (or peer bytes / nnlens bytes): above 1 means
// nnlens is faster (smaller); below 1 means nnlens trails. Training rows show steps per second
// (1000 / median ms per step), so their ratio is nnlens steps/s / peer steps/s, the same number.

import { chromium } from "playwright-core";
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { serve } from "../scripts/serve.mjs";
import { ROWS } from "./web/rows/index.js";
import { ARCHITECTURES } from "./web/rows/torchvision.js";

const ROOT = new URL("..", import.meta.url).pathname;
const NM = join(ROOT, "node_modules");
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

/** The peers' files the pages load, and what the size table counts. */
const VENDOR = {
  tfjs: [
    "@tensorflow/tfjs/dist/tf.min.js",
    "@tensorflow/tfjs-core/dist/tf-core.min.js",
    "@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
  ],
  ort: [
    "onnxruntime-web/dist/ort.wasm.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
  ],
  ml: ["ml-pca/lib-esm/pca.js", "ml-matrix/matrix.umd.js"],
};

export const FRAMEWORKS = [
  ["nnlens", "nnlens"],
  ["tfjs-wasm", "TF.js wasm"],
  ["tfjs-cpu", "TF.js cpu"],
  ["ort-wasm", "ORT-web wasm"],
  ["ml-pca", "ml-pca"],
];

export const COLD_PAGES = [
  ["nnlens", "coldstart/nnlens.html", "nnlens (its loader's pick of wasm): cnn.json, forward, conv1 heatmaps"],
  ["nnlens-site", "site/index.html", "nnlens site (`site/index.html`): init, digits, model, every layer drawn"],
  ["tfjs-wasm", "coldstart/tfjs-wasm.html", "TF.js core + wasm backend (SIMD): cnn.json, forward, conv1 heatmaps"],
  ["tfjs-cpu", "coldstart/tfjs-cpu.html", "TF.js core + cpu backend: cnn.json, forward, conv1 heatmaps"],
  ["ort-wasm", "coldstart/ort-wasm.html", "onnxruntime-web wasm (SIMD, 1 thread): cnn.onnx, forward, conv1 heatmaps"],
];

export const SIZE_SETS = [
  ["nnlens", "nnlens (wasm + JS glue)", ["pkg/nnlens_bg.wasm", "pkg/nnlens.js", "pkg/nnlens_single.js"]],
  ["nnlens-threads", "nnlens threaded build (cross-origin isolated pages: wasm + JS glue)", [
    "pkg/threads/nnlens_bg.wasm", "pkg/nnlens.js", "pkg/threads/nnlens.js"]],
  ["tfjs-wasm", "tfjs-core + tfjs-backend-wasm (SIMD binary)", [
    "vendor/tfjs/tf-core.min.js", "vendor/tfjs/tf-backend-wasm.min.js", "vendor/tfjs/tfjs-backend-wasm-simd.wasm"]],
  ["tfjs-wasm-binary", "tfjs-backend-wasm SIMD binary alone", ["vendor/tfjs/tfjs-backend-wasm-simd.wasm"]],
  ["tfjs-cpu", "tfjs-core + tfjs-backend-cpu", ["vendor/tfjs/tf-core.min.js", "vendor/tfjs/tf-backend-cpu.min.js"]],
  ["ort-wasm", "onnxruntime-web (wasm, SIMD, 1 thread)", [
    "vendor/ort/ort.wasm.min.mjs", "vendor/ort/ort-wasm-simd-threaded.mjs", "vendor/ort/ort-wasm-simd-threaded.wasm"]],
];

/** Builds the served folder `dir` from benches/web, pkg/, site/, www/, the transformer and
 * torchvision fixtures and node_modules. */
export async function assemble(dir, { pkg = join(ROOT, "pkg") } = {}) {
  for (const needed of ["pkg/nnlens_bg.wasm", "site/index.html"]) {
    if (!existsSync(join(ROOT, needed))) throw new Error(`${needed} is missing: run make site first`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, "benches/web"), dir, { recursive: true });
  await cp(pkg, join(dir, "pkg"), { recursive: true });
  await cp(join(ROOT, "site"), join(dir, "site"), { recursive: true });
  await cp(join(ROOT, "www/models"), join(dir, "models"), { recursive: true });
  await cp(join(ROOT, "www/data"), join(dir, "data"), { recursive: true });
  await mkdir(join(dir, "transformers"), { recursive: true });
  for (const f of ["vit_dynamo.onnx", "text_dynamo.onnx", "text.json"]) {
    await cp(join(ROOT, "tests/fixtures/transformers", f), join(dir, "transformers", f));
  }
  for (const name of Object.keys(ARCHITECTURES)) {
    await mkdir(join(dir, "torchvision", name), { recursive: true });
    for (const f of ["dynamo.onnx", "dynamo.json"]) {
      await cp(join(ROOT, "tests/fixtures/torchvision", name, f), join(dir, "torchvision", name, f));
    }
  }
  for (const [folder, files] of Object.entries(VENDOR)) {
    await mkdir(join(dir, "vendor", folder), { recursive: true });
    for (const f of files) await cp(join(NM, f), join(dir, "vendor", folder, f.split("/").pop()));
  }
}

function packageVersion(name) {
  return JSON.parse(readFileSync(join(NM, name, "package.json"), "utf8")).version;
}

export function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const flags = cpuinfo.match(/^flags\s*:\s*(.*)$/m)?.[1]?.split(" ") ?? [];
  return {
    cpu: model,
    cores: cpus().length,
    simd: ["avx2", "avx512f", "fma"].filter((f) => flags.includes(f)).join(", "),
    node: process.version,
    packages: Object.fromEntries(
      ["@tensorflow/tfjs", "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-cpu",
        "onnxruntime-web", "ml-pca", "ml-matrix", "playwright-core"].map((n) => [n, packageVersion(n)]),
    ),
    nnlens: JSON.parse(readFileSync(join(ROOT, "pkg/package.json"), "utf8")).version,
  };
}

/** Opens a page that must make no request to another origin and log no error. */
async function openPage(context, origin, problems) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
    else if (msg.text().startsWith("bench:")) console.error(msg.text());
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err}`));
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) {
      problems.push(`request to another origin: ${url}`);
    }
  });
  return page;
}

async function runBenchPage(browser, origin, { quick, rows, isolated = false }) {
  const problems = [];
  const context = await browser.newContext();
  const page = await openPage(context, origin, problems);
  const query = new URLSearchParams();
  if (quick) query.set("quick", "1");
  if (rows) query.set("rows", rows);
  if (isolated) query.set("isolated", "1");
  await page.goto(`${origin}/index.html?${query}`);
  await page.waitForSelector("body[data-done=true]", { timeout: quick ? 300_000 : 3_600_000 });
  const result = await page.evaluate(() => window.benchResult);
  await context.close();
  return { ...result, problems };
}

// Records, in the page's own clock (ms since navigation start), when body[data-ready] turns true.
const READY_PROBE = () => {
  new MutationObserver((_, observer) => {
    const body = document.body;
    if (body?.dataset.ready === "true" && window.__readyAt === undefined) {
      window.__readyAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
};

async function coldStartOnce(browser, origin, path) {
  const problems = [];
  // A new context per load: empty HTTP cache, so no cached wasm or compiled code.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(READY_PROBE);
  const page = await openPage(context, origin, problems);
  await page.goto(`${origin}/${path}`);
  await page.waitForSelector("body[data-ready=true], body[data-error]", { timeout: 60_000 });
  const r = await page.evaluate(() => ({
    ms: window.__readyAt,
    error: document.body.dataset.error ?? null,
    bytes: performance.getEntriesByType("resource").reduce((s, e) => s + e.encodedBodySize, 0),
    files: performance.getEntriesByType("resource").map((e) => e.name.split("/").slice(-2).join("/")),
  }));
  await context.close();
  if (r.error) problems.push(`page error: ${r.error}`);
  return { ...r, problems };
}

async function coldStarts(browser, origin, reps) {
  const runs = Object.fromEntries(COLD_PAGES.map(([id]) => [id, []]));
  const details = {};
  // Interleaved: one load of each page per round, so machine noise spreads over all of them.
  for (let rep = 0; rep < reps; rep++) {
    for (const [id, path] of COLD_PAGES) {
      const r = await coldStartOnce(browser, origin, path);
      runs[id].push(r.ms);
      details[id] = { bytes: r.bytes, files: r.files, problems: [...(details[id]?.problems ?? []), ...r.problems] };
    }
  }
  return Object.fromEntries(
    COLD_PAGES.map(([id]) => [id, { ms: median(runs[id]), runs: runs[id], ...details[id] }]),
  );
}

async function sizes(dir) {
  const out = {};
  for (const [id, title, files] of SIZE_SETS) {
    let raw = 0;
    let gz = 0;
    for (const f of files) {
      const bytes = await readFile(join(dir, f));
      raw += bytes.length;
      gz += gzipSync(bytes, { level: 9 }).length;
    }
    out[id] = { title, files: files.map((f) => f.split("/").pop()), raw, gz };
  }
  return out;
}

/** Criterion results under target/criterion: [{ id, ns, throughput elements }]. */
export async function nativeResults() {
  const base = join(ROOT, "target/criterion");
  if (!existsSync(base)) return [];
  const found = [];
  async function walk(dir) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory() && entry.name === "new" && existsSync(join(p, "benchmark.json"))) {
        const b = JSON.parse(await readFile(join(p, "benchmark.json"), "utf8"));
        const e = JSON.parse(await readFile(join(p, "estimates.json"), "utf8"));
        const when = (await stat(join(p, "estimates.json"))).mtime;
        found.push({
          id: b.full_id ?? `${b.group_id}/${b.function_id ?? ""}/${b.value_str ?? ""}`,
          group: b.group_id,
          ns: e.median.point_estimate,
          flops: b.throughput?.Elements ?? null,
          bytes: b.throughput?.Bytes ?? null,
          when: when.toISOString(),
        });
      } else if (entry.isDirectory() && entry.name !== "report") {
        await walk(p);
      }
    }
  }
  await walk(base);
  return found.sort((a, b) => a.id.localeCompare(b.id));
}

export function median(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const rate = (v) => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}/s`;
const ratio = (v) => (Number.isFinite(v) ? `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×` : "–");
const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;

/**
 * One of the scikit-learn timing scripts (`benches/sklearn_pca.py`, `benches/sklearn_tsne.py`)
 * when a Python with scikit-learn is available (`NNLENS_BENCH_PYTHON`, default `python3`);
 * otherwise the reason.
 */
export function sklearnScript(script) {
  const python = process.env.NNLENS_BENCH_PYTHON || "python3";
  const run = spawnSync(python, [join(ROOT, "benches", script)], { encoding: "utf8" });
  if (run.status !== 0) {
    const why = (run.error?.message || run.stderr || "").trim().split("\n").pop();
    return { unavailable: `${python} with scikit-learn is not available (${why || "exit " + run.status})` };
  }
  return JSON.parse(run.stdout.trim().split("\n").pop());
}

/** The cold-start table's markdown lines. */
function coldTable(cold) {
  const lines = ["Cold start (new browser context each load, empty cache; ms from navigation start to the first heatmap drawn):", ""];
  lines.push("| page | what it does | median ms | loads | bytes fetched | page / nnlens |", "| --- | --- | ---: | ---: | ---: | ---: |");
  for (const [id, path, what] of COLD_PAGES) {
    const c = cold[id];
    lines.push(`| ${id} (\`${path}\`) | ${what} | ${ms(c.ms)} | ${c.runs.length} | ${kib(c.bytes)} | ${id === "nnlens" ? "–" : ratio(c.ms / cold.nnlens.ms)} |`);
  }
  return lines;
}

/** The t-SNE rows against native scikit-learn (`benches/sklearn_tsne.py`), as markdown lines. */
function tsneTable(bench, sk, env) {
  const single = bench.rows.find((r) => r.id === "tsne-digits" && r.impls?.nnlens);
  const threaded = bench.rows.find((r) => r.id === "tsne-digits-threads" && r.impls?.nnlens);
  if (!sk || (!single && !threaded)) return [];
  const lines = ["", "t-SNE of scikit-learn's digits (1797 × 64, Barnes-Hut, 1000 iterations) against native scikit-learn " +
    "(`TSNE(random_state=0)`, `benches/sklearn_tsne.py`; ratio = scikit-learn time on as many threads / nnlens time):", ""];
  lines.push("| implementation | threads | ms | trustworthiness (k = 5) | scikit-learn / this |", "| --- | ---: | ---: | ---: | ---: |");
  const trust = (row) => row.detail.match(/trustworthiness \(k = 5\) ([\d.]+)/)?.[1] ?? "?";
  const skMs = (threads) => (sk.unavailable ? NaN : threads === 1 ? sk.ms : sk.ms_threads);
  if (single) lines.push(`| nnlens, wasm in Chromium | 1 | ${ms(single.impls.nnlens.ms)} | ${trust(single)} | ${ratio(skMs(1) / single.impls.nnlens.ms)} |`);
  if (threaded) {
    const threads = env.page.isolated?.threads ?? "?";
    lines.push(`| nnlens, threaded wasm in Chromium (cross-origin isolated page) | ${threads} | ${ms(threaded.impls.nnlens.ms)} | ${trust(threaded)} | ${ratio(skMs(threads) / threaded.impls.nnlens.ms)} |`);
  }
  if (sk.unavailable) {
    lines.push(`| scikit-learn | not measured: ${sk.unavailable} | – | – | – |`);
  } else {
    lines.push(`| scikit-learn ${sk.version} (OpenMP limited to one thread) | 1 | ${ms(sk.ms)} | ${sk.trustworthiness.toFixed(4)} | – |`,
      `| scikit-learn ${sk.version} (its default OpenMP threads) | ${sk.threads} | ${ms(sk.ms_threads)} | ${sk.trustworthiness_threads.toFixed(4)} | – |`);
  }
  return lines;
}

/** The markdown tables of one run (no prose). */
export function tables(result) {
  const lines = [];
  const { bench, cold, size, native, env } = result;
  lines.push(
    `Ratios are **peer time / nnlens time** (sizes: peer bytes / nnlens bytes): **above 1 = nnlens faster ` +
      `(smaller)**, below 1 = nnlens trails. Times are medians in ms; training rows give steps per second ` +
      `(1000 / median ms per step), their ratio being nnlens steps/s / peer steps/s.`,
    "",
  );
  const head = ["row", ...FRAMEWORKS.map(([, t]) => t), "fastest peer / nnlens"];
  lines.push(`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`);
  for (const row of bench.rows) {
    if (row.skipped || row.error) {
      const why = row.skipped ? `not run: ${row.skipped}` : `FAILED: ${row.error.split("\n")[0]}`;
      lines.push(`| ${row.title} | ${why} |${" |".repeat(FRAMEWORKS.length)}`);
      continue;
    }
    const nn = row.impls.nnlens?.ms;
    const cells = FRAMEWORKS.map(([id]) => {
      const r = row.impls[id];
      if (!r) return "–";
      const note = r.single ? " (1 run)" : "";
      const bad = r.agrees === false ? " ⚠ differs" : "";
      const value = row.stepsPerCall ? rate(r.stepsPerSecond) : ms(r.ms);
      return id === "nnlens" ? `${value}${note}` : `${value} (${ratio(r.ms / nn)})${note}${bad}`;
    });
    const peers = FRAMEWORKS.slice(1).map(([id]) => row.impls[id]?.ms).filter(Number.isFinite);
    lines.push(`| ${row.title} | ${cells.join(" | ")} | **${ratio(Math.min(...peers) / nn)}** |`);
  }
  lines.push("");
  for (const row of bench.rows) {
    if (!row.impls) continue;
    const diffs = Object.entries(row.impls).filter(([, r]) => r.maxAbsDiff !== null)
      .map(([id, r]) => `${id} ${r.maxAbsDiff.toExponential(1)}`);
    const single = Object.entries(row.impls).filter(([, r]) => r.single).map(([id, r]) => `${id} ran once (first run ${(r.firstMs / 1000).toFixed(1)} s > 10 s budget)`);
    const rates = row.flops
      ? ` GFLOP/s: ${Object.entries(row.impls).map(([id, r]) => `${id} ${(row.flops / r.ms / 1e6).toFixed(2)}`).join(", ")}.`
      : "";
    lines.push(`- ${row.title}: ${row.detail}. Max |Δ| vs nnlens: ${diffs.join(", ") || "–"}.${rates}${single.length ? ` ${single.join("; ")}.` : ""}`);
  }
  lines.push("");
  lines.push(...coldTable(cold), "");
  lines.push("Package size (what a page downloads for the framework; gzip -9):", "");
  lines.push("| package | files | raw | gzip | gzip / nnlens gzip |", "| --- | --- | ---: | ---: | ---: |");
  for (const [id] of SIZE_SETS) {
    const s = size[id];
    lines.push(`| ${s.title} | ${s.files.join(", ")} | ${kib(s.raw)} | ${kib(s.gz)} | ${id === "nnlens" ? "–" : ratio(s.gz / size.nnlens.gz)} |`);
  }
  const pcaRow = bench.rows.find((r) => r.id.startsWith("pca-") && !r.id.endsWith("-threads") && r.impls?.nnlens);
  const pcaThreads = bench.rows.find((r) => r.id.startsWith("pca-") && r.id.endsWith("-threads") && r.impls?.nnlens);
  const pcaNative = native?.find((n) => n.id.startsWith("pca/covariance_eigh"));
  if (result.sklearn && pcaRow) {
    lines.push("", "PCA of 10,000 × 784 to 50 components against native scikit-learn on the same machine (one thread each; ratio = scikit-learn time / nnlens time). " +
      "scikit-learn computes float32 input in float32; nnlens takes the same float32 data and computes in float64, as scikit-learn does for a float64 copy, so both are timed:", "");
    lines.push("| implementation | ms | scikit-learn float32 / this | scikit-learn float64 / this |", "| --- | ---: | ---: | ---: |");
    const sk = result.sklearn;
    const row = (name, value) =>
      `| ${name} | ${ms(value)} | ${sk.ms ? ratio(sk.ms / value) : "–"} | ${sk.ms64 ? ratio(sk.ms64 / value) : "–"} |`;
    lines.push(row("nnlens, wasm in Chromium (`pca`, covarianceEigh)", pcaRow.impls.nnlens.ms));
    if (pcaNative) lines.push(row("nnlens, native (`cargo bench`, covarianceEigh)", pcaNative.ns / 1e6));
    if (sk.unavailable) {
      lines.push(`| scikit-learn | not measured: ${sk.unavailable} | – | – |`);
    } else {
      const name = (dtype) => `scikit-learn ${sk.version} (\`PCA\`, auto picked \`${sk.solver}\`, numpy/OpenBLAS 1 thread), ${dtype}`;
      lines.push(row(name("float32 data"), sk.ms), row(name("float64 copy"), sk.ms64));
      if (pcaThreads && Number.isFinite(sk.ms_threads)) {
        const threads = env.page.isolated?.threads ?? "?";
        lines.push("", `With threads (issue 17: within 2× of scikit-learn with its default threads, float32 data):`, "",
          "| implementation | threads | ms | scikit-learn float32 (default threads) / this |", "| --- | ---: | ---: | ---: |",
          `| nnlens, threaded wasm in Chromium (cross-origin isolated page) | ${threads} | ${ms(pcaThreads.impls.nnlens.ms)} | ${ratio(sk.ms_threads / pcaThreads.impls.nnlens.ms)} |`,
          `| scikit-learn ${sk.version}, float32 data, numpy/OpenBLAS default threads | ${sk.threads_default} | ${ms(sk.ms_threads)} | – |`);
      }
      if (Number.isFinite(sk.float32_fixture_deviation)) {
        lines.push("", `scikit-learn's float32 path lands up to ${sk.float32_fixture_deviation.toFixed(1)}× nnlens's tolerance ` +
          "(1e-4 + 1e-3·|expected|) away from the float64 fixtures in `tests/fixtures/pca` (`benches/sklearn_pca.py` checks every fit), " +
          "so the float64 timing is the like-for-like one.");
      }
    }
  }
  lines.push(...tsneTable(bench, result.sklearnTsne, env));
  if (native?.length) {
    lines.push("", "Native kernels (`cargo bench --bench kernels`, criterion medians, one thread; GFLOP/s = 10^9 floating-point operations per second, a multiply-add counting 2; GB/s = bytes read + written per ns):", "");
    lines.push("| kernel | median | GFLOP/s | GB/s |", "| --- | ---: | ---: | ---: |");
    for (const n of native) {
      const gflops = n.flops ? (n.flops / n.ns).toFixed(2) : "–";
      const gbs = n.bytes ? (n.bytes / n.ns).toFixed(2) : "–";
      lines.push(`| ${n.id} | ${n.ns >= 1e6 ? `${(n.ns / 1e6).toFixed(2)} ms` : `${(n.ns / 1e3).toFixed(1)} µs`} | ${gflops} | ${gbs} |`);
    }
  }
  lines.push("");
  const m = env.machine;
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores (${m.simd || "no AVX2/FMA flags"}); load average ${env.loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ` +
      `${env.loadAfter.map((l) => l.toFixed(2)).join(" ")} after. Browser: ${env.browser} (headless, ${env.page.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? ""}). ` +
      `Node ${m.node}. nnlens ${m.nnlens}; ${Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(", ")}. ` +
      `Wasm binaries fetched by the benchmark page: ${env.page.wasmFetched.join(", ")}; TF.js wasm threads: ${env.page.tfWasmThreads}; ` +
      `cross-origin isolated: ${env.page.crossOriginIsolated}` +
      (env.page.isolated
        ? `; threaded rows in a cross-origin isolated page (${env.page.isolated.crossOriginIsolated}): ${env.page.isolated.threads} threads, ` +
          `nnlens threaded build: ${env.page.isolated.nnlensThreaded}, wasm fetched: ${env.page.isolated.wasmFetched.join(", ")}`
        : "") +
      `. Date: ${env.date}.`,
  );
  return lines.join("\n");
}

const BEGIN = "<!-- bench:begin (generated by make bench: do not edit by hand) -->";
const END = "<!-- bench:end -->";

async function writeMarkdown(text) {
  const file = join(ROOT, "BENCHMARKS.md");
  const old = existsSync(file) ? await readFile(file, "utf8") : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  if (a < 0 || b < a) throw new Error("BENCHMARKS.md lost its bench markers");
  await writeFile(file, `${old.slice(0, a + BEGIN.length)}\n${text}\n${old.slice(b)}`);
}

/** Runs everything (`coldOnly`: the cold-start pages only, nothing written); returns
 * `{ bench, cold, size, native, env, problems, table }`. */
export async function run({ quick = false, rows = null, coldReps = quick ? 1 : 7, write = !quick, pkg, coldOnly = false } = {}) {
  const dir = join(ROOT, "target/bench-web");
  await assemble(dir, { pkg });
  const server = await serve(dir, 0);
  const origin = `http://127.0.0.1:${server.address().port}`;
  // The threaded rows (`isolated`) run in a second page, served cross-origin isolated.
  const isolatedServer = await serve(dir, 0, "/", { isolated: true });
  const isolatedOrigin = `http://127.0.0.1:${isolatedServer.address().port}`;
  const loadBefore = loadavg();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    console.error(`bench: ${quick ? "quick mode, " : ""}serving ${dir} at ${origin}`);
    if (coldOnly) {
      const cold = await coldStarts(browser, origin, coldReps);
      return { bench: { rows: [] }, cold, problems: Object.values(cold).flatMap((c) => c.problems), table: coldTable(cold).join("\n") };
    }
    const bench = await runBenchPage(browser, origin, { quick, rows });
    if (bench.fatal) throw new Error(`benchmark page failed: ${bench.fatal}`);
    const wanted = (row) => !rows || rows.split(",").includes(row.id);
    const wants = (prefix) => ROWS.some((row) => row.id.startsWith(prefix) && wanted(row));
    if (ROWS.some((row) => row.isolated && wanted(row))) {
      console.error("bench: threaded rows, cross-origin isolated page…");
      const threaded = await runBenchPage(browser, isolatedOrigin, { quick, rows, isolated: true });
      if (threaded.fatal) throw new Error(`isolated benchmark page failed: ${threaded.fatal}`);
      const byId = new Map([...bench.rows, ...threaded.rows].map((row) => [row.id, row]));
      bench.rows = ROWS.map((row) => byId.get(row.id)).filter(Boolean);
      bench.problems.push(...threaded.problems);
      bench.env.isolated = {
        crossOriginIsolated: threaded.env.crossOriginIsolated,
        threads: threaded.env.threads,
        nnlensThreaded: threaded.env.nnlensThreaded,
        wasmFetched: threaded.env.wasmFetched,
      };
    }
    console.error("bench: cold starts…");
    const cold = await coldStarts(browser, origin, coldReps);
    const result = {
      bench,
      cold,
      size: await sizes(dir),
      native: quick ? [] : await nativeResults(),
      sklearn: quick || !wants("pca-") ? null : sklearnScript("sklearn_pca.py"),
      sklearnTsne: quick || !wants("tsne-") ? null : sklearnScript("sklearn_tsne.py"),
      env: {
        machine: machine(),
        browser: `Chromium ${browser.version()}`,
        page: bench.env,
        loadBefore,
        loadAfter: loadavg(),
        date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
      },
    };
    result.problems = [...bench.problems, ...Object.values(cold).flatMap((c) => c.problems)];
    result.table = tables(result);
    if (write) await writeMarkdown(result.table);
    return result;
  } finally {
    await browser.close();
    server.close();
    isolatedServer.close();
  }
}

/**
 * The key a profile node's self time is summed under: the function itself, or with `byOp` the
 * half of the pass it ran in (F: under the forward node loop, B: the backward one, ?: neither),
 * the nearest op method above it (a `Kernel` method or a `Conv2d` one) and the function.
 */
function profileKey(node, { byId, parent, byOp }) {
  const f = node.callFrame;
  const file = f.url.split("/").pop() || "(native)";
  if (!byOp) return `${f.functionName || "(anonymous)"}  [${file}]`;
  // The nightly of the threaded build demangles v0 names, with each crate's hash in brackets.
  const plain = (name) => name.replace(/::h[0-9a-f]{16}$/, "").replaceAll(/\[[0-9a-f]{16}\]/g, "");
  const short = (name) => plain(name).replaceAll("nnlens::graph::ops::", "").replace(" as Kernel>", ">");
  let [op, half] = [null, "?"];
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const name = plain(byId.get(id).callFrame.functionName);
    if (/backward_kept/.test(name)) { half = "B"; break; }
    if (/run_keeping/.test(name)) { half = "F"; break; }
    if (!op && /(as nnlens::graph::ops::Kernel>::\w+|Conv2d::\w+)/.test(name)) op = short(name);
  }
  return `${half} ${op ?? "-"} :: ${short(f.functionName)}`;
}

/** Self time per function of one row's run, from a CDP CPU profile. */
export async function profile(rowId, { top = 30, impls = null, byOp = false, wasm = null } = {}) {
  const { execFileSync } = await import("node:child_process");
  const dir = join(ROOT, "target/bench-web");
  await assemble(dir);
  // Same code as the package, with the function names kept (the package strips them). A
  // threaded row runs the threaded relaxed-SIMD build (as `make pkg` compiles it) in the
  // cross-origin isolated page; the profile is the page's thread, which takes pieces of every
  // split loop like the workers, so a loop left on one thread shows its whole time there.
  const threaded = rowId.endsWith("-threads");
  if (threaded) {
    const out = join(dir, "pkg/threads");
    execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--no-typescript", "--out-dir", out, "--out-name", "nnlens",
      wasm ?? join(ROOT, "target/threads-relaxed/wasm32-unknown-unknown/release/nnlens.wasm")]);
    for (const script of ["freed-object-message.mjs", "relaxed-simd-loader.mjs"]) execFileSync("node", [join(ROOT, "scripts", script), join(out, "nnlens.js")]);
    await cp(join(out, "nnlens_bg.wasm"), join(out, "nnlens_bg_relaxed.wasm"));
  } else {
    execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", join(dir, "pkg"), "--out-name", "nnlens",
      wasm ?? join(ROOT, "target/wasm32-unknown-unknown/release/nnlens.wasm")]);
  }
  const server = await serve(dir, 0, "/", { isolated: threaded });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
    await page.goto(`${origin}/index.html?rows=${rowId}${impls ? `&impls=${impls}` : ""}${threaded ? "&isolated=1" : ""}`);
    await page.waitForSelector("body[data-done=true]", { timeout: 3_600_000 });
    const { profile: prof } = await cdp.send("Profiler.stop");
    const result = await page.evaluate(() => window.benchResult);
    const self = new Map();
    const dt = new Map();
    prof.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
    const byId = new Map(prof.nodes.map((node) => [node.id, node]));
    const parent = new Map(prof.nodes.flatMap((node) => (node.children ?? []).map((child) => [child, node.id])));
    let total = 0;
    for (const node of prof.nodes) {
      const t = dt.get(node.id) ?? 0;
      if (byOp && !/nnlens_bg(_relaxed)?\.wasm$/.test(node.callFrame.url)) continue;
      const key = profileKey(node, { byId, parent, byOp });
      self.set(key, (self.get(key) ?? 0) + t);
      total += t;
    }
    const lines = [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([k, t]) => `${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
    return { result, lines, totalMs: total / 1000 };
  } finally {
    await browser.close();
    server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
  if (opt("--profile")) {
    const byOp = args.includes("--by-op");
    const { result, lines, totalMs } = await profile(opt("--profile"), { top: Number(opt("--top") ?? 30), impls: opt("--impls"), byOp, wasm: opt("--wasm") ?? undefined });
    const row = result.rows?.[0];
    console.log(`row ${opt("--profile")}: ${JSON.stringify(Object.fromEntries(Object.entries(row?.impls ?? {}).map(([k, v]) => [k, +v.ms.toFixed(4)])))}${row?.error ? ` error ${row.error}` : ""}`);
    console.log(`self time over ${byOp ? "nnlens's wasm" : "the whole page"} (${totalMs.toFixed(0)} ms sampled):`);
    console.log(lines.join("\n"));
    process.exit(0);
  }
  const quick = args.includes("--quick");
  const result = await run({
    quick,
    rows: opt("--rows"),
    coldReps: opt("--cold") ? Number(opt("--cold")) : undefined,
    write: !quick && !opt("--rows") && !opt("--pkg") && !args.includes("--cold-only"),
    pkg: opt("--pkg") ?? undefined,
    coldOnly: args.includes("--cold-only"),
  });
  console.log(result.table);
  if (opt("--json")) await writeFile(opt("--json"), JSON.stringify(result, null, 2));
  for (const row of result.bench.rows) if (row.error) console.error(`bench: row ${row.id} failed:\n${row.error}`);
  if (result.problems.length) console.error(`bench: problems:\n  ${result.problems.join("\n  ")}`);
  const failed = result.bench.rows.some((r) => r.error) || result.problems.length > 0;
  process.exit(failed ? 1 : 0);
}

export { ROWS };
