/**
 * SvidManager: the node's own identity and the X.509-SVIDs of the workloads placed
 * on it. Keys are generated here and never leave the node (the state file that keeps
 * them for restarts is 0600). Every SVID is renewed at about half its lifetime with
 * jitter, each identity backing off on its own; a renewed SVID replaces the old one
 * for new connections at once; an SVID that could not be renewed before it expired
 * is withdrawn (`credentialsFor` answers undefined): that identity fails closed.
 *
 * @example
 * const manager = await SvidManager.start({ api, settings, clock, store, logger });
 * await manager.setWorkloads(["spiffe://strait.local/ns/shop/sa/reviews"]);
 * manager.credentialsFor("spiffe://strait.local/ns/shop/sa/reviews"); // { certChainPem, keyPem, ... }
 */
import type { Clock } from "../../core/clock.ts";
import { StraitError } from "../../core/errors.ts";
import { x509 } from "../../identity/x509.ts";
import type { StateStore } from "../config/state-store.ts";
import type { AttestationSettings, IdentityChange, ProxyLogger, SvidCredentials, SvidSource, SvidStatus, TrustBundleView } from "../context.ts";
import type { ControlApi, NodeCredentialsAnswer, X509SvidAnswer } from "./control-api.ts";
import { ControlApiError, IssuedSvidMismatchError, NodeIdentityError } from "./errors.ts";
import { certificateMatchesKey, createCsr, generateLocalKey, type LocalKey } from "./keys.ts";
import { attestWith, renewWith } from "./node-attestation.ts";
import { verifyPeerChain, type TrustAnchors } from "./peer-verifier.ts";
import { DEFAULT_BACKOFF, backoffDelay, renewalTime, timerScheduler, type BackoffPolicy, type Scheduler } from "./renewal-schedule.ts";
import { loadBundle, type LoadedBundle } from "./trust-bundle.ts";

/** The control plane accepts at most this many SVID requests per call. */
const SVID_BATCH = 32;
/** Floor of any renewal delay (guards against a renewal loop on odd certificates). */
const MIN_RENEW_DELAY_MS = 1000;
/** Least time between two renewals asked for by the control API (see `reauthenticate`). */
const REAUTH_MIN_INTERVAL_MS = 30_000;

export interface SvidManagerOptions {
  api: ControlApi;
  settings: { attestation: AttestationSettings; cluster: string; node: string };
  clock: Clock;
  store: StateStore;
  logger: ProxyLogger;
  random?: () => number;
  scheduler?: Scheduler;
  backoff?: BackoffPolicy;
}

interface Held {
  creds: SvidCredentials;
  renewAt: number;
  failures: number;
  lastError?: string;
  renewTimer?: { cancel(): void };
  expiryTimer?: { cancel(): void };
  inFlight?: Promise<void>;
}

interface NodeHeld extends Held {
  jwt: { token: string; expiresAt: number; receivedAt: number };
}

/** What identity.json holds (0600). */
interface PersistedIdentity {
  version: 1;
  node: SvidCredentials & { jwt: NodeHeld["jwt"] };
  workloads: SvidCredentials[];
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isCredentials(v: unknown): v is SvidCredentials {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.spiffeId === "string" && typeof o.certChainPem === "string" && typeof o.keyPem === "string" && typeof o.serial === "string" && typeof o.notBefore === "number" && typeof o.notAfter === "number";
}

export class SvidManager implements SvidSource {
  private node: NodeHeld | undefined;
  private readonly workloads = new Map<string, Held>();
  private wanted = new Set<string>();
  private bundleState: LoadedBundle | undefined;
  private revoked: ReadonlySet<string> = new Set();
  private readonly listeners = new Set<(change: IdentityChange) => void>();
  private readonly random: () => number;
  private readonly scheduler: Scheduler;
  private readonly backoff: BackoffPolicy;
  private closed = false;
  private trustDomain = "";
  /**
   * Whether this process has already attested with the configured join token (spent: single use).
   * A proxy restarted with a NEW join token restores its identity from disk first; when its renewal
   * is then refused (evicted), it attests with that token, once.
   */
  private joinTokenUsed = false;

