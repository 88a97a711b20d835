import { randomInt, randomUUID } from "node:crypto";
import QRCode from "qrcode";
import { safeEqual } from "../crypto/hasher.ts";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { checkQrPin, generateTemporaryPin, qrProfilePolicy } from "../domain/pin-policy.ts";
import { formatQrContent, parseQrContent } from "../domain/qr-content.ts";
import { canReadAuthenticationMethods } from "../domain/roles.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import type { Repos } from "../store/index.ts";
import type { QrCodeRow } from "../store/repos/qr-codes.ts";
import type { User } from "../store/repos/users.ts";
import type { QrCodeKind } from "../store/schema.ts";
import type { AuditService } from "./audit-service.ts";
import { actorLabel, type Clock, type RequestContext } from "./context.ts";
import { assertCanManage, assertCanManagePolicies } from "./permissions.ts";
import type { PinService, VerifyOutcome } from "./pin-service.ts";
import type { PolicyService } from "./policy-service.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MIN_STANDARD_DAYS = 1;
const MAX_STANDARD_DAYS = 395;
const TEMPORARY_MIN_HOURS = 1;
const TEMPORARY_MAX_HOURS = 12;
const ERROR_CORRECTION = "M";

export interface QrTarget {
  id: string;
  targetType: "group" | "user";
  isRegistrationRequired?: boolean;
}

/** The qrCodePin authentication method policy; pinLength and lifetime live in the PIN policy's `qr`. */
export interface QrMethodPolicy {
  state: "enabled" | "disabled";
  pinLength: number;
  standardQRCodeLifetimeInDays: number;
  includeTargets: QrTarget[];
  excludeTargets: QrTarget[];
}

const ALL_USERS: QrTarget = { id: "all_users", targetType: "group", isRegistrationRequired: false };
const DEFAULT_SCOPE = {
  state: "enabled" as const,
  includeTargets: [ALL_USERS],
  excludeTargets: [] as QrTarget[],
};
const QR_POLICY = "qrCodePin";
// Every sign-in reads the method's scope; a second-long cache saves that query. A change made by another
// PinDesk process is seen within SCOPE_CACHE_MS; a change made here, at once.
const SCOPE_CACHE_MS = 1000;

export interface QrImage {
  binaryValue: string;
  rawContent: string;
  version: number;
  errorCorrectionLevel: "l" | "m" | "q" | "h";
}

export interface QrCodeView {
  id: string;
  kind: QrCodeKind;
  startDateTime: string;
  expireDateTime: string;
  createdDateTime: string;
  lastUsedDateTime: string | null;
  /** Only in the response that creates the code. */
  image?: QrImage;
}

export interface QrPinView {
  /** The user's one PIN, identified by the user's id. */
  id: string;
  forceChangePinNextSignIn: boolean;
  createdDateTime: string | null;
  updatedDateTime: string | null;
  /** Only in the responses that create or reset the PIN. */
  code?: string;
}

export interface QrMethodView {
  id: string;
  userId: string;
  createdDateTime: string;
  standardQRCode: QrCodeView | null;
  temporaryQRCode: QrCodeView | null;
  pin: QrPinView;
}

export interface CodeDates {
  startDateTime?: unknown;
  expireDateTime?: unknown;
}

export type QrSignInOutcome = VerifyOutcome & { codeKind: QrCodeKind };

const iso = (ms: number) => new Date(ms).toISOString();

const parseDate = (field: string, value: unknown): number => {
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new AppError("invalidRequest", {
      problems: [{ field, message: "must be an ISO 8601 date and time, e.g. 2026-12-01T08:00:00Z" }],
    });
  }
  return ms;
};

const view = (row: QrCodeRow, image?: QrImage): QrCodeView => ({
  id: row.id,
  kind: row.kind,
  startDateTime: iso(row.start_at),
  expireDateTime: iso(row.expire_at),
  createdDateTime: iso(row.created_at),
  lastUsedDateTime: row.last_used_at === null ? null : iso(row.last_used_at),
  ...(image && { image }),
});

