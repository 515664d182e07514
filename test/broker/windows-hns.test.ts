import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import koffi from 'koffi';
import { BrokerError, NotFoundError } from '../../broker/src/errors.js';
import {
  HCN_E_ENDPOINT_NOT_FOUND,
  HnsError,
  decodeGuid,
  encodeGuid,
  findContainerEndpoints,
  hnsApi,
  hnsQuery,
  isHnsGone,
  parseErrorRecord,
  parseIdList,
  parseNamespace,
  sameId,
} from '../../broker/src/platform/windows/hns.js';
import { PROTOTYPES, onWorkerThread } from '../../broker/src/platform/windows/native.js';
import { FakeHns } from './fixtures/windows/fake-hns.js';
import { signature } from './fixtures/windows/prototypes.js';

const onLinux = process.platform === 'linux';
const fixture = (name: string) => readFileSync(new URL(`./fixtures/windows/${name}`, import.meta.url), 'utf8');
const NAMESPACES = JSON.parse(fixture('hns-namespaces.json')) as Array<{ ID: string }>;
const ENDPOINT = JSON.parse(fixture('hns-endpoint.json')) as { ID: string };

/** hcnproxyctrl README: `crictl inspect` id and `hcnproxyctl lookup` answer. */
const README_CONTAINER = 'ccaae3aba155ccfb08fdf2e51fa4034f19db40d0ae5b485820544e49a60499c0';
const README_ENDPOINT = '93f86a7f-e361-4362-b8a4-81bbb6a622dd';


const PCWSTR = ['char16_t *', 'String16', 8, 'Input'];
const HANDLE_IN = ['void *', 'Pointer', 8, 'Input'];
/** PWSTR* and PHCN_*: the address comes back in a one-element array, NULL-initialised by koffi. */
const OUT_POINTER = ['void **', 'Pointer', 8, 'Output'];

function hostFailure(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof BrokerError, `not a BrokerError: ${error}`);
    assert.equal(error.codeName, 'HostOperationFailed');
    assert.match(error.message, pattern);
    return true;
  };
}

describe('HCN koffi prototypes', () => {
  it('the enumerations take a PCWSTR query and return the list and the error record as addresses', () => {
    for (const name of ['HcnEnumerateEndpoints', 'HcnEnumerateNamespaces'] as const) {
      assert.deepEqual(signature(PROTOTYPES[name]), { name, result: 'int32_t', args: [PCWSTR, OUT_POINTER, OUT_POINTER] });
    }
  });

  it('the opens take REFGUID as a pointer to the GUID bytes', () => {
    for (const name of ['HcnOpenEndpoint', 'HcnOpenNamespace'] as const) {
      assert.deepEqual(signature(PROTOTYPES[name]), { name, result: 'int32_t', args: [HANDLE_IN, OUT_POINTER, OUT_POINTER] });
    }
  });

  it('the queries take the handle and a PCWSTR query', () => {
    for (const name of ['HcnQueryEndpointProperties', 'HcnQueryNamespaceProperties'] as const) {
      assert.deepEqual(signature(PROTOTYPES[name]), { name, result: 'int32_t', args: [HANDLE_IN, PCWSTR, OUT_POINTER, OUT_POINTER] });
    }
  });

  it('HcnModifyEndpoint, the closes and CoTaskMemFree', () => {
    assert.deepEqual(signature(PROTOTYPES.HcnModifyEndpoint), {
      name: 'HcnModifyEndpoint',
      result: 'int32_t',
      args: [HANDLE_IN, PCWSTR, OUT_POINTER],
    });
    for (const name of ['HcnCloseEndpoint', 'HcnCloseNamespace'] as const) {
      assert.deepEqual(signature(PROTOTYPES[name]), { name, result: 'int32_t', args: [HANDLE_IN] });
    }
    assert.deepEqual(signature(PROTOTYPES.CoTaskMemFree), { name: 'CoTaskMemFree', result: 'void', args: [HANDLE_IN] });
  });
});

