import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/**
 * The one HTTP client for requests to addresses a customer chose (alert webhooks; issue 16, finding 2).
 *
 * Why not `fetch`: undici's fetch takes no `agent`, and a check of the URL's text alone is beaten by a DNS
 * name that resolves to 127.0.0.1 or 169.254.169.254 (or is rebound between a check and the connection).
 * `request-filtering-agent` checks every address the connection is about to use, after DNS resolution,
 * inside node's http(s) Agent: loopback, private, link-local, carrier-grade NAT, multicast, reserved and
 * unspecified (0.0.0.0, `http://0`) addresses are refused unless private targets are allowed.
 * Redirects are never followed (a 3xx is returned as is: a public URL cannot bounce us to a private one).
 */

/** Requests without their own signal give up after this long (ms). */
export const OUTGOING_TIMEOUT_MS = 10_000;

/**
 * Whether outgoing webhooks may go to private, loopback and link-local addresses:
 * ALLOW_PRIVATE_WEBHOOK_TARGETS (runtime/config.ts), false unless set to a true value. Read from the
 * environment on each call, so the API and the worker follow the same setting without plumbing.
 */
export function privateTargetsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(true|1|yes|on|y|enabled)$/i.test(env.ALLOW_PRIVATE_WEBHOOK_TARGETS?.trim() ?? '');
}

export interface GuardedFetchOptions {
  /** Allow private / loopback / link-local targets (local development and tests). */
  allowPrivateTargets: boolean;
  /** Default timeout (ms) when the caller gives no AbortSignal. */
  timeoutMs?: number;
}

const agents = (allow: boolean) => ({
  http: new RequestFilteringHttpAgent({ allowPrivateIPAddress: allow, allowMetaIPAddress: allow, keepAlive: false }),
  https: new RequestFilteringHttpsAgent({ allowPrivateIPAddress: allow, allowMetaIPAddress: allow, keepAlive: false }),
});

/** Statuses whose Response must have a null body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * A fetch-compatible client (string or URL input; method, headers, a string/bytes body, signal) over
 * node:http(s) with the filtering agents. Rejects with a TypeError-like Error when the target is refused
 * (at connection time), times out or fails; never follows redirects.
 */
export function createGuardedFetch(options: GuardedFetchOptions): typeof fetch {
  const pool = agents(options.allowPrivateTargets);
  const timeoutMs = options.timeoutMs ?? OUTGOING_TIMEOUT_MS;
  const guarded = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      return Promise.reject(new TypeError('guardedFetch takes a URL, not a Request'));
    }
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return Promise.reject(new TypeError(`invalid URL: ${String(input)}`));
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
    if (url.username || url.password) return Promise.reject(new TypeError('URLs with credentials are not fetched'));
    const body = init.body ?? undefined;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      return Promise.reject(new TypeError('guardedFetch sends string or byte bodies only'));
    }
    const signal = init.signal ?? AbortSignal.timeout(timeoutMs);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const req = send(url, { method: init.method ?? 'GET', headers, agent: url.protocol === 'https:' ? pool.https : pool.http, signal },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
          }
          if (NULL_BODY.has(status) || status < 200 || status > 599) {
            res.resume();
            resolve(new Response(null, { status: NULL_BODY.has(status) && status >= 200 ? status : 502, headers: responseHeaders }));
            return;
          }
          resolve(new Response(Readable.toWeb(res) as ReadableStream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      req.on('error', (error) => reject(error));
      req.end(body);
    });
  };
  return guarded as typeof fetch;
}

let byEnv: { allowed: boolean; fetch: typeof fetch } | undefined;

/**
 * The guarded client under ALLOW_PRIVATE_WEBHOOK_TARGETS as the environment says now (see
 * privateTargetsAllowed): the default client of the worker's alert deliveries.
 */
export const guardedFetch: typeof fetch = ((input: string | URL | Request, init?: RequestInit) => {
  const allowed = privateTargetsAllowed();
  if (byEnv?.allowed !== allowed) byEnv = { allowed, fetch: createGuardedFetch({ allowPrivateTargets: allowed }) };
  return byEnv.fetch(input, init);
}) as typeof fetch;

/** Host names that never lead to a public service (RFC 6761 / 6762, cloud metadata names, RFC 8375). */
const INTERNAL_NAME = /(^|\.)(localhost|local|internal|localdomain|home\.arpa|intranet|lan)$/i;

/**
 * Why `raw` may not be an alert webhook URL, or null when it may (issue 16, finding 2): http or https,
 * no credentials, a host name with a dot (or a public IP literal). Literal IPs are read by the WHATWG URL
 * parser first, so decimal (`2130706433`), hex (`0x7f000001`), octal and short forms (`127.1`, `http://0`)
 * are the addresses they stand for. Unless `allowPrivateTargets`, an IP literal must be public unicast and a
 * name must not be a local or internal one. This only refuses obvious cases early with a clear 400: a public
 * name that resolves to a private address is refused by guardedFetch when it connects.
 */
export function webhookTargetProblem(raw: string, options: { allowPrivateTargets: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!host) return 'must name a host';
  if (ipaddr.isValid(host)) {
    if (options.allowPrivateTargets) return null;
    const range = ipaddr.process(host).range();
    return range === 'unicast' ? null : `must be a public address (${host} is ${range})`;
  }
  if (options.allowPrivateTargets) return null;
  if (!host.includes('.') || INTERNAL_NAME.test(host.replace(/\.$/, ''))) return `must be a public host name (${host} is local)`;
  return null;
}
