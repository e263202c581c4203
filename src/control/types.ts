import type { ControlEnv } from "./env.ts";

/** Who is calling the control API. Set by the `authenticate` middleware (src/control/auth.ts). */
export type Principal =
  | { type: "admin" }
  | {
      type: "node";
      spiffeId: string;
      cluster: string;
      node: string;
      /**
       * "publisher": the JWT-SVID is verified but "attested and not revoked" is left to the
       * publisher object, which knows both from memory (snapshot reads only: an idle proxy's
       * long-poll then costs no D1 read). Absent: checked against D1 here.
       */
      standing?: "publisher";
    }
  | {
      type: "token";
      tokenId: string;
      subject: string;
      /** Namespaces the token may touch; `["*"]` means all. */
      namespaces: string[];
      access: "read" | "write";
    };

/** Hono generics of the control worker. */
export interface ControlApp {
  Bindings: ControlEnv;
  Variables: {
    principal: Principal | undefined;
  };
}
