import type { AttachRow } from '../scenarios/attach.js';
import type { DockerResults, DockerThroughputRow } from '../scenarios/docker.js';
import type { EchoRow } from '../scenarios/echo-latency.js';
import type { MemoryRow } from '../scenarios/memory.js';
import type { ThroughputRow } from '../scenarios/throughput.js';

/** Targets printed next to the figures (from the benchmark's brief). */
export const TARGETS = {
  /** orchestra's throughput must be at least tmux's, per workload. */
  throughputVsTmux: 1,
  echoP99Ms: 5,
  attachMs: 150,
  /** Decimal megabytes per idle pane. */
  idlePaneMB: 10,
} as const;

type Failed = { error: string };

/** Everything one run measured; written as-is to bench/out/results.json. */
export interface BenchResults {
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    tmux: string;
    /** 1, 5 and 15-minute load averages: other work on the machine makes figures noisier. */
    loadAverageAtStart: number[];
    loadAverageAtEnd?: number[];
  };
  warning?: string;
  durationSeconds: number;
  throughput?: ThroughputRow[] | Failed;
  echo?: EchoRow[] | Failed;
  attach?: AttachRow[] | Failed;
  memory?: MemoryRow[] | Failed;
  /** Docker workers (issue 5); `skipped` set when no engine or image was there. */
  docker?: DockerResults | Failed;
  /** PASS/MISS per target, as printed. */
  targets?: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  value: string;
  pass: boolean | null;
}

/** Formats rows as aligned columns; numbers (and 'PASS'/'MISS' cells) are right-aligned. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (cell: string) => /^([-\d.,×]+( ms| s| MiB)?|—)$/.test(cell);
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const fixed = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

const verdict = (pass: boolean | null) => (pass === null ? 'n/a' : pass ? 'PASS' : 'MISS');

const isFailed = (value: unknown): value is Failed =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'error' in value;

const SYSTEM_LABELS: Record<string, string> = {
  orchestra: 'orchestra',
  'orchestra-tui': 'orchestra TUI',
  tmux: 'tmux',
  'raw-pty': 'raw PTY',
};

/** Row order inside a workload. */
const SYSTEM_ORDER = ['orchestra', 'orchestra-tui', 'tmux', 'raw-pty'];

function throughputSection(unsorted: ThroughputRow[], checks: TargetCheck[]): string[] {
  const workloads = [...new Set(unsorted.map((r) => r.workload))];
  const rows = [...unsorted].sort(
    (a, b) =>
      workloads.indexOf(a.workload) - workloads.indexOf(b.workload) ||
      SYSTEM_ORDER.indexOf(a.system) - SYSTEM_ORDER.indexOf(b.system),
  );
  const body: string[][] = [];
  let previous = '';
  for (const r of rows) {
    const tmux = rows.find((t) => t.workload === r.workload && t.system === 'tmux');
    let target = '';
    if (r.system.startsWith('orchestra')) {
      const ratio = tmux && Number.isFinite(tmux.mbPerSecond) ? r.mbPerSecond / tmux.mbPerSecond : Number.NaN;
      const pass = Number.isFinite(ratio) ? ratio >= TARGETS.throughputVsTmux : null;
      target = `${verdict(pass)} (${fixed(ratio, 2)}× tmux)`;
      checks.push({
        target: `throughput ≥ tmux: ${r.workload}, ${SYSTEM_LABELS[r.system]}`,
        value: `${fixed(r.mbPerSecond, 1)} vs ${fixed(tmux?.mbPerSecond, 1)} MB/s`,
        pass,
      });
    }
    body.push([
      r.workload === previous ? '' : r.workload,
      SYSTEM_LABELS[r.system] ?? r.system,
      r.error ? 'failed' : `${fixed(r.medianSeconds, 2)} s`,
      fixed(r.mbPerSecond, 1),
      r.runs.map((s) => s.toFixed(2)).join(' '),
      r.redraws ? r.redraws.join(' ') : '',
      target + (r.error ? ` error: ${r.error}` : ''),
    ]);
    previous = r.workload;
  }
  return [
    '1. Throughput: one pane prints the workload while one client is attached (median of the runs)',
    ...table(['workload', 'system', 'median', 'MB/s', 'runs (s)', 'redraws', 'target ≥ tmux'], body),
    '  redraws: times the server dropped output for the client and sent a fresh snapshot instead.',
  ];
}

