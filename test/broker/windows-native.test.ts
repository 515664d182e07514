import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import koffi from 'koffi';
import { BrokerError } from '../../broker/src/errors.js';
import { HKEY_LOCAL_MACHINE } from '../../broker/src/platform/windows/host.js';
import { BufferMemory } from '../../broker/src/platform/windows/memory.js';
import {
  PROTOTYPES,
  koffiMemory,
  readAdaptersWith,
  readRoutesWith,
} from '../../broker/src/platform/windows/native.js';
import { ADAPTER_FLAGS, parseAdapterList, parseRouteTable } from '../../broker/src/platform/windows/network.js';
import {
  RECORDED_ADAPTERS,
  RECORDED_ROUTES,
  buildAdapterImage,
  buildRouteTableImage,
} from './fixtures/windows/recorded.js';
import { signature } from './fixtures/windows/prototypes.js';

const onLinux = process.platform === 'linux';


describe('koffi prototypes', () => {
  it('GetAdaptersAddresses', () => {
    assert.deepEqual(signature(PROTOTYPES.GetAdaptersAddresses), {
      name: 'GetAdaptersAddresses',
      result: 'uint32_t',
      args: [
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        // Input, not Output: the Buffer must be passed as-is so Windows writes into (and points into) it.
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Input/Output'],
      ],
    });
  });

  it('GetIpForwardTable2 and FreeMibTable', () => {
    assert.deepEqual(signature(PROTOTYPES.GetIpForwardTable2), {
      name: 'GetIpForwardTable2',
      result: 'uint32_t',
      args: [
        ['uint16_t', 'UInt16', 2, 'Input'], // ADDRESS_FAMILY is USHORT
        ['void **', 'Pointer', 8, 'Output'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.FreeMibTable), {
      name: 'FreeMibTable',
      result: 'void',
      args: [['void *', 'Pointer', 8, 'Input']],
    });
  });

  it('RegGetValueW', () => {
    assert.deepEqual(signature(PROTOTYPES.RegGetValueW), {
      name: 'RegGetValueW',
      result: 'int32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        // String16: koffi converts the JS strings to NUL-terminated UTF-16 (LPCWSTR).
        ['char16_t *', 'String16', 8, 'Input'],
        ['char16_t *', 'String16', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Input/Output'],
      ],
    });
  });
});

describe('koffi marshalling the backend relies on', { skip: !onLinux && 'needs libc.so.6' }, () => {
  const libc = onLinux ? koffi.load('libc.so.6') : undefined;

  it('passes a Buffer to void * as its own memory, at koffi.address(buffer)', () => {
    // memset returns its first argument: the address native code saw.
    const memset = libc!.func('void *memset(void *s, int c, size_t n)');
    const buffer = Buffer.alloc(15_000);
    assert.equal(memset(buffer, 0xab, buffer.length), koffi.address(buffer));
    assert.equal(buffer[14_999], 0xab);
  });

  it('passes HKEY_LOCAL_MACHINE through void * bit for bit', () => {
    // labs((long)0xFFFFFFFF80000002) = 0x7FFFFFFE only if all 64 bits arrive, sign included.
    const labs = libc!.func('intptr_t labs(void *x)');
    assert.equal(labs(HKEY_LOCAL_MACHINE), 0x7fff_fffe);
  });
});

describe('native glue with stand-in DLL functions', () => {
  it('koffiMemory reads a recorded image in real memory exactly as BufferMemory does', () => {
    const size = buildAdapterImage(RECORDED_ADAPTERS).buffer.length;
    const block = koffi.alloc('uint8_t', size) as bigint;
    try {
      const image = buildAdapterImage(RECORDED_ADAPTERS, block);
      new Uint8Array(koffi.view(block, size)).set(image.buffer);
      assert.deepEqual(
        parseAdapterList(koffiMemory, block),
        parseAdapterList(new BufferMemory(image.buffer, image.base), image.base),
      );
      assert.equal(parseAdapterList(koffiMemory, block)[0].friendlyName, 'Ethernet');
    } finally {
      koffi.free(block);
    }
  });

  it('koffiMemory refuses NULL', () => {
    assert.throws(() => koffiMemory.u32(0n), /NULL/);
  });

  it('readAdaptersWith passes AF_UNSPEC and the flags, retries the overflow, and parses what Windows wrote', () => {
    const calls: Array<[number, number, null, number]> = [];
    const adapters = readAdaptersWith((family, flags, reserved, buffer, size) => {
      calls.push([family, flags, reserved, size[0]]);
      if (calls.length === 1) {
        size[0] = 20_000;
        return 111; // ERROR_BUFFER_OVERFLOW
      }
      // Windows writes absolute pointers into the caller's buffer, so the image is built at its real address.
      buildAdapterImage(RECORDED_ADAPTERS, koffi.address(buffer)).buffer.copy(buffer);
      return 0;
    });
    assert.deepEqual(calls, [
      [0, ADAPTER_FLAGS, null, 15_000],
      [0, ADAPTER_FLAGS, null, 20_000],
    ]);
    assert.deepEqual(
      adapters.map((a) => [a.ifIndex, a.friendlyName, a.unicast.length, a.gateways.length]),
      [
        [7, 'Ethernet', 3, 2],
        [1, 'Loopback Pseudo-Interface 1', 2, 0],
      ],
    );
  });

  it('readAdaptersWith returns no adapters for ERROR_NO_DATA', () => {
    assert.deepEqual(readAdaptersWith(() => 232), []);
  });

  it('readRoutesWith copies the OS table, frees it once, and parses the copy', () => {
    const size = buildRouteTableImage(RECORDED_ROUTES).buffer.length;
    let table = 0n;
    const freed: bigint[] = [];
    const routes = readRoutesWith(
      (family, out) => {
        assert.equal(family, 0);
        table = koffi.alloc('uint8_t', size) as bigint;
        new Uint8Array(koffi.view(table, size)).set(buildRouteTableImage(RECORDED_ROUTES, table).buffer);
        out[0] = table;
        return 0;
      },
      (memory) => {
        freed.push(memory);
        // Scribble before freeing: parsed results must not depend on the OS block afterwards.
        new Uint8Array(koffi.view(memory, size)).fill(0xcc);
        koffi.free(memory);
      },
    );
    assert.deepEqual(freed, [table]);
    const image = buildRouteTableImage(RECORDED_ROUTES);
    assert.deepEqual(routes, parseRouteTable(new BufferMemory(image.buffer, image.base), image.base));
    assert.equal(routes[0].nextHop.text, '10.170.0.1');
  });

  it('readRoutesWith maps ERROR_NOT_FOUND to no routes and other errors to HostOperationFailed', () => {
    const noFree = () => assert.fail('nothing to free');
    assert.deepEqual(readRoutesWith(() => 1168, noFree), []);
    assert.throws(
      () => readRoutesWith(() => 8, noFree),
      (e: unknown) => e instanceof BrokerError && e.codeName === 'HostOperationFailed' && /GetIpForwardTable2.*\b8\b/.test(e.message),
    );
  });
});
