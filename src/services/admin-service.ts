import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { checkPin, parsePinPolicy } from "../domain/pin-policy.ts";
import {
  canManageAuthenticationMethods,
  canReadAuthenticationMethods,
  isAdministrator,
} from "../domain/roles.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import type { Repos } from "../store/index.ts";
import type { User } from "../store/repos/users.ts";
import type { AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";
import type { PinService, PinState, PinStatus } from "./pin-service.ts";
import type { PolicyService } from "./policy-service.ts";
import type { MethodsService } from "./portal/methods-service.ts";

export interface OutboxReader {
  listForUser(
    userId: string,
    limit: number,
  ): Promise<
    {
      id: string;
      channel: string;
      destinationMasked: string;
      purpose: string;
      status: string;
      attempts: number;
      lastError: string | null;
      createdAt: string;
      settledAt: string | null;
      nextAttemptAt: string | null;
    }[]
  >;
}

export interface UserRow {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  accountEnabled: boolean;
  roles: string[];
  state: PinState;
  lastSignInAt: string | null;
  failedAttempts: number;
}

const STATES: readonly PinState[] = ["Steady State", "Must Change", "Account Lockout", "No PIN"];
const SETUP_TTL_MS = 24 * 3_600_000;

/**
 * The help desk's view: user search (prefix on UPN, name or mail, keyset-paged, index-backed), a user's
 * full picture, "why is this user stuck?", the dashboard, and first-run setup.
 */
export const createAdminService = ({
  db,
  repos,
  pins,
  policies,
  methods,
  outbox,
  audit,
  clock,
}: {
  db: Db;
  repos: Repos;
  pins: PinService;
  policies: PolicyService;
  methods: MethodsService;
  outbox: OutboxReader;
  audit: AuditService;
  clock: Clock;
}) => {
  const { kysely } = db;
  const iso = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? null : new Date(ms).toISOString();

  const assertAdmin = (ctx: RequestContext) => {
    if (ctx.actor.type === "cli" || ctx.actor.type === "system") return;
    if (ctx.actor.type !== "user" || !isAdministrator(ctx.actor.roles)) {
      throw new AppError("forbiddenTarget", {}, "Only administrators can use the admin portal.");
    }
  };

  const assertCanRead = (ctx: RequestContext, user: User) => {
    if (
      ctx.actor.type === "user" &&
      ctx.actor.id !== user.id &&
      !canReadAuthenticationMethods(ctx.actor.roles, user.roles)
    ) {
      throw new AppError("forbiddenTarget", { targetRoles: user.roles });
    }
  };

  const requireUser = async (ref: string) => {
    const user = await repos.users.findByIdOrUpn(ref);
    if (!user) throw new AppError("userNotFound", { user: ref.slice(0, 256) });
    return user;
  };

  return {
    assertAdmin,

    /**
     * Prefix search over UPN, display name and mail (each an index range scan), newest-first merge,
     * keyset paging by (key, id). Filtering by state is applied to the page's rows.
     */
    async searchUsers(
      ctx: RequestContext,
      options: { q?: string; state?: PinState; limit?: number; cursor?: string },
    ): Promise<{ users: UserRow[]; nextCursor: string | null }> {
      assertAdmin(ctx);
      const limit = Math.min(Math.max(options.limit ?? 25, 1), 100);
      const q = (options.q ?? "").trim().toLowerCase();
      let after: string | undefined;
      try {
        after = options.cursor ? Buffer.from(options.cursor, "base64url").toString("utf8") : undefined;
        if (after) JSON.parse(after);
      } catch {
        throw new AppError("invalidRequest", {
          problems: [{ field: "cursor", message: "is not a cursor from a previous page" }],
        });
      }
      const now = clock.now();

      // State filters join the credential and counter; without one, the base query is a pure index scan.
      const base = () =>
        kysely
          .selectFrom("users")
          .leftJoin("pin_credentials", "pin_credentials.user_id", "users.id")
          .leftJoin("lockout_counters", (join) =>
            join.on("lockout_counters.subject", "=", sql<string>`${sql.lit("pin:")} || users.id`),
          )
          .select([
            "users.id",
            "users.user_principal_name",
            "users.upn_key",
            "users.display_name",
            "users.mail",
            "users.account_enabled",
            "users.roles",
            "users.last_sign_in_at",
            "pin_credentials.user_id as has_pin",
            "pin_credentials.is_temporary",
            "pin_credentials.must_change_reason",
            "lockout_counters.failed_count",
            "lockout_counters.locked_at",
            "lockout_counters.locked_until",
          ]);

      const stateFilter = <T extends ReturnType<typeof base>>(query: T): T => {
        switch (options.state) {
          case "No PIN":
            return query.where("pin_credentials.user_id", "is", null) as T;
          case "Account Lockout":
            return query
              .where("lockout_counters.locked_at", "is not", null)
              .where((eb) =>
                eb.or([
                  eb("lockout_counters.locked_until", "is", null),
                  eb("lockout_counters.locked_until", ">", now),
                ]),
              ) as T;
          case "Must Change":
            return query
              .where("pin_credentials.user_id", "is not", null)
              .where((eb) =>
                eb.or([
                  eb("pin_credentials.is_temporary", "=", 1),
                  eb("pin_credentials.must_change_reason", "is not", null),
                ]),
              ) as T;
          case "Steady State":
            return query
              .where("pin_credentials.user_id", "is not", null)
              .where("pin_credentials.is_temporary", "=", 0)
              .where("pin_credentials.must_change_reason", "is", null)
              .where((eb) =>
                eb.or([
                  eb("lockout_counters.locked_at", "is", null),
                  eb.and([
                    eb("lockout_counters.locked_until", "is not", null),
                    eb("lockout_counters.locked_until", "<=", now),
                  ]),
                ]),
              ) as T;
          default:
            return query;
        }
      };

      type Row = Awaited<ReturnType<ReturnType<typeof base>["execute"]>>[number];
      // Keyset paging. With a search term the sources are read one after another — UPN, then display
      // name, then mail — each by its own index, each excluding what an earlier source matched.
      type Cursor = { s: number; k: string; i: string };
      const cursor: Cursor | undefined = after ? (JSON.parse(after) as Cursor) : undefined;
      let rows: Row[] = [];
      let next: Cursor | null = null;
      if (!q) {
        let query = stateFilter(base())
          .orderBy("users.upn_key")
          .limit(limit + 1);
        if (cursor) query = query.where("users.upn_key", ">", cursor.k);
        rows = await query.execute();
        const last = rows[limit - 1];
        next = rows.length > limit && last ? { s: 0, k: last.upn_key, i: last.id } : null;
      } else {
        const hi = `${q}\uffff`;
        const upnKey = sql<string>`users.upn_key`;
        const nameKey = sql<string>`lower(users.display_name)`;
        const mailKey = sql<string>`lower(users.mail)`;
        const sources = [upnKey, nameKey, mailKey];
        const origins: number[] = [];
        for (let source = cursor?.s ?? 0; source < sources.length && rows.length <= limit; source++) {
          const key = sources[source] as typeof upnKey;
          let query = stateFilter(base())
            .select(key.as("sort_key"))
            .where(key, ">=", q)
            .where(key, "<", hi)
            .orderBy(key)
            .orderBy("users.id")
            .limit(limit + 1 - rows.length);
          for (const earlier of sources.slice(0, source)) {
            query = query.where((eb) =>
              eb.or([eb(earlier, "is", null), eb(earlier, "<", q), eb(earlier, ">=", hi)]),
            );
          }
          if (cursor && cursor.s === source) {
            const { k, i } = cursor;
            query = query.where((eb) =>
              eb.or([eb(key, ">", k), eb.and([eb(key, "=", k), eb("users.id", ">", i)])]),
            );
          }
          const found = (await query.execute()) as (Row & { sort_key: string })[];
          for (const r of found) {
            rows.push(r);
            origins.push(source);
          }
        }
        const last = rows[limit - 1] as (Row & { sort_key: string }) | undefined;
        const origin = origins[limit - 1];
        if (rows.length > limit && last && origin !== undefined)
          next = { s: origin, k: last.sort_key, i: last.id };
      }
      const page = rows.slice(0, limit);
      const users = page.map((r): UserRow => {
        const locked =
          r.locked_at !== null &&
          r.locked_at !== undefined &&
          (r.locked_until === null || (r.locked_until ?? 0) > now);
        const state: PinState = !r.has_pin
          ? "No PIN"
          : locked
            ? "Account Lockout"
            : r.is_temporary === 1 || r.must_change_reason
              ? "Must Change"
              : "Steady State";
        return {
          id: r.id,
          userPrincipalName: r.user_principal_name,
          displayName: r.display_name,
          mail: r.mail,
          accountEnabled: r.account_enabled === 1,
          roles: JSON.parse(r.roles) as string[],
          state,
          lastSignInAt: iso(r.last_sign_in_at),
          failedAttempts: r.failed_count ?? 0,
        };
      });
      return {
        users,
        nextCursor: next ? Buffer.from(JSON.stringify(next), "utf8").toString("base64url") : null,
      };
    },

    /** Everything the help desk needs on one page. */
    async userDetail(ctx: RequestContext, ref: string) {
      assertAdmin(ctx);
      const user = await requireUser(ref);
      assertCanRead(ctx, user);
      const [pin, userMethods, events, messages, qr] = await Promise.all([
        pins.statusOf(user),
        methods.list(user),
        audit.query({ targetUserId: user.id, limit: 20 }),
        outbox.listForUser(user.id, 10),
        repos.qr.getMethod(user.id),
      ]);
      const qrCodes = qr ? await repos.qr.codesOf(user.id) : [];
      return {
        user,
        pin,
        methods: userMethods,
        qr: qr
          ? {
              createdAt: iso(qr.created_at),
              codes: qrCodes.map((c) => ({
                id: c.id,
                kind: c.kind,
                startDateTime: iso(c.start_at),
                expireDateTime: iso(c.expire_at),
                lastUsedDateTime: iso(c.last_used_at),
                expired: c.expire_at <= clock.now(),
              })),
            }
          : null,
        recentEvents: events,
        recentMessages: messages,
        whyStuck: whyStuck(user, pin, messages),
        canManage: ctx.actor.type !== "user" || canManageAuthenticationMethods(ctx.actor.roles, user.roles),
      };
    },

    /** Users per state and the last 7 days of lockouts, resets and failed deliveries. */
    async dashboard(ctx: RequestContext) {
      assertAdmin(ctx);
      const now = clock.now();
      const count = async (state: PinState) =>
        Number((await stateCountQuery(kysely, now, state).executeTakeFirst())?.n ?? 0);
      const perState: Record<string, number> = {};
      for (const s of STATES) perState[s] = await count(s);
      const dayMs = 86_400_000;
      const start = Math.floor(now / dayMs) * dayMs - 6 * dayMs;
      const series = async (actions: string[], outcome?: string) => {
        let q = kysely
          .selectFrom("audit_events")
          .select(["at"])
          .where("action", "in", actions)
          .where("at", ">=", start);
        if (outcome) q = q.where("outcome", "=", outcome);
        const rows = await q.execute();
        const days = Array.from({ length: 7 }, (_, i) => ({
          day: iso(start + i * dayMs)?.slice(0, 10) as string,
          count: 0,
        }));
        for (const r of rows) {
          const d = days[Math.floor((r.at - start) / dayMs)];
          if (d) d.count++;
        }
        return days;
      };
      const failedDeliveries = await kysely
        .selectFrom("outbox")
        .select(["updated_at"])
        .where("status", "=", "failed")
        .where("updated_at", ">=", start)
        .execute();
      const failedDays = Array.from({ length: 7 }, (_, i) => ({
        day: iso(start + i * dayMs)?.slice(0, 10) as string,
        count: 0,
      }));
      for (const r of failedDeliveries) {
        const d = failedDays[Math.floor((r.updated_at - start) / dayMs)];
        if (d) d.count++;
      }
      return {
        usersPerState: perState,
        lockouts: await series(["pin.locked"]),
        resets: await series(["pin.reset", "pin.resetTemporary", "pin.unblock"], "success"),
        failedDeliveries: failedDays,
      };
    },

    /** What a PIN policy change would do, before it is saved. */
    async previewPinPolicy(ctx: RequestContext, change: unknown) {
      assertAdmin(ctx);
      const current = await policies.current();
      const next = parsePinPolicy(change, current.policy);
      const total = Number(
        (
          await kysely
            .selectFrom("pin_credentials")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirst()
        )?.n ?? 0,
      );
      const stricter =
        next.minLength > current.policy.minLength ||
        next.maxLength < current.policy.maxLength ||
        (["digits", "lowercase", "uppercase", "special"] as const).some(
          (k) => next[k] !== current.policy[k] && next[k] !== "allowed",
        ) ||
        (next.blockSimplePins && !current.policy.blockSimplePins) ||
        (next.blockRepeatedGroups && !current.policy.blockRepeatedGroups) ||
        (next.blockCommonPins && !current.policy.blockCommonPins);
      return {
        policy: next,
        affectedPins: stricter ? total : 0,
        message: stricter
          ? `The new rules are stricter. PINs are stored only as hashes, so each of the ${total} users' PINs is checked at their next sign-in: anyone whose PIN no longer complies is taken straight to "set a new PIN", with the reason. Nobody is locked out.`
          : "The new rules are not stricter: every current PIN stays valid.",
        expiresNow:
          next.expirationDays > 0 &&
          (current.policy.expirationDays === 0 || next.expirationDays < current.policy.expirationDays)
            ? Number(
                (
                  await kysely
                    .selectFrom("pin_credentials")
                    .select((eb) => eb.fn.countAll().as("n"))
                    .where("changed_at", "<=", clock.now() - next.expirationDays * 86_400_000)
                    .executeTakeFirst()
                )?.n ?? 0,
              )
            : 0,
      };
    },

    /** A single-use link that signs nobody in: it lets the holder create the first administrator. */
    async createSetupLink(
      ctx: RequestContext,
      publicUrl: string,
    ): Promise<{ url: string; expiresAt: string }> {
      const token = randomToken();
      const now = clock.now();
      await kysely
        .insertInto("one_time_links")
        .values({
          token_hash: digestToken(token),
          purpose: "setup",
          user_id: null,
          created_at: now,
          expires_at: now + SETUP_TTL_MS,
          used_at: null,
        })
        .execute();
      await audit.record(ctx, { action: "setup.linkCreated", outcome: "success" });
      return { url: `${publicUrl}/portal/setup#${token}`, expiresAt: iso(now + SETUP_TTL_MS) as string };
    },

    async hasAdministrator(): Promise<boolean> {
      const rows = await kysely
        .selectFrom("users")
        .select("roles")
        .where("roles", "!=", "[]")
        .limit(1000)
        .execute();
      return rows.some((r) => isAdministrator(JSON.parse(r.roles) as string[]));
    },

    /** Redeems a setup link: creates the first administrator with a PIN. Single use. */
    async completeSetup(
      ctx: RequestContext,
      token: string,
      input: { userPrincipalName: string; displayName: string; pin: string },
      createUser: (input: {
        userPrincipalName: string;
        displayName: string;
        roles: string[];
      }) => Promise<User>,
    ): Promise<User> {
      const row = await kysely
        .selectFrom("one_time_links")
        .selectAll()
        .where("token_hash", "=", digestToken(token))
        .where("purpose", "=", "setup")
        .executeTakeFirst();
      if (!row || row.used_at !== null || row.expires_at <= clock.now())
        throw new AppError("setupLinkInvalid");
      const violations = checkPin(input.pin, await policies.pinPolicy());
      if (violations[0]) throw new AppError(violations[0].code, { violations }, violations[0].message);
      const claimed = await kysely
        .updateTable("one_time_links")
        .set({ used_at: clock.now() })
        .where("token_hash", "=", row.token_hash)
        .where("used_at", "is", null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) throw new AppError("setupLinkInvalid");
      const user = await createUser({ ...input, roles: ["Global Administrator"] });
      await pins.setOwn(ctx, user.id, input.pin, { reason: "setup" });
      await audit.record(ctx, {
        action: "setup.completed",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
      });
      return user;
    },

    newId: randomUUID,
  };
};

/** Count of users in a state (dashboard). */
const stateCountQuery = (kysely: Db["kysely"], now: number, state: PinState) => {
  const q = kysely
    .selectFrom("users")
    .leftJoin("pin_credentials", "pin_credentials.user_id", "users.id")
    .leftJoin("lockout_counters", (join) =>
      join.on("lockout_counters.subject", "=", sql<string>`${sql.lit("pin:")} || users.id`),
    )
    .select((eb) => eb.fn.countAll().as("n"));
  const lockedExpr = sql<boolean>`(lockout_counters.locked_at is not null and (lockout_counters.locked_until is null or lockout_counters.locked_until > ${now}))`;
  switch (state) {
    case "No PIN":
      return q.where("pin_credentials.user_id", "is", null);
    case "Account Lockout":
      return q.where("pin_credentials.user_id", "is not", null).where(lockedExpr);
    case "Must Change":
      return q
        .where("pin_credentials.user_id", "is not", null)
        .where(sql<boolean>`not ${lockedExpr}`)
        .where((eb) =>
          eb.or([
            eb("pin_credentials.is_temporary", "=", 1),
            eb("pin_credentials.must_change_reason", "is not", null),
          ]),
        );
    default:
      return q
        .where("pin_credentials.user_id", "is not", null)
        .where(sql<boolean>`not ${lockedExpr}`)
        .where("pin_credentials.is_temporary", "=", 0)
        .where("pin_credentials.must_change_reason", "is", null);
  }
};

/** "Why is this user stuck?": state, reason, last deliveries, and the next step for the help desk. */
export const whyStuck = (
  user: User,
  pin: PinStatus,
  messages: {
    status: string;
    destinationMasked: string;
    lastError: string | null;
    createdAt: string;
    purpose: string;
  }[],
) => {
  const lines: string[] = [];
  let nextStep: string;
  if (!user.accountEnabled) {
    lines.push("The account is disabled.");
    nextStep = "Enable the account if the person should have access.";
  } else if (pin.state === "Account Lockout") {
    lines.push(pin.description);
    nextStep =
      "Confirm who you are talking to, then Unblock PIN (keeps their PIN) or Reset PIN if they forgot it.";
  } else if (pin.state === "No PIN") {
    lines.push("This user has no PIN.");
    nextStep = "Generate a temporary PIN and give it to them; they choose their own PIN at sign-in.";
  } else if (pin.state === "Must Change") {
    lines.push(pin.description);
    nextStep = pin.isTemporary
      ? `They must sign in with the temporary PIN${pin.temporaryExpiresAt ? ` before ${pin.temporaryExpiresAt}` : ""} and choose a new one. If it expired or was lost, generate a new temporary PIN.`
      : "At their next sign-in they are asked to set a new PIN; nothing else is needed.";
  } else {
    lines.push("The PIN is in Steady State: it works.");
    nextStep =
      pin.failedAttempts > 0
        ? `There were ${pin.failedAttempts} wrong PIN(s) since the last success; if they forgot it, Reset PIN.`
        : "If they still cannot sign in, check which device or method fails (look up the error code in the troubleshooter).";
  }
  const recovery = messages.filter((m) => m.purpose === "recoveryCode" || m.purpose === "recoveryLink");
  // A message still being retried has already failed at least once: it is not arriving either.
  const notArriving = recovery.filter((m) => m.status === "failed" || (m.status === "queued" && m.lastError));
  for (const m of notArriving) {
    lines.push(
      `A recovery message to ${m.destinationMasked} (${m.createdAt}) ${m.status === "failed" ? "was NOT delivered" : "is failing and being retried"}: ${m.lastError ?? "unknown reason"}.`,
    );
  }
  const delivered = recovery.find((m) => m.status === "accepted");
  if (delivered)
    lines.push(
      `A recovery message to ${delivered.destinationMasked} was accepted by the provider at ${delivered.createdAt}.`,
    );
  if (notArriving.length > 0) {
    nextStep = `Their recovery messages are not arriving (${notArriving[0]?.lastError ?? "delivery failed"}). ${nextStep} Also check their mail address and phone number with them.`;
  } else {
    const other = messages.filter((m) => m.status === "failed").length;
    if (other > 0) lines.push(`${other} other recent message(s) to them failed to deliver.`);
  }
  return { summary: lines, nextStep };
};

export type AdminService = ReturnType<typeof createAdminService>;