export const renderQrImage = async (rawContent: string): Promise<QrImage> => {
  const symbol = QRCode.create(rawContent, { errorCorrectionLevel: ERROR_CORRECTION });
  const svg = await QRCode.toString(rawContent, {
    type: "svg",
    errorCorrectionLevel: ERROR_CORRECTION,
    margin: 2,
  });
  return {
    binaryValue: Buffer.from(svg, "utf8").toString("base64"),
    rawContent: Buffer.from(rawContent, "utf8").toString("base64"),
    version: symbol.version,
    errorCorrectionLevel: "m",
  };
};

export const createQrService = ({
  db,
  repos,
  pins,
  policies,
  audit,
  clock,
}: {
  db: Db;
  repos: Repos;
  pins: PinService;
  policies: PolicyService;
  audit: AuditService;
  clock: Clock;
}) => {
  const { users, qr } = repos;

  const requireUser = async (ref: string): Promise<User> => {
    const user = await users.findByIdOrUpn(ref);
    if (!user) throw new AppError("userNotFound", { user: ref.slice(0, 256) });
    return user;
  };

  const assertCanRead = (ctx: RequestContext, user: User) => {
    const { actor } = ctx;
    if (actor.type !== "user" || actor.id === user.id) return;
    if (!canReadAuthenticationMethods(actor.roles, user.roles)) {
      throw new AppError("forbiddenTarget", { targetRoles: user.roles });
    }
  };

  const target = (user: Pick<User, "id" | "userPrincipalName">) => ({
    id: user.id,
    upn: user.userPrincipalName,
  });

  let scopeCache: { body: Partial<typeof DEFAULT_SCOPE> | undefined; until: number } | undefined;
  const storedScope = async (): Promise<Partial<typeof DEFAULT_SCOPE> | undefined> => {
    const now = clock.now();
    if (scopeCache && scopeCache.until > now && scopeCache.until - SCOPE_CACHE_MS <= now)
      return scopeCache.body;
    const body = (await repos.policies.latest(QR_POLICY))?.body as Partial<typeof DEFAULT_SCOPE> | undefined;
    scopeCache = { body, until: clock.now() + SCOPE_CACHE_MS };
    return body;
  };

  const policy = async (): Promise<QrMethodPolicy> => {
    const pin = (await policies.pinPolicy()).qr;
    const stored = await storedScope();
    return {
      state: stored?.state ?? DEFAULT_SCOPE.state,
      pinLength: pin.pinLength,
      standardQRCodeLifetimeInDays: pin.standardQRCodeLifetimeInDays,
      includeTargets: stored?.includeTargets ?? DEFAULT_SCOPE.includeTargets,
      excludeTargets: stored?.excludeTargets ?? DEFAULT_SCOPE.excludeTargets,
    };
  };

  const inScope = (p: QrMethodPolicy, user: Pick<User, "id">): boolean => {
    if (p.state !== "enabled") return false;
    if (p.excludeTargets.some((t) => t.id === user.id || t.id === "all_users")) return false;
    return p.includeTargets.some((t) => t.id === "all_users" || t.id === user.id);
  };

  const assertEnabledFor = async (user: Pick<User, "id">) => {
    const p = await policy();
    if (!inScope(p, user)) throw new AppError("qrCodePinMethodDisabled", { state: p.state });
  };

  /** Whether the user has a method that can still sign in: one with a code that has not expired. */
  const hasActiveMethod = async (user: User): Promise<boolean> => {
    if (!(await qr.getMethod(user.id))) return false;
    const now = clock.now();
    return (await qr.codesOf(user.id)).some((c) => c.expire_at > now);
  };

  const requireMethod = async (user: User) => {
    const method = await qr.getMethod(user.id);
    if (!method) throw new AppError("qrCodePinMethodNotFound", { user: user.userPrincipalName });
    return method;
  };

  /** Validates a code's dates against the kind's limits; returns epoch ms. */
  const codeWindow = async (
    kind: QrCodeKind,
    dates: CodeDates,
  ): Promise<{ start: number; expire: number }> => {
    const now = clock.now();
    const start = dates.startDateTime === undefined ? now : parseDate("startDateTime", dates.startDateTime);
    let expire: number;
    if (dates.expireDateTime !== undefined) expire = parseDate("expireDateTime", dates.expireDateTime);
    else if (kind === "standard") expire = start + (await policy()).standardQRCodeLifetimeInDays * DAY;
    else expire = start + TEMPORARY_MAX_HOURS * HOUR;
    const span = expire - start;
    const [min, max, unit, unitMs] =
      kind === "standard"
        ? [MIN_STANDARD_DAYS, MAX_STANDARD_DAYS, "days", DAY]
        : [TEMPORARY_MIN_HOURS, TEMPORARY_MAX_HOURS, "hours", HOUR];
    const details = {
      kind,
      startDateTime: iso(start),
      expireDateTime: iso(expire),
      allowed: `${min} to ${max} ${unit}`,
    };
    const name = kind === "standard" ? "A standard QR code" : "A temporary QR code";
    if (span < min * unitMs || span > max * unitMs) {
      const given = Math.round((span / unitMs) * 100) / 100;
      throw new AppError(
        "invalidQrCodeLifetime",
        details,
        `${name} must be valid for ${min} to ${max} ${unit}: expireDateTime must be ${min} to ${max} ${unit} after startDateTime (these dates give ${given} ${unit}).`,
      );
    }
    if (expire <= now) {
      throw new AppError(
        "invalidQrCodeLifetime",
        details,
        `${name} must expire in the future: expireDateTime ${iso(expire)} has already passed.`,
      );
    }
    return { start, expire };
  };

  /** A new code: fresh id and secret, image rendered once, only the secret's digest stored. */
  const newCode = async (user: User, kind: QrCodeKind, window: { start: number; expire: number }) => {
    const now = clock.now();
    const id = randomUUID();
    const secret = randomToken(32);
    const row: QrCodeRow = {
      id,
      user_id: user.id,
      kind,
      secret_hash: digestToken(secret),
      start_at: window.start,
      expire_at: window.expire,
      created_at: now,
      updated_at: now,
      last_used_at: null,
    };
    const image = await renderQrImage(
      formatQrContent({ codeId: id, secret, userPrincipalName: user.userPrincipalName }),
    );
    return { row, image };
  };

  /** Issues a new code of `kind` in place of any before it (which stops working), audited as `verb`. */
  const issueCode = async (
    ctx: RequestContext,
    user: User,
    kind: QrCodeKind,
    dates: CodeDates,
    verb: "created" | "replaced",
  ): Promise<QrCodeView> => {
    await assertEnabledFor(user);
    const window = await codeWindow(kind, dates);
    const { row, image } = await newCode(user, kind, window);
    await qr.replaceCode(row);
    await audit.record(ctx, {
      action: `qr.${kind}Code.${verb}`,
      outcome: "success",
      target: target(user),
      details: { codeId: row.id, expireDateTime: iso(row.expire_at) },
    });
    return view(row, image);
  };

  /** A PIN of the QR profile (digits only, the policy's length), from the CSPRNG. */
  const generatedPin = async (): Promise<string> => {
    const profile = qrProfilePolicy(await policies.pinPolicy());
    return generateTemporaryPin(profile.temporaryPin.length, (max: number) => randomInt(max), profile);
  };

  const pinView = async (user: User): Promise<QrPinView> => {
    const cred = await repos.pins.get(user.id);
    // Read straight off the credential: Graph's flag does not depend on the lockout counter.
    const expirationDays = (await policies.pinPolicy()).expirationDays;
    const expired =
      cred !== undefined && expirationDays > 0 && cred.changed_at + expirationDays * DAY <= clock.now();
    return {
      id: user.id,
      forceChangePinNextSignIn:
        cred !== undefined && (cred.is_temporary === 1 || cred.must_change_reason !== null || expired),
      createdDateTime: cred ? iso(cred.created_at) : null,
      updatedDateTime: cred ? iso(cred.changed_at) : null,
    };
  };

  const methodView = async (user: User): Promise<QrMethodView | null> => {
    const snapshot = await qr.snapshot(user.id);
    if (!snapshot) return null;
    const standard = snapshot.codes.find((c) => c.kind === "standard");
    const temporary = snapshot.codes.find((c) => c.kind === "temporary");
    const pin = snapshot.pin;
    const expirationDays = (await policies.pinPolicy()).expirationDays;
    const expired =
      pin !== undefined && expirationDays > 0 && pin.changedAt + expirationDays * DAY <= clock.now();
    return {
      id: user.id,
      userId: user.id,
      createdDateTime: iso(snapshot.methodCreatedAt),
      standardQRCode: standard ? view(standard) : null,
      temporaryQRCode: temporary ? view(temporary) : null,
      pin: {
        id: user.id,
        forceChangePinNextSignIn:
          pin !== undefined && (pin.isTemporary || pin.mustChangeReason !== null || expired),
        createdDateTime: pin ? iso(pin.createdAt) : null,
        updatedDateTime: pin ? iso(pin.changedAt) : null,
      },
    };
  };

  return {
    policy,

    /** Whether the QR code + PIN policy lets `user` sign in with a badge (turned on, and in its scope). */
    enabledFor: async (user: Pick<User, "id">): Promise<boolean> => inScope(await policy(), user),

    async getMethod(ctx: RequestContext, ref: string): Promise<QrMethodView> {
      const user = await requireUser(ref);
      assertCanRead(ctx, user);
      const found = await methodView(user);
      if (!found) throw new AppError("qrCodePinMethodNotFound", { user: user.userPrincipalName });
      return found;
    },

    /**
     * Creates the method: a standard code (dates required), no temporary code, and the given PIN, which
     * the user must change at first sign-in. One method per user.
     */
    async createMethod(
      ctx: RequestContext,
      ref: string,
      input: {
        standardQRCode?: CodeDates | null;
        temporaryQRCode?: unknown;
        pin?: { code?: unknown } | null;
      },
    ): Promise<QrMethodView> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await assertEnabledFor(user);
      const standard = input.standardQRCode;
      if (
        !standard ||
        standard.startDateTime === undefined ||
        standard.expireDateTime === undefined ||
        (input.temporaryQRCode !== undefined && input.temporaryQRCode !== null)
      ) {
        throw new AppError("standardQRCodeRequired");
      }
      const supplied = input.pin?.code;
      if (supplied !== undefined && supplied !== null && typeof supplied !== "string") {
        throw new AppError("invalidRequest", {
          problems: [{ field: "pin.code", message: "must be a string of digits" }],
        });
      }
      if (await hasActiveMethod(user)) throw new AppError("tooManyQRCodePinMethod");
      // Graph lets the admin choose the PIN or leave it out and have one generated.
      const code = typeof supplied === "string" ? supplied : await generatedPin();
      // The PIN is checked (QR profile) before anything is stored, so a rejected PIN leaves no method behind.
      const violations = checkQrPin(code, await policies.pinPolicy());
      const [first] = violations;
      if (first) throw new AppError(first.code, { violations, field: "pin.code" }, first.message);
      const window = await codeWindow("standard", standard);
      const { row, image } = await newCode(user, "standard", window);
      const now = clock.now();
      const hadPin = (await repos.pins.get(user.id)) !== undefined;
      // The method is claimed first and the PIN written only by the request that won: a concurrent PUT
      // that loses answers tooManyQRCodePinMethod without touching the PIN the winner returns.
      const claimed = await db.transaction((trx) => qr.claimMethod(row, now, trx));
      if (!claimed) throw new AppError("tooManyQRCodePinMethod");
      try {
        // The user has one PIN: the method's PIN is it, so Graph's PUT (which always sets the PIN)
        // replaces a PIN the user already had. It is a starting PIN the user changes at first sign-in.
        await pins.set(ctx, user.id, code, { forceChange: true, action: "pin.reset", qrProfile: true });
      } catch (error) {
        await db.transaction((trx) => qr.releaseMethod(user.id, now, trx));
        throw error;
      }
      await audit.record(ctx, {
        action: "qr.method.created",
        outcome: "success",
        target: target(user),
        reason: hadPin ? "existingPinReplaced" : "pinCreated",
        details: {
          standardQRCodeId: row.id,
          expireDateTime: iso(row.expire_at),
          existingPinReplaced: hadPin,
        },
      });
      const method = (await methodView(user)) as QrMethodView;
      return {
        ...method,
        standardQRCode: view(row, image),
        pin: { ...method.pin, code, forceChangePinNextSignIn: true },
      };
    },

    /** Removes both codes and the PIN. */
    async deleteMethod(ctx: RequestContext, ref: string): Promise<void> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      await db.transaction(async (trx) => {
        await qr.deleteMethod(user.id, trx);
      });
      // The method's PIN is the user's one PIN (see createMethod): Graph's DELETE removes it too, and the
      // audit trail says so, since PIN checks elsewhere then answer as for a user without a PIN.
      const pinRemoved = (await repos.pins.get(user.id)) !== undefined;
      if (pinRemoved) await pins.remove(ctx, user.id);
      await audit.record(ctx, {
        action: "qr.method.deleted",
        outcome: "success",
        target: target(user),
        reason: pinRemoved ? "pinRemoved" : "noPin",
        details: { pinRemoved },
      });
    },

    /** Graph's reset: a generated temporary PIN (QR profile) that must be changed at next sign-in. */
    async resetPin(ctx: RequestContext, ref: string): Promise<QrPinView & { code: string }> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      const { temporaryPin } = await pins.resetTemporary(ctx, user.id);
      return { ...(await pinView(user)), forceChangePinNextSignIn: true, code: temporaryPin };
    },

    /** The user's own change; a wrong current PIN consumes an attempt on the shared counter. */
    async updateOwnPin(ctx: RequestContext, ref: string, currentPin: string, newPin: string): Promise<void> {
      const user = await requireUser(ref);
      if (ctx.actor.type === "user" && ctx.actor.id !== user.id) assertCanManage(ctx.actor, user);
      await requireMethod(user);
      await pins.change(ctx, user.userPrincipalName, currentPin, newPin);
    },

    async getCode(ctx: RequestContext, ref: string, kind: QrCodeKind): Promise<QrCodeView> {
      const user = await requireUser(ref);
      assertCanRead(ctx, user);
      await requireMethod(user);
      const row = await qr.code(user.id, kind);
      if (!row) throw new AppError("qrCodeNotFound", { kind });
      return view(row);
    },

    /**
     * PATCH on a code: creates it when missing (→ created, with its image); on an existing standard code
     * only expireDateTime may change; a temporary code is never edited.
     */
    async patchCode(
      ctx: RequestContext,
      ref: string,
      kind: QrCodeKind,
      dates: CodeDates,
    ): Promise<{ created: boolean; code: QrCodeView }> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      const current = await qr.code(user.id, kind);
      // An expired code is as good as none: the help desk can issue the next one (Graph creates a code
      // when there is no active one).
      const existing = current && current.expire_at <= clock.now() ? undefined : current;
      if (!existing) return { created: true, code: await issueCode(ctx, user, kind, dates, "created") };
      if (kind === "temporary" || dates.startDateTime !== undefined)
        throw new AppError("qrCodeNotEditable", { kind });
      if (dates.expireDateTime === undefined) return { created: false, code: view(existing) };
      const window = await codeWindow(kind, {
        startDateTime: iso(existing.start_at),
        expireDateTime: dates.expireDateTime,
      });
      await qr.updateExpiry(existing.id, window.expire, clock.now());
      await audit.record(ctx, {
        action: "qr.standardCode.updated",
        outcome: "success",
        target: target(user),
        details: { codeId: existing.id, expireDateTime: iso(window.expire) },
      });
      return { created: false, code: view((await qr.code(user.id, kind)) as QrCodeRow) };
    },

    /**
     * The help desk's temporary code: a new one every time it is asked for, so a worker who lost the
     * last one (the image is shown once) gets another at once; the one before stops working.
     */
    async issueTemporaryCode(
      ctx: RequestContext,
      ref: string,
    ): Promise<{ replaced: boolean; code: QrCodeView }> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      const current = await qr.code(user.id, "temporary");
      const replaced = current !== undefined && current.expire_at > clock.now();
      const code = await issueCode(ctx, user, "temporary", {}, replaced ? "replaced" : "created");
      return { replaced, code };
    },

    /**
     * The help desk's badge: creates the method, or replaces the standard code with a new one (the old
     * printed badge stops working) and sets the PIN the help desk chose, which the user must change at
     * the first sign-in. Everything that can refuse is checked first; the PIN (policy and history) is
     * stored before the code is swapped, so a refused PIN leaves the printed badge working, and the
     * swap itself is one statement pair in a transaction (replaceCode).
     */
    async issueBadge(
      ctx: RequestContext,
      ref: string,
      pin: string,
      lifetimeDays?: number,
    ): Promise<{ created: boolean; code: QrCodeView }> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      const violations = checkQrPin(pin, await policies.pinPolicy());
      if (violations[0]) throw new AppError(violations[0].code, { violations }, violations[0].message);
      await assertEnabledFor(user);
      const now = clock.now();
      const days = lifetimeDays ?? (await policy()).standardQRCodeLifetimeInDays;
      const dates = {
        startDateTime: new Date(now).toISOString(),
        expireDateTime: new Date(now + days * 86_400_000).toISOString(),
      };
      if (!(await qr.getMethod(user.id))) {
        const method = await this.createMethod(ctx, user.id, { standardQRCode: dates, pin: { code: pin } });
        if (!method.standardQRCode) throw new Error("a new method always has its standard code");
        return { created: true, code: method.standardQRCode };
      }
      const window = await codeWindow("standard", dates);
      await pins.set(ctx, user.id, pin, { action: "pin.reset", forceChange: true, qrProfile: true });
      const { row, image } = await newCode(user, "standard", window);
      await qr.replaceCode(row);
      await audit.record(ctx, {
        action: "qr.standardCode.replaced",
        outcome: "success",
        target: target(user),
        details: { codeId: row.id, expireDateTime: iso(row.expire_at) },
      });
      return { created: false, code: view(row, image) };
    },

    /** Deletes one code; the PIN stays. */
    async deleteCode(ctx: RequestContext, ref: string, kind: QrCodeKind): Promise<void> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      if (!(await qr.deleteCode(user.id, kind))) throw new AppError("qrCodeNotFound", { kind });
      await audit.record(ctx, { action: `qr.${kind}Code.deleted`, outcome: "success", target: target(user) });
    },

    async updatePolicy(ctx: RequestContext, change: Partial<QrMethodPolicy>): Promise<QrMethodPolicy> {
      assertCanManagePolicies(ctx.actor);
      const before = await policy();
      const problems: { field: string; message: string }[] = [];
      if (change.state !== undefined && change.state !== "enabled" && change.state !== "disabled") {
        problems.push({ field: "state", message: "must be enabled or disabled" });
      }
      const range = (field: "pinLength" | "standardQRCodeLifetimeInDays", min: number, max: number) => {
        const value = change[field];
        if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
          problems.push({ field, message: `must be a whole number from ${min} to ${max}` });
        }
      };
      range("pinLength", 8, 20);
      range("standardQRCodeLifetimeInDays", MIN_STANDARD_DAYS, MAX_STANDARD_DAYS);
      const targets = async (field: string, value: unknown): Promise<QrTarget[] | undefined> => {
        if (value === undefined) return undefined;
        if (
          !Array.isArray(value) ||
          !value.every(
            (t) =>
              typeof t === "object" &&
              t !== null &&
              typeof (t as QrTarget).id === "string" &&
              ((t as QrTarget).targetType === "group" || (t as QrTarget).targetType === "user"),
          )
        ) {
          problems.push({ field, message: 'must be a list of {"id","targetType":"group"|"user"}' });
          return undefined;
        }
        const list = value as QrTarget[];
        for (const t of list) {
          if (t.targetType === "group" && t.id !== "all_users") {
            // Matching a group nobody can be a member of would silently turn sign-in off for everyone.
            problems.push({
              field,
              message: `cannot name the group "${t.id.slice(0, 80)}": PinDesk has no groups. Use {"id":"all_users","targetType":"group"} for everyone, or list users by id with "targetType":"user"`,
            });
          } else if (t.targetType === "user" && !(await users.findById(t.id))) {
            problems.push({
              field,
              message: `names the user "${t.id.slice(0, 80)}", but no user has that id; use the user's id (GUID)`,
            });
          }
        }
        return list.map((t) => ({
          id: t.id,
          targetType: t.targetType,
          isRegistrationRequired: t.isRegistrationRequired === true,
        }));
      };
      const includeTargets = await targets("includeTargets", change.includeTargets);
      const excludeTargets = await targets("excludeTargets", change.excludeTargets);
      if (problems.length > 0) throw new AppError("invalidPolicy", { problems });
      const qrChange = {
        ...(change.pinLength !== undefined && { pinLength: change.pinLength }),
        ...(change.standardQRCodeLifetimeInDays !== undefined && {
          standardQRCodeLifetimeInDays: change.standardQRCodeLifetimeInDays,
        }),
      };
      if (Object.keys(qrChange).length > 0) await policies.update(ctx, { qr: qrChange });
      const scope = {
        state: change.state ?? before.state,
        includeTargets: includeTargets ?? before.includeTargets,
        excludeTargets: excludeTargets ?? before.excludeTargets,
      };
      const latest = await repos.policies.latest(QR_POLICY);
      await repos.policies.append(QR_POLICY, latest?.version ?? 0, scope, clock.now(), actorLabel(ctx.actor));
      scopeCache = undefined;
      await audit.record(ctx, {
        action: "policy.updated",
        outcome: "success",
        details: { policy: QR_POLICY },
      });
      return policy();
    },

    async resetPolicy(ctx: RequestContext): Promise<QrMethodPolicy> {
      assertCanManagePolicies(ctx.actor);
      const latest = await repos.policies.latest(QR_POLICY);
      await repos.policies.append(
        QR_POLICY,
        latest?.version ?? 0,
        DEFAULT_SCOPE,
        clock.now(),
        actorLabel(ctx.actor),
      );
      scopeCache = undefined;
      await policies.update(ctx, { qr: { pinLength: 8, standardQRCodeLifetimeInDays: 365 } });
      await audit.record(ctx, { action: "policy.reset", outcome: "success", details: { policy: QR_POLICY } });
      return policy();
    },

    /**
     * Frontline sign-in: the scanned code is checked first (without touching the PIN counter), then the
     * PIN through the same verification and lockout as every other entry point.
     */
    async signIn(ctx: RequestContext, scanned: string, pin: string): Promise<QrSignInOutcome> {
      const parsed = parseQrContent(scanned);
      const found = parsed ? await qr.codeWithHolder(parsed.codeId) : undefined;
      const row = found?.code;
      const user = found?.holder.user;
      const genuine =
        parsed !== null &&
        row !== undefined &&
        user !== undefined &&
        // The code id and secret are the credential; the UPN in the content only greets the person, so a
        // renamed user's badge keeps working.
        safeEqual(row.secret_hash, digestToken(parsed.secret));
      if (!genuine || !row || !user) {
        await audit.record(ctx, {
          action: "qr.signIn",
          outcome: "denied",
          reason: "qrCodeInvalid",
          ...(user && { target: target(user) }),
        });
        throw new AppError("qrCodeInvalid");
      }
      const now = clock.now();
      if (now < row.start_at || now >= row.expire_at) {
        const notYet = now < row.start_at;
        await audit.record(ctx, {
          action: "qr.signIn",
          outcome: "denied",
          target: target(user),
          reason: notYet ? "qrCodeNotYetValid" : "qrCodeExpired",
          details: { kind: row.kind },
        });
        throw notYet
          ? new AppError("qrCodeInvalid", { validFrom: iso(row.start_at) }, "This QR code is not valid yet.")
          : new AppError("qrCodeExpired", { kind: row.kind, expiredAt: iso(row.expire_at) });
      }
      await assertEnabledFor(user).catch(async (error: unknown) => {
        // Turned off by the QR code + PIN policy: on the record, so the help desk can see why.
        await audit.record(ctx, {
          action: "qr.signIn",
          outcome: "denied",
          target: target(user),
          reason: "qrCodePinMethodDisabled",
        });
        throw error;
      });
      // A completed sign-in records the code's use in its own statement; a change step does it here.
      const outcome = await pins.verify(ctx, user.userPrincipalName, pin, "qr", {
        qrCodeId: row.id,
        found: found.holder,
      });
      if (outcome.result !== "success") await qr.markUsed(row.id, clock.now());
      return { ...outcome, codeKind: row.kind };
    },
  };
};

export type QrService = ReturnType<typeof createQrService>;
