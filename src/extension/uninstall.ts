/**
 * `vscode:uninstall` hook: runs in plain Node after the extension is fully uninstalled. Puts back
 * the other clients' configurations this extension wrapped, so they never point at a launcher
 * whose owner is gone. No vscode import is possible here.
 */
import { unwrapAll } from '../core/config/launcher';

for (const { file, servers } of unwrapAll()) {
  if (servers.length) console.log(`mcp-flight: restored ${servers.join(', ')} in ${file}`);
}
