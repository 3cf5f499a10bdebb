import type { AttachRow } from '../scenarios/attach.js';
import type { CommandRow } from '../scenarios/commands.js';
import type { DockerResults, DockerThroughputRow } from '../scenarios/docker.js';
import type { EchoRow } from '../scenarios/echo-latency.js';
import type { MemoryRow } from '../scenarios/memory.js';
import type { PackageCacheResults } from '../scenarios/package-cache.js';
import type { ThroughputRow } from '../scenarios/throughput.js';

/** The "Done when" targets of issue 12, checked in the summary. */
export const TARGETS = {
  /** Echo p99 through the real client may exceed tmux's by at most this, ms (back-to-back and paced). */
  echoP99OverTmuxMs: 1,
  /** `cat` of 50 MB with a client attached: wall time at most this many times tmux's. */
  catVsTmux: 1.1,
  /** `seq 1 3000000` with a client attached: wall time at most this many times tmux's. */
  seqVsTmux: 1.3,
  /** Attach to 16 panes × 10k lines, client process start to full screen, below this, ms. */
  attachMs: 120,
  /** `orchestra ls`, `capture-pane -p`, `send-keys`: median wall time of the CLI process below this, ms. */
  commandMs: 80,
  /** RSS of the real TUI client after attach, at most this, MiB. */
  clientRssMiB: 50,
  /** Server RSS with one idle pane and no tasks, at most this, MiB. */
  serverRssMiB: 60,
  /** An earlier target, kept: server RSS per extra idle pane below this, decimal MB. */
  idlePaneMB: 10,
} as const;

type Failed = { error: string };

/** One line of the summary: a measure of the issue's table, both systems, and its target. */
export interface SummaryRow {
  measure: string;
  /** Unit of `orchestra` and `tmux`: ms, s, CPU-s or MiB. */
  unit: string;
  /** orchestra's figure (a median, or a percentile over all rounds where the measure says so). */
  orchestra: number | null;
  tmux: number | null;
  /** orchestra / tmux. */
  ratio: number | null;
  /** The target as text, empty when the measure has none. */
  target: string;
  /** true met, false not met, null when there is no target or no figure. */
  met: boolean | null;
}

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
  /** Alternating rounds per scenario (each system measured once per round). */
  rounds: number;
  warning?: string;
  durationSeconds: number;
  throughput?: ThroughputRow[] | Failed;
  echo?: EchoRow[] | Failed;
  commands?: CommandRow[] | Failed;
  attach?: AttachRow[] | Failed;
  memory?: MemoryRow[] | Failed;
  /** Docker workers (issue 5); `skipped` set when no engine or image was there. */
  docker?: DockerResults | Failed;
  /** The session's package cache (issue 13.3): first against second attempt's `npm ci`. */
  packageCache?: PackageCacheResults | Failed;
  /** The summary table, as printed. */
  summary?: SummaryRow[];
}

/** Formats rows as aligned columns; numbers (and ratio cells) are right-aligned. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (cell: string) => /^([-\d.,× ]+( ms| s| MiB| CPU-s)?|—)$/.test(cell);
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const fixed = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

const ratioOf = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a / b) ? null : a / b;

const times = (ratio: number | null) => (ratio === null ? '—' : `${ratio.toFixed(2)}×`);

const verdict = (met: boolean | null, hasTarget: boolean) =>
  !hasTarget ? '' : met === null ? 'not measured' : met ? 'met' : 'NOT MET';

const isFailed = (value: unknown): value is Failed =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'error' in value;

const SYSTEM_LABELS: Record<string, string> = {
  orchestra: 'orchestra in-process',
  'orchestra-tui': 'orchestra TUI',
  tmux: 'tmux',
  'raw-pty': 'raw PTY',
};

/** Row order inside a workload. */
const SYSTEM_ORDER = ['orchestra-tui', 'orchestra', 'tmux', 'raw-pty'];

