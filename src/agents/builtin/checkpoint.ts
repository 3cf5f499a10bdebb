import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { writeFileAtomic } from '../../common/atomic-write.js';
import { errorMessage, OrchestraError } from '../../common/errors.js';
import type { AgentStatusState } from '../adapters/status-command.js';

/**
 * The agent's checkpoint, `<run-dir>/conversation.json`: everything needed to continue after a
 * crash or a restart without repeating work. Written atomically after every turn and before and
 * after every tool execution.
 */

/** Bump when the shape changes incompatibly; a newer file is refused rather than misread. */
export const CHECKPOINT_VERSION = 1;

/** The checkpoint's file name inside the run directory. */
export const CHECKPOINT_FILE = 'conversation.json';

/** Token counts summed over every response (the Messages API's `usage` fields). */
export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** What became of the tool calls of the newest assistant turn, while they run. */
export interface PendingTools {
  /** tool_use ids whose execution began (and may or may not have finished). */
  started: string[];
  /** Finished calls, by tool_use id: the tool_result to send. */
  results: Record<string, ToolResultBlockParam>;
}

/** The agent's own state, as status events name it. */
export type AgentState = AgentStatusState;

/** The content of `conversation.json`. */
export interface Checkpoint {
  version: number;
  /** The model the conversation runs on. */
  model: string;
  /** The conversation so far; ends with an assistant turn whose tools are in {@link pending}, or a user turn. */
  messages: MessageParam[];
  /** Model responses so far. */
  turns: number;
  usage: UsageTotals;
  /** Spent so far, USD; undefined once any response's model had no known price. */
  costUsd: number | undefined;
  /** Tool calls of the newest assistant turn, while they are being executed. */
  pending?: PendingTools;
  /** Lines the human typed (or orchestra sent) that have not reached the model yet, already marked. */
  humanQueue: string[];
  /** Bytes of `inbox.jsonl` already taken, so a resume does not deliver a message twice. */
  inboxOffset?: number;
  state: AgentState;
  /** The task_complete summary, or the reason for an error. */
  summary?: string;
  /** ISO time of the write. */
  updatedAt: string;
}

/** Zeroed usage totals. */
export function emptyUsage(): UsageTotals {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/** Path of the checkpoint in `runDir`. */
export function checkpointPath(runDir: string): string {
  return join(runDir, CHECKPOINT_FILE);
}

/**
 * Writes the checkpoint atomically.
 *
 * @param redact applied to the serialized JSON, so a secret that slipped into the conversation
 *   never reaches the disk
 */
export async function saveCheckpoint(
  runDir: string,
  checkpoint: Checkpoint,
  redact: (text: string) => string = (t) => t,
): Promise<void> {
  const data = redact(`${JSON.stringify({ ...checkpoint, updatedAt: new Date().toISOString() }, null, 1)}\n`);
  await writeFileAtomic(checkpointPath(runDir), data, 0o600);
}

/**
 * Reads the checkpoint of `runDir`, or undefined when there is none.
 *
 * @throws OrchestraError STATE_CORRUPT when it cannot be parsed or has the wrong shape,
 *   STATE_TOO_NEW when a newer orchestra wrote it
 */
export async function loadCheckpoint(runDir: string): Promise<Checkpoint | undefined> {
  const path = checkpointPath(runDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OrchestraError('STATE_CORRUPT', `cannot read ${path}: ${errorMessage(error)}`, {
      hint: 'make the file readable, or start the attempt again without --resume',
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corrupt(path, 'it is not valid JSON', error);
  }
  const cp = value as Partial<Checkpoint>;
  if (typeof cp !== 'object' || cp === null || typeof cp.version !== 'number')
    throw corrupt(path, 'it has no version');
  if (cp.version > CHECKPOINT_VERSION) {
    throw new OrchestraError(
      'STATE_TOO_NEW',
      `${path} was written by a newer orchestra (version ${cp.version})`,
      {
        hint: 'resume with the orchestra version that started the attempt',
      },
    );
  }
  if (!Array.isArray(cp.messages) || typeof cp.turns !== 'number' || typeof cp.model !== 'string') {
    throw corrupt(path, 'messages, turns or model are missing');
  }
  return {
    version: cp.version,
    model: cp.model,
    messages: cp.messages,
    turns: cp.turns,
    usage: { ...emptyUsage(), ...(cp.usage ?? {}) },
    costUsd: typeof cp.costUsd === 'number' ? cp.costUsd : undefined,
    ...(cp.pending
      ? { pending: { started: cp.pending.started ?? [], results: cp.pending.results ?? {} } }
      : {}),
    humanQueue: Array.isArray(cp.humanQueue) ? cp.humanQueue.filter((l) => typeof l === 'string') : [],
    ...(typeof cp.inboxOffset === 'number' ? { inboxOffset: cp.inboxOffset } : {}),
    state: cp.state ?? 'working',
    ...(typeof cp.summary === 'string' ? { summary: cp.summary } : {}),
    updatedAt: cp.updatedAt ?? '',
  };
}

function corrupt(path: string, why: string, cause?: unknown): OrchestraError {
  return new OrchestraError('STATE_CORRUPT', `the agent checkpoint ${path} is unusable: ${why}`, {
    hint: 'move it aside and start the attempt again without --resume',
    cause,
  });
}
