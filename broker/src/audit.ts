import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';

export type AuditDecision = 'allow' | 'deny' | 'error';

/** One line of the audit log: one decision about one request (or one refused connection). */
export interface AuditEntry {
  time: string;
  listener: string;
  profile: string | null;
  peer: { pid?: number; uid?: number; gid?: number; netns?: string; netnsName?: string };
  method: string;
  /** sha256 of the params' JSON, first 16 hex digits: enough to correlate, never the values. */
  paramsDigest: string | null;
  decision: AuditDecision;
  rule: string | null;
  durationMs: number;
  /** 0 for success, else the JSON-RPC error code sent. */
  resultCode: number;
  reason?: string;
}

export function paramsDigest(params: unknown): string | null {
  if (params === undefined) return null;
  return createHash('sha256').update(JSON.stringify(params) ?? '').digest('hex').slice(0, 16);
}

/** Appends JSON lines to a file (created 0600) or to stdout; `close()` resolves once all is flushed. */
export class AuditLog {
  private constructor(
    private readonly stream: Writable,
    readonly target: string,
    private readonly ownsStream: boolean,
  ) {}

  static open(target: string): AuditLog {
    if (target === '-') return new AuditLog(process.stdout, 'stdout', false);
    mkdirSync(dirname(target), { recursive: true });
    const stream: WriteStream = createWriteStream(target, { flags: 'a', mode: 0o600 });
    stream.on('error', (error) => console.error(`winshost-broker: audit log ${target}: ${error.message}`));
    return new AuditLog(stream, target, true);
  }

  record(entry: AuditEntry): void {
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }

  /** Resolves once every line recorded so far has reached the file or stdout. */
  flushed(): Promise<void> {
    return new Promise((resolve) => this.stream.write('', () => resolve()));
  }

  close(): Promise<void> {
    if (!this.ownsStream) return new Promise((resolve) => (this.stream.writableLength ? this.stream.once('drain', resolve) : resolve()));
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
