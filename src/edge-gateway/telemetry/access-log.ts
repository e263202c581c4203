/**
 * One JSON access-log line per request with the keys of Istio's default JSON access log
 * (pilot `EnvoyJSONLogFormatIstio`), `-`-free: absent values are `null`, as Envoy's JSON format does.
 */
export interface AccessLogEntry {
  start_time: string;
  route_name: string | null;
  method: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  response_code_details: string | null;
  connection_termination_details: string | null;
  upstream_transport_failure_reason: string | null;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  upstream_service_time: number | null;
  x_forwarded_for: string | null;
  user_agent: string | null;
  request_id: string;
  authority: string;
  upstream_host: string | null;
  upstream_cluster: string | null;
  upstream_local_address: string | null;
  downstream_local_address: string | null;
  downstream_remote_address: string | null;
  requested_server_name: string | null;
  /** Strait additions. */
  /** The request's trace: the gateway's with a collector; without one the client's `traceparent`'s, if any. */
  trace_id: string | null;
  authz_audit?: string;
}

export function formatAccessLog(e: AccessLogEntry): string {
  return JSON.stringify(e);
}
