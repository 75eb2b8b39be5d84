import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Hono, type Context } from 'hono';

/**
 * /docs: Swagger UI for /openapi.json, served by the API itself from the pinned `swagger-ui-dist` npm package
 * (issue 14): it renders without internet and shows the same UI version until package.json changes. No CDN,
 * no inline script or style, so the page's CSP (api/security-headers.ts) allows 'self' only.
 */
const distDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const swaggerVersion = (JSON.parse(readFileSync(join(distDir, 'package.json'), 'utf8')) as { version: string }).version;

// Our initializer, a file rather than an inline <script> (CSP). No validator badge: it would call validator.swagger.io.
// BaseLayout without the standalone preset: no top bar that loads other documents by URL.
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;
const initializerName = `init-${createHash('sha256').update(INITIALIZER).digest('hex').slice(0, 12)}.js`;

/** Where the assets live: the version in the path lets them be cached for a year (a new version is a new URL). */
export const DOCS_ASSETS_PREFIX = `/docs/assets/${swaggerVersion}`;

interface Asset { type: string; read: () => Buffer }
const fromDist = (file: string) => () => readFileSync(join(distDir, file));
const ASSETS: Record<string, Asset> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', read: fromDist('swagger-ui.css') },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', read: fromDist('swagger-ui-bundle.js') },
  'favicon-32x32.png': { type: 'image/png', read: fromDist('favicon-32x32.png') },
  [initializerName]: { type: 'text/javascript; charset=utf-8', read: () => Buffer.from(INITIALIZER) },
};

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Credit engine API</title>
<link rel="stylesheet" href="${DOCS_ASSETS_PREFIX}/swagger-ui.css">
<link rel="icon" type="image/png" href="${DOCS_ASSETS_PREFIX}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_ASSETS_PREFIX}/swagger-ui-bundle.js"></script>
<script src="${DOCS_ASSETS_PREFIX}/${initializerName}"></script>
</body>
</html>
`;

/** An asset's bytes, plain and gzipped, read once on first request (the bundle is 1.7 MB, about 0.5 MB gzipped). */
const loaded = new Map<string, { plain: Buffer; gzip: Buffer }>();
function load(name: string, asset: Asset): { plain: Buffer; gzip: Buffer } {
  let bytes = loaded.get(name);
  if (!bytes) {
    const plain = asset.read();
    bytes = { plain, gzip: gzipSync(plain) };
    loaded.set(name, bytes);
  }
  return bytes;
}

function serveAsset(c: Context, name: string, asset: Asset): Response {
  const { plain, gzip } = load(name, asset);
  const gzipped = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const body = gzipped ? gzip : plain;
  // A view of the cached bytes, not a copy (the bundle is 1.7 MB).
  return c.body(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), 200, {
    'content-type': asset.type,
    'cache-control': 'public, max-age=31536000, immutable',
    vary: 'accept-encoding',
    ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
  });
}

/**
 * GET /docs (the page) and GET /docs/assets/<swagger-ui-dist version>/<file> (its CSS, script, icon and our
 * initializer, with a year's cache). Any other file under /docs/assets is the API's 404.
 */
export function docsUi(): Hono {
  const router = new Hono();
  router.get('/docs', (c) => c.html(PAGE));
  for (const [name, asset] of Object.entries(ASSETS)) {
    router.get(`${DOCS_ASSETS_PREFIX}/${name}`, (c) => serveAsset(c, name, asset));
  }
  return router;
}
