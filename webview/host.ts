/**
 * The webview's one channel to the extension host: `acquireVsCodeApi()` out, `message` events in.
 * Typed by src/shared/protocol.ts.
 */
import type { FromWebview, ToWebview } from '../src/shared/protocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** What the webview keeps across reloads (VS Code's webview state; no server data). */
export interface UiState {
  view?: 'timeline' | 'list';
  detailWidth?: number;
  text?: string;
}

export class Host {
  private readonly api: VsCodeApi | undefined;

  constructor() {
    this.api = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  }

  post(message: FromWebview): void {
    this.api?.postMessage(message);
  }

  getState(): UiState {
    const s = this.api?.getState();
    return s && typeof s === 'object' ? (s as UiState) : {};
  }

  setState(state: UiState): void {
    this.api?.setState(state);
  }

  onMessage(handler: (m: ToWebview) => void): void {
    window.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as ToWebview | null;
      if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') return;
      handler(m);
    });
  }
}
