import { setFlagsFromString } from 'node:v8';

/**
 * V8's default `--semi-space-growth-factor` (flag-definitions.h): new space doubles each time
 * it grows, from 1 MiB per semi-space up to 16 MiB.
 */
const V8_DEFAULT_GROWTH_FACTOR = 2;

/**
 * Lets V8's young generation (new space) grow again after {@link holdYoungGeneration}. Call it
 * once a long-lived process (the session server, the TUI) has started: from then on a flood of
 * pane output may grow new space as V8 likes, since a small one promotes the emulator's lines early
 * and costs more CPU than the memory is worth.
 */
export function releaseYoungGeneration(): void {
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}

/**
 * Keeps new space at the 1 MiB per semi-space it starts with. Starting is a burst of allocation
 * (the bundle's chunks, the config, the first screens) that grows new space to 8 MiB, which V8
 * gives back only under memory pressure: a server or TUI idling for days would carry it for
 * nothing (issue 12, `npm run bench` memory). `bin/orchestra` holds it before it loads the bundle;
 * the server and the TUI release it once started.
 *
 * The growth factor is read each time new space would grow (`SemiSpaceNewSpace::Grow` in V8's
 * `heap/new-spaces.cc`), so setting it at run time works; `--max-semi-space-size` is read once,
 * when the heap is set up.
 */
export function holdYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
