import { scriptedTurnSchema } from '../../src/model-server/scenario.js';
import type { Rng } from './rng.js';

/**
 * What one chaos run does, drawn from its seed: the tasks (2–4, one best-of-3, a dependsOn
 * chain), how each attempt's scripted agent behaves, and the faults with their triggers.
 */

export const FAULT_KINDS = [
  'sigkill',
  'sigterm',
  'kill-pane',
  'model-500',
  'model-529',
  'model-stream-error',
  'model-hang',
  'model-stall',
  'model-malformed',
  'model-exhaust',
  'disk-full',
  'slow-client',
  'base-commit',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults carried out by the scripted model server's turns (planned into the scenario). */
export const SCRIPTED_MODEL_FAULTS: readonly FaultKind[] = [
  'model-500',
  'model-529',
  'model-stream-error',
  'model-hang',
  'model-stall',
  'model-exhaust',
];

/** Whether this checkout's scripted model server knows `stallAfterEvents` (being added elsewhere). */
export const STALL_SUPPORTED = 'stallAfterEvents' in scriptedTurnSchema.shape;

/** Requests the built-in agent makes before it gives up (src/agents/builtin/api-retry.ts, MAX_API_ATTEMPTS). */
export const AGENT_API_ATTEMPTS = 5;

/** When a host-side fault fires: after a delay from the start, or once some attempt is in a state. */
export type Trigger =
  | { afterMs: number }
  | { whenState: 'preparing' | 'running' | 'checking' | 'succeeded'; delayMs: number };

export interface TaskPlan {
  id: string;
  /** The feature the task adds: `f<feature>(x)` in src/f<feature>.js. */
  feature: number;
  strategy: 'single' | 'best-of-n';
  dependsOn?: string;
  /** Attempt ids the strategy will start (a1..a3 for best-of-3). */
  attempts: string[];
}

export interface AttemptPlan {
  attempt: string;
  task: string;
  feature: number;
  /** The first version of the function is wrong: the first check round fails and goes back to the agent. */
  buggyFirst: boolean;
  /** The second tool call sleeps this long after its effect (a window to be killed mid-tool), ms. */
  slowToolMs: number;
  /** The model "thinks" this long before each answer, ms (a window to be killed mid-turn). */
  thinkMs: number;
}

export interface FaultPlan {
  id: number;
  kind: FaultKind;
  /** Host-side faults: when. */
  trigger?: Trigger;
  /** Model faults: whose turns, before which of its real turns (0 = first). */
  attempt?: string;
  beforeTurn?: number;
  /** model-malformed: the attempt's n-th request through the proxy (1-based). */
  request?: number;
  /** disk-full, slow-client: how long it lasts, ms. */
  holdMs?: number;
  /** model-hang / model-stall: ms. */
  ms?: number;
}

export interface RunPlan {
  seed: number;
  tasks: TaskPlan[];
  attempts: AttemptPlan[];
  faults: FaultPlan[];
}

export interface PlanOptions {
  /** Only these kinds (default all that are supported). */
  kinds?: FaultKind[];
  /** Faults per run; default 2–4. */
  faults?: [number, number];
  /** Tasks per run; default 2–4. */
  tasks?: [number, number];
}

const HOST_STATES = ['preparing', 'running', 'running', 'checking', 'succeeded'] as const;

function trigger(rng: Rng): Trigger {
  return rng.chance(0.6)
    ? { whenState: rng.pick(HOST_STATES), delayMs: rng.int(0, 2500) }
    : { afterMs: rng.int(1500, 12_000) };
}

export function makePlan(seed: number, rng: Rng, options: PlanOptions = {}): RunPlan {
  const taskRng = rng.fork(1);
  const [minTasks, maxTasks] = options.tasks ?? [2, 4];
  const count = taskRng.int(minTasks, maxTasks);
  const bestOf = taskRng.int(1, count);
  const tasks: TaskPlan[] = [];
  for (let i = 1; i <= count; i++) {
    const id = `task-${String(i).padStart(2, '0')}`;
    const strategy = i === bestOf ? 'best-of-n' : 'single';
    const attempts = strategy === 'best-of-n' ? [1, 2, 3].map((n) => `${id}-a${n}`) : [`${id}-a1`];
    tasks.push({ id, feature: i, strategy, attempts });
  }
  // A dependsOn chain: task-02 on task-01 always, later ones on their predecessor by chance.
  for (let i = 1; i < count; i++) {
    if (i === 1 || taskRng.chance(0.5)) tasks[i]!.dependsOn = tasks[i - 1]!.id;
  }
  const attempts: AttemptPlan[] = tasks.flatMap((t) =>
    t.attempts.map((attempt) => ({
      attempt,
      task: t.id,
      feature: t.feature,
      buggyFirst: taskRng.chance(0.3),
      slowToolMs: taskRng.chance(0.4) ? taskRng.int(300, 1500) : 0,
      thinkMs: taskRng.int(50, 500),
    })),
  );

  const faultRng = rng.fork(2);
  const allowed = (options.kinds ?? [...FAULT_KINDS]).filter((k) => k !== 'model-stall' || STALL_SUPPORTED);
  const [minFaults, maxFaults] = options.faults ?? [2, 4];
  const n = faultRng.int(minFaults, maxFaults);
  const faults: FaultPlan[] = [];
  for (let id = 1; id <= n && allowed.length > 0; id++) {
    const kind = faultRng.pick(allowed);
    const fault: FaultPlan = { id, kind };
    if (kind === 'model-malformed') {
      fault.attempt = faultRng.pick(attempts).attempt;
      fault.request = faultRng.int(1, 3);
    } else if (SCRIPTED_MODEL_FAULTS.includes(kind)) {
      fault.attempt = faultRng.pick(attempts).attempt;
      fault.beforeTurn = faultRng.int(0, 2);
      if (kind === 'model-hang') fault.ms = faultRng.int(1500, 5000);
      if (kind === 'model-stall') fault.ms = faultRng.int(2000, 6000);
    } else {
      fault.trigger = trigger(faultRng);
      if (kind === 'disk-full') fault.holdMs = faultRng.int(2000, 8000);
      if (kind === 'slow-client') fault.holdMs = faultRng.int(3000, 12_000);
    }
    faults.push(fault);
  }
  return { seed, tasks, attempts, faults };
}

/** One line for a fault in a report: `sigkill@running+1200ms`, `model-529(task-01-a1 t1)`. */
export function describeFault(f: FaultPlan): string {
  if (f.attempt) {
    const where = f.request !== undefined ? `req ${f.request}` : `t${f.beforeTurn}`;
    return `${f.kind}(${f.attempt} ${where})`;
  }
  const t = f.trigger;
  const when = !t ? '' : 'afterMs' in t ? `@${t.afterMs}ms` : `@${t.whenState}+${t.delayMs}ms`;
  return `${f.kind}${when}`;
}