  private constructor(private readonly o: SvidManagerOptions) {
    this.random = o.random ?? Math.random;
    this.scheduler = o.scheduler ?? timerScheduler;
    this.backoff = o.backoff ?? DEFAULT_BACKOFF;
  }

  /**
   * Restores the identity from the state directory when it is still usable, otherwise attests.
   * With the control plane down and a valid identity on disk, the proxy starts from disk.
   * @throws NodeIdentityError / ControlApiError when neither works.
   */
  static async start(o: SvidManagerOptions): Promise<SvidManager> {
    const m = new SvidManager(o);
    // A call that finds the JWT-SVID expired or refused renews the node first (by X.509 proof of possession).
    o.api.setReauthenticator(() => m.reauthenticate());
    const restored = await m.restore();
    if (!restored) await m.attest();
    m.scheduleNode();
    return m;
  }

  // ------------------------------------------------------------ SvidSource

  credentialsFor(spiffeId: string): SvidCredentials | undefined {
    const held = spiffeId === this.node?.creds.spiffeId ? this.node : this.workloads.get(spiffeId);
    if (held === undefined) return undefined;
    const now = this.o.clock.now();
    if (now >= held.creds.notAfter || now < held.creds.notBefore) return undefined;
    return held.creds;
  }

  nodeSpiffeId(): string {
    if (this.node === undefined) throw new TypeError("SvidManager used before start()");
    return this.node.creds.spiffeId;
  }

  bundle(): TrustBundleView {
    if (this.bundleState === undefined) throw new TypeError("SvidManager used before start()");
    return this.bundleState.view;
  }

  /** Verifier anchors of the current bundle (own trust domain only). */
  anchors(): TrustAnchors {
    if (this.bundleState === undefined) throw new TypeError("SvidManager used before start()");
    return this.bundleState.anchors;
  }

  isRevoked(spiffeId: string): boolean {
    return this.revoked.has(spiffeId);
  }

