// A plain static file server for `make demo`, the page tests and the benchmark page.
// Usage: node scripts/serve.mjs DIR [PORT] [PREFIX] [--isolated]   (PORT 0 picks a free port; the
// URL is printed; PREFIX, default "/", serves DIR under a sub-path such as "/docs/nnlens/", as a
// static host would; --isolated sends COOP/COEP, as `make demo` does)
// It serves files only (no backend), with the MIME types browsers need (application/wasm for
// streaming compilation), and refuses paths outside DIR. Isolated, every response carries
// `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`, so
// the page is cross-origin isolated (`crossOriginIsolated`, SharedArrayBuffer) and nnlens's
// init() loads the threaded build.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".u8": "application/octet-stream",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".md": "text/markdown; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
};

/** The headers that make a page cross-origin isolated (www/docs/getting-started.md, "Threads"). */
export const ISOLATION_HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

export function serve(dir, port = 0, prefix = "/", { isolated = false } = {}) {
  const isolation = isolated ? ISOLATION_HEADERS : {};
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    try {
      const url = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
      if (!url.startsWith(prefix)) {
        res.writeHead(404, { "content-type": "text/plain", ...isolation }).end("not found");
        return;
      }
      const path = "/" + url.slice(prefix.length);
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end("forbidden");
        return;
      }
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "no-cache",
        ...isolation,
      });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain", ...isolation }).end("not found");
    }
  });
  return new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const isolated = args.includes("--isolated");
  const [dir = "site", port = "8080", prefix = "/"] = args.filter((arg) => arg !== "--isolated");
  const server = await serve(dir, Number(port), prefix, { isolated });
  const how = isolated ? ", cross-origin isolated" : "";
  console.log(`nnlens: serving ${dir}/ at http://localhost:${server.address().port}${prefix}${how} (Ctrl-C to stop)`);
}
