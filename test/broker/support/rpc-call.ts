// Test tool: one broker request from wherever this process runs (a namespace, another uid).
//   rpc-call <socket> <method> <params JSON>   prints {"result": …} or {"error": {code, message, data}}
import { WinsHostClient } from '../../../broker/src/client/client.js';
import { RequestType } from 'vscode-jsonrpc/node';

const [socket, method, params] = process.argv.slice(2);
const client = await WinsHostClient.connect(socket);
try {
  const result = await client.request(new RequestType<unknown, unknown, void>(method), JSON.parse(params ?? '{}'));
  console.log(JSON.stringify({ result }));
} catch (error) {
  const { code, message, data } = error as { code: number; message: string; data: unknown };
  console.log(JSON.stringify({ error: { code, message, data } }));
} finally {
  client.close();
}
