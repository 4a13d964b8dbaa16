// A minimal ONNX writer: just enough protobuf to express an MLP (Gemm + Relu) with float
// weights, and to add a graph output to an existing model (the cold-start page of
// onnxruntime-web reads the first activation that way). Field numbers are those of onnx.proto
// (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1;
const ATTR_INT = 2;

class Writer {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  bytes(b) {
    this.parts.push(b);
    this.length += b.length;
  }
  varint(v) {
    const out = [];
    let n = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    this.bytes(Uint8Array.from(out));
  }
  tag(field, wire) {
    this.varint((field << 3) | wire);
  }
  int(field, v) {
    this.tag(field, 0);
    this.varint(v);
  }
  float(field, v) {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  blob(field, b) {
    this.tag(field, 2);
    this.varint(b.length);
    this.bytes(b);
  }
  string(field, s) {
    this.blob(field, new TextEncoder().encode(s));
  }
  message(field, build) {
    const inner = new Writer();
    build(inner);
    this.blob(field, inner.finish());
  }
  finish() {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function littleEndianBytes(f32) {
  const copy = Float32Array.from(f32);
  return new Uint8Array(copy.buffer);
}

function tensor(w, name, dims, data) {
  for (const d of dims) w.int(1, d);
  w.int(2, FLOAT);
  w.string(8, name);
  w.blob(9, littleEndianBytes(data));
}

/** ValueInfoProto of a float tensor; `dims` holds numbers or a string for a symbolic axis. */
function valueInfo(w, name, dims) {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (t) => {
      t.int(1, FLOAT);
      t.message(2, (shape) => {
        for (const d of dims) {
          shape.message(1, (dim) => (typeof d === "string" ? dim.string(2, d) : dim.int(1, d)));
        }
      });
    }),
  );
}

function node(w, op, inputs, outputs, name, attrs = []) {
  for (const i of inputs) w.string(1, i);
  for (const o of outputs) w.string(2, o);
  w.string(3, name);
  w.string(4, op);
  for (const [attrName, kind, value] of attrs) {
    w.message(5, (a) => {
      a.string(1, attrName);
      if (kind === ATTR_FLOAT) a.float(2, value);
      else a.int(3, value);
      a.int(20, kind);
    });
  }
}

/**
 * ONNX bytes (opset 13, IR 8) of a chain of dense layers given as
 * `[{ weight: Float32Array [out*in], bias: Float32Array [out], in, out, relu }]`, PyTorch layout
 * (`Gemm` with `transB = 1`), input "input" `[batch, in]`, output "output" `[batch, out]`.
 */
export function mlpToOnnx(layers) {
  const m = new Writer();
  m.int(1, 8); // ir_version
  m.string(2, "nnlens-bench");
  m.message(7, (g) => {
    let current = "input";
    layers.forEach((layer, k) => {
      const last = k === layers.length - 1;
      const gemmOut = last && !layer.relu ? "output" : `fc${k + 1}`;
      g.message(1, (n) =>
        node(n, "Gemm", [current, `fc${k + 1}.weight`, `fc${k + 1}.bias`], [gemmOut], `gemm${k + 1}`, [
          ["alpha", ATTR_FLOAT, 1],
          ["beta", ATTR_FLOAT, 1],
          ["transB", ATTR_INT, 1],
        ]),
      );
      current = gemmOut;
      if (layer.relu) {
        const reluOut = last ? "output" : `fc${k + 1}.relu`;
        g.message(1, (n) => node(n, "Relu", [current], [reluOut], `relu${k + 1}`));
        current = reluOut;
      }
    });
    g.string(2, "mlp");
    layers.forEach((layer, k) => {
      g.message(5, (t) => tensor(t, `fc${k + 1}.weight`, [layer.out, layer.in], layer.weight));
      g.message(5, (t) => tensor(t, `fc${k + 1}.bias`, [layer.out], layer.bias));
    });
    g.message(11, (v) => valueInfo(v, "input", ["batch", layers[0].in]));
    g.message(12, (v) => valueInfo(v, "output", ["batch", layers[layers.length - 1].out]));
  });
  m.message(8, (o) => {
    o.string(1, "");
    o.int(2, 13);
  });
  return m.finish();
}

/** Reads one varint at `at`; returns [value, next offset]. */
function readVarint(bytes, at) {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    const b = bytes[at++];
    if (b === undefined) throw new Error("truncated protobuf varint");
    value |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (!(b & 0x80)) return [value, at];
  }
}

