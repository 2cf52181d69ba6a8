import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI, NODE, ROOT } from './env';

/** One endpoint from the line `mcp-flight serve --json` prints first. */
export interface ServedEndpoint {
  name: string;
  url: string;
  token: string;
}

export interface Served {
  child: ChildProcessWithoutNullStreams;
  servers: ServedEndpoint[];
  /** What the process wrote on stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<unknown>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the built CLI's `serve --json` with `args` (in the repository root) and waits for the line that names its endpoints. */
export async function startServe(args: string[]): Promise<Served> {
  const child = spawn(NODE, [CLI, 'serve', '--json', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`mcp-flight serve exited with ${code}: ${stderr}`)));
  });
  return {
    child,
    servers: (JSON.parse(line) as { servers: ServedEndpoint[] }).servers,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      await exited;
    },
  };
}
