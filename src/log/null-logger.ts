import type { LogFn } from 'pino';
import type { Logger } from './logger.js';

// Apart from logger.ts so that a process that logs nowhere (a server outside a repository) does
// not load pino.

/** A logger that drops everything, for code paths that run outside a repository. */
export function nullLogger(): Logger {
  const drop: LogFn = () => undefined;
  const logger: Logger = {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    error: drop,
    fatal: drop,
    child: () => logger,
    isLevelEnabled: () => false,
    flush: () => undefined,
    close: () => undefined,
  };
  return logger;
}
