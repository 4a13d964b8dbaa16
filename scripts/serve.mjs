// A plain static file server for `make demo`, the page tests and the benchmark page.
// Usage: node scripts/serve.mjs DIR [PORT] [PREFIX]   (PORT 0 picks a free port; the URL is printed;
// PREFIX, default "/", serves DIR under a sub-path such as "/docs/nnlens/", as a static host would)
// It serves files only (no backend), with the MIME types browsers need (application/wasm for
// streaming compilation), and refuses paths outside DIR.
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

export function serve(dir, port = 0, prefix = "/") {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    try {
      const url = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
      if (!url.startsWith(prefix)) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
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
      });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  });
  return new Promise((ok) => server.listen(port, "127.0.0.1", () => ok(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir = "site", port = "8080", prefix = "/"] = process.argv.slice(2);
  const server = await serve(dir, Number(port), prefix);
  console.log(`nnlens: serving ${dir}/ at http://localhost:${server.address().port}${prefix} (Ctrl-C to stop)`);
}
