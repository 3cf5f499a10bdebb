import { setTimeout as sleep } from 'node:timers/promises';
import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  Message,
  MessageParam,
  TextBlockParam,
  ToolResultBlockParam,
  ToolUseBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import { errorMessage } from '../../common/errors.js';
import { costOfUsage } from '../cost.js';
import { formatSeconds, turnBoundMs } from '../stall-guard.js';
import type { AgentEventLog } from './agent-events.js';
import type { ToolBox, ToolOutcome } from './agent-tools.js';
import { describeApiFailure, isAbort, MAX_API_ATTEMPTS, retryDelayMs } from './api-retry.js';
import {
  type AgentState,
  type Checkpoint,
  type PendingTools,
  saveCheckpoint,
  type UsageTotals,
} from './checkpoint.js';
import { firstLine, formatBudget, formatCost, formatDelay, formatTokens } from './format.js';
import { contentToParams, streamTurn, type TurnSettings } from './model-turn.js';
import { TASK_COMPLETE_TOOL_NAME } from './tool-definitions.js';
import type { Transcript } from './transcript.js';

/**
 * The agent's conversation loop: ask the model, run its tool calls, feed the results back, until it
 * calls task_complete, a limit is reached or the human stops it. Between turns it takes the human's
 * typed lines; Ctrl-C interrupts the model request or the running command and waits for the human.
 * Every step is checkpointed so `--resume` continues where a crash left off.
 */

/** Options of an {@link AgentLoop}. */
export interface AgentLoopOptions {
  client: Anthropic;
  settings: TurnSettings;
  /** The first user message of a new conversation. */
  firstMessage: string;
  maxTurns: number;
  /** Spending cap, USD. */
  budgetUsd: number;
  runDir: string;
  /** The loaded checkpoint when resuming, else a fresh one. */
  checkpoint: Checkpoint;
  transcript: Transcript;
  events: AgentEventLog;
  tools: ToolBox;
  /** Base of the retry backoff, ms. */
  retryBaseMs: number;
  /** Longest rate-limit wait of a turn in all, ms (config model.rateLimitMaxWaitMinutes). */
  rateLimitMaxWaitMs: number;
  /** Longest silence of a model stream before it is aborted and retried, ms (`model.stallSeconds`). */
  stallMs: number;
  /** Cuts secrets out of what is written to disk. */
  redact: (text: string) => string;
  /** After task_complete, wait (state done) for orchestra's inbox or the human instead of exiting. */
  stayAfterComplete?: boolean;
  /**
   * A turn without tool calls completes the task, as task_complete does (the autonomy planner
   * "finishes by ending its turn"), unless the human has a line queued for the model.
   */
  endTurnCompletes?: boolean;
}

/** How a wait for the human ended. */
type HumanWake = 'line' | 'stop' | 'closed' | 'terminate' | 'finish';

/** How one model request ended. */
type TurnResult =
  | { kind: 'ok'; message: Message }
  | { kind: 'interrupted' }
  | { kind: 'failed'; detail: string };

/** The marker the model sees on the human's lines. */
export const HUMAN_PREFIX = '[human operator]';

/** The marker the model sees on orchestra's messages (check failures, reviews). */
export const ORCHESTRA_PREFIX = '[orchestra]';

/** Exit codes of the agent: 0 after task_complete, 1 for every other end. */
const EXIT_DONE = 0;
const EXIT_FAILED = 1;

