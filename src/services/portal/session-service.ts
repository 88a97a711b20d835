import { safeEqual } from "../../crypto/hasher.ts";
import { digestToken, randomToken, type SecretBox } from "../../crypto/tokens.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Repos } from "../../store/index.ts";
import type { SessionRow } from "../../store/repos/sessions.ts";
import type { User } from "../../store/repos/users.ts";
import type { Clock } from "../context.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";

export interface PortalSession {
  idHash: string;
  user: User;
  createdAt: number;
  expiresAt: number;
  idleExpiresAt: number;
}

/** Re-writing last_seen on every request would turn reads into writes; a minute's precision is enough. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Portal sessions: an opaque cookie whose digest is the row key, an idle and an absolute timeout, and a
 * CSRF token derived from the session (sent back in a header on every state-changing request).
 */
export const createSessionService = ({
  repos,
  box,
  portalPolicy,
  clock,
}: {
  repos: Repos;
  box: SecretBox;
  portalPolicy: PortalPolicyService;
  clock: Clock;
}) => {
  const csrfFor = (token: string) => digestToken(`csrf:${token}`);

  return {
    async create(user: User, meta: { ip?: string | undefined; userAgent?: string | undefined }) {
      const policy = await portalPolicy.current();
      const token = randomToken();
      const now = clock.now();
      const row: SessionRow = {
        id_hash: digestToken(token),
        user_id: user.id,
        stage: "full",
        completed: "[]",
        challenge: null,
        csrf_hash: digestToken(csrfFor(token)),
        created_at: now,
        last_seen_at: now,
        expires_at: now + policy.sessions.absoluteHours * 3_600_000,
        ip: meta.ip?.slice(0, 64) ?? null,
        user_agent: meta.userAgent?.slice(0, 256) ?? null,
        revoked_at: null,
      };
      await repos.sessions.insert(row);
      await repos.users.touchSignIn(user.id, now);
      return { token, csrfToken: csrfFor(token), expiresAt: row.expires_at };
    },

    /** A WebAuthn challenge issued to this session, to be checked by the next response. */
    rememberChallenge: (idHash: string, challenge: string) => repos.sessions.setChallenge(idHash, challenge),
    /** The session's pending challenge, spent on reading (single use). */
    takeChallenge: (idHash: string) => repos.sessions.takeChallenge(idHash),

    /** The signed-in user of a session cookie, or notSignedIn (ended, expired, idle too long, revoked). */
    async resolve(token: string | undefined): Promise<PortalSession> {
      if (!token) throw new AppError("notSignedIn");
      const row = await repos.sessions.get(digestToken(token));
      const now = clock.now();
      if (!row || row.revoked_at !== null || row.expires_at <= now) throw new AppError("notSignedIn");
      const policy = await portalPolicy.current();
      const idleMs = policy.sessions.idleMinutes * 60_000;
      if (row.last_seen_at + idleMs <= now) throw new AppError("notSignedIn", { reason: "idle" });
      const user = await repos.users.findById(row.user_id);
      if (!user?.accountEnabled) throw new AppError("notSignedIn");
      if (now - row.last_seen_at >= TOUCH_EVERY_MS) await repos.sessions.touch(row.id_hash, now);
      return {
        idHash: row.id_hash,
        user,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        idleExpiresAt: Math.min(row.expires_at, Math.max(row.last_seen_at, now) + idleMs),
      };
    },

    csrfTokenOf: csrfFor,

    checkCsrf(token: string, header: string | undefined): void {
      if (!header || !safeEqual(header, csrfFor(token))) throw new AppError("csrfCheckFailed");
    },

    async revoke(token: string): Promise<void> {
      await repos.sessions.revoke(digestToken(token), clock.now());
    },

    /** Pending sign-in state travels sealed in a cookie: no database row exists for an unfinished sign-in. */
    seal<T>(value: T): string {
      return box.seal(JSON.stringify(value));
    },
    open<T>(sealed: string | undefined): T | undefined {
      if (!sealed) return undefined;
      try {
        return JSON.parse(box.open(sealed)) as T;
      } catch {
        return undefined;
      }
    },
  };
};

export type SessionService = ReturnType<typeof createSessionService>;
