import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';

/**
 * The layout of the customer pages (/pricing, /billing): one calm reading column, a serif body with a
 * generous line height, sans-serif only for headings, figures and controls. No scripts: the
 * monthly/yearly toggle is two radio buttons and CSS.
 */
const css = `
  :root { --ink: #23211d; --muted: #6b6558; --line: #e4e0d8; --paper: #fbfaf7; --card: #fff; --accent: #2f5d50; --accent-soft: #e8f0ec; --warn: #8a3b12; --warn-soft: #fbeee6; }
  * { box-sizing: border-box; }
  body { font: 18px/1.7 Georgia, 'Iowan Old Style', 'Times New Roman', serif; color: var(--ink); background: var(--paper); margin: 0; }
  main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1.5rem 5rem; }
  h1, h2, h3, h4, .sans, nav, table, button, .button, label, select, input, .notice, .figure, .toggle, .tag { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; }
  h1 { font-size: 2.1rem; line-height: 1.2; margin: 2.5rem 0 1rem; letter-spacing: -.01em; }
  h2 { font-size: 1.45rem; line-height: 1.3; margin: 3.2rem 0 .8rem; padding-top: 1.2rem; border-top: 1px solid var(--line); }
  h3 { font-size: 1.1rem; line-height: 1.35; margin: 1.8rem 0 .4rem; }
  p { margin: 0 0 1rem; }
  a { color: var(--accent); text-underline-offset: .15em; }
  .lede { font-size: 1.15rem; color: #3a372f; }
  .muted { color: var(--muted); font-size: .92rem; }
  nav.top { display: flex; gap: 1.4rem; align-items: baseline; font-size: .95rem; padding-bottom: .8rem; border-bottom: 1px solid var(--line); }
  nav.top .brand { font-weight: 650; color: var(--ink); text-decoration: none; margin-right: auto; }
  nav.top a[aria-current] { color: var(--ink); font-weight: 600; text-decoration: none; }
  nav.top form { margin: 0; }

  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  .toggle { display: inline-flex; border: 1px solid var(--line); border-radius: 999px; padding: .2rem; background: var(--card); margin: .5rem 0 1.2rem; }
  .toggle label { padding: .35rem 1.1rem; border-radius: 999px; cursor: pointer; font-size: .95rem; color: var(--muted); }
  .save { color: var(--accent); font-weight: 600; font-size: .85rem; margin-left: .3rem; }
  #show-month:checked ~ .toggle label[for=show-month], #show-year:checked ~ .toggle label[for=show-year] { background: var(--accent-soft); color: var(--ink); font-weight: 600; }
  #show-month:focus-visible ~ .toggle label[for=show-month], #show-year:focus-visible ~ .toggle label[for=show-year] { outline: 2px solid var(--accent); outline-offset: 2px; }
  .yearly { display: none; }
  #show-year:checked ~ .plans .yearly { display: block; }
  #show-year:checked ~ .plans .monthly { display: none; }

  .plans { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem; margin: .5rem 0 1rem; }
  @media (max-width: 40rem) { .plans { grid-template-columns: 1fr; } }
  .plan { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.1rem 1.3rem 1rem; }
  .plan h3 { margin: 0; font-size: 1.2rem; }
  .plan .for { margin: 0 0 .7rem; }
  .plan ul { margin: .6rem 0 0; padding-left: 1.1rem; font-size: .95rem; }
  .figure { font-weight: 650; font-size: 1.55rem; letter-spacing: -.01em; font-variant-numeric: tabular-nums; }
  .figure small { font-weight: 400; font-size: .9rem; color: var(--muted); letter-spacing: 0; }
  .price p { margin: 0; }
  .price p.subscribe { margin: .7rem 0 .2rem; }

  table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .6rem 0 1.2rem; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-weight: 600; color: #4a463d; }
  td.num, th.num { text-align: right; }
  caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .3rem; }

  .usage-chart { margin: .6rem 0 .4rem; }
  .usage-chart svg { display: block; height: auto; }
  .legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: .82rem; color: var(--muted); margin-top: .3rem; }
  .legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .35rem; vertical-align: -.1em; }
  .legend i.line { width: 1rem; height: 2px; border-radius: 0; vertical-align: .25em; }
  .legend i.dashed { height: 0; border-top: 2px dashed; background: none; }

  details { border-bottom: 1px solid var(--line); padding: .7rem 0; }
  details summary { cursor: pointer; font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-weight: 600; }
  details[open] summary { margin-bottom: .5rem; }

  .notice { border-radius: 10px; padding: .8rem 1rem; margin: 1.2rem 0; font-size: .98rem; background: var(--accent-soft); border: 1px solid #c7dbd2; }
  .notice.error { background: var(--warn-soft); border-color: #efc9b4; color: var(--warn); }
  .panel { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.1rem 1.3rem; margin: 1rem 0; }
  .panel > :last-child { margin-bottom: 0; }
  .facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.4rem; margin: 0; font-size: 1rem; }
  .facts dt { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--muted); font-size: .9rem; padding-top: .15rem; }
  .facts dd { margin: 0; }
  .tag { display: inline-block; font-size: .8rem; font-weight: 600; padding: .05rem .55rem; border-radius: 999px; background: var(--accent-soft); color: var(--accent); vertical-align: .1em; }
  .tag.warn { background: var(--warn-soft); color: var(--warn); }

  .actions { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .6rem 0 1rem; }
  .actions form { margin: 0; }
  button, .button { font-size: .92rem; padding: .45rem .95rem; border-radius: 8px; border: 1px solid #cfc9bd; background: var(--card); color: var(--ink); cursor: pointer; text-decoration: none; display: inline-block; line-height: 1.4; }
  button:hover, .button:hover { border-color: var(--accent); }
  button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  button.quiet { background: transparent; }
  button:focus-visible, .button:focus-visible, select:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  select, input[type=password], input[type=text] { font-size: .95rem; padding: .42rem .6rem; border-radius: 8px; border: 1px solid #cfc9bd; background: var(--card); }
  input[type=password], input[type=text] { width: 100%; max-width: 28rem; }
  .inline { display: inline-flex; gap: .4rem; align-items: center; }
  footer { margin-top: 4rem; padding-top: 1rem; border-top: 1px solid var(--line); }
`;

