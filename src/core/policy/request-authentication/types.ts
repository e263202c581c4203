/** Inputs and outputs of RequestAuthentication (JWT) processing. */

/** A header operation the data plane applies to the upstream request. */
export type AuthnHeaderOp = { op: "set"; name: string; value: string } | { op: "remove"; name: string };

export interface AuthnRequest {
  /** Needed only to let CORS preflights through without a token check, as Istio does. */
  method?: string;
  /** Lower-case header names. */
  headers: ReadonlyMap<string, string>;
  /** Request URL: absolute, or path + query. */
  url: string;
}

export type AuthnResult =
  | {
      kind: "anonymous";
      /** Still applied: client headers named by `outputClaimToHeaders` are stripped even without a token. */
      requestHeaders: AuthnHeaderOp[];
    }
  | {
      kind: "authenticated";
      /** `<iss>/<sub>`. */
      principal: string;
      issuer: string;
      subject?: string;
      audiences: string[];
      /** `azp`. */
      presenter?: string;
      /** Verified payload; space-delimited claims (`scope`, `permission`, `spaceDelimitedClaims`) split into lists. */
      claims: Record<string, unknown>;
      /**
       * In order: removal of every output header (clients cannot forge them), removal of token
       * headers unless `forwardOriginalToken`, then the `outputPayloadToHeader` / `outputClaimToHeaders` values.
       */
      requestHeaders: AuthnHeaderOp[];
      /** Query parameters to drop from the upstream URL (tokens taken from `fromParams` unless forwarded); see `withoutQueryParams`. */
      removeQueryParams: string[];
    }
  | {
      kind: "invalid";
      /** Safe to return in the 401 body (`Jwt verification fails`-style); never contains the token. */
      message: string;
    };

export interface RequestAuthenticator {
  authenticate(req: AuthnRequest): Promise<AuthnResult>;
  /** Rules refused at compile time (e.g. unparsable inline `jwks`); tokens of their issuer are rejected. */
  readonly problems: readonly { policy: string; field?: string; message: string }[];
  /** True when at least one jwtRule applies. */
  readonly active: boolean;
}
