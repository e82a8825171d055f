// Frame decoding: the kernel sends a normalised H×W attribution map as float16
// (little-endian) or uint8 bytes plus a JSON meta; this turns it into floats in [-1, 1].

let halfTable = null;

/** The float value of one IEEE 754 half-precision bit pattern. */
export function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function halfLookup() {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits += 1) halfTable[bits] = halfToFloat(bits);
  }
  return halfTable;
}

/** A DataView over bytes given as a DataView, an ArrayBuffer or a typed array. */
export function asDataView(bytes) {
  if (bytes instanceof DataView) return bytes;
  if (bytes instanceof ArrayBuffer) return new DataView(bytes);
  if (ArrayBuffer.isView(bytes)) return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError("frame bytes must be a DataView, an ArrayBuffer or a typed array");
}

/**
 * Decode a frame.
 * @param bytes the frame payload (H·W values, row by row)
 * @param meta {height, width, dtype: "float16" | "uint8"}
 * @returns {{height, width, values: Float32Array}} or null when there is no frame
 */
export function decodeFrame(bytes, meta) {
  if (!bytes || !meta || !meta.height || !meta.width) return null;
  const view = asDataView(bytes);
  const count = meta.height * meta.width;
  const values = new Float32Array(count);
  if (meta.dtype === "float16") {
    if (view.byteLength !== 2 * count) throw new RangeError(`float16 frame of ${view.byteLength} bytes, expected ${2 * count}`);
    const table = halfLookup();
    for (let i = 0; i < count; i += 1) values[i] = table[view.getUint16(2 * i, true)];
  } else if (meta.dtype === "uint8") {
    if (view.byteLength !== count) throw new RangeError(`uint8 frame of ${view.byteLength} bytes, expected ${count}`);
    for (let i = 0; i < count; i += 1) values[i] = view.getUint8(i) / 127.5 - 1;
  } else {
    throw new RangeError(`unknown frame dtype ${meta.dtype}`);
  }
  for (let i = 0; i < count; i += 1) if (!Number.isFinite(values[i])) values[i] = 0;
  return { height: meta.height, width: meta.width, values };
}
