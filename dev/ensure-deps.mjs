// Runs before `npm start` and `npm test` (plain JS, no dependencies): installs the npm packages when
// node_modules is missing or older than package-lock.json, so a fresh clone needs no separate step.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const installed = 'node_modules/.package-lock.json';
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync('package-lock.json').mtimeMs) {
  console.log('[deps] installing npm packages (npm ci)…');
  const startedAt = Date.now();
  // --prefer-offline: packages already in npm's cache are taken from it without asking the registry whether
  // they changed (the lock file pins each one's integrity hash anyway); the others are downloaded.
  execSync('npm ci --no-audit --no-fund --prefer-offline', { stdio: 'inherit' });
  // npm run first-start-check reads this line.
  console.log(`[deps] phase npm-ci done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}
