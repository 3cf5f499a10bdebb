import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Words the generator draws from: plain ASCII mostly, some punctuation, some multi-byte UTF-8. */
const WORDS = [
  'the',
  'agent',
  'task',
  'worktree',
  'pane',
  'session',
  'build',
  'test',
  'passed',
  'failed',
  'error:',
  'warning',
  'src/server/session-server.ts:123:45',
  'const',
  'function',
  'return',
  '=>',
  '{',
  '}',
  '(x)',
  '[0]',
  '"quoted"',
  "'single'",
  '#',
  '$',
  '%',
  '&&',
  '||',
  '--flag',
  '-v',
  'café',
  'naïve',
  'über',
  'façade',
  '日本語',
  '漢字',
  'テスト',
  '→',
  '—',
  '✓',
  '✗',
  '…',
  '0',
  '42',
  '3.14159',
  '0xdeadbeef',
  '1970-01-01T00:00:00Z',
  'https://example.com/a/b?c=d',
];

/** mulberry32: a tiny seeded PRNG, so every run writes the same bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes about `bytes` bytes of "mixed text" to `path`: lines of 0 to ~200 columns built from code
 * fragments, words, numbers, paths and some multi-byte UTF-8, now and then a tab or a long line
 * that wraps. No escape sequences: it stands for `cat` of a source file or a log.
 *
 * @returns the exact number of bytes written
 */
export async function writeMixedText(path: string, bytes: number, seed = 1): Promise<number> {
  const random = prng(seed);
  const out = createWriteStream(path);
  let written = 0;
  let lineNo = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      lineNo++;
      const roll = random();
      // Lengths: many short lines, a body of medium ones, a few that wrap in a 200-column pane.
      const target =
        roll < 0.1 ? 0 : roll < 0.4 ? 20 + random() * 40 : roll < 0.95 ? 60 + random() * 60 : 220;
      let line = random() < 0.5 ? `${lineNo}: ` : random() < 0.2 ? '\t' : '';
      while (line.length < target) line += `${WORDS[Math.floor(random() * WORDS.length)]} `;
      lines.push(line.trimEnd());
    }
    const chunk = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    written += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return written;
}
