// A stand-in for broker/src/sessions/session-host.ps1 that speaks the same NDJSON protocol
// (broker/src/sessions/host-protocol.ts) and starts in milliseconds. The script text of an invocation is
// a tiny command language, so tests can make the host misbehave on purpose:
//   emit N                 N output objects (<I32>1</I32> ... <I32>N</I32>)
//   streams                one record on each of output, warning, verbose, error, information, in that order
//   sleep                  runs until stopped (a Start-Sleep 60), then done Stopped
//   sleep-ignore-stop      never ends, even when stopped
//   crash                  one output, then the process exits with code 7
//   big COUNT BYTES FILE   COUNT objects of BYTES each, honouring stdout back-pressure; FILE gets the count written
//   longline BYTES         a line of BYTES bytes without a newline for a long while
//   garbage                lines that are not protocol events, an output for another id, then one output
//   refuse                 a protocolError for this invocation
//   fail                   done Failed with an error record
//   config                 one output: the open config as JSON text in <S>
//   args                   one output: the arguments, input and depth as JSON text in <S>
// Start-up, from the environment: FAKE_HOST_MODE=exit-before-ready | never-ready | die-after-ready.
import { writeFileSync } from 'node:fs';

const mode = process.env.FAKE_HOST_MODE ?? '';
const clixml = (inner) => `<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">${inner}</Objs>`;
const text = (value) => clixml(`<S>${String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;')}</S>`);

function send(event) {
  return process.stdout.write(`${JSON.stringify(event)}\n`);
}
/** Resolves once stdout took the write: the fake blocks the way a pipeline blocks on a full pipe. */
function sendAndWait(event) {
  return new Promise((resolve) => (send(event) ? resolve() : process.stdout.once('drain', resolve)));
}

if (mode === 'exit-before-ready') {
  process.stderr.write('fake host: cannot load System.Management.Automation\n');
  process.exit(3);
}

let config;
let current; // { id, stop(): void }

function done(id, state, error = null) {
  if (current?.id === id) current = undefined;
  send({ type: 'done', id, state, error, location: config?.providers?.includes('FileSystem') ? '/' : null });
}

async function invoke(request) {
  const { id } = request;
  const [command, ...args] = request.script.trim().split(/\s+/);
  let stopped = false;
  current = { id, stop: () => (stopped = true) };
  switch (command) {
    case 'emit':
      for (let i = 1; i <= Number(args[0]); i++) send({ type: 'output', id, stream: 'output', clixml: clixml(`<I32>${i}</I32>`) });
      return done(id, 'Completed');
    case 'streams':
      for (const stream of ['output', 'warning', 'verbose', 'error', 'information']) send({ type: 'output', id, stream, clixml: text(stream) });
      return done(id, 'Completed');
    case 'sleep':
      current.stop = () => done(id, 'Stopped');
      return;
    case 'sleep-ignore-stop':
      current.stop = () => {};
      return;
    case 'crash':
      send({ type: 'output', id, stream: 'output', clixml: text('about to crash') });
      setTimeout(() => process.exit(7), 50);
      return;
    case 'big': {
      const [count, bytes, file] = [Number(args[0]), Number(args[1]), args[2]];
      const payload = text('x'.repeat(bytes));
      for (let i = 1; i <= count && !stopped; i++) {
        await sendAndWait({ type: 'output', id, stream: 'output', clixml: payload });
        if (i % 10 === 0 || i === count) writeFileSync(file, String(i));
      }
      return done(id, stopped ? 'Stopped' : 'Completed');
    }
    case 'longline':
      process.stdout.write('x'.repeat(Number(args[0])));
      return;
    case 'garbage':
      process.stdout.write('this is not json\n{"type":"nonsense"}\n[1,2]\n{"type":"output","id":"someone-else","stream":"output","clixml":"<S>no</S>"}\n');
      process.stdout.write('{"type":"output","id":' + JSON.stringify(id) + ',"stream":"bogus","clixml":"<S>no</S>"}\n\n');
      send({ type: 'output', id, stream: 'output', clixml: text('survived') });
      return done(id, 'Completed');
    case 'refuse':
      current = undefined;
      return send({ type: 'protocolError', id, message: 'the fake host refuses this invocation' });
    case 'fail':
      return done(id, 'Failed', text('WinsHost.FakeFailure'));
    case 'config':
      send({ type: 'output', id, stream: 'output', clixml: text(JSON.stringify(config)) });
      return done(id, 'Completed');
    case 'args':
      send({ type: 'output', id, stream: 'output', clixml: text(JSON.stringify({ arguments: request.arguments, input: request.input, depth: request.depth })) });
      return done(id, 'Completed');
    default:
      return done(id, 'Failed', text(`unknown fake command ${command}`));
  }
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let newline; (newline = buffered.indexOf('\n')) >= 0; ) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      send({ type: 'protocolError', message: 'not JSON' });
      continue;
    }
    switch (request.type) {
      case 'open':
        config = request.config;
        if (config.commands.includes('No-SuchCommand')) send({ type: 'openFailed', reason: 'CommandNotFound', message: "The command 'No-SuchCommand' in the policy does not exist on this host." });
        else send({ type: 'opened', languageMode: config.languageMode, location: config.providers.includes('FileSystem') ? '/' : null });
        break;
      case 'invoke':
        if (current) send({ type: 'protocolError', id: request.id, message: 'busy' });
        else void invoke(request);
        break;
      case 'stop':
        if (current?.id === request.id) current.stop();
        break;
      case 'close':
        process.exit(0);
        break;
      default:
        send({ type: 'protocolError', message: `unknown type ${request.type}` });
    }
  }
});
process.stdin.on('end', () => process.exit(0));

if (mode !== 'never-ready') send({ type: 'ready', psVersion: '7.9.9-fake', edition: 'Core', pid: process.pid });
if (mode === 'die-after-ready') setTimeout(() => process.exit(9), 100);
