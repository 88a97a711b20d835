import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { SUPERSEDED } from "../delivery/outbox.ts";
import { checkPin, describePinPolicy } from "../domain/pin-policy.ts";
import {
  CHANNEL_SENDS,
  METHOD_COUNTER_KINDS,
  METHOD_COUNTER_LABELS,
  METHOD_LABELS,
  type MethodCounterKind,
  methodCounterSubject,
  type PortalPolicy,
  parsePortalPolicy,
} from "../domain/portal-policy.ts";
import {
  canManageAuthenticationMethods,
  canReadAuthenticationMethods,
  isAdministrator,
} from "../domain/roles.ts";
import { humanTime } from "../domain/time-words.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import type { Repos } from "../store/index.ts";
import type { AuditQuery } from "../store/repos/audit-events.ts";
import { PIN_SUBJECT_PREFIX } from "../store/repos/lockout-counters.ts";
import {
  failedAttemptsOf,
  pinStateOf,
  type SearchCursor,
  type StateRules,
  type User,
} from "../store/repos/users.ts";
import { counterRules } from "./attempts.ts";
import type { AuditEvent, AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";
import { assertCanManage } from "./permissions.ts";
import type { PinService, PinState, PinStatus } from "./pin-service.ts";
import type { PolicyService } from "./policy-service.ts";
import type { MethodsService } from "./portal/methods-service.ts";
import { validateUserFields } from "./user-service.ts";

export interface OutboxReader {
  /** Why a channel cannot deliver at all (nothing configured), or null when it can. */
  unavailable?(channel: "email" | "sms"): string | null;
  get?(
    id: string,
  ): Promise<{ state?: string; status: string; statusText?: string; lastError: string | null } | undefined>;
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
  /** Whether the caller's role lets them open this user's page (see assertCanRead). */
  canOpen: boolean;
}

const DAY_MS = 86_400_000;
const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);
const RECOVERY_WORDS = {
  codeLength: "Recovery code length",
  ttlMinutes: "Minutes a recovery code works",
  maxTries: "Tries per recovery code",
  resendCooldownSeconds: "Seconds before a code can be sent again",
  perUserPerHour: "Codes per user per hour",
  perIpPerHour: "Recovery attempts per network address per hour",
} as const;
const EXPORT_PAGE = 1000;

export interface AuditFilter {
  user?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  /** Epoch ms, inclusive. */
  from?: number | undefined;
  /** Epoch ms, exclusive. */
  to?: number | undefined;
}
const SETUP_TTL_MS = 24 * 3_600_000;

