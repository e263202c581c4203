import { TrieRouter } from "hono/router/trie-router";

/** Methods a route may be registered for; HEAD is answered by every GET route (Hono runs the GET handler). */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/**
 * The methods the app's routes answer at `path`, in the order of {@link METHODS} (plus HEAD
 * after GET); empty when no route has the path. Hono itself answers a known path with an
 * unregistered method as if the path were unknown (its not-found handler); with this the
 * not-found handler can tell the two apart and answer 405 with `Allow` (RFC 9110 §15.5.6).
 *
 * The routes are read once, on first use, from the app's own table (`app.routes`), so a route
 * added anywhere is covered; middleware (method ALL) is not a route.
 *
 * @example
 * const allowed = allowedMethods(app);
 * allowed("/v1/apply"); // ["POST"]
 */
export function allowedMethods(app: { readonly routes: readonly { method: string; path: string }[] }): (path: string) => string[] {
  let router: TrieRouter<true> | undefined;
  return (path) => {
    if (router === undefined) {
      router = new TrieRouter<true>();
      for (const r of app.routes) if ((METHODS as readonly string[]).includes(r.method)) router.add(r.method, r.path, true);
    }
    const known = router;
    return METHODS.filter((m) => known.match(m, path)[0].length > 0).flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]));
  };
}
