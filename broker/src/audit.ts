import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
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
  let text: string;
  try {
    text = JSON.stringify(params) ?? '';
  } catch {
    // Params nested deeper than the stack (JSON.parse takes what JSON.stringify cannot give back).
    text = '<not serializable>';
  }
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Where lines go; `write` rejects when they did not get there. */
export interface AuditSink {
  write(data: string): Promise<void>;
  close(): Promise<void>;
}

/** Lines kept for a retry while the log cannot be written; past this the oldest are dropped and counted. */
const MAX_RETAINED_BYTES = 1024 * 1024;

/**
 * Appends JSON lines to a file (created 0600) or to stdout. Lines recorded in one turn of the event loop are
 * written together right after it, so responses leave before the audit write and a busy broker makes one
 * write per turn rather than one per request; a line is never held longer than that turn.
 *
 * A file is appended by path on every write rather than through a descriptor held open: an open descriptor
 * keeps "working" after its directory is removed or the file is rotated away, so a dead log would go
 * unnoticed. The last write error is kept; `healthy()` says whether the log can be written, and the
 * connections refuse to act while it cannot (unless the policy says `failOpen`).
 */
export class AuditLog {
  private pending: string[] = [];
  private scheduled = false;
  /** Serializes writes so lines stay in order even when one write is slow or fails. */
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private dropped = 0;

  constructor(
    private readonly sink: AuditSink,
    readonly target: string,
    private readonly log: (message: string) => void = (message) => console.error(`winshost-broker: ${message}`),
    /** Checks synchronously whether the log can be written again; without one, only a successful write recovers. */
    private readonly probe?: () => void,
  ) {}

  static open(target: string, log?: (message: string) => void): AuditLog {
    if (target === '-') return new AuditLog(streamSink(process.stdout, false), 'stdout', log);
    mkdirSync(dirname(target), { recursive: true });
    // Created now so a bad path stops the start instead of the first request.
    appendFileSync(target, '', { mode: 0o600 });
    // Synchronous on purpose: the write comes after the turn's responses have left, and a local append is a
    // few microseconds of syscalls, where the promise API's open, write and close each went through the
    // thread pool and woke the event loop again (about 50 µs per session/invoke on a two-core host).
    const sink: AuditSink = { write: async (data) => appendFileSync(target, data, { mode: 0o600 }), close: async () => {} };
    return new AuditLog(sink, target, log, () => appendFileSync(target, '', { mode: 0o600 }));
  }

  /** Queues a line; returns whether the log is known to be writable. */
  record(entry: AuditEntry): boolean {
    this.pending.push(`${JSON.stringify(entry)}\n`);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return this.failure === undefined;
  }

  /** Why the log cannot be written, or undefined when it can. While failing, probes again (cheap, synchronous). */
  unavailable(): string | undefined {
    if (this.failure && this.probe) {
      try {
        this.probe();
        this.recovered();
      } catch (error) {
        this.failure = error as Error;
      }
    }
    return this.failure ? `audit log ${this.target} cannot be written: ${this.failure.message}` : undefined;
  }

  healthy(): boolean {
    return this.unavailable() === undefined;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.writing = this.writing.then(() => this.write(lines));
  }

  private async write(lines: string[]): Promise<void> {
    try {
      await this.sink.write(lines.join(''));
      if (this.failure) this.recovered();
    } catch (error) {
      if (!this.failure) this.log(`audit log ${this.target} cannot be written (${(error as Error).message}); requests are refused until it can, unless the policy sets audit.failOpen`);
      this.failure = error as Error;
      this.retain(lines);
    }
  }

  /** Lines that failed go back to the front of the queue, so a recovered log has them too. */
  private retain(lines: string[]): void {
    const all = [...lines, ...this.pending];
    let bytes = all.reduce((sum, line) => sum + line.length, 0);
    while (bytes > MAX_RETAINED_BYTES && all.length) {
      bytes -= all.shift()!.length;
      this.dropped++;
    }
    this.pending = all;
  }

  private recovered(): void {
    this.failure = undefined;
    this.log(`audit log ${this.target} is writable again${this.dropped ? `; ${this.dropped} line(s) were lost while it was not` : ''}`);
    this.dropped = 0;
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Resolves once every line recorded so far was written, or its write failed (see `healthy`). */
  flushed(): Promise<void> {
    this.flush();
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flushed();
    await this.sink.close();
  }
}

function streamSink(stream: Writable, owned: boolean): AuditSink {
  // Without a listener a stream error would crash the broker; the write callback reports it instead.
  stream.on('error', () => {});
  return {
    write: (data) =>
      new Promise((resolve, reject) => {
        if (stream.destroyed || stream.writableEnded) {
          reject(new Error('the stream is closed'));
          return;
        }
        stream.write(data, (error) => (error ? reject(error) : resolve()));
      }),
    close: () => (owned && !stream.writableEnded ? new Promise<void>((resolve) => stream.end(resolve)) : Promise.resolve()),
  };
}
