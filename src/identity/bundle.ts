/**
 * SPIFFE trust bundles (SPIFFE_Trust_Domain_and_Bundle.md §4): building the JWKS
 * document the issuer publishes, and parsing one into the verifier's view.
 *
 * Decision for checklist item 93 (AMBIG): an `x509-svid` JWK whose `x5c` holds
 * several certificates contributes its FIRST certificate only; the rest are
 * ignored (go-spiffe rejects the whole bundle instead). A missing or empty `x5c`
 * makes the JWK ignored.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1, id_secp521r1 } from "@peculiar/asn1-ecc";
import { RSAPublicKey, id_rsaEncryption } from "@peculiar/asn1-rsa";
import { base64url } from "jose";
import { BundleError, PemError } from "./errors.ts";
import { parseTrustDomain } from "./spiffe-id.ts";
import { PEM_CERTIFICATE, decodePem, encodePem, parseCertificateDer, type x509 } from "./x509.ts";

/** A JWT-SVID signing authority: its `kid` and public JWK. */
export interface JwtAuthority {
  kid: string;
  publicJwk: JsonWebKey;
}

/** The published bundle document (a JWK Set with SPIFFE parameters). */
export interface SpiffeBundleDocument {
  keys: Record<string, unknown>[];
  spiffe_sequence: number;
  spiffe_refresh_hint: number;
}

/** A verifier's view of one trust domain's bundle, with keys already split by use (item 95). */
export interface TrustBundle {
  trustDomain: string;
  /** DER of each X.509 authority, for X509-SVID path validation only. */
  x509AuthoritiesDer: Uint8Array[];
  /** JWT-SVID keys by `kid`, for JWT-SVID validation only. */
  jwtAuthorities: ReadonlyMap<string, JsonWebKey>;
  sequence?: number;
  refreshHintSeconds?: number;
}

/** Bundles keyed by trust domain name. Never pool keys across trust domains (items 51, 79, 99). */
export type TrustBundleSet = ReadonlyMap<string, TrustBundle>;

export const USE_X509_SVID = "x509-svid";
export const USE_JWT_SVID = "jwt-svid";

const CURVE_BY_OID: Record<string, "P-256" | "P-384" | "P-521"> = {
  [id_secp256r1]: "P-256",
  [id_secp384r1]: "P-384",
  [id_secp521r1]: "P-521",
};
const COORDINATE_BYTES: Record<string, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** Standard (not URL-safe) base64, as `x5c` requires (RFC 7517 §4.7). */
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** Public JWK members (`kty`, `crv`/`x`/`y` or `n`/`e`) of a certificate's SubjectPublicKeyInfo. */
function publicJwkFromSpki(spkiDer: ArrayBuffer, field: string): JsonWebKey {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  const point = new Uint8Array(spki.subjectPublicKey);
  if (spki.algorithm.algorithm === id_ecPublicKey) {
    const params = spki.algorithm.parameters;
    const namedCurve = params ? AsnConvert.parse(params, ECParameters).namedCurve : undefined;
    const crv = namedCurve === undefined ? undefined : CURVE_BY_OID[namedCurve];
    if (crv === undefined) throw new PemError(`${field}: unsupported elliptic curve`, { field });
    const size = COORDINATE_BYTES[crv] ?? 0;
    // Only the uncompressed form (0x04 || X || Y) is used in certificates in practice.
    if (point[0] !== 4 || point.length !== 1 + 2 * size) {
      throw new PemError(`${field}: EC public key is not an uncompressed point`, { field });
    }
    return {
      kty: "EC",
      crv,
      x: base64url.encode(point.subarray(1, 1 + size)),
      y: base64url.encode(point.subarray(1 + size)),
    };
  }
  if (spki.algorithm.algorithm === id_rsaEncryption) {
    const rsa = AsnConvert.parse(spki.subjectPublicKey, RSAPublicKey);
    return {
      kty: "RSA",
      n: base64url.encode(stripLeadingZeros(new Uint8Array(rsa.modulus))),
      e: base64url.encode(stripLeadingZeros(new Uint8Array(rsa.publicExponent))),
    };
  }
  throw new PemError(`${field}: unsupported public key algorithm ${spki.algorithm.algorithm}`, { field });
}

interface AuthorityCertificate {
  der: ArrayBuffer;
  certificate: x509.X509Certificate;
  field: string;
}