describe('koffi marshalling the HCN glue relies on', { skip: !onLinux && 'needs libc.so.6' }, () => {
  const libc = onLinux ? koffi.load('libc.so.6') : undefined;

  it('an _Out_ void ** slot of a worker-thread call comes back as a BigInt address', async () => {
    // posix_memalign has the shape of an HCN output: it writes an allocated address through a void **.
    const posixMemalign = libc!.func('int posix_memalign(_Out_ void **memptr, size_t alignment, size_t size)');
    const free = libc!.func('void free(void *p)');
    const slot: [unknown] = [null];
    assert.equal(await onWorkerThread(posixMemalign)(slot, 16, 64), 0);
    assert.equal(typeof slot[0], 'bigint');
    const text = Buffer.from('{"ID":"x"}\0', 'utf16le');
    new Uint8Array(koffi.view(slot[0] as bigint, text.length)).set(text);
    assert.equal(koffi.decode.string16(slot[0] as bigint), '{"ID":"x"}');
    free(slot[0]);
  });

  it('a failing worker-thread call rejects', async () => {
    const broken = { async: (...args: unknown[]) => (args.at(-1) as (e: unknown) => void)(new TypeError('bad argument')) };
    await assert.rejects(onWorkerThread(broken)(1), TypeError);
  });
});

describe('GUIDs for REFGUID', () => {
  it('lays Data1-3 out little-endian and Data4 in text order (golden bytes)', () => {
    assert.equal(encodeGuid(README_ENDPOINT).toString('hex'), '7f6af89361e36243b8a481bbb6a622dd');
    // IID_IUnknown {00000000-0000-0000-C000-000000000046}: the Data4 bytes keep their order.
    assert.equal(encodeGuid('{00000000-0000-0000-C000-000000000046}').toString('hex'), '0000000000000000c000000000000046');
    assert.deepEqual(
      [...encodeGuid('00112233-4455-6677-8899-AABBCCDDEEFF')],
      [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
    );
  });

  it('matches the layout koffi gives the GUID struct of guiddef.h', () => {
    const GUID = koffi.struct('HNS_TEST_GUID', { Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8) });
    const native = Buffer.alloc(16);
    koffi.encode(native, GUID, { Data1: 0x93f86a7f, Data2: 0xe361, Data3: 0x4362, Data4: [0xb8, 0xa4, 0x81, 0xbb, 0xb6, 0xa6, 0x22, 0xdd] });
    assert.deepEqual(encodeGuid(README_ENDPOINT), native);
  });

  it('accepts braces and either case, round-trips, and refuses anything else', () => {
    assert.deepEqual(encodeGuid('{93F86A7F-E361-4362-B8A4-81BBB6A622DD}'), encodeGuid(README_ENDPOINT));
    assert.equal(decodeGuid(encodeGuid('{93F86A7F-E361-4362-B8A4-81BBB6A622DD}')), README_ENDPOINT);
    for (const bad of ['', README_CONTAINER, '93f86a7f-e361-4362-b8a4-81bbb6a622d', '93f86a7fe3614362b8a481bbb6a622dd', 'g3f86a7f-e361-4362-b8a4-81bbb6a622dd']) {
      assert.throws(() => encodeGuid(bad), RangeError, bad);
    }
  });
});