/** The top-level fields of a protobuf message: [{ field, wire, start, end, payload }]. */
function fields(bytes) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    const start = at;
    let key;
    [key, at] = readVarint(bytes, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let payload = null;
    if (wire === 0) [, at] = readVarint(bytes, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let len;
      [len, at] = readVarint(bytes, at);
      payload = bytes.subarray(at, at + Number(len));
      at += Number(len);
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push({ field, wire, start, end: at, payload });
  }
  return out;
}

/**
 * Returns a copy of ONNX model `bytes` with an extra graph output `name` of float type and
 * shape `dims` (the value must exist in the graph, e.g. an intermediate activation).
 */
export function addOutput(bytes, name, dims) {
  const m = new Writer();
  let found = false;
  for (const f of fields(bytes)) {
    if (f.field === 7 && f.wire === 2) {
      found = true;
      const g = new Writer();
      g.bytes(f.payload);
      g.message(12, (v) => valueInfo(v, name, dims));
      m.blob(7, g.finish());
    } else {
      m.bytes(bytes.subarray(f.start, f.end));
    }
  }
  if (!found) throw new Error("not an ONNX model: no graph field");
  return m.finish();
}

/**
 * Returns a copy of ONNX model `bytes` whose initializers named in `data` (a Map from name to
 * Float32Array) hold those values as `raw_data`, replacing any data they had (the torchvision
 * fixtures ship their weights stripped: lib/torchvision.js regenerates them).
 */
export function withInitializerData(bytes, data) {
  const filled = new Set();
  const tensorWithData = (payload) => {
    const name = fields(payload).find((f) => f.field === 8 && f.wire === 2);
    const key = name && new TextDecoder().decode(name.payload);
    if (!data.has(key)) return payload;
    filled.add(key);
    const t = new Writer();
    for (const f of fields(payload)) {
      // raw_data (9) and float_data (4) are replaced by the new raw_data.
      if (f.field !== 9 && f.field !== 4) t.bytes(payload.subarray(f.start, f.end));
    }
    t.blob(9, littleEndianBytes(data.get(key)));
    return t.finish();
  };
  const m = new Writer();
  for (const f of fields(bytes)) {
    if (f.field === 7 && f.wire === 2) {
      const g = new Writer();
      for (const gf of fields(f.payload)) {
        if (gf.field === 5 && gf.wire === 2) g.blob(5, tensorWithData(gf.payload));
        else g.bytes(f.payload.subarray(gf.start, gf.end));
      }
      m.blob(7, g.finish());
    } else {
      m.bytes(bytes.subarray(f.start, f.end));
    }
  }
  const missing = [...data.keys()].filter((k) => !filled.has(k));
  if (missing.length) throw new Error(`ONNX model has no initializer ${missing.join(", ")}`);
  return m.finish();
}

/** `bytes` (a message) with every length-delimited field `field` replaced by `edit(payload)`
 * (`null`: dropped). */
function editFields(bytes, field, edit) {
  const w = new Writer();
  for (const f of fields(bytes)) {
    if (f.field !== field || f.wire !== 2) {
      w.bytes(bytes.subarray(f.start, f.end));
      continue;
    }
    const payload = edit(f.payload);
    if (payload) w.blob(field, payload);
  }
  return w.finish();
}

/**
 * Returns a copy of ONNX model `bytes` whose graph inputs have spatial size `height × width`
 * (axes 2 and 3 of a 4-D input), without the graph's intermediate shapes (`value_info`, which
 * the exporter recorded for its own input size): for models exported with a fixed image size
 * whose operations do not depend on it.
 */
export function withInputSize(bytes, height, width) {
  const resize = (shape) => {
    let axis = 0;
    return editFields(shape, 1, (dim) => {
      const size = [null, null, height, width][axis++];
      if (size === null) return dim;
      const d = new Writer();
      d.int(1, size);
      return d.finish();
    });
  };
  // ValueInfoProto.type (2) → TypeProto.tensor_type (1) → shape (2).
  const input = (info) => editFields(info, 2, (type) => editFields(type, 1, (tensor) => editFields(tensor, 2, resize)));
  return editFields(bytes, 7, (graph) => editFields(editFields(graph, 13, () => null), 11, input));
}
