/** A small JSON client for the API on 127.0.0.1 (setup and polling; the measured load is autocannon's). */
export function apiClient(baseUrl: string, key: string) {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(baseUrl)) throw new Error(`the benchmark only talks to 127.0.0.1, not ${baseUrl}`);
  async function call<T>(method: string, path: string, body?: unknown, okStatus = [200, 201]): Promise<T> {
    const response = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!okStatus.includes(response.status)) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Creates a workspace on `clockId` with a card that pays, subscribed to `plan` monthly; returns its id and key. */
export async function subscribedWorkspace(
  operator: ApiClient, baseUrl: string, input: { name: string; clockId: string; plan: string },
): Promise<{ id: string; key: string }> {
  const ws = await operator.post<{ id: string; api_key: string }>('/v1/workspaces', { name: input.name, test_clock_id: input.clockId });
  const customer = apiClient(baseUrl, ws.api_key);
  await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
  const sub = await customer.post<{ status: string }>('/v1/subscription', { plan: input.plan, interval: 'month' });
  if (sub.status !== 'active') throw new Error(`subscription of ${ws.id} is ${sub.status}, not active`);
  return { id: ws.id, key: ws.api_key };
}
