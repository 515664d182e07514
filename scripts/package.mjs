#!/usr/bin/env node
// Packages and installs WinsHost. One definition for `npm run package` / `./build.ps1 -Task Package` and
// `npm run install:local` / `./build.ps1 -Task Install`:
//   node scripts/package.mjs [--out DIR] [--platform linux-x64 ...]
//       one zip per platform, winshost-<version>-<platform>.zip (broker bundle, session host, koffi with that
//       platform's native binary, the modules, a launcher), and one <Module>.<version>.nupkg per module, into
//       dist/packages unless --out says otherwise.
//   node scripts/package.mjs install [--package ZIP | --out DIR] [--broker-dir DIR] [--module-path DIR]
//       [--scope CurrentUser|AllUsers] [--service] [--service-arg ARG ...]
//       the broker into a directory (default /opt/winshost, %ProgramFiles%\WinsHost) and the modules into a
//       module path; --service then runs `winshost-broker install-service` from the installed copy.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { brokerBundle, distDir, ensureBuild, moduleNames, moduleVersionOf, packageVersion, repoRoot, sessionHostAssembly, sessionHostOutput, SetupError, stagedModulesDir, toolsDir } from './setup.mjs';

/** Platforms koffi ships a prebuilt binary for that the broker supports (64-bit Windows and Linux). */
export const supportedPlatforms = ['linux-x64', 'linux-arm64', 'win32-x64', 'win32-arm64'];
export const hostPlatform = `${process.platform}-${process.arch}`;
export const defaultPackagesDir = join(distDir, 'packages');
const koffiCacheDir = join(toolsDir, 'koffi');

class PackageError extends SetupError {}

function say(text) {
  console.log(`package: ${text}`);
}

// ---------------------------------------------------------------------------------------------- zip

const crcTable = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

