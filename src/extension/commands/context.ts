import type * as vscode from 'vscode';
import type { Flight } from '../flight';
import type { ServerConsent } from '../servers/consent';
import type { FlightDocuments } from '../views/documents';
import type { FlightNode, FlightTree } from '../views/tree';
import { StoreTimelineSource, type TimelineSource } from '../views/timeline-data';
import type { CallRef } from './call-ref';

/** What commands work with; created once in activate(). */
export interface CommandContext {
  extension: vscode.ExtensionContext;
  flight: Flight;
  documents: FlightDocuments;
  tree: FlightTree;
  treeView: vscode.TreeView<FlightNode>;
  consent: ServerConsent;
}

/** The source a call reference points into: an exported file, or the workspace store. */
export async function sourceOf(ctx: CommandContext, ref: CallRef): Promise<TimelineSource> {
  return ref.source ?? new StoreTimelineSource(await ctx.flight.store());
}