  onChange(listener: (change: IdentityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): SvidStatus[] {
    const now = this.o.clock.now();
    const all = [...(this.node === undefined ? [] : [this.node]), ...this.workloads.values()];
    return all.map((h) => ({
      spiffeId: h.creds.spiffeId,
      serial: h.creds.serial,
      notBefore: new Date(h.creds.notBefore).toISOString(),
      notAfter: new Date(h.creds.notAfter).toISOString(),
      renewAt: new Date(h.renewAt).toISOString(),
      state: now >= h.creds.notAfter ? "expired" : h.failures > 0 ? "renewing" : "valid",
      ...(h.lastError === undefined ? {} : { lastError: h.lastError }),
    }));
  }

  // ------------------------------------------------------------ node identity

  /** The node's JWT-SVID for the control API while it is valid. */
  bearer(): string | undefined {
    const jwt = this.node?.jwt;
    return jwt !== undefined && this.o.clock.now() < jwt.expiresAt ? jwt.token : undefined;
  }

  private async restore(): Promise<boolean> {
    const [identity, bundle] = await Promise.all([this.o.store.read("identity.json"), this.o.store.read("bundle.json")]);
    if (typeof identity !== "object" || identity === null || bundle === undefined) return false;
    const p = identity as Partial<PersistedIdentity>;
    if (p.version !== 1 || !isCredentials(p.node) || !Array.isArray(p.workloads)) return false;
    const now = this.o.clock.now();
    if (now >= p.node.notAfter) {
      const notAfter = new Date(p.node.notAfter).toISOString();
      if (this.o.settings.attestation.kind === "join-token") {
        this.o.logger.error("node X.509-SVID in the state directory has expired: a join-token node must attest again with a NEW join token (strait join-token create); trying the configured one", { notAfter });
      } else {
        this.o.logger.warn("node X.509-SVID in the state directory has expired; attesting again with the projected service-account token", { notAfter });
      }
      return false;
    }
    const trustDomain = new URL(p.node.spiffeId).host;
    if (!p.node.spiffeId.endsWith(`/node/${this.o.settings.cluster}/${this.o.settings.node}`)) {
      this.o.logger.warn("the state directory belongs to another node; attesting again", { spiffeId: p.node.spiffeId });
      return false;
    }
    try {
      this.bundleState = loadBundle(trustDomain, bundle);
    } catch (err) {
      this.o.logger.warn("bundle on disk is unusable; attesting again", { error: errorText(err) });
      return false;
    }
    this.trustDomain = trustDomain;
    const jwt = p.node.jwt;
    const { jwt: _jwt, ...nodeCreds } = p.node;
    this.node = { creds: nodeCreds, jwt, renewAt: 0, failures: 0 };
    this.node.renewAt = this.nodeRenewAt(this.node);
    for (const w of p.workloads) {
      if (isCredentials(w) && now < w.notAfter) this.installWorkload(w);
    }
    this.o.logger.info("identity restored from the state directory", { spiffeId: this.node.creds.spiffeId, workloads: this.workloads.size });
    return true;
  }

  private async attest(): Promise<void> {
    const key = await generateLocalKey();
    this.joinTokenUsed = this.o.settings.attestation.kind === "join-token";
    const answer = await attestWith(this.o.api, this.o.settings.attestation, key, undefined);
    await this.installNode(answer, key);
    this.o.logger.info("node attested", { spiffeId: answer.spiffeId, attestation: this.o.settings.attestation.kind });
  }

  private async installNode(answer: NodeCredentialsAnswer, key: LocalKey): Promise<void> {
    const trustDomain = new URL(answer.spiffeId).host;
    const bundle = loadBundle(trustDomain, answer.bundle);
    const creds = await this.checkIssued(answer.spiffeId, { spiffeId: answer.spiffeId, ...answer.x509Svid }, key, bundle.anchors);
    const now = this.o.clock.now();
    const jwtExpiresAt = Date.parse(answer.jwtSvid.expiresAt);
    if (!Number.isFinite(jwtExpiresAt)) throw new ControlApiError("node credentials: jwtSvid.expiresAt is not a date", undefined);
    const previous = this.node;
    previous?.renewTimer?.cancel();
    previous?.expiryTimer?.cancel();
    this.trustDomain = trustDomain;
    const bundleChanged = this.bundleState?.view.x509AuthoritiesPem !== bundle.view.x509AuthoritiesPem || this.bundleState?.view.sequence !== bundle.view.sequence;
    this.bundleState = bundle;
    if (jwtExpiresAt <= now) {
      this.o.logger.error("the JWT-SVID the control plane just issued is already expired on this node's clock: check the clock (NTP) of this node and of the control plane", {
        expiresAt: answer.jwtSvid.expiresAt,
        now: new Date(now).toISOString(),
      });
    }
    this.node = { creds, jwt: { token: answer.jwtSvid.token, expiresAt: jwtExpiresAt, receivedAt: now }, renewAt: 0, failures: 0 };
    this.node.renewAt = this.nodeRenewAt(this.node, true);
    await Promise.all([this.o.store.write("bundle.json", bundle.document), this.persist()]);
    this.emit({ kind: "svid", spiffeId: creds.spiffeId });
    if (bundleChanged) this.emit({ kind: "bundle" });
  }

  /** The earlier of the X.509-SVID's and the JWT-SVID's renewal points. */
  private nodeRenewAt(n: NodeHeld, fresh = false): number {
    const x509 = this.renewAt(n.creds.notBefore, n.creds.notAfter, fresh);
    // A JWT-SVID expired on arrival (clock skew) is not renewed every second; the X.509 half life
    // and the control API's reauthentication (at most every 30 s) still apply.
    if (fresh && n.jwt.expiresAt <= this.o.clock.now()) return x509;
    return Math.min(x509, this.renewAt(n.jwt.receivedAt, n.jwt.expiresAt, fresh));
  }

  /**
   * Half life with jitter. A freshly issued credential counts its lifetime from now: issuers backdate
   * notBefore (30 s here, 2 min in Istio), which would put a short-lived SVID's half life in the past
   * and renew it in a loop. Never sooner than 1 s from now.
   */
  private renewAt(notBefore: number, notAfter: number, fresh: boolean): number {
    const now = this.o.clock.now();
    const start = fresh ? Math.max(notBefore, Math.min(now, notAfter)) : notBefore;
    return Math.max(renewalTime(start, notAfter, this.random), now + MIN_RENEW_DELAY_MS);
  }

  private scheduleNode(): void {
    const n = this.node;
    if (n === undefined || this.closed) return;
    n.renewTimer?.cancel();
    n.renewTimer = this.scheduler.schedule(() => void this.renewNode(), n.renewAt - this.o.clock.now());
  }

  /**
   * For the control API when the JWT-SVID is missing, expired or refused: renew the node (by proof
   * of possession of its X.509-SVID key, which needs no JWT-SVID). Not again within
   * REAUTH_MIN_INTERVAL_MS of a renewal whose JWT-SVID was already unusable (clock skew): that
   * would only renew in a loop.
   */
  async reauthenticate(): Promise<void> {
    const n = this.node;
    if (n === undefined) return;
    const now = this.o.clock.now();
    if (now < n.jwt.receivedAt + REAUTH_MIN_INTERVAL_MS && now >= n.jwt.expiresAt) return;
    await this.renewNode();
  }

  /** Renews the node identity now (also used by tests and after an outage). */
  async renewNode(): Promise<void> {
    const n = this.node;
    if (n === undefined || this.closed) return;
    if (n.inFlight !== undefined) return n.inFlight;
    n.inFlight = (async () => {
      try {
        const next = await generateLocalKey();
        const now = this.o.clock.now();
        let answer: NodeCredentialsAnswer;
        // The X.509-SVID is the long-lived credential: proof of possession of its key alone renews,
        // whether or not the JWT-SVID is still valid (it may have expired during an outage).
        if (now < n.creds.notAfter) {
          answer = await this.renewOrReattest(n, next);
        } else if (this.o.settings.attestation.kind === "k8s-psat") {
          // A projected token can attest again (SPIRE CanReattest); a join token is single-use.
          answer = await attestWith(this.o.api, this.o.settings.attestation, next, n.creds.spiffeId);
        } else {
          throw new NodeIdentityError(
            `the node's X.509-SVID expired at ${new Date(n.creds.notAfter).toISOString()} before it could be renewed; a join-token node cannot attest again by itself: ` +
              "create a new join token (strait join-token create) and restart strait-proxy with it",
          );
        }
        await this.installNode(answer, next);
        this.o.logger.info("node SVID renewed", { spiffeId: answer.spiffeId, serial: answer.x509Svid.serial });
      } catch (err) {
        n.failures += 1;
        n.lastError = errorText(err);
        n.renewAt = this.o.clock.now() + backoffDelay(n.failures, this.random, this.backoff);
        const fields = { error: n.lastError, failures: n.failures, retryAt: new Date(n.renewAt).toISOString() };
        // Retrying cannot fix these; an operator must act (the message says what to do).
        if (err instanceof NodeIdentityError) this.o.logger.error("node identity lost: operator action needed", fields);
        else this.o.logger.warn("node SVID renewal failed", fields);
      } finally {
        n.inFlight = undefined;
        if (!this.closed) this.scheduleNode();
      }
    })();
    return n.inFlight;
  }

  /**
   * Renewal by proof of possession; a PSAT node whose certificate the control plane refuses for
   * good (evicted, or a renewal answer was lost, so its serial is no longer current) attests again.
   * A join-token node cannot, except once with a join token this process has not spent yet (the
   * operator restarted it with a new one); otherwise its refusal (401/403) is a NodeIdentityError
   * saying what to do.
   */
  private async renewOrReattest(n: NodeHeld, next: LocalKey): Promise<NodeCredentialsAnswer> {
    try {
      return await renewWith(this.o.api, n.creds, next);
    } catch (err) {
      if (!(err instanceof ControlApiError && err.permanent)) throw err;
      const attestation = this.o.settings.attestation;
      if (attestation.kind === "k8s-psat") {
        this.o.logger.warn("node renewal refused; attesting again with the projected service-account token", { error: errorText(err) });
        return attestWith(this.o.api, attestation, next, n.creds.spiffeId);
      }
      if (err.status !== 401 && err.status !== 403) throw err;
      let refused = err.message;
      if (!this.joinTokenUsed && attestation.token !== "") {
        this.o.logger.warn("node renewal refused; attesting with the configured join token (not used by this process yet)", { error: errorText(err) });
        try {
          const answer = await attestWith(this.o.api, attestation, next, n.creds.spiffeId);
          this.joinTokenUsed = true;
          return answer;
        } catch (attestErr) {
          // Unanswered (control plane unreachable): the token is tried again at the next renewal.
          if (!(attestErr instanceof ControlApiError && attestErr.permanent)) throw attestErr;
          this.joinTokenUsed = true;
          refused += `; the configured join token was refused too (${attestErr.message})`;
        }
      }
      throw new NodeIdentityError(
        `the control plane refused this node's renewal (${refused}): the node was evicted or revoked, or its X.509-SVID is no longer its current one; ` +
          "a join-token node cannot attest again by itself: create a new join token (strait join-token create) and restart strait-proxy with it",
        { cause: err },
      );
    }
  }

  // ------------------------------------------------------------ workloads

  /**
   * The identities of the workloads placed on this node (from the snapshot). New ones are fetched
   * (in batches), ones no longer placed are dropped. Resolves once every new identity was tried once.
   */
  async setWorkloads(spiffeIds: Iterable<string>): Promise<void> {
    this.wanted = new Set(spiffeIds);
    for (const [id, held] of this.workloads) {
      if (!this.wanted.has(id)) {
        held.renewTimer?.cancel();
        held.expiryTimer?.cancel();
        this.workloads.delete(id);
        this.emit({ kind: "expired", spiffeId: id });
      }
    }
    const now = this.o.clock.now();
    const missing = [...this.wanted].filter((id) => {
      const h = this.workloads.get(id);
      return h === undefined || now >= h.creds.notAfter;
    });
    for (let i = 0; i < missing.length; i += SVID_BATCH) await this.fetchBatch(missing.slice(i, i + SVID_BATCH));
    for (const id of this.wanted) {
      const h = this.workloads.get(id);
      if (h !== undefined && h.renewTimer === undefined) this.scheduleWorkload(id);
    }
    await this.persist();
  }

  private async fetchBatch(ids: string[]): Promise<void> {
    const keys = await Promise.all(ids.map(() => generateLocalKey()));
    let answers: X509SvidAnswer[];
    try {
      const requests = await Promise.all(ids.map(async (spiffeId, i) => ({ spiffeId, csr: await createCsr(keys[i] as LocalKey, spiffeId) })));
      answers = await this.o.api.svids(requests);
    } catch (err) {
      // A batch refused as a whole (e.g. one identity not registered yet): try each on its own, so one bad id cannot starve the rest.
      if (ids.length > 1 && err instanceof ControlApiError && err.permanent) {
        for (const id of ids) await this.fetchBatch([id]);
        return;
      }
      for (const id of ids) this.recordFailure(id, err);
      return;
    }
    for (const [i, id] of ids.entries()) {
      const answer = answers.find((a) => a.spiffeId === id);
      try {
        if (answer === undefined) throw new IssuedSvidMismatchError(`the control plane returned no SVID for ${id}`);
        this.installWorkload(await this.checkIssued(id, answer, keys[i] as LocalKey, this.anchors()), true);
        this.emit({ kind: "svid", spiffeId: id });
      } catch (err) {
        this.recordFailure(id, err);
      }
    }
  }

  /** `fresh`: just issued, so its lifetime counts from now (issuers backdate notBefore by up to minutes). */
  private installWorkload(creds: SvidCredentials, fresh = false): void {
    const old = this.workloads.get(creds.spiffeId);
    old?.renewTimer?.cancel();
    old?.expiryTimer?.cancel();
    const held: Held = { creds, renewAt: this.renewAt(creds.notBefore, creds.notAfter, fresh), failures: 0 };
    this.workloads.set(creds.spiffeId, held);
    held.expiryTimer = this.scheduler.schedule(() => this.expire(creds.spiffeId, creds.serial), creds.notAfter - this.o.clock.now() + 1);
    if (old !== undefined || this.wanted.has(creds.spiffeId)) this.scheduleWorkload(creds.spiffeId);
  }

  private expire(id: string, serial: string): void {
    const h = this.workloads.get(id);
    if (h === undefined || h.creds.serial !== serial) return;
    this.o.logger.error("workload SVID expired before renewal; failing closed for this identity", { spiffeId: id, notAfter: new Date(h.creds.notAfter).toISOString(), lastError: h.lastError });
    this.emit({ kind: "expired", spiffeId: id });
  }

  private recordFailure(id: string, err: unknown): void {
    let h = this.workloads.get(id);
    const message = errorText(err);
    if (h === undefined) {
      // Never held: keep a placeholder so the retry schedule and the error show on /certs.
      this.o.logger.warn("workload SVID fetch failed", { spiffeId: id, error: message });
      const retryAt = this.o.clock.now() + backoffDelay(1, this.random, this.backoff);
      const pending = this.pendingFetch.get(id) ?? { failures: 0 };
      pending.failures += 1;
      this.pendingFetch.set(id, pending);
      pending.timer?.cancel();
      pending.timer = this.scheduler.schedule(() => {
        this.pendingFetch.delete(id);
        if (this.wanted.has(id) && !this.workloads.has(id) && !this.closed) void this.fetchBatch([id]).then(() => this.persist());
      }, Math.max(backoffDelay(pending.failures, this.random, this.backoff), retryAt - this.o.clock.now()));
      return;
    }
    h.failures += 1;
    h.lastError = message;
    h.renewAt = this.o.clock.now() + backoffDelay(h.failures, this.random, this.backoff);
    this.o.logger.warn("workload SVID renewal failed", { spiffeId: id, error: message, failures: h.failures });
  }

  private readonly pendingFetch = new Map<string, { failures: number; timer?: { cancel(): void } }>();

  private scheduleWorkload(id: string): void {
    const h = this.workloads.get(id);
    if (h === undefined || this.closed) return;
    h.renewTimer?.cancel();
    h.renewTimer = this.scheduler.schedule(() => void this.renewWorkload(id), h.renewAt - this.o.clock.now());
  }

  /** Renews one workload SVID now (the schedule calls this at half life). */
  async renewWorkload(id: string): Promise<void> {
    const h = this.workloads.get(id);
    if (h === undefined || this.closed) return;
    if (h.inFlight !== undefined) return h.inFlight;
    h.inFlight = (async () => {
      try {
        const key = await generateLocalKey();
            const [answer] = await this.o.api.svids([{ spiffeId: id, csr: await createCsr(key, id) }]);
        if (answer === undefined) throw new IssuedSvidMismatchError(`the control plane returned no SVID for ${id}`);
        const creds = await this.checkIssued(id, answer, key, this.anchors());
        if (!this.wanted.has(id)) return;
        this.installWorkload(creds, true);
        await this.persist();
        this.emit({ kind: "svid", spiffeId: id });
        this.o.logger.info("workload SVID renewed", { spiffeId: id, serial: creds.serial });
      } catch (err) {
        this.recordFailure(id, err);
        this.scheduleWorkload(id);
      } finally {
        const current = this.workloads.get(id);
        if (current !== undefined) current.inFlight = undefined;
        h.inFlight = undefined;
      }
    })();
    return h.inFlight;
  }

  // ------------------------------------------------------------ revocations and bundle

  /** The revocation list of the current snapshot. */
  setRevocations(spiffeIds: Iterable<string>): void {
    const next = new Set(spiffeIds);
    const same = next.size === this.revoked.size && [...next].every((id) => this.revoked.has(id));
    if (same) return;
    this.revoked = next;
    this.emit({ kind: "revocations" });
  }

  /** Fetches the published bundle (between node renewals, e.g. after a CA rotation was staged). */
  async refreshBundle(): Promise<void> {
    const doc = await this.o.api.bundle();
    const bundle = loadBundle(this.trustDomain, doc);
    if (bundle.view.sequence === this.bundleState?.view.sequence && bundle.view.x509AuthoritiesPem === this.bundleState.view.x509AuthoritiesPem) return;
    this.bundleState = bundle;
    await this.o.store.write("bundle.json", doc);
    this.emit({ kind: "bundle" });
  }

  // ------------------------------------------------------------ common

  /** Checks what the issuer returned: our key, the identity asked for, a chain to our bundle. */
  private async checkIssued(spiffeId: string, answer: X509SvidAnswer, key: LocalKey, anchors: TrustAnchors): Promise<SvidCredentials> {
    if (answer.spiffeId !== spiffeId) throw new IssuedSvidMismatchError(`asked for ${spiffeId}, got ${answer.spiffeId}`);
    if (!(await certificateMatchesKey(answer.certificatePem, key))) throw new IssuedSvidMismatchError(`the SVID for ${spiffeId} does not carry the key this node generated`);
    const chainDer = x509.PemConverter.decode(answer.chainPem);
    const now = this.o.clock.now();
    try {
      await verifyPeerChain({ chainDer, anchors, now, peerRole: "server", expected: spiffeId });
    } catch (err) {
      throw new IssuedSvidMismatchError(`the SVID issued for ${spiffeId} does not verify against the bundle: ${errorText(err)}`, { cause: err });
    }
    const leaf = new x509.X509Certificate(chainDer[0] as ArrayBuffer);
    return { spiffeId, certChainPem: answer.chainPem, keyPem: key.privateKeyPem, serial: answer.serial, notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime() };
  }

  private async persist(): Promise<void> {
    if (this.node === undefined) return;
    const doc: PersistedIdentity = { version: 1, node: { ...this.node.creds, jwt: this.node.jwt }, workloads: [...this.workloads.values()].map((h) => h.creds) };
    try {
      await this.o.store.write("identity.json", doc);
    } catch (err) {
      this.o.logger.error("cannot persist identity to the state directory", { error: errorText(err) });
    }
  }

  private emit(change: IdentityChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.o.logger.error("identity change listener failed", { error: err instanceof StraitError ? err.message : errorText(err) });
      }
    }
  }

  close(): void {
    this.closed = true;
    this.node?.renewTimer?.cancel();
    this.node?.expiryTimer?.cancel();
    for (const h of this.workloads.values()) {
      h.renewTimer?.cancel();
      h.expiryTimer?.cancel();
    }
    for (const p of this.pendingFetch.values()) p.timer?.cancel();
    this.listeners.clear();
  }
}
