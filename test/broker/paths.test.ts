import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isWithin,
  normalizeAbsolutePath,
  normalizeHostPath,
  normalizeRelativePath,
  PathRuleError,
  relativeWithin,
  type PathRuleReason,
  type PathSyntax,
} from '../../broker/src/policy/paths.js';

type Normalizer = (input: string, syntax: PathSyntax) => string;

function rejects(normalize: Normalizer, syntax: PathSyntax, reason: PathRuleReason, inputs: string[]): void {
  for (const input of inputs) {
    assert.throws(
      () => normalize(input, syntax),
      (error: unknown) => {
        assert.ok(error instanceof PathRuleError, `${JSON.stringify(input)}: expected PathRuleError, got ${error}`);
        assert.equal(error.reason, reason, `${JSON.stringify(input)}: ${error.message}`);
        assert.equal(error.input, input);
        assert.ok(error.message.length > 0);
        return true;
      },
      `${JSON.stringify(input)} was accepted as ${syntax}`,
    );
  }
}

function accepts(normalize: Normalizer, syntax: PathSyntax, cases: Record<string, string>): void {
  for (const [input, expected] of Object.entries(cases)) {
    assert.equal(normalize(input, syntax), expected, JSON.stringify(input));
  }
}

describe('normalizeAbsolutePath, win32', () => {
  const abs = normalizeAbsolutePath;

  it('normalizes drive paths: separators, drive letter case, dot segments, repeated and trailing separators', () => {
    accepts(abs, 'win32', {
      'C:\\ProgramData\\docker\\CredentialSpecs\\webapp1.json': 'C:\\ProgramData\\docker\\CredentialSpecs\\webapp1.json',
      'c:\\ProgramData': 'C:\\ProgramData',
      'C:/ProgramData\\docker/x': 'C:\\ProgramData\\docker\\x',
      'C:\\\\ProgramData\\\\\\docker\\': 'C:\\ProgramData\\docker',
      'C:\\.\\ProgramData\\.\\docker\\.': 'C:\\ProgramData\\docker',
      'C:\\': 'C:\\',
      'c:/': 'C:\\',
      'C:\\\\': 'C:\\',
      'C:\\Logs\\MixedCase.LOG': 'C:\\Logs\\MixedCase.LOG',
      'D:\\a b\\c.d.e': 'D:\\a b\\c.d.e',
      // Percent escapes mean nothing to a file system: a name, not a separator.
      'C:\\x\\..%2f..%2fWindows': 'C:\\x\\..%2f..%2fWindows',
      'C:\\x\\...x': 'C:\\x\\...x',
      'C:\\x\\backup~2024-01.json': 'C:\\x\\backup~2024-01.json',
      'C:\\x\\CREDENTIALS~1.json': 'C:\\x\\CREDENTIALS~1.json',
      'C:\\x\\console.json': 'C:\\x\\console.json',
      'C:\\x\\COM10': 'C:\\x\\COM10',
      'C:\\x\\nulx.json': 'C:\\x\\nulx.json',
      'C:\\x\\ leading': 'C:\\x\\ leading',
    });
  });

  it('rejects the empty path', () => {
    rejects(abs, 'win32', 'Empty', ['']);
  });

  it('rejects ".." segments anywhere, without resolving them', () => {
    rejects(abs, 'win32', 'ParentSegment', [
      'C:\\ProgramData\\docker\\CredentialSpecs\\..\\..\\Windows\\win.ini',
      'C:\\a\\..\\a',
      'C:/a/../a',
      'C:\\x\\..',
      'C:\\..',
      '..\\x',
      'C:\\x/..\\y',
    ]);
  });

  it('rejects drive-relative paths', () => {
    rejects(abs, 'win32', 'DriveRelative', ['C:foo', 'c:', 'C:foo\\bar', 'D:.']);
  });

  it('rejects rooted paths without a drive and relative paths', () => {
    rejects(abs, 'win32', 'NotAbsolute', ['\\foo', '/foo', '\\', 'foo', 'foo\\bar', '.', '.\\x']);
  });

  it('rejects UNC paths', () => {
    rejects(abs, 'win32', 'UncPath', ['\\\\server\\share\\x', '//server/share/x', '\\\\server', '\\/server\\share', '\\\\']);
  });

  it('rejects device and NT namespace prefixes', () => {
    rejects(abs, 'win32', 'DevicePath', [
      '\\\\?\\C:\\x',
      '\\\\.\\pipe\\x',
      '\\\\.\\C:\\x',
      '\\??\\C:\\x',
      '//?/C:/x',
      '//./pipe/docker_engine',
      '\\\\?\\UNC\\server\\share\\x',
      '\\\\?\\Volume{b75e2c83-0000-0000-0000-602f00000000}\\x',
      '\\\\.',
    ]);
  });

  it('rejects reserved device names in any segment, any case, with extensions and trailing spaces', () => {
    rejects(abs, 'win32', 'DeviceName', [
      'C:\\x\\con',
      'C:\\x\\Con.txt',
      'C:\\x\\nul.json',
      'C:\\x\\COM1.log',
      'C:\\x\\lpt9',
      'C:\\x\\aux.json\\y',
      'C:\\PRN',
      'C:\\x\\NUL.tar.gz',
      'C:\\x\\CON .txt',
      'C:\\x\\con ',
      'C:\\x\\COM0',
      'C:\\x\\LPT0.txt',
      'C:\\x\\com\u00B9',
      'C:\\x\\LPT\u00B3.log',
      'C:\\x\\COM\u00B2',
      'C:\\x\\conin$',
      'C:\\x\\CONOUT$.txt',
      'C:\\x\\clock$',
    ]);
  });

  it('rejects alternate data streams', () => {
    rejects(abs, 'win32', 'AlternateDataStream', [
      'C:\\specs\\webapp.json:evil',
      'C:\\specs\\webapp.json::$DATA',
      'C:\\specs:x\\webapp.json',
      'C:\\x\\C:\\y',
    ]);
  });

  it('rejects segments ending in a dot or a space, which Windows strips', () => {
    rejects(abs, 'win32', 'TrailingDotOrSpace', [
      'C:\\specs\\webapp.json.',
      'C:\\specs\\webapp.json ',
      'C:\\specs.\\webapp.json',
      'C:\\specs \\webapp.json',
      'C:\\x\\...',
      'C:\\x\\ ',
      'C:\\x\\.. ',
    ]);
  });

  it('rejects 8.3 short names', () => {
    rejects(abs, 'win32', 'ShortName', [
      'C:\\x\\CREDEN~1',
      'C:\\PROGRA~1\\x',
      'C:\\x\\CREDEN~1.JSO',
      'C:\\x\\creden~1.jso',
      'C:\\x\\CR1A2B~1.JSO',
      'C:\\x\\WEBAP~12.JSO',
      'C:\\x\\a~1',
    ]);
  });

  it('rejects characters Windows does not allow in names, and control characters', () => {
    rejects(abs, 'win32', 'InvalidCharacter', [
      'C:\\x\\a<b',
      'C:\\x\\a>b',
      'C:\\x\\a"b',
      'C:\\x\\a|b',
      'C:\\x\\a?b',
      'C:\\x\\*.json',
      'C:\\x\\a\0b',
      'C:\\x\\a\nb',
      'C:\\x\\a\u001fb',
    ]);
  });

  it('names the offending segment in the message', () => {
    assert.throws(() => abs('C:\\x\\Con.txt\\y', 'win32'), /'Con\.txt'/);
    assert.throws(() => abs('C:\\x\\webapp.json:evil', 'win32'), /'webapp\.json:evil'/);
    assert.throws(() => abs('C:\\PROGRA~1\\x', 'win32'), /'PROGRA~1'/);
    assert.throws(() => abs('C:\\x\\secret.json.', 'win32'), /'secret\.json\.'/);
  });
});

