import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BrokerError, NotFoundError } from '../../broker/src/errors.js';
import { windowsPlatform, type WindowsNative } from '../../broker/src/platform/windows/index.js';
import { CURRENT_VERSION_KEY, RRF_RT_REG_SZ, type OsFacts } from '../../broker/src/platform/windows/host.js';
import { BufferMemory } from '../../broker/src/platform/windows/memory.js';
import { parseAdapterList, parseRouteTable } from '../../broker/src/platform/windows/network.js';
import {
  RECORDED_ADAPTERS,
  RECORDED_ROUTES,
  buildAdapterImage,
  buildRouteTableImage,
} from './fixtures/windows/recorded.js';

const os: OsFacts = {
  hostname: () => 'frank-wins-dev',
  release: () => '10.0.20348',
  arch: () => 'x64',
  uptime: () => 100,
  now: () => Date.parse('2025-03-01T12:00:00Z'),
};

function recordedNative(counter = { calls: 0 }): WindowsNative {
  const adapters = buildAdapterImage(RECORDED_ADAPTERS);
  const routes = buildRouteTableImage(RECORDED_ROUTES);
  const values: Record<string, string | number> = {
    CurrentMajorVersionNumber: 10,
    CurrentMinorVersionNumber: 0,
    CurrentBuildNumber: '20348',
    UBR: 2340,
    ProductName: 'Windows Server 2022 Datacenter',
  };
  return {
    regGetValue: (subKey, name, flags, data, size) => {
      counter.calls++;
      const value = values[name];
      if (subKey !== CURRENT_VERSION_KEY || value === undefined) return 2;
      const bytes =
        typeof value === 'string' ? Buffer.from(`${value}\0`, 'utf16le') : Buffer.from(Uint32Array.of(value).buffer);
      if (typeof value === 'string' !== ((flags & RRF_RT_REG_SZ) !== 0)) return 1630;
      size[0] = bytes.length;
      if (data) bytes.copy(data);
      return 0;
    },
    // The host and network tests here never reach files, registry keys or service accounts.
    fileCalls: () => assert.fail('fileCalls is not part of this recording'),
    registryKeyCalls: () => assert.fail('registryKeyCalls is not part of this recording'),
    queryServiceAccount: () => assert.fail('queryServiceAccount is not part of this recording'),
    processCalls: () => assert.fail('processCalls is not part of this recording'),
    interruptConsole: () => assert.fail('interruptConsole is not part of this recording'),
    hnsCalls: () => assert.fail('hnsCalls is not part of this recording'),
    readAdapters: () => {
      counter.calls++;
      return parseAdapterList(new BufferMemory(adapters.buffer, adapters.base), adapters.base);
    },
    readRoutes: () => {
      counter.calls++;
      return parseRouteTable(new BufferMemory(routes.buffer, routes.base), routes.base);
    },
  };
}

describe('windowsPlatform', () => {
  it('touches nothing native until a method is called', () => {
    const counter = { calls: 0 };
    const platform = windowsPlatform({ native: recordedNative(counter), os });
    assert.equal(platform.name, 'windows');
    assert.equal(counter.calls, 0);
  });

  it('serves host facts from the registry', async () => {
    const facts = await windowsPlatform({ native: recordedNative(), os }).host.info();
    assert.equal(facts.Platform, 'windows');
    assert.equal(facts.OSName, 'Windows Server 2022 Datacenter');
    assert.equal(facts.OSVersion, '10.0.20348');
    assert.equal(facts.OSBuild, '20348.2340');
    assert.equal(facts.WindowsVersion?.ReleaseId, null);
    assert.equal(facts.BootTime, '2025-03-01T11:58:20.000Z');
  });

  it('serves adapters with the default one marked, and routes with aliases', async () => {
    const platform = windowsPlatform({ native: recordedNative(), os });
    const snapshot = await platform.network.adapters();
    assert.equal(snapshot.defaultInterfaceIndex, 7);
    assert.deepEqual(
      snapshot.adapters.map((a) => [a.InterfaceIndex, a.Name, a.AddressCIDR, a.GatewayAddress, a.HostName, a.IsDefault]),
      [
        [7, 'Ethernet', '10.170.15.229/20', '10.170.0.1', 'frank-wins-dev', true],
        [1, 'Loopback Pseudo-Interface 1', '127.0.0.1/8', null, 'frank-wins-dev', false],
      ],
    );
    const routes = await platform.network.routes();
    assert.deepEqual(
      routes.filter((r) => r.IsDefault).map((r) => [r.DestinationPrefix, r.NextHop, r.InterfaceAlias]),
      [
        ['0.0.0.0/0', '10.170.0.1', 'Ethernet'],
        ['::/0', 'fe80::1', 'Ethernet'],
      ],
    );
  });

  it('reports native and parse failures as HostOperationFailed, keeping the cause', async () => {
    const broken = { ...recordedNative(), readAdapters: () => { throw new RangeError('bad pointer'); } };
    await assert.rejects(windowsPlatform({ native: broken, os }).network.adapters(), (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.codeName, 'HostOperationFailed');
      assert.ok(e.cause instanceof RangeError);
      assert.doesNotMatch(e.message, /bad pointer/);
      return true;
    });
    const brokerError = new NotFoundError('gone');
    const passing = { ...recordedNative(), readRoutes: () => { throw brokerError; } };
    await assert.rejects(windowsPlatform({ native: passing, os }).network.routes(), (e: unknown) => e === brokerError);
  });

  it('keeps koffi out of the static imports of index.ts', () => {
    // Only native.ts may import koffi, and index.ts reaches it through a dynamic import() alone.
    const windowsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../broker/src/platform/windows');
    const visited = new Set<string>();
    const visit = (file: string): void => {
      if (visited.has(file)) return;
      visited.add(file);
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
        const specifier = match[1];
        assert.notEqual(specifier, 'koffi', `${file} imports koffi statically`);
        if (specifier.startsWith('./')) visit(resolve(windowsDir, specifier.replace(/\.js$/, '.ts')));
      }
    };
    visit(resolve(windowsDir, 'index.ts'));
    assert.ok(visited.has(resolve(windowsDir, 'network.ts')));
    assert.ok(!visited.has(resolve(windowsDir, 'native.ts')));
    assert.match(readFileSync(resolve(windowsDir, 'native.ts'), 'utf8'), /^import koffi/m);
  });
});
