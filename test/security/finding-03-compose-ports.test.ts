import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * Issue 16, finding 3: docker-compose.yml published Temporal (7233) and its UI (8080) on every interface,
 * with no authentication: whoever reached them controlled every billing workflow. Every published port
 * of a service other than the API is bound to 127.0.0.1 (the API is the product, it has its own auth).
 */
describe('finding 3: docker compose publishes internal services on loopback only', () => {
  const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
  /** service name → its published port specs (`ports: [...]` lines, the form the file uses). */
  const published = new Map<string, string[]>();
  let service = '';
  for (const line of compose.split('\n')) {
    const name = /^ {2}([a-z0-9_-]+):\s*$/.exec(line)?.[1];
    if (name) service = name;
    const ports = /^\s+ports:\s*\[(.*)\]/.exec(line)?.[1];
    if (ports && service) published.set(service, ports.split(',').map((p) => p.trim().replace(/^"|"$/g, '')).filter(Boolean));
  }

  it('binds Temporal gRPC and the Temporal UI to 127.0.0.1', () => {
    expect(published.get('temporal')).toEqual(['127.0.0.1:7233:7233']);
    expect(published.get('temporal-ui')).toEqual(['127.0.0.1:8080:8080']);
  });

  it('publishes nothing but the API on other interfaces (Postgres and metrics stay inside or on loopback)', () => {
    for (const [name, ports] of published) {
      if (name === 'api') continue;
      for (const port of ports) expect(`${name} ${port}`).toMatch(/^\S+ 127\.0\.0\.1:/);
    }
    expect(published.has('postgres') ? published.get('postgres')!.every((p) => p.startsWith('127.0.0.1:')) : true).toBe(true);
  });
});