describe('normalizeAbsolutePath, posix', () => {
  const abs = normalizeAbsolutePath;

  it('normalizes: dot segments, repeated and trailing separators dropped, backslash is a name character', () => {
    accepts(abs, 'posix', {
      '/srv/logs/app.log': '/srv/logs/app.log',
      '/srv//logs/./app.log': '/srv/logs/app.log',
      '/srv/logs/': '/srv/logs',
      '/': '/',
      '//': '/',
      '/./': '/',
      '/srv/a\\b': '/srv/a\\b',
      '/srv/..\\x': '/srv/..\\x',
      '/srv/..%2f': '/srv/..%2f',
      // Windows-only rules do not apply to posix names.
      '/srv/con': '/srv/con',
      '/srv/nul.json': '/srv/nul.json',
      '/srv/webapp.json:evil': '/srv/webapp.json:evil',
      '/srv/webapp.json.': '/srv/webapp.json.',
      '/srv/webapp.json ': '/srv/webapp.json ',
      '/srv/PROGRA~1': '/srv/PROGRA~1',
      '/srv/a*b?c': '/srv/a*b?c',
      '/srv/Mixed': '/srv/Mixed',
    });
  });

  it('rejects the empty path', () => {
    rejects(abs, 'posix', 'Empty', ['']);
  });

  it('rejects ".." segments anywhere', () => {
    rejects(abs, 'posix', 'ParentSegment', ['/srv/logs/../../etc/shadow', '/a/../a', '/x/..', '/..', '../x', '/srv//..//x']);
  });

  it('rejects relative paths, including Windows-looking ones', () => {
    rejects(abs, 'posix', 'NotAbsolute', ['srv/logs', '.', './x', 'C:\\x', 'C:/x', '\\srv\\x', '~/x']);
  });

  it('rejects NUL and control characters', () => {
    rejects(abs, 'posix', 'InvalidCharacter', ['/srv/a\0b', '/srv/a\nb', '/srv/a\tb', '/srv/\u001b[31m']);
  });
});

