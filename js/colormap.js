// Colormap lookup: the tables come from matplotlib (sent once by the kernel as
// K·256·3 bytes); nothing here knows any colour by heart.

export const LEVELS = 256;

/** Split the concatenated tables into a Map name → Uint8Array(256·3). */
export function splitTables(bytes, names) {
  const data = bytes instanceof DataView
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes.buffer ?? bytes, bytes.byteOffset ?? 0, bytes.byteLength);
  const size = LEVELS * 3;
  if (data.length !== names.length * size) {
    throw new RangeError(`${data.length} colormap bytes for ${names.length} tables of ${size}`);
  }
  const tables = new Map();
  names.forEach((name, k) => tables.set(name, data.slice(k * size, (k + 1) * size)));
  return tables;
}

/** "auto" picks a sequential map for magnitudes and a diverging one for signed maps. */
export function resolveName(name, signed, available) {
  const wanted = name === "auto" || !available.includes(name) ? (signed ? "bwr" : "inferno") : name;
  return available.includes(wanted) ? wanted : available[0];
}

/** The table row of a value in [0, 1], as matplotlib picks it: floor(t·N), clipped to N − 1. */
export function levelOf(unit) {
  if (!(unit > 0)) return 0;
  return Math.min(LEVELS - 1, Math.floor(unit * LEVELS));
}

/** Colour values in [0, 1] with a table: RGBA bytes (opaque). */
export function colorize(unit, table) {
  const rgba = new Uint8ClampedArray(unit.length * 4);
  for (let i = 0; i < unit.length; i += 1) {
    const row = levelOf(unit[i]) * 3;
    rgba[4 * i] = table[row];
    rgba[4 * i + 1] = table[row + 1];
    rgba[4 * i + 2] = table[row + 2];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}
