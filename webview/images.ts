/**
 * Images from tool results: shown only for ALLOWED_IMAGE_TYPES, only when the bytes really are
 * that format, and only through blob: URLs made here from the base64 — never from a URL string
 * in the data. The URLs are revoked when the detail pane changes.
 */
import { ALLOWED_IMAGE_TYPES } from '../src/shared/protocol';

export type ImageDecision = { show: true; mime: string; bytes: Uint8Array } | { show: false; mime: string; reason: string };

/** Largest image decoded (base64 of a bigger one is not turned into a blob). */
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;

export function isAllowedImageType(mime: string): boolean {
  return (ALLOWED_IMAGE_TYPES as readonly string[]).includes(mime);
}

export function decideImage(mimeType: unknown, data: unknown): ImageDecision {
  const mime = typeof mimeType === 'string' ? mimeType.trim().toLowerCase() : '';
  if (!isAllowedImageType(mime)) return { show: false, mime: typeof mimeType === 'string' ? mimeType : 'unknown type', reason: 'type not displayed' };
  if (typeof data !== 'string' || data.length === 0) return { show: false, mime, reason: 'no data' };
  if (data.length > (MAX_IMAGE_BYTES * 4) / 3 + 4) return { show: false, mime, reason: 'too large to display' };
  const bytes = decodeBase64(data);
  if (!bytes) return { show: false, mime, reason: 'invalid base64' };
  if (!sniff(bytes, mime)) return { show: false, mime, reason: 'content is not a valid ' + mime };
  return { show: true, mime, bytes };
}

export function decodeBase64(s: string): Uint8Array | undefined {
  const clean = s.replace(/[\s]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) return undefined;
  try {
    const bin = atob(clean);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** Checks the magic bytes match the declared type. */
export function sniff(b: Uint8Array, mime: string): boolean {
  const at = (i: number): number => b[i] ?? -1;
  switch (mime) {
    case 'image/png':
      return at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47 && at(4) === 0x0d && at(5) === 0x0a && at(6) === 0x1a && at(7) === 0x0a;
    case 'image/jpeg':
      return at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff;
    case 'image/gif':
      return at(0) === 0x47 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x38;
    case 'image/webp':
      return at(0) === 0x52 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x46 && at(8) === 0x57 && at(9) === 0x45 && at(10) === 0x42 && at(11) === 0x50;
    default:
      return false;
  }
}
