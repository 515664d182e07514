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

/**
 * Appends JSON lines to a file (created 0600) or to stdout. Lines recorded in one turn of the event loop are
 * written together right after it, so responses leave before the audit write and a busy broker makes one
 * write per turn rather than one per request; a line is never held longer than that turn.
 */
export class AuditLog {
  private pending: string[] = [];
  private scheduled = false;

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
    this.pending.push(`${JSON.stringify(entry)}\n`);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending.join('');
    this.pending = [];
    this.stream.write(lines);
  }

  /** Resolves once every line recorded so far has reached the file or stdout. */
  flushed(): Promise<void> {
    this.flush();
    return new Promise((resolve) => this.stream.write('', () => resolve()));
  }

  async close(): Promise<void> {
    await this.flushed();
    if (this.ownsStream) await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}
