// The session host (broker/src/sessions/session-host.ps1) driven over its NDJSON protocol with the real pwsh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionHostConfig } from '../../broker/src/sessions/host-protocol.js';
import { sessionHostArgs } from '../../broker/src/sessions/session-host.js';
import { PWSH_PATH, SESSION_HOST_SCRIPT, SessionHostDriver, cliXmlArray, cliXmlTable, sessionHostUnavailable, type Invocation } from './support/session-host-driver.js';

const skip = sessionHostUnavailable() ?? false;
const REMOTING_BASICS = ['Clear-Host', 'Exit-PSSession', 'Get-Command', 'Get-FormatData', 'Get-Help', 'Measure-Object', 'Out-Default', 'Select-Object'];

function config(overrides: Partial<SessionHostConfig> = {}): SessionHostConfig {
  return { languageMode: 'NoLanguage', commands: [], modules: [], providers: [], programs: [], maxObjectBytes: 1_000_000, ...overrides };
}

const hosts: SessionHostDriver[] = [];

/** A host with an open session; fails the test if the session does not open. */
async function session(overrides: Partial<SessionHostConfig> = {}): Promise<SessionHostDriver> {
  const { host } = await SessionHostDriver.start();
  hosts.push(host);
  const opened = await host.open(config(overrides));
  assert.equal(opened.type, 'opened', JSON.stringify(opened));
  return host;
}

function streams(invocation: Invocation): string[] {
  return invocation.outputs.map((output) => output.stream);
}

function allCliXml(invocation: Invocation): string {
  return invocation.outputs.map((output) => output.clixml).join('\n') + (invocation.done.error ?? '');
}

/** The first `<S N="Name">` of every output object: the names Get-Command returned. */
function commandNames(invocation: Invocation): string[] {
  return invocation.outputs.map((output) => /<S N="Name">([^<]*)<\/S>/.exec(output.clixml)?.[1] ?? '?').sort();
}

function assertFailed(invocation: Invocation, pattern: RegExp): void {
  const failedOrErrored = invocation.done.state === 'Failed' || invocation.outputs.some((output) => output.stream === 'error');
  assert.ok(failedOrErrored, `expected a failure, got ${invocation.done.state} with ${JSON.stringify(streams(invocation))}`);
  assert.match(allCliXml(invocation), pattern);
}

after(() => {
  for (const host of hosts) host.kill();
});