/** Runs the conversation; feed it the human's input through {@link humanLine} and {@link interrupt}. */
export class AgentLoop {
  private readonly cp: Checkpoint;
  private state: AgentState | undefined;
  /** Aborts whatever the loop awaits right now: a model request, a bash command, a retry wait. */
  private current: AbortController | undefined;
  /** Ctrl-C arrived outside an abortable step; honoured at the next boundary. */
  private interruptPending = false;
  private waiter: ((wake: HumanWake) => void) | undefined;
  private stdinClosed = false;
  private finishPending = false;
  private terminatedBy: string | undefined;
  private warnedUnpriced = false;
  private readonly warned = new Set<string>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly o: AgentLoopOptions) {
    this.cp = o.checkpoint;
  }

  /** A line the human typed: delivered to the model at the next turn boundary. */
  humanLine(line: string): void {
    this.cp.humanQueue.push(`${HUMAN_PREFIX} ${line}`);
    this.o.transcript.line(`» ${line}`, 'magenta');
    if (this.waiter) this.wake('line');
    else
      void this.save().catch(() => {
        // The line is also in memory; the next checkpoint of the loop records it.
      });
  }

  /**
   * A message from orchestra's inbox (check failures, a review): delivered like a human line, and
   * wakes an agent that waits after task_complete.
   */
  inboxMessage(text: string, offsetAfter: number): void {
    this.cp.humanQueue.push(`${ORCHESTRA_PREFIX} ${text}`);
    this.cp.inboxOffset = offsetAfter;
    this.o.transcript.line(`» orchestra: ${firstLine(text, 200)}`, 'magenta');
    if (this.waiter) this.wake('line');
    else void this.save().catch(() => {});
  }

  /** orchestra is done with this agent (after task_complete): exit. */
  finishRequested(offsetAfter: number): void {
    this.cp.inboxOffset = offsetAfter;
    this.finishPending = true;
    if (this.waiter) this.wake('finish');
  }

  /** Ctrl-C: interrupt the current step, or stop the agent when it already waits for the human. */
  interrupt(): void {
    if (this.waiter) {
      this.wake('stop');
      return;
    }
    this.interruptPending = true;
    this.current?.abort();
  }

  /** stdin ended: a wait for the human can never end with a line. */
  inputClosed(): void {
    this.stdinClosed = true;
    if (this.waiter) this.wake('closed');
  }

  /** SIGTERM/SIGHUP: stop now, leaving the checkpoint for a resume. */
  terminate(signal: string): void {
    this.terminatedBy = signal;
    this.current?.abort();
    if (this.waiter) this.wake('terminate');
  }

  /**
   * Runs until the task is complete (0) or the agent stops for any other reason (1).
   * Never throws: an unexpected failure ends the agent with state `error`.
   */
  async run(): Promise<number> {
    try {
      return await this.loop();
    } catch (error) {
      return this.fail(`agent failed: ${errorMessage(error)}`);
    }
  }

  private async loop(): Promise<number> {
    const { cp } = this;
    if (cp.state === 'done') {
      this.o.transcript.line(`✓ the task was already complete: ${firstLine(cp.summary ?? '', 200)}`, 'green');
      if (!this.o.stayAfterComplete) return EXIT_DONE;
      const code = await this.waitAfterComplete(cp.summary ?? '');
      if (code !== undefined) return code;
    }
    // An agent that was waiting for the human when it stopped waits again, rather than carrying on.
    if (cp.state === 'waiting') this.interruptPending = true;
    this.setState('working', cp.turns === 0 ? 'starting' : `resumed after turn ${cp.turns}`);
    if (cp.messages.length === 0) {
      cp.messages.push({
        role: 'user',
        content: [{ type: 'text', text: this.o.firstMessage }, ...this.takeHumanLines()],
      });
      await this.save();
    }
    for (;;) {
      if (this.terminatedBy) return this.terminated();
      const last = cp.messages.at(-1)!;
      if (last.role === 'assistant') {
        const code = await this.afterAssistant(last);
        if (code !== undefined) return code;
        continue;
      }
      if (cp.turns >= this.o.maxTurns) return this.fail(`maxTurns ${this.o.maxTurns} reached`);
      if (cp.costUsd !== undefined && cp.costUsd >= this.o.budgetUsd) {
        return this.fail(
          `budget of ${formatBudget(this.o.budgetUsd)} reached (${formatCost(cp.costUsd)} spent)`,
        );
      }
      if (this.interruptPending) {
        const code = await this.pauseForHuman('interrupted by the human');
        if (code !== undefined) return code;
        continue;
      }
      const turn = await this.requestTurn();
      if (turn.kind === 'failed') return this.fail(turn.detail);
      if (turn.kind === 'interrupted') {
        if (this.terminatedBy) return this.terminated();
        this.o.transcript.line('✗ model request interrupted by the human', 'red');
        const code = await this.pauseForHuman('interrupted by the human');
        if (code !== undefined) return code;
        continue;
      }
      await this.recordTurn(turn.message);
    }
  }

  /**
   * Handles the newest assistant turn: runs its tool calls and sends their results, or, when it
   * called no tool, waits for the human.
   *
   * @returns an exit code when the agent ends, else undefined
   */
  private async afterAssistant(last: MessageParam): Promise<number | undefined> {
    const { cp } = this;
    const content = typeof last.content === 'string' ? [] : last.content;
    const calls = content.filter((b): b is ToolUseBlockParam => b.type === 'tool_use');
    if (calls.length === 0) {
      const said = content.find((b): b is TextBlockParam => b.type === 'text')?.text ?? '';
      if (this.o.endTurnCompletes && cp.humanQueue.length === 0) {
        const summary = said.trim() === '' ? 'the model ended its turn' : said.trim();
        if (!this.o.stayAfterComplete) return this.finish(summary);
        return this.waitAfterComplete(summary);
      }
      const wake = await this.waitForHuman(
        said.trim() === '' ? 'the model ended its turn' : firstLine(said, 200),
      );
      if (wake !== 'line') return this.endWait(wake);
      cp.messages.push({ role: 'user', content: this.takeHumanLines() });
      await this.save();
      this.setState('working', 'continuing with the human’s message');
      return undefined;
    }
    const pending: PendingTools = cp.pending ?? { started: [], results: {} };
    cp.pending = pending;
    const results: ToolResultBlockParam[] = [];
    let completed: string | undefined;
    let interrupted = false;
    for (const call of calls) {
      const recorded = pending.results[call.id];
      if (recorded !== undefined) {
        this.o.transcript.line(
          `↺ ${this.o.tools.describe(call)} — result recorded before the restart`,
          'dim',
        );
        results.push(recorded);
        if (call.name === TASK_COMPLETE_TOOL_NAME && !recorded.is_error) completed = taskSummary(call);
        continue;
      }
      let outcome: ToolOutcome;
      if (pending.started.includes(call.id)) {
        this.o.transcript.line(
          `↺ ${this.o.tools.describe(call)} — interrupted by a restart, not run again`,
          'yellow',
        );
        outcome =
          this.o.tools.recovered(call) ??
          this.o.tools.notRun(
            call,
            'this tool call was interrupted by a restart of the agent before it finished; it may have partly run. Check the current state before you repeat it.',
          );
      } else if (completed !== undefined) {
        outcome = this.o.tools.notRun(call, 'not run: task_complete ended the task first');
      } else if (interrupted || this.interruptPending || this.terminatedBy) {
        outcome = this.o.tools.notRun(
          call,
          'not run: the human operator interrupted (Ctrl-C) before this call started',
        );
      } else {
        // task_complete shows as the final "✓ task complete" line instead.
        const quiet = call.name === TASK_COMPLETE_TOOL_NAME;
        if (!quiet) this.o.transcript.line(`▸ ${this.o.tools.describe(call)}`, 'cyan', 'bold');
        pending.started.push(call.id);
        await this.save();
        const controller = new AbortController();
        this.current = controller;
        outcome = await this.o.tools.run(call, controller.signal);
        this.current = undefined;
        // Killed by SIGTERM/SIGHUP, not by the human: left as started, a resume reports it as
        // interrupted by a restart.
        if (this.terminatedBy) return this.terminated();
        if (controller.signal.aborted || this.interruptPending) interrupted = true;
        if (outcome.completed !== undefined) completed = outcome.completed;
        else {
          if (quiet) this.o.transcript.line(`▸ ${this.o.tools.describe(call)}`, 'cyan', 'bold');
          this.showOutcome(outcome);
        }
      }
      pending.results[call.id] = outcome.result;
      results.push(outcome.result);
      await this.save();
    }
    if (completed !== undefined) {
      cp.messages.push({ role: 'user', content: results });
      delete cp.pending;
      if (!this.o.stayAfterComplete) return this.finish(completed);
      return this.waitAfterComplete(completed);
    }
    if (this.terminatedBy) return this.terminated();
    const blocks: ContentBlockParam[] = [...results];
    if (interrupted || this.interruptPending) {
      const wake = await this.waitForHuman('interrupted by the human');
      if (wake === 'stop' || wake === 'terminate') {
        // Keep the results so a resume sends them instead of re-running the calls.
        return this.endWait(wake);
      }
    }
    blocks.push(...this.takeHumanLines());
    cp.messages.push({ role: 'user', content: blocks });
    delete cp.pending;
    await this.save();
    this.setState('working', 'working');
    return undefined;
  }

  /**
   * After an interrupted request: waits for the human's line and adds it to the newest user message
   * (the model never saw the discarded response, so the conversation goes on from there).
   */
  private async pauseForHuman(reason: string): Promise<number | undefined> {
    const wake = await this.waitForHuman(reason);
    if (wake !== 'line') return this.endWait(wake);
    await this.continueWithQueuedLines('continuing with the human’s message');
    return undefined;
  }

  /**
   * Sends the conversation, retrying transient failures (stalls included) with exponential backoff,
   * up to {@link MAX_API_ATTEMPTS} attempts, all within the turn's bound ({@link turnBoundMs}: 30
   * minutes at the default 60 s stall). An attempt still running at the bound is aborted, and no
   * retry starts whose wait would end past it.
   */
  private async requestTurn(): Promise<TurnResult> {
    const boundMs = turnBoundMs(this.o.stallMs);
    const deadline = { at: Date.now() + boundMs, boundMs };
    /** Waited for the API's rate limit in this turn, ms: none of it a failed try. */
    let limitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      this.current = controller;
      try {
        if (this.interruptPending || this.terminatedBy) return { kind: 'interrupted' };
        const message = await streamTurn(
          this.o.client,
          this.o.settings,
          this.cp.messages,
          controller.signal,
          { stallMs: this.o.stallMs, deadline },
          (delta) => this.o.transcript.text(delta),
          (warning) => this.warnOnce(warning),
        );
        this.o.transcript.endLine();
        return { kind: 'ok', message };
      } catch (error) {
        this.o.transcript.endLine();
        if (controller.signal.aborted || isAbort(error)) return { kind: 'interrupted' };
        const failure = describeApiFailure(error);
        if (failure.rateLimited) {
          // Waited out, not retried: the account is limited, nothing failed. Bounded by
          // model.rateLimitMaxWaitMinutes over the turn; the turn's own bound is moved on by the wait.
          const wait = failure.retryAfterMs ?? retryDelayMs(2, this.o.retryBaseMs, undefined);
          if (limitedMs + wait > this.o.rateLimitMaxWaitMs) {
            return {
              kind: 'failed',
              detail: `model API error: ${failure.detail} (rate-limited for ${formatDelay(limitedMs + wait)} in all, more than model.rateLimitMaxWaitMinutes)`,
            };
          }
          limitedMs += wait;
          deadline.at += wait;
          const until = new Date(Date.now() + wait);
          this.o.transcript.line(
            `${failure.label} — rate-limited until ${until.toTimeString().slice(0, 8)}, then it goes on`,
            'yellow',
          );
          this.o.events.status('rate-limited', `until ${until.toISOString()}`);
          try {
            await sleep(wait, undefined, { signal: controller.signal });
          } catch {
            return { kind: 'interrupted' };
          }
          this.o.events.status('working', 'the rate limit is over');
          attempt--;
          continue;
        }
        if (!failure.transient || attempt >= MAX_API_ATTEMPTS) {
          const after = attempt > 1 ? ` (after ${attempt} attempts)` : '';
          return { kind: 'failed', detail: `model API error: ${failure.detail}${after}` };
        }
        const delay = retryDelayMs(attempt + 1, this.o.retryBaseMs, failure.retryAfterMs);
        if (Date.now() + delay >= deadline.at) {
          return {
            kind: 'failed',
            detail: `model API error: ${failure.detail} (after ${attempt} attempts; a retry in ${formatDelay(delay)} would pass the turn's bound of ${formatSeconds(boundMs)})`,
          };
        }
        this.o.transcript.line(
          `${failure.label} — retrying in ${formatDelay(delay)} (attempt ${attempt + 1}/${MAX_API_ATTEMPTS})`,
          'yellow',
        );
        try {
          await sleep(delay, undefined, { signal: controller.signal });
        } catch {
          return { kind: 'interrupted' };
        }
      } finally {
        this.current = undefined;
      }
    }
  }

  /** Adds a response to the conversation, counts its usage and cost, and checkpoints. */
  private async recordTurn(message: Message): Promise<void> {
    const { cp } = this;
    let content = contentToParams(message.content);
    // The API refuses an empty assistant message in the history.
    if (content.length === 0) content = [{ type: 'text', text: '(empty response)' }];
    const calls = content.filter((b): b is ToolUseBlockParam => b.type === 'tool_use');
    cp.messages.push({ role: 'assistant', content });
    cp.turns += 1;
    const usage: UsageTotals = {
      input_tokens: message.usage.input_tokens ?? 0,
      output_tokens: message.usage.output_tokens ?? 0,
      cache_creation_input_tokens: message.usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: message.usage.cache_read_input_tokens ?? 0,
    };
    for (const key of Object.keys(usage) as (keyof UsageTotals)[]) cp.usage[key] += usage[key];
    const model = message.model || this.o.settings.model;
    const cost = costOfUsage(model, usage) ?? costOfUsage(this.o.settings.model, usage);
    if (cost === undefined) {
      if (!this.warnedUnpriced) {
        this.o.transcript.line(
          `! no price known for model ${model}: cost and budget are not tracked`,
          'yellow',
        );
        this.warnedUnpriced = true;
      }
      cp.costUsd = undefined;
    } else if (cp.costUsd !== undefined) {
      cp.costUsd += cost;
    }
    this.o.events.usage(model, usage);
    if (calls.length > 0) {
      cp.pending = { started: [], results: {} };
      if (message.stop_reason === 'max_tokens') {
        // The response was cut off mid-call: its input may be incomplete, so none of it runs.
        for (const call of calls) {
          cp.pending.results[call.id] = this.o.tools.notRun(
            call,
            'not run: your response hit max_tokens before this tool call was complete; send it again, smaller (split big files into several edits)',
          ).result;
        }
      }
    }
    await this.save();
    const totalIn =
      cp.usage.input_tokens + cp.usage.cache_creation_input_tokens + cp.usage.cache_read_input_tokens;
    this.o.transcript.line(
      `── turn ${cp.turns} · ${formatTokens(totalIn)} in / ${formatTokens(cp.usage.output_tokens)} out · ${formatCost(cp.costUsd)} ──`,
      'dim',
    );
  }

  /** Shows an SDK warning (a deprecated model) once, not on every request. */
  private warnOnce(text: string): void {
    if (this.warned.has(text)) return;
    this.warned.add(text);
    this.o.transcript.line(`! ${text.replace(/\s*\n\s*/g, ' ')}`, 'yellow');
  }

  private showOutcome(outcome: ToolOutcome): void {
    this.o.transcript.line(`  ${outcome.ok ? '✓' : '✗'} ${outcome.summary}`, outcome.ok ? 'green' : 'red');
    for (const line of outcome.detail) this.o.transcript.line(`    ${firstLine(line, 160)}`, 'dim');
  }

  /** Waits for the human's next line (returns at once when one is queued). */
  private async waitForHuman(reason: string): Promise<HumanWake> {
    this.interruptPending = false;
    if (this.terminatedBy) return 'terminate';
    if (this.cp.humanQueue.length > 0) return 'line';
    if (this.stdinClosed) return 'closed';
    // The waiter is in place before anything is awaited, so a Ctrl-C from here on stops the agent.
    const woken = new Promise<HumanWake>((resolve) => {
      this.waiter = resolve;
    });
    this.setState('waiting', reason);
    this.o.transcript.line(
      '⏸ waiting for you: type a message and press Enter (Ctrl-C stops the agent)',
      'yellow',
    );
    await this.save();
    return woken;
  }

  private wake(wake: HumanWake): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(wake);
  }

  /** Ends the agent after a wait that brought no line. */
  private endWait(wake: Exclude<HumanWake, 'line'>): Promise<number> | number {
    if (wake === 'terminate') return this.terminated();
    if (wake === 'finish') return EXIT_DONE;
    if (wake === 'closed') return this.fail('waiting for the human, but the terminal input is closed');
    return this.fail('stopped by the human');
  }

  /** The queued human lines as text blocks, and an empty queue. */
  private takeHumanLines(): TextBlockParam[] {
    const lines = this.cp.humanQueue.splice(0);
    return lines.map((line) => ({ type: 'text', text: line }));
  }

  private async finish(summary: string): Promise<number> {
    this.cp.summary = summary;
    this.setState('done', summary);
    await this.save();
    this.o.transcript.line(`✓ task complete: ${firstLine(summary, 200)}`, 'green', 'bold');
    return EXIT_DONE;
  }

  /**
   * Done, but staying: waits for a message from orchestra (the check gate's failures, a review) or
   * a line from the human, which continue the conversation; or for orchestra's finish.
   *
   * @returns the exit code when the agent ends, undefined when the conversation goes on
   */
  private async waitAfterComplete(summary: string): Promise<number | undefined> {
    if (this.cp.state !== 'done') await this.finish(summary);
    if (this.finishPending) return EXIT_DONE;
    if (this.cp.humanQueue.length === 0 && !this.terminatedBy) {
      this.o.transcript.line('⏸ waiting for the checks (or type a message to keep going)', 'yellow');
      let wake: HumanWake;
      do {
        wake = await new Promise<HumanWake>((resolve) => {
          this.waiter = resolve;
        });
        // The end of stdin does not undo a completed task: it is what a pane's terminal does when
        // the server dies (just before SIGHUP), and orchestra's inbox still reaches the agent.
        // Taking it as an error would record the done task as failed in the checkpoint.
      } while (wake === 'closed');
      if (wake === 'finish') return EXIT_DONE;
      if (wake !== 'line') return this.endWait(wake);
    }
    if (this.terminatedBy) return this.terminated();
    // The task_complete result is the newest user message; the new lines join it.
    await this.continueWithQueuedLines('continuing after task_complete');
    return undefined;
  }

  /**
   * Adds the queued lines (human's or orchestra's) to the newest user message — the model has not
   * seen it yet — or, after a turn that ended the task without a tool call, as a new one;
   * checkpoints, and goes back to work.
   */
  private async continueWithQueuedLines(summary: string): Promise<void> {
    const last = this.cp.messages.at(-1)!;
    if (last.role === 'assistant') {
      this.cp.messages.push({ role: 'user', content: this.takeHumanLines() });
      await this.save();
      this.setState('working', summary);
      return;
    }
    const content =
      typeof last.content === 'string' ? [{ type: 'text' as const, text: last.content }] : last.content;
    this.cp.messages[this.cp.messages.length - 1] = {
      role: 'user',
      content: [...content, ...this.takeHumanLines()],
    };
    await this.save();
    this.setState('working', summary);
  }

  private async fail(reason: string): Promise<number> {
    this.cp.summary = reason;
    this.setState('error', reason);
    this.o.transcript.line(`✗ ${reason}`, 'red', 'bold');
    await this.save().catch((error: unknown) => {
      this.o.transcript.line(`✗ could not write the checkpoint: ${errorMessage(error)}`, 'red');
    });
    return EXIT_FAILED;
  }

  /**
   * Ends after SIGTERM/SIGHUP without a status event: the server (or whoever sent the signal)
   * decides what the attempt's state is, and a resume continues from the checkpoint.
   */
  private async terminated(): Promise<number> {
    this.o.transcript.line(
      `✗ terminated by ${this.terminatedBy}; resume continues from the checkpoint`,
      'red',
    );
    await this.save().catch(() => {
      // The last good checkpoint stays; a resume continues from it.
    });
    return EXIT_FAILED;
  }

  private setState(state: AgentState, summary: string): void {
    // "working" again after "working" says nothing new; the server shows progress from usage events.
    if (state === 'working' && this.state === 'working') return;
    this.state = state;
    this.cp.state = state;
    this.o.events.status(state, summary);
  }

  /**
   * Checkpoints the current state. Writes are chained so they land in order: a later write always
   * serializes the later state, and an older one can never rename over it.
   */
  private save(): Promise<void> {
    const write = this.saving.then(() => saveCheckpoint(this.o.runDir, this.cp, this.o.redact));
    this.saving = write.catch(() => {
      // The caller of this save gets the error; the chain goes on for the next one.
    });
    return write;
  }

  /** The state the loop is in, for tests and the status line. */
  get currentState(): AgentState | undefined {
    return this.state;
  }
}

function taskSummary(call: ToolUseBlockParam): string {
  const summary = (call.input as { summary?: unknown } | null)?.summary;
  return typeof summary === 'string' ? summary.trim() : '';
}
