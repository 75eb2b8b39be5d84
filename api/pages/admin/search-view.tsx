/** /admin: search workspaces by id, external id or name, filtered by status and plan, a page at a time. No I/O. */
import { PLAN_IDS } from '../../../domain/catalog.js';
import { SUBSCRIPTION_STATUSES } from '../../../domain/lifecycle/status.js';
import type { WorkspaceSearch, WorkspaceSummary } from '../../../ledger/workspace-search.js';
import type { Notice } from '../billing-session.js';
import { When } from '../site.js';
import { AdminPage, MaybeNotice } from './layout.js';
import type { OperatorSession } from './session.js';

export interface SearchPageData {
  session: OperatorSession;
  search: Pick<WorkspaceSearch, 'q' | 'status' | 'plan'>;
  results: { data: WorkspaceSummary[]; next_cursor: string | null };
  notice: Notice | undefined;
}

const query = (search: SearchPageData['search'], cursor: string) =>
  new URLSearchParams({ ...(search.q ? { q: search.q } : {}), ...(search.status ? { status: search.status } : {}), ...(search.plan ? { plan: search.plan } : {}), cursor }).toString();

/** The search form (its values kept), the matching workspaces newest first, and a link to the next page. */
export function searchPage(view: SearchPageData) {
  const { search, results } = view;
  return (
    <AdminPage title="Workspaces" session={view.session}>
      <h1>Workspaces</h1>
      <MaybeNotice notice={view.notice} />
      <form method="get" action="/admin" class="actions" id="search">
        <div><label for="q">Id, external id or name</label><input type="text" id="q" name="q" value={search.q ?? ''} size={32} /></div>
        <div>
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">any</option>
            {[...SUBSCRIPTION_STATUSES, 'none'].map((s) => <option value={s} selected={search.status === s}>{s}</option>)}
          </select>
        </div>
        <div>
          <label for="plan">Plan</label>
          <select id="plan" name="plan">
            <option value="">any</option>
            {PLAN_IDS.map((p) => <option value={p} selected={search.plan === p}>{p}</option>)}
          </select>
        </div>
        <button type="submit" class="primary">Search</button>
      </form>
      <table id="results">
        <thead><tr><th>Workspace</th><th>Id</th><th>External id</th><th>Subscription</th><th>Created</th></tr></thead>
        <tbody>
          {results.data.map((w) => (
            <tr id={`ws-${w.id}`}>
              <td><a href={`/admin/workspaces/${encodeURIComponent(w.id)}`}>{w.name}</a></td>
              <td class="mono">{w.id}</td>
              <td class="mono">{w.external_id ?? '—'}</td>
              <td>{w.subscription ? `${w.subscription.plan} ${w.subscription.interval}ly · ${w.subscription.status}` : 'none'}</td>
              <td><When at={w.created_at} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {results.data.length === 0 ? <p id="no-results" class="muted">No workspace matches.</p> : ''}
      {results.next_cursor ? <p><a id="next-page" href={`/admin?${query(search, results.next_cursor)}`}>Next page →</a></p> : ''}
    </AdminPage>
  );
}
