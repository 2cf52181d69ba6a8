import type * as Runtime from './runtime';

let loaded: typeof Runtime | undefined;

/** The extension's heavy half, loaded on first use (see runtime.ts). */
export function runtime(): typeof Runtime {
  // A plain require of a sibling bundle (dist/runtime.js); esbuild leaves it as it is.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('./runtime') as typeof Runtime);
}
