import type { Context, Env, MiddlewareHandler, Next } from 'hono';

/**
 * `layer` as one step of a hand-made middleware chain, `after` as its next: `step(c, a, step(c, b, next))()` runs
 * a, then b, then `next`, as `app.use(a); app.use(b)` would, for a fraction of the cost (issue 15, lean requests:
 * every app.use is a router entry, a compose step and its promises on every request). As Hono's compose, a layer
 * that answers itself (a remembered Idempotency-Key answer, a 413) returns its response, which becomes `c.res`.
 * (A module-level function: tsx names every named closure made per request with Object.defineProperty, which
 * showed in the profile.)
 */
export function step<E extends Env>(c: Context<E>, layer: MiddlewareHandler<E>, after: Next): Next {
  return async () => {
    const answer = await layer(c, after);
    if (answer instanceof Response) c.res = answer;
  };
}
