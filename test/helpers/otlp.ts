import * as http from 'node:http';
import * as path from 'node:path';
import ts from 'typescript';
import { ROOT } from './env';

/**
 * A local OTLP/HTTP receiver (a real node:http server, as a collector's `otlphttp` receiver
 * answers) and a check of what it received against the OTLP definitions shipped in
 * @opentelemetry/otlp-transformer.
 *
 * otlp-transformer 0.223 no longer ships a protobufjs root (its serializers are hand-written),
 * so there is no generated `fromObject`/`verify`. What it ships are the TypeScript definitions of
 * the OTLP messages (`IExportTraceServiceRequest` … `IAnyValue`, enums `ESpanKind`,
 * `EStatusCode`); `checkOtlpDefinitions` has the TypeScript compiler check each received body
 * as a literal of that type, which rejects unknown fields, wrong types and out-of-range enum
 * values. The encoding rules the types cannot express (hex ids, nanosecond strings) are
 * checked by `decodeTraces`.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (bound, then closed). */
export async function deadEndpoint(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** Type-checks each body as an `IExportTraceServiceRequest` (one compiler run for all); returns the compiler's complaints per body (empty when valid). */
export function checkOtlpDefinitions(bodies: string[]): string[][] {
  const file = path.join(ROOT, 'test', '__otlp_definitions_check__.ts');
  const lines = ["import type { IExportTraceServiceRequest } from '@opentelemetry/otlp-transformer/build/src/trace/internal-types';"];
  const firstLine: number[] = [];
  bodies.forEach((b, i) => {
    firstLine.push(lines.length);
    lines.push(...`export const body${i}: IExportTraceServiceRequest = ${JSON.stringify(JSON.parse(b), null, 1)};`.split('\n'));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [], skipLibCheck: true };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  const out: string[][] = bodies.map(() => []);
  for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
    const line = d.start !== undefined ? sf.getLineAndCharacterOfPosition(d.start).line : 0;
    let i = firstLine.length - 1;
    while (i > 0 && firstLine[i]! > line) i--;
    out[Math.max(0, i)]!.push(`${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return out;
}

export type AttrValue = string | number | boolean | AttrValue[] | undefined;

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  start: bigint;
  end: bigint;
  status: { code: number; message?: string };
  attributes: Record<string, AttrValue>;
  events: Array<{ name: string; time: bigint; attributes: Record<string, AttrValue> }>;
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, AttrValue>;
  scope: { name: string; version?: string };
}

interface JsonAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: JsonAnyValue[] };
}

/** Flattens OTLP/JSON bodies into spans, checking the OTLP/JSON encoding rules on the way. */
export function decodeTraces(bodies: string[]): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  for (const body of bodies) {
    const req = JSON.parse(body) as { resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value: JsonAnyValue }> }; scopeSpans: Array<{ scope?: { name: string; version?: string }; spans?: Array<Record<string, unknown>> }> }> };
    for (const rs of req.resourceSpans ?? []) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans ?? []) {
          const hex = (v: unknown, len: number, what: string): string => {
            if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${len}}$`).test(v) || /^0+$/.test(v)) throw new Error(`${what} must be ${len} lowercase hex digits, not all zero (OTLP/JSON): ${String(v)}`);
            return v;
          };
          const nanos = (v: unknown, what: string): bigint => {
            if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${what} must be a decimal string or number`);
            if (!/^\d+$/.test(String(v))) throw new Error(`${what} must be an unsigned integer: ${String(v)}`);
            return BigInt(v);
          };
          const status = (s.status ?? {}) as { code?: number; message?: string };
          out.push({
            traceId: hex(s.traceId, 32, 'traceId'),
            spanId: hex(s.spanId, 16, 'spanId'),
            ...(s.parentSpanId !== undefined && s.parentSpanId !== '' ? { parentSpanId: hex(s.parentSpanId, 16, 'parentSpanId') } : {}),
            name: s.name as string,
            kind: s.kind as number,
            start: nanos(s.startTimeUnixNano, 'startTimeUnixNano'),
            end: nanos(s.endTimeUnixNano, 'endTimeUnixNano'),
            status: { code: status.code ?? 0, ...(status.message !== undefined ? { message: status.message } : {}) },
            attributes: attrs(s.attributes as Array<{ key: string; value: JsonAnyValue }>),
            events: ((s.events ?? []) as Array<{ name: string; timeUnixNano: unknown; attributes?: Array<{ key: string; value: JsonAnyValue }> }>).map((e) => ({ name: e.name, time: nanos(e.timeUnixNano, 'timeUnixNano'), attributes: attrs(e.attributes) })),
            links: ((s.links ?? []) as Array<{ traceId: unknown; spanId: unknown }>).map((l) => ({ traceId: hex(l.traceId, 32, 'link traceId'), spanId: hex(l.spanId, 16, 'link spanId') })),
            resource,
            scope: { name: ss.scope?.name ?? '', ...(ss.scope?.version ? { version: ss.scope.version } : {}) },
          });
        }
      }
    }
  }
  return out;
}

function attrs(list: Array<{ key: string; value: JsonAnyValue }> | undefined): Record<string, AttrValue> {
  const o: Record<string, AttrValue> = {};
  for (const kv of list ?? []) {
    if (kv.key in o) throw new Error(`attribute ${kv.key} appears twice`);
    o[kv.key] = anyValue(kv.value);
  }
  return o;
}

function anyValue(v: JsonAnyValue): AttrValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  return undefined;
}
