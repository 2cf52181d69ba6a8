import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEnv } from 'node:util';
import type { FrameChannel } from '../channel';
import { LineSplitter, withNewline } from '../framing';
import type { ConnectionRecorder } from '../recorder';

/** How to launch a stdio MCP server, in the shape of `.vscode/mcp.json`. */
export interface StdioLaunch {
  command: string;
  args?: string[];
  /** A `null` value removes the variable from the inherited environment (VS Code's semantics). */
  env?: Record<string, string | number | null>;
  envFile?: string;
  cwd?: string;
}

/** stderr lines longer than this are cut in the record (the child's stream itself is untouched). */
const MAX_STDERR_LINE = 16 * 1024;
const CLOSE_GRACE_MS = 2000;

/**
 * The server side as a child process. Unlike the SDK's StdioClientTransport, the child inherits
 * the full environment (as VS Code gives its MCP servers) and every stdout byte is framed by us,
 * so banners, invalid UTF-8 and oversized messages are recorded instead of dropped.
 */
export class StdioChildChannel implements FrameChannel {
  onframe?: (frame: Buffer | string) => void;
  onclose?: (reason: string) => void;
  private child?: ChildProcessWithoutNullStreams;
  private closedReason?: string;
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(
    private readonly launch: StdioLaunch,
    private readonly connection: ConnectionRecorder,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The child's exit code; 1 when it was killed by a signal or never started; undefined while it runs. */
  get exitCode(): number | undefined {
    if (this.exitInfo) return this.exitInfo.code ?? 1;
    return this.closedReason !== undefined ? 1 : undefined;
  }

  async start(): Promise<void> {
    let env: NodeJS.ProcessEnv;
    try {
      env = buildEnvironment(this.launch);
    } catch (err) {
      this.connection.event({ type: 'spawn_error', code: 'ENVFILE', message: (err as Error).message });
      this.finish(`could not read envFile: ${(err as Error).message}`);
      return;
    }
    const child = spawn(this.launch.command, this.launch.args ?? [], {
      cwd: this.launch.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
      windowsHide: true,
    });
    this.child = child;

    const stdout = new LineSplitter((line) => this.onframe?.(line));
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stdout.on('end', () => {
      const rest = stdout.flush();
      if (rest) this.onframe?.(rest);
    });

    const stderr = new LineSplitter((line) => this.recordStderr(line));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stderr.on('end', () => {
      const rest = stderr.flush();
      if (rest) this.recordStderr(rest);
    });

    child.stdin.on('error', (err) => {
      // EPIPE after the child died is expected; the exit record tells why.
      if (!this.exitInfo) this.connection.event({ type: 'transport_error', side: 'downstream', message: `stdin: ${err.message}` });
    });

    await new Promise<void>((resolve) => {
      child.once('spawn', () => {
        this.connection.event({ type: 'process_spawn', pid: child.pid ?? -1 });
        resolve();
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (child.pid === undefined) {
          this.connection.event({ type: 'spawn_error', code: err.code ?? 'ERROR', message: err.message });
          this.finish(`failed to start ${this.launch.command}: ${err.message}`);
          resolve();
        } else {
          this.connection.event({ type: 'transport_error', side: 'downstream', message: err.message });
        }
      });
    });

    child.once('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      this.connection.event({ type: 'process_exit', code, signal });
    });
    // 'close' comes after stdout and stderr are drained: every line is recorded before we report the end.
    child.once('close', (code, signal) => {
      this.finish(signal ? `server process killed by ${signal}` : `server process exited with code ${code}`);
    });
  }

  send(frame: Buffer | string): void {
    const child = this.child;
    if (!child || this.closedReason !== undefined || !child.stdin.writable) {
      throw new Error(this.closedReason ?? 'server process is not running');
    }
    child.stdin.write(withNewline(frame));
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closedReason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin.end();
    if (await settlesWithin(exited, CLOSE_GRACE_MS)) return;
    child.kill('SIGTERM');
    if (await settlesWithin(exited, CLOSE_GRACE_MS)) return;
    child.kill('SIGKILL');
    await exited;
  }

  private recordStderr(line: Buffer): void {
    let text = line.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.length > MAX_STDERR_LINE) text = `${text.slice(0, MAX_STDERR_LINE)}… [cut: ${text.length - MAX_STDERR_LINE} more characters]`;
    this.connection.event({ type: 'stderr', text });
  }

  private finish(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.onclose?.(reason);
  }
}

export function buildEnvironment(launch: StdioLaunch): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (launch.envFile) {
    const file = path.resolve(launch.cwd ?? process.cwd(), launch.envFile);
    Object.assign(env, parseEnv(fs.readFileSync(file, 'utf8')));
  }
  for (const [key, value] of Object.entries(launch.env ?? {})) {
    if (value === null) delete env[key];
    else env[key] = String(value);
  }
  return env;
}

function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
