/** What the timeline and the list need from the app: the store, selection, follow mode. */
import type { CallStore } from './state';

export interface SelectOptions {
  /** Scroll the view so the call is visible (keyboard navigation, reveal). */
  reveal?: boolean;
  /** Also load the call into the detail pane. */
  open?: boolean;
}

export interface ViewHost {
  readonly store: CallStore;
  /** The selected call index, or −1. */
  selected(): number;
  select(i: number, opts?: SelectOptions): void;
  /** Moves the selection by `delta` visible calls (or to the first/last with ±Infinity). */
  moveSelection(delta: number): void;
  openDetail(i: number): void;
  follow(): boolean;
  setFollow(on: boolean): void;
  /** Current time for pending calls. */
  now(): number;
  /** Asks for a render on the next animation frame (or after `delayMs`). */
  requestRender(delayMs?: number): void;
}

/** The selection keys the timeline and the list share (Home, End, Enter / Space); false for any other key. */
export function handleSelectionKey(host: ViewHost, key: string): boolean {
  switch (key) {
    case 'Home':
      host.moveSelection(-Infinity);
      return true;
    case 'End':
      host.moveSelection(Infinity);
      return true;
    case 'Enter':
    case ' ': {
      const sel = host.selected();
      if (sel >= 0) host.openDetail(sel);
      else host.moveSelection(1);
      return true;
    }
    default:
      return false;
  }
}