function throughputSection(unsorted: ThroughputRow[]): string[] {
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
    const vsTmux = r.system.startsWith('orchestra') ? ratioOf(r.medianSeconds, tmux?.medianSeconds) : null;
    body.push([
      r.workload === previous ? '' : r.workload,
      SYSTEM_LABELS[r.system] ?? r.system,
      r.error ? 'failed' : `${fixed(r.medianSeconds, 2)} s`,
      fixed(r.mbPerSecond, 1),
      r.medianCpuSeconds === undefined ? '' : fixed(r.medianCpuSeconds, 2),
      r.runs.map((s) => s.toFixed(2)).join(' '),
      (r.cpuRuns ?? []).map((s) => s.toFixed(2)).join(' '),
      r.redraws ? r.redraws.join(' ') : '',
      r.system.startsWith('orchestra') ? times(vsTmux) : '',
      r.error ? `error: ${r.error}` : '',
    ]);
    previous = r.workload;
  }
  return [
    '1. Throughput: one pane prints the workload while one client is attached (median of the rounds)',
    ...table(
      [
        'workload',
        'system',
        'median',
        'MB/s',
        'CPU-s',
        'rounds (s)',
        'rounds (CPU-s)',
        'redraws',
        'time vs tmux',
        'notes',
      ],
      body,
    ),
    '  wall: starting the pane → the client sees the end marker. CPU-s: user + system seconds of the',
    "  server and client processes (not the workload's); in-process: server + this benchmark process.",
    '  redraws: times the server dropped output for the in-process client and sent a fresh snapshot.',
  ];
}

function echoSection(unsorted: EchoRow[]): string[] {
  const pacings = [...new Set(unsorted.map((r) => r.pacing))];
  const rows = [...unsorted].sort(
    (a, b) =>
      pacings.indexOf(a.pacing) - pacings.indexOf(b.pacing) ||
      SYSTEM_ORDER.indexOf(a.system) - SYSTEM_ORDER.indexOf(b.system),
  );
  let previous = '';
  const body = rows.map((r) => {
    const cells = [
      r.pacing === previous ? '' : r.pacing,
      SYSTEM_LABELS[r.system] ?? r.system,
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      fixed(r.maxMs, 2),
      String(r.keys),
      r.roundP99Ms.map((v) => v.toFixed(2)).join(' '),
      r.error ? `error: ${r.error}` : r.path,
    ];
    previous = r.pacing;
    return cells;
  });
  return [
    '2. Keystroke echo latency: a pane whose tty echoes; each key sent after the previous echo arrived',
    ...table(
      ['keys sent', 'system', 'p50 ms', 'p99 ms', 'max ms', 'keys', 'p99 per round (ms)', 'path'],
      body,
    ),
    '  p50/p99/max over every key of every round; back-to-back: the next key right after the echo;',
    '  paced: 30 ms before each key. tmux draws straight to its client terminal; the orchestra TUI paints',
    "  the server's screen cells.",
  ];
}

function commandsSection(rows: CommandRow[]): string[] {
  const body = rows.map((r) => [
    r.command,
    fixed(r.orchestraMedianMs, 1),
    fixed(r.orchestraP90Ms, 1),
    fixed(r.tmuxMedianMs, 1),
    fixed(r.tmuxP90Ms, 1),
    times(r.ratio),
    String(r.orchestraMs.length),
    r.error ? `error: ${r.error}` : `${r.orchestraArgv.join(' ')}  vs  ${r.tmuxArgv.join(' ')}`,
  ]);
  return [
    '3. CLI commands against a session with one pane: wall time of the CLI process, spawn to exit',
    ...table(
      ['command', 'orchestra median ms', 'p90', 'tmux median ms', 'p90', 'ratio', 'samples', 'command lines'],
      body,
    ),
    '  orchestra runs as `node bin/orchestra ...` (the built CLI of this checkout); alternating with tmux.',
  ];
}

