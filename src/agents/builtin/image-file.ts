/**
 * Recognising the images the Messages API takes (PNG, JPEG, GIF, WebP) by their first bytes, not
 * their names, so a `.png` that is really a JPEG goes out with the right media type. Pure.
 */

/** The media types of the API's base64 image source. */
export type ImageMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

/** Bytes {@link imageMediaType} needs to see: WebP's "WEBP" ends at byte 12. */
export const IMAGE_SIGNATURE_BYTES = 12;

/**
 * Largest base64 text the API takes for one image, in characters: 5 MiB (the API answers
 * "image exceeds 5 MB maximum: N bytes > 5242880 bytes" and counts the base64 string).
 */
export const MAX_IMAGE_BASE64_CHARS = 5 * 1024 * 1024;

/** Largest image file sent, bytes: base64 turns every 3 bytes into 4 characters (3.75 MiB). */
export const MAX_IMAGE_BYTES = (MAX_IMAGE_BASE64_CHARS / 4) * 3;

/** The media type whose signature starts `head`, or undefined when it is none of the four. */
export function imageMediaType(head: Uint8Array): ImageMediaType | undefined {
  const starts = (offset: number, bytes: readonly number[]) =>
    head.length >= offset + bytes.length && bytes.every((byte, i) => head[offset + i] === byte);
  const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
  if (starts(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts(0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts(0, ascii('GIF87a')) || starts(0, ascii('GIF89a'))) return 'image/gif';
  if (starts(0, ascii('RIFF')) && starts(8, ascii('WEBP'))) return 'image/webp';
  return undefined;
}

/** `PNG`, `JPEG`, ...: the format's name for messages. */
export function imageFormatName(mediaType: ImageMediaType): string {
  return mediaType.slice('image/'.length).toUpperCase();
}