function echoSection(unsorted: EchoRow[], checks: TargetCheck[]): string[] {
  const pacings = [...new Set(unsorted.map((r) => r.pacing))];
  const rows = [...unsorted].sort(
    (a, b) =>
      pacings.indexOf(a.pacing) - pacings.indexOf(b.pacing) ||
      SYSTEM_ORDER.indexOf(a.system) - SYSTEM_ORDER.indexOf(b.system),
  );
  let previous = '';
  const body = rows.map((r) => {
    const pass = r.p99Ms === null ? null : r.p99Ms < TARGETS.echoP99Ms;
    if (r.system !== 'tmux') {
      checks.push({
        target: `echo p99 < ${TARGETS.echoP99Ms} ms, ${SYSTEM_LABELS[r.system]}, ${r.pacing}`,
        value: `${fixed(r.p99Ms, 2)} ms`,
        pass,
      });
    }
    const cells = [
      r.pacing === previous ? '' : r.pacing,
      SYSTEM_LABELS[r.system] ?? r.system,
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      fixed(r.maxMs, 2),
      String(r.keys),
      r.system === 'tmux' ? '' : verdict(pass),
      r.error ? `error: ${r.error}` : r.path,
    ];
    previous = r.pacing;
    return cells;
  });
  return [
    '2. Keystroke echo latency: `cat` in a pane; each key sent after the previous echo arrived',
    ...table(
      ['keys sent', 'system', 'p50 ms', 'p99 ms', 'max ms', 'keys', `p99 < ${TARGETS.echoP99Ms} ms`, 'path'],
      body,
    ),
    '  back-to-back: the next key right after the echo (the target applies here); paced: 40 ms pause',
    '  before each key. tmux draws straight to its client terminal; orchestra TUI parses, then draws.',
  ];
}

function attachSection(rows: AttachRow[], checks: TargetCheck[]): string[] {
  const body = rows.map((r) => {
    const pass = r.medianMs === null ? null : r.medianMs < TARGETS.attachMs;
    if (r.system !== 'tmux attach') {
      checks.push({
        target: `attach < ${TARGETS.attachMs} ms at 16 panes, ${r.system}`,
        value: `${fixed(r.medianMs, 1)} ms`,
        pass,
      });
    }
    return [
      r.system,
      fixed(r.medianMs, 1),
      r.runsMs.map((v) => v.toFixed(1)).join(' '),
      r.firstOutputMedianMs === undefined ? '' : fixed(r.firstOutputMedianMs, 1),
      r.system === 'tmux attach' ? '' : verdict(pass),
      r.error ? `error: ${r.error}` : r.measure,
    ];
  });
  return [
    '3. Attach: 16 panes, each with 10,000 lines of history, client 200x60 (median of 5)',
    ...table(
      ['system', 'median ms', 'runs (ms)', 'first output ms', `< ${TARGETS.attachMs} ms`, 'complete when'],
      body,
    ),
    '  first output: median time from spawning the client to its first byte on the PTY (process start-up',
    '  and connecting); the rest of the median is receiving, replaying and drawing the 16 panes.',
  ];
}

function memorySection(rows: MemoryRow[], checks: TargetCheck[]): string[] {
  const body = rows.map((r) => {
    const perPaneMB = r.perIdlePaneMiB === null ? null : (r.perIdlePaneMiB * 2 ** 20) / 1e6;
    const pass = perPaneMB === null ? null : perPaneMB < TARGETS.idlePaneMB;
    if (r.system === 'orchestra') {
      checks.push({
        target: `< ${TARGETS.idlePaneMB} MB per idle pane, orchestra`,
        value: `${fixed(perPaneMB, 2)} MB`,
        pass,
      });
    }
    return [
      r.system,
      fixed(r.rssMiB['0'], 1),
      fixed(r.rssMiB['1'], 1),
      fixed(r.rssMiB['16'], 1),
      fixed(r.rssMiB['64'], 1),
      fixed(r.perIdlePaneMiB, 2),
      r.system === 'orchestra' ? verdict(pass) : '',
      fixed(r.perHistoryPaneMiB, 1),
      r.history ? `${fixed(r.history.beforeMiB, 1)} → ${fixed(r.history.afterMiB, 1)}` : '—',
      [r.windows && r.windows > 1 ? `${r.windows} windows` : '', r.error ? `error: ${r.error}` : '']
        .filter(Boolean)
        .join('; '),
    ];
  });
  return [
    '4. Memory: server RSS (VmRSS, MiB) with idle panes (`sleep`), 200x60 tiled; history: 4 panes of 80 columns',
    ...table(
      [
        'system',
        '0 panes',
        '1 pane',
        '16 panes',
        '64 panes',
        'per idle pane',
        `< ${TARGETS.idlePaneMB} MB`,
        'per full history',
        'history RSS (4 panes)',
        'notes',
      ],
      body,
    ),
    '  per idle pane = (RSS64 − RSS1) / 63; per full history = RSS growth when a pane fills its 10,000-line',
    '  history with 80-column lines, divided over the 4 panes filled. tmux has no 0-pane figure (a session needs a pane).',
  ];
}

const PROCESS_LABELS: Record<DockerThroughputRow['process'], string> = {
  local: 'local pane',
  docker: 'docker worker',
};

const PATH_LABELS: Record<DockerThroughputRow['path'], string> = {
  emulator: 'pane emulator',
  client: 'in-process client',
};

/** True when the Docker scenario ran and could not measure something (skipping is not failing). */
export function dockerFailed(docker: DockerResults | Failed | undefined): boolean {
  if (docker === undefined) return false;
  if (isFailed(docker)) return true;
  if (docker.skipped !== undefined) return false;
  return docker.startup?.error !== undefined || (docker.throughput ?? []).some((r) => r.error !== undefined);
}