/** Every CERTIFICATE block of every PEM text, parsed. */
function authorityCertificates(pems: string[]): AuthorityCertificate[] {
  const out: AuthorityCertificate[] = [];
  pems.forEach((pem, i) => {
    const field = `x509AuthoritiesPem[${i}]`;
    for (const block of decodePem(pem, field)) {
      if (block.label !== PEM_CERTIFICATE) {
        throw new PemError(`${field}: expected "CERTIFICATE" PEM blocks, found "${block.label}"`, { field });
      }
      out.push({ der: block.der, certificate: parseCertificateDer(block.der, field), field });
    }
  });
  return out;
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = { EC: ["kty", "crv", "x", "y"], RSA: ["kty", "n", "e"] };

function publicMembers(jwk: JsonWebKey, field: string): JsonWebKey {
  const members = jwk.kty === undefined ? undefined : PUBLIC_MEMBERS[jwk.kty];
  if (members === undefined) throw new TypeError(`${field}: kty must be EC or RSA`);
  const source = jwk as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof source[m] !== "string" || source[m] === "") throw new TypeError(`${field}: ${m} is missing`);
    out[m] = source[m];
  }
  return out as JsonWebKey;
}

/**
 * Builds the bundle document: one `x509-svid` JWK per CA certificate (`x5c` with
 * that one certificate, no `kid`; item 92) and one `jwt-svid` JWK per JWT
 * authority (with `kid`; item 94).
 * @throws PemError if an X.509 authority is not a certificate PEM; TypeError on caller misuse.
 * @example
 * const doc = buildSpiffeBundle({ x509AuthoritiesPem: [rootPem], jwtAuthorities: [{ kid, publicJwk }], sequence: 1, refreshHintSeconds: 300 });
 */
export function buildSpiffeBundle(p: {
  x509AuthoritiesPem: string[];
  jwtAuthorities: JwtAuthority[];
  sequence: number;
  refreshHintSeconds: number;
}): SpiffeBundleDocument {
  if (!Number.isSafeInteger(p.sequence) || p.sequence < 0) throw new TypeError("sequence must be a non-negative integer");
  if (!Number.isSafeInteger(p.refreshHintSeconds) || p.refreshHintSeconds < 1) {
    throw new TypeError("refreshHintSeconds must be a positive integer");
  }
  const keys: Record<string, unknown>[] = [];
  for (const { der, certificate, field } of authorityCertificates(p.x509AuthoritiesPem)) {
    keys.push({
      ...publicJwkFromSpki(certificate.publicKey.rawData, field),
      use: USE_X509_SVID,
      x5c: [toBase64(new Uint8Array(der))],
    });
  }
  const kids = new Set<string>();
  p.jwtAuthorities.forEach((authority, i) => {
    const field = `jwtAuthorities[${i}]`;
    if (typeof authority.kid !== "string" || authority.kid === "") throw new TypeError(`${field}: kid is required`);
    if (kids.has(authority.kid)) throw new TypeError(`${field}: duplicate kid ${authority.kid}`);
    if ("d" in authority.publicJwk) throw new TypeError(`${field}: publicJwk contains private key material`);
    kids.add(authority.kid);
    keys.push({ ...publicMembers(authority.publicJwk, field), kid: authority.kid, use: USE_JWT_SVID });
  });
  return { keys, spiffe_sequence: p.sequence, spiffe_refresh_hint: p.refreshHintSeconds };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalCount(doc: Record<string, unknown>, name: string, min: number): number | undefined {
  const v = doc[name];
  if (v === undefined) return undefined;
  // spiffe_sequence is 64-bit (item 87); JSON numbers above 2^53 lose precision but are still integers.
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new BundleError(`${name} must be an integer >= ${min}`, { field: name });
  }
  return v;
}

const EC_CURVES = new Set(["P-256", "P-384", "P-521"]);

/** Checks a `jwt-svid` JWK's public members; private members are refused. */
function jwtVerificationKey(jwk: Record<string, unknown>, field: string): JsonWebKey {
  for (const priv of ["d", "p", "q", "dp", "dq", "qi", "k"]) {
    if (priv in jwk) throw new BundleError(`${field}: a bundle key must not contain private member "${priv}"`, { field });
  }
  if (jwk.kty === "EC" && (typeof jwk.crv !== "string" || !EC_CURVES.has(jwk.crv))) {
    throw new BundleError(`${field}.crv: must be P-256, P-384 or P-521`, { field: `${field}.crv` });
  }
  const out: Record<string, unknown> = {};
  for (const m of PUBLIC_MEMBERS[jwk.kty as string] ?? []) {
    if (typeof jwk[m] !== "string" || jwk[m] === "") {
      throw new BundleError(`${field}.${m}: is required for kty ${String(jwk.kty)}`, { field: `${field}.${m}` });
    }
    out[m] = jwk[m];
  }
  return out as JsonWebKey;
}

