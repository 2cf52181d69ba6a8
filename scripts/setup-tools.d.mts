/** Types for the plain-JS tools installer, so TypeScript tests can import it. */
export interface ToolPaths {
  toolsDir: string;
  nodeModules: string;
  node24Dir: string;
  node24BinDir: string;
  node24: string;
  codeServerDir: string;
  codeServerEntry: string;
  chromium: string;
  inspectorDir: string;
  inspectorCli: string;
  playwrightCore: string;
  axeCoreDir: string;
  axeCoreScript: string;
}
export const repoRoot: string;
export function toolPaths(root?: string): ToolPaths;
export function toolsReady(root?: string): boolean;
export function ensureTools(options?: { root?: string; force?: boolean; quiet?: boolean }): ToolPaths;
