import { OtlpLivePush } from '../core/export/otlp-push';
import { UsageError } from './usage';

/** The live-push flags `record` and `serve` share (docs/otlp.md). */
export const OTLP_OPTIONS = {
  'otlp-endpoint': { type: 'string' },
  'otlp-header': { type: 'string', multiple: true },
  'otlp-include-payloads': { type: 'boolean' },
} as const;

export const OTLP_HELP = `  --otlp-endpoint URL      push each call as an OpenTelemetry span to this OTLP/HTTP collector
                           (http://host:4318 or a full .../v1/traces URL); see docs/otlp.md
  --otlp-header K=V        a header for the collector, e.g. authentication (repeatable)
  --otlp-include-payloads  also push arguments and results (the redacted versions recorded)`;

export function otlpPushFrom(values: { 'otlp-endpoint'?: string; 'otlp-header'?: string[]; 'otlp-include-payloads'?: boolean }, log: (line: string) => void): OtlpLivePush | undefined {
  const endpoint = values['otlp-endpoint'];
  if (endpoint === undefined) {
    if (values['otlp-header'] !== undefined || values['otlp-include-payloads']) throw new UsageError('--otlp-header and --otlp-include-payloads need --otlp-endpoint');
    return undefined;
  }
  const headers: Record<string, string> = {};
  for (const h of values['otlp-header'] ?? []) {
    const i = h.indexOf('=');
    if (i <= 0) throw new UsageError(`--otlp-header "${h.replace(/=.*/, '=…')}" must look like "Name=value"`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  try {
    return new OtlpLivePush({ endpoint, headers, includePayloads: values['otlp-include-payloads'] === true, log });
  } catch (err) {
    throw new UsageError(`--otlp-endpoint: ${(err as Error).message}`);
  }
}
