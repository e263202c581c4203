// PKCS#10 parsing: proof of possession, key policy, identity checks (checklist item 35).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseCsr } from "../../src/identity/csr.ts";
import { StraitError } from "../../src/core/errors.ts";
import { CsrError, CsrIdentityMismatchError, CsrSignatureError, PemError, UnsupportedKeyError } from "../../src/identity/errors.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { x509 } from "../../src/identity/x509.ts";

const run = promisify(execFile);
const ID = SpiffeId.parse("spiffe://strait.local/ns/default/sa/web");
const P256 = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-csr-"));
});
after(() => rm(dir, { recursive: true, force: true }));

function san(names: x509.JsonGeneralNames): x509.Extension[] {
  return [new x509.SubjectAlternativeNameExtension(names)];
}

/** A CSR made in-process with WebCrypto + @peculiar/x509. */
async function webCryptoCsr(names: x509.JsonGeneralNames, subject?: string): Promise<string> {
  const keys = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: ES256,
    extensions: names.length === 0 ? [] : san(names),
    ...(subject === undefined ? {} : { name: subject }),
  });
  return csr.toString("pem");
}

/** A CSR made by the openssl CLI for a freshly generated key (`genpkey` arguments). */
async function opensslCsr(name: string, genpkey: string[], sanText?: string): Promise<string> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  await run("openssl", ["genpkey", ...genpkey, "-out", keyPath]);
  await run("openssl", ["req", "-new", "-key", keyPath, "-subj", "/CN=ignored", ...(sanText ? ["-addext", `subjectAltName=${sanText}`] : []), "-out", csrPath]);
  return readFile(csrPath, "utf8");
}

describe("accepted CSRs", () => {
  test("item 35: WebCrypto P-256 CSR with the expected URI SAN passes proof of possession", async () => {
    const parsed = await parseCsr(await webCryptoCsr([{ type: "url", value: ID.toString() }, { type: "dns", value: "web.default.svc" }]), ID);
    assert.equal(parsed.keyAlgorithm, "ECDSA P-256");
    assert.deepEqual(parsed.requestedUris, [ID.toString()]);
    assert.deepEqual(parsed.requestedDnsNames, ["web.default.svc"]);
    assert.equal(parsed.publicKey.type, "public");
    assert.equal((parsed.publicKey.algorithm as { namedCurve?: string }).namedCurve, "P-256");
  });

  test("item 35: a CSR with no SAN at all is fine, the identity comes from the caller", async () => {
    const parsed = await parseCsr(await webCryptoCsr([], "CN=spiffe://strait.local/ns/kube-system/sa/admin"), ID);
    assert.deepEqual(parsed.requestedUris, []);
    assert.deepEqual(parsed.requestedDnsNames, []);
  });

  test("openssl req P-256 CSR is accepted", async () => {
    const parsed = await parseCsr(await opensslCsr("p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], `URI:${ID.toString()}`), ID);
    assert.equal(parsed.keyAlgorithm, "ECDSA P-256");
    assert.deepEqual(parsed.requestedUris, [ID.toString()]);
  });

  test("openssl req RSA 2048 and RSA 3072 CSRs are accepted", async () => {
    const rsa2048 = await parseCsr(await opensslCsr("rsa2048", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]), ID);
    assert.equal(rsa2048.keyAlgorithm, "RSA 2048");
    const rsa3072 = await parseCsr(await opensslCsr("rsa3072", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"]), ID);
    assert.equal(rsa3072.keyAlgorithm, "RSA 3072");
  });

  test("an openssl RSA-PSS-signed CSR over an rsaEncryption key is accepted", async () => {
    const keyPath = join(dir, "pss.key");
    const csrPath = join(dir, "pss.csr");
    await run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath]);
    await run("openssl", ["req", "-new", "-key", keyPath, "-subj", "/CN=x", "-sigopt", "rsa_padding_mode:pss", "-sha256", "-out", csrPath]);
    const parsed = await parseCsr(await readFile(csrPath, "utf8"), ID);
    assert.equal(parsed.keyAlgorithm, "RSA 2048");
  });
});

describe("refused keys: UnsupportedKeyError naming the key", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["p384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], /ECDSA P-384/],
    ["secp256k1", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"], /ECDSA K-256/],
    ["ed25519", ["-algorithm", "ED25519"], /Ed25519/],
    ["rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], /RSA 1024/],
  ];
  for (const [name, genpkey, message] of cases) {
    test(`${name} is refused`, async () => {
      const pem = await opensslCsr(name, genpkey, `URI:${ID.toString()}`);
      await assert.rejects(parseCsr(pem, ID), (err: unknown) => {
        assert.ok(err instanceof UnsupportedKeyError, String(err));
        assert.match(err.message, message);
        assert.equal(err.field, "csr");
        assert.equal(err.code, "ERR_KEY_UNSUPPORTED");
        assert.equal(err.category, "invalid");
        return true;
      });
    });
  }
});

describe("proof of possession", () => {
  test("a CSR signed by a key other than the one it carries: CsrSignatureError", async () => {
    const a = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const b = (await crypto.subtle.generateKey(P256, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      keys: { publicKey: a.publicKey, privateKey: b.privateKey },
      signingAlgorithm: ES256,
      extensions: san([{ type: "url", value: ID.toString() }]),
    });
    await assert.rejects(parseCsr(csr.toString("pem"), ID), (err: unknown) => err instanceof CsrSignatureError && err.field === "csr" && /proof of possession/.test(err.message));
  });
});

describe("weak signature algorithms: CsrSignatureError", () => {
  test("ecdsa-with-SHA1 and md5WithRSAEncryption are refused before verification", async () => {
    const ecKey = join(dir, "weak-ec.key");
    await run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ecKey]);
    const { stdout: sha1 } = await run("openssl", ["req", "-new", "-key", ecKey, "-subj", "/CN=x", "-sha1"]);
    await assert.rejects(parseCsr(sha1, ID), (err: unknown) => err instanceof CsrSignatureError && err.field === "csr" && /ECDSA with SHA-1 is not accepted/.test(err.message));
    const rsaKey = join(dir, "weak-rsa.key");
    await run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsaKey]);
    const { stdout: md5 } = await run("openssl", ["req", "-new", "-key", rsaKey, "-subj", "/CN=x", "-md5"]);
    await assert.rejects(parseCsr(md5, ID), (err: unknown) => err instanceof CsrSignatureError && /1\.2\.840\.113549\.1\.1\.4 is not accepted/.test(err.message));
    const { stdout: sha384 } = await run("openssl", ["req", "-new", "-key", ecKey, "-subj", "/CN=x", "-sha384"]);
    assert.equal((await parseCsr(sha384, ID)).keyAlgorithm, "ECDSA P-256");
  });
});

