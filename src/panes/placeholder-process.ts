import type { Disposable, PaneExit, PaneProcess } from './pane-process.js';

/**
 * What a pane runs before its real process exists: nothing. An attempt's pane opens when the
 * attempt starts preparing, so a person sees the worktree, setup output and progress (printed
 * into the pane by orchestra) before the agent starts; the agent is then respawned into the same
 * pane. Input is dropped; it ends only when killed.
 */
export class PlaceholderProcess implements PaneProcess {
  readonly pid = undefined;
  private readonly exitListeners = new Set<(exit: PaneExit) => void>();
  private exited: PaneExit | undefined;

  write(): void {
    // Nothing reads it: keys typed during setup have nowhere to go.
  }

  resize(): void {}

  onData(): Disposable {
    return { dispose: () => {} };
  }

  onExit(listener: (exit: PaneExit) => void): Disposable {
    if (this.exited) {
      listener(this.exited);
      return { dispose: () => {} };
    }
    this.exitListeners.add(listener);
    return { dispose: () => this.exitListeners.delete(listener) };
  }

  pause(): void {}

  resume(): void {}

  kill(signal = 'SIGHUP'): void {
    if (this.exited) return;
    this.exited = { exitCode: null, signal };
    for (const listener of [...this.exitListeners]) listener(this.exited);
  }
}
