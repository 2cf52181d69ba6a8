/**
 * Profiles the webview with 100k calls (JS CPU profile of a scripted list scroll or timeline pan)
 * and prints the hottest functions: `node --import tsx test/webview/profile.ts [list|timeline|stream|init]`.
 */
import { GEN_CALLS_SOURCE } from './fixtures';
import { startHarness } from './harness';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'list';
  const h = await startHarness();
  try {
    const p = await h.open();
    await p.eval(GEN_CALLS_SOURCE);
    await p.eval('window.__calls = window.__genCalls(100000, Date.now() - 100000 * 100); 0');
    const cdp = await h.cdp(p.page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    if (mode === 'init') await cdp.send('Profiler.start');
    await p.eval(`window.postMessage({ type: 'init', readOnly: false, title: 'perf', sessions: [], calls: window.__calls, follow: ${mode === 'stream'} }, '*')`);
    await p.until('document.body.dataset.ready === "true"', 30000);
    if (mode === 'list') {
      await p.page.click('button:has-text("List")');
      await p.frames(2);
    }
    if (mode !== 'init') await cdp.send('Profiler.start');
    const t0 = Date.now();
    const script = mode === 'list'
      ? `new Promise(function (r) { var s = performance.now(), n = 0, gap = 0, last = s; function f(now) { n++; gap = Math.max(gap, now - last); last = now; var g = document.querySelector('.grid'); g.scrollTop = (g.scrollHeight - g.clientHeight) * Math.min(1, (now - s) / 4000); if (now - s < 4000) requestAnimationFrame(f); else r({ frames: n, gap: gap }); } requestAnimationFrame(f); })`
      : mode === 'timeline'
      ? `new Promise(function (r) { var s = performance.now(), n = 0, gap = 0, last = s; function f(now) { n++; gap = Math.max(gap, now - last); last = now; var el = document.querySelector('.tl-scroll'); var rc = window.__rect || (window.__rect = el.getBoundingClientRect()); if (now - s < 1000) el.dispatchEvent(new WheelEvent('wheel', { deltaY: -60, ctrlKey: true, clientX: rc.left + rc.width * 0.7, clientY: rc.top + 40, bubbles: true, cancelable: true })); else el.dispatchEvent(new WheelEvent('wheel', { deltaX: -80, clientX: rc.left + 400, clientY: rc.top + 40, bubbles: true, cancelable: true })); if (now - s < 4000) requestAnimationFrame(f); else r({ frames: n, gap: gap }); } requestAnimationFrame(f); })`
      : mode === 'stream'
      ? `new Promise(function (r) { var k = 0; var iv = setInterval(function () { var now = Date.now(), calls = []; for (var j = 0; j < 100; j++, k++) calls.push({ session_id: 'live', call_id: 'L' + k, server: 'filesystem', tool: 'echo', method: 'tools/call', direction: 'client_to_server', outcome: 'success', duration_ms: 50, start_ms: now - 50 + j / 2, input_summary: '{}', alerts: 0 }); window.postMessage({ type: 'calls', calls: calls }, '*'); }, 100); var s = performance.now(), n = 0, gap = 0, last = s; function f(now) { n++; gap = Math.max(gap, now - last); last = now; if (now - s < 4000) requestAnimationFrame(f); else { clearInterval(iv); r({ frames: n, gap: gap }); } } requestAnimationFrame(f); })`
      : 'Promise.resolve({})';
    const res = await p.eval(script);
    console.log(mode, res, `${Date.now() - t0} ms`);
    const { profile } = await cdp.send('Profiler.stop');
    const nodes = profile.nodes as Node[];
    const self = new Map<string, number>();
    let total = 0;
    for (const n of nodes) {
      const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
      self.set(k, (self.get(k) ?? 0) + n.hitCount);
      total += n.hitCount;
    }
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
    for (const [k, v] of top) console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  } finally {
    await h.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
