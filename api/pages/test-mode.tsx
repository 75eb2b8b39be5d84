/**
 * The banner of every sandbox page (issue 16): payments there are simulated, so no page may look like a real
 * one. Shown on the hosted invoice page, the sandbox portal and /billing when the sandbox is the provider.
 */
export function TestModeBanner() {
  return (
    <p id="test-mode" role="status" class="notice error sans">
      <strong>Test mode</strong>: sandbox payments. No card is charged and nothing here is a real invoice payment.
    </p>
  );
}
