// Compositing in the browser: clip percentile, signed/absolute, heatmap over
// the image, and IG's interpolated input x′ + α(x − x′). Pure functions on arrays.

/** The p-th percentile (0–100) of |values|, linear interpolation between ranks as numpy's default. */
export function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = Float32Array.from(values, Math.abs).sort();
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

/**
 * A frame's values as colormap positions in [0, 1].
 * Magnitudes g·|m| / s (signed: (g·m / s + 1) / 2), where s is the clip percentile of |m|,
 * clipped — as render.normalise does in Python when the gain g is 1. A partial map drawn
 * against a whole one gets g = its scale / the whole map's scale, so it shows dimmer.
 * @returns {{unit: Float32Array, level: number}} level = s / g, the frame value at the top of the colour bar
 */
export function normalise(values, { clip = 99.5, signed = false, gain = 1 } = {}) {
  let level = percentile(values, clip);
  if (!(level > 0)) level = 1;
  const factor = gain > 0 && gain < 1 ? gain : 1;
  const unit = new Float32Array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const scaled = Math.max(-1, Math.min(1, values[i] / level)) * factor;
    unit[i] = signed ? (scaled + 1) / 2 : Math.abs(scaled);
  }
  return { unit, level: level / factor };
}

/** The gain of a partial frame drawn against the whole map (meta.reference); 1 without one. */
export function gainOf(meta) {
  const reference = Number(meta?.reference);
  const scale = Number(meta?.scale);
  return reference > 0 && scale >= 0 ? Math.min(1, scale / reference) : 1;
}

/** RGB bytes (3 per pixel) → RGBA bytes (opaque). */
export function rgbToRgba(rgb) {
  const count = rgb.length / 3;
  const rgba = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i += 1) {
    rgba[4 * i] = rgb[3 * i];
    rgba[4 * i + 1] = rgb[3 * i + 1];
    rgba[4 * i + 2] = rgb[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/** (1 − opacity)·image + opacity·heat per channel; image RGB, heat RGBA → RGBA. */
export function composite(imageRgb, heatRgba, opacity) {
  const alpha = Math.min(1, Math.max(0, opacity));
  const count = heatRgba.length / 4;
  if (imageRgb.length !== count * 3) throw new RangeError("image and heatmap sizes differ");
  const out = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i += 1) {
    for (let c = 0; c < 3; c += 1) {
      out[4 * i + c] = Math.round((1 - alpha) * imageRgb[3 * i + c] + alpha * heatRgba[4 * i + c]);
    }
    out[4 * i + 3] = 255;
  }
  return out;
}

/** IG's interpolated input x′ + α(x − x′) from RGB bytes of x and x′ → RGBA. */
export function interpolate(imageRgb, baselineRgb, alpha) {
  if (imageRgb.length !== baselineRgb.length) throw new RangeError("image and baseline sizes differ");
  const count = imageRgb.length / 3;
  const out = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i += 1) {
    for (let c = 0; c < 3; c += 1) {
      const start = baselineRgb[3 * i + c];
      out[4 * i + c] = Math.round(start + alpha * (imageRgb[3 * i + c] - start));
    }
    out[4 * i + 3] = 255;
  }
  return out;
}

/** The integer zoom that shows an image at about `target` CSS pixels, nearest-neighbour. */
export function zoomFor(width, height, target) {
  return Math.max(1, Math.floor(target / Math.max(1, width, height)));
}

/** Nearest-neighbour resampling of an H×W map to another size (e.g. a coarse map over the image). */
export function resample(values, width, height, toWidth, toHeight) {
  if (width === toWidth && height === toHeight) return values;
  const out = new Float32Array(toWidth * toHeight);
  for (let row = 0; row < toHeight; row += 1) {
    const source = Math.min(height - 1, Math.floor(((row + 0.5) * height) / toHeight));
    for (let col = 0; col < toWidth; col += 1) {
      out[row * toWidth + col] = values[source * width + Math.min(width - 1, Math.floor(((col + 0.5) * width) / toWidth))];
    }
  }
  return out;
}