export function SitePage(props: { title: string; current?: 'pricing' | 'billing'; signOut?: Child; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        {/* raw: the constant stylesheet above; escaped, its quotes ('Segoe UI') became &#39; and voided every font-family rule. */}
        <style>{raw(css)}</style>
      </head>
      <body>
        <main>
          <nav class="top" aria-label="Site">
            <a class="brand" href="/pricing">Studio</a>
            <a href="/pricing" {...(props.current === 'pricing' ? { 'aria-current': 'page' } : {})}>Pricing</a>
            <a href="/billing" {...(props.current === 'billing' ? { 'aria-current': 'page' } : {})}>Billing</a>
            {props.signOut ?? ''}
          </nav>
          {props.children}
        </main>
      </body>
    </html>
  );
}

const dateFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' });
const timeFormat = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** A readable UTC date ("2 March 2026"), with the time when it is not midnight ("…, 09:30 UTC"). */
export function readableDate(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  const midnight = date.getUTCHours() === 0 && date.getUTCMinutes() === 0;
  return midnight ? dateFormat.format(date) : `${dateFormat.format(date)}, ${timeFormat.format(date)} UTC`;
}

/** A date in a `<time>` element: readable text, the exact instant in `datetime`. */
export function When(props: { at: Date | string }) {
  const iso = typeof props.at === 'string' ? new Date(props.at).toISOString() : props.at.toISOString();
  return <time datetime={iso} title={iso}>{readableDate(props.at)}</time>;
}