describe('HNS queries and documents', () => {
  it('asks for schema 2.0, with Filter as a JSON string', () => {
    assert.equal(hnsQuery(), '{"SchemaVersion":{"Major":2,"Minor":0}}');
    assert.equal(hnsQuery({ ID: README_ENDPOINT }), `{"SchemaVersion":{"Major":2,"Minor":0},"Filter":"{\\"ID\\":\\"${README_ENDPOINT}\\"}"}`);
  });

  it('reads id lists', () => {
    assert.deepEqual(parseIdList(`["${README_ENDPOINT}","7CC03AF7-2978-449F-9968-595862B80F8B"]`), [README_ENDPOINT, '7CC03AF7-2978-449F-9968-595862B80F8B']);
    assert.deepEqual(parseIdList('null'), []);
    assert.deepEqual(parseIdList(`[{"ID":"${README_ENDPOINT}"},"not-a-guid"]`), [README_ENDPOINT]);
    assert.throws(() => parseIdList('{"ID":1}'), hostFailure(/not a list|other than a list/));
    assert.throws(() => parseIdList('<html>'), hostFailure(/not JSON/));
  });

  it('reads error records: HNS JSON, HCS JSON, plain text', () => {
    assert.deepEqual(parseErrorRecord('{"Success":false,"Error":"The endpoint was not found.","ErrorCode":2151350274}'), {
      message: 'The endpoint was not found.',
      code: HCN_E_ENDPOINT_NOT_FOUND,
    });
    assert.deepEqual(parseErrorRecord('{"Error":-2143616990,"ErrorMessage":"The policy is invalid"}').message, 'The policy is invalid');
    assert.deepEqual(parseErrorRecord('  HNS is shutting down\r\n'), { message: 'HNS is shutting down' });
  });

  it('reads the recorded namespaces of both shapes', () => {
    const views = NAMESPACES.map((document) => parseNamespace(JSON.stringify(document)));
    assert.deepEqual(views[0], { id: '910F7D92-BA2D-4C3F-98AE-7C0AC590D2DC', containers: [], endpoints: [] });
    assert.deepEqual(views[1], {
      id: '7CB720C0-AC4C-4266-92E1-DC277B2A9B94',
      containers: ['f04bda79168c8e1a6d2ad0f3c3a9e5a7b1d6d1d2bd0c49c1e0f5d6e8a2b3c4d5', README_CONTAINER],
      endpoints: ['93F86A7F-E361-4362-B8A4-81BBB6A622DD'],
    });
    // The v1 view: containers in `Containers`, endpoints in `ResourceList` with `Id`; `Resources` is no list.
    assert.deepEqual(views[2], {
      id: '932331A3-B265-4FCE-B4C8-079E70982379',
      containers: ['4b57fac484487d41925f27601c210d4a7634eb5407f9fffe28037f5eba3bbd0d'],
      endpoints: ['7CC03AF7-2978-449F-9968-595862B80F8B'],
    });
  });

  it('compares ids without case or braces, and never an empty one', () => {
    assert.ok(sameId(README_CONTAINER.toUpperCase(), README_CONTAINER));
    assert.ok(sameId('{93F86A7F-E361-4362-B8A4-81BBB6A622DD}', README_ENDPOINT));
    assert.ok(!sameId('ccaae3aba155', README_CONTAINER));
    assert.ok(!sameId('', ''));
  });
});

