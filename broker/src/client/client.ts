import { connect, type Socket } from 'node:net';
import {
  createMessageConnection,
  NullLogger,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type NotificationType,
  type RequestType,
} from 'vscode-jsonrpc/node';
import { InitializeRequest, ProtocolVersion, type InitializeResult } from '../../../typings/index.js';

/**
 * A small Node client of the broker, for tests and benchmarks. It trusts the broker, so it uses
 * vscode-jsonrpc's own reader.
 */
export class WinsHostClient {
  private constructor(
    readonly socket: Socket,
    readonly connection: MessageConnection,
    readonly initializeResult: InitializeResult | undefined,
  ) {}

  static async connect(path: string, options: { initialize?: boolean; clientName?: string } = {}): Promise<WinsHostClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const connection = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket), NullLogger);
    connection.listen();
    let result: InitializeResult | undefined;
    if (options.initialize !== false) {
      result = await connection.sendRequest(InitializeRequest.type, {
        clientInfo: { name: options.clientName ?? 'winshost-node-client' },
        protocolVersion: ProtocolVersion,
      });
    }
    return new WinsHostClient(socket, connection, result);
  }

  request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    // vscode-jsonrpc's RequestParam<P> is a conditional type that a generic P cannot satisfy; the
    // signature of this method is what keeps callers typed.
    return this.connection.sendRequest(type, params as never);
  }

  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): void {
    this.connection.onNotification(type, handler);
  }

  close(): void {
    this.connection.dispose();
    this.socket.destroy();
  }
}
