import { randomInt, randomUUID } from "node:crypto";
import QRCode from "qrcode";
import { safeEqual } from "../crypto/hasher.ts";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { generateTemporaryPin, qrProfilePolicy } from "../domain/pin-policy.ts";
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
import { assertCanManage } from "./permissions.ts";
import type { PinService, VerifyOutcome } from "./pin-service.ts";
import type { PolicyService } from "./policy-service.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
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

  const target = (user: User) => ({ id: user.id, upn: user.userPrincipalName });

  const policy = async (): Promise<QrMethodPolicy> => {
    const pin = (await policies.pinPolicy()).qr;
    const stored = (await repos.policies.latest(QR_POLICY))?.body as
      | Partial<typeof DEFAULT_SCOPE>
      | undefined;
    return {
      state: stored?.state ?? DEFAULT_SCOPE.state,
      pinLength: pin.pinLength,
      standardQRCodeLifetimeInDays: pin.standardQRCodeLifetimeInDays,
      includeTargets: stored?.includeTargets ?? DEFAULT_SCOPE.includeTargets,
      excludeTargets: stored?.excludeTargets ?? DEFAULT_SCOPE.excludeTargets,
    };
  };

  const inScope = (p: QrMethodPolicy, user: User): boolean => {
    if (p.state !== "enabled") return false;
    if (p.excludeTargets.some((t) => t.id === user.id)) return false;
    return p.includeTargets.some((t) => t.id === "all_users" || t.id === user.id);
  };

  const assertEnabledFor = async (user: User) => {
    const p = await policy();
    if (!inScope(p, user)) throw new AppError("qrCodePinMethodDisabled", { state: p.state });
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
    const ok =
      expire > now &&
      (kind === "standard"
        ? span > 0 && span <= MAX_STANDARD_DAYS * DAY
        : span >= TEMPORARY_MIN_HOURS * HOUR && span <= TEMPORARY_MAX_HOURS * HOUR);
    if (!ok) {
      throw new AppError("invalidQrCodeLifetime", {
        kind,
        startDateTime: iso(start),
        expireDateTime: iso(expire),
        allowed: kind === "standard" ? `up to ${MAX_STANDARD_DAYS} days` : "1 to 12 hours",
      });
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
        forceChangePinNextSignIn:
          pin !== undefined && (pin.isTemporary || pin.mustChangeReason !== null || expired),
        createdDateTime: pin ? iso(pin.createdAt) : null,
        updatedDateTime: pin ? iso(pin.changedAt) : null,
      },
    };
  };

  return {
    policy,

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
      // Graph lets the admin choose the PIN or leave it out and have one generated.
      const code = typeof supplied === "string" ? supplied : await generatedPin();
      if (await qr.getMethod(user.id)) throw new AppError("tooManyQRCodePinMethod");
      const window = await codeWindow("standard", standard);
      const { row, image } = await newCode(user, "standard", window);
      // The PIN is checked (QR profile) before anything is stored, so a rejected PIN leaves no method behind.
      await pins.set(ctx, user.id, code, { forceChange: true, action: "pin.reset", qrProfile: true });
      const now = clock.now();
      const created = await db.transaction(async (trx) => {
        if (!(await qr.insertMethod(user.id, now, trx))) return false;
        await qr.replaceCode(row, trx);
        return true;
      });
      if (!created) throw new AppError("tooManyQRCodePinMethod");
      await audit.record(ctx, {
        action: "qr.method.created",
        outcome: "success",
        target: target(user),
        details: { standardQRCodeId: row.id, expireDateTime: iso(row.expire_at) },
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
      if (await repos.pins.get(user.id)) await pins.remove(ctx, user.id);
      await audit.record(ctx, { action: "qr.method.deleted", outcome: "success", target: target(user) });
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
      // An expired temporary code is as good as none: the help desk can issue the next one.
      const existing =
        current && kind === "temporary" && current.expire_at <= clock.now() ? undefined : current;
      if (!existing) {
        await assertEnabledFor(user);
        const window = await codeWindow(kind, dates);
        const { row, image } = await newCode(user, kind, window);
        await qr.replaceCode(row);
        await audit.record(ctx, {
          action: `qr.${kind}Code.created`,
          outcome: "success",
          target: target(user),
          details: { codeId: row.id, expireDateTime: iso(row.expire_at) },
        });
        return { created: true, code: view(row, image) };
      }
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

    /** Deletes one code; the PIN stays. */
    async deleteCode(ctx: RequestContext, ref: string, kind: QrCodeKind): Promise<void> {
      const user = await requireUser(ref);
      assertCanManage(ctx.actor, user);
      await requireMethod(user);
      if (!(await qr.deleteCode(user.id, kind))) throw new AppError("qrCodeNotFound", { kind });
      await audit.record(ctx, { action: `qr.${kind}Code.deleted`, outcome: "success", target: target(user) });
    },

    async updatePolicy(ctx: RequestContext, change: Partial<QrMethodPolicy>): Promise<QrMethodPolicy> {
      const before = await policy();
      const problems: { field: string; message: string }[] = [];
      if (change.state !== undefined && change.state !== "enabled" && change.state !== "disabled") {
        problems.push({ field: "state", message: "must be enabled or disabled" });
      }
      const targets = (field: string, value: unknown): QrTarget[] | undefined => {
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
        return value.map((t: QrTarget) => ({
          id: t.id,
          targetType: t.targetType,
          isRegistrationRequired: t.isRegistrationRequired === true,
        }));
      };
      const includeTargets = targets("includeTargets", change.includeTargets);
      const excludeTargets = targets("excludeTargets", change.excludeTargets);
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
      await audit.record(ctx, {
        action: "policy.updated",
        outcome: "success",
        details: { policy: QR_POLICY },
      });
      return policy();
    },

    async resetPolicy(ctx: RequestContext): Promise<QrMethodPolicy> {
      const latest = await repos.policies.latest(QR_POLICY);
      await repos.policies.append(
        QR_POLICY,
        latest?.version ?? 0,
        DEFAULT_SCOPE,
        clock.now(),
        actorLabel(ctx.actor),
      );
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
      const row = parsed ? await qr.codeById(parsed.codeId) : undefined;
      const user = row ? await users.findById(row.user_id) : undefined;
      const genuine =
        parsed !== null &&
        row !== undefined &&
        user !== undefined &&
        user.userPrincipalName.toLowerCase() === parsed.userPrincipalName.toLowerCase() &&
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
      await assertEnabledFor(user);
      const outcome = await pins.verify(ctx, user.userPrincipalName, pin, "qr");
      await qr.markUsed(row.id, clock.now());
      return { ...outcome, codeKind: row.kind };
    },
  };
};

export type QrService = ReturnType<typeof createQrService>;
