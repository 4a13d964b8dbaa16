// Where the bytes of the nnlens wasm go: code size per crate (and the largest functions), read
// from the name section of cargo's un-stripped output
// target/wasm32-unknown-unknown/release/nnlens.wasm (the package's wasm is the same code after
// wasm-bindgen and wasm-opt -Oz, with the names stripped, so absolute numbers differ a little
// but the shares hold).
//
//   node benches/wasm-sizes.mjs [file.wasm] [--top N]

import { readFileSync } from "node:fs";

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return [value, at];
  }
}

/** `{ imports: number of imported functions, bodies: [size], names: Map(index -> name), sections }` */
export function parseWasm(bytes) {
  let at = 8;
  let importedFunctions = 0;
  const bodies = [];
  const names = new Map();
  const sections = {};
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    const end = at + size;
    let label = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"][id] ?? `section${id}`;
    if (id === 0) {
      let [len, p] = leb(bytes, at);
      const name = new TextDecoder().decode(bytes.subarray(p, p + len));
      label = `custom:${name}`;
      if (name === "name") {
        p += len;
        while (p < end) {
          const sub = bytes[p++];
          let subSize;
          [subSize, p] = leb(bytes, p);
          const subEnd = p + subSize;
          if (sub === 1) {
            let count;
            [count, p] = leb(bytes, p);
            for (let i = 0; i < count; i++) {
              let index;
              let nameLen;
              [index, p] = leb(bytes, p);
              [nameLen, p] = leb(bytes, p);
              names.set(index, new TextDecoder().decode(bytes.subarray(p, p + nameLen)));
              p += nameLen;
            }
          }
          p = subEnd;
        }
      }
    } else if (id === 2) {
      let [count, p] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        for (let s = 0; s < 2; s++) {
          let len;
          [len, p] = leb(bytes, p);
          p += len;
        }
        const kind = bytes[p++];
        if (kind === 0) {
          importedFunctions++;
          [, p] = leb(bytes, p);
        } else if (kind === 1) {
          p++;
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else if (kind === 2) {
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else if (kind === 3) {
          p += 2;
        } else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 10) {
      let [count, p] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        let len;
        [len, p] = leb(bytes, p);
        bodies.push(len);
        p += len;
      }
    }
    sections[label] = (sections[label] ?? 0) + size;
    at = end;
  }
  return { importedFunctions, bodies, names, sections };
}

/** The crate a (mangled or demangled) Rust symbol belongs to, e.g. "ndarray", "core". */
export function crateOf(name) {
  if (!name) return "(unnamed)";
  const legacy = name.match(/^_ZN(\d+)/);
  if (legacy) {
    // Legacy mangling: length-prefixed path components; `<impl X as Y>` starts with `_$LT$X..`.
    const first = name.slice(legacy[0].length, legacy[0].length + Number(legacy[1]));
    const inner = first.match(/^_\$LT\$(?:\$RF\$|mut\$u20\$|dyn\$u20\$)*([A-Za-z_][A-Za-z0-9_]*)/);
    return inner ? inner[1] : first;
  }
  const v0 = name.match(/^_R.*?C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_])/);
  if (v0) {
    const at = name.indexOf(v0[1] + v0[2], v0.index) + v0[1].length;
    return name.slice(at, at + Number(v0[1]));
  }
  const plain = name.match(/^<*([A-Za-z_][A-Za-z0-9_]*)::/);
  return plain ? plain[1] : "(other)";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const file = args.find((a) => a.endsWith(".wasm")) ?? "target/wasm32-unknown-unknown/release/nnlens.wasm";
  const top = args.includes("--top") ? Number(args[args.indexOf("--top") + 1]) : 25;
  const bytes = readFileSync(file);
  const { importedFunctions, bodies, names, sections } = parseWasm(bytes);
  if (!names.size) console.log("(no name section: use cargo's un-stripped output)");
  const total = bodies.reduce((a, b) => a + b, 0);
  const byCrate = new Map();
  const fns = bodies.map((size, i) => ({ size, name: names.get(importedFunctions + i) ?? `func${importedFunctions + i}` }));
  for (const f of fns) byCrate.set(crateOf(f.name), (byCrate.get(crateOf(f.name)) ?? 0) + f.size);
  console.log(`${file}: ${bytes.length} bytes; sections:`);
  for (const [k, v] of Object.entries(sections).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`code by crate (${fns.length} functions, ${total} bytes):`);
  for (const [k, v] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${k.padEnd(28)} ${String(v).padStart(8)}  ${((100 * v) / total).toFixed(1)}%`);
  }
  console.log(`largest functions:`);
  for (const f of fns.sort((a, b) => b.size - a.size).slice(0, top)) console.log(`  ${String(f.size).padStart(7)}  ${f.name.slice(0, 140)}`);
}
