import { readFileSync } from 'node:fs';
import type { Config } from './config.js';

/**
 * Connection options shared by the worker (NativeConnection) and the API (Connection): a local dev
 * server needs only the address; Temporal Cloud takes an API key or an mTLS client certificate.
 */
export function temporalConnectionOptions(config: Config) {
  const mtls = config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH
    ? { clientCertPair: { crt: readFileSync(config.TEMPORAL_TLS_CERT_PATH), key: readFileSync(config.TEMPORAL_TLS_KEY_PATH) } }
    : undefined;
  return {
    address: config.TEMPORAL_ADDRESS,
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY, tls: true as const } : {}),
    ...(mtls ? { tls: mtls } : {}),
  };
}
