/**
 * The first `maxBytes` (UTF-8) of `text`, cut after the last line end within them when there is
 * one, and never inside a character.
 *
 * @returns the kept text, whether anything was cut, and the size of the whole text in bytes
 */
export function cutAtLine(
  text: string,
  maxBytes: number,
): { text: string; cut: boolean; totalBytes: number } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text, cut: false, totalBytes: bytes.length };
  const head = bytes.subarray(0, maxBytes);
  const newline = head.lastIndexOf(0x0a);
  let end = newline >= 0 ? newline + 1 : maxBytes;
  // Back off continuation bytes (10xxxxxx) so a multi-byte character is never split.
  while (newline < 0 && end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return { text: bytes.subarray(0, end).toString('utf8'), cut: true, totalBytes: bytes.length };
}
