import type { Socket } from 'node:net';
import { AbstractMessageReader, AbstractMessageWriter, Disposable, type DataCallback, type Message, type MessageWriter } from 'vscode-jsonrpc/node';
import { ErrorCodes, FramingDefaults } from '../../../typings/index.js';

export interface FramingLimits {
  maxHeaderBytes: number;
  maxMessageBytes: number;
}

/** A framing violation: the stream can no longer be trusted to be in sync, so the connection ends. */
export class FramingError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}

/** A well-framed message that is not a request we can run; answered with an error, the stream goes on. */
export interface RejectedMessage {
  id: number | string | null;
  code: typeof ErrorCodes.ParseError | typeof ErrorCodes.InvalidRequest;
  message: string;
}

const HEADER_END = Buffer.from('\r\n\r\n', 'ascii');
const ACCEPTED_CHARSETS = new Set(['utf-8', 'utf8']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A MessageReader for vscode-jsonrpc that enforces the limits vscode-jsonrpc's own reader lacks: it never
 * buffers more than one header block or one declared body, accepts only `Content-Length` (digits, within the
 * limit, once) and `Content-Type` (JSON-RPC, UTF-8), and hands over only objects shaped like JSON-RPC 2.0
 * requests or notifications. A framing violation stops reading for good (`onViolation`); a bad body in a
 * good frame is reported (`onReject`) so the caller gets -32700/-32600 and the stream continues.
 */
export class HardenedMessageReader extends AbstractMessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expectedBody = -1;
  private stopped = false;
  private callback: DataCallback | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly limits: FramingLimits = FramingDefaults,
    private readonly onReject: (rejected: RejectedMessage) => void = () => {},
    private readonly onViolation: (error: FramingError) => void = () => {},
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer) => this.onData(chunk);
    const onClose = () => this.fireClose();
    const onError = (error: Error) => this.fireError(error);
    this.socket.on('data', onData);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    return Disposable.create(() => {
      this.socket.off('data', onData);
      this.socket.off('close', onClose);
      this.socket.off('error', onError);
    });
  }

  /** Feeds bytes; public so tests can drive the parser without a socket. */
  onData(chunk: Buffer): void {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (!this.stopped && this.next()) {
        // keep taking complete messages out of the buffer
      }
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      this.stopped = true;
      this.chunks = [];
      this.buffered = 0;
      this.onViolation(error);
      this.fireError(error);
    }
  }

  /** Takes one message off the buffer if it is complete; false when more bytes are needed. */
  private next(): boolean {
    if (this.expectedBody < 0) {
      const head = this.peek(Math.min(this.buffered, this.limits.maxHeaderBytes + HEADER_END.length));
      const end = head.indexOf(HEADER_END);
      if (end < 0) {
        if (this.buffered > this.limits.maxHeaderBytes) {
          throw new FramingError('HeaderTooLarge', `header block exceeds ${this.limits.maxHeaderBytes} bytes`);
        }
        return false;
      }
      if (end > this.limits.maxHeaderBytes) {
        throw new FramingError('HeaderTooLarge', `header block exceeds ${this.limits.maxHeaderBytes} bytes`);
      }
      this.expectedBody = this.parseHeaders(head.subarray(0, end).toString('latin1'));
      this.consume(end + HEADER_END.length);
    }
    if (this.buffered < this.expectedBody) return false;
    const body = this.peek(this.expectedBody);
    this.consume(this.expectedBody);
    this.expectedBody = -1;
    this.deliver(body);
    return true;
  }

  private parseHeaders(block: string): number {
    let contentLength: number | undefined;
    for (const line of block.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new FramingError('MalformedHeader', 'header line without a name and colon');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (contentLength !== undefined) throw new FramingError('DuplicateContentLength', 'Content-Length given twice');
        if (!/^\d{1,10}$/.test(value)) throw new FramingError('InvalidContentLength', 'Content-Length is not a decimal number');
        contentLength = Number(value);
        if (contentLength > this.limits.maxMessageBytes) {
          throw new FramingError('MessageTooLarge', `Content-Length ${contentLength} exceeds the limit of ${this.limits.maxMessageBytes} bytes`);
        }
      } else if (name === 'content-type') {
        const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(value)?.[1]?.toLowerCase();
        if (charset !== undefined && !ACCEPTED_CHARSETS.has(charset)) {
          throw new FramingError('UnsupportedCharset', `charset ${charset} is not supported; use utf-8`);
        }
      } else {
        throw new FramingError('UnknownHeader', 'only Content-Length and Content-Type headers are accepted');
      }
    }
    if (contentLength === undefined) throw new FramingError('MissingContentLength', 'Content-Length header is missing');
    return contentLength;
  }

  private deliver(body: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(body));
    } catch {
      this.onReject({ id: null, code: ErrorCodes.ParseError, message: 'Parse error: the message body is not valid UTF-8 JSON' });
      return;
    }
    const problem = requestProblem(parsed);
    if (problem) {
      this.onReject({ id: usableId(parsed), code: ErrorCodes.InvalidRequest, message: `Invalid request: ${problem}` });
      return;
    }
    this.callback?.(parsed as Message);
  }

  private peek(length: number): Buffer {
    if (this.chunks.length > 1) {
      const whole = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [whole];
    }
    return (this.chunks[0] ?? Buffer.alloc(0)).subarray(0, length);
  }

  private consume(length: number): void {
    const first = this.chunks[0];
    this.buffered -= length;
    this.chunks = this.buffered > 0 ? [first.subarray(first.length - this.buffered)] : [];
  }
}

/**
 * Writes each message as one buffer (header and body together) straight to the socket. vscode-jsonrpc's
 * stream writer sends the header and the body as two writes and waits for the first to complete before the
 * second, behind a lock: two syscalls and a completion wait per response. Backpressure is the connection's
 * job: it stops reading from a caller whose unsent responses pile up.
 */
export class FramedMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('error', (error) => this.fireError(error));
    socket.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error('the connection is closed'));
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    // Messages written in one turn of the event loop (a session's output record and the response that
    // follows it) leave in one syscall, so the caller wakes once for them.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
    return Promise.resolve();
  }

  end(): void {
    this.socket.end();
  }
}

/** Why a parsed body is not a JSON-RPC 2.0 request or notification, or undefined when it is one. */
export function requestProblem(message: unknown): string | undefined {
  if (Array.isArray(message)) return 'batches are not supported';
  if (typeof message !== 'object' || message === null) return 'the message is not a JSON object';
  const m = message as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if (typeof m.method !== 'string' || m.method.length === 0) return 'method must be a non-empty string';
  if ('id' in m && m.id !== null && typeof m.id !== 'string' && !(typeof m.id === 'number' && Number.isInteger(m.id))) {
    return 'id must be a string or an integer';
  }
  if ('id' in m && m.id === null) return 'id must not be null';
  if ('params' in m && (typeof m.params !== 'object' || m.params === null)) return 'params must be an object or an array';
  return undefined;
}

function usableId(message: unknown): number | string | null {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return null;
  const id = (message as Record<string, unknown>).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}
