/**
 * Renders the webview with sample data and saves screenshots to .test-artifacts/ — for looking
 * at the UI while working on it: `node --import tsx test/webview/preview.ts`.
 */
import { fullDetail, PNG_1x1, sampleCalls, SESSION, T0 } from './fixtures';
import { startHarness } from './harness';

async function main(): Promise<void> {
  const h = await startHarness();
  try {
    const p = await h.open();
    const now = await p.eval<number>('Date.now()');
    const calls = sampleCalls(240, now);
    await p.post({ type: 'init', readOnly: false, title: 'MCP Flight Recorder — demo workspace', sessions: [{ session_id: SESSION, started_at: new Date(T0).toISOString(), label: 'extension', tool_calls: calls.length, failed_calls: 12 }], calls, follow: true });
    await p.until('document.body.dataset.ready === "true"');
    await p.frames(3);
    console.log('timeline', await p.screenshot('preview-timeline.png'));
    const failed = calls.find((c) => c.outcome === 'error')!;
    await p.page.evaluate((d: unknown) => {
      const w = globalThis as unknown as { __details: Record<string, unknown> };
      const det = d as { row: { session_id: string; call_id: string } };
      w.__details[`${det.row.session_id}/${det.row.call_id}`] = d;
    }, fullDetail(failed, { images: [{ mimeType: 'image/png', data: PNG_1x1 }, { mimeType: 'image/svg+xml', data: 'PHN2Zz48L3N2Zz4=' }] }));
    await p.post({ type: 'reveal', session_id: failed.session_id, call_id: failed.call_id });
    await p.until('!!document.querySelector(".detail:not([hidden]) .error-box")');
    await p.frames(3);
    console.log('detail', await p.screenshot('preview-detail.png'));
    await p.page.keyboard.press('Escape');
    await p.page.keyboard.press('v');
    await p.frames(3);
    console.log('list', await p.screenshot('preview-list.png'));
    console.log('errors', p.errors);
  } finally {
    await h.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
