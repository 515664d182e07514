import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HostOperationFailedError, InvalidParamsError } from '../../broker/src/errors.js';
import {
  ADD_RULE_SCRIPT,
  FIREWALL_DATA_VARIABLE,
  REMOVE_RULE_SCRIPT,
  RESULT_MARKER,
  encodeCommand,
  firewallOutcome,
  powerShellPath,
  powerShellRunner,
  stderrText,
  windowsFirewall,
  type ExecFileFn,
  type PowerShellResult,
  type PowerShellRunner,
} from '../../broker/src/platform/windows/firewall.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
const pwsh = join(repoRoot, '.tools', 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');

const PRELUDE = `$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
function Write-WinsHostResult([hashtable] $Result) {
  $json = ConvertTo-Json -InputObject $Result -Compress
  [Console]::Out.WriteLine('WINSHOST-RESULT ' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))
}
try {
  $data = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($env:WINSHOST_FIREWALL_DATA)) | ConvertFrom-Json
  $rules = @(Get-NetFirewallRule -Group 'WinsHost' -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName -ceq $data.name })
`;
const EPILOGUE = `  Write-WinsHostResult @{ ok = $true }
} catch {
  Write-WinsHostResult @{ ok = $false; error = $_.Exception.Message }
  exit 1
}
exit 0`;

const HOSTILE_OWNERS = [
  '"; Remove-Item C:\\ -Recurse; "',
  "'; Remove-Item C:\\ -Recurse; '",
  '$(calc)',
  '@(calc)',
  '`$(calc)`',
  'line\nbreak\r\nInvoke-Expression calc',
  '${env:WINSHOST_FIREWALL_DATA}',
  '-DisplayName x -Action Block',
  'a*',
  'ünïcödé ✓ 名前',
];

function ok(): PowerShellResult {
  return { exitCode: 0, stdout: `${RESULT_MARKER}${Buffer.from('{"ok":true}').toString('base64')}\r\n`, stderr: '' };
}

function failed(message: string): PowerShellResult {
  return { exitCode: 1, stdout: `${RESULT_MARKER}${Buffer.from(JSON.stringify({ ok: false, error: message })).toString('base64')}\r\n`, stderr: '' };
}

function recordingRunner(result: () => PowerShellResult | Promise<PowerShellResult> = ok) {
  const runs: { script: string; env: Record<string, string> }[] = [];
  const run: PowerShellRunner = async (script, env) => {
    runs.push({ script, env });
    return result();
  };
  return { run, runs };
}

function decodeData(env: Record<string, string>): unknown {
  assert.deepEqual(Object.keys(env), [FIREWALL_DATA_VARIABLE]);
  assert.match(env[FIREWALL_DATA_VARIABLE], /^[A-Za-z0-9+/]+={0,2}$/);
  return JSON.parse(Buffer.from(env[FIREWALL_DATA_VARIABLE], 'base64').toString('utf8'));
}

describe('the firewall scripts', () => {
  it('are these constants', () => {
    assert.equal(
      ADD_RULE_SCRIPT,
      PRELUDE +
        `  if ($rules.Count -eq 0) {
    $null = New-NetFirewallRule -DisplayName $data.name -Group 'WinsHost' -Direction Inbound -Action Allow -Protocol $data.protocol -LocalPort $data.port
  }
` +
        EPILOGUE,
    );
    assert.equal(REMOVE_RULE_SCRIPT, PRELUDE + '  if ($rules.Count -gt 0) { $rules | Remove-NetFirewallRule }\n' + EPILOGUE);
  });

  it('go to powershell.exe by full path as -EncodedCommand, the data only in the environment', async () => {
    const calls: { file: string; args: string[]; env: NodeJS.ProcessEnv; windowsHide: boolean; timeout: number }[] = [];
    const fakeExecFile: ExecFileFn = (file, args, options, callback) => {
      calls.push({ file, args, env: options.env, windowsHide: options.windowsHide, timeout: options.timeout });
      callback(null, ok().stdout, '');
    };
    const runner = powerShellRunner({
      execFile: fakeExecFile,
      baseEnv: { SystemRoot: 'C:\\Windows', winshost_firewall_data: 'stale', PSModulePath: 'C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules' },
    });
    const firewall = windowsFirewall(runner);
    await firewall.exposePort({ protocol: 'tcp', port: 80 }, HOSTILE_OWNERS[0]);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.file, powerShellPath());
    assert.equal(powerShellPath('D:\\WINDOWS'), 'D:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    assert.deepEqual(call.args, ['-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', encodeCommand(ADD_RULE_SCRIPT)]);
    assert.equal(Buffer.from(call.args[4], 'base64').toString('utf16le'), ADD_RULE_SCRIPT);
    assert.equal(call.windowsHide, true);
    assert.ok(call.timeout > 0);
    // Any other spelling of our variable is dropped, so Windows cannot pick the stale one.
    assert.deepEqual(Object.keys(call.env).sort(), ['PSModulePath', 'SystemRoot', FIREWALL_DATA_VARIABLE]);
    assert.deepEqual(JSON.parse(Buffer.from(call.env[FIREWALL_DATA_VARIABLE]!, 'base64').toString('utf8')), {
      name: `WinsHost ${HOSTILE_OWNERS[0]} tcp/80`,
      protocol: 'TCP',
      port: 80,
    });
  });
});

describe('windowsFirewall', () => {
  it('adds and removes with the constant scripts and the exact JSON as data', async () => {
    const { run, runs } = recordingRunner();
    const firewall = windowsFirewall(run);
    await firewall.exposePort({ protocol: 'tcp', port: 8080 }, 'ingress-lq2x9k1a');
    await firewall.closePort({ protocol: 'udp', port: 53 }, 'dns-1');
    assert.equal(runs[0].script, ADD_RULE_SCRIPT);
    assert.equal(runs[1].script, REMOVE_RULE_SCRIPT);
    assert.equal(
      Buffer.from(runs[0].env[FIREWALL_DATA_VARIABLE], 'base64').toString('utf8'),
      '{"name":"WinsHost ingress-lq2x9k1a tcp/8080","protocol":"TCP","port":8080}',
    );
    assert.deepEqual(decodeData(runs[1].env), { name: 'WinsHost dns-1 udp/53', protocol: 'UDP', port: 53 });
  });

  it('carries hostile owners only inside the base64 data, never in the script or the command line', async () => {
    const { run, runs } = recordingRunner();
    const firewall = windowsFirewall(run);
    for (const owner of HOSTILE_OWNERS) {
      await firewall.exposePort({ protocol: 'tcp', port: 443 }, owner);
      await firewall.closePort({ protocol: 'tcp', port: 443 }, owner);
    }
    assert.equal(runs.length, HOSTILE_OWNERS.length * 2);
    runs.forEach(({ script, env }, i) => {
      const owner = HOSTILE_OWNERS[Math.floor(i / 2)];
      assert.equal(script, i % 2 === 0 ? ADD_RULE_SCRIPT : REMOVE_RULE_SCRIPT);
      assert.deepEqual(decodeData(env), { name: `WinsHost ${owner} tcp/443`, protocol: 'TCP', port: 443 });
      for (const text of [script, encodeCommand(script), env[FIREWALL_DATA_VARIABLE]]) {
        assert.ok(!text.includes(owner), `${JSON.stringify(owner)} reached the command text`);
      }
    });
    for (const fragment of ['Remove-Item', 'calc', 'Invoke-Expression', '-Action Block']) {
      assert.ok(!ADD_RULE_SCRIPT.includes(fragment) && !REMOVE_RULE_SCRIPT.includes(fragment));
    }
  });

  it("reports PowerShell's message as HostOperationFailed", async () => {
    const firewall = windowsFirewall(recordingRunner(() => failed('Access is denied.')).run);
    await assert.rejects(firewall.exposePort({ protocol: 'tcp', port: 80 }, 'web'), (error: unknown) => {
      assert.ok(error instanceof HostOperationFailedError);
      assert.equal(error.data.reason, 'FirewallFailed');
      assert.equal(error.message, 'adding firewall rule "WinsHost web tcp/80" failed: Access is denied.');
      return true;
    });
  });

  it('reports PowerShell not running, and a success line with a failing exit code, as failures', async () => {
    const missing = windowsFirewall(async () => ({ exitCode: null, stdout: '', stderr: '', error: Object.assign(new Error('spawn powershell.exe ENOENT'), { code: 'ENOENT' }) }));
    await assert.rejects(missing.closePort({ protocol: 'udp', port: 53 }, 'dns'), /removing firewall rule "WinsHost dns udp\/53" failed: spawn powershell.exe ENOENT/);
    const thrown = windowsFirewall(async () => Promise.reject(new Error('EPERM')));
    await assert.rejects(thrown.exposePort({ protocol: 'tcp', port: 80 }, 'web'), (error: unknown) => error instanceof HostOperationFailedError && error.cause instanceof Error);
    const contradictory = windowsFirewall(async () => ({ ...ok(), exitCode: 1 }));
    await assert.rejects(contradictory.exposePort({ protocol: 'tcp', port: 80 }, 'web'), /exited with code 1/);
  });

  it('reads CLIXML error records when the script never got to write its result', () => {
    const clixml =
      '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">The term &apos;Get-NetFirewallRule&apos; is not recognized_x000D__x000A_</S><S S="Error">At line:9 char:13_x000D__x000A_</S></Objs>';
    assert.equal(stderrText(clixml), "The term 'Get-NetFirewallRule' is not recognized\r\nAt line:9 char:13");
    assert.deepEqual(firewallOutcome({ exitCode: 1, stdout: '', stderr: clixml }), {
      ok: false,
      message: "The term 'Get-NetFirewallRule' is not recognized\r\nAt line:9 char:13",
    });
    assert.deepEqual(firewallOutcome({ exitCode: 1, stdout: `${RESULT_MARKER}not base64 json`, stderr: 'plain text' }), { ok: false, message: 'plain text' });
    assert.deepEqual(firewallOutcome(ok()), { ok: true });
  });

  it('refuses malformed ports and owners before running anything', async () => {
    const { run, runs } = recordingRunner();
    const firewall = windowsFirewall(run);
    for (const port of [0, 65_536, 80.5, Number.NaN]) {
      await assert.rejects(firewall.exposePort({ protocol: 'tcp', port }, 'web'), InvalidParamsError);
    }
    await assert.rejects(firewall.exposePort({ protocol: 'icmp' as 'tcp', port: 80 }, 'web'), InvalidParamsError);
    await assert.rejects(firewall.closePort({ protocol: 'tcp', port: 80 }, ''), InvalidParamsError);
    assert.equal(runs.length, 0);
  });

  it('makes one change at a time', async () => {
    let running = 0;
    let most = 0;
    const firewall = windowsFirewall(async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return ok();
    });
    const failing = windowsFirewall(async () => failed('x'));
    await Promise.all([
      firewall.exposePort({ protocol: 'tcp', port: 80 }, 'a'),
      firewall.exposePort({ protocol: 'tcp', port: 80 }, 'a'),
      firewall.closePort({ protocol: 'tcp', port: 80 }, 'a'),
      failing.exposePort({ protocol: 'tcp', port: 80 }, 'a').catch(() => undefined),
    ]);
    assert.equal(most, 1);
    // A failed change does not block the ones after it.
    await assert.rejects(failing.exposePort({ protocol: 'tcp', port: 80 }, 'a'), /x/);
  });
});

