import { randomInt } from "node:crypto";
import type { Kysely } from "kysely";
import type { Hasher } from "../crypto/hasher.ts";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import {
  checkPin,
  checkQrPin,
  generateTemporaryPin,
  type PinPolicy,
  type PinViolation,
  qrProfilePolicy,
} from "../domain/pin-policy.ts";
import {
  METHOD_COUNTER_KINDS,
  METHOD_COUNTER_LABELS,
  methodCounterSubject,
} from "../domain/portal-policy.ts";
import { humanTime } from "../domain/time-words.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import { createRepos, type Repos } from "../store/index.ts";
import { PIN_SUBJECT_PREFIX, type Reservation } from "../store/repos/lockout-counters.ts";
import type { PinCredentialRow } from "../store/repos/pin-credentials.ts";
import { type User, upnKey } from "../store/repos/users.ts";
import type { Database } from "../store/schema.ts";
import { type AttemptGuard, counterRules } from "./attempts.ts";
import type { AuditInput, AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";
import type { Metrics } from "./metrics.ts";
import { assertCanManage } from "./permissions.ts";
import type { PinCompliance } from "./pin-compliance.ts";
import type { PolicyService } from "./policy-service.ts";

export type PinState = "Steady State" | "Must Change" | "Account Lockout" | "No PIN";
export type MustChangeReason = "temporaryPin" | "adminReset" | "pinExpired" | "policyChange";

export interface PinStatus {
  userId: string;
  userPrincipalName: string;
  state: PinState;
  /** Machine-readable reason for Must Change / Account Lockout (temporaryPin, adminReset, pinExpired, policyChange, tooManyFailures). */
  reason: string | null;
  /** The state in plain words, for a help desk. */
  description: string;
  failedAttempts: number;
  attemptsRemaining: number;
  lockedAt: string | null;
  /** null while locked means "until an administrator unblocks". */
  lockedUntil: string | null;
  isTemporary: boolean;
  temporaryExpiresAt: string | null;
  changedAt: string | null;
  expiresAt: string | null;
  mustChangeAt: string | null;
  mustChangeBy: string | null;
}

export type VerifyOutcome =
  | { result: "success"; user: User }
  | {
      result: "pinChangeRequired";
      reason: MustChangeReason;
      changeToken: string;
      changeTokenExpiresAt: string;
      user: User;
    };

export interface TemporaryPin {
  temporaryPin: string;
  expiresAt: string;
  user: User;
}

/** The rules a user's PIN is checked against: the PIN policy's, or the QR code + PIN profile's. */
export type PinProfileName = "standard" | "qr";

const CHANGE_TOKEN_TTL_MS = 10 * 60 * 1000;
const QR_PIN_HISTORY = 3;
const pinSubject = (userId: string) => `${PIN_SUBJECT_PREFIX}${userId}`;
// Unknown user names get counters too, so their answers cannot be told apart from a real user's.
const unknownSubject = (upn: string) => `pin-unknown:${digestToken(upnKey(upn))}`;
const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

const REASON_WORDS: Record<MustChangeReason, string> = {
  temporaryPin: "a temporary PIN was issued; the user signs in with it and then chooses their own PIN",
  adminReset: "the PIN was reset by an administrator and must be changed at the next sign-in",
  pinExpired: "the PIN has expired under the PIN policy and must be changed",
  policyChange: "the PIN rules changed and the current PIN no longer complies",
};

export interface PinServiceDeps {
  db: Db;
  repos: Repos;
  hasher: Hasher;
  audit: AuditService;
  policies: PolicyService;
  attempts: AttemptGuard;
  clock: Clock;
  metrics: Metrics;
  compliance: PinCompliance;
}

export const createPinService = ({
  db,
  repos,
  hasher,
  audit,
  policies,
  attempts,
  clock,
  metrics,
  compliance,
}: PinServiceDeps) => {
  const { users, pins, counters, history, changeTokens } = repos;

  /** A user with a QR code + PIN method keeps a PIN that fits that method's profile (digits only, QR length). */
  const usesQrProfile = async (userId: string) => (await repos.qr.getMethod(userId)) !== undefined;
  const violationsOf = (pin: string, policy: PinPolicy, qr: boolean) =>
    qr ? checkQrPin(pin, policy) : checkPin(pin, policy);

  /** How many PINs (the current one included) may not be reused: the QR code + PIN method never allows the last 3. */
  const historyDepth = (policy: PinPolicy, qr: boolean) => Math.max(policy.history, qr ? QR_PIN_HISTORY : 0);

  const timedVerify = async (stored: string, pin: string) => {
    const end = metrics.hashDuration.startTimer({ operation: "verify" });
    try {
      return await hasher.verify(stored, pin);
    } finally {
      end();
    }
  };

  const timedHash = async (pin: string) => {
    const end = metrics.hashDuration.startTimer({ operation: "hash" });
    try {
      return await hasher.hash(pin);
    } finally {
      end();
    }
  };

  const requireUser = async (idOrUpn: string): Promise<User> => {
    const user = await users.findByIdOrUpn(idOrUpn);
    if (!user) throw new AppError("userNotFound", { user: idOrUpn.slice(0, 256) });
    return user;
  };

  const target = (user: User) => ({ id: user.id, upn: user.userPrincipalName });

  const policyError = (violations: PinViolation[]): AppError => {
    const [first] = violations;
    if (!first) return new AppError("pinPolicyViolation", { violations: [] });
    return new AppError(first.code, { violations }, first.message);
  };

  /** Whoever handed out a temporary PIN still knows it: it can never become the user's own PIN. */
  const assertNotTemporary = async (pin: string, current: PinCredentialRow | undefined) => {
    if (current?.is_temporary !== 1 || !(await timedVerify(current.hash, pin)).ok) return;
    throw policyError([
      {
        code: "pinInHistory",
        message: "Choose another PIN: the new PIN cannot be the temporary PIN now in force.",
        mitigation: "Choose a PIN only the user knows.",
        params: {},
      },
    ]);
  };

  /** Policy check including history: the current PIN and the last history-1 retired PINs may not be reused. */
  const assertPinAllowed = async (
    user: User,
    pin: string,
    policy: PinPolicy,
    current: PinCredentialRow | undefined,
    qrProfile?: boolean,
  ) => {
    const qr = qrProfile ?? (await usesQrProfile(user.id));
    const violations = violationsOf(pin, policy, qr);
    if (violations.length > 0) throw policyError(violations);
    await assertNotTemporary(pin, current);
    const remember = historyDepth(policy, qr);
    if (remember === 0) return;
    const remembered = [
      ...(current && current.is_temporary === 0 ? [current.hash] : []),
      ...(await history.recent(user.id, remember - (current && current.is_temporary === 0 ? 1 : 0))),
    ];
    const matches = await Promise.all(remembered.map((hash) => timedVerify(hash, pin)));
    if (matches.some((m) => m.ok)) {
      throw policyError([
        {
          code: "pinInHistory",
          message: `Choose a PIN you have not used recently: your last ${remember} PINs cannot be reused.`,
          mitigation: "Choose a PIN you have not used before.",
          params: { history: remember },
        },
      ]);
    }
  };

  /** A PIN change refused by the policy is audited with the reason (never the PIN), then reported. */
  const rejectionsAudited = async (ctx: RequestContext, user: User, check: () => Promise<void>) => {
    try {
      await check();
    } catch (error) {
      if (error instanceof AppError) {
        await audit.record(ctx, {
          action: "pin.changed",
          outcome: "failure",
          target: target(user),
          reason: error.code,
        });
      }
      throw error;
    }
  };

  interface StoreOptions {
    isTemporary: boolean;
    temporaryExpiresAt: number | null;
    mustChange: { reason: MustChangeReason; by: string } | null;
    /** The change's audit event, written in the same transaction: no PIN change goes unrecorded. */
    audit: AuditInput;
    /** Runs first in the transaction; throwing there leaves everything as it was. */
    first?: (trx: Kysely<Database>) => Promise<void>;
  }

  /**
   * Hashes and writes the new PIN, retires the old one into history, clears any lockout and records
   * the change: one transaction. The PIN's compliance tag lets a later policy change find PINs that no
   * longer comply.
   */
  const storePin = async (
    ctx: RequestContext,
    user: User,
    pin: string,
    policy: PinPolicy,
    options: StoreOptions,
  ) => {
    const remember = historyDepth(policy, await usesQrProfile(user.id));
    const hash = await timedHash(pin);
    const profileTag = compliance.tagOf(pin);
    const now = clock.now();
    const policyVersion = (await policies.current()).version;
    await db.transaction(async (trx) => {
      const tx = createRepos({ ...db, kysely: trx });
      await options.first?.(trx);
      const existing = await tx.pins.get(user.id);
      if (existing && existing.is_temporary === 0 && remember > 1) {
        await tx.history.push(user.id, existing.hash, now, remember - 1);
      }
      await tx.pins.upsert({
        user_id: user.id,
        hash,
        is_temporary: options.isTemporary ? 1 : 0,
        temporary_expires_at: options.temporaryExpiresAt,
        must_change_reason: options.mustChange?.reason ?? null,
        must_change_at: options.mustChange ? now : null,
        must_change_by: options.mustChange?.by ?? null,
        changed_at: now,
        created_at: existing?.created_at ?? now,
        policy_version: policyVersion,
        profile_tag: profileTag,
      });
      await tx.counters.ensure(pinSubject(user.id));
      await tx.counters.clear(pinSubject(user.id), now);
      await audit.record(ctx, options.audit, tx.audit);
    });
  };

  const mustChangeReasonOf = (
    cred: PinCredentialRow,
    policy: PinPolicy,
    now: number,
  ): MustChangeReason | null => {
    if (cred.is_temporary === 1) return "temporaryPin";
    if (cred.must_change_reason) return cred.must_change_reason as MustChangeReason;
    if (policy.expirationDays > 0 && cred.changed_at + policy.expirationDays * 86_400_000 <= now)
      return "pinExpired";
    return null;
  };

  const issueChangeToken = async (user: User) => {
    const token = randomToken();
    const now = clock.now();
    await changeTokens.insert(digestToken(token), user.id, now, now + CHANGE_TOKEN_TTL_MS);
    return { token, expiresAt: iso(now + CHANGE_TOKEN_TTL_MS) as string };
  };

  const lockedError = (lockedUntil: number | null) =>
    new AppError("pinLocked", { lockedUntil: iso(lockedUntil) });

  /**
   * Checks a PIN against the shared counter. Unknown users, users without a PIN and wrong PINs all
   * answer the same way, after the same amount of hashing.
   */
  const checkAgainstCounter = async (
    ctx: RequestContext,
    upn: string,
    pin: string,
    action: string,
    channel: string,
    {
      known,
      settle,
    }: {
      /** The user and credential when the caller has read them already; otherwise looked up by `upn`. */
      known?: { user: User; pin: PinCredentialRow | undefined } | undefined;
      /**
       * Writes the success (the counter's included: see attempts.ts) together with what the caller
       * writes for it anyway; by default only the counter is updated.
       */
      settle?: (found: {
        user: User;
        cred: PinCredentialRow;
        policy: PinPolicy;
        subject: string;
        failedAtReservation: number;
      }) => Promise<void>;
    } = {},
  ): Promise<{ user: User; cred: PinCredentialRow; policy: PinPolicy }> => {
    const policy = await policies.pinPolicy();
    // On PostgreSQL the lookup and the reservation share one round trip; SQLite runs in-process.
    let found: Awaited<ReturnType<typeof users.findByUpnWithPin>>;
    let subject: string;
    let reserved: Reservation | undefined;
    if (known) {
      // The guard reserves the guess on the user's counter before the hash, as for any lookup.
      found = known;
      subject = pinSubject(known.user.id);
    } else if (db.dialect === "postgres") {
      const now = clock.now();
      const r = await repos.signIns.findAndReserve(
        upn,
        PIN_SUBJECT_PREFIX,
        unknownSubject(upn),
        now,
        counterRules(policy.lockout),
      );
      found = r.found;
      subject = r.subject;
      reserved = await counters.settleReservation(r.failedCount, subject, now, counterRules(policy.lockout));
    } else {
      found = await users.findByUpnWithPin(upn);
      subject = found ? pinSubject(found.user.id) : unknownSubject(upn);
    }
    const user = found?.user;
    const cred = found?.pin;
    const auditTarget = { id: user?.id ?? null, upn: user?.userPrincipalName ?? upn.slice(0, 256) };
    const hiddenReason = !user ? "unknownUser" : !cred ? "noPin" : undefined;
    const auditLock = async (lockedUntil: number | null) => {
      metrics.lockouts.inc();
      await audit.record(ctx, {
        action: "pin.locked",
        outcome: "success",
        target: auditTarget,
        reason: "tooManyFailures",
        details: { threshold: policy.lockout.threshold, lockedUntil: iso(lockedUntil) },
      });
    };
    const result = await attempts.attempt(
      subject,
      policy.lockout,
      async () => {
        if (!cred) {
          // The same work as a real verify, timed like one: neither the clock nor the metrics can tell.
          const end = metrics.hashDuration.startTimer({ operation: "verify" });
          await hasher.verifyDummy(pin).finally(end);
          return false;
        }
        const { ok, needsRehash } = await timedVerify(cred.hash, pin);
        if (ok && needsRehash) await pins.replaceHash(cred.user_id, cred.hash, await timedHash(pin));
        return ok;
      },
      {
        ...(reserved && { reserved }),
        ...(settle &&
          user &&
          cred && {
            recordSuccess: (failedAtReservation: number) =>
              settle({ user, cred, policy, subject, failedAtReservation }),
          }),
        onInProgress: () =>
          audit.record(ctx, {
            action,
            outcome: "denied",
            target: auditTarget,
            reason: hiddenReason ?? "attemptsInProgress",
          }),
      },
    );

    if (result.outcome === "locked") {
      metrics.verifications.inc({ outcome: "locked", channel });
      await audit.record(ctx, {
        action,
        outcome: "denied",
        target: auditTarget,
        reason: hiddenReason ?? "pinLocked",
      });
      if (result.lockedNow) await auditLock(result.lockedUntil);
      throw lockedError(result.lockedUntil);
    }
    if (result.outcome === "wrong") {
      metrics.verifications.inc({ outcome: "invalid", channel });
      await audit.record(ctx, {
        action,
        outcome: "failure",
        target: auditTarget,
        reason: hiddenReason ?? "wrongPin",
        details: { attemptsRemaining: result.attemptsRemaining },
      });
      if (result.lockedNow) await auditLock(result.lockedUntil);
      if (result.attemptsRemaining === 0) throw lockedError(result.lockedUntil);
      throw new AppError("invalidPin", { attemptsRemaining: result.attemptsRemaining });
    }
    if (!user || !cred) throw new Error("unreachable: a PIN matched without a credential");
    return { user, cred, policy };
  };

  const status = async (user: User): Promise<PinStatus> => {
    const now = clock.now();
    const policy = await policies.pinPolicy();
    const cred = await pins.get(user.id);
    const counter = await counters.state(pinSubject(user.id), now, policy.lockout);
    const base = {
      userId: user.id,
      userPrincipalName: user.userPrincipalName,
      failedAttempts: counter.failedCount,
      attemptsRemaining: Math.max(policy.lockout.threshold - counter.failedCount, 0),
      lockedAt: iso(counter.lockedAt),
      lockedUntil: iso(counter.lockedUntil),
      isTemporary: cred?.is_temporary === 1,
      temporaryExpiresAt: iso(cred?.temporary_expires_at),
      changedAt: iso(cred?.changed_at),
      expiresAt:
        cred && policy.expirationDays > 0 ? iso(cred.changed_at + policy.expirationDays * 86_400_000) : null,
      mustChangeAt: iso(cred?.must_change_at),
      mustChangeBy: cred?.must_change_by ?? null,
    };
    if (!cred) {
      return {
        ...base,
        state: "No PIN",
        reason: null,
        description: "No PIN is set. An administrator can set or reset one.",
      };
    }
    if (counter.locked) {
      const until =
        counter.lockedUntil === null
          ? "until an administrator unblocks it"
          : `unlocks automatically at ${humanTime(counter.lockedUntil)}`;
      return {
        ...base,
        state: "Account Lockout",
        reason: "tooManyFailures",
        description: `Locked after ${policy.lockout.threshold} wrong PINs at ${humanTime(counter.lockedAt)}; ${until}.`,
      };
    }
    if (counter.atThreshold) {
      return {
        ...base,
        state: "Account Lockout",
        reason: "tooManyFailures",
        description: `${counter.failedCount} wrong PINs, at or past the lockout threshold of ${policy.lockout.threshold}: the next sign-in is refused and locks the PIN. Unblock clears the count.`,
      };
    }
    const reason = mustChangeReasonOf(cred, policy, now);
    if (reason) {
      const expired =
        cred.is_temporary === 1 && cred.temporary_expires_at !== null && cred.temporary_expires_at <= now;
      const by = cred.must_change_by
        ? ` (by ${cred.must_change_by} at ${humanTime(cred.must_change_at)})`
        : "";
      return {
        ...base,
        state: "Must Change",
        reason,
        description: expired
          ? `The temporary PIN expired at ${humanTime(cred.temporary_expires_at)}; generate a new one.`
          : `Must change: ${REASON_WORDS[reason]}${by}.`,
      };
    }
    return { ...base, state: "Steady State", reason: null, description: "The PIN is usable." };
  };

  return {
    status: async (idOrUpn: string) => status(await requireUser(idOrUpn)),

    /**
     * Which rules the user's next PIN is checked against: "qr" when they have a badge (its PIN is the
     * same PIN, so it must fit the QR code + PIN profile), otherwise "standard". Pages check with it live.
     */
    pinProfileOf: async (userId: string): Promise<PinProfileName> =>
      (await usesQrProfile(userId)) ? "qr" : "standard",
    statusOf: status,

    /** Verification for integrations and sign-in pages. A temporary PIN never completes a sign-in. */
    async verify(
      ctx: RequestContext,
      upn: string,
      pin: string,
      channel = "api",
      options: {
        /** A QR code sign-in: the code's last use is written with the sign-in (when it completes). */
        qrCodeId?: string;
        /** The user and credential, already read with the QR code: not looked up again. */
        found?: { user: User; pin: PinCredentialRow | undefined };
      } = {},
    ): Promise<VerifyOutcome> {
      // What a right PIN leads to is decided once, as soon as it is found right, so that a plain
      // success is written in one go with the counter (one statement on PostgreSQL, one commit on SQLite).
      type Decision =
        | { kind: "success" }
        | { kind: "disabled" }
        | { kind: "expired" }
        | { kind: "change"; reason: MustChangeReason };
      let decision = { kind: "success" } as Decision;
      const { user, cred } = await checkAgainstCounter(ctx, upn, pin, "pin.verify", channel, {
        known: options.found,
        settle: async ({ user, cred, policy, subject, failedAtReservation }) => {
          const now = clock.now();
          const { version } = await policies.current();
          const mustChange =
            mustChangeReasonOf(cred, policy, now) ??
            // Only here is the PIN in clear, so a PIN made non-compliant by a policy change before PIN
            // profiles were recorded is recognised here; the user goes straight to the change step.
            (cred.policy_version !== version &&
            violationsOf(pin, policy, await usesQrProfile(user.id)).length > 0
              ? "policyChange"
              : null);
          decision = !user.accountEnabled
            ? { kind: "disabled" }
            : cred.is_temporary === 1 &&
                cred.temporary_expires_at !== null &&
                cred.temporary_expires_at <= now
              ? { kind: "expired" }
              : mustChange
                ? { kind: "change", reason: mustChange }
                : { kind: "success" };
          if (decision.kind !== "success") {
            await counters.recordSuccess(subject, failedAtReservation);
            return;
          }
          await repos.signIns.recordVerified({
            subject,
            failedAtReservation,
            userId: user.id,
            at: now,
            policyVersion: cred.policy_version !== version ? version : undefined,
            qrCodeId: options.qrCodeId,
            audit: audit.rowFor(ctx, { action: "pin.verify", outcome: "success", target: target(user) }),
          });
        },
      });
      const auditTarget = target(user);
      if (decision.kind === "success") {
        metrics.verifications.inc({ outcome: "success", channel });
        return { result: "success", user };
      }
      if (decision.kind === "disabled") {
        metrics.verifications.inc({ outcome: "disabled", channel });
        await audit.record(ctx, {
          action: "pin.verify",
          outcome: "denied",
          target: auditTarget,
          reason: "accountDisabled",
        });
        throw new AppError("accountDisabled");
      }
      if (decision.kind === "expired") {
        metrics.verifications.inc({ outcome: "expired", channel });
        await audit.record(ctx, {
          action: "pin.verify",
          outcome: "denied",
          target: auditTarget,
          reason: "temporaryPinExpired",
        });
        throw new AppError("temporaryPinExpired", { expiredAt: iso(cred.temporary_expires_at) });
      }
      const { reason } = decision;
      metrics.verifications.inc({ outcome: "changeRequired", channel });
      const change = await issueChangeToken(user);
      await audit.record(ctx, {
        action: "pin.verify",
        outcome: "success",
        target: auditTarget,
        reason: `pinChangeRequired:${reason}`,
      });
      return {
        result: "pinChangeRequired",
        reason,
        changeToken: change.token,
        changeTokenExpiresAt: change.expiresAt,
        user,
      };
    },

    /** Completes a Must Change: the token from verify proves the old or temporary PIN was just presented. */
    async changeWithToken(ctx: RequestContext, changeToken: string, newPin: string): Promise<PinStatus> {
      const tokenHash = digestToken(changeToken);
      const found = await changeTokens.findValid(tokenHash, clock.now());
      const user = found && (await users.findById(found.userId));
      if (!user) {
        await audit.record(ctx, {
          action: "pin.changed",
          outcome: "failure",
          reason: "pinChangeTokenInvalid",
        });
        throw new AppError("pinChangeTokenInvalid");
      }
      const policy = await policies.pinPolicy();
      await rejectionsAudited(ctx, user, async () =>
        assertPinAllowed(user, newPin, policy, await pins.get(user.id)),
      );
      // Consumed only once the new PIN is known to be acceptable, so a rejected PIN does not burn the
      // token, and in the PIN's own transaction, so a change that fails does not burn it either.
      const spent = new AppError("pinChangeTokenInvalid");
      try {
        await storePin(ctx, user, newPin, policy, {
          isTemporary: false,
          temporaryExpiresAt: null,
          mustChange: null,
          audit: { action: "pin.changed", outcome: "success", target: target(user), reason: "changeToken" },
          first: async (trx) => {
            if ((await changeTokens.consume(tokenHash, clock.now(), trx)) !== user.id) throw spent;
          },
        });
      } catch (error) {
        if (error !== spent) throw error;
        await audit.record(ctx, {
          action: "pin.changed",
          outcome: "failure",
          target: target(user),
          reason: "pinChangeTokenInvalid",
        });
        throw error;
      }
      return status(user);
    },

    /** Change PIN with the current PIN; a wrong current PIN consumes an attempt on the shared counter. */
    async change(ctx: RequestContext, upn: string, currentPin: string, newPin: string): Promise<PinStatus> {
      const { user, cred, policy } = await checkAgainstCounter(ctx, upn, currentPin, "pin.change", "change");
      if (
        cred.is_temporary === 1 &&
        cred.temporary_expires_at !== null &&
        cred.temporary_expires_at <= clock.now()
      ) {
        throw new AppError("temporaryPinExpired", { expiredAt: iso(cred.temporary_expires_at) });
      }
      await rejectionsAudited(ctx, user, () => assertPinAllowed(user, newPin, policy, cred));
      await storePin(ctx, user, newPin, policy, {
        isTemporary: false,
        temporaryExpiresAt: null,
        mustChange: null,
        audit: { action: "pin.changed", outcome: "success", target: target(user), reason: "currentPin" },
      });
      return status(user);
    },

    /** Sets a user's PIN (policy-checked). Administrators may force a change at the next sign-in. */
    async set(
      ctx: RequestContext,
      idOrUpn: string,
      pin: string,
      options: { forceChange?: boolean; action?: "pin.set" | "pin.reset"; qrProfile?: boolean } = {},
    ): Promise<PinStatus> {
      const user = await requireUser(idOrUpn);
      assertCanManage(ctx.actor, user);
      const policy = await policies.pinPolicy();
      const action = options.action ?? "pin.set";
      const forceChange =
        options.forceChange ?? (action === "pin.reset" ? policy.forceChangeAfterAdminReset : false);
      try {
        await assertPinAllowed(user, pin, policy, await pins.get(user.id), options.qrProfile);
      } catch (error) {
        if (error instanceof AppError) {
          await audit.record(ctx, { action, outcome: "failure", target: target(user), reason: error.code });
        }
        throw error;
      }
      await storePin(ctx, user, pin, policy, {
        isTemporary: false,
        temporaryExpiresAt: null,
        mustChange: forceChange ? { reason: "adminReset", by: actorName(ctx) } : null,
        audit: { action, outcome: "success", target: target(user), details: { forceChange } },
      });
      return status(user);
    },

    /** Admin reset to a generated temporary PIN: CSPRNG, unbiased, shown once, must be changed at sign-in. */
    async resetTemporary(
      ctx: RequestContext,
      idOrUpn: string,
      options: { expiresInHours?: number } = {},
    ): Promise<TemporaryPin> {
      const user = await requireUser(idOrUpn);
      assertCanManage(ctx.actor, user);
      const policy = await policies.pinPolicy();
      const hours = options.expiresInHours ?? policy.temporaryPin.expiryHours;
      if (!Number.isInteger(hours) || hours < 1 || hours > 720) {
        throw new AppError("invalidRequest", {
          field: "expiresInHours",
          problem: "must be a whole number of hours between 1 and 720",
        });
      }
      const profile = (await usesQrProfile(user.id)) ? qrProfilePolicy(policy) : policy;
      const length = Math.min(Math.max(profile.temporaryPin.length, 4), 127);
      const temporaryPin = generateTemporaryPin(length, (max: number) => randomInt(max), profile);
      const expiresAt = clock.now() + hours * 3_600_000;
      await storePin(ctx, user, temporaryPin, policy, {
        isTemporary: true,
        temporaryExpiresAt: expiresAt,
        mustChange: { reason: "temporaryPin", by: actorName(ctx) },
        audit: {
          action: "pin.resetTemporary",
          outcome: "success",
          target: target(user),
          details: { expiresAt: iso(expiresAt), length },
        },
      });
      return { temporaryPin, expiresAt: iso(expiresAt) as string, user };
    },

    /**
     * Clears a lockout and keeps the PIN — the PIN's and every sign-in method's or Emergency Access
     * lock, since "ask your help desk" is the way out of each. `unblocked` names what was locked.
     */
    async unblock(
      ctx: RequestContext,
      idOrUpn: string,
    ): Promise<PinStatus & { unblocked: string[]; unblockedText: string }> {
      const user = await requireUser(idOrUpn);
      assertCanManage(ctx.actor, user);
      const now = clock.now();
      const { lockout } = await policies.pinPolicy();
      // One transaction with its audit event: what is reported unblocked is what was cleared, with
      // nothing landing in between; when nothing was locked, nothing changes.
      const nothingLocked = new AppError("pinNotLocked");
      let unblocked: string[];
      let pinWasLocked: boolean;
      try {
        ({ unblocked, pinWasLocked } = await db.transaction(async (trx) => {
          const tx = createRepos({ ...db, kysely: trx });
          await tx.counters.lockRows([
            pinSubject(user.id),
            ...METHOD_COUNTER_KINDS.map((kind) => methodCounterSubject(kind, user.id)),
          ]);
          const pin = await tx.counters.clear(pinSubject(user.id), now, lockout);
          const methods = await tx.counters.clearMany(
            METHOD_COUNTER_KINDS.map((kind) => methodCounterSubject(kind, user.id)),
            now,
            lockout,
          );
          const cleared = [
            ...(pin ? ["PIN"] : []),
            ...METHOD_COUNTER_KINDS.filter((kind) =>
              methods.includes(methodCounterSubject(kind, user.id)),
            ).map((kind) => METHOD_COUNTER_LABELS[kind]),
          ];
          if (cleared.length === 0) throw nothingLocked;
          await audit.record(
            ctx,
            {
              action: "pin.unblock",
              outcome: "success",
              target: target(user),
              details: { unblocked: cleared.join(", ") },
            },
            tx.audit,
          );
          return { unblocked: cleared, pinWasLocked: pin };
        }));
      } catch (error) {
        if (error !== nothingLocked) throw error;
        await audit.record(ctx, {
          action: "pin.unblock",
          outcome: "failure",
          target: target(user),
          reason: "pinNotLocked",
        });
        throw new AppError("pinNotLocked", { state: (await status(user)).state });
      }
      return {
        ...(await status(user)),
        unblocked,
        unblockedText: unblockedText(
          pinWasLocked,
          unblocked.filter((u) => u !== "PIN"),
        ),
      };
    },

    /**
     * The user's own new PIN, once they have proven who they are another way (full sign-in, a recovery
     * code, Emergency Access). Policy-checked; `allowPrevious` lets the PIN just replaced be reused
     * (Emergency Access, where the organisation allows it). Clears any lockout.
     */
    async setOwn(
      ctx: RequestContext,
      userId: string,
      newPin: string,
      options: { reason: string; allowPrevious?: boolean },
    ): Promise<PinStatus> {
      const user = await requireUser(userId);
      const policy = await policies.pinPolicy();
      const current = await pins.get(user.id);
      await rejectionsAudited(ctx, user, async () => {
        if (options.allowPrevious) {
          const violations = violationsOf(newPin, policy, await usesQrProfile(user.id));
          if (violations.length > 0) throw policyError(violations);
          await assertNotTemporary(newPin, current);
        } else {
          await assertPinAllowed(user, newPin, policy, current);
        }
      });
      await storePin(ctx, user, newPin, policy, {
        isTemporary: false,
        temporaryExpiresAt: null,
        mustChange: null,
        audit: { action: "pin.changed", outcome: "success", target: target(user), reason: options.reason },
      });
      return status(user);
    },

    /** Removes the PIN (state becomes No PIN). */
    async remove(ctx: RequestContext, idOrUpn: string): Promise<void> {
      const user = await requireUser(idOrUpn);
      assertCanManage(ctx.actor, user);
      const removed = await db.transaction(async (trx) => {
        const tx = createRepos({ ...db, kysely: trx });
        const deleted = await tx.pins.delete(user.id);
        await tx.counters.clear(pinSubject(user.id), clock.now());
        if (deleted)
          await audit.record(
            ctx,
            { action: "pin.removed", outcome: "success", target: target(user) },
            tx.audit,
          );
        return deleted;
      });
      if (!removed) throw new AppError("noPin", { user: user.userPrincipalName });
    },
  };
};

/** What Unblock PIN did, in the words the admin portal shows. */
const unblockedText = (pin: boolean, methods: string[]): string =>
  pin && methods.length === 0
    ? "PIN unblocked. The user can sign in with their existing PIN."
    : pin
      ? `PIN unblocked, and also ${methods.join(", ")}. The user can sign in again with what they already have.`
      : `Unblocked: ${methods.join(", ")} (the PIN itself was not locked). The user can sign in again with what they already have.`;

const actorName = (ctx: RequestContext): string => {
  const a = ctx.actor;
  return a.type === "user" ? a.upn : a.type === "app" ? `app ${a.name}` : a.type;
};

export type PinService = ReturnType<typeof createPinService>;
