import { PACKS, PLANS, packPriceCents, priceCents } from '../../domain/catalog.js';
import { COST_TABLE } from '../../domain/costs.js';

/** The README's tables of plans, packs and models, built from the domain's data (test/unit/readme.test.ts). */

const dollars = (cents: number) => `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;

/** The plans table of the README. */
export function plansTable(): string {
  return [
    '| plan | for | monthly | yearly | credits a month | custom models | support | pack discount |',
    '|---|---|---:|---:|---:|---:|---|---:|',
    ...PLANS.map((p) => `| \`${p.id}\` ${p.name} | ${p.audience} | ${dollars(priceCents(p, 'month'))} | ${dollars(priceCents(p, 'year'))} `
      + `| ${p.monthlyCredits.toLocaleString('en-US')} | ${p.customModelLimit} | ${p.support} | ${p.packDiscountPercent ? `${p.packDiscountPercent}%` : '–'} |`),
  ].join('\n');
}

/** The packs table of the README: list price, and the price with each distinct plan discount. */
export function packsTable(): string {
  const discounted = PLANS.filter((p) => p.packDiscountPercent > 0);
  const percent = discounted[0]!.packDiscountPercent;
  return [
    `| pack | price | on ${discounted.map((p) => p.name).join(', ')} (${percent}% off) |`,
    '|---|---:|---:|',
    ...PACKS.map((pack) => `| ${pack.credits} credits | ${dollars(pack.priceCents)} | ${dollars(packPriceCents(pack, discounted[0]))} |`),
  ].join('\n');
}

/** The models table of the README: what one creation costs. */
export function modelsTable(): string {
  return [
    '| model | kind | cost |',
    '|---|---|---|',
    ...Object.entries(COST_TABLE).map(([id, cost]) => (cost.kind === 'image'
      ? `| \`${id}\` | image | ${cost.creditsPerImage.standard} credits an image (\`standard\`), ${cost.creditsPerImage.high} (\`high\`) |`
      : `| \`${id}\` | video | ${cost.tenthsPerSecond / 10} credits a second, rounded up per video |`)),
  ].join('\n');
}
