import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * Security headers of the pages (issue 16) through Hono's secureHeaders: a Content-Security-Policy that
 * forbids framing (`frame-ancestors 'none'`, clickjacking on /billing and /admin forms), scripts and
 * plugins, `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (our URLs never leak to another
 * site; not `no-referrer`, which makes browsers send `Origin: null` on our own form posts and fail the
 * Origin check of the forms; it replaces the stricter one the single-use sign-in URL sets, harmless as
 * same-origin never leaves our site), and HSTS only when PUBLIC_URL is https (HSTS on plain http would be
 * ignored at best). The pages use inline <style> and style attributes, no scripts; /docs (Swagger UI) runs
 * scripts, all served by the API itself from the pinned swagger-ui-dist package (api/docs-ui.ts, issue 14), so
 * its policy allows 'self' only: no CDN, no inline script, no eval. JSON routes (/v1, webhooks) are left alone.
 */
export function pageSecurityHeaders(publicUrl: string): MiddlewareHandler {
  const https = new URL(publicUrl).protocol === 'https:';
  const common = {
    xContentTypeOptions: true,
    referrerPolicy: 'same-origin',
    xFrameOptions: 'DENY',
    strictTransportSecurity: https ? 'max-age=31536000; includeSubDomains' : false,
    crossOriginResourcePolicy: 'same-origin',
    crossOriginOpenerPolicy: 'same-origin',
  } as const;
  const pages = secureHeaders({
    ...common,
    contentSecurityPolicy: {
      defaultSrc: ["'self'"], scriptSrc: ["'none'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'],
      objectSrc: ["'none'"], baseUri: ["'none'"], frameAncestors: ["'none'"],
    },
  });
  // Swagger UI's icons are data: SVGs; its styles come from its stylesheet and React's style properties (CSSOM).
  const docs = secureHeaders({
    ...common,
    contentSecurityPolicy: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"], frameAncestors: ["'none'"],
    },
  });
  return async (c, next) => {
    const path = c.req.path;
    if (path.startsWith('/v1/') || path.startsWith('/webhooks/') || path === '/metrics' || path === '/openapi.json') return next();
    return (path === '/docs' ? docs : pages)(c, next);
  };
}