describe("identity checks: CsrIdentityMismatchError", () => {
  test("two URI SANs, even when one is the expected ID", async () => {
    const pem = await webCryptoCsr([
      { type: "url", value: ID.toString() },
      { type: "url", value: "spiffe://strait.local/ns/default/sa/other" },
    ]);
    await assert.rejects(parseCsr(pem, ID), (err: unknown) => err instanceof CsrIdentityMismatchError && /2 URIs/.test(err.message));
  });

  test("a URI SAN naming another workload", async () => {
    const pem = await webCryptoCsr([{ type: "url", value: "spiffe://strait.local/ns/kube-system/sa/admin" }]);
    await assert.rejects(parseCsr(pem, ID), (err: unknown) => err instanceof CsrIdentityMismatchError && err.field === "csr" && /does not match/.test(err.message));
  });

  test("a URI SAN in another trust domain, and one differing only in path case (item 17/19)", async () => {
    await assert.rejects(parseCsr(await webCryptoCsr([{ type: "url", value: "spiffe://evil.example/ns/default/sa/web" }]), ID), CsrIdentityMismatchError);
    await assert.rejects(parseCsr(await webCryptoCsr([{ type: "url", value: "spiffe://strait.local/ns/default/sa/Web" }]), ID), CsrIdentityMismatchError);
  });

  test("openssl CSR with two URIs", async () => {
    const pem = await opensslCsr("twouri", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], `URI:${ID.toString()},URI:https://example.com/`);
    await assert.rejects(parseCsr(pem, ID), CsrIdentityMismatchError);
  });
});

describe("malformed input", () => {
  test("not PEM, wrong label, two blocks, broken base64: PemError naming csr", async () => {
    const good = await webCryptoCsr([]);
    const isPemError = (err: unknown): boolean => err instanceof PemError && err.field === "csr" && err.code === "ERR_PEM_INVALID";
    await assert.rejects(parseCsr("hello", ID), isPemError);
    await assert.rejects(parseCsr("", ID), isPemError);
    await assert.rejects(parseCsr(good.replaceAll("CERTIFICATE REQUEST", "CERTIFICATE"), ID), isPemError);
    await assert.rejects(parseCsr(good + good, ID), isPemError);
    await assert.rejects(parseCsr("-----BEGIN CERTIFICATE REQUEST-----\n@@@@\n-----END CERTIFICATE REQUEST-----\n", ID), isPemError);
  });

  test("right label, bytes that are not PKCS#10: CsrError naming csr", async () => {
    const pem = x509.PemConverter.encode(new TextEncoder().encode("definitely not DER"), "CERTIFICATE REQUEST");
    await assert.rejects(parseCsr(pem, ID), (err: unknown) => err instanceof CsrError && err.field === "csr" && err.code === "ERR_CSR_INVALID");
  });

  test("a certificate's DER under a CSR label: CsrError, not a crash", async () => {
    const certPath = join(dir, "self.pem");
    const keyPath = join(dir, "self.key");
    await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-subj", "/CN=x", "-days", "1", "-out", certPath]);
    const pem = (await readFile(certPath, "utf8")).replaceAll("CERTIFICATE", "CERTIFICATE REQUEST");
    await assert.rejects(parseCsr(pem, ID), (err: unknown) => err instanceof CsrError && err.code === "ERR_CSR_INVALID");
  });

  test("corrupted CSRs (seeded byte flips and truncations) only ever raise client errors, never a crash", async () => {
    const pem = await webCryptoCsr([{ type: "url", value: ID.toString() }, { type: "dns", value: "a.example" }]);
    const der = new Uint8Array(x509.PemConverter.decodeFirst(pem));
    let seed = 0x5eed;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const bytes = i % 4 === 3 ? der.slice(0, next() % der.length) : der.slice();
      if (i % 4 !== 3) for (let k = 0; k < 1 + (i % 3); k++) bytes[next() % bytes.length] = next() & 0xff;
      try {
        await parseCsr(x509.PemConverter.encode(bytes, "CERTIFICATE REQUEST"), ID);
      } catch (err) {
        assert.ok(err instanceof StraitError && err.category === "invalid" && err.field === "csr", `mutation ${i}: ${String(err)}`);
        refused++;
      }
    }
    assert.ok(refused > 350, `only ${refused} of 400 corrupted CSRs were refused`);
  });
});
