/** `networking.istio.io` Gateway spec: a load balancer at the mesh edge. */
export interface GatewaySpec {
  servers: Server[];
  /** Labels of the gateway workloads this config applies to. */
  selector?: Record<string, string>;
}

export type ServerProtocol = "HTTP" | "HTTPS" | "GRPC" | "GRPC-WEB" | "HTTP2" | "MONGO" | "TCP" | "TLS";

export interface Server {
  port: GatewayPort;
  bind?: string;
  /** `[ns/]dnsName`; `*` or `*.example.com` wildcards. */
  hosts: string[];
  tls?: ServerTLSSettings;
  defaultEndpoint?: string;
  name?: string;
}

export interface GatewayPort {
  /** 0 only with a `unix://` bind. */
  number: number;
  protocol: string;
  /** Required, and unique across the Gateway's servers. */
  name: string;
  targetPort?: number;
}

export type ServerTLSMode = "PASSTHROUGH" | "SIMPLE" | "MUTUAL" | "AUTO_PASSTHROUGH" | "ISTIO_MUTUAL" | "OPTIONAL_MUTUAL";
export type TLSProtocolVersion = "TLS_AUTO" | "TLSV1_0" | "TLSV1_1" | "TLSV1_2" | "TLSV1_3";

export interface ServerTLSSettings {
  httpsRedirect?: boolean;
  mode?: ServerTLSMode;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  credentialName?: string;
  credentialNames?: string[];
  tlsCertificates?: { serverCertificate?: string; privateKey?: string; caCertificates?: string }[];
  caCertCredentialName?: string;
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TLSProtocolVersion;
  maxProtocolVersion?: TLSProtocolVersion;
  cipherSuites?: string[];
  ecdhCurves?: string[];
}
