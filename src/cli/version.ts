import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** orchestra's version, from package.json (the same file for src/ under tsx and dist/). */
export const VERSION: string = packageJson.version;
