/** At most one notification of a kind every 30 s, counting what happened in between. */
export const NOTIFY_INTERVAL_MS = 30_000;

/**
 * Spaces notifications out: an agent that fails (or trips alerts) in a loop must not bury the
 * editor in toasts. `request()` schedules `show` at once, or when the interval since the last
 * one has passed; requests in between join that one, and `show` reports what gathered meanwhile.
 */
export class NoticeThrottle {
  private lastShown = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly show: () => Promise<void> | void) {}

  request(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastShown + NOTIFY_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastShown = Date.now();
      void this.show();
    }, wait);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
