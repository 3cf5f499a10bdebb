/**
 * orchestra's structured log: pino writing one JSON object per line, normally to
 * `.orchestra/logs/orchestra.jsonl` (`orchestraPaths(root).log`). Every line carries
 * `time` (ISO 8601, UTC), `level` (a word: "info", "warn", ...), `component` and `msg`; a session
 * server's lines also carry `session`, and `task`, `attempt` or other fields come from child
 * loggers. The README's "Logs" section documents the same fields for people who ship the log:
 *
 *   {"level":"info","time":"2025-05-01T12:00:00.000Z","session":"demo","component":"scheduler","task":"task-03","attempt":"task-03-a1","msg":"attempt started"}
 *
 * Secrets are redacted before a line reaches the file (see `redact.ts`). Logging never throws:
 * a line that cannot be written (a full disk) is dropped and the server goes on (see `log-file.ts`).
 */
import { type LogFn, type Logger as PinoLogger, pino } from 'pino';
import { OrchestraError } from '../common/errors.js';
import { LogFile, noteOnStderr } from './log-file.js';
import { collectSecrets, redactSecretKeys, secretValueRedactor } from './redact.js';

/** Log levels, least to most severe; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Fields a child logger adds to each of its lines. */
export interface LogBindings {
  /** the part of orchestra that logs: `server`, `scheduler`, `worker`, ... */
  component?: string;
  /** task id, e.g. `task-03` */
  task?: string;
  /** attempt id, e.g. `task-03-a1` */
  attempt?: string;
  [key: string]: unknown;
}

/**
 * A structured logger. Each level method takes `(msg, ...printfArgs)` or
 * `(fields, msg?, ...printfArgs)` like pino; an Error as first argument is logged under `err`.
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger whose lines also carry `bindings`; a `component` given here replaces the parent's. */
  child(bindings: LogBindings): Logger;
  isLevelEnabled(level: LogLevel): boolean;
  /** Writes anything buffered. Lines are written synchronously, so this is cheap. */
  flush(): void;
  /** Flushes and closes the file, for this logger and all its relatives; later calls log nothing. */
  close(): void;
}

export interface LoggerOptions {
  /** minimum level written; default `info` */
  level?: string;
  /** `component` of lines from this logger; default `orchestra` */
  component?: string;
  /** extra secret values to redact, besides ANTHROPIC_API_KEY, OPENAI_API_KEY, ANTHROPIC_AUTH_TOKEN */
  secrets?: string[];
  /**
   * Fields every line of this logger and of all its children carries, e.g. `{ session: 'demo' }`
   * for a session server. Children should not repeat them: the line would hold the key twice.
   */
  bindings?: Omit<LogBindings, 'component'>;
}

/**
 * Opens (appending) or creates the log file, creating its directory.
 *
 * Secret values are taken from the environment when the logger is created. Writes are
 * synchronous: a line is in the file when the log call returns, at the price of one write(2)
 * per line, which orchestra's log volume affords. A write that fails (ENOSPC, EIO) drops its line
 * and never throws: stderr says once that logging is degraded, and once writes work again the
 * log gets a `warn` line saying how many lines were dropped (`droppedLines`).
 *
 * @param file the log file, normally `orchestraPaths(root).log`
 * @throws OrchestraError CONFIG_INVALID for an unknown `level`
 * @throws the fs error when the file cannot be opened
 */
export function createLogger(file: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new OrchestraError('CONFIG_INVALID', `unknown log level "${level}"`, {
      hint: `use one of ${LOG_LEVELS.join(', ')}`,
    });
  }
  const destination = new LogFile(file);
  const redactLine = secretValueRedactor(collectSecrets(options.secrets ?? []));
  const root = pino(
    {
      level,
      // No pid/hostname: one log per repository, and the server's pid is in its own lines' fields.
      // Base fields are on every line, the recovery notice of `#method` included.
      base: options.bindings ? redactSecretKeys(options.bindings) : undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactSecretKeys(object),
      },
      hooks: { streamWrite: redactLine },
    },
    destination,
  );
  const shared: SharedState = {
    closed: false,
    file: destination,
    // Every line is written before its log call returns: nothing is ever buffered.
    flush: () => undefined,
    close: () => {
      if (shared.closed) return;
      shared.closed = true;
      destination.close();
    },
  };
  return new FileLogger(root, { component: options.component ?? 'orchestra' }, shared);
}

interface SharedState {
  closed: boolean;
  /** Set once a line failed in pino itself (noted on stderr once). */
  formatFailed?: boolean;
  /** The file, when there is one: asked after each line whether logging has just recovered. */
  file?: LogFile;
  flush(): void;
  close(): void;
}

class FileLogger implements Logger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  readonly #root: PinoLogger;
  readonly #pino: PinoLogger;
  readonly #bindings: LogBindings;
  readonly #shared: SharedState;

  constructor(root: PinoLogger, bindings: LogBindings, shared: SharedState) {
    // Every logger is a direct pino child of the root with the merged bindings: pino appends a
    // grandchild's bindings to its parent's, which would repeat `component` in one line.
    this.#root = root;
    // pino's `formatters.bindings` only sees the root's base bindings, so children are redacted here.
    this.#pino = root.child(redactSecretKeys(bindings));
    this.#bindings = bindings;
    this.#shared = shared;
    this.trace = this.#method('trace');
    this.debug = this.#method('debug');
    this.info = this.#method('info');
    this.warn = this.#method('warn');
    this.error = this.#method('error');
    this.fatal = this.#method('fatal');
  }

  child(bindings: LogBindings): Logger {
    return new FileLogger(this.#root, { ...this.#bindings, ...bindings }, this.#shared);
  }

  isLevelEnabled(level: LogLevel): boolean {
    return !this.#shared.closed && this.#pino.isLevelEnabled(level);
  }

  flush(): void {
    this.#shared.flush();
  }

  close(): void {
    this.#shared.close();
  }

  #method(level: Exclude<LogLevel, 'silent'>): LogFn {
    const target = this.#pino;
    const root = this.#root;
    const shared = this.#shared;
    return ((...args: Parameters<LogFn>) => {
      // A closed file cannot be written; logging after shutdown is not worth a crash.
      if (shared.closed) return;
      try {
        target[level](...args);
        shared.file?.reportRecovery((droppedLines) =>
          root.child({ component: 'log' }).warn({ droppedLines }, 'logging recovered after failed writes'),
        );
      } catch (error) {
        // Write errors never get here (LogFile drops the line); this is a line pino could not
        // serialise (a throwing getter). Losing one line is better than losing the server.
        if (!shared.formatFailed) noteOnStderr(`a log line could not be written: ${String(error)}`);
        shared.formatFailed = true;
      }
    }) as LogFn;
  }
}
