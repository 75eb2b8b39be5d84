/**
 * The console's frame (SPEC §10 "Operator console"): a wide layout for tables, the top navigation with the
 * sign-out button, the CSRF-carrying form, and the small whole pages (sign-in, form expired, not found).
 * Plain functions of what they show, no I/O.
 */
import type { Child } from 'hono/jsx';
import type { Notice } from '../billing-session.js';
import { NoticeBanner } from '../billing/components.js';
import type { OperatorSession } from './session.js';

const css = `
  :root { --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --paper: #f6f8fa; --card: #fff; --accent: #2f5d50; --accent-soft: #e8f0ec; --warn: #8a3b12; --warn-soft: #fbeee6; }
  * { box-sizing: border-box; }
  body { font: 14px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); background: var(--paper); margin: 0; }
  main { max-width: 78rem; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
  nav.top { display: flex; gap: 1.2rem; align-items: center; padding-bottom: .6rem; border-bottom: 1px solid var(--line); }
  nav.top .brand { font-weight: 650; color: var(--ink); text-decoration: none; margin-right: auto; }
  nav.top form { margin: 0; }
  h1 { font-size: 1.5rem; margin: 1.4rem 0 .6rem; }
  h2 { font-size: 1.1rem; margin: 1.8rem 0 .5rem; padding-top: .8rem; border-top: 1px solid var(--line); }
  a { color: var(--accent); }
  .muted { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; background: var(--card); font-variant-numeric: tabular-nums; margin: .4rem 0 1rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-weight: 600; color: #4a4f55; background: #f0f2f4; }
  td.num, th.num { text-align: right; }
  .panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; margin: .8rem 0; }
  .facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1.2rem; margin: 0; }
  .facts dt { color: var(--muted); }
  .facts dd { margin: 0; }
  .notice { border-radius: 8px; padding: .6rem .9rem; margin: .8rem 0; background: var(--accent-soft); border: 1px solid #c7dbd2; }
  .notice.error { background: var(--warn-soft); border-color: #efc9b4; color: var(--warn); }
  .tag { display: inline-block; font-size: .8rem; font-weight: 600; padding: 0 .5rem; border-radius: 999px; background: var(--accent-soft); color: var(--accent); }
  .tag.warn { background: var(--warn-soft); color: var(--warn); }
  .actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin: .5rem 0; }
  .actions form { margin: 0; display: flex; gap: .4rem; align-items: end; flex-wrap: wrap; }
  label { display: block; font-size: .8rem; color: var(--muted); }
  button, .button { font: inherit; padding: .3rem .75rem; border-radius: 6px; border: 1px solid #c9ced4; background: var(--card); color: var(--ink); cursor: pointer; text-decoration: none; display: inline-block; }
  button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  button.danger { border-color: #d9a58a; color: var(--warn); }
  input, select { font: inherit; padding: .3rem .45rem; border-radius: 6px; border: 1px solid #c9ced4; background: var(--card); }
  code, .mono { font-family: ui-monospace, 'SFMono-Regular', Menlo, monospace; font-size: .85em; }
  details summary { cursor: pointer; }
`;

/** A console page; `session` adds the navigation and the sign-out button. */
export function AdminPage(props: { title: string; session?: OperatorSession; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Operator console`}</title>
        <style>{css}</style>
      </head>
      <body>
        <main>
          <nav class="top" aria-label="Console">
            <a class="brand" href="/admin">Operator console</a>
            {props.session ? (
              <>
                <a href="/admin">Workspaces</a>
                <a href="/admin/operator-keys">Operator keys</a>
                <span class="muted" id="operator-key-id">{props.session.operatorKeyId}</span>
                <AdminForm action="/admin/sign-out" session={props.session}>
                  <button type="submit">Sign out</button>
                </AdminForm>
              </>
            ) : ''}
          </nav>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A POST form with the session's CSRF token and the given hidden fields. */
export function AdminForm(props: { action: string; session: OperatorSession; fields?: Record<string, string>; id?: string; class?: string; children: Child }) {
  return (
    <form method="post" action={props.action} id={props.id} class={props.class}>
      <input type="hidden" name="_csrf" value={props.session.csrfToken} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => <input type="hidden" name={name} value={value} />)}
      {props.children}
    </form>
  );
}

export const MaybeNotice = (props: { notice: Notice | undefined }) => (props.notice ? <NoticeBanner notice={props.notice} /> : <></>);

/** /admin/sign-in: an operator key (ADMIN_API_KEY or `sk_op_…`). */
export function adminSignInPage(props: { error?: string; notice?: Notice }) {
  return (
    <AdminPage title="Sign in">
      <h1>Sign in to the operator console</h1>
      <MaybeNotice notice={props.notice} />
      {props.error ? <p class="notice error" role="alert" id="notice">{props.error}</p> : ''}
      <form method="post" action="/admin/sign-in" class="panel">
        <p>
          <label for="key">Operator key</label>
          <input type="password" id="key" name="key" autocomplete="off" required spellcheck={false} size={48} />
        </p>
        <p><button type="submit" class="primary">Sign in</button></p>
        <p class="muted">Only an operator key opens the console; the session lasts eight hours or until you sign out or the key is revoked.</p>
      </form>
    </AdminPage>
  );
}

/** A form post without this session's token: nothing was done. */
export function adminFormExpiredPage() {
  return (
    <AdminPage title="Form expired">
      <h1>This form has expired</h1>
      <p>For safety, the request was not carried out. Reload the <a href="/admin">console</a> and try again.</p>
    </AdminPage>
  );
}

export function adminNotFoundPage(props: { session: OperatorSession; what: string }) {
  return (
    <AdminPage title="Not found" session={props.session}>
      <h1>Not found</h1>
      <p id="not-found">{props.what}. <a href="/admin">Back to the search</a>.</p>
    </AdminPage>
  );
}
