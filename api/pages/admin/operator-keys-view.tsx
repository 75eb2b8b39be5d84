/** /admin/operator-keys: the operator keys (ADMIN_API_KEY first), each stored one revocable (SPEC §10). No I/O. */
import type { OperatorKeyView } from '../../../ledger/operator-keys.js';
import type { Notice } from '../billing-session.js';
import { When } from '../site.js';
import { AdminForm, AdminPage, MaybeNotice } from './layout.js';
import type { OperatorSession } from './session.js';

export function operatorKeysPage(props: { session: OperatorSession; rootHint: string; keys: OperatorKeyView[]; notice: Notice | undefined }) {
  return (
    <AdminPage title="Operator keys" session={props.session}>
      <h1>Operator keys</h1>
      <MaybeNotice notice={props.notice} />
      <p class="muted">New keys: POST /v1/admin/operator-keys (the key is shown once).</p>
      <table id="operator-keys">
        <thead><tr><th>Id</th><th>Name</th><th>Ends with</th><th>Created</th><th>Revoked</th><th /></tr></thead>
        <tbody>
          <tr id="key-opk_root"><td class="mono">opk_root</td><td>ADMIN_API_KEY</td><td class="mono">…{props.rootHint}</td><td>environment</td><td>—</td><td class="muted">not revocable here</td></tr>
          {props.keys.map((key) => (
            <tr id={`key-${key.id}`}>
              <td class="mono">{key.id}</td><td>{key.name}</td><td class="mono">…{key.hint}</td>
              <td>{key.created_at ? <When at={key.created_at} /> : '—'}</td>
              <td>{key.revoked_at ? <When at={key.revoked_at} /> : '—'}</td>
              <td>
                {key.revoked_at ? '' : (
                  <AdminForm action={`/admin/operator-keys/${encodeURIComponent(key.id)}/revoke`} session={props.session}>
                    <button type="submit" class="danger">Revoke</button>
                  </AdminForm>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </AdminPage>
  );
}
