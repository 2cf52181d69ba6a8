import * as vscode from 'vscode';

/**
 * Read-only JSON documents for a call's inputs and results (`mcp-flight:` URIs). Their content
 * is produced when opened and kept for the window, so a diff of a replay against the original
 * stays valid while its editor is open.
 */
export const SCHEME = 'mcp-flight';

export class FlightDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration: vscode.Disposable;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '// This recorded document is no longer available in this window.\n';
  }

  /** Registers a JSON document and returns its URI. `name` ends up as the tab title. */
  put(segments: string[], value: unknown): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: '/' + segments.map((s) => s.replace(/[/\\]/g, '_')).join('/') });
    this.contents.set(uri.toString(), toJsonText(value));
    this.changed.fire(uri);
    return uri;
  }

  async open(segments: string[], value: unknown, options: vscode.TextDocumentShowOptions = {}): Promise<vscode.TextEditor> {
    const uri = this.put(segments, value);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'json');
    return vscode.window.showTextDocument(doc, { preview: true, ...options });
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}

export function toJsonText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value ?? null, null, 2) + '\n';
  } catch {
    return '// This payload is too deeply nested to show as JSON.\n';
  }
}