describe('normalizeRelativePath', () => {
  const rel = normalizeRelativePath;

  it('win32: normalizes to backslashes', () => {
    accepts(rel, 'win32', {
      'webapp1.json': 'webapp1.json',
      'WebApp1.JSON': 'WebApp1.JSON',
      'sub/webapp1.json': 'sub\\webapp1.json',
      '.\\sub\\\\webapp1.json': 'sub\\webapp1.json',
      'sub\\': 'sub',
      '..%2fwebapp1.json': '..%2fwebapp1.json',
    });
  });

  it('win32: rejects absolute paths as NotRelative', () => {
    rejects(rel, 'win32', 'NotRelative', ['C:\\x', 'c:/x', 'C:\\', '\\x', '/x', '\\']);
  });

  it('win32: rejects drives, shares and devices with their own reason', () => {
    rejects(rel, 'win32', 'DriveRelative', ['C:x', 'C:']);
    rejects(rel, 'win32', 'UncPath', ['\\\\server\\share\\x', '//server/share/x']);
    rejects(rel, 'win32', 'DevicePath', ['\\\\?\\C:\\x', '\\\\.\\pipe\\x', '\\??\\C:\\x']);
  });

  it('win32: applies the segment rules', () => {
    rejects(rel, 'win32', 'ParentSegment', ['..\\x', 'a/../a', 'x/..', '..', 'sub\\..\\..\\Windows\\win.ini']);
    rejects(rel, 'win32', 'DeviceName', ['con', 'Con.txt', 'nul.json', 'COM1.log', 'lpt9', 'x\\aux.json\\y']);
    rejects(rel, 'win32', 'AlternateDataStream', ['webapp.json:evil', 'webapp.json::$DATA']);
    rejects(rel, 'win32', 'TrailingDotOrSpace', ['webapp.json.', 'webapp.json ', 'sub.\\x.json']);
    rejects(rel, 'win32', 'ShortName', ['CREDEN~1', 'CREDEN~1.JSO', 'PROGRA~1\\x']);
    rejects(rel, 'win32', 'InvalidCharacter', ['web*.json', 'a?b', 'a\0b', 'a\rb']);
  });

  it('rejects empty names and names of the directory itself, in both syntaxes', () => {
    for (const syntax of ['posix', 'win32'] as const) {
      rejects(rel, syntax, 'Empty', ['', '.', './', './/.']);
    }
  });

  it('posix: keeps slashes, rejects a leading slash, ".." and control characters', () => {
    accepts(rel, 'posix', {
      'webapp1.json': 'webapp1.json',
      './sub//webapp1.json': 'sub/webapp1.json',
      'a\\b.json': 'a\\b.json',
      'con': 'con',
    });
    rejects(rel, 'posix', 'NotRelative', ['/etc/shadow', '/', '//x']);
    rejects(rel, 'posix', 'ParentSegment', ['../x', 'a/../a', 'x/..']);
    rejects(rel, 'posix', 'InvalidCharacter', ['a\0b', 'a\nb']);
  });
});