describe('hnsApi: strings, error records and handles', () => {
  it('reads and frees the result of a successful call once', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    assert.deepEqual(await hnsApi(fake.calls).enumerateNamespaces(), NAMESPACES.map((n) => n.ID));
    assert.equal(fake.freed.length, 1);
    fake.assertClean();
  });

  it('fails on a negative HRESULT with the error record message and the HRESULT in hex; both strings freed', async () => {
    const fake = new FakeHns();
    fake.answers.HcnEnumerateNamespaces = () => ({
      hresult: 0x803b0002,
      record: '{"Success":false,"Error":"The endpoint was not found.","ErrorCode":2151350274}',
      result: '[]',
    });
    await assert.rejects(hnsApi(fake.calls).enumerateNamespaces(), (error: unknown) => {
      hostFailure(/^HcnEnumerateNamespaces failed: The endpoint was not found\. \(HRESULT 0x803B0002\)$/)(error);
      assert.equal((error as BrokerError).data.reason, 'HnsError');
      const cause = (error as BrokerError).cause;
      assert.ok(cause instanceof HnsError);
      assert.equal(cause.hresult, 0x803b0002);
      assert.ok(isHnsGone(error));
      return true;
    });
    assert.equal(fake.freed.length, 2);
    fake.assertClean();
  });

  it('fails on a non-empty error record even when the HRESULT is success, taking its ErrorCode', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    fake.answers.HcnEnumerateNamespaces = () => ({
      hresult: 0,
      record: '{"Success":false,"Error":"The provided policy configuration is invalid or missing parameters.","ErrorCode":2151350285}',
      result: '[]',
    });
    await assert.rejects(hnsApi(fake.calls).enumerateNamespaces(), hostFailure(/invalid or missing parameters\. \(HRESULT 0x803B000D\)/));
    fake.assertClean();
  });

  it('keeps a plain-text record as the message, and names a known HRESULT when there is no record', async () => {
    const fake = new FakeHns();
    fake.answers.HcnEnumerateEndpoints = () => ({ hresult: 0x80070005, record: 'Access is denied.' });
    await assert.rejects(hnsApi(fake.calls).enumerateEndpoints(), hostFailure(/^HcnEnumerateEndpoints failed: Access is denied\. \(HRESULT 0x80070005\)$/));
    fake.answers.HcnEnumerateEndpoints = () => ({ hresult: 0x803b0002 });
    await assert.rejects(hnsApi(fake.calls).enumerateEndpoints(), hostFailure(/HCN_E_ENDPOINT_NOT_FOUND.*0x803B0002/));
    fake.answers.HcnEnumerateEndpoints = () => ({ hresult: 0x80004005 });
    await assert.rejects(hnsApi(fake.calls).enumerateEndpoints(), hostFailure(/no error record \(HRESULT 0x80004005\)/));
    fake.assertClean();
  });

  it('treats an empty error record as success, and still frees it', async () => {
    const fake = new FakeHns();
    fake.answers.HcnEnumerateEndpoints = () => ({ hresult: 0, record: '', result: `["${README_ENDPOINT}"]` });
    assert.deepEqual(await hnsApi(fake.calls).enumerateEndpoints(), [README_ENDPOINT]);
    assert.equal(fake.freed.length, 2);
    fake.assertClean();
  });

  it('frees every string when reading one fails, and when the call itself throws', async () => {
    const fake = new FakeHns();
    fake.answers.HcnEnumerateEndpoints = () => ({ hresult: 0x803b0002, record: 'gone', result: '[]' });
    fake.failRead = true;
    await assert.rejects(hnsApi(fake.calls).enumerateEndpoints(), RangeError);
    fake.assertClean();

    const throwing = new FakeHns();
    const koffiError = new TypeError('koffi could not convert an argument');
    const calls = {
      ...throwing.calls,
      HcnEnumerateEndpoints: async (query: string, list: [unknown], record: [unknown]) => {
        await throwing.calls.HcnEnumerateEndpoints(query, list, record);
        throw koffiError;
      },
    };
    await assert.rejects(hnsApi(calls).enumerateEndpoints(), (error: unknown) => error === koffiError);
    throwing.assertClean();
  });

  it('closes the handle after the body, after a failing body, and reports a failed close', async () => {
    const fake = new FakeHns({ endpoints: [ENDPOINT] });
    const hns = hnsApi(fake.calls);
    const properties = await hns.withEndpoint(README_ENDPOINT, (endpoint) => hns.queryEndpoint(endpoint));
    assert.equal(JSON.parse(properties).ID, ENDPOINT.ID);
    await assert.rejects(
      hns.withEndpoint(README_ENDPOINT, async () => {
        throw new Error('body failed');
      }),
      /body failed/,
    );
    assert.equal(fake.openHandles, 0);
    fake.answers.HcnCloseEndpoint = () => ({ hresult: 0x80070006 });
    await assert.rejects(hns.withEndpoint(README_ENDPOINT, async () => 1), hostFailure(/HcnCloseEndpoint failed.*0x80070006/));
    // A failed close does not hide the body's own failure.
    await assert.rejects(
      hns.withEndpoint(README_ENDPOINT, async () => {
        throw new Error('body failed first');
      }),
      /body failed first/,
    );
    assert.deepEqual(
      fake.log.filter((line) => /Open|Close/.test(line)),
      Array.from({ length: 4 }, () => [`HcnOpenEndpoint ${README_ENDPOINT}`, `HcnCloseEndpoint ${README_ENDPOINT}`]).flat(),
    );
    fake.assertClean();
  });

  it('opens by the GUID bytes and closes nothing when the open fails', async () => {
    const fake = new FakeHns({ endpoints: [ENDPOINT] });
    const hns = hnsApi(fake.calls);
    await assert.rejects(hns.withEndpoint('7CC03AF7-2978-449F-9968-595862B80F8B', async () => assert.fail('opened')), (error: unknown) => isHnsGone(error));
    assert.deepEqual(fake.log, ['HcnOpenEndpoint 7cc03af7-2978-449f-9968-595862b80f8b']);
    fake.answers.HcnOpenEndpoint = () => ({ hresult: 0 });
    await assert.rejects(hns.withEndpoint(README_ENDPOINT, async () => assert.fail('opened')), hostFailure(/returned no handle/));
    fake.assertClean();
  });
});

