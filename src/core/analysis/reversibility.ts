import type { Reversibility, TagSource } from '../model/calls';
import type { ToolPolicy } from '../policy/rules';

/**
 * Idempotency and reversibility of a tool call, from the tool's MCP annotations, overridden per
 * server/tool by the policy. Each tag says where it came from:
 *
 * - `override`   — a policy entry set it;
 * - `annotation` — the hints that decide it were present in the tool's `annotations`;
 * - `default`    — the spec's default for a hint that was absent decided it (or the tool was
 *                  never listed, so nothing is known and the spec's defaults apply).
 *
 * The spec's defaults (MCP 2025-03-26 and later, ToolAnnotations): readOnlyHint false,
 * destructiveHint true, idempotentHint false, openWorldHint true — a tool is assumed to write,
 * destroy, and reach the outside world unless it says otherwise.
 *
 * Reversibility:
 * - readOnlyHint: true                                   → no_effect
 * - destructiveHint: false and openWorldHint: false      → reversible (it only adds, inside a closed
 *                                                          world the user controls)
 * - otherwise (destructive, or reaching the open world)  → permanent
 *
 * Idempotency: readOnlyHint: true → true; else idempotentHint (default false).
 */

export type { TagSource };

export interface EffectTags {
  idempotent: boolean;
  idempotent_source: TagSource;
  reversibility: Reversibility;
  reversibility_source: TagSource;
}

export function effectTags(annotations: Record<string, unknown> | undefined, policy: ToolPolicy | undefined): EffectTags {
  const a = annotations ?? {};
  const has = (k: string) => typeof a[k] === 'boolean';
  const readOnly = a.readOnlyHint === true;

  let reversibility: Reversibility;
  let reversibility_source: TagSource;
  if (policy?.reversibility !== undefined) {
    reversibility = policy.reversibility;
    reversibility_source = 'override';
  } else if (readOnly) {
    reversibility = 'no_effect';
    reversibility_source = 'annotation';
  } else if (a.destructiveHint === true) {
    reversibility = 'permanent';
    reversibility_source = 'annotation';
  } else if (a.destructiveHint === false) {
    // Non-destructive: open-world reach decides; its default (true) makes the effect permanent.
    reversibility = a.openWorldHint === false ? 'reversible' : 'permanent';
    reversibility_source = has('openWorldHint') ? 'annotation' : 'default';
  } else {
    reversibility = 'permanent';
    reversibility_source = 'default';
  }

  let idempotent: boolean;
  let idempotent_source: TagSource;
  if (policy?.idempotent !== undefined) {
    idempotent = policy.idempotent;
    idempotent_source = 'override';
  } else if (readOnly) {
    idempotent = true;
    idempotent_source = 'annotation';
  } else if (has('idempotentHint')) {
    idempotent = a.idempotentHint === true;
    idempotent_source = 'annotation';
  } else {
    idempotent = false;
    idempotent_source = 'default';
  }
  return { idempotent, idempotent_source, reversibility, reversibility_source };
}
