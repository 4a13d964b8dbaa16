// The declarations of nnlens/elements (pkg/elements.d.ts) as a strict consumer sees them:
// tests/types/elements-consumer.ts (tag names, events, misuse marked `@ts-expect-error`) compiles
// under `tsc --strict --lib es2022,dom` without skipLibCheck, and they declare no `any`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

test("a strict TypeScript project compiles against the elements' declarations", () => {
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  const args = [
    "--strict", "--noEmit", "--target", "es2022", "--lib", "es2022,dom",
    "--moduleResolution", "bundler", "--module", "es2022", "tests/types/elements-consumer.ts",
  ];
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`tsc ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
  }
});

test("the elements' declarations name every element and declare no any", () => {
  const declarations = readFileSync(new URL("../../pkg/elements.d.ts", import.meta.url), "utf8");
  assert.doesNotMatch(declarations, /\bany\b/);
  const source = readFileSync(new URL("../../pkg/elements.js", import.meta.url), "utf8");
  const defined = [...source.matchAll(/^ {2}"(nnlens-[a-z]+)": \w+,$/gm)].map((m) => m[1]).sort();
  const declared = [...declarations.matchAll(/^ {4}"(nnlens-[a-z]+)": \w+;$/gm)].map((m) => m[1]).sort();
  assert.equal(defined.length, 7);
  assert.deepEqual(declared, defined);
});
