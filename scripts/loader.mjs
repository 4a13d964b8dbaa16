// Writes the package's entry module, pkg/nnlens.js, which chooses between the two builds that
// `make pkg` produces (ARCHITECTURE.md, "Two builds, one module"):
//   pkg/nnlens_single.js + pkg/nnlens_bg.wasm    the single-thread build (wasm-bindgen's glue)
//   pkg/threads/nnlens.js + pkg/threads/nnlens_bg.wasm   the threaded build, fetched only when used
// (each wasm with its relaxed-SIMD twin, nnlens_bg_relaxed.wasm, which its glue's init() may pick)
// The entry re-exports every export of the single-thread glue as a live binding (`export let`),
// so `import init, { Model } from "nnlens"` works as before; when `init()` loads the threaded
// build it rebinds them to the threaded glue's, whose classes hold that build's memory. The
// export list is read from the glue, so a new export needs no change here; the build fails if
// the threaded glue lacks one of them or the glue's shape changes.
// It also rewrites init()'s declaration in the single-thread build's declarations
// (pkg/nnlens.d.ts) to the entry's: `InitOptions` with `threads`.
//   node scripts/loader.mjs pkg/nnlens_single.js pkg/threads/nnlens.js pkg/nnlens.js pkg/nnlens.d.ts
import { readFileSync, writeFileSync } from "node:fs";

const [singleFile, threadedFile, outFile, declarationsFile] = process.argv.slice(2);

/** The names a wasm-bindgen glue exports (classes, functions, enums), without init/initSync. */
function exportsOf(file) {
  const source = readFileSync(file, "utf8");
  const names = [...source.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]);
  if (!/^export \{ initSync, __wbg_init as default \};$/m.test(source) || names.length === 0) {
    throw new Error(`${file}: not the shape of wasm-bindgen's --target web glue; update scripts/loader.mjs`);
  }
  return names;
}

const names = exportsOf(singleFile);
const threaded = new Set(exportsOf(threadedFile));
const missing = names.filter((name) => !threaded.has(name));
if (missing.length > 0) throw new Error(`${threadedFile} lacks ${missing.join(", ")}`);
if (!threaded.has("initThreadPool")) throw new Error(`${threadedFile} lacks initThreadPool (built without the threads feature?)`);

const entry = `// nnlens: the package's entry (written by scripts/loader.mjs at \`make pkg\`; ARCHITECTURE.md,
// "Two builds, one module"). It exports the single-thread build (nnlens_single.js, nnlens_bg.wasm)
// and, when init() runs in a cross-origin isolated page, loads the threaded build
// (threads/nnlens.js) instead, starts its workers and rebinds every export to it.
import * as single from "./nnlens_single.js";

${names.map((name) => `export let ${name} = single.${name};`).join("\n")}

/** Rebinds every export to the glue of the build that runs. */
function bind(glue) {
${names.map((name) => `  ${name} = glue.${name};`).join("\n")}
}

/** Whether a compiled module is the threaded build's (it imports its shared memory). */
function isThreaded(module) {
  return WebAssembly.Module.imports(module).some((entry) => entry.kind === "memory");
}

/** Threads to compute on: \`threads\` if given (capped at the cores), else every core; 1 = one. */
function threadCount(threads) {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  if (threads === undefined) return cores;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(\`nnlens: init({ threads }) expects a whole number of at least 1, got \${String(threads)}\`);
  }
  return Math.min(threads, cores);
}

/** The threaded build computing on \`count\` threads, on \`module\` (its compiled module) or
 * fetched. The thread that calls nnlens computes too (a loop is shared between it and the
 * workers: src/parallel.rs), so it starts \`count - 1\` workers (at least one). */
async function loadThreaded(module, count) {
  const glue = await import("./threads/nnlens.js");
  const output = await glue.default(module === undefined ? undefined : { module_or_path: module });
  await glue.initThreadPool(Math.max(1, count - 1));
  bind(glue);
  return output;
}

let started;

/**
 * Loads and instantiates nnlens. In a cross-origin isolated page (\`crossOriginIsolated\`) it loads
 * the threaded build and computes on \`navigator.hardwareConcurrency\` threads: the calling
 * thread and one Web Worker per other core (\`{ threads: n }\` caps them; \`threads: 1\` keeps
 * one thread); elsewhere, or given a module, path or bytes of the
 * single-thread build, it loads the single-thread build. A compiled threaded module
 * (\`threads/nnlens_bg.wasm\`) runs threaded. If the threaded build cannot start (its files are
 * missing, workers are refused), it warns and loads the single-thread build.
 * \`(await init()).memory.buffer\` is a SharedArrayBuffer when the threaded build runs.
 */
export default function init(options) {
  started ??= start(options);
  return started;
}

async function start(options) {
  const plain = options !== undefined && options !== null && Object.getPrototypeOf(options) === Object.prototype;
  const { threads, ...rest } = plain ? options : { module_or_path: options };
  const count = threadCount(threads);
  const given = await rest.module_or_path;
  const compiled = typeof WebAssembly.Module === "function" && given instanceof WebAssembly.Module;
  if (compiled && isThreaded(given)) return loadThreaded(given, count);
  if (given === undefined && globalThis.crossOriginIsolated === true && count > 1) {
    try {
      return await loadThreaded(undefined, count);
    } catch (error) {
      console.warn("nnlens: the threaded build did not start, using one thread:", error);
    }
  }
  return single.default(given === undefined ? undefined : { module_or_path: given });
}

/** Instantiates the single-thread build synchronously (Node, workers given the bytes). */
export function initSync(module) {
  return single.initSync(module);
}
`;
writeFileSync(outFile, entry);

const declarations = readFileSync(declarationsFile, "utf8");
const initDeclaration = /\/\*\*\n \* If `module_or_path` is[\s\S]*?\*\/\nexport default function __wbg_init \(module_or_path\?: \{ module_or_path: InitInput \| Promise<InitInput> \} \| InitInput \| Promise<InitInput>\): Promise<InitOutput>;/;
if (!initDeclaration.test(declarations)) {
  throw new Error(`${declarationsFile}: wasm-bindgen's declaration of init was not found; update scripts/loader.mjs`);
}
writeFileSync(declarationsFile, declarations.replace(initDeclaration, () => `/** What \`init\` takes. */
export interface InitOptions {
    /** The single-thread build's wasm (path, bytes, response or compiled module), or the
     * threaded build's compiled module; default: the build init chooses, next to this module. */
    module_or_path?: InitInput | Promise<InitInput>;
    /** At most this many threads in a cross-origin isolated page: the calling thread and
     * \`threads - 1\` Web Workers (default: every core, \`navigator.hardwareConcurrency\`); 1
     * loads the single-thread build. */
    threads?: number;
}

/**
 * Loads and instantiates nnlens. In a cross-origin isolated page (\`crossOriginIsolated\`) it
 * loads the threaded build (threads/nnlens_bg.wasm) and computes on
 * \`navigator.hardwareConcurrency\` threads (or \`threads\` if fewer): the calling thread and a
 * Web Worker for each of the others; elsewhere, or given the single-thread build's wasm, the
 * single-thread build. The API is the same either way; \`(await init()).memory.buffer\` is a
 * SharedArrayBuffer when the threaded build runs.
 */
export default function init(options?: InitOptions | InitInput | Promise<InitInput>): Promise<InitOutput>;`));
