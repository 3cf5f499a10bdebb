/**
 * Import boundaries the build enforces (issue 12; STYLE.md, "orchestra's conventions"). Run by
 * `npm run lint:deps`, which `npm run build` runs first, and by test/common/import-boundaries.test.ts.
 * Type-only imports count: a cycle or a boundary crossed only for a type still couples the modules.
 */

/**
 * Pure modules: logic that must be testable without processes, sockets, Docker or the disk
 * (the wire protocol, layout math and the server's window, key tables, task parsing, cost
 * arithmetic, the container spec, the TUI's input router).
 */
const PURE = [
  '^src/protocol/',
  '^src/layout/',
  '^src/server/window\\.ts$',
  '^src/keys/',
  '^src/tasks/(task-file|markdown|naming|proposal|task-result)\\.ts$',
  '^src/agents/cost\\.ts$',
  '^src/workers/container-spec\\.ts$',
  '^src/client/input-router\\.ts$',
];

/** What a pure module may not reach, directly or through another module: core I/O and the PTY. */
const IO = ['^(node:)?(fs|fs/promises|net|child_process)$', 'node_modules/node-pty/'];

/** The Docker engine's client. */
const ENGINE = 'node_modules/dockerode/';

/**
 * The container spec is typed by the engine's create options (`import type Docker from
 * 'dockerode'`, erased by the build); a reachability rule cannot tell a type edge from a runtime
 * one, so it is held to "no runtime import of dockerode" instead, and reaches nothing else.
 */
const CONTAINER_SPEC = '^src/workers/container-spec\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles are refused: split the shared part into a module both sides import.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'client-not-server',
      comment:
        'The client reaches the server over the socket only: wire types and constants live in ' +
        'src/protocol, socket paths and locks in src/ipc.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/(server|scheduler|cli)/' },
    },
    {
      name: 'server-not-client',
      comment: 'The server does not import the client: what both use lives in src/protocol or src/ipc.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/client/' },
    },
    {
      name: 'protocol-imports-neither',
      comment: 'src/protocol is what both sides of the wire import, so it imports neither side.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/(client|server|scheduler|cli|panes)/' },
    },
    {
      name: 'pure-no-io',
      comment:
        'A pure module may not reach node:fs, node:net, node:child_process or node-pty, not even ' +
        'through another module: move the I/O to a module beside it.',
      severity: 'error',
      from: { path: PURE },
      to: { reachable: true, path: IO },
    },
    {
      name: 'pure-no-engine',
      comment: 'A pure module may not reach dockerode, not even through another module.',
      severity: 'error',
      from: { path: PURE, pathNot: CONTAINER_SPEC },
      to: { reachable: true, path: ENGINE },
    },
    {
      name: 'container-spec-types-only',
      comment: 'The container spec may use dockerode\'s types, never the client itself.',
      severity: 'error',
      from: { path: CONTAINER_SPEC },
      to: { path: ENGINE, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