describe('finding the endpoints of a container', () => {
  it('finds the README container through its namespace, whatever the case of the id', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    const hns = hnsApi(fake.calls);
    assert.deepEqual(await findContainerEndpoints(hns, README_CONTAINER), ['93F86A7F-E361-4362-B8A4-81BBB6A622DD']);
    assert.deepEqual(await findContainerEndpoints(hns, README_CONTAINER.toUpperCase()), ['93F86A7F-E361-4362-B8A4-81BBB6A622DD']);
    // Every query asks for schema 2.0.
    assert.ok(fake.log.filter((line) => line.startsWith('HcnQueryNamespaceProperties')).every((line) => line.endsWith(' {"SchemaVersion":{"Major":2,"Minor":0}}')));
    fake.assertClean();
  });

  it('finds a container listed in the v1 Containers field', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    assert.deepEqual(await findContainerEndpoints(hnsApi(fake.calls), '4b57fac484487d41925f27601c210d4a7634eb5407f9fffe28037f5eba3bbd0d'), [
      '7CC03AF7-2978-449F-9968-595862B80F8B',
    ]);
    fake.assertClean();
  });

  it('does not take a short id or an unknown one', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    const hns = hnsApi(fake.calls);
    for (const id of ['ccaae3aba155', 'deadbeef'.repeat(8)]) {
      await assert.rejects(findContainerEndpoints(hns, id), (error: unknown) => error instanceof NotFoundError && error.data.container === id);
    }
    fake.assertClean();
  });

  it('reports a container whose namespace has no endpoint as not found', async () => {
    const lonely = { ID: '11111111-2222-3333-4444-555555555555', Type: 'Host', Resources: [{ Type: 'Container', Data: { ID: 'abc123' } }] };
    const fake = new FakeHns({ namespaces: [lonely] });
    await assert.rejects(findContainerEndpoints(hnsApi(fake.calls), 'abc123'), /has no HNS endpoint/);
    fake.assertClean();
  });

  it('unites the endpoints of every namespace the container is attached to', async () => {
    const stale = { ID: '11111111-2222-3333-4444-555555555555', Containers: [README_CONTAINER], ResourceList: [{ Type: 'Endpoint', Data: { Id: '93f86a7f-e361-4362-b8a4-81bbb6a622dd' } }, { Type: 'Endpoint', Data: { Id: 'A1A1A1A1-B2B2-C3C3-D4D4-E5E5E5E5E5E5' } }] };
    const fake = new FakeHns({ namespaces: [...NAMESPACES, stale] });
    assert.deepEqual(await findContainerEndpoints(hnsApi(fake.calls), README_CONTAINER), [
      '93F86A7F-E361-4362-B8A4-81BBB6A622DD',
      'A1A1A1A1-B2B2-C3C3-D4D4-E5E5E5E5E5E5',
    ]);
    fake.assertClean();
  });

  it('skips a namespace that vanishes while being read, and fails on other errors', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES });
    // Enumerated, then deleted before it is opened: HNS answers "Element not found".
    fake.answers.HcnOpenNamespace = (id) => (id === '932331a3-b265-4fce-b4c8-079e70982379' ? { hresult: 0x80070490, record: '{"Error":"Element not found.","ErrorCode":2147943568}' } : undefined);
    assert.deepEqual(await findContainerEndpoints(hnsApi(fake.calls), README_CONTAINER), ['93F86A7F-E361-4362-B8A4-81BBB6A622DD']);
    fake.answers.HcnQueryNamespaceProperties = () => ({ hresult: 0x80070005, record: 'Access is denied.' });
    await assert.rejects(findContainerEndpoints(hnsApi(fake.calls), README_CONTAINER), hostFailure(/HcnQueryNamespaceProperties failed: Access is denied/));
    assert.equal(fake.openHandles, 0);
    fake.assertClean();
  });
});
