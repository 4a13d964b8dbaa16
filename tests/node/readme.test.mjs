// Runs the JavaScript example of README.md as it is written, against the built package, and
// checks what it prints. A README example that stops working fails the build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

test("the README's JavaScript example runs and prints what it says", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const match = readme.match(/<!-- This example is executed by tests\/node\/readme\.test\.mjs[^>]*-->\n```js\n([\s\S]*?)```/);
  assert.ok(match, "README.md has the tested example block");
  const dir = mkdtempSync(join(tmpdir(), "nnlens-readme-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(join(root, "pkg"), join(dir, "node_modules", "nnlens"), "dir");
  writeFileSync(join(dir, "example.mjs"), match[1]);
  const out = execFileSync(process.execPath, [join(dir, "example.mjs")], { cwd: root, encoding: "utf8" });
  assert.match(out, /\[ 1, 28, 28 \] \[ 10 \]/);
  assert.match(out, /name: 'conv1'/);
  assert.match(out, /11 \[ 1, 8, 28, 28 \]/);
  assert.match(out, /input has 3 values, expected 784 \(batch 1 x input shape \[1, 28, 28\]\)/);
});
