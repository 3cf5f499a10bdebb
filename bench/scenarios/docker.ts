import { execFile } from 'node:child_process';
import { link, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { defaultConfig, type WorkerConfig } from '../../src/config/schema.js';
import { ensureSocketDir } from '../../src/ipc/socket-dir.js';
import { LocalPtyProcess } from '../../src/panes/local-pty.js';
import { DEFAULT_SCROLLBACK, Pane } from '../../src/panes/pane.js';
import type { PaneExit, PaneProcess } from '../../src/panes/pane-process.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import { SessionServer } from '../../src/server/session-server.js';
import { LABEL_SESSION } from '../../src/workers/container-labels.js';
import { dockerClient, probeDocker } from '../../src/workers/docker-engine.js';
import { DockerWorker } from '../../src/workers/docker-worker.js';
import { workerImageStatus } from '../../src/workers/image.js';
import type { BenchContext } from '../lib/context.js';
import { MarkerScanner, PRINT_DONE_MARKER } from '../lib/marker.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { median, round } from '../lib/stats.js';
import { writeMixedText } from '../lib/text-fixture.js';
import { withTimeout } from '../lib/waiting.js';
import { CAT_BYTES } from './throughput.js';

const execFileAsync = promisify(execFile);

/** Start-up runs (issue 5: median of 5). */
const STARTUP_RUNS = 5;
/** Throughput runs per process kind and path (issue 5: median of 3). */
const THROUGHPUT_RUNS = 3;
/** The client size of the throughput scenario, so the figures compare. */
const COLS = 200;
const ROWS = 60;
/** One pane of a 200x60 client: the status bar takes a row. */
const PANE_SIZE = { cols: COLS, rows: ROWS - 1 };

/** The start-up command of issue 5: prints at once, then stays up until stopped. */
export const STARTUP_COMMAND = ['sh', '-c', 'echo ready; sleep 30'];
const READY = 'ready';

/** A worker that has not printed `ready` this long after create was called counts as failed, ms. */
const STARTUP_TIMEOUT_MS = 20_000;
/** One `cat` of the fixture may take this long before it counts as failed, ms. */
const RUN_TIMEOUT_MS = 60_000;
/** How long a stopped process (or its container) may take to go, ms. */
const STOP_TIMEOUT_MS = 5_000;

/** Start-up of one worker container, ms from calling `DockerWorker.create`, per run and median. */
export interface DockerStartup {
  command: string[];
  /** `create` resolved: container created, attached, started, resized and inspected. */
  createReturnedMs: number[];
  /**
   * The first output byte reached an `onData` listener. The listener can only be added once
   * `create` has returned (output before that is held and handed over then), so this is never
   * earlier than `createReturnedMs`.
   */
  firstByteMs: number[];
  /** Output containing `ready` reached the listener: create-to-first-output. */
  readyMs: number[];
  medianCreateReturnedMs: number | null;
  medianFirstByteMs: number | null;
  medianReadyMs: number | null;
  error?: string;
}

/** Where the end of a throughput run is observed. */
export type DockerThroughputPath = 'emulator' | 'client';
/** What runs in the pane. */
export type DockerProcessKind = 'local' | 'docker';

export interface DockerThroughputRow {
  /** `emulator`: a bare `Pane` (the server's emulator and flow control), no server, no client. `client`: an in-process `SessionServer` with one attached in-process `MirrorClient`. */
  path: DockerThroughputPath;
  /** `local`: `LocalPtyProcess`; `docker`: `DockerWorker` (dockerode attach stream). */
  process: DockerProcessKind;
  bytes: number;
  /** Seconds per run, from the go key to the marker being parsed (emulator) or arriving at the client. */
  runs: number[];
  medianSeconds: number;
  /** Decimal MB (10^6 bytes) per second at the median. */
  mbPerSecond: number;
  /** Client path: snapshots beyond the first per run (the server dropped output and redrew). */
  redraws?: number[];
  error?: string;
}

/** Scenario 5's figures; `skipped` says why nothing was measured (no engine, no image). */
export interface DockerResults {
  /** Engine version and where it was reached, e.g. `20.10.24 at unix:///var/run/docker.sock`. */
  engine?: string;
  image: string;
  /** The image was built from other files than the checkout's (still measured). */
  imageNote?: string;
  skipped?: string;
  startup?: DockerStartup;
  throughput?: DockerThroughputRow[];
}

/** Resolves once the text passed to `push` (in chunks split anywhere) has contained `needle`. */
class TextWaiter {
  private tail = '';
  private resolve!: (at: number) => void;
  readonly seen: Promise<number> = new Promise((resolve) => {
    this.resolve = resolve;
  });
  private done = false;

  constructor(private readonly needle: string) {}

  push(chunk: string, at: number): void {
    if (this.done) return;
    const text = this.tail + chunk;
    if (text.includes(this.needle)) {
      this.done = true;
      this.resolve(at);
      return;
    }
    this.tail = text.slice(-(this.needle.length - 1));
  }
}

/** A pane process started for a run, and how to end it (and, for Docker, remove its container). */
interface Started {
  process: PaneProcess;
  stop(): Promise<void>;
}

function exitOf(process: PaneProcess): Promise<PaneExit> {
  return new Promise((resolve) => process.onExit(resolve));
}

/** Removes every container labelled with this scenario's session (running or not); returns how many. */
async function removeSessionContainers(docker: Docker, session: string): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_SESSION}=${session}`] },
  });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  return containers.length;
}

/** Everything a scenario run needs to start workers. */
interface DockerSetup {
  ctx: BenchContext;
  docker: Docker;
  session: string;
  config: WorkerConfig;
  /** A git repository standing for the attempt's worktree; holds the fixture. */
  worktree: string;
  runDirs: string;
  /** `DockerWorker.create` calls under way: the sweep waits for them, so none adds a container after it. */
  creating: Set<Promise<unknown>>;
}

async function createWorker(
  setup: DockerSetup,
  attemptId: string,
  command: string[],
  size: { cols: number; rows: number },
): Promise<DockerWorker> {
  const runDir = join(setup.runDirs, attemptId);
  await mkdir(runDir, { recursive: true });
  const creating = DockerWorker.create({
    session: setup.session,
    taskId: 'bench',
    attemptId,
    command,
    env: { LANG: 'C.UTF-8' },
    worktree: setup.worktree,
    objectsDir: join(setup.worktree, '.git', 'objects'),
    runDir,
    config: setup.config,
    ...size,
    docker: setup.docker,
  });
  setup.creating.add(creating);
  try {
    return await creating;
  } finally {
    setup.creating.delete(creating);
  }
}

async function measureStartup(setup: DockerSetup): Promise<DockerStartup> {
  const createReturnedMs: number[] = [];
  const firstByteMs: number[] = [];
  const readyMs: number[] = [];
  const result = (error?: string): DockerStartup => ({
    command: STARTUP_COMMAND,
    createReturnedMs,
    firstByteMs,
    readyMs,
    medianCreateReturnedMs: round(median(createReturnedMs), 1),
    medianFirstByteMs: round(median(firstByteMs), 1),
    medianReadyMs: round(median(readyMs), 1),
    ...(error ? { error } : {}),
  });
  for (let i = 0; i < STARTUP_RUNS; i++) {
    let worker: DockerWorker | undefined;
    try {
      const t0 = performance.now();
      worker = await withTimeout(
        createWorker(setup, `start-${i + 1}`, STARTUP_COMMAND, PANE_SIZE),
        STARTUP_TIMEOUT_MS,
        'DockerWorker.create',
      );
      const created = performance.now();
      let firstByte: number | undefined;
      const ready = new TextWaiter(READY);
      worker.onData((data) => {
        const at = performance.now();
        firstByte ??= at;
        ready.push(data, at);
      });
      const readyAt = await withTimeout(
        ready.seen,
        Math.max(1, STARTUP_TIMEOUT_MS - (created - t0)),
        `"${READY}" from the worker`,
      );
      createReturnedMs.push(created - t0);
      firstByteMs.push((firstByte ?? readyAt) - t0);
      readyMs.push(readyAt - t0);
      setup.ctx.log(
        `  start-up run ${i + 1}: create returned ${(created - t0).toFixed(0)} ms, "${READY}" at ${(readyAt - t0).toFixed(0)} ms`,
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      setup.ctx.log(`  start-up failed: ${message}`);
      return result(message);
    } finally {
      // SIGKILL and a short grace: the stop is not measured, and `sleep 30` must not hold it up.
      await worker?.stop('SIGKILL', 1_000).catch(() => undefined);
    }
  }
  return result();
}

/**
 * How long a throughput pane idles after its marker, s: it stays up so that its exit cannot race
 * the last output, and ends by itself should a container ever outlive the run.
 */
const IDLE_AFTER_MARKER_S = 300;

/**
 * The throughput command: prints `ready`, waits for a key, then prints the fixture and the marker.
 * The key starts the clock, so process and container start-up stay out of the figure.
 */
function catCommand(file: string): string[] {
  return [
    'sh',
    '-c',
    `echo ${READY}; read go; cat '${file}'; ${PRINT_DONE_MARKER}; exec sleep ${IDLE_AFTER_MARKER_S}`,
  ];
}

async function startProcess(
  setup: DockerSetup,
  kind: DockerProcessKind,
  command: string[],
  attemptId: string,
  size: { cols: number; rows: number },
): Promise<Started> {
  if (kind === 'docker') {
    const worker = await createWorker(setup, attemptId, command, size);
    return { process: worker, stop: () => worker.stop('SIGKILL', 1_000) };
  }
  const local = new LocalPtyProcess({ command, cwd: setup.worktree, env: setup.ctx.env, ...size });
  const exited = exitOf(local);
  return {
    process: local,
    stop: async () => {
      local.kill('SIGKILL');
      await withTimeout(exited, STOP_TIMEOUT_MS, 'local pane exit');
    },
  };
}

interface RunResult {
  seconds: number;
  redraws?: number;
}

/** One run through a bare `Pane`: seconds from the go key until the emulator has parsed the marker. */
async function emulatorRun(
  setup: DockerSetup,
  kind: DockerProcessKind,
  file: string,
  attemptId: string,
): Promise<RunResult> {
  const command = catCommand(file);
  const started = await startProcess(setup, kind, command, attemptId, PANE_SIZE);
  const pane = new Pane(
    1,
    { name: 'bench', command, cwd: setup.worktree, remainOnExit: false },
    started.process,
    PANE_SIZE,
    DEFAULT_SCROLLBACK,
  );
  try {
    const ready = new TextWaiter(READY);
    const scanner = new MarkerScanner();
    pane.onOutput((data) => {
      const at = performance.now();
      ready.push(data, at);
      scanner.push(data, at);
    });
    await withTimeout(ready.seen, STARTUP_TIMEOUT_MS, `${kind} pane "${READY}"`);
    const t0 = performance.now();
    started.process.write('\r');
    const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `${kind} pane cat`);
    return { seconds: (at - t0) / 1000 };
  } finally {
    // Stop first: the pane's dispose would otherwise end a worker with SIGHUP and a 3 s grace.
    await started.stop().catch(() => undefined);
    pane.dispose();
  }
}

/** An in-process session server with one attached in-process client, for the client path. */
interface ClientRig {
  server: SessionServer;
  client: MirrorClient;
  /** Output (and snapshots) the client receives go to the current run's listener. */
  listen(listener: ((data: string, at: number) => void) | undefined): void;
  /** Closes the client, then shuts the server down (ending its panes). */
  teardown(): Promise<void>;
}

async function startClientRig(setup: DockerSetup): Promise<ClientRig> {
  const { ctx } = setup;
  const session = ctx.name('dks');
  await ensureSocketDir(ctx.env);
  const server = new SessionServer({
    session,
    socketPath: socketPath(session, ctx.env),
    version: 'bench',
    env: ctx.env,
    scrollback: DEFAULT_SCROLLBACK,
  });
  await server.listen();
  const stopServer = ctx.cleanup.add(`in-process server ${session}`, () => server.shutdown('bench done'));
  let listener: ((data: string, at: number) => void) | undefined;
  let client: MirrorClient;
  try {
    client = await MirrorClient.connect({
      session,
      env: ctx.env,
      cols: COLS,
      rows: ROWS,
      onOutput: (_pane, data, at) => listener?.(data.toString('utf8'), at),
      // After a discard-and-redraw the marker may reach the client inside a snapshot.
      onSnapshot: (_pane, snapshot, at) => listener?.(snapshot.data, at),
    });
  } catch (error) {
    await stopServer.run();
    throw error;
  }
  const connected = client;
  const closeClient = ctx.cleanup.add(`in-process client ${session}`, () => connected.close());
  await withTimeout(
    connected.waitFor(() => connected.layout !== undefined),
    10_000,
    'in-process client layout',
  );
  return {
    server,
    client: connected,
    listen: (l) => {
      listener = l;
    },
    teardown: async () => {
      await closeClient.run();
      await stopServer.run();
    },
  };
}

/** One run through the server and an attached client: seconds from the go key to the marker arriving at the client. */
async function clientRun(
  setup: DockerSetup,
  rig: ClientRig,
  kind: DockerProcessKind,
  file: string,
  attemptId: string,
): Promise<RunResult> {
  const { server, client } = rig;
  const command = catCommand(file);
  const size = server.nextPaneSize();
  const started = await startProcess(setup, kind, command, attemptId, size);
  const ready = new TextWaiter(READY);
  const scanner = new MarkerScanner();
  rig.listen((data, at) => {
    ready.push(data, at);
    scanner.push(data, at);
  });
  try {
    const pane = server.newPane({
      name: `${kind}-cat`,
      command,
      cwd: setup.worktree,
      process: () => started.process,
    });
    await withTimeout(
      client.waitFor(() => client.replayed.has(pane.id)),
      10_000,
      'client snapshot of the new pane',
    );
    await withTimeout(ready.seen, STARTUP_TIMEOUT_MS, `${kind} pane "${READY}" at the client`);
    const snapshotsBefore = client.snapshots;
    const t0 = performance.now();
    started.process.write('\r');
    const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `${kind} pane cat through the client`);
    return { seconds: (at - t0) / 1000, redraws: client.snapshots - snapshotsBefore };
  } finally {
    rig.listen(undefined);
    // The process's exit removes its pane (remainOnExit is off), as when an agent ends.
    await started.stop().catch(() => undefined);
    await withTimeout(
      client.waitFor(() => (client.layout?.panes.length ?? 0) === 0),
      STOP_TIMEOUT_MS,
      'pane removal',
    ).catch(() => undefined);
  }
}

/** Puts the 50 MB fixture into the worktree: a hard link to the throughput scenario's copy, or a new one. */
async function placeFixture(ctx: BenchContext, worktree: string): Promise<{ file: string; bytes: number }> {
  const file = join(worktree, 'mixed-50MB.txt');
  try {
    // Same generator and seed as the throughput scenario: the same bytes, without writing them twice.
    await link(join(ctx.dir, 'mixed-50MB.txt'), file);
  } catch {
    ctx.log('  writing the 50 MB fixture');
    await writeMixedText(file, CAT_BYTES);
  }
  return { file, bytes: (await stat(file)).size };
}

async function measureThroughput(setup: DockerSetup): Promise<DockerThroughputRow[]> {
  const { ctx } = setup;
  const { file, bytes } = await placeFixture(ctx, setup.worktree);
  const combos: Array<{ path: DockerThroughputPath; process: DockerProcessKind }> = [
    { path: 'emulator', process: 'local' },
    { path: 'emulator', process: 'docker' },
    { path: 'client', process: 'local' },
    { path: 'client', process: 'docker' },
  ];
  const key = (c: { path: string; process: string }) => `${c.path}/${c.process}`;
  const results = new Map<string, RunResult[]>();
  const failed = new Map<string, string>();
  let rig: ClientRig | undefined;
  try {
    try {
      rig = await startClientRig(setup);
    } catch (error) {
      const message = `in-process server and client: ${error instanceof Error ? error.message : String(error)}`;
      for (const c of combos) if (c.path === 'client') failed.set(key(c), message);
    }
    // Interleaved, so that every combination shares whatever else the machine does at the time.
    for (let i = 0; i < THROUGHPUT_RUNS; i++) {
      for (const c of combos) {
        if (failed.has(key(c))) continue;
        const attemptId = `tp-${c.path}-${i + 1}`;
        try {
          const result =
            c.path === 'emulator'
              ? await emulatorRun(setup, c.process, file, attemptId)
              : await clientRun(setup, rig!, c.process, file, attemptId);
          results.set(key(c), [...(results.get(key(c)) ?? []), result]);
          ctx.log(
            `  ${c.process.padEnd(6)} ${c.path.padEnd(8)} run ${i + 1}: ${result.seconds.toFixed(2)} s${result.redraws ? ` (${result.redraws} redraws)` : ''}`,
          );
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          ctx.log(`  ${c.process} ${c.path} failed: ${message}`);
          failed.set(key(c), message);
        }
      }
    }
  } finally {
    await rig?.teardown();
  }
  return combos.map((c) => {
    const runs = results.get(key(c)) ?? [];
    const seconds = median(runs.map((r) => r.seconds));
    const error = failed.get(key(c));
    return {
      ...c,
      bytes,
      runs: runs.map((r) => r.seconds),
      medianSeconds: seconds,
      mbPerSecond: bytes / 1e6 / seconds,
      ...(c.path === 'client' ? { redraws: runs.map((r) => r.redraws ?? 0) } : {}),
      ...(error ? { error } : {}),
    };
  });
}

/**
 * Scenario 5 (issue 5): Docker worker start-up (create-to-first-output, median of 5) and `cat` of
 * the 50 MB fixture through a worker container against a local pane, in a bare pane emulator and
 * through an in-process server with one attached in-process client (median of 3 each).
 *
 * Skips (returns `skipped`) when no engine answers or the worker image is missing. Every container
 * it makes carries an `orchestra.session` label unique to the run and is removed at the end, on
 * failure, and by the run's cleanup on Ctrl-C or the deadline.
 */
export async function runDocker(ctx: BenchContext): Promise<DockerResults> {
  const config = defaultConfig().worker;
  const probe = await probeDocker(ctx.env);
  if (!probe.reachable) {
    return { image: config.image, skipped: `no Docker engine: ${probe.reason ?? 'it did not answer'}` };
  }
  const engine = `${probe.version ?? 'unknown'} at ${probe.host}`;
  const docker = dockerClient(ctx.env);
  const image = await workerImageStatus(config.image, { docker }).catch((error: unknown) => {
    throw new Error(
      `cannot inspect ${config.image}: ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  if (!image.present) {
    return {
      engine,
      image: config.image,
      skipped: `the worker image ${config.image} is missing (build it with \`orchestra image build\`)`,
    };
  }
  const results: DockerResults = { engine, image: `${config.image} ${image.id?.slice(7, 19) ?? ''}`.trim() };
  if (image.current === false) {
    results.imageNote = `built from other files than this checkout's (label ${image.version ?? 'none'}, files ${image.expected ?? '?'}); \`orchestra image build\` refreshes it`;
  }

  const session = ctx.name('dk');
  const creating = new Set<Promise<unknown>>();
  const sweep = ctx.cleanup.add(`docker containers of ${session}`, async () => {
    // A create in flight (Ctrl-C, deadline) would add its container after the listing below.
    await withTimeout(Promise.allSettled([...creating]), 3_000, 'containers being created').catch(
      () => undefined,
    );
    const removed = await removeSessionContainers(docker, session);
    if (removed > 0) ctx.log(`  cleanup: removed ${removed} container(s) of ${session}`);
  });
  try {
    const worktree = join(ctx.dir, `${session}-worktree`);
    await mkdir(worktree, { recursive: true });
    // A real repository, so the git directory the worker mounts exists as it does for an attempt.
    await execFileAsync('git', ['init', '-q', worktree]);
    const setup: DockerSetup = {
      ctx,
      docker,
      session,
      config,
      worktree,
      runDirs: join(ctx.dir, `${session}-runs`),
      creating,
    };
    ctx.log('  start-up: create-to-first-output');
    results.startup = await measureStartup(setup);
    results.throughput = await measureThroughput(setup);
  } finally {
    await sweep.run();
  }
  return results;
}
