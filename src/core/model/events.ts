/**
 * Core's own event primitive, shaped like VS Code's `Event`/`Disposable` so core never needs
 * `vscode` at run time and the extension can hand these events straight to its views.
 */

export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (e: T) => void) => Disposable;

export class Emitter<T> {
  private listeners: Array<(e: T) => void> = [];

  readonly event: Event<T> = (listener) => {
    this.listeners.push(listener);
    return {
      dispose: () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      },
    };
  };

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  /** A throwing listener must not break the recorder's path: its error is reported, not propagated. */
  fire(e: T): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        // stderr, never stdout: a stdio recorder's stdout carries protocol bytes only.
        console.error('mcp-flight: event listener failed:', err);
      }
    }
  }

  dispose(): void {
    this.listeners = [];
  }
}
