import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PLANS } from '../../domain/catalog.js';
import { modelsTable, packsTable, plansTable } from '../helpers/readme-tables.js';

/**
 * The README's user-facing part says what the code does: its plan, pack and model tables are the ones built here
 * from domain/catalog.ts and domain/costs.ts, and its quick tour is examples/quick-tour.ts verbatim (the tour
 * itself runs in test/e2e/readme-quick-tour.test.ts).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

describe('README', () => {
  it('shows the plans, packs and models of domain/catalog.ts and domain/costs.ts', () => {
    // All discounted plans share one percentage (the packs table has one discounted column).
    expect(new Set(PLANS.filter((p) => p.packDiscountPercent > 0).map((p) => p.packDiscountPercent)).size).toBe(1);
    expect(readme).toContain(plansTable());
    expect(readme).toContain(packsTable());
    expect(readme).toContain(modelsTable());
  });

  it('prints examples/quick-tour.ts verbatim between its markers', () => {
    const block = /<!-- quick-tour:start -->\n```ts\n([\s\S]*?)```\n<!-- quick-tour:end -->/.exec(readme);
    expect(block, 'README.md has a ```ts block between <!-- quick-tour:start --> and <!-- quick-tour:end -->').not.toBeNull();
    expect(block![1]).toBe(readFileSync(`${root}examples/quick-tour.ts`, 'utf8'));
  });

  it('points at no file outside the repository (the specification and design notes are not in it)', () => {
    expect(readme.match(/\.\.\/shared|SPEC|DESIGN\.md|§\d/g)).toBeNull();
  });
});