/**
 * The constant scripts run in real PowerShell (the repo's pwsh 7) through the real runner, with the three
 * NetSecurity cmdlets replaced by functions that record how they were called: what PowerShell received as
 * values, after decoding, is exactly what was meant, however hostile.
 */
describe('the scripts in PowerShell, against stand-in cmdlets', { skip: !existsSync(pwsh) && 'needs .tools/pwsh (npm run setup)' }, () => {
  const STUBS = `function Get-NetFirewallRule {
  [CmdletBinding()] param([string] $Group)
  [Console]::Out.WriteLine('CALL ' + (ConvertTo-Json -Compress -InputObject @{ cmd = 'Get'; Group = $Group; ErrorAction = [string]$PSBoundParameters['ErrorAction'] }))
  foreach ($name in @(ConvertFrom-Json $env:FAKE_RULES)) { [pscustomobject]@{ DisplayName = $name } }
}
function New-NetFirewallRule {
  [CmdletBinding()] param([string] $DisplayName, [string] $Group, [string] $Direction, [string] $Action, [string] $Protocol, [string[]] $LocalPort)
  [Console]::Out.WriteLine('CALL ' + (ConvertTo-Json -Compress -InputObject @{ cmd = 'New'; DisplayName = $DisplayName; Group = $Group; Direction = $Direction; Action = $Action; Protocol = $Protocol; LocalPort = $LocalPort }))
  if ($env:FAKE_FAIL) { throw $env:FAKE_FAIL }
}
function Remove-NetFirewallRule {
  [CmdletBinding()] param([Parameter(ValueFromPipeline)] $InputObject)
  process { [Console]::Out.WriteLine('CALL ' + (ConvertTo-Json -Compress -InputObject @{ cmd = 'Remove'; DisplayName = $InputObject.DisplayName })) }
}
`;

  /** The real runner, with the stand-ins put in front of the script it was asked to run. */
  function stubbedRunner(fake: { rules: string[]; fail?: string }): PowerShellRunner {
    const withStubs: ExecFileFn = (file, args, options, callback) => {
      const script = Buffer.from(args.at(-1)!, 'base64').toString('utf16le');
      return (execFile as unknown as ExecFileFn)(file, [...args.slice(0, -1), encodeCommand(STUBS + script)], options, callback);
    };
    return powerShellRunner({
      execFile: withStubs,
      executable: pwsh,
      baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', FAKE_RULES: JSON.stringify(fake.rules), FAKE_FAIL: fake.fail ?? '' },
    });
  }

  function callsOf(stdout: string): Record<string, unknown>[] {
    return stdout
      .split(/\r?\n/)
      .filter((line) => line.startsWith('CALL '))
      .map((line) => JSON.parse(line.slice(5)) as Record<string, unknown>);
  }

  function recording(runner: PowerShellRunner) {
    const results: PowerShellResult[] = [];
    const run: PowerShellRunner = async (script, env) => {
      const result = await runner(script, env);
      results.push(result);
      return result;
    };
    return { run, results };
  }

  it('adds a rule with every hostile value arriving intact as data', { timeout: 60_000 }, async () => {
    const owner = HOSTILE_OWNERS.slice(0, 7).join(' ');
    const { run, results } = recording(stubbedRunner({ rules: [] }));
    await windowsFirewall(run).exposePort({ protocol: 'tcp', port: 8443 }, owner);
    assert.deepEqual(callsOf(results[0].stdout), [
      { cmd: 'Get', Group: 'WinsHost', ErrorAction: 'SilentlyContinue' },
      { cmd: 'New', DisplayName: `WinsHost ${owner} tcp/8443`, Group: 'WinsHost', Direction: 'Inbound', Action: 'Allow', Protocol: 'TCP', LocalPort: ['8443'] },
    ]);
    assert.equal(results[0].exitCode, 0);
  });

  it('leaves an existing rule alone and removes exactly the named one, wildcards and all', { timeout: 60_000 }, async () => {
    const rules = ['WinsHost ab tcp/80', 'WinsHost a* tcp/80', 'WinsHost A* tcp/80'];
    const add = recording(stubbedRunner({ rules }));
    await windowsFirewall(add.run).exposePort({ protocol: 'tcp', port: 80 }, 'a*');
    assert.deepEqual(callsOf(add.results[0].stdout).map((c) => c.cmd), ['Get']);

    const remove = recording(stubbedRunner({ rules }));
    await windowsFirewall(remove.run).closePort({ protocol: 'tcp', port: 80 }, 'a*');
    assert.deepEqual(callsOf(remove.results[0].stdout).slice(1), [{ cmd: 'Remove', DisplayName: 'WinsHost a* tcp/80' }]);

    const none = recording(stubbedRunner({ rules: [] }));
    await windowsFirewall(none.run).closePort({ protocol: 'udp', port: 53 }, 'gone');
    assert.deepEqual(callsOf(none.results[0].stdout).map((c) => c.cmd), ['Get']);
  });

  it("turns a cmdlet's exception into HostOperationFailed with its message", { timeout: 60_000 }, async () => {
    const firewall = windowsFirewall(stubbedRunner({ rules: [], fail: 'Access is denied. ünïcödé' }));
    await assert.rejects(firewall.exposePort({ protocol: 'udp', port: 9000 }, 'x'), {
      message: 'adding firewall rule "WinsHost x udp/9000" failed: Access is denied. ünïcödé',
    });
  });

  it('reports the missing NetSecurity module of a host that lacks it (here: pwsh on Linux)', { timeout: 60_000 }, async () => {
    const firewall = windowsFirewall(powerShellRunner({ executable: pwsh, baseEnv: { PATH: process.env.PATH, HOME: process.env.HOME } }));
    await assert.rejects(firewall.exposePort({ protocol: 'tcp', port: 80 }, 'web'), (error: unknown) => {
      assert.ok(error instanceof HostOperationFailedError);
      assert.match(error.message, /^adding firewall rule "WinsHost web tcp\/80" failed: .*Get-NetFirewallRule/s);
      return true;
    });
  });
});
