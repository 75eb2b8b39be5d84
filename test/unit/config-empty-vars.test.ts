import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.js';

// docker-compose.yml passes optional settings through as `${NAME:-}`, i.e. '' when unset in the shell: an empty
// variable must mean "unset", not a malformed value that stops the API from starting.
describe('configuration from docker compose', () => {
  it('treats empty variables as unset', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://x@localhost/db', NODE_ENV: 'production', PAYMENTS: 'sandbox',
      STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '', SANDBOX_WEBHOOK_SECRET: '', METRICS_TOKEN: '',
    });
    expect(config.PAYMENTS).toBe('sandbox');
    expect(config.STRIPE_SECRET_KEY).toBeUndefined();
    expect(config.METRICS_TOKEN).toBeUndefined();
  });

  it('still refuses production without a Stripe key when PAYMENTS is empty', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', NODE_ENV: 'production', PAYMENTS: '', STRIPE_SECRET_KEY: '' }))
      .toThrow(/PAYMENTS=sandbox/);
  });
});
