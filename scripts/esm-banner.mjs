// The banner both bundles (scripts/bundle-cli.mjs, scripts/bundle-agent.mjs) start with.

// ESM output has no `require`, `__filename` or `__dirname`; CommonJS packages bundled into it
// (and their `require('node:...')` calls, which esbuild leaves as they are) need them.
/** Defines `require`, `__filename` and `__dirname` at the top of an ESM bundle. */
export const ESM_BANNER = [
  "import { createRequire as __orchestraCreateRequire } from 'node:module';",
  "import { fileURLToPath as __orchestraFileURLToPath } from 'node:url';",
  "import { dirname as __orchestraDirname } from 'node:path';",
  'const require = __orchestraCreateRequire(import.meta.url);',
  'const __filename = __orchestraFileURLToPath(import.meta.url);',
  'const __dirname = __orchestraDirname(__filename);',
].join('\n');
