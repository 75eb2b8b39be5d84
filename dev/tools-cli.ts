/** `npm run tools`: resolves (building or downloading once, into the tool cache) every pinned tool. */
import { ensurePostgresBinDir, ensureStripeMock, ensureTemporalCli, ensureTimeSkippingServer, toolCacheDir } from './tools.js';

console.log(`tool cache: ${toolCacheDir()}`);
console.log(`temporal CLI:          ${await ensureTemporalCli()}`);
console.log(`time-skipping server:  ${await ensureTimeSkippingServer()}`);
console.log(`stripe-mock:           ${await ensureStripeMock()}`);
console.log(`postgres binaries:     ${await ensurePostgresBinDir()}`);
