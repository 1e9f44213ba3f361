import { createHash } from "node:crypto";

/** The size the simulator renders: the requested one, its long side capped at `maxSide`, aspect kept. */
export const cappedSize = (width: number, height: number, maxSide: number): { width: number; height: number } => {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
};

/** RGB pixels derived only from prompt and seed: the same pair always gives the same picture. */
export const renderPixels = (prompt: string, seed: number, width: number, height: number): Uint8Array => {
  const h = createHash("sha256").update(`${prompt}\u0000${seed}`).digest();
  const byte = (i: number): number => h[i] ?? 0;
  const from = [byte(0), byte(1), byte(2)];
  const to = [byte(3), byte(4), byte(5)];
  const angle = (byte(6) / 255) * 2 * Math.PI;
  const rings = 2 + (byte(7) % 6);
  const cx = byte(8) / 255;
  const cy = byte(9) / 255;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / Math.max(1, width - 1);
      const v = y / Math.max(1, height - 1);
      const t = Math.min(
        1,
        Math.max(0, 0.5 + ((u - 0.5) * Math.cos(angle) + (v - 0.5) * Math.sin(angle)) / Math.SQRT2),
      );
      const ring = 0.85 + 0.15 * Math.sin(Math.hypot(u - cx, v - cy) * rings * 2 * Math.PI);
      for (let c = 0; c < 3; c++) {
        const a = from[c] ?? 0;
        const b = to[c] ?? 0;
        out[(y * width + x) * 3 + c] = Math.round((a + (b - a) * t) * ring);
      }
    }
  }
  return out;
};
