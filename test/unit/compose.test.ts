import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS } from '../../runtime/config.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';

/**
 * docker-compose.yml checked offline (issue 14): no Docker engine runs here, so what can go wrong without
 * starting it is checked from the file, the Dockerfile, package.json, runtime/config.ts and .env.example.
 */
const ROOT = process.cwd();
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Healthcheck { test: string[] | string }
interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  restart?: string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | number)[];
  volumes?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }> | string[];
}
const composeText = read('docker-compose.yml');
// Compose reads YAML merge keys (`<<: *app`); so does this parse.
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const pkg = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string> };
const APP_SERVICES = ['migrate', 'worker', 'api'];

/** The `node -e fetch('http://127.0.0.1:<port><path>')` probe of a healthcheck, or null. */
function probedUrl(service: Service): URL | null {
  const test = service.healthcheck?.test;
  const line = Array.isArray(test) ? test.join(' ') : test ?? '';
  const url = /https?:\/\/[^'"\s)]+/.exec(line)?.[0];
  return url ? new URL(url) : null;
}

function dependencies(service: Service): Record<string, { condition: string }> {
  const dependsOn = service.depends_on ?? {};
  // The short list form waits for nothing but the container's start: not allowed here.
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((name) => [name, { condition: 'service_started' }]));
  return dependsOn;
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` references in the file (not `$$`, an escaped dollar). */
function interpolated(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!);
}

/** The npm script a service runs: `npm run <script>` in its command (the image's default is `npm run api`). */
function npmScript(service: Service): string | undefined {
  const command = Array.isArray(service.command) ? service.command.join(' ') : service.command ?? '';
  return /npm run ([\w:-]+)/.exec(command)?.[1];
}

describe('docker-compose.yml (offline checks)', () => {
  it('pins every image to an exact version (no latest, no bare name); our own image follows package.json', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, `${name} has an image`).toBeDefined();
      const [repository, tag] = service.image!.split(':');
      expect(tag, `${name}: ${service.image} names a tag`).toBeDefined();
      expect(tag, `${name}: ${service.image}`).not.toMatch(/latest/);
      if (service.build) {
        expect(`${repository}:${tag}`, `${name} builds our image`).toBe(`credit-engine:${pkg.version}`);
      } else {
        expect(tag, `${name}: ${service.image} is major.minor[.patch]`).toMatch(/^\d+\.\d+(\.\d+)?$/);
      }
    }
  });

  it('runs Temporal server and admin-tools of the same version as the CLI dev server (1.32.x), and the UI 2.54.x', () => {
    const version = (service: string) => services[service]?.image?.split(':')[1];
    expect(services.temporal?.image).toMatch(/^temporalio\/server:1\.32\.\d+$/);
    expect(services['temporal-admin-tools']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(version('temporal-admin-tools')).toBe(version('temporal'));
    expect(version('temporal-setup')).toBe(version('temporal'));
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:2\.54\.\d+$/);
    expect(composeText).not.toMatch(/auto-setup/);
  });

  it('sets only settings that runtime/config.ts reads on the migrations, the worker and the API', () => {
    for (const name of APP_SERVICES) {
      const settings = Object.keys(services[name]?.environment ?? {});
      expect(settings.length, `${name} has settings`).toBeGreaterThan(0);
      expect(settings.filter((key) => !CONFIG_KEYS.includes(key)), `${name}: unknown settings`).toEqual([]);
    }
  });

  it('documents every ${VAR} it reads from the shell in .env.example', () => {
    const documented = new Set([...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
    const references = [...new Set(interpolated(composeText))];
    expect(references.length).toBeGreaterThan(0);
    expect(references.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('requires ADMIN_API_KEY and passes the payment and metrics secrets through (issue 16)', () => {
    for (const name of ['worker', 'api']) {
      const environment = services[name]!.environment!;
      expect(environment.ADMIN_API_KEY).toMatch(/^\$\{ADMIN_API_KEY:\?/);
      for (const secret of ['PAYMENTS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'SANDBOX_WEBHOOK_SECRET', 'METRICS_TOKEN']) {
        expect(environment[secret], `${name}: ${secret}`).toBe(`\${${secret}:-}`);
      }
    }
  });

  it('publishes Temporal and its UI on 127.0.0.1 only, and the API on its PORT', () => {
    const published = Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => [name, String(port)]));
    for (const [name, port] of published) {
      if (name === 'api') continue;
      expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
    }
    expect(services.temporal?.ports).toEqual(['127.0.0.1:7233:7233']);
    expect(services['temporal-ui']?.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(services.postgres?.ports).toBeUndefined();
    const port = String(services.api?.environment?.PORT);
    expect(services.api?.ports).toEqual([`${port}:${port}`]);
    // The operator console links to the UI where it is published; Temporal's address is the service's.
    expect(services.api?.environment?.TEMPORAL_UI_URL).toBe('http://localhost:8080');
    expect(services.api?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('probes the API at /readyz on its PORT and the worker at its metrics port', () => {
    const api = probedUrl(services.api!);
    expect(api?.pathname).toBe('/readyz');
    expect(api?.hostname).toBe('127.0.0.1');
    expect(api?.port).toBe(String(services.api?.environment?.PORT));
    const worker = probedUrl(services.worker!);
    expect(worker?.hostname).toBe('127.0.0.1'); // WORKER_METRICS_HOST's default: the probe runs inside the container
    expect(worker?.port).toBe(String(services.worker?.environment?.WORKER_METRICS_PORT));
    // Temporal's probe is its gRPC port (the server image has no CLI); temporal-setup then waits for health.
    expect(services.temporal?.healthcheck?.test).toEqual(['CMD', 'nc', '-z', '127.0.0.1', '7233']);
    expect(services.postgres?.healthcheck?.test).toEqual(expect.arrayContaining([expect.stringMatching(/pg_isready/)]));
  });

  it('waits with conditions only: service_healthy on a service with a healthcheck, service_completed_successfully on a one-shot', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(dependencies(service))) {
        const target = services[dependency];
        expect(target, `${name} depends on ${dependency}, a service of the file`).toBeDefined();
        if (condition === 'service_healthy') {
          expect(target!.healthcheck, `${name} waits for ${dependency} to be healthy`).toBeDefined();
        } else {
          expect(condition, `${name} → ${dependency}`).toBe('service_completed_successfully');
          expect(target!.restart, `${dependency} is a one-shot`).toBe('no');
        }
      }
    }
  });

  it('starts in order: schema → server → namespace and search attributes; migrations → worker → API', () => {
    const waitsFor = (name: string) => Object.keys(dependencies(services[name]!));
    expect(waitsFor('temporal-admin-tools')).toContain('postgres');
    expect(waitsFor('temporal')).toContain('temporal-admin-tools');
    expect(waitsFor('temporal-setup')).toContain('temporal');
    for (const name of ['worker', 'api']) expect(waitsFor(name)).toEqual(expect.arrayContaining(['migrate', 'temporal-setup']));
    expect(waitsFor('api')).toContain('worker');
    expect(waitsFor('migrate')).toContain('postgres');
  });

  it('runs commands that exist as npm scripts: migrate, worker, api', () => {
    expect(Object.fromEntries(APP_SERVICES.map((name) => [name, npmScript(services[name]!)]))).toEqual({
      migrate: 'migrate', worker: 'worker', api: 'api',
    });
    for (const name of APP_SERVICES) expect(pkg.scripts[npmScript(services[name]!)!], `npm run ${name}`).toBeDefined();
  });

  it('builds an image that holds what those scripts run (their files, tsx) and is not ignored by .dockerignore', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
    // tsx is a dev dependency: the install must keep them (no --omit=dev, NODE_ENV=production only after it).
    const install = /^RUN npm ci\b.*$/m.exec(dockerfile);
    expect(install?.[0]).not.toMatch(/--omit=dev|--production/);
    expect(dockerfile.indexOf('NODE_ENV=production')).toBeGreaterThan(install!.index);
    expect(dockerfile).toMatch(/^COPY \. \.$/m);
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
    for (const name of APP_SERVICES) {
      const script = pkg.scripts[npmScript(services[name]!)!]!;
      const [runner, entry] = script.split(' ');
      expect(runner, `npm run ${name}`).toBe('tsx');
      expect(existsSync(join(ROOT, entry!)), `${entry} exists`).toBe(true);
      const topDirectory = entry!.split('/')[0]!;
      expect(ignored.filter((pattern) => pattern.replace(/^\/|\/$/g, '') === topDirectory), `${entry} reaches the image`).toEqual([]);
    }
    expect(JSON.parse(read('package.json')).devDependencies.tsx ?? JSON.parse(read('package.json')).dependencies.tsx).toBeDefined();
  });

  it('mounts files that exist, and the server its dynamic configuration at the path it is told', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (!source!.startsWith('.')) continue; // a named volume
        expect(existsSync(join(ROOT, source!)), `${name} mounts ${source}`).toBe(true);
      }
    }
    const mount = services.temporal!.volumes!.map((volume) => volume.split(':')).find(([source]) => source!.includes('dynamicconfig'));
    expect(mount?.[1]).toBe(services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH);
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres', BIND_ON_IP: '0.0.0.0' });
  });

  it('sets up both Temporal databases in the one-shot, with a script the shell parses', () => {
    const [, scriptPath] = (services['temporal-admin-tools']!.entrypoint as string[]);
    const source = services['temporal-admin-tools']!.volumes!.map((volume) => volume.split(':')).find(([, target]) => target === scriptPath)?.[0];
    expect(source).toBe('./deploy/temporal/setup-schema.sh');
    const script = read(source!);
    // The admin-tools image's schema directories, one per database (temporal-sql-tool's embedded names are the same).
    expect(script).toContain('schemas="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"');
    expect(script).toContain('"${schemas}/${schema}/versioned"');
    expect(script).toMatch(/for pair in temporal:temporal temporal_visibility:visibility/);
    for (const step of ['create-database', 'setup-schema --version 0.0', 'update-schema --schema-dir']) expect(script).toContain(step);
    for (const path of ['deploy/temporal/setup-schema.sh', 'deploy/temporal/setup-namespace.sh']) {
      execFileSync('sh', ['-n', join(ROOT, path)]); // throws on a syntax error
    }
  });

  it('registers exactly the search attributes of workflows/search-attributes.ts', () => {
    const cliType = { KEYWORD: 'Keyword', DATETIME: 'Datetime', BOOL: 'Bool' } as Record<string, string>;
    const expected = ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${cliType[key.type]}`).sort();
    const registered = String(services['temporal-setup']!.environment!.SEARCH_ATTRIBUTES).split(/\s+/).filter(Boolean).sort();
    expect(registered).toEqual(expected);
    expect(services['temporal-setup']!.environment!.TEMPORAL_NAMESPACE).toBe(services.worker!.environment!.TEMPORAL_NAMESPACE);
  });
});
