/** Building blocks shared by the billing views: the CSRF-carrying form and the notice banner. No I/O. */
import type { Child } from 'hono/jsx';
import type { BillingSession, Notice } from '../billing-session.js';

/** A POST form with this session's CSRF token and the given hidden fields. */
export function ActionForm(props: { action: string; session: BillingSession; fields?: Record<string, string>; id?: string; children: Child }) {
  return (
    <form method="post" action={props.action} id={props.id}>
      <input type="hidden" name="_csrf" value={props.session.csrfToken} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => <input type="hidden" name={name} value={value} />)}
      {props.children}
    </form>
  );
}

export function NoticeBanner(props: { notice: Notice }) {
  const { notice } = props;
  return (
    <p class={notice.kind === 'error' ? 'notice error' : 'notice'} id="notice" role={notice.kind === 'error' ? 'alert' : 'status'}>
      {notice.text}
      {notice.link ? <> <a href={notice.link.href} target="_blank" rel="noopener">{notice.link.label}</a></> : ''}
    </p>
  );
}