/**
 * Parses a bundle document (already JSON-decoded) for `trustDomain` as a verifier.
 * `keys` is required (it may be empty). JWKs with an unknown `kty`, or a missing or
 * unknown `use`, are ignored (items 90, 91); `x509-svid` keys without `x5c` are
 * ignored and only the first `x5c` entry is used (item 93); a `jwt-svid` key
 * without `kid` fails the whole bundle (item 94).
 * @throws BundleError naming the field.
 */
export function parseSpiffeBundle(trustDomain: string, doc: unknown): TrustBundle {
  const td = parseTrustDomain(trustDomain);
  if (!isObject(doc)) throw new BundleError("bundle must be a JSON object");
  const rawKeys = doc.keys;
  if (rawKeys === undefined) throw new BundleError("keys is required (it may be an empty array)", { field: "keys" });
  if (!Array.isArray(rawKeys)) throw new BundleError("keys must be an array", { field: "keys" });
  const sequence = optionalCount(doc, "spiffe_sequence", 0);
  const refreshHintSeconds = optionalCount(doc, "spiffe_refresh_hint", 1);

  const x509AuthoritiesDer: Uint8Array[] = [];
  const jwtAuthorities = new Map<string, JsonWebKey>();
  rawKeys.forEach((jwk: unknown, i) => {
    const field = `keys[${i}]`;
    if (!isObject(jwk)) throw new BundleError(`${field}: must be a JSON object`, { field });
    if (typeof jwk.kty !== "string" || PUBLIC_MEMBERS[jwk.kty] === undefined) return;
    if (jwk.use === USE_X509_SVID) {
      const x5c = jwk.x5c;
      if (!Array.isArray(x5c) || x5c.length === 0) return;
      const first: unknown = x5c[0];
      const der = typeof first === "string" ? fromBase64(first) : undefined;
      if (der === undefined) {
        throw new BundleError(`${field}.x5c[0]: must be standard base64 DER`, { field: `${field}.x5c[0]` });
      }
      try {
        parseCertificateDer(der.buffer, `${field}.x5c[0]`);
      } catch (cause) {
        throw new BundleError(`${field}.x5c[0]: not a DER X.509 certificate`, { field: `${field}.x5c[0]`, cause });
      }
      x509AuthoritiesDer.push(der);
    } else if (jwk.use === USE_JWT_SVID) {
      if (typeof jwk.kid !== "string" || jwk.kid === "") {
        throw new BundleError(`${field}.kid: a jwt-svid key must have a kid`, { field: `${field}.kid` });
      }
      if (jwtAuthorities.has(jwk.kid)) {
        throw new BundleError(`${field}.kid: duplicate kid ${JSON.stringify(jwk.kid)}`, { field: `${field}.kid` });
      }
      jwtAuthorities.set(jwk.kid, jwtVerificationKey(jwk, field));
    }
  });
  const bundle: TrustBundle = { trustDomain: td, x509AuthoritiesDer, jwtAuthorities };
  if (sequence !== undefined) bundle.sequence = sequence;
  if (refreshHintSeconds !== undefined) bundle.refreshHintSeconds = refreshHintSeconds;
  return bundle;
}

/**
 * Concatenates the CA certificates as PEM (64-column lines, one block per certificate),
 * e.g. for a `ca.pem` trust file.
 * @throws PemError if an input is not certificate PEM.
 */
export function bundlePem(x509AuthoritiesPem: string[]): string {
  return authorityCertificates(x509AuthoritiesPem)
    .map(({ der }) => encodePem(der, PEM_CERTIFICATE))
    .join("");
}

/** A {@link TrustBundleSet} from individual bundles. @throws TypeError on duplicate trust domains. */
export function trustBundleSet(bundles: Iterable<TrustBundle>): TrustBundleSet {
  const set = new Map<string, TrustBundle>();
  for (const b of bundles) {
    if (set.has(b.trustDomain)) throw new TypeError(`duplicate bundle for trust domain ${b.trustDomain}`);
    set.set(b.trustDomain, b);
  }
  return set;
}