describe('session host', { skip }, () => {
  test('sends ready with its version, edition and pid, and exits 0 on close', async () => {
    const { host, ready } = await SessionHostDriver.start();
    hosts.push(host);
    assert.match(ready.psVersion, /^7\.\d+\.\d+/);
    assert.equal(ready.edition, 'Core');
    // The pid of the PowerShell process itself (a launcher may sit between it and the spawned child).
    assert.ok(Number.isInteger(ready.pid) && ready.pid > 0);
    assert.equal(host.ready?.pid, ready.pid);
    process.kill(ready.pid, 0);
    assert.deepEqual(await host.close(), { code: 0, signal: null });
  });

  test('exits when its stdin closes, even with a session open', async () => {
    const host = await session({ commands: ['Get-Date'] });
    host.child.stdin.end();
    assert.deepEqual(await host.waitForExit(), { code: 0, signal: null });
  });

  test('exits 1 before ready, naming the assembly, when its compiled core is missing', () => {
    const missing = join(tmpdir(), 'no-such-dir', 'WinsHost.SessionHost.dll');
    const result = spawnSync(PWSH_PATH, sessionHostArgs(SESSION_HOST_SCRIPT, missing), { input: '', encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stdout, '', 'nothing on the protocol stream, not even ready');
    assert.match(result.stderr, /session host failed:/);
    assert.ok(result.stderr.includes(missing), result.stderr);
  });

  for (const languageMode of ['FullLanguage', 'ConstrainedLanguage', 'NoLanguage'] as const) {
    test(`opens a ${languageMode} session with only the listed commands and the remoting basics`, async () => {
      const host = await session({
        languageMode,
        commands: ['Get-Date', { name: 'Get-Process', parameters: [{ name: 'Name', validateSet: ['pwsh'] }] }],
      });
      const listed = await host.invoke('Get-Command');
      assert.equal(listed.done.state, 'Completed');
      assert.deepEqual(commandNames(listed), [...REMOTING_BASICS, 'Get-Date', 'Get-Process'].sort());

      const accepted = await host.invoke('Get-Process -Name pwsh');
      assert.equal(accepted.done.state, 'Completed', accepted.done.error ?? '');
      assert.ok(accepted.outputs.length >= 1);

      const rejected = await host.invoke('Get-Process -Name bash');
      assertFailed(rejected, /ParameterArgumentValidationError|ValidateSet|does not belong to the set/);

      const unlistedParameter = await host.invoke('Get-Process -Id 1');
      assertFailed(unlistedParameter, /NamedParameterNotFound/);

      // The real cmdlet behind the proxy is private, so its module-qualified name does not bypass the proxy.
      const qualified = await host.invoke('Microsoft.PowerShell.Management\\Get-Process -Name bash');
      assertFailed(qualified, /CommandNotFoundException|not recognized/);

      if (languageMode !== 'NoLanguage') {
        const mode = await host.invoke('$ExecutionContext.SessionState.LanguageMode');
        assert.match(allCliXml(mode), new RegExp(`>${languageMode}<`));
      }
      assert.deepEqual(await host.close(), { code: 0, signal: null });
    });
  }

  test('a script function with restricted parameters is proxied too, its original out of sight', async () => {
    const host = await session({
      languageMode: 'NoLanguage',
      providers: ['FileSystem'],
      commands: [{ name: 'TabExpansion2', parameters: [{ name: 'inputScript' }, { name: 'cursorColumn', validatePattern: '^[0-9]$' }] }],
    });
    const completion = await host.invoke("TabExpansion2 -inputScript 'Get-Comm' -cursorColumn 8");
    assert.equal(completion.done.state, 'Completed', completion.done.error ?? '');
    assert.match(allCliXml(completion), /CommandCompletion[\s\S]*Get-Command/);
    assertFailed(await host.invoke("TabExpansion2 -inputScript 'Get-Comm' -cursorColumn 42"), /ValidatePattern|does not match/);
    assertFailed(await host.invoke("TabExpansion2 -ast $null"), /NamedParameterNotFound|ScriptNotSupportedInNoLanguage/);
    assert.deepEqual(commandNames(await host.invoke('Get-Command')), [...REMOTING_BASICS, 'TabExpansion2'].sort());
  });

  test('keeps module autoloading off so unlisted modules stay out', async () => {
    const host = await session({ languageMode: 'ConstrainedLanguage', commands: ['Get-Date'] });
    const autoload = await host.invoke('Get-Command -Name Get-Content');
    assertFailed(autoload, /CommandNotFoundException|not recognized|Get-Content/);
    const listed = await host.invoke('Get-Command');
    assert.deepEqual(commandNames(listed), [...REMOTING_BASICS, 'Get-Date'].sort());
    const preference = await host.invoke('$PSModuleAutoLoadingPreference = "All"');
    assertFailed(preference, /VariableNotWritable|constant/i);
  });

  describe('blocks what the language mode forbids', () => {
    const escapes = {
      'Invoke-Expression': "Invoke-Expression '1'",
      'Start-Process': 'Start-Process /bin/true',
      'Add-Type': "Add-Type -TypeDefinition 'public class WinsHostEscape {}'",
      '.NET call': "[System.IO.File]::ReadAllText('/etc/hostname')",
      // A caller's own function calls with internal origin, which private visibility does not bind.
      'an unlisted command from a function': "function Escape { Invoke-Expression '1' }; Escape",
      'an unlisted command from a script block': "& { Microsoft.PowerShell.Utility\\Invoke-Expression '1' }",
    };
    for (const languageMode of ['ConstrainedLanguage', 'NoLanguage'] as const) {
      test(`${languageMode} with listed commands: no Invoke-Expression, Start-Process, Add-Type or .NET calls`, async () => {
        const host = await session({ languageMode, commands: ['Get-Date'] });
        for (const [what, script] of Object.entries(escapes)) {
          const result = await host.invoke(script);
          assertFailed(result, /CommandNotFoundException|not recognized|language mode|ScriptNotSupportedInNoLanguage/);
          assert.equal(result.outputs.filter((output) => output.stream !== 'error').length, 0, `${what} ran in ${languageMode}`);
          if (languageMode === 'NoLanguage' && what === '.NET call') assert.match(result.done.error ?? '', /WinsHost\.ScriptNotSupportedInNoLanguage/);
        }
      });
    }

    test('ConstrainedLanguage with every command still refuses Add-Type and .NET calls', async () => {
      const host = await session({ languageMode: 'ConstrainedLanguage', commands: ['*'] });
      assertFailed(await host.invoke(escapes['Add-Type']), /CannotDefineNewType|not allowed|ConstrainedLanguage|language mode/i);
      assertFailed(await host.invoke(escapes['.NET call']), /MethodInvocationNotSupportedInConstrainedLanguage|language mode/i);
      const ordinary = await host.invoke('Get-Date -Year 2001 | Select-Object -ExpandProperty Year');
      assert.match(allCliXml(ordinary), /<I32>2001<\/I32>/);
    });

    test('FullLanguage allows .NET calls', async () => {
      const host = await session({ languageMode: 'FullLanguage', commands: ['Get-Date'] });
      const result = await host.invoke("[System.IO.File]::ReadAllText('/etc/hostname').Length -gt 0");
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(allCliXml(result), /<B>true<\/B>/);
    });

    test('NoLanguage accepts only commands with constant arguments', async () => {
      const host = await session({ languageMode: 'NoLanguage', commands: ['Get-Date'] });
      const dynamic = await host.invoke('Get-Date -Year (2000 + 1)');
      assert.equal(dynamic.done.state, 'Failed');
      assert.match(dynamic.done.error ?? '', /WinsHost\.ScriptNotSupportedInNoLanguage/);
      const constant = await host.invoke('Get-Date -Year 2001 -Month 2 -Day 3');
      assert.equal(constant.done.state, 'Completed', constant.done.error ?? '');
      assert.match(allCliXml(constant), /<DT>2001-02-03T/);
    });
  });

  test('providers are off by default and on when granted', async () => {
    const without = await session({ languageMode: 'NoLanguage', commands: ['Get-ChildItem'] });
    assertFailed(await without.invoke('Get-ChildItem -Path /'), /DriveNotFound|ProviderNotFound|Cannot find|not exist/i);
    const withFileSystem = await SessionHostDriver.start();
    hosts.push(withFileSystem.host);
    const opened = await withFileSystem.host.open(config({ languageMode: 'NoLanguage', commands: ['Get-ChildItem'], providers: ['FileSystem'] }));
    assert.equal(opened.type, 'opened');
    assert.equal(typeof (opened as { location: string | null }).location, 'string');
    const listing = await withFileSystem.host.invoke('Get-ChildItem -Path /');
    assert.equal(listing.done.state, 'Completed', listing.done.error ?? '');
    assert.ok(listing.outputs.some((output) => output.clixml.includes('<S N="Name">etc</S>') || output.clixml.includes('>etc<')));
    assert.equal(typeof listing.done.location, 'string');
  });

  test('programs are off by default and a listed one runs', async () => {
    const without = await session({ languageMode: 'NoLanguage', commands: ['Get-Date'], providers: ['FileSystem'] });
    assertFailed(await without.invoke('/bin/echo hello'), /CommandNotFoundException|not recognized/);
    const withEcho = await session({ languageMode: 'NoLanguage', commands: ['Get-Date'], providers: ['FileSystem'], programs: ['/bin/echo'] });
    assertFailed(await withEcho.invoke('/bin/true'), /CommandNotFoundException|not recognized/);
    const result = await withEcho.invoke('/bin/echo hello');
    assert.equal(result.done.state, 'Completed', result.done.error ?? '');
    assert.match(allCliXml(result), /<S>hello<\/S>/);
  });

  describe('values are data', () => {
    let host: SessionHostDriver;
    before(async () => {
      host = await session({ languageMode: 'ConstrainedLanguage', commands: ['Write-Output'] });
    });

    test('arguments bind to param() and stay text', async () => {
      const result = await host.invoke('param($first, $second) $first; $second', { arguments: cliXmlArray(['$(Remove-Item x)', 42]) });
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(result.outputs[0].clixml, /<S>\$\(Remove-Item x\)<\/S>/);
      assert.match(result.outputs[1].clixml, /<I32>42<\/I32>/);
    });

    test('arguments bind in NoLanguage too', async () => {
      const noLanguage = await session({ languageMode: 'NoLanguage', commands: ['Write-Output'] });
      const result = await noLanguage.invoke('param($value) Write-Output -InputObject $value', { arguments: cliXmlArray(['$(Remove-Item x)']) });
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(allCliXml(result), /<S>\$\(Remove-Item x\)<\/S>/);
    });

    test('$using: values bind as data, in nested script blocks too, and leave nothing in the session', async () => {
      const result = await host.invoke('$using:name; & { Write-Output ($using:count * 2) }', { using: cliXmlTable({ name: '$(Remove-Item x)', count: 21 }) });
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(result.outputs[0].clixml, /<S>\$\(Remove-Item x\)<\/S>/);
      assert.match(result.outputs[1].clixml, /<I32>42<\/I32>/);
      const after = await host.invoke('Write-Output ($null -eq $__WinsHostUsing0)');
      assert.match(allCliXml(after), /<B>true<\/B>/);
    });

    test('$using: values bind in NoLanguage as constant arguments', async () => {
      const noLanguage = await session({ languageMode: 'NoLanguage', commands: ['Write-Output'] });
      const result = await noLanguage.invoke('Write-Output -InputObject $using:name', { using: cliXmlTable({ name: '$(Remove-Item x)' }) });
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(allCliXml(result), /<S>\$\(Remove-Item x\)<\/S>/);
      const both = await noLanguage.invoke('param($value) Write-Output -InputObject $value $using:name', { arguments: cliXmlArray(['a']), using: cliXmlTable({ name: 'b' }) });
      assert.equal(both.done.state, 'Failed');
      assert.match(both.done.error ?? '', /WinsHost\.UsingWithArgumentsNotSupported/);
    });

    test('input is piped in', async () => {
      const result = await host.invoke('$input | Measure-Object', { input: cliXmlArray([1, 2, 3]) });
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(allCliXml(result), /<I32 N="Count">3<\/I32>/);
    });

    test('a parse error fails the invocation with the ParseException record', async () => {
      const result = await host.invoke('if (');
      assert.equal(result.done.state, 'Failed');
      assert.match(result.done.error ?? '', /<S N="FullyQualifiedErrorId">IfStatementMissingCondition<\/S>/);
    });
  });

  describe('output', () => {
    let host: SessionHostDriver;
    before(async () => {
      host = await session({ languageMode: 'FullLanguage', commands: ['*'], maxObjectBytes: 200_000 });
    });

    test('objects keep their type and properties', async () => {
      const result = await host.invoke('Get-Process -Id $PID');
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.equal(result.outputs.length, 1);
      const xml = result.outputs[0].clixml;
      assert.match(xml, /<TN RefId="0">\s*<T>System\.Diagnostics\.Process<\/T>/);
      assert.doesNotMatch(xml, /<T>Deserialized\./);
      assert.match(xml, new RegExp(`<I32 N="Id">${host.ready?.pid}</I32>`));
    });

    test('errors keep their FullyQualifiedErrorId', async () => {
      const result = await host.invoke('Get-Item /nonexistent');
      assert.deepEqual(streams(result), ['error']);
      assert.match(result.outputs[0].clixml, /PathNotFound,Microsoft\.PowerShell\.Commands\.GetItemCommand/);
    });

    test('streams arrive in the order they were produced', async () => {
      const script = [
        'Write-Output 1',
        "Write-Warning 'careful'",
        "Write-Verbose 'details' -Verbose",
        "Write-Information 'fyi'",
        'Write-Output 2',
        "Write-Error 'broken'",
        "Write-Debug 'internals' -Debug",
        "Write-Progress -Activity 'working' -Completed",
        'Write-Output 3',
      ].join('; ');
      const result = await host.invoke(script);
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.deepEqual(streams(result), ['output', 'warning', 'verbose', 'information', 'output', 'error', 'debug', 'progress', 'output']);
      assert.match(result.outputs[1].clixml, /careful/);
      assert.match(result.outputs[3].clixml, /fyi/);
    });

    test('a terminating error fails the invocation with its record', async () => {
      const result = await host.invoke("Write-Output 'before'; throw 'fatal'");
      assert.deepEqual(streams(result), ['output']);
      assert.equal(result.done.state, 'Failed');
      assert.match(result.done.error ?? '', /fatal/);
    });

    test('an object over maxObjectBytes becomes a WinsHost.OutputTooLarge error', async () => {
      const result = await host.invoke("'small'; 'x' * 300000; 'small again'");
      assert.deepEqual(streams(result), ['output', 'error', 'output']);
      assert.match(result.outputs[1].clixml, /WinsHost\.OutputTooLarge/);
      assert.ok(result.outputs[1].clixml.length < 200_000);
    });

    test('stop ends a running pipeline and the session stays usable', async () => {
      const id = host.startInvoke('Start-Sleep -Seconds 60');
      await new Promise((resolveWait) => setTimeout(resolveWait, 300));
      const stoppedAt = Date.now();
      host.send({ type: 'stop', id });
      const stopped = await host.finish(id, 10_000);
      assert.equal(stopped.done.state, 'Stopped');
      const next = await host.invoke('1');
      // Generous bound for a shared machine; the target is within a second.
      assert.ok(Date.now() - stoppedAt < 5_000, `stop and next invoke took ${Date.now() - stoppedAt} ms`);
      assert.equal(next.done.state, 'Completed');
      assert.match(allCliXml(next), /<I32>1<\/I32>/);
    });

    test('a Console.WriteLine from the session does not reach the protocol', async () => {
      const result = await host.invoke("[Console]::WriteLine('{\"type\":\"done\"}'); [Console]::Out.Flush(); 'after'");
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      assert.match(allCliXml(result), /<S>after<\/S>/);
    });
  });

  describe('protocol errors', () => {
    let host: SessionHostDriver;
    before(async () => {
      host = await session({ languageMode: 'FullLanguage', commands: ['*'] });
    });

    test('garbage and unknown types get protocolError and the host keeps running', async () => {
      host.sendRaw('{nope');
      assert.match((await host.next('protocolError')).message, /Malformed JSON/);
      host.sendRaw('{"type":"bogus"}');
      assert.match((await host.next('protocolError')).message, /Unknown request type 'bogus'/);
      host.sendRaw('{"type":"open","config":{},"x":"\\ud800"}');
      assert.match((await host.next('protocolError')).message, /surrogate/);
      const still = await host.invoke('1 + 1');
      assert.match(allCliXml(still), /<I32>2<\/I32>/);
    });

    test('a second invoke while busy is refused with its id', async () => {
      const first = host.startInvoke('Start-Sleep -Seconds 60');
      host.startInvoke('1', { id: 'second' });
      const refused = await host.next('protocolError');
      assert.equal(refused.id, 'second');
      assert.match(refused.message, /busy/);
      host.send({ type: 'stop', id: first });
      assert.equal((await host.finish(first, 10_000)).done.state, 'Stopped');
    });

    test('arguments, input and $using: values that are not the CliXml they must be are refused with the invocation id', async () => {
      host.startInvoke('1', { id: 'bad-using', using: 'not xml' });
      const notXml = await host.next('protocolError');
      assert.equal(notXml.id, 'bad-using');
      assert.match(notXml.message, /using is not valid CliXml/);
      host.startInvoke('1', { id: 'using-array', using: cliXmlArray([1]) });
      assert.match((await host.next('protocolError')).message, /using must be the CliXml of a hashtable/);
      host.startInvoke('1', { id: 'bad-arguments', arguments: cliXmlTable({ a: 1 }) });
      assert.match((await host.next('protocolError')).message, /arguments must be the CliXml of an array/);
      const still = await host.invoke('1 + 1');
      assert.match(allCliXml(still), /<I32>2<\/I32>/);
    });

    test('strings keep escapes and surrogate pairs both ways', async () => {
      host.sendRaw('{"type":"invoke","id":"unicode","script":"\'\\u00e9\\ud83d\\ude00\\t\\\"\\\\\\/\'","arguments":null,"input":null,"depth":1}');
      const result = await host.finish('unicode');
      assert.equal(result.done.state, 'Completed', result.done.error ?? '');
      // CliXml spells surrogates and control characters as _xHHHH_; the pair arrived intact.
      assert.match(result.outputs[0].clixml, /<S>é_xD83D__xDE00__x0009_"\\\/<\/S>/);
    });

    test('close stops a running invocation and exits 0', async () => {
      const closing = await session({ languageMode: 'FullLanguage', commands: ['*'] });
      closing.startInvoke('Start-Sleep -Seconds 60');
      await new Promise((resolveWait) => setTimeout(resolveWait, 300));
      assert.deepEqual(await closing.close(), { code: 0, signal: null });
    });

    test('a second open is refused', async () => {
      host.send({ type: 'open', config: config() });
      assert.match((await host.next('protocolError')).message, /already open/);
    });
  });

  describe('open failures', () => {
    let host: SessionHostDriver;
    before(async () => {
      host = (await SessionHostDriver.start()).host;
      hosts.push(host);
    });

    const cases: Array<[string, Partial<SessionHostConfig>, string, RegExp]> = [
      ['an unknown command', { commands: ['Get-WinsHostNoSuchThing'] }, 'CommandNotFound', /Get-WinsHostNoSuchThing/],
      ['an unknown module', { modules: ['WinsHostNoSuchModule'] }, 'ModuleNotFound', /WinsHostNoSuchModule/],
      ['an unknown provider', { providers: ['Registry9'] }, 'ProviderNotFound', /Registry9/],
      ['an unknown parameter', { commands: [{ name: 'Get-Date', parameters: [{ name: 'NoSuchParameter' }] }] }, 'InvalidConfig', /NoSuchParameter/],
      ['a relative program path', { programs: ['echo'], providers: ['FileSystem'] }, 'InvalidConfig', /absolute/],
      ['programs without the FileSystem provider', { programs: ['/bin/echo'] }, 'InvalidConfig', /FileSystem/],
      ['restricted parameters next to *', { commands: ['*', { name: 'Get-Date', parameters: [{ name: 'Year' }] }] }, 'InvalidConfig', /'\*'/],
      ['a container on Linux', { containerId: '0123456789abcdef' }, 'InvalidConfig', /Windows/],
    ];
    for (const [what, overrides, reason, message] of cases) {
      test(`${what} is openFailed ${reason}`, async () => {
        const failed = await host.open(config(overrides));
        assert.equal(failed.type, 'openFailed');
        assert.equal((failed as { reason: string }).reason, reason);
        assert.match((failed as { message: string }).message, message);
      });
    }

    test('a listed module is imported and only its listed commands show', async () => {
      const opened = await host.open(config({ languageMode: 'ConstrainedLanguage', modules: ['Microsoft.PowerShell.Utility'], commands: ['Get-Date'] }));
      assert.equal(opened.type, 'opened');
      const listed = await host.invoke('Get-Command');
      assert.deepEqual(commandNames(listed), [...REMOTING_BASICS, 'Get-Date'].sort());
    });
  });

  test('the container restriction script restricts a local runspace as the ISS path does', () => {
    const directory = mkdtempSync(join(tmpdir(), 'session-restriction-'));
    try {
      const checkPath = join(directory, 'check.ps1');
      writeFileSync(
        checkPath,
        `
$ErrorActionPreference = 'Stop'
$ast = [System.Management.Automation.Language.Parser]::ParseFile('${SESSION_HOST_SCRIPT}', [ref]$null, [ref]$null)
$assignment = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.AssignmentStatementAst] -and $node.Left.VariablePath.UserPath -eq 'SessionRestrictionScript' }, $true)
$restriction = $assignment.Right.Expression.Value
function Restrict([hashtable] $grant) {
    $runspace = [runspacefactory]::CreateRunspace([initialsessionstate]::CreateDefault2())
    $runspace.Open()
    $ps = [powershell]::Create(); $ps.Runspace = $runspace
    $opened = $ps.AddScript($restriction, $true).AddArgument($grant).Invoke()
    $ps.Dispose()
    @{ Runspace = $runspace; LanguageMode = $opened[0].LanguageMode; Location = $opened[0].Location }
}
function Run($restricted, [string] $script) {
    $ps = [powershell]::Create(); $ps.Runspace = $restricted.Runspace
    try { $out = $ps.AddScript($script).Invoke(); @{ ok = -not $ps.HadErrors; out = @($out | ForEach-Object { "$_" }) } }
    catch { @{ ok = $false; out = @($_.Exception.Message) } }
    finally { $ps.Dispose() }
}
$commands = @(@{ Name = 'Get-Date' }, @{ Name = 'Get-Item' }, @{ Name = 'Get-Process'; Parameters = @(@{ Name = 'Name'; ValidateSet = @('pwsh') }) })
# Not asserted: on Linux a rooted path such as / still reaches the FileSystem provider after its removal (a
# Windows container path always names a drive, and every drive of a provider not granted is removed).
$bare = Restrict @{ AllCommands = $false; LanguageMode = 'ConstrainedLanguage'; Modules = @(); Providers = @(); Programs = @(); Commands = $commands }
$granted = Restrict @{ AllCommands = $false; LanguageMode = 'ConstrainedLanguage'; Modules = @(); Providers = @('FileSystem'); Programs = @('/bin/echo'); Commands = $commands }
$result = [ordered]@{
    opened = $bare.LanguageMode
    commands = @((Run $bare '(Get-Command).Name').out | Sort-Object)
    languageMode = (Run $bare '$ExecutionContext.SessionState.LanguageMode').out
    goodValue = (Run $bare '(Get-Process -Name pwsh | Measure-Object).Count').ok
    badValue = (Run $bare 'Get-Process -Name bash').ok
    unlistedParameter = (Run $bare 'Get-Process -Id 1').ok
    qualified = (Run $bare 'Microsoft.PowerShell.Management\Get-Process -Name bash').ok
    invokeExpression = (Run $bare "Invoke-Expression '1'").ok
    dotNet = (Run $bare "[System.IO.File]::ReadAllText('/etc/hostname')").ok
    fileSystem = (Run $bare 'Get-Item -LiteralPath FileSystem::/etc').ok
    location = @((Run $bare '$ExecutionContext.SessionState.Path.CurrentLocation').out | Where-Object { $_ })
    program = (Run $bare '/bin/echo hi').ok
    autoload = (Run $bare 'Get-Command -Name Invoke-WebRequest').ok
    grantedFileSystem = (Run $granted '(Get-Item -Path /).FullName').out
    grantedProgram = (Run $granted '/bin/echo hi').out
    otherProgram = (Run $granted '/bin/true').ok
    grantedLocation = $granted.Location
}
$result | ConvertTo-Json -Compress
`,
      );
      const run = spawnSync(PWSH_PATH, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', checkPath], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      assert.equal(run.status, 0, run.stderr);
      const result = JSON.parse(run.stdout.trim().split('\n').pop() as string);
      assert.equal(result.opened, 'ConstrainedLanguage');
      assert.deepEqual(result.commands, [...REMOTING_BASICS, 'Get-Date', 'Get-Item', 'Get-Process'].sort());
      assert.deepEqual([result.languageMode].flat(), ['ConstrainedLanguage']);
      assert.equal(result.goodValue, true);
      for (const blocked of ['badValue', 'unlistedParameter', 'qualified', 'invokeExpression', 'dotNet', 'fileSystem', 'program', 'autoload', 'otherProgram']) {
        assert.equal(result[blocked], false, `${blocked} was allowed: ${run.stdout}`);
      }
      assert.deepEqual([result.location ?? []].flat(), [], 'a session without providers has no location');
      assert.deepEqual([result.grantedFileSystem].flat(), ['/']);
      assert.deepEqual([result.grantedProgram].flat(), ['hi']);
      assert.equal(typeof result.grantedLocation, 'string');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
