/** Number, time and size formatting for the webview. Pure. */

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** Local clock time `HH:MM:SS.mmm`. */
export function clockTime(ms: number, withMs = true): string {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const base = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return withMs ? `${base}.${pad3(d.getMilliseconds())}` : base;
}

/** Local date and time `YYYY-MM-DD HH:MM:SS.mmm`. */
export function dateTime(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clockTime(ms)}`;
}

/** An ISO timestamp shown as local date/time, or the string itself when it does not parse. */
export function isoToLocal(iso: string | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? dateTime(ms) : iso;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    return `${m}m ${pad2(Math.floor((ms % 60_000) / 1000))}s`;
  }
  const hrs = Math.floor(ms / 3_600_000);
  return `${hrs}h ${pad2(Math.floor((ms % 3_600_000) / 60_000))}m`;
}

export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** 12,345 — without toLocaleString, which is slow enough to matter per frame. */
export function count(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const neg = n < 0;
  let s = String(Math.round(Math.abs(n)));
  if (s.length > 3) {
    let out = '';
    while (s.length > 3) {
      out = `,${s.slice(-3)}${out}`;
      s = s.slice(0, -3);
    }
    s += out;
  }
  return neg ? `-${s}` : s;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** A "nice" tick step (1, 2 or 5 × 10^k ms) so that ticks are at least `minPx` apart. */
export function tickStep(msPerPx: number, minPx: number): number {
  const raw = msPerPx * minPx;
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];
  for (const s of steps) if (s >= raw) return s;
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}

/** Label for a tick at `ms`, precise enough for `step`. */
export function tickLabel(ms: number, step: number): string {
  if (step < 1000) return clockTime(ms, true);
  return clockTime(ms, false);
}