function attachSection(rows: AttachRow[]): string[] {
  const tmux = rows.find((r) => r.system === 'tmux attach');
  const body = rows.map((r) => [
    r.system,
    fixed(r.medianMs, 1),
    r.runsMs.map((v) => v.toFixed(1)).join(' '),
    r.firstOutputMedianMs === undefined ? '' : fixed(r.firstOutputMedianMs, 1),
    r.clientRssMedianMiB === undefined ? '' : fixed(r.clientRssMedianMiB, 1),
    r.system === 'orchestra attach' ? times(ratioOf(r.medianMs, tmux?.medianMs)) : '',
    r.error ? `error: ${r.error}` : r.measure,
  ]);
  return [
    '4. Attach: 16 panes, each with 10,000 lines of history, client 200x60 (median of the rounds)',
    ...table(
      ['system', 'median ms', 'rounds (ms)', 'first output ms', 'client RSS MiB', 'vs tmux', 'complete when'],
      body,
    ),
    '  median: spawning the client process → the output after which its PTY shows the full screen.',
    '  first output: spawn → its first byte. client RSS: VmRSS of the client process 0.5 s after that.',
  ];
}

function memorySection(rows: MemoryRow[]): string[] {
  const one = rows.map((r) => [
    r.system,
    fixed(r.oneIdlePane?.serverRssMedianMiB, 1),
    (r.oneIdlePane?.serverRssMiB ?? []).map((v) => v.toFixed(1)).join(' '),
    fixed(r.oneIdlePane?.clientRssMedianMiB, 1),
    (r.oneIdlePane?.clientRssMiB ?? []).map((v) => v.toFixed(1)).join(' '),
  ]);
  const body = rows.map((r) => [
    r.system,
    fixed(r.rssMiB['0'], 1),
    fixed(r.rssMiB['1'], 1),
    fixed(r.rssMiB['16'], 1),
    fixed(r.rssMiB['64'], 1),
    fixed(r.perIdlePaneMiB, 2),
    fixed(r.perHistoryPaneMiB, 1),
    r.history ? `${fixed(r.history.beforeMiB, 1)} → ${fixed(r.history.afterMiB, 1)}` : '—',
    [r.windows && r.windows > 1 ? `${r.windows} windows` : '', r.error ? `error: ${r.error}` : '']
      .filter(Boolean)
      .join('; '),
  ]);
  return [
    '5. Memory (VmRSS, MiB). One idle pane: a fresh server per round, then the real client attached to it',
    ...table(['system', 'server median', 'server rounds', 'client median', 'client rounds'], one),
    '  orchestra: `orchestra server` outside any repository (no tasks) and `orchestra attach`; tmux:',
    '  its server and `tmux attach`. Client RSS once it has drawn the pane, after a 1.5 s pause.',
    '',
    '  Idle panes (`sleep`), 200x60 tiled, once per system; history: 4 panes of 80 columns',
    ...table(
      [
        'system',
        '0 panes',
        '1 pane',
        '16 panes',
        '64 panes',
        'per idle pane',
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

/** A summary row comparing two figures, with an optional target check on them. */
function summaryRow(
  measure: string,
  unit: string,
  orchestra: number | null | undefined,
  tmux: number | null | undefined,
  target = '',
  check?: (orchestra: number, tmux: number | null, ratio: number | null) => boolean,
  /** The ratio of the unrounded figures, when the scenario computed it. */
  exactRatio?: number | null,
): SummaryRow {
  const o = orchestra ?? null;
  const t = tmux ?? null;
  const exact = exactRatio ?? ratioOf(o, t);
  const ratio = exact === null ? null : Math.round(exact * 1000) / 1000;
  const valid = (v: number | null): v is number => v !== null && Number.isFinite(v);
  const met = check && valid(o) ? check(o, valid(t) ? t : null, ratio) : null;
  return { measure, unit, orchestra: valid(o) ? o : null, tmux: valid(t) ? t : null, ratio, target, met };
}

/**
 * The summary: every measure of issue 12's table, orchestra against tmux with the ratio, and the
 * "Done when" targets with met / NOT MET. orchestra means its real client (the TUI) where a client
 * is involved; with `--no-tui` the in-process client stands in and the measure says so.
 */
export function summarize(results: BenchResults): SummaryRow[] {
  const out: SummaryRow[] = [];
  const echo = Array.isArray(results.echo) ? results.echo : [];
  for (const pacing of [...new Set(echo.map((r) => r.pacing))]) {
    const rows = echo.filter((r) => r.pacing === pacing);
    const tui = rows.find((r) => r.system === 'orchestra-tui');
    const o = tui ?? rows.find((r) => r.system === 'orchestra');
    const t = rows.find((r) => r.system === 'tmux');
    const via = tui ? 'TUI' : 'in-process client';
    out.push(summaryRow(`echo ${pacing}, p50 (${via})`, 'ms', o?.p50Ms, t?.p50Ms));
    out.push(
      summaryRow(
        `echo ${pacing}, p99 (${via})`,
        'ms',
        o?.p99Ms,
        t?.p99Ms,
        `≤ tmux + ${TARGETS.echoP99OverTmuxMs} ms`,
        (v, tmux) => tmux !== null && v <= tmux + TARGETS.echoP99OverTmuxMs,
      ),
    );
  }
  for (const c of Array.isArray(results.commands) ? results.commands : []) {
    if (c.floor) {
      out.push(
        summaryRow(
          `\`${c.command}\` wall time (the floor), median`,
          'ms',
          c.orchestraMedianMs,
          c.tmuxMedianMs,
        ),
      );
      continue;
    }
    out.push(
      summaryRow(
        `\`${c.command}\` CLI wall time, median`,
        'ms',
        c.orchestraMedianMs,
        c.tmuxMedianMs,
        `< ${TARGETS.commandMs} ms`,
        (v) => v < TARGETS.commandMs,
        c.ratio,
      ),
    );
  }
  if (results.attach !== undefined) {
    const attach = Array.isArray(results.attach) ? results.attach : [];
    const o = attach.find((r) => r.system === 'orchestra attach');
    const t = attach.find((r) => r.system === 'tmux attach');
    out.push(
      summaryRow(
        'attach 16 panes × 10k lines, process start → full screen, median',
        'ms',
        o?.medianMs,
        t?.medianMs,
        `< ${TARGETS.attachMs} ms`,
        (v) => v < TARGETS.attachMs,
      ),
      summaryRow(
        'client RSS after attach to 16 panes × 10k lines, median',
        'MiB',
        o?.clientRssMedianMiB,
        t?.clientRssMedianMiB,
        `≤ ${TARGETS.clientRssMiB} MiB`,
        (v) => v <= TARGETS.clientRssMiB,
      ),
    );
  }
  const throughput = Array.isArray(results.throughput) ? results.throughput : [];
  for (const workload of [...new Set(throughput.map((r) => r.workload))]) {
    const rows = throughput.filter((r) => r.workload === workload);
    const tui = rows.find((r) => r.system === 'orchestra-tui');
    const o = tui ?? rows.find((r) => r.system === 'orchestra');
    const t = rows.find((r) => r.system === 'tmux');
    const via = tui ? 'TUI' : 'in-process client';
    const limit = workload.startsWith('cat')
      ? TARGETS.catVsTmux
      : workload.startsWith('seq')
        ? TARGETS.seqVsTmux
        : 1;
    out.push(
      summaryRow(
        `${workload}, client attached (${via}): wall, median`,
        's',
        o?.error ? null : o?.medianSeconds,
        t?.error ? null : t?.medianSeconds,
        `≤ ${limit}× tmux`,
        (_v, _t, ratio) => ratio !== null && ratio <= limit,
      ),
    );
    out.push(
      summaryRow(
        `${workload}: CPU of server + client, median`,
        'CPU-s',
        o?.medianCpuSeconds,
        t?.medianCpuSeconds,
      ),
    );
  }
  if (results.memory !== undefined) {
    const memory = Array.isArray(results.memory) ? results.memory : [];
    const o = memory.find((r) => r.system === 'orchestra');
    const t = memory.find((r) => r.system === 'tmux');
    out.push(
      summaryRow(
        'client RSS after attach, session with 1 idle pane, median',
        'MiB',
        o?.oneIdlePane?.clientRssMedianMiB,
        t?.oneIdlePane?.clientRssMedianMiB,
        `≤ ${TARGETS.clientRssMiB} MiB`,
        (v) => v <= TARGETS.clientRssMiB,
      ),
      summaryRow(
        'server RSS, 1 idle pane, no tasks, median',
        'MiB',
        o?.oneIdlePane?.serverRssMedianMiB,
        t?.oneIdlePane?.serverRssMedianMiB,
        `≤ ${TARGETS.serverRssMiB} MiB`,
        (v) => v <= TARGETS.serverRssMiB,
      ),
      summaryRow(
        'server RSS per extra idle pane (1 → 64 panes; earlier target)',
        'MiB',
        o?.perIdlePaneMiB,
        t?.perIdlePaneMiB,
        `< ${TARGETS.idlePaneMB} MB`,
        (v) => (v * 2 ** 20) / 1e6 < TARGETS.idlePaneMB,
      ),
    );
  }
  return out;
}

/** A figure with its unit, as the summary prints it. */
function withUnit(value: number | null, unit: string): string {
  if (value === null) return '—';
  const digits = unit === 'ms' || unit === 'MiB' ? 1 : 2;
  return `${value.toFixed(unit === 'ms' && value < 10 ? 2 : digits)} ${unit}`;
}

function summarySection(rows: SummaryRow[], rounds: number): string[] {
  return [
    `Summary (issue 12): orchestra against tmux, ${rounds} alternating round${rounds === 1 ? '' : 's'} per scenario`,
    ...table(
      ['measure', 'orchestra', 'tmux', 'ratio', 'target', 'verdict'],
      rows.map((r) => [
        r.measure,
        withUnit(r.orchestra, r.unit),
        withUnit(r.tmux, r.unit),
        times(r.ratio),
        r.target,
        verdict(r.met, r.target !== ''),
      ]),
    ),
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
  const title = `6. Docker workers: ${d.engine ? `engine ${d.engine}, ` : ''}image ${d.image}`;
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

function packageCacheSection(c: PackageCacheResults): string[] {
  const title = `7. Package cache: \`npm ci\` in an attempt's setup container, image ${c.image}`;
  if (c.skipped !== undefined) return [title, `  skipped — ${c.skipped}`];
  const runs = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
  const out = [
    title,
    ...table(
      ['attempt', 'median s', 'runs (s)'],
      [
        ['first (empty cache volume)', fixed(c.medianFirstSeconds, 2), runs(c.firstSeconds)],
        ['second (the volume the first filled)', fixed(c.medianSecondSeconds, 2), runs(c.secondSeconds)],
      ],
    ),
    `  express, typescript and eslint: ${c.packages ?? '?'} locked packages; a new volume each round; second / first = ${times(ratioOf(c.medianSecondSeconds, c.medianFirstSeconds))}`,
  ];
  if (c.error) out.push(`  error: ${c.error}`);
  return out;
}

/**
 * The printed report: one table per scenario, then the summary of issue 12's measures with their
 * targets (met / NOT MET). Fills `results.summary` with the same rows.
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
  const section = <T>(value: T[] | Failed | undefined, title: string, render: (rows: T[]) => string[]) => {
    if (value === undefined) return;
    out.push('');
    if (isFailed(value)) out.push(`${title}: FAILED — ${value.error}`);
    else out.push(...render(value));
  };
  section(results.throughput, '1. Throughput', throughputSection);
  section(results.echo, '2. Keystroke echo latency', echoSection);
  section(results.commands, '3. CLI commands', commandsSection);
  section(results.attach, '4. Attach', attachSection);
  section(results.memory, '5. Memory', memorySection);
  if (results.docker !== undefined) {
    out.push('');
    if (isFailed(results.docker)) out.push(`6. Docker workers: FAILED — ${results.docker.error}`);
    else out.push(...dockerSection(results.docker));
  }
  if (results.packageCache !== undefined) {
    out.push('');
    const cache = results.packageCache;
    if ('firstSeconds' in cache) out.push(...packageCacheSection(cache));
    else out.push(`7. Package cache: FAILED — ${cache.error}`);
  }
  const summary = summarize(results);
  results.summary = summary;
  if (summary.length > 0) out.push('', ...summarySection(summary, results.rounds));
  return out.join('\n');
}
