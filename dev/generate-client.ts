/**
 * `npm run client:generate`: rewrites client/openapi.json and client/schema.d.ts from the API's routes
 * (no server, database or Temporal needed). `npm run client:check` (`--check`) writes nothing and exits 1
 * when a file differs from what would be generated.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GENERATE_COMMAND, generateClientFiles } from './client-generation.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const files = await generateClientFiles();
let stale = 0;
let written = 0;
for (const [path, contents] of Object.entries(files)) {
  const current = await readFile(root + path, 'utf8').catch(() => null);
  if (current === contents) continue;
  if (check) {
    stale += 1;
    console.error(`${path} is out of date: run \`${GENERATE_COMMAND}\``);
  } else {
    await writeFile(root + path, contents);
    written += 1;
    console.log(`wrote ${path}`);
  }
}
if (written === 0 && stale === 0) console.log('client/ is up to date');
process.exit(stale === 0 ? 0 : 1);