describe('isWithin and relativeWithin', () => {
  it('win32: containment is per segment, not per character', () => {
    const root = 'C:\\ProgramData\\docker\\CredentialSpecs';
    assert.equal(isWithin(root, 'C:\\ProgramData\\docker\\CredentialSpecs\\x.json', 'win32'), true);
    assert.equal(isWithin(root, root, 'win32'), true);
    assert.equal(isWithin(root, 'C:\\ProgramData\\docker\\CredentialSpecs2\\x.json', 'win32'), false);
    assert.equal(isWithin(root, 'C:\\ProgramData\\docker\\CredentialSpecs2', 'win32'), false);
    assert.equal(isWithin(root, 'C:\\ProgramData\\docker', 'win32'), false);
    assert.equal(isWithin(root, 'D:\\ProgramData\\docker\\CredentialSpecs\\x.json', 'win32'), false);
  });

  it('win32: containment ignores case', () => {
    const root = 'C:\\ProgramData\\docker\\CredentialSpecs';
    assert.equal(isWithin(root, 'C:\\PROGRAMDATA\\Docker\\credentialspecs\\X.json', 'win32'), true);
    assert.equal(isWithin('C:\\Café', 'C:\\CAFÉ\\x', 'win32'), true);
    assert.equal(relativeWithin(root, 'C:\\programdata\\DOCKER\\CredentialSpecs\\Sub\\X.json', 'win32'), 'Sub/X.json');
  });

  it('win32: case folding is one character to one, as NTFS compares names', () => {
    assert.equal(isWithin('C:\\Straße', 'C:\\STRASSE\\x', 'win32'), false);
    assert.equal(isWithin('C:\\Straße', 'C:\\Straße\\x', 'win32'), true);
  });

  it('win32: a drive root contains everything on its drive', () => {
    assert.equal(isWithin('C:\\', 'C:\\x\\y', 'win32'), true);
    assert.equal(isWithin('C:\\', 'c:\\x', 'win32'), true);
    assert.equal(isWithin('C:\\', 'D:\\x', 'win32'), false);
    assert.equal(relativeWithin('C:\\', 'C:\\x\\y', 'win32'), 'x/y');
    assert.equal(relativeWithin('C:\\', 'C:\\', 'win32'), '');
  });

  it('posix: containment is per segment and case-sensitive', () => {
    assert.equal(isWithin('/srv/logs', '/srv/logs/a', 'posix'), true);
    assert.equal(isWithin('/srv/logs', '/srv/logs', 'posix'), true);
    assert.equal(isWithin('/srv/logs', '/srv/logs2/a', 'posix'), false);
    assert.equal(isWithin('/srv/logs', '/srv/logs2', 'posix'), false);
    assert.equal(isWithin('/srv/logs', '/srv', 'posix'), false);
    assert.equal(isWithin('/srv/logs', '/srv/Logs/a', 'posix'), false);
    assert.equal(isWithin('/srv/logs', '/SRV/LOGS/a', 'posix'), false);
    assert.equal(isWithin('/', '/anything/at/all', 'posix'), true);
  });

  it('relativeWithin returns "/"-separated paths, "" for the root itself, and throws outside', () => {
    assert.equal(relativeWithin('/srv/logs', '/srv/logs/a/b.log', 'posix'), 'a/b.log');
    assert.equal(relativeWithin('/srv/logs', '/srv/logs', 'posix'), '');
    assert.equal(relativeWithin('/', '/srv', 'posix'), 'srv');
    assert.equal(relativeWithin('C:\\ProgramData\\docker\\CredentialSpecs', 'C:\\ProgramData\\docker\\CredentialSpecs\\a\\b.json', 'win32'), 'a/b.json');
    assert.equal(relativeWithin('C:\\ProgramData\\docker\\CredentialSpecs', 'C:\\ProgramData\\docker\\CredentialSpecs', 'win32'), '');
    assert.throws(() => relativeWithin('/srv/logs', '/srv/logs2/a', 'posix'), RangeError);
    assert.throws(() => relativeWithin('/srv/logs', '/srv/Logs/a', 'posix'), RangeError);
    assert.throws(() => relativeWithin('C:\\ProgramData\\docker\\CredentialSpecs', 'C:\\ProgramData\\docker\\CredentialSpecs2\\x.json', 'win32'), RangeError);
  });
});

