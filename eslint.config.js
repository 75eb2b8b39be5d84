import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process', 'stream', 'url', 'util', 'worker_threads', 'dns', 'tls'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'bench/results/**', 'eslint.config.js', 'dev/ensure-deps.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed: it must stay deterministic, so no Node built-ins and no I/O clients.
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: nodeBuiltins, message: 'Workflow and domain code must not use Node built-ins (determinism).' },
          { group: ['postgres', 'stripe', 'pg', 'node-pg-migrate', '**/ledger/*', '**/payments/*', '**/api/*', '**/activities/*'],
            allowTypeImports: true, message: 'Workflow and domain code must not do I/O: call an activity.' },
        ],
      }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Use sleep() or condition() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use a durable timer.' }, { name: 'fetch', message: 'I/O belongs in activities.' }],
    },
  },
);
