// Keeps the JS API reference (www/docs/api.md) in step with the package: it must name every
// export of pkg/nnlens.js, every member of each exported class and every key of each options
// interface in pkg/nnlens.d.ts, so that an addition to the API without a line in the reference
// fails the build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const reference = read("www/docs/api.md");
const declarations = read("pkg/nnlens.d.ts");

/** Whether the reference names `name` as code (inside backticks, as a word). */
function names(name) {
  const word = name.replace(/[$]/g, "\\$&");
  return new RegExp("`[^`\\n]*(?<![\\w$])" + word + "(?![\\w$])[^`\\n]*`").test(reference);
}

/** The names `nnlens.js` exports: its classes, functions and bindings (the entry re-exports the
 * glue's as `export let`), its default, and the `export { ... }` list. */
function exportedNames(module) {
  const found = [...module.matchAll(/^export (?:class|function|let) (\w+)/gm)].map((m) => m[1]);
  if (/^export default /m.test(module)) found.push("default");
  for (const list of module.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const item of list[1].split(",")) {
      const [, alias] = item.trim().match(/(?:\w+ as )?(\w+)$/);
      found.push(alias);
    }
  }
  return found;
}

/** The body of each `export class` / `export interface` named by `pattern` in the declarations. */
function blocks(kind, pattern) {
  const out = new Map();
  for (const m of declarations.matchAll(new RegExp(`^export ${kind} (\\w+)[^{]*\\{\\n([\\s\\S]*?)^\\}`, "gm"))) {
    if (pattern.test(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

/** The members a class or interface body declares (methods, getters, fields, `constructor`). */
function members(body) {
  const withoutComments = body.replace(/\/\*\*[\s\S]*?\*\//g, "");
  return [...withoutComments.matchAll(/^ {4}(?:static |readonly |private )*(\w+)\??[(:<]/gm)].map((m) => m[1]);
}

test("the reference names every export of nnlens.js", () => {
  const exported = exportedNames(read("pkg/nnlens.js"));
  assert.ok(exported.length > 25, `found only ${exported.length} exports: ${exported}`);
  assert.ok(exported.includes("default") && exported.includes("Model") && exported.includes("loadNpy"));
  assert.deepEqual(exported.filter((name) => !names(name)), [], "exports missing from www/docs/api.md");
});

test("the reference names every public member of every exported class", () => {
  const classes = blocks("class", /./);
  assert.ok(classes.size >= 7, `found ${classes.size} classes`);
  const missing = [];
  for (const [name, body] of classes) {
    const declared = members(body).filter((member) => member !== "free" && member !== "constructor");
    assert.ok(declared.length > 0, `no members parsed for ${name}`);
    for (const member of declared) if (!names(member)) missing.push(`${name}.${member}`);
  }
  assert.deepEqual(missing, [], "class members missing from www/docs/api.md");
});

test("the reference names every options interface and each of its keys", () => {
  const options = blocks("interface", /Options$|^SaliencyTarget$|^Linspace$/);
  assert.ok(options.size >= 12, `found ${options.size} options interfaces`);
  const missing = [];
  for (const [name, body] of options) {
    const keys = members(body);
    assert.ok(keys.length > 0, `no keys parsed for ${name}`);
    if (!names(name)) missing.push(name);
    for (const key of keys) if (!names(key)) missing.push(`${name}.${key}`);
  }
  assert.deepEqual(missing, [], "options missing from www/docs/api.md");
});

test("the reference names every field of every result interface", () => {
  const results = blocks("interface", /^(?!.*Options$)(?!SaliencyTarget$)(?!Linspace$)(?!InitOutput$)/);
  assert.ok(results.size >= 10, `found ${results.size} result interfaces`);
  const missing = [];
  for (const [name, body] of results) {
    for (const field of members(body)) if (!names(field)) missing.push(`${name}.${field}`);
  }
  assert.deepEqual(missing, [], "result fields missing from www/docs/api.md");
});

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The Markdown pages of the docs folder `dir`. */
function docsPages(dir) {
  return readdirSync(new URL(`../../${dir}`, import.meta.url)).filter((name) => name.endsWith(".md")).map((name) => `${dir}${name}`);
}

/** The files each embedding recipe (www/docs/recipes/) shows, from the examples the consumer tests build. */
const recipeFiles = {
  "react.md": ["react-app/vite.config.js", "react-app/index.html", "react-app/main.jsx", "react-app/App.jsx"],
  "plain-html.md": ["recipes/plain-html/index.html"],
  "mdbook.md": ["recipes/mdbook/book.toml", "recipes/mdbook/theme/head.hbs", "recipes/mdbook/src/SUMMARY.md", "recipes/mdbook/src/digits.md"],
  "sphinx.md": ["recipes/sphinx/conf.py", "recipes/sphinx/index.rst"],
  "jupyter.md": ["recipes/jupyter/no-cdn.html.j2"],
  "docusaurus.md": ["recipes/docusaurus/docusaurus.config.js", "recipes/docusaurus/src/nnlens.js", "recipes/docusaurus/docs/digits.mdx"],
};

/** The contents of the fenced code blocks of a Markdown page. */
const codeBlocks = (page) => [...page.matchAll(/```[\w-]*\n([\s\S]*?)```/g)].map((m) => m[1]);

test("every embedding recipe shows the files of the example the consumer tests build, verbatim", () => {
  assert.deepEqual(Object.keys(recipeFiles).sort(), docsPages("www/docs/recipes/").map((p) => p.split("/").pop()).sort(), "a recipe without its files");
  for (const [recipe, files] of Object.entries(recipeFiles)) {
    const blocks = codeBlocks(read(`www/docs/recipes/${recipe}`));
    for (const file of files) {
      const text = read(`tests/consumers/${file}`);
      assert.ok(blocks.includes(text.endsWith("\n") ? text : `${text}\n`), `${recipe}: ${file} is not shown as it is`);
    }
  }
  // The notebook's cell, whose source is a list of lines in the JSON.
  const cell = JSON.parse(read("tests/consumers/recipes/jupyter/digits.ipynb")).cells.find((c) => c.cell_type === "code");
  assert.ok(codeBlocks(read("www/docs/recipes/jupyter.md")).includes(`${cell.source.join("")}\n`), "jupyter.md: the cell is not shown as it is");
});

test("every relative link of the docs and the README reaches a file (and a heading)", () => {
  const pages = ["README.md", ...docsPages("www/docs/"), ...docsPages("www/docs/recipes/")];
  assert.ok(pages.length >= 6, `found ${pages}`);
  const broken = [];
  for (const page of pages) {
    const text = read(page).replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, hash] = target.split("#");
      const file = path ? new URL(path, new URL(`../../${page}`, import.meta.url)) : new URL(`../../${page}`, import.meta.url);
      if (!existsSync(file)) {
        broken.push(`${page}: ${target} (no such file)`);
      } else if (hash && file.pathname.endsWith(".md")) {
        const headings = [...readFileSync(file, "utf8").matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]));
        if (!headings.includes(hash)) broken.push(`${page}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

/** Every Rust source file under `dir`. */
function rustFiles(dir) {
  return readdirSync(new URL(`../../${dir}`, import.meta.url), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? rustFiles(`${dir}${entry.name}/`) : entry.name.endsWith(".rs") ? [`${dir}${entry.name}`] : []);
}

test("the limits table names every MAX_ constant of the source", () => {
  // Internal iteration bounds, not sizes an input asks for.
  const internal = new Set(["project/eigen.rs MAX_STEPS", "project/tsne/tree.rs MAX_DEPTH"]);
  const limits = reference.slice(reference.indexOf("## Limits"), reference.indexOf("## Errors"));
  const missing = [];
  for (const file of rustFiles("src/")) {
    for (const [, name] of read(file).matchAll(/^\s*(?:pub(?:\([a-z]+\))? )?const (MAX_\w+)/gm)) {
      if (internal.has(`${file.slice(4)} ${name}`)) continue;
      if (!new RegExp("`[\\w:]*" + name + "`").test(limits)) missing.push(`${file}: ${name}`);
    }
  }
  assert.ok(limits.length > 500, "the Limits section was found");
  assert.deepEqual(missing, [], "limits missing from www/docs/api.md's Limits table");
});