/** argv as a shell would take it: words other than plain ones in single quotes. */
function shellWords(argv: readonly string[]): string {
  return argv.map((w) => (/^[\w./=-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function dockerSection(d: DockerResults): string[] {
  const title = `5. Docker workers: ${d.engine ? `engine ${d.engine}, ` : ''}image ${d.image}`;
  if (d.skipped !== undefined) return [title, `  skipped — ${d.skipped}`];
  const out = [title];
  if (d.imageNote) out.push(`  note: the image was ${d.imageNote}`);
  const s = d.startup;
  if (s) {
    const runs = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
    out.push(
      `  create to first output: DockerWorker.create with \`${shellWords(s.command)}\` (ms from the call, median of 5)`,
      ...table(
        ['step', 'median ms', 'runs (ms)'],
        [
          ['create returned', fixed(s.medianCreateReturnedMs, 1), runs(s.createReturnedMs)],
          ['first output byte', fixed(s.medianFirstByteMs, 1), runs(s.firstByteMs)],
          ['"ready" received', fixed(s.medianReadyMs, 1), runs(s.readyMs)],
        ],
      ),
      '  create returned: container created, attached, started, resized and inspected. Output is held until',
      '  the first listener, which can only be added once create returns: the first byte is never earlier.',
    );
    if (s.error) out.push(`  start-up error: ${s.error}`);
  }
  const rows = d.throughput ?? [];
  if (rows.length > 0) {
    let previous = '';
    const errors = rows.some((r) => r.error !== undefined);
    const body = rows.map((r) => {
      const local = rows.find((l) => l.path === r.path && l.process === 'local');
      const ratio =
        r.process === 'docker' && local && Number.isFinite(local.mbPerSecond)
          ? `${fixed(r.mbPerSecond / local.mbPerSecond, 2)}×`
          : '';
      const cells = [
        r.path === previous ? '' : PATH_LABELS[r.path],
        PROCESS_LABELS[r.process],
        r.error && r.runs.length === 0 ? 'failed' : `${fixed(r.medianSeconds, 2)} s`,
        fixed(r.mbPerSecond, 1),
        r.runs.map((v) => v.toFixed(2)).join(' '),
        r.redraws ? r.redraws.join(' ') : '',
        ratio,
        ...(errors ? [r.error ? `error: ${r.error}` : ''] : []),
      ];
      previous = r.path;
      return cells;
    });
    const bytes = rows[0]?.bytes ?? 0;
    out.push(
      '',
      `  throughput: \`cat\` of the ${fixed(bytes / 1e6, 1)} MB text fixture in a 200x59 pane, from the go key (median of 3)`,
      ...table(
        [
          'measured at',
          'process',
          'median',
          'MB/s',
          'runs (s)',
          'redraws',
          'vs local',
          ...(errors ? ['notes'] : []),
        ],
        body,
      ),
      '  pane emulator: a bare Pane (emulator and flow control, no server) has parsed the marker.',
      '  in-process client: the marker reached one MirrorClient attached to an in-process SessionServer; server',
      '  and client share this one thread (a real `orchestra server` is its own process), so these rows do not',
      '  compare with section 1; compare local with docker within a pair.',
    );
  }
  return out;
}

/**
 * The printed report: one table per scenario, then every target with PASS/MISS. Fills
 * `results.targets` with the same verdicts.
 */
export function formatReport(results: BenchResults): string {
  const m = results.machine;
  const out: string[] = [
    '',
    `orchestra benchmark — ${results.date} — ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.tmux} — took ${results.durationSeconds} s`,
  ];
  out.push(
    `load average (1/5/15 min) at start ${m.loadAverageAtStart.join(' ')}${m.loadAverageAtEnd ? `, at end ${m.loadAverageAtEnd.join(' ')}` : ''}`,
  );
  if (results.warning) out.push(`warning: ${results.warning}`);
  const checks: TargetCheck[] = [];
  const section = <T>(value: T[] | Failed | undefined, title: string, render: (rows: T[]) => string[]) => {
    if (value === undefined) return;
    out.push('');
    if (isFailed(value)) out.push(`${title}: FAILED — ${value.error}`);
    else out.push(...render(value));
  };
  section(results.throughput, '1. Throughput', (rows) => throughputSection(rows, checks));
  section(results.echo, '2. Keystroke echo latency', (rows) => echoSection(rows, checks));
  section(results.attach, '3. Attach', (rows) => attachSection(rows, checks));
  section(results.memory, '4. Memory', (rows) => memorySection(rows, checks));
  if (results.docker !== undefined) {
    out.push('');
    if (isFailed(results.docker)) out.push(`5. Docker workers: FAILED — ${results.docker.error}`);
    else out.push(...dockerSection(results.docker));
  }
  results.targets = checks;
  if (checks.length > 0) {
    out.push('', 'Targets');
    out.push(
      ...table(
        ['target', 'orchestra', 'verdict'],
        checks.map((c) => [c.target, c.value, verdict(c.pass)]),
      ),
    );
  }
  return out.join('\n');
}
