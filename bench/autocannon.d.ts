/** The part of autocannon 9's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface RequestParams {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }

  export interface Request<Context> extends RequestParams {
    /** Called as the request is about to be written; null skips to the first request of the sequence. */
    setupRequest?: (request: RequestParams, context: Context) => RequestParams | null;
    onResponse?: (status: number, body: string, context: Context) => void;
  }

  export interface Options<Context> {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    timeout?: number;
    overallRate?: number;
    connectionRate?: number;
    requests?: Request<Context>[];
    initialContext?: Context;
  }

  export interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
    latency: { p50: number; p99: number; max: number };
    requests: { total: number; average: number };
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop(): void;
  }

  function autocannon<Context = Record<string, unknown>>(options: Options<Context>): Instance;
  export default autocannon;
}
