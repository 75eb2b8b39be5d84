import { Hono } from 'hono';
import { ERROR_CATALOGUE, ERROR_DOCS_PATH } from '../error-catalogue.js';
import { SitePage } from './site.js';

/**
 * GET /docs/errors: the error catalogue (api/error-catalogue.ts) as a page, one row per code with the code as its
 * anchor, so a problem's `type` (`<origin>/docs/errors#<code>`) resolves to the code's explanation.
 */
export function errorCataloguePage() {
  const app = new Hono();
  app.get(ERROR_DOCS_PATH, (c) => c.html(
    <SitePage title="Error codes · Credit engine API">
      <h1>Error codes</h1>
      <p class="muted">
        Every error is an <code>application/problem+json</code> document with <code>type</code>, <code>title</code>,
        {' '}<code>status</code> and <code>code</code>; a refusal adds its detail fields (e.g. <code>required</code> and
        {' '}<code>available</code>), invalid input an <code>errors</code> list. The same catalogue is in
        {' '}<a href="/openapi.json">/openapi.json</a> as <code>x-error-codes</code>.
      </p>
      <table>
        <thead><tr><th scope="col">Code</th><th scope="col">Status</th><th scope="col">Meaning and what to do</th></tr></thead>
        <tbody>
          {ERROR_CATALOGUE.map((entry) => (
            <tr id={entry.code}>
              <td><a href={`#${entry.code}`}><code>{entry.code}</code></a></td>
              <td>{entry.status}</td>
              <td><strong>{entry.title}.</strong> {entry.meaning}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </SitePage>,
  ));
  return app;
}
