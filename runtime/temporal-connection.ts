import { loadClientConnectConfig } from '@temporalio/envconfig';

type ConnectTls = ReturnType<typeof loadClientConnectConfig>['connectionOptions']['tls'];

/** Where and how the worker (NativeConnection) and the API (Connection) reach Temporal, and in which namespace. */
export interface TemporalSettings {
  /** host:port of the frontend; `localhost:7233` when nothing sets it. */
  address: string;
  /** `default` when nothing sets it. */
  namespace: string;
  /** Options for NativeConnection.connect and Connection.connect (address, apiKey, tls, metadata). */
  connectionOptions: {
    address: string;
    apiKey?: string;
    /** true: TLS with the system's roots; an object: mTLS client pair, server CA, server name. */
    tls?: Exclude<ConnectTls, null | undefined>;
    /** gRPC headers (TEMPORAL_GRPC_META_*, a profile's grpc_meta). */
    metadata?: NonNullable<ReturnType<typeof loadClientConnectConfig>['connectionOptions']['metadata']>;
  };
}

/**
 * Our earlier names of the SDK's variables: still read, each one only when the SDK's own name is unset
 * (`TEMPORAL_TLS_CLIENT_CERT_PATH` wins over `TEMPORAL_TLS_CERT_PATH`).
 */
export const LEGACY_TEMPORAL_VARIABLES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
};

/**
 * The Temporal connection settings through the SDK's own loader (@temporalio/envconfig), as every Temporal SDK
 * and the `temporal` CLI read them. Precedence, highest first:
 *   1. TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA,
 *      TEMPORAL_TLS_CLIENT_KEY_PATH / _DATA, TEMPORAL_TLS_SERVER_CA_CERT_PATH / _DATA, TEMPORAL_TLS_SERVER_NAME,
 *      TEMPORAL_GRPC_META_<HEADER>; then our earlier TEMPORAL_TLS_CERT_PATH / TEMPORAL_TLS_KEY_PATH;
 *   2. the profile TEMPORAL_PROFILE (else `default`) of the TOML file TEMPORAL_CONFIG_FILE
 *      (else ~/.config/temporalio/temporal.toml, when it exists); a named profile that is missing is an error;
 *   3. localhost:7233 and namespace `default`.
 * An API key turns TLS on (Temporal Cloud). Empty variables count as unset (docker compose passes `${X:-}` as '').
 * Certificate files are read here, at start: a missing file throws (ENOENT).
 */
export function loadTemporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const set = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
  for (const [legacy, current] of Object.entries(LEGACY_TEMPORAL_VARIABLES)) {
    if (set[legacy] !== undefined && set[current] === undefined) set[current] = set[legacy];
  }
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars: set });
  const address = connectionOptions.address ?? 'localhost:7233';
  return {
    address,
    namespace: namespace ?? 'default',
    connectionOptions: {
      address,
      ...(connectionOptions.apiKey ? { apiKey: connectionOptions.apiKey } : {}),
      ...(connectionOptions.tls !== undefined && connectionOptions.tls !== null ? { tls: asBuffers(connectionOptions.tls) } : {}),
      ...(connectionOptions.metadata && Object.keys(connectionOptions.metadata).length > 0 ? { metadata: connectionOptions.metadata } : {}),
    },
  };
}

/** The loader reads certificate files as Uint8Array; the connection options are typed (and documented) as Buffers. */
function asBuffers(tls: Exclude<ConnectTls, null | undefined>): Exclude<ConnectTls, null | undefined> {
  if (typeof tls === 'boolean') return tls;
  const buffer = (data: Uint8Array | undefined) => (data === undefined ? undefined : Buffer.from(data));
  return {
    ...tls,
    ...(tls.serverRootCACertificate ? { serverRootCACertificate: buffer(tls.serverRootCACertificate) } : {}),
    ...(tls.clientCertPair ? { clientCertPair: { crt: buffer(tls.clientCertPair.crt)!, key: buffer(tls.clientCertPair.key)! } } : {}),
  };
}