describe('normalizeHostPath', () => {
  it('win32: strips the \\\\?\\ prefix of drive paths', () => {
    accepts(normalizeHostPath, 'win32', {
      '\\\\?\\C:\\X': 'C:\\X',
      '\\\\?\\c:\\ProgramData\\docker\\CredentialSpecs\\': 'C:\\ProgramData\\docker\\CredentialSpecs',
      '\\\\?\\C:\\': 'C:\\',
      'C:\\ProgramData\\Docker': 'C:\\ProgramData\\Docker',
      'c:/x//y/': 'C:\\x\\y',
    });
  });

  it('win32: trusts names the OS reports that callers may not send', () => {
    accepts(normalizeHostPath, 'win32', {
      '\\\\?\\C:\\x\\PROGRA~1': 'C:\\x\\PROGRA~1',
      'C:\\x\\name.': 'C:\\x\\name.',
      'C:\\x\\con.txt': 'C:\\x\\con.txt',
    });
  });

  it('win32: rejects shares, other device paths and non-drive paths', () => {
    rejects(normalizeHostPath, 'win32', 'UncPath', ['\\\\?\\UNC\\s\\x', '\\\\?\\unc\\s\\x', '\\\\server\\share\\x']);
    rejects(normalizeHostPath, 'win32', 'DevicePath', ['\\\\?\\Volume{b75e2c83-0000-0000-0000-602f00000000}\\x', '\\\\.\\pipe\\x', '\\??\\C:\\x', '\\\\?\\C:']);
    rejects(normalizeHostPath, 'win32', 'NotAbsolute', ['\\x', 'x']);
    rejects(normalizeHostPath, 'win32', 'DriveRelative', ['C:x']);
    rejects(normalizeHostPath, 'win32', 'ParentSegment', ['\\\\?\\C:\\x\\..\\y', 'C:\\..']);
    rejects(normalizeHostPath, 'win32', 'Empty', ['']);
    rejects(normalizeHostPath, 'win32', 'InvalidCharacter', ['C:\\a\0b']);
  });

  it('posix: same form as normalizeAbsolutePath, names with control characters allowed, NUL not', () => {
    accepts(normalizeHostPath, 'posix', {
      '/srv//logs/': '/srv/logs',
      '/': '/',
      '/srv/a\nb': '/srv/a\nb',
    });
    rejects(normalizeHostPath, 'posix', 'NotAbsolute', ['srv/logs']);
    rejects(normalizeHostPath, 'posix', 'ParentSegment', ['/srv/../etc']);
    rejects(normalizeHostPath, 'posix', 'InvalidCharacter', ['/srv/a\0b']);
    rejects(normalizeHostPath, 'posix', 'Empty', ['']);
  });

  it('produces paths that compare with caller paths', () => {
    const root = normalizeHostPath('\\\\?\\C:\\ProgramData\\docker\\CredentialSpecs', 'win32');
    assert.equal(isWithin(root, normalizeAbsolutePath('c:/programdata/docker/credentialspecs/webapp1.json', 'win32'), 'win32'), true);
    assert.equal(isWithin(root, normalizeAbsolutePath('C:\\ProgramData\\docker\\CredentialSpecs2\\x.json', 'win32'), 'win32'), false);
  });
});
