// Renders the site's Markdown docs to HTML pages: `node scripts/render-docs.mjs site/docs`.
//
// Every `*.md` under the directory gets an `*.html` beside it (`README.md` becomes `index.html`),
// rendered by `marked` (GitHub-flavoured Markdown: tables, fenced code) with GitHub's heading
// anchors (`marked-gfm-heading-id`), so that the links the Markdown already uses
// (`api.md#drawing`) work once `.md` becomes `.html`. The Markdown files stay beside the pages.
//
// Links:
// - to another docs page (`x.md`, `x.md#heading`, `../elements.md`): to its `.html` page;
// - to a file inside the site (examples, the Playground): unchanged;
// - to a file of the repository outside the site (`../../../tests/consumers/recipes/...`): not a
//   link on the site, where that file does not exist; its text stays, with the repository path
//   beside it (or as its title when the text is the path).
//
// Each page carries the site's Content-Security-Policy (no script at all: the pages are static
// text) and a link to `docs.css`, written once into the directory.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, posix, relative, resolve } from "node:path";
import { Marked } from "marked";
import { gfmHeadingId } from "marked-gfm-heading-id";

const CSP = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'none'";

const STYLE = `:root {
  --bg: #f7f7f5; --panel: #fff; --ink: #1d1f23; --muted: #666b73; --line: #dedfe3; --accent: #3a5ccc;
  --code-bg: #f0f1f4;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.55; }
nav { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; padding: 12px 20px;
  border-bottom: 1px solid var(--line); background: var(--panel); }
nav .brand { font-weight: 700; font-size: 1.1rem; color: var(--ink); text-decoration: none; }
main { max-width: 860px; margin: 0 auto; padding: 8px 20px 48px; }
a { color: var(--accent); }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6em 0 .5em; }
h1 { font-size: 1.9rem; } h2 { font-size: 1.4rem; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; background: var(--code-bg);
  padding: .1em .3em; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--code-bg); padding: 12px 14px; border-radius: 8px; overflow-x: auto; line-height: 1.4; }
pre code { background: none; padding: 0; overflow-wrap: normal; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 1em 0; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: var(--panel); }
img { max-width: 100%; }
blockquote { margin: 1em 0; padding: 0 1em; border-left: 4px solid var(--line); color: var(--muted); }
`;

/** Every Markdown file under `dir`, recursively. */
function markdownFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith(".md") ? [path] : [];
  });
}

/** The page a Markdown file becomes: `README.md` is its directory's `index.html`. */
function pageName(markdown) {
  return basename(markdown) === "README.md" ? "index.html" : basename(markdown).replace(/\.md$/, ".html");
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** A renderer for the Markdown file `file` of a site whose root is `siteRoot`. */
function markedFor(file, siteRoot) {
  const marked = new Marked({ gfm: true });
  marked.use(gfmHeadingId());
  marked.use({
    renderer: {
      link({ href, title, tokens }) {
        const text = this.parser.parseInline(tokens);
        if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("#")) {
          return `<a href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ""}>${text}</a>`;
        }
        const [path, hash] = href.split("#");
        const target = resolve(dirname(file), path);
        if (relative(siteRoot, target).startsWith("..")) {
          const inRepository = posix.normalize(relative(resolve(siteRoot, ".."), target).split("\\").join("/"));
          const path = escapeHtml(inRepository.replace(/^(\.\.\/)+/, ""));
          const shown = text.replace(/<[^>]*>/g, "").replace(/\/$/, "");
          const title = `title="in the nnlens repository: ${path}"`;
          return shown.endsWith(path.replace(/\/$/, "")) ? `<span ${title}>${text}</span>` : `${text} (<code ${title}>${path}</code>)`;
        }
        const rewritten = path.endsWith(".md") ? path.replace(/[^/]*\.md$/, pageName(path)) : path;
        const url = hash ? `${rewritten}#${hash}` : rewritten;
        return `<a href="${escapeHtml(url)}"${title ? ` title="${escapeHtml(title)}"` : ""}>${text}</a>`;
      },
    },
  });
  return marked;
}

/** The HTML page of one Markdown file. */
function page(file, docsRoot, siteRoot) {
  const markdown = readFileSync(file, "utf8");
  const body = markedFor(file, siteRoot).parse(markdown);
  const heading = markdown.match(/^# (.*)$/m);
  const title = heading ? heading[1].replace(/[`*_]/g, "") : basename(file, ".md");
  const up = posix.relative(posix.dirname(relative(docsRoot, file).split("\\").join("/")), ".") || ".";
  const toSite = posix.relative(posix.dirname(relative(siteRoot, file).split("\\").join("/")), ".") || ".";
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta http-equiv="Content-Security-Policy" content="${CSP}">
  <title>${escapeHtml(title)} · nnlens docs</title>
  <link rel="stylesheet" href="${up}/docs.css">
  <link rel="icon" href="data:,">
</head>
<body>
  <nav aria-label="site">
    <a class="brand" href="${up}/index.html">nnlens docs</a>
    <a href="${toSite}/index.html">Explorer</a>
    <a href="${toSite}/playground.html">Playground</a>
    <a href="${escapeHtml(basename(file))}">Markdown source</a>
  </nav>
  <main>
${body}  </main>
</body>
</html>
`;
}

const docsRoot = resolve(process.argv[2] ?? "site/docs");
const siteRoot = resolve(docsRoot, "..");
const files = markdownFiles(docsRoot);
for (const file of files) {
  writeFileSync(join(dirname(file), pageName(file)), page(file, docsRoot, siteRoot));
}
writeFileSync(join(docsRoot, "docs.css"), STYLE);
console.log(`render-docs: ${files.length} pages in ${relative(process.cwd(), docsRoot) || "."}`);