// zlib.crc32 exists only from Node 20.15; package.json allows any Node 20.
function crc32(data) {
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function dosDateTime(date) {
  const year = Math.max(date.getFullYear(), 1980);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/**
 * Writes a zip of `entries` ({ name, data, mode }). Names use forward slashes whatever the host (Windows
 * tools read backslashes as part of the file name on Linux); the Unix mode travels in the external
 * attributes so the launcher stays executable. Deflated unless storing is smaller.
 */
export function writeZip(path, entries) {
  if (entries.length > 0xfffe) throw new PackageError(`${path}: ${entries.length} entries need zip64, which this writer does not produce`);
  const stamp = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000) : new Date();
  const { time, date } = dosDateTime(stamp);
  const seen = new Set();
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const entry of entries) {
    if (entry.name.includes('\\') || entry.name.startsWith('/') || entry.name.split('/').includes('..')) {
      throw new PackageError(`zip entry name '${entry.name}' must be relative with forward slashes`);
    }
    if (seen.has(entry.name)) throw new PackageError(`zip entry '${entry.name}' is added twice`);
    seen.add(entry.name);
    const name = Buffer.from(entry.name, 'utf8');
    const deflated = deflateRawSync(entry.data, { level: 9 });
    const stored = deflated.length >= entry.data.length;
    const body = stored ? entry.data : deflated;
    const crc = crc32(entry.data);
    if (body.length > 0xfffffffe || offset > 0xfffffffe) throw new PackageError(`${path}: too large for a zip without zip64`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(stored ? 0 : 8, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so readers honour the mode below
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(stored ? 0 : 8, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((((entry.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const centralSize = centrals.reduce((sum, part) => sum + part.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  mkdirSync(dirname(path), { recursive: true });
  // Written beside and renamed, so a reader never sees half a package.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([...locals, ...centrals, end]));
  renameSync(temporary, path);
}

/** Reads a zip (no zip64, no encryption) into a Map of name → { data, mode }, checking every CRC. */
export function readZip(path) {
  const zip = readFileSync(path);
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new PackageError(`${path} is not a zip file (no end of central directory)`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new PackageError(`${path}: central directory entry ${i} is damaged`);
    const madeBy = zip.readUInt16LE(at + 4) >> 8;
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const external = zip.readUInt32LE(at + 38);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith('/')) continue;
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const body = zip.subarray(dataStart, dataStart + compressedSize);
    let data;
    if (method === 0) data = Buffer.from(body);
    else if (method === 8) data = inflateRawSync(body);
    else throw new PackageError(`${path}: '${name}' uses compression method ${method}`);
    if (crc32(data) !== crc) throw new PackageError(`${path}: '${name}' fails its CRC check`);
    const mode = madeBy === 3 ? (external >>> 16) & 0o7777 : undefined;
    entries.set(name, { data, mode });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------- koffi

/** The files of an npm tarball (.tgz), by path inside its `package/` folder. */
function readNpmTarball(path) {
  const tar = gunzipSync(readFileSync(path));
  const files = new Map();
  let longName;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((byte) => byte === 0)) break;
    const text = (from, length) => header.toString('utf8', from, from + length).replace(/\0.*$/s, '');
    const size = parseInt(text(124, 12).trim() || '0', 8);
    const type = text(156, 1) || '0';
    const prefix = text(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100));
    longName = undefined;
    const data = tar.subarray(at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (path) longName = path[1];
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type !== '0' && type !== '\0') continue;
    if (!name.startsWith('package/')) continue;
    name = name.slice('package/'.length);
    files.set(name, Buffer.from(data));
  }
  return files;
}

function lockfilePackages() {
  return JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')).packages ?? {};
}

/**
 * The platform package that holds koffi's native binary (`@koromix/koffi-<platform>`), as files. The
 * host's own comes from node_modules; others from npm (`npm pack`, cached in .tools/koffi), accepted only
 * when the tarball matches the integrity package-lock.json recorded for it.
 */
function koffiPlatformFiles(platform) {
  const koffiVersion = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'koffi', 'package.json'), 'utf8')).version;
  const name = `@koromix/koffi-${platform}`;
  const locked = lockfilePackages()[`node_modules/${name}`];
  if (!locked) throw new PackageError(`koffi ${koffiVersion} ships no native binary for ${platform} (package-lock.json has no ${name})`);
  if (locked.version !== koffiVersion) throw new PackageError(`package-lock.json pins ${name} ${locked.version} but koffi is ${koffiVersion}; run npm ci`);

  const installed = join(repoRoot, 'node_modules', ...name.split('/'));
  let files;
  if (existsSync(join(installed, 'package.json')) && JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version === koffiVersion) {
    files = new Map(listTree(installed).map((file) => [relative(installed, file).split(sep).join('/'), readFileSync(file)]));
  } else {
    const tarball = join(koffiCacheDir, `koromix-koffi-${platform}-${koffiVersion}.tgz`);
    if (!existsSync(tarball)) {
      say(`fetching ${name}@${koffiVersion} from the npm registry (npm pack) into .tools/koffi`);
      mkdirSync(koffiCacheDir, { recursive: true });
      const result = spawnSync('npm', ['pack', `${name}@${koffiVersion}`, '--pack-destination', koffiCacheDir, '--silent'], {
        cwd: koffiCacheDir,
        encoding: 'utf8',
        shell: process.platform === 'win32',
      });
      if (result.error || result.status !== 0) {
        throw new PackageError(`npm pack ${name}@${koffiVersion} failed (${result.error?.message ?? `exit ${result.status}`}):\n${`${result.stdout ?? ''}${result.stderr ?? ''}`.trim()}`);
      }
    }
    const [algorithm, expected] = locked.integrity.split('-', 2);
    const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
    if (actual !== expected) {
      rmSync(tarball, { force: true });
      throw new PackageError(`${tarball} does not match the integrity package-lock.json records for ${name}@${koffiVersion}; removed it`);
    }
    files = readNpmTarball(tarball);
  }
  // Import libraries and the README are for building against koffi, not for loading it.
  const shipped = [...files].filter(([path]) => path === 'package.json' || path === 'index.js' || path.endsWith('.node'));
  if (!shipped.some(([path]) => path.endsWith('.node'))) throw new PackageError(`${name}@${koffiVersion} holds no koffi.node`);
  return shipped.map(([path, data]) => ({ name: `node_modules/${name}/${path}`, data }));
}

/** koffi's JavaScript loader (ESM for the bundle, CommonJS for the console-interrupt helper that requires it). */
function koffiLoaderFiles() {
  const root = join(repoRoot, 'node_modules', 'koffi');
  const keep = (path) =>
    path === 'package.json' ||
    path === 'LICENSE.txt' ||
    (/\.(c?js)$/.test(path) && path !== 'cnoke.cjs' && !/^(doc|vendor|lib)\//.test(path));
  return listTree(root)
    .map((file) => relative(root, file).split(sep).join('/'))
    .filter(keep)
    .map((path) => ({ name: `node_modules/koffi/${path}`, data: readFileSync(join(root, path)) }));
}

// ---------------------------------------------------------------------------------------------- broker zip

function listTree(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTree(full));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

function treeEntries(dir, prefix) {
  return listTree(dir).map((file) => ({ name: `${prefix}/${relative(dir, file).split(sep).join('/')}`, data: readFileSync(file) }));
}

/** The packages esbuild inlined into the bundle (from tsup's metafile), plus koffi, with their licences. */
function thirdPartyNotices() {
  const metafile = JSON.parse(readFileSync(join(distDir, 'metafile-esm.json'), 'utf8'));
  const names = new Set(['koffi']);
  for (const input of Object.keys(metafile.inputs)) {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) names.add(match[1]);
  }
  const sections = [];
  for (const name of [...names].sort()) {
    const dir = join(repoRoot, 'node_modules', ...name.split('/'));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const licenceFile = readdirSync(dir).find((file) => /^licen[cs]e(\.|$)/i.test(file));
    if (!licenceFile) throw new PackageError(`${name} has no LICENSE file to put in THIRD-PARTY-NOTICES.txt`);
    sections.push(`${name} ${manifest.version} (${manifest.license})\n\n${readFileSync(join(dir, licenceFile), 'utf8').trim()}\n`);
  }
  return `WinsHost includes the following packages.\n\n${sections.join(`\n${'-'.repeat(78)}\n\n`)}`;
}

const linuxLauncher = `#!/bin/sh
# winshost-broker: the WinsHost host broker (node dist/broker/cli.js).
here=$(dirname "$(readlink -f "$0")")
exec node "$here/dist/broker/cli.js" "$@"
`;

const windowsLauncher = `@echo off\r\nrem winshost-broker: the WinsHost host broker (node dist\\broker\\cli.js).\r\nnode "%~dp0dist\\broker\\cli.js" %*\r\n`;

/**
 * The files of the zip for one platform, under a top folder named like the zip. The layout mirrors the
 * repository (package.json two folders above dist/broker/cli.js, which reads its version from there and
 * needs its "type": "module"; koffi under node_modules where its loader looks).
 */
function brokerPackageEntries(platform, version) {
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const manifest = {
    name: root.name,
    version,
    description: root.description,
    license: root.license,
    type: 'module',
    private: true,
    engines: root.engines,
    bin: { 'winshost-broker': 'dist/broker/cli.js' },
  };
  const windows = platform.startsWith('win32-');
  const entries = [
    { name: 'package.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { name: 'dist/broker/cli.js', data: readFileSync(brokerBundle), mode: 0o755 },
    ...koffiLoaderFiles(),
    ...koffiPlatformFiles(platform),
    windows ? { name: 'winshost-broker.cmd', data: Buffer.from(windowsLauncher) } : { name: 'winshost-broker', data: Buffer.from(linuxLauncher), mode: 0o755 },
    { name: 'README.md', data: readFileSync(join(repoRoot, 'README.md')) },
    { name: 'LICENSE', data: readFileSync(join(repoRoot, 'LICENSE')) },
    { name: 'THIRD-PARTY-NOTICES.txt', data: Buffer.from(thirdPartyNotices()) },
  ];
  if (existsSync(sessionHostOutput)) entries.push({ name: 'dist/broker/session-host.ps1', data: readFileSync(sessionHostOutput) });
  if (existsSync(sessionHostAssembly)) entries.push({ name: 'dist/broker/WinsHost.SessionHost.dll', data: readFileSync(sessionHostAssembly) });
  for (const name of moduleNames) {
    const staged = join(stagedModulesDir, name);
    if (existsSync(staged)) entries.push(...treeEntries(staged, `modules/${name}`));
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------- nupkg

/** A value of a module manifest we write ourselves: 'single-quoted' strings and @( ... ) lists of them. */
function manifestValue(text, key) {
  const single = new RegExp(`^\\s*${key}\\s*=\\s*'((?:[^']|'')*)'`, 'm').exec(text);
  if (single) return single[1].replace(/''/g, "'");
  const list = new RegExp(`^\\s*${key}\\s*=\\s*@\\(([^)]*)\\)`, 'm').exec(text);
  if (list) return [...list[1].matchAll(/'((?:[^']|'')*)'/g)].map((match) => match[1].replace(/''/g, "'"));
  return undefined;
}

/** RequiredModules as NuGet dependencies: 'Name', or @{ ModuleName = ...; ModuleVersion | RequiredVersion = ... }. */
function manifestDependencies(text) {
  const block = /^\s*RequiredModules\s*=\s*@\(([\s\S]*?)\)\s*$/m.exec(text);
  if (!block) return [];
  const dependencies = [];
  const tables = [...block[1].matchAll(/@\{([^}]*)\}/g)];
  for (const table of tables) {
    const field = (name) => new RegExp(`${name}\\s*=\\s*'([^']*)'`, 'i').exec(table[1])?.[1];
    const id = field('ModuleName');
    if (!id) throw new PackageError(`RequiredModules entry '@{${table[1].trim()}}' has no ModuleName`);
    const required = field('RequiredVersion');
    dependencies.push({ id, version: required ? `[${required}]` : field('ModuleVersion') });
  }
  const bare = block[1].replace(/@\{[^}]*\}/g, '');
  for (const match of bare.matchAll(/'([^']+)'/g)) dependencies.push({ id: match[1], version: undefined });
  return dependencies;
}

function xml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A NuGet package of one staged module, the way Publish-Module makes them: the module's files at the root,
 * a .nuspec whose tags say PSModule (and PSFunction_/PSCommand_ per export, which Find-PSResource
 * -CommandName searches), and the OPC parts ([Content_Types].xml, _rels/.rels, core properties).
 */
export function moduleNupkgEntries(name, stagedDir, license) {
  const manifestText = readFileSync(join(stagedDir, `${name}.psd1`), 'utf8');
  const field = (key) => {
    const value = manifestValue(manifestText, key);
    return Array.isArray(value) ? undefined : value;
  };
  const list = (key) => {
    const value = manifestValue(manifestText, key);
    return Array.isArray(value) ? value : value === undefined ? [] : [value];
  };
  const moduleVersion = field('ModuleVersion');
  const prerelease = field('Prerelease');
  const description = field('Description');
  const author = field('Author');
  if (!moduleVersion || !description || !author) throw new PackageError(`${name}.psd1 needs ModuleVersion, Description and Author for a NuGet package`);
  const version = prerelease ? `${moduleVersion}-${prerelease}` : moduleVersion;
  const functions = list('FunctionsToExport').filter((fn) => fn !== '*');
  const cmdlets = list('CmdletsToExport').filter((fn) => fn !== '*');
  const tags = ['PSModule', ...list('Tags')];
  for (const fn of functions) tags.push(`PSFunction_${fn}`, `PSCommand_${fn}`);
  for (const cmdlet of cmdlets) tags.push(`PSCmdlet_${cmdlet}`, `PSCommand_${cmdlet}`);
  if (functions.length > 0) tags.push('PSIncludes_Function');
  if (cmdlets.length > 0) tags.push('PSIncludes_Cmdlet');
  const dependencies = manifestDependencies(manifestText);
  const optional = (tag, value) => (value ? `\n    <${tag}>${xml(value)}</${tag}>` : '');
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2011/08/nuspec.xsd">
  <metadata>
    <id>${xml(name)}</id>
    <version>${xml(version)}</version>
    <authors>${xml(author)}</authors>
    <owners>${xml(field('CompanyName') ?? author)}</owners>
    <requireLicenseAcceptance>false</requireLicenseAcceptance>
    <license type="expression">${xml(license)}</license>
    <description>${xml(description)}</description>${optional('releaseNotes', field('ReleaseNotes'))}${optional('copyright', field('Copyright'))}${optional('projectUrl', field('ProjectUri'))}
    <tags>${xml([...new Set(tags)].join(' '))}</tags>${
      dependencies.length === 0
        ? ''
        : `\n    <dependencies>\n${dependencies.map((dependency) => `      <dependency id="${xml(dependency.id)}"${dependency.version ? ` version="${xml(dependency.version)}"` : ''} />`).join('\n')}\n    </dependencies>`
    }
  </metadata>
</package>
`;
  const files = treeEntries(stagedDir, '.').map((entry) => ({ ...entry, name: entry.name.slice(2) }));
  const corePropertiesName = `package/services/metadata/core-properties/${randomBytes(16).toString('hex')}.psmdcp`;
  const coreProperties = `<?xml version="1.0" encoding="utf-8"?>
<coreProperties xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties">
  <dc:creator>${xml(author)}</dc:creator>
  <dc:description>${xml(description)}</dc:description>
  <dc:identifier>${xml(name)}</dc:identifier>
  <version>${xml(version)}</version>
  <keywords>${xml([...new Set(tags)].join(' '))}</keywords>
  <lastModifiedBy>WinsHost scripts/package.mjs</lastModifiedBy>
</coreProperties>
`;
  const rels = `<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/${xml(name)}.nuspec" Id="R${createHash('sha256').update(`${name}nuspec`).digest('hex').slice(0, 16).toUpperCase()}" />
  <Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/${corePropertiesName}" Id="R${createHash('sha256').update(`${name}psmdcp`).digest('hex').slice(0, 16).toUpperCase()}" />
</Relationships>
`;
  const extensions = new Set(files.map((file) => /\.([^./]+)$/.exec(file.name)?.[1].toLowerCase()).filter(Boolean));
  extensions.delete('rels');
  extensions.delete('psmdcp');
  extensions.delete('nuspec');
  const contentTypes = `<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="psmdcp" ContentType="application/vnd.openxmlformats-package.core-properties+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
${[...extensions].sort().map((extension) => `  <Default Extension="${xml(extension)}" ContentType="application/octet" />`).join('\n')}
</Types>
`;
  for (const file of files) {
    if (!/\.[^./]+$/.test(file.name)) throw new PackageError(`${name}/${file.name} has no extension, which [Content_Types].xml cannot describe by default`);
  }
  return {
    version,
    entries: [
      { name: '_rels/.rels', data: Buffer.from(rels) },
      { name: `${name}.nuspec`, data: Buffer.from(nuspec) },
      { name: corePropertiesName, data: Buffer.from(coreProperties) },
      ...files,
      { name: '[Content_Types].xml', data: Buffer.from(contentTypes) },
    ],
  };
}

// ---------------------------------------------------------------------------------------------- package

/** Builds what is out of date, then writes the zips and the .nupkg files; returns their paths. */
export function createPackages({ outDir = defaultPackagesDir, platforms = supportedPlatforms } = {}) {
  for (const platform of platforms) {
    if (!supportedPlatforms.includes(platform)) throw new PackageError(`unknown platform '${platform}'; choose from ${supportedPlatforms.join(', ')}`);
  }
  ensureBuild();
  if (!existsSync(join(repoRoot, 'LICENSE'))) throw new PackageError('LICENSE is missing at the repository root');
  const version = packageVersion();
  moduleVersionOf(version);
  const outputs = [];
  for (const platform of platforms) {
    const folder = `winshost-${version}-${platform}`;
    const entries = brokerPackageEntries(platform, version).map((entry) => ({ ...entry, name: `${folder}/${entry.name}` }));
    const path = join(outDir, `${folder}.zip`);
    writeZip(path, entries);
    outputs.push(path);
    say(`${path} (${(statSync(path).size / 1024 / 1024).toFixed(1)} MiB, ${entries.length} files)`);
  }
  const license = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).license;
  for (const name of moduleNames) {
    const staged = join(stagedModulesDir, name);
    if (!existsSync(staged)) continue;
    const { version: nugetVersion, entries } = moduleNupkgEntries(name, staged, license);
    // NuGet's own naming, <Id>.<Version>.nupkg: PSResourceGet finds packages in a folder repository by it.
    const path = join(outDir, `${name}.${nugetVersion}.nupkg`);
    writeZip(path, entries);
    outputs.push(path);
    say(`${path} (${name} ${nugetVersion})`);
  }
  return outputs;
}

// ---------------------------------------------------------------------------------------------- install

export function defaultBrokerDir(platform = process.platform) {
  return platform === 'win32' ? join(process.env.ProgramFiles ?? 'C:\\Program Files', 'WinsHost') : '/opt/winshost';
}

/** Where a module is found without a path: PowerShell's own per-user and all-users folders. */
export function defaultModulePath(scope, platform = process.platform) {
  if (platform === 'win32') {
    // Windows PowerShell's all-users folder is on PowerShell 7's PSModulePath too; per user, PowerShell 7's.
    if (scope === 'AllUsers') return join(process.env.ProgramFiles ?? 'C:\\Program Files', 'WindowsPowerShell', 'Modules');
    return join(process.env.USERPROFILE ?? homedir(), 'Documents', 'PowerShell', 'Modules');
  }
  if (scope === 'AllUsers') return '/usr/local/share/powershell/Modules';
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'powershell', 'Modules');
}

const installRecord = '.winshost-install.json';

function writeTree(targetDir, files) {
  for (const [path, { data, mode }] of files) {
    const destination = join(targetDir, ...path.split('/'));
    mkdirSync(dirname(destination), { recursive: true });
    try {
      writeFileSync(destination, data);
    } catch (error) {
      if (error.code === 'EBUSY' || error.code === 'EPERM') {
        throw new PackageError(`cannot replace ${destination} (${error.code}): stop the running broker first (Windows: sc.exe stop WinsHostBroker; Linux: systemctl stop winshost-broker)`);
      }
      throw error;
    }
    if (process.platform !== 'win32' && mode !== undefined) chmodSync(destination, mode);
  }
}

/**
 * Installs the broker from a platform zip into brokerDir and each module into modulePath/<Name>/<version>.
 * A broker directory is only written when it is new, empty, or holds an earlier install (its record lists
 * the files it may replace or remove, so a policy file kept there survives an upgrade).
 */
export function installPackage({ packagePath, outDir, brokerDir = defaultBrokerDir(), modulePath, scope = 'CurrentUser', service = false, serviceArgs = [] } = {}) {
  if (scope !== 'CurrentUser' && scope !== 'AllUsers') throw new PackageError(`--scope must be CurrentUser or AllUsers, not '${scope}'`);
  if (!packagePath) {
    if (!supportedPlatforms.includes(hostPlatform)) throw new PackageError(`there is no package for this machine (${hostPlatform})`);
    [packagePath] = createPackages({ outDir, platforms: [hostPlatform] });
  }
  if (!existsSync(packagePath)) throw new PackageError(`package ${packagePath} does not exist; run ./build.ps1 -Task Package (or npm run package) first`);
  const entries = readZip(packagePath);
  const top = /^(winshost-[^/]+)\//.exec([...entries.keys()][0] ?? '')?.[1];
  if (!top || ![...entries.keys()].every((name) => name.startsWith(`${top}/`))) throw new PackageError(`${packagePath} is not a WinsHost broker package (no single winshost-<version>-<platform>/ folder)`);
  const files = new Map([...entries].map(([name, entry]) => [name.slice(top.length + 1), entry]));
  if (!files.has('dist/broker/cli.js')) throw new PackageError(`${packagePath} holds no dist/broker/cli.js`);
  const packagePlatform = /-((?:linux|win32)-[a-z0-9]+)$/.exec(top)?.[1];
  if (packagePlatform && packagePlatform !== hostPlatform) say(`note: installing the ${packagePlatform} package on ${hostPlatform}`);

  const brokerFiles = new Map([...files].filter(([name]) => !name.startsWith('modules/')));
  brokerDir = resolve(brokerDir);
  const recordPath = join(brokerDir, installRecord);
  if (existsSync(brokerDir) && readdirSync(brokerDir).length > 0) {
    if (!existsSync(recordPath)) throw new PackageError(`${brokerDir} is not empty and holds no earlier WinsHost install (${installRecord}); choose another --broker-dir or empty it`);
    const previous = JSON.parse(readFileSync(recordPath, 'utf8')).files ?? [];
    for (const name of previous) {
      if (!brokerFiles.has(name) && !name.split('/').includes('..')) rmSync(join(brokerDir, ...name.split('/')), { force: true });
    }
  }
  writeTree(brokerDir, brokerFiles);
  writeFileSync(recordPath, `${JSON.stringify({ package: top, files: [...brokerFiles.keys()].sort() }, null, 2)}\n`);
  say(`broker ${top} installed in ${brokerDir}`);

  const modulesRoot = resolve(modulePath ?? defaultModulePath(scope));
  const installedModules = [];
  const moduleFolders = new Set([...files.keys()].filter((name) => name.startsWith('modules/')).map((name) => name.split('/')[1]));
  for (const name of moduleFolders) {
    const moduleFiles = new Map([...files].filter(([path]) => path.startsWith(`modules/${name}/`)).map(([path, entry]) => [path.slice(`modules/${name}/`.length), entry]));
    const manifest = moduleFiles.get(`${name}.psd1`);
    if (!manifest) throw new PackageError(`${packagePath}: modules/${name} has no ${name}.psd1`);
    const version = manifestValue(manifest.data.toString('utf8'), 'ModuleVersion');
    if (typeof version !== 'string') throw new PackageError(`${packagePath}: modules/${name}/${name}.psd1 has no ModuleVersion`);
    // Side by side by version, as Install-PSResource does, so Import-Module picks the newest.
    const target = join(modulesRoot, name, version);
    rmSync(target, { recursive: true, force: true });
    writeTree(target, moduleFiles);
    installedModules.push(target);
    say(`module ${name} ${version} installed in ${target}`);
  }

  if (service) {
    const cli = join(brokerDir, 'dist', 'broker', 'cli.js');
    say(`registering the service: winshost-broker install-service ${serviceArgs.join(' ')}`.trim());
    const result = spawnSync(process.execPath, [cli, 'install-service', ...serviceArgs], { stdio: 'inherit' });
    if (result.error || result.status !== 0) throw new PackageError(`winshost-broker install-service failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return { brokerDir, modules: installedModules };
}

// ---------------------------------------------------------------------------------------------- CLI

function main(argv) {
  if (argv[0] === 'install') {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: {
        package: { type: 'string' },
        out: { type: 'string' },
        'broker-dir': { type: 'string' },
        'module-path': { type: 'string' },
        scope: { type: 'string', default: 'CurrentUser' },
        service: { type: 'boolean', default: false },
        'service-arg': { type: 'string', multiple: true, default: [] },
      },
    });
    installPackage({
      packagePath: values.package,
      outDir: values.out ? resolve(values.out) : undefined,
      brokerDir: values['broker-dir'],
      modulePath: values['module-path'],
      scope: values.scope,
      service: values.service,
      serviceArgs: values['service-arg'],
    });
    return;
  }
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, platform: { type: 'string', multiple: true } },
  });
  const platforms = values.platform?.flatMap((value) => value.split(',')).filter(Boolean);
  createPackages({ outDir: values.out ? resolve(values.out) : undefined, platforms: platforms?.length ? platforms : undefined });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`package: ${error instanceof SetupError || error?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || error?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ? error.message : error.stack}`);
    process.exit(1);
  }
}
