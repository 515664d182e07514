// docs/SECURITY.md promises a passing test on every row of its threat table. This holds the table to it:
// every row names at least one test file, every file exists, and every test it quotes is a test in that file.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(`${repo}docs/SECURITY.md`, 'utf8');
const rows = doc.split('\n').filter((line) => /^\| \d+ \|/.test(line));

/** Titles of the tests in a node:test or Pester file, as patterns: template parts match anything. */
function titlePatterns(file: string): RegExp[] {
  const text = readFileSync(`${repo}${file}`, 'utf8');
  const titles: string[] = [];
  // A call or a Pester command: `it('…'` or `It '…'`, not the word at the end of a string (`…taking it');`).
  const quoted = /\b(?:it|test|describe|It|Describe|Context)(?:\s*\(\s*|\s+)(?:'((?:[^'\\]|\\.|'')*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/g;
  for (const match of text.matchAll(quoted)) titles.push((match[1] ?? match[2] ?? match[3]).replace(/''/g, "'").replace(/\\(.)/g, '$1'));
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return titles.map((title) => new RegExp(`^${title.split(/\$\{[^}]*\}|<[A-Za-z]+>/).map(escape).join('.*')}$`, 's'));
}

/** The test files a row's last column names, each with the test titles quoted after it. */
function citations(testColumn: string): { file: string; names: string[] }[] {
  const out: { file: string; names: string[] }[] = [];
  const parts = testColumn.split(/`((?:test|bench)\/[^`\s]+)`/);
  for (let i = 1; i < parts.length; i += 2) {
    // Titles are quoted "…", with \" for a quote inside one.
    const names = [...parts[i + 1].matchAll(/"((?:[^"\\]|\\")+)"/g)].map((m) => m[1].replace(/\\"/g, '"'));
    out.push({ file: parts[i], names });
  }
  return out;
}

describe('docs/SECURITY.md threat table', () => {
  it('has rows', () => assert.ok(rows.length >= 60, `found ${rows.length} rows`));

  for (const row of rows) {
    const cells = row.split(' | ');
    const number = cells[0].replace('|', '').trim();
    const testColumn = cells[cells.length - 1];
    it(`row ${number} names tests that exist`, () => {
      assert.doesNotMatch(testColumn, /not tested yet/i, 'the row says it has no test');
      const cited = citations(testColumn);
      assert.ok(cited.length > 0, 'the row names no test file');
      for (const { file, names } of cited) {
        assert.ok(existsSync(`${repo}${file}`), `${file} does not exist`);
        const patterns = titlePatterns(file);
        // Scripts that are not test suites (the fuzzer, the load test) name their checks in their output.
        const text = readFileSync(`${repo}${file}`, 'utf8');
        const script = file.startsWith('test/load/') || file.startsWith('test/fuzz/');
        for (const name of names) {
          const found = script ? text.includes(name) : patterns.some((pattern) => pattern.test(name));
          assert.ok(found, `${file} has no test titled "${name}"`);
        }
      }
    });
  }
});
