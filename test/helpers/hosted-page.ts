/**
 * Completes 3-D Secure as a customer's browser does (issue 16, finding 1): reads the hosted invoice page,
 * then submits its form (attempt and token fields) from the page's own origin. Throws when the page shows no
 * form. Answers the POST's response (303 to the page when the payment was completed), redirects not followed.
 */
export async function authenticateOnHostedPage(pageUrl: string): Promise<Response> {
  const html = await (await fetch(pageUrl)).text();
  const field = (name: string) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
  const [attempt, token] = [field('attempt'), field('token')];
  if (attempt === undefined || token === undefined) throw new Error(`no 3-D Secure form on ${pageUrl}`);
  return fetch(`${pageUrl}/authenticate`, {
    method: 'POST', redirect: 'manual',
    headers: { origin: new URL(pageUrl).origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ attempt, token }),
  });
}
