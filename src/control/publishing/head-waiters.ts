/**
 * Long-polls held in memory by the publisher object: each waits for a target's version to pass
 * the one its caller knows, for at most its own wall-clock deadline (a timer, not a count of
 * polls), and each credential holds at most `maxPerCredential` at once.
 */

export interface HeadLike {
  version: number;
}

interface Waiter<H extends HeadLike> {
  target: string;
  known: number;
  credential: string;
  /** When it started waiting (ms since the epoch). */
  since: number;
  settle(head: H | undefined): void;
}

export type WaitAnswer<H> = { kind: "head"; head: H } | { kind: "timeout" } | { kind: "too-many" };

export class HeadWaiters<H extends HeadLike> {
  private readonly byTarget = new Map<string, Set<Waiter<H>>>();
  private readonly perCredential = new Map<string, number>();

  /** Waiters held now (all targets). */
  get size(): number {
    let n = 0;
    for (const s of this.byTarget.values()) n += s.size;
    return n;
  }

  /** Waiters held now for one credential. */
  heldBy(credential: string): number {
    return this.perCredential.get(credential) ?? 0;
  }

  /**
   * Waits until `notify` brings a head of `target` newer than `known`, or `waitMs` pass.
   * Refuses at once (`too-many`) when the credential already holds `maxPerCredential` waits.
   */
  wait(target: string, known: number, credential: string, waitMs: number, maxPerCredential: number): Promise<WaitAnswer<H>> {
    if (this.heldBy(credential) >= maxPerCredential) return Promise.resolve({ kind: "too-many" });
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter: Waiter<H> = {
        target,
        known,
        credential,
        since: Date.now(),
        settle: (head) => {
          if (timer !== undefined) clearTimeout(timer);
          this.remove(waiter);
          resolve(head === undefined ? { kind: "timeout" } : { kind: "head", head });
        },
      };
      let set = this.byTarget.get(target);
      if (set === undefined) {
        set = new Set();
        this.byTarget.set(target, set);
      }
      set.add(waiter);
      this.perCredential.set(credential, this.heldBy(credential) + 1);
      timer = setTimeout(() => waiter.settle(undefined), Math.max(0, waitMs));
    });
  }

  /** Answers every waiter of `target` that knows an older version than `head`; returns how many. */
  notify(target: string, head: H): number {
    const set = this.byTarget.get(target);
    if (set === undefined) return 0;
    let n = 0;
    for (const w of [...set]) {
      if (head.version > w.known) {
        w.settle(head);
        n++;
      }
    }
    return n;
  }

  /**
   * Ends, as timed out, the waits for a first version (`known` 0) of targets not in `live` that
   * began before `before`: a run that started after they asked found no such target.
   */
  expireAbsent(live: ReadonlySet<string>, before: number): number {
    let n = 0;
    for (const [target, set] of [...this.byTarget]) {
      if (live.has(target)) continue;
      for (const w of [...set]) {
        if (w.known === 0 && w.since < before) {
          w.settle(undefined);
          n++;
        }
      }
    }
    return n;
  }

  private remove(w: Waiter<H>): void {
    const set = this.byTarget.get(w.target);
    if (set === undefined || !set.delete(w)) return;
    if (set.size === 0) this.byTarget.delete(w.target);
    const left = this.heldBy(w.credential) - 1;
    if (left <= 0) this.perCredential.delete(w.credential);
    else this.perCredential.set(w.credential, left);
  }
}