/** A policy preview's summary: nothing changes, nobody is affected (in `unaffected`'s words), or the effects. */
const previewMessage = (
  changes: readonly string[],
  effects: readonly string[],
  unaffected: string,
): string =>
  changes.length === 0 ? "Nothing changes." : effects.length === 0 ? unaffected : effects.join(" ");

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
  recovery,
  qr: qrService,
}: {
  db: Db;
  repos: Repos;
  pins: PinService;
  /** Whether badge sign-in is allowed for a user (the QR code + PIN policy). */
  qr?: { enabledFor(user: User): Promise<boolean> };
  policies: PolicyService;
  methods: MethodsService;
  outbox: OutboxReader;
  audit: AuditService;
  clock: Clock;
  /** Forgot PIN's hourly code limit for a user (recovery-service `codeLimit`). */
  recovery?: { codeLimit(user: User): Promise<CodeLimit> };
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

  const mayRead = (ctx: RequestContext, user: Pick<User, "id" | "roles">) =>
    ctx.actor.type !== "user" ||
    ctx.actor.id === user.id ||
    canReadAuthenticationMethods(ctx.actor.roles, user.roles);

  const assertCanRead = (ctx: RequestContext, user: User) => {
    if (!mayRead(ctx, user)) throw new AppError("forbiddenTarget", { targetRoles: user.roles });
  };

  const requireUser = async (ref: string) => {
    const user = await repos.users.findByIdOrUpn(ref);
    if (!user) throw new AppError("userNotFound", { user: ref.slice(0, 256) });
    return user;
  };

  /** The recorded forms of "who did it": user:<UPN as stored>, the text as typed, and "anonymous" for the user at sign-in. */
  const actorForms = async (typed: string): Promise<string[]> => {
    const text = typed.trim();
    const bare = text.replace(/^user:/i, "");
    const forms = new Set([text, `user:${bare}`, `user:${bare.toLowerCase()}`]);
    const user = bare.includes("@") ? await repos.users.findByUpn(bare) : undefined;
    if (user) forms.add(`user:${user.userPrincipalName}`);
    if (/^(the user|anonymous|sign-in)/i.test(text)) forms.add("anonymous");
    if (/^(cli|command line|pindesk)/i.test(text)) forms.add("cli");
    return [...forms];
  };

  const auditQueryOf = async (filter: AuditFilter): Promise<Omit<AuditQuery, "limit">> => {
    const target = filter.user ? await repos.users.findByIdOrUpn(filter.user.trim()) : undefined;
    return {
      ...(target ? { targetUserId: target.id } : filter.user ? { targetUpn: filter.user.trim() } : {}),
      ...(filter.actor?.trim() && { actors: await actorForms(filter.actor) }),
      ...(filter.action?.trim() && { action: filter.action.trim() }),
      ...(filter.from !== undefined && { from: filter.from }),
      ...(filter.to !== undefined && { to: filter.to }),
    };
  };

  /** How many users an authentication set applies to (named users, then roles, the default gets the rest). */
  const usersOfSet = async (policy: PortalPolicy, set: PortalPolicy["authSets"][number]): Promise<number> => {
    const count = async (where?: (q: ReturnType<typeof usersQuery>) => ReturnType<typeof usersQuery>) =>
      Number((await (where ? where(usersQuery()) : usersQuery()).executeTakeFirst())?.n ?? 0);
    const usersQuery = () => kysely.selectFrom("users").select((eb) => eb.fn.countAll().as("n"));
    const byRoles = (roles: readonly string[]) => (q: ReturnType<typeof usersQuery>) =>
      q.where((eb) => eb.or(roles.map((r) => eb("roles", "like", `%${JSON.stringify(r)}%`))));
    if (set.id === policy.defaultSetId) {
      const named = policy.authSets.filter((s) => s.id !== set.id);
      const roles = named.flatMap((s) => s.roles);
      const direct = named.reduce((n, s) => n + s.users.length, 0);
      return Math.max(0, (await count()) - direct - (roles.length > 0 ? await count(byRoles(roles)) : 0));
    }
    return set.users.length + (set.roles.length > 0 ? await count(byRoles(set.roles)) : 0);
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
        const roles = JSON.parse(r.roles) as string[];
        return {
          id: r.id,
          userPrincipalName: r.user_principal_name,
          displayName: r.display_name,
          mail: r.mail,
          accountEnabled: r.account_enabled === 1,
          roles,
          state: pinStateOf(r, counter, rules),
          lastSignInAt: iso(r.last_sign_in_at),
          failedAttempts: failedAttemptsOf(counter, rules),
          canOpen: mayRead(ctx, { id: r.id, roles }),
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
      const [status, userMethods, events, messages, qr, channels] = await Promise.all([
        pins.statusOf(user),
        methods.list(user),
        audit.query({ targetUserId: user.id, limit: 20 }),
        outbox.listForUser(user.id, 10),
        repos.qr.getMethod(user.id),
        methods.recoveryChannels(user),
      ]);
      const pin = { ...status, description: describeForHelpdesk(status, clock.now()) };
      const canManage =
        ctx.actor.type !== "user" || canManageAuthenticationMethods(ctx.actor.roles, user.roles);
      const roleText = ctx.actor.type === "user" ? ctx.actor.roles.join(", ") || "no role" : ctx.actor.type;
      const qrCodes = qr ? await repos.qr.codesOf(user.id) : [];
      const lockouts = await methodLockoutsOf(repos, policies, user, clock.now());
      // A disabled account gets no Forgot PIN codes at all (its name is answered like an unknown one).
      const codeLimit = user.accountEnabled ? await recovery?.codeLimit(user) : undefined;
      // Whether the QR code + PIN policy lets this user have and use a badge at all.
      const badgeAllowed = (await qrService?.enabledFor(user)) ?? true;
      const badge: BadgeFacts | undefined = qr
        ? {
            signInAllowed: badgeAllowed,
            codes: qrCodes.map((c) => ({ kind: c.kind, startAt: c.start_at, expireAt: c.expire_at })),
            now: clock.now(),
          }
        : undefined;
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
        badgeAllowed,
        whyStuck: whyStuck(user, pin, messages, {
          methodLockouts: lockouts,
          codeLimit,
          badge,
          now: clock.now(),
        }),
        canManage,
        // Why the actions are missing, in words, for an administrator who may look but not act.
        manageReason: canManage
          ? null
          : `Your role (${roleText}) can view ${user.displayName} but not change their PIN or methods${user.roles.length ? ` (they are ${user.roles.join(", ")})` : ""}. Ask a Privileged Authentication Administrator or a Global Administrator.`,
        recovery: {
          channels: channels.map((c) => ({
            channel: c.channel,
            masked: c.masked,
            unavailable: outbox.unavailable?.(c.channel) ?? null,
          })),
          /** Why no recovery link can be sent, or null when one can. */
          cannotSend:
            channels.length === 0
              ? "They have no email address or mobile number on file to send a link to."
              : channels.every((c) => outbox.unavailable?.(c.channel))
                ? `Delivery is not set up on this PinDesk (${outbox.unavailable?.(channels[0]?.channel ?? "email")}).`
                : null,
        },
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
      // A message given up on (failed, or expired before it could be delivered) did not arrive; one still
      // being retried after a failure is not arriving either: it counts, and is shown apart.
      const deliveries = await kysely
        .selectFrom("outbox")
        .select([
          sql<number>`cast((created_at - ${start}) / ${DAY_MS} as integer)`.as("day"),
          "status",
          (eb) => eb.fn.countAll<number>().as("n"),
        ])
        .where("created_at", ">=", start)
        .where("stand_in", "=", 0)
        .where((eb) =>
          eb.or([
            eb("status", "in", ["failed", "expired"]),
            eb.and([eb("status", "in", ["queued", "sending"]), eb("last_error", "is not", null)]),
          ]),
        )
        .groupBy([sql`1`, "status"])
        .execute();
      const failedDays = Array.from({ length: 7 }, (_, i) => {
        const ofDay = deliveries.filter((r) => Number(r.day) === i);
        const total = (rows: typeof ofDay) => rows.reduce((sum, r) => sum + Number(r.n), 0);
        // Failed and expired messages were given up on; the rest are still being retried.
        const retrying = total(ofDay.filter((r) => r.status === "queued" || r.status === "sending"));
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

    /**
     * What a PIN policy change would do, before it is saved: the settings that change, in words; how
     * many stored PINs the new rules reject (from the keyed PIN profiles, without reading any PIN);
     * who is already at or past a lower lockout threshold; whose PIN expires at once.
     */
    async previewPinPolicy(ctx: RequestContext, change: unknown) {
      assertAdmin(ctx);
      const current = await policies.current();
      const { policy: next, impact } = await policies.preview(change);
      const before = new Set(describePinPolicy(current.policy));
      const changes = describePinPolicy(next).filter((line) => !before.has(line));
      const effects: string[] = [];
      if (impact.notCompliant > 0)
        effects.push(
          `${impact.notCompliant} ${plural(impact.notCompliant, "user's PIN no longer complies", "users' PINs no longer comply")}; they will be asked to change it at their next sign-in, with the reason.`,
        );
      if (impact.compliantAgain > 0)
        effects.push(
          `${impact.compliantAgain} ${plural(impact.compliantAgain, "PIN", "PINs")} marked non-compliant by an earlier change ${plural(impact.compliantAgain, "complies", "comply")} again and will no longer be asked to change.`,
        );
      if (impact.unknown > 0)
        effects.push(
          `${impact.unknown} ${plural(impact.unknown, "PIN was", "PINs were")} set before PinDesk recorded PIN profiles: ${plural(impact.unknown, "it is", "they are")} checked at the next sign-in instead.`,
        );
      const lockout = next.lockout;
      if (lockout.threshold < current.policy.lockout.threshold) {
        // The same rule the save applies (see the lockout counters' lockAtThreshold).
        const atThreshold = await repos.counters.countPastThreshold(
          clock.now(),
          counterRules(lockout),
          PIN_SUBJECT_PREFIX,
        );
        if (atThreshold > 0)
          effects.push(
            `${atThreshold} ${plural(atThreshold, "user is", "users are")} at or past the new threshold of ${lockout.threshold} wrong PINs: saving locks ${plural(atThreshold, "that PIN", "their PINs")} now, as a wrong PIN reaching the threshold does. Unblock ${plural(atThreshold, "that user", "them")} after saving if they should not be locked.`,
          );
      }
      if (lockout.mode !== current.policy.lockout.mode)
        effects.push(
          lockout.mode === "permanent"
            ? "From now on a lock lasts until an administrator unblocks it. Locks already in force keep their end time."
            : "From now on a lock runs out by itself. Users locked until an administrator unblocks them stay locked until then.",
        );
      const cutoff = next.expirationDays > 0 ? clock.now() - next.expirationDays * DAY_MS : null;
      const expiresNow =
        cutoff !== null &&
        (current.policy.expirationDays === 0 || next.expirationDays < current.policy.expirationDays)
          ? Number(
              (
                await kysely
                  .selectFrom("users")
                  .select((eb) => eb.fn.countAll().as("n"))
                  .where("pin_flag", "=", 1)
                  .where("pin_changed_at", "<=", cutoff)
                  .executeTakeFirst()
              )?.n ?? 0,
            )
          : 0;
      if (expiresNow > 0)
        effects.push(
          `${expiresNow} ${plural(expiresNow, "PIN is", "PINs are")} older than ${next.expirationDays} days and ${plural(expiresNow, "expires", "expire")} as soon as this is saved: those users are asked to change it at their next sign-in.`,
        );
      return {
        policy: next,
        changes,
        effects,
        /** PINs the new rules reject (the PIN service's count from stored PIN profiles). */
        pinsNotCompliant: impact.notCompliant,
        pinsCompliantAgain: impact.compliantAgain,
        pinsCheckedAtNextSignIn: impact.unknown,
        expiresNow,
        message: previewMessage(
          changes,
          effects,
          "No user is affected: every current PIN still complies and nobody is locked by this change.",
        ),
      };
    },

    /** What a sign-in and recovery policy change would do (validated exactly as saving would). */
    async previewPortalPolicy(ctx: RequestContext, change: unknown, current: PortalPolicy) {
      assertAdmin(ctx);
      const next = parsePortalPolicy(change, current);
      const changes: string[] = [];
      const effects: string[] = [];
      const setWords = (set: PortalPolicy["authSets"][number]) =>
        `${set.name}: ${set.methods.map((m) => METHOD_LABELS[m]).join(" + ")}`;
      for (const set of next.authSets) {
        const was = current.authSets.find((s) => s.id === set.id);
        if (!was) changes.push(`New authentication set ${setWords(set)}.`);
        else if (JSON.stringify(was) !== JSON.stringify(set))
          changes.push(`Set changed to ${setWords(set)}.`);
        const gained = set.methods.filter((m) => !was?.methods.includes(m));
        if (gained.length > 0) {
          const who = await usersOfSet(next, set);
          effects.push(
            `${who} ${plural(who, "user", "users")} of ${set.name} will also need ${gained.map((m) => METHOD_LABELS[m].toLowerCase()).join(" and ")} at their next sign-in${next.enrolDuringSignIn ? " (they can set it up then)" : ""}.`,
          );
        }
      }
      // A set that needs a code this PinDesk cannot send locks its users out: say so before it is saved.
      const notSetUp = (c: "email" | "sms") => outbox.unavailable?.(c) ?? null;
      for (const set of next.authSets)
        for (const channel of ["email", "sms"] as const)
          if (set.methods.includes(channel) && notSetUp(channel))
            effects.push(
              `${set.name} needs a ${METHOD_LABELS[channel].toLowerCase()}, but this PinDesk is not set up to send ${CHANNEL_SENDS[channel]}: its users could not finish signing in (${notSetUp(channel)}).`,
            );
      for (const set of current.authSets)
        if (!next.authSets.some((s) => s.id === set.id))
          changes.push(`Set ${set.name} removed: its users get the default set.`);
      if (next.defaultSetId !== current.defaultSetId)
        changes.push(
          `Default set: ${next.authSets.find((s) => s.id === next.defaultSetId)?.name ?? next.defaultSetId}.`,
        );
      const ea = next.emergencyAccess;
      const eaWas = current.emergencyAccess;
      if (ea.enabled !== eaWas.enabled) {
        changes.push(`Emergency Access turned ${ea.enabled ? "on" : "off"}.`);
        if (ea.enabled) {
          const registered = Number(
            (
              await kysely
                .selectFrom("security_answers")
                .select((eb) => eb.fn.count("user_id").distinct().as("n"))
                .executeTakeFirst()
            )?.n ?? 0,
          );
          effects.push(
            `${registered} ${plural(registered, "user has", "users have")} registered security answers and can use it now; the others must register answers first (My account → Security questions).`,
          );
        } else
          effects.push("Nobody can reset their PIN with security questions until it is turned on again.");
      }
      if (JSON.stringify(ea.questions) !== JSON.stringify(eaWas.questions))
        changes.push(
          `Security questions: ${ea.questions.length} (${ea.questions.map((q) => q.text).join(" / ")}).`,
        );
      if (ea.registerCount !== eaWas.registerCount || ea.askCount !== eaWas.askCount)
        changes.push(`Users register ${ea.registerCount} answers and are asked ${ea.askCount} at random.`);
      const removedQuestions = eaWas.questions.filter((q) => !ea.questions.some((n) => n.id === q.id));
      if (removedQuestions.length > 0)
        effects.push(
          `Answers to ${removedQuestions.length} removed ${plural(removedQuestions.length, "question", "questions")} stop counting: users with fewer than ${ea.askCount} remaining answers must register again.`,
        );
      const channels = (list: readonly string[]) =>
        list.map((c) => (c === "email" ? "email" : "text message")).join(" and ") || "none";
      if (JSON.stringify(next.recovery.channels) !== JSON.stringify(current.recovery.channels)) {
        changes.push(`Forgot PIN sends codes by ${channels(next.recovery.channels)}.`);
        if (next.recovery.channels.length === 0)
          effects.push(
            "Forgot PIN can no longer send a code: users must call the help desk or use Emergency Access.",
          );
        for (const channel of next.recovery.channels)
          if (notSetUp(channel))
            effects.push(
              `Forgot PIN will not offer ${CHANNEL_SENDS[channel]} until delivery is set up (${notSetUp(channel)}).`,
            );
      }
      for (const key of [
        "codeLength",
        "ttlMinutes",
        "maxTries",
        "resendCooldownSeconds",
        "perUserPerHour",
        "perIpPerHour",
      ] as const)
        if (next.recovery[key] !== current.recovery[key])
          changes.push(`${RECOVERY_WORDS[key]}: ${current.recovery[key]} → ${next.recovery[key]}.`);
      if (
        next.sessions.idleMinutes !== current.sessions.idleMinutes ||
        next.sessions.absoluteHours !== current.sessions.absoluteHours
      )
        changes.push(
          `Sessions end after ${next.sessions.idleMinutes} idle minutes or ${next.sessions.absoluteHours} hours.`,
        );
      if (next.helpdeskContact !== current.helpdeskContact)
        changes.push(`Help desk contact shown to users: "${next.helpdeskContact}".`);
      if (next.enrolDuringSignIn !== current.enrolDuringSignIn)
        changes.push(
          next.enrolDuringSignIn
            ? "Users may set up a missing method during sign-in."
            : "A user missing a method of their set cannot sign in until the help desk sets it up.",
        );
      return {
        policy: next,
        changes,
        effects,
        message: previewMessage(changes, effects, "No user is affected until they next sign in."),
      };
    },

    /** What a QR code method policy change would do. */
    async previewQrPolicy(
      ctx: RequestContext,
      change: { state?: string; pinLength?: number; standardQRCodeLifetimeInDays?: number },
      current: { state: string; pinLength: number; standardQRCodeLifetimeInDays: number },
    ) {
      assertAdmin(ctx);
      const changes: string[] = [];
      const effects: string[] = [];
      const badges = Number(
        (
          await kysely
            .selectFrom("qr_pin_methods")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirst()
        )?.n ?? 0,
      );
      if (change.state !== undefined && change.state !== current.state) {
        changes.push(`QR code sign-in turned ${change.state === "enabled" ? "on" : "off"}.`);
        effects.push(
          change.state === "enabled"
            ? `${badges} ${plural(badges, "user has a badge", "users have badges")} that will work again.`
            : `${badges} ${plural(badges, "user's badge stops", "users' badges stop")} working until it is turned on again; their PINs still work elsewhere.`,
        );
      }
      let pinsNotCompliant: number | undefined;
      if (change.pinLength !== undefined && change.pinLength !== current.pinLength) {
        changes.push(`Badge PINs: at least ${change.pinLength} digits.`);
        const { impact } = await policies.preview({ qr: { pinLength: change.pinLength } });
        pinsNotCompliant = impact.notCompliant;
        if (impact.notCompliant > 0)
          effects.push(
            `${impact.notCompliant} ${plural(impact.notCompliant, "PIN no longer complies", "PINs no longer comply")}; they are asked to change at the next sign-in.`,
          );
      }
      if (
        change.standardQRCodeLifetimeInDays !== undefined &&
        change.standardQRCodeLifetimeInDays !== current.standardQRCodeLifetimeInDays
      )
        changes.push(
          `New badges last ${change.standardQRCodeLifetimeInDays} days; printed badges keep their dates.`,
        );
      return {
        changes,
        effects,
        ...(pinsNotCompliant !== undefined && { pinsNotCompliant }),
        message: previewMessage(changes, effects, "No user is affected."),
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

    /**
     * The audit trail, newest first. "Done by" accepts what a help desk types — a user name, with or
     * without the recorded "user:" prefix, in any case — and matches every form it was recorded under.
     */
    /** Removes one of a user's sign-in methods (the help desk's action; role rules apply). */
    async removeMethod(ctx: RequestContext, userId: string, methodId: string): Promise<void> {
      const user = await repos.users.findById(userId);
      if (!user) throw new AppError("userNotFound", { user: userId });
      assertCanManage(ctx.actor, user);
      const row = await repos.authMethods.get(methodId);
      if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
      await repos.authMethods.delete(methodId);
      await audit.record(ctx, {
        action: "method.removedByAdmin",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
        details: { type: row.type },
      });
    },

    async auditEvents(ctx: RequestContext, filter: AuditFilter, limit: number) {
      assertAdmin(ctx);
      return audit.query({ ...(await auditQueryOf(filter)), limit });
    },

    /** Every event matching the filter, in pages (for exports of any size). */
    async *auditExport(ctx: RequestContext, filter: AuditFilter): AsyncGenerator<AuditEvent> {
      assertAdmin(ctx);
      const base = await auditQueryOf(filter);
      let after: { at: number; id: string } | undefined;
      for (;;) {
        const page = await audit.query({ ...base, ...(after && { after }), limit: EXPORT_PAGE });
        for (const e of page) yield e;
        const last = page[page.length - 1];
        if (page.length < EXPORT_PAGE || !last) return;
        after = { at: Date.parse(last.at), id: last.id };
      }
    },

    /**
     * What became of a message just queued: waits briefly for its first delivery attempt, so the help
     * desk is told "accepted", "not delivered: why" or "being retried", never a bare "sent".
     */
    async deliveryOutcome(messageId: string, waitMs = 3000) {
      const until = Date.now() + waitMs;
      for (;;) {
        const message = await outbox.get?.(messageId);
        const state = message?.state ?? message?.status;
        if (!message || (state !== "queued" && state !== "sending") || Date.now() >= until)
          return (
            message && {
              state: state ?? "queued",
              statusText: message.statusText ?? state ?? "",
              lastError: message.lastError,
            }
          );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },

    newId: randomUUID,
  };
};

/**
 * The PIN state as the help desk should read it. A temporary PIN the help desk just issued has not
 * been used yet: the user has not "signed in with a temporary PIN" — they are to sign in with it.
 */
export const describeForHelpdesk = (pin: PinStatus, now: number): string => {
  if (pin.state !== "Must Change" || pin.reason !== "temporaryPin" || !pin.isTemporary)
    return pin.description;
  const expires = pin.temporaryExpiresAt ? Date.parse(pin.temporaryExpiresAt) : null;
  if (expires !== null && expires <= now) return pin.description;
  const by = pin.mustChangeBy
    ? ` by ${pin.mustChangeBy}${pin.mustChangeAt ? ` at ${humanTime(pin.mustChangeAt)}` : ""}`
    : "";
  return `Must change: a temporary PIN was issued${by}. The user signs in with it${expires ? ` before ${humanTime(expires)}` : ""} and then chooses their own PIN.`;
};

/** "Why is this user stuck?": state, reason, last deliveries, and the next step for the help desk. */
export interface MethodLockout {
  kind: MethodCounterKind;
  label: string;
  failedAttempts: number;
  /** null: until an administrator unblocks (or, with `atThreshold`, no lock set yet). */
  lockedUntil: string | null;
  /** The failures reached the threshold but no lock is set yet: the next attempt sets it. */
  atThreshold: boolean;
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
    if (!state.locked && !state.atThreshold) continue;
    out.push({
      kind,
      label: METHOD_COUNTER_LABELS[kind],
      failedAttempts: state.failedCount,
      lockedUntil: state.lockedUntil === null ? null : new Date(state.lockedUntil).toISOString(),
      atThreshold: state.atThreshold,
    });
  }
  return out;
};

/** Forgot PIN's hourly code limit as it stands for one user. */
export interface CodeLimit {
  readonly sentLastHour: number;
  /** When Forgot PIN can send the next code; null when it can now. */
  readonly retryAt: number | null;
  /** Distinct network addresses the codes of the last hour were asked for from. */
  readonly addresses: number;
}

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
  {
    methodLockouts = [],
    codeLimit,
    badge,
    now = Date.now(),
  }: {
    methodLockouts?: readonly MethodLockout[];
    codeLimit?: CodeLimit | undefined;
    badge?: BadgeFacts | undefined;
    /** The time the summary speaks of (a temporary PIN past its expiry no longer works). */
    now?: number;
  } = {},
) => {
  const lines: string[] = [];
  let nextStep: string;
  if (!user.accountEnabled) {
    lines.push(
      "The account is disabled: no PIN, badge or sign-in method works for it, and Forgot PIN sends it no code (the person is told only that a code was sent, as for a name that does not exist).",
    );
    nextStep =
      "If the person should have access, enable the account: `pindesk user enable` with their user name, or accountEnabled through the Graph API (User.ReadWrite.All).";
    // What will still be in the way once it is enabled.
    if (pin.state === "Account Lockout") {
      lines.push(pin.description);
      nextStep = `${nextStep} Their PIN is locked too: Unblock PIN once you know who you are talking to.`;
    }
  } else if (pin.state === "Account Lockout") {
    lines.push(pin.description);
    nextStep =
      "Confirm who you are talking to, then Unblock PIN (keeps their PIN) or Reset PIN if they forgot it.";
  } else if (pin.state === "No PIN") {
    lines.push("This user has no PIN.");
    nextStep = "Generate a temporary PIN and give it to them; they choose their own PIN at sign-in.";
  } else if (pin.state === "Must Change") {
    lines.push(pin.description);
    const temporaryExpired =
      pin.isTemporary && pin.temporaryExpiresAt !== null && Date.parse(pin.temporaryExpiresAt) <= now;
    nextStep = temporaryExpired
      ? `Their temporary PIN expired at ${humanTime(pin.temporaryExpiresAt)} and no longer works: Generate temporary PIN and give them the new one.`
      : pin.isTemporary
        ? `They must sign in with the temporary PIN${pin.temporaryExpiresAt ? ` before ${humanTime(pin.temporaryExpiresAt)}` : ""} and choose a new one. If it was lost, generate a new temporary PIN.`
        : "At their next sign-in they are asked to set a new PIN; nothing else is needed.";
  } else {
    lines.push("The PIN is in Steady State: it works.");
    nextStep =
      pin.failedAttempts > 0
        ? `There were ${pin.failedAttempts} wrong PIN(s) since the last success; if they forgot it, Reset PIN.`
        : "If they still cannot sign in, check which device or method fails (look up the error code in the troubleshooter).";
  }
  // A message replaced by a newer code was given up on by design: the newer one is what counts.
  const recovery = messages.filter(
    (m) =>
      (m.purpose === "recoveryCode" || m.purpose === "recoveryLink") &&
      !(m.status === "expired" && m.lastError?.startsWith(SUPERSEDED)),
  );
  // A message still being retried has already failed at least once: it is not arriving either.
  // An expired one was never sent: its code ran out while delivery kept failing.
  const notArriving = recovery.filter(
    (m) => m.status === "failed" || m.status === "expired" || (m.status === "queued" && m.lastError),
  );
  for (const m of notArriving) {
    const what =
      m.status === "failed"
        ? "was NOT delivered"
        : m.status === "expired"
          ? "was never delivered, and its code has expired"
          : "is failing and being retried";
    lines.push(
      `A recovery message to ${m.destinationMasked} (sent ${humanTime(m.createdAt)}) ${what}: ${m.lastError ?? "unknown reason"}.`,
    );
  }
  const delivered = recovery.find((m) => m.status === "accepted");
  if (delivered)
    lines.push(
      `A recovery message to ${delivered.destinationMasked} was accepted by the provider (sent ${humanTime(delivered.createdAt)}).`,
    );
  if (notArriving.length > 0) {
    nextStep = `Their recovery messages are not arriving (${notArriving[0]?.lastError ?? "delivery failed"}). ${nextStep} Also check their mail address and phone number with them.`;
  } else if (
    delivered &&
    pin.state === "Steady State" &&
    (pin.changedAt === null || pin.changedAt < delivered.createdAt)
  ) {
    // Seed 000: the provider took the message, but the PIN was never changed with it.
    nextStep = `Their recovery message to ${delivered.destinationMasked} was accepted by the provider but not used. Ask them to look in spam or junk and check that address with them; or Generate temporary PIN and give it to them once you know who they are.`;
  } else {
    const other = messages.filter((m) => m.status === "failed").length;
    if (other > 0) lines.push(`${other} other recent message(s) to them failed to deliver.`);
  }
  if (methodLockouts.length > 0) {
    const names = methodLockouts.map((m) => m.label).join(", ");
    for (const m of methodLockouts) {
      lines.push(
        m.atThreshold
          ? `${m.label} has had too many wrong attempts: the next attempt is refused and locks it.`
          : `${m.label} is locked after too many wrong attempts ${m.lockedUntil === null ? "until an administrator unblocks it" : `until ${humanTime(m.lockedUntil)}`}.`,
      );
    }
    nextStep = `${nextStep} Unblock PIN also unblocks ${names}.`;
  }
  if (codeLimit && codeLimit.retryAt !== null) {
    const until = humanTime(codeLimit.retryAt);
    lines.push(
      `Forgot PIN has sent ${codeLimit.sentLastHour} ${plural(codeLimit.sentLastHour, "code", "codes")} for this user name in the last hour, the most it allows, and cannot send another until ${until}.`,
    );
    if (codeLimit.addresses > 1)
      lines.push(
        `They were asked for from ${codeLimit.addresses} different network addresses: if the user did not ask for them all, someone else may be using their name.`,
      );
    nextStep = `${nextStep} Forgot PIN cannot send them a code until ${until}: if they need in now, Generate temporary PIN and give it to them once you know who they are.`;
  }
  const badgeProblem = user.accountEnabled && badge ? badgeProblemOf(badge) : undefined;
  if (badgeProblem) {
    lines.push(badgeProblem.line);
    // With a working PIN the badge is what fails: its step is the one to take.
    nextStep = pin.state === "Steady State" ? badgeProblem.nextStep : `${nextStep} ${badgeProblem.nextStep}`;
  }
  return { summary: lines, nextStep };
};

/** What the help desk needs to know of a user's QR badge to say why badge sign-in fails. */
export interface BadgeFacts {
  /** The QR code + PIN policy is on and includes the user. */
  signInAllowed: boolean;
  codes: readonly { kind: string; startAt: number; expireAt: number }[];
  now: number;
}

/** Why the user's badge cannot sign in now, and what to do; undefined when it can. */
const badgeProblemOf = (badge: BadgeFacts): { line: string; nextStep: string } | undefined => {
  if (!badge.signInAllowed)
    return {
      line: "Badge sign-in (QR code + PIN) is turned off for this user by the QR code + PIN policy.",
      nextStep:
        "Badge sign-in needs the QR code + PIN policy turned on for them (Policies, by an administrator of policies); until then they sign in with their PIN.",
    };
  const { now } = badge;
  if (badge.codes.some((c) => c.startAt <= now && now < c.expireAt)) return undefined;
  const standard = badge.codes.find((c) => c.kind === "standard");
  if (standard && now < standard.startAt)
    return {
      line: `Their QR badge works from ${humanTime(standard.startAt)}; until then badge sign-in is refused.`,
      nextStep: "Issue temporary QR code for the time until their badge starts working.",
    };
  return {
    line: standard
      ? `Their QR badge expired at ${humanTime(standard.expireAt)}, so badge sign-in does not work.`
      : "They have no valid QR code, so badge sign-in does not work.",
    nextStep: "Issue temporary QR code for today, and Replace QR badge to give them a new one.",
  };
};

export type AdminService = ReturnType<typeof createAdminService>;
