import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { checkPin, parsePinPolicy } from "../domain/pin-policy.ts";
import {
  METHOD_COUNTER_KINDS,
  METHOD_COUNTER_LABELS,
  type MethodCounterKind,
  methodCounterSubject,
} from "../domain/portal-policy.ts";
import {
  canManageAuthenticationMethods,
  canReadAuthenticationMethods,
  isAdministrator,
} from "../domain/roles.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import type { Repos } from "../store/index.ts";
import {
  failedAttemptsOf,
  pinStateOf,
  type SearchCursor,
  type StateRules,
  type User,
} from "../store/repos/users.ts";
import type { AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";
import type { PinService, PinState, PinStatus } from "./pin-service.ts";
import type { PolicyService } from "./policy-service.ts";
import type { MethodsService } from "./portal/methods-service.ts";
import { validateUserFields } from "./user-service.ts";

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

const DAY_MS = 86_400_000;
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

  /** The time and policy the state rule depends on (lock expiry, PIN expiry, failure decay). */
  const stateRules = async (): Promise<StateRules> => {
    const policy = await policies.pinPolicy();
    return {
      now: clock.now(),
      expirationMs: policy.expirationDays > 0 ? policy.expirationDays * 86_400_000 : null,
      decaySeconds: policy.lockout.decaySeconds,
    };
  };

  return {
    assertAdmin,

    /**
     * Search by user name, display name, mail or any word of the name (accents and case folded), with
     * an optional state filter; keyset-paged, each page a few index ranges (see the users repository).
     */
    async searchUsers(
      ctx: RequestContext,
      options: { q?: string; state?: PinState; limit?: number; cursor?: string },
    ): Promise<{ users: UserRow[]; nextCursor: string | null }> {
      assertAdmin(ctx);
      const limit = Math.min(Math.max(options.limit ?? 25, 1), 100);
      let cursor: SearchCursor | undefined;
      if (options.cursor) {
        try {
          const parsed = JSON.parse(
            Buffer.from(options.cursor, "base64url").toString("utf8"),
          ) as SearchCursor;
          if (typeof parsed.s !== "number" || typeof parsed.k !== "string" || typeof parsed.i !== "string")
            throw new Error("shape");
          cursor = parsed;
        } catch {
          throw new AppError("invalidRequest", {
            problems: [{ field: "cursor", message: "is not a cursor from a previous page" }],
          });
        }
      }
      const rules = await stateRules();
      const page = await repos.users.search({
        q: options.q ?? "",
        state: options.state,
        limit,
        cursor,
        rules,
      });
      const users = page.rows.map((r): UserRow => {
        const counter = page.counters.get(r.id);
        return {
          id: r.id,
          userPrincipalName: r.user_principal_name,
          displayName: r.display_name,
          mail: r.mail,
          accountEnabled: r.account_enabled === 1,
          roles: JSON.parse(r.roles) as string[],
          state: pinStateOf(r, counter, rules),
          lastSignInAt: iso(r.last_sign_in_at),
          failedAttempts: failedAttemptsOf(counter, rules),
        };
      });
      return {
        users,
        nextCursor: page.next ? Buffer.from(JSON.stringify(page.next), "utf8").toString("base64url") : null,
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
      const lockouts = await methodLockoutsOf(repos, policies, user, clock.now());
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
        methodLockouts: lockouts,
        whyStuck: whyStuck(user, pin, messages, lockouts),
        canManage: ctx.actor.type !== "user" || canManageAuthenticationMethods(ctx.actor.roles, user.roles),
      };
    },

    /**
     * Users per state (counted over indexes, no row read per user) and the last 7 days of lockouts,
     * resets and failed deliveries, grouped by day in the database (audit index on action and time).
     */
    async dashboard(ctx: RequestContext) {
      assertAdmin(ctx);
      const rules = await stateRules();
      const now = rules.now;
      const start = Math.floor(now / DAY_MS) * DAY_MS - 6 * DAY_MS;
      // Whole days since the first one (CAST truncates: the differences are never negative).
      const dayOf = sql<number>`cast((at - ${start}) / ${DAY_MS} as integer)`;
      const days = (counts: { day: number | string; n: number | string | bigint }[]) =>
        Array.from({ length: 7 }, (_, i) => ({
          day: iso(start + i * DAY_MS)?.slice(0, 10) as string,
          count: Number(counts.find((c) => Number(c.day) === i)?.n ?? 0),
        }));
      const series = async (actions: string[], outcome?: string) => {
        let q = kysely
          .selectFrom("audit_events")
          .select([dayOf.as("day"), (eb) => eb.fn.countAll<number>().as("n")])
          .where("action", "in", actions)
          .where("at", ">=", start)
          .where("at", "<", start + 7 * DAY_MS);
        if (outcome) q = q.where("outcome", "=", outcome);
        return days(await q.groupBy(sql`1`).execute());
      };
      // A message still being retried after a failure is not arriving either: it counts, and is shown apart.
      const deliveries = await kysely
        .selectFrom("outbox")
        .select([
          sql<number>`cast((created_at - ${start}) / ${DAY_MS} as integer)`.as("day"),
          "status",
          (eb) => eb.fn.countAll<number>().as("n"),
        ])
        .where("created_at", ">=", start)
        .where((eb) =>
          eb.or([
            eb("status", "=", "failed"),
            eb.and([eb("status", "in", ["queued", "sending"]), eb("last_error", "is not", null)]),
          ]),
        )
        .groupBy([sql`1`, "status"])
        .execute();
      const failedDays = Array.from({ length: 7 }, (_, i) => {
        const ofDay = deliveries.filter((r) => Number(r.day) === i);
        const total = (rows: typeof ofDay) => rows.reduce((sum, r) => sum + Number(r.n), 0);
        const retrying = total(ofDay.filter((r) => r.status !== "failed"));
        return {
          day: iso(start + i * DAY_MS)?.slice(0, 10) as string,
          count: total(ofDay),
          retrying,
        };
      });
      return {
        usersPerState: await repos.users.countByState(rules),
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

    /** Whether anyone can open the admin portal yet (first run shows the setup link until then). */
    hasAdministrator: () => repos.users.hasAdministrator(),

    /**
     * Redeems a setup link: creates the first administrator with a PIN. Everything about the new
     * account is checked before the link is spent; spending it and creating the account are one
     * transaction, so a typo never burns the link and two tabs cannot both redeem it.
     */
    async completeSetup(
      ctx: RequestContext,
      token: string,
      input: { userPrincipalName: string; displayName: string; pin: string },
    ): Promise<User> {
      const tokenHash = digestToken(token);
      const valid = async () => {
        const row = await kysely
          .selectFrom("one_time_links")
          .select(["used_at", "expires_at"])
          .where("token_hash", "=", tokenHash)
          .where("purpose", "=", "setup")
          .executeTakeFirst();
        return row !== undefined && row.used_at === null && row.expires_at > clock.now();
      };
      if (!(await valid())) throw new AppError("setupLinkInvalid");
      const problems = validateUserFields({
        userPrincipalName: input.userPrincipalName,
        displayName: input.displayName,
      });
      if (problems.length > 0) throw new AppError("invalidRequest", { problems });
      if (await repos.users.findByUpn(input.userPrincipalName))
        throw new AppError("userAlreadyExists", { userPrincipalName: input.userPrincipalName });
      const violations = checkPin(input.pin, await policies.pinPolicy());
      if (violations[0]) throw new AppError(violations[0].code, { violations }, violations[0].message);

      const now = clock.now();
      const user = await db.transaction(async (trx) => {
        const claimed = await trx
          .updateTable("one_time_links")
          .set({ used_at: now })
          .where("token_hash", "=", tokenHash)
          .where("purpose", "=", "setup")
          .where("used_at", "is", null)
          .where("expires_at", ">", now)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) throw new AppError("setupLinkInvalid");
        return repos.users.insert(
          {
            id: randomUUID(),
            userPrincipalName: input.userPrincipalName,
            displayName: input.displayName.trim(),
            roles: ["Global Administrator"],
          },
          now,
          trx,
        );
      });
      const target = { id: user.id, upn: user.userPrincipalName };
      try {
        await pins.setOwn(ctx, user.id, input.pin, { reason: "setup" });
      } catch (error) {
        // The PIN was checked above, so this is the database failing: leave the link usable again.
        await repos.users.delete(user.id);
        await kysely
          .updateTable("one_time_links")
          .set({ used_at: null })
          .where("token_hash", "=", tokenHash)
          .execute();
        throw error;
      }
      await audit.record(ctx, { action: "user.created", outcome: "success", target });
      await audit.record(ctx, { action: "setup.completed", outcome: "success", target });
      return user;
    },

    newId: randomUUID,
  };
};

/** "Why is this user stuck?": state, reason, last deliveries, and the next step for the help desk. */
export interface MethodLockout {
  kind: MethodCounterKind;
  label: string;
  failedAttempts: number;
  /** null: until an administrator unblocks. */
  lockedUntil: string | null;
}

/** Sign-in methods and Emergency Access locked by wrong attempts (each has its own counter). */
export const methodLockoutsOf = async (
  repos: Repos,
  policies: PolicyService,
  user: User,
  now: number,
): Promise<MethodLockout[]> => {
  const lockout = (await policies.pinPolicy()).lockout;
  const out: MethodLockout[] = [];
  for (const kind of METHOD_COUNTER_KINDS) {
    const state = await repos.counters.state(methodCounterSubject(kind, user.id), now, lockout);
    if (!state.locked) continue;
    out.push({
      kind,
      label: METHOD_COUNTER_LABELS[kind],
      failedAttempts: state.failedCount,
      lockedUntil: state.lockedUntil === null ? null : new Date(state.lockedUntil).toISOString(),
    });
  }
  return out;
};

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
  methodLockouts: readonly MethodLockout[] = [],
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
  if (methodLockouts.length > 0) {
    const names = methodLockouts.map((m) => m.label).join(", ");
    for (const m of methodLockouts) {
      lines.push(
        `${m.label} is locked after too many wrong attempts ${m.lockedUntil === null ? "until an administrator unblocks it" : `until ${m.lockedUntil}`}.`,
      );
    }
    nextStep = `${nextStep} Unblock PIN also unblocks ${names}.`;
  }
  return { summary: lines, nextStep };
};

export type AdminService = ReturnType<typeof createAdminService>;
