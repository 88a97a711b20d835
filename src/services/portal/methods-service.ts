import { createHmac, randomUUID } from "node:crypto";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from "@simplewebauthn/server";
import { generateSecret, generateURI, verify as verifyTotp } from "otplib";
import QRCode from "qrcode";
import type { Config } from "../../config.ts";
import type { Keyring } from "../../crypto/keyring.ts";
import type { SecretBox } from "../../crypto/tokens.ts";
import {
  authSetFor,
  METHOD_LABELS,
  METHOD_PHRASES,
  type MethodType,
  maskEmail,
  maskPhone,
  methodCounterSubject,
} from "../../domain/portal-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Db } from "../../store/db.ts";
import type { Repos } from "../../store/index.ts";
import type { AuthMethodRow } from "../../store/repos/auth-methods.ts";
import type { User } from "../../store/repos/users.ts";
import type { AuthMethodType } from "../../store/schema.ts";
import type { AttemptGuard } from "../attempts.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock, RequestContext } from "../context.ts";
import type { PolicyService } from "../policy-service.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";

export interface MethodView {
  id: string;
  type: MethodType;
  label: string;
  name: string;
  /** Masked address for email/SMS; never a secret. */
  detail: string | null;
  verified: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  /** The directory's own mail / mobile phone, set by an administrator (cannot be removed here). */
  managed: boolean;
}

interface WebAuthnData {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports?: string[];
}

const TOTP_PERIOD = 30;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const createMethodsService = ({
  config,
  db,
  repos,
  keyring,
  box,
  attempts,
  policies,
  portalPolicy,
  audit,
  clock,
}: {
  config: Config;
  db: Db;
  repos: Repos;
  keyring: Keyring;
  box: SecretBox;
  attempts: AttemptGuard;
  policies: PolicyService;
  portalPolicy: PortalPolicyService;
  audit: AuditService;
  clock: Clock;
}) => {
  const { authMethods } = repos;
  const origin = new URL(config.publicUrl);
  const rpID = origin.hostname;
  const expectedOrigin = origin.origin;

  /** Keyed digest of a low-entropy secret that must be found by value (a badge number). */
  const lookupDigests = (value: string): string[] =>
    keyring.keys.map((k) => createHmac("sha256", k.secret).update(`rfid:${value}`).digest("base64url"));

  const target = (user: User) => ({ id: user.id, upn: user.userPrincipalName });

  /** One guarded attempt on a method's own counter (cleared by an administrator's unblock). */
  const guarded = async (
    ctx: RequestContext,
    user: User,
    type: "totp" | "webauthn" | "rfid",
    evaluate: () => Promise<boolean>,
  ) => {
    const lockout = (await policies.pinPolicy()).lockout;
    const result = await attempts.attempt(methodCounterSubject(type, user.id), lockout, evaluate, {
      onInProgress: () =>
        audit.record(ctx, {
          action: `signin.${type}`,
          outcome: "denied",
          target: target(user),
          reason: "attemptsInProgress",
        }),
    });
    if (result.outcome === "ok") return;
    await audit.record(ctx, {
      action: `signin.${type}`,
      outcome: result.outcome === "locked" ? "denied" : "failure",
      target: target(user),
      reason: result.outcome === "locked" ? "locked" : "wrong",
    });
    if (result.outcome === "locked" || result.attemptsRemaining === 0) {
      throw new AppError(
        "methodLocked",
        { method: type, lockedUntil: iso(result.lockedUntil) },
        `Too many wrong attempts with ${METHOD_PHRASES[type]}.`,
      );
    }
    throw new AppError("methodCheckFailed", { method: type, attemptsRemaining: result.attemptsRemaining });
  };

  const view = (row: AuthMethodRow): MethodView => {
    const data = JSON.parse(row.data) as { address?: string; phone?: string };
    return {
      id: row.id,
      type: row.type,
      label: METHOD_LABELS[row.type],
      name: row.name,
      detail: data.address ? maskEmail(data.address) : data.phone ? maskPhone(data.phone) : null,
      verified: row.verified === 1,
      createdAt: iso(row.created_at) as string,
      lastUsedAt: iso(row.last_used_at),
      managed: false,
    };
  };

  const verifiedOf = async (userId: string, type: AuthMethodType) =>
    (await authMethods.listFor(userId)).filter((m) => m.type === type && m.verified === 1);

  const service = {
    /** What the user has: the PIN, enrolled methods, and the directory's mail / phone as recovery channels. */
    async list(user: User): Promise<MethodView[]> {
      const rows = (await authMethods.listFor(user.id)).filter((r) => r.verified === 1);
      const pin = await repos.pins.get(user.id);
      const views: MethodView[] = [];
      if (pin) {
        views.push({
          id: "pin",
          type: "pin",
          label: METHOD_LABELS.pin,
          name: "PIN",
          detail: null,
          verified: true,
          createdAt: iso(pin.created_at) as string,
          lastUsedAt: iso(user.lastSignInAt),
          managed: true,
        });
      }
      views.push(...rows.map(view));
      if (user.mail) {
        views.push({
          id: "directory-mail",
          type: "email",
          label: METHOD_LABELS.email,
          name: "Work email (from the directory)",
          detail: maskEmail(user.mail),
          verified: true,
          createdAt: iso(user.createdAt) as string,
          lastUsedAt: null,
          managed: true,
        });
      }
      if (user.mobilePhone) {
        views.push({
          id: "directory-phone",
          type: "sms",
          label: METHOD_LABELS.sms,
          name: "Mobile phone (from the directory)",
          detail: maskPhone(user.mobilePhone),
          verified: true,
          createdAt: iso(user.createdAt) as string,
          lastUsedAt: null,
          managed: true,
        });
      }
      return views;
    },

    /** Whether the user can present `type` at all (push needs another signed-in session). */
    async has(user: User, type: MethodType): Promise<boolean> {
      switch (type) {
        case "pin":
          return (await repos.pins.get(user.id)) !== undefined;
        case "push":
          return (await service.approvingSessions(user)).length > 0;
        case "email":
          return Boolean(user.mail) || (await verifiedOf(user.id, "email")).length > 0;
        case "sms":
          return Boolean(user.mobilePhone) || (await verifiedOf(user.id, "sms")).length > 0;
        default:
          return (await verifiedOf(user.id, type)).length > 0;
      }
    },

    /**
     * Sessions that can answer a push approval: not ended, not past the absolute timeout and not idle
     * (an idle session would be refused the moment it tried to approve).
     */
    async approvingSessions(user: User) {
      const now = clock.now();
      const idleMs = (await portalPolicy.current()).sessions.idleMinutes * 60_000;
      return (await repos.sessions.activeFor(user.id, now)).filter((s) => s.last_seen_at + idleMs > now);
    },

    /** Recovery destinations: verified email and phone numbers, with ids and masked forms. */
    async recoveryChannels(
      user: User,
    ): Promise<{ id: string; channel: "email" | "sms"; destination: string; masked: string }[]> {
      const out: { id: string; channel: "email" | "sms"; destination: string; masked: string }[] = [];
      if (user.mail)
        out.push({
          id: "directory-mail",
          channel: "email",
          destination: user.mail,
          masked: maskEmail(user.mail),
        });
      if (user.mobilePhone) {
        out.push({
          id: "directory-phone",
          channel: "sms",
          destination: user.mobilePhone,
          masked: maskPhone(user.mobilePhone),
        });
      }
      for (const row of await authMethods.listFor(user.id)) {
        if (row.verified !== 1 || (row.type !== "email" && row.type !== "sms")) continue;
        const data = JSON.parse(row.data) as { address?: string; phone?: string };
        const destination = data.address ?? data.phone;
        if (!destination || out.some((o) => o.destination === destination)) continue;
        out.push({
          id: row.id,
          channel: row.type,
          destination,
          masked: row.type === "email" ? maskEmail(destination) : maskPhone(destination),
        });
      }
      return out;
    },

    // --- TOTP ---
    async beginTotp(ctx: RequestContext, user: User, name = "Authenticator app") {
      await authMethods.deleteUnverifiedBefore(user.id, "totp");
      const secret = generateSecret();
      const id = randomUUID();
      await authMethods.insert({
        id,
        user_id: user.id,
        type: "totp",
        name: name.trim().slice(0, 60) || "Authenticator app",
        secret_sealed: box.seal(secret),
        lookup_hash: null,
        data: "{}",
        verified: 0,
        last_step: null,
        created_at: clock.now(),
        last_used_at: null,
      });
      const otpauthUri = generateURI({ issuer: "PinDesk", label: user.userPrincipalName, secret });
      const qrSvg = await QRCode.toString(otpauthUri, { type: "svg", margin: 2 });
      await audit.record(ctx, {
        action: "method.totp.enrolStarted",
        outcome: "success",
        target: target(user),
      });
      return { methodId: id, secret, otpauthUri, qrSvg };
    },

    /** Checks a TOTP code (±1 step) and claims its step atomically, so a code is never accepted twice. */
    async checkTotp(row: AuthMethodRow, code: string): Promise<boolean> {
      if (!/^\d{6}$/.test(code) || !row.secret_sealed) return false;
      const secret = box.open(row.secret_sealed);
      const result = await verifyTotp({
        secret,
        token: code,
        epoch: Math.floor(clock.now() / 1000),
        epochTolerance: TOTP_PERIOD,
        ...(row.last_step !== null && { afterTimeStep: row.last_step }),
      });
      if (!result.valid || !("timeStep" in result)) return false;
      // The step the code matched (not one worked out from a second look at the clock) is what
      // is claimed, so the same code can never be accepted twice.
      return authMethods.claimStep(row.id, result.timeStep, clock.now());
    },

    async confirmTotp(ctx: RequestContext, user: User, methodId: string, code: string): Promise<MethodView> {
      const row = await authMethods.get(methodId);
      if (!row || row.user_id !== user.id || row.type !== "totp") throw new AppError("methodNotFound");
      await guarded(ctx, user, "totp", () => service.checkTotp(row, code));
      await authMethods.markVerified(row.id, clock.now());
      await audit.record(ctx, { action: "method.totp.enrolled", outcome: "success", target: target(user) });
      return view({ ...row, verified: 1 });
    },

    async verifyTotp(ctx: RequestContext, user: User, code: string): Promise<void> {
      const rows = await verifiedOf(user.id, "totp");
      await guarded(ctx, user, "totp", async () => {
        for (const row of rows) if (await service.checkTotp(row, code)) return true;
        return false;
      });
    },

    // --- RFID badge ---
    async enrolRfid(
      ctx: RequestContext,
      user: User,
      cardNumber: string,
      name = "Badge",
    ): Promise<MethodView> {
      const card = cardNumber.trim();
      if (!/^[0-9A-Za-z]{4,64}$/.test(card)) {
        throw new AppError("invalidRequest", {
          problems: [
            { field: "cardNumber", message: "must be the 4-64 letters or digits the badge reader types" },
          ],
        });
      }
      const [current] = lookupDigests(card);
      for (const digest of lookupDigests(card)) {
        if (await authMethods.byLookup("rfid", digest)) throw new AppError("badgeAlreadyEnrolled");
      }
      const row: AuthMethodRow = {
        id: randomUUID(),
        user_id: user.id,
        type: "rfid",
        name: name.trim().slice(0, 60) || "Badge",
        secret_sealed: null,
        lookup_hash: current as string,
        data: "{}",
        verified: 1,
        last_step: null,
        created_at: clock.now(),
        last_used_at: null,
      };
      await authMethods.insert(row);
      await audit.record(ctx, { action: "method.rfid.enrolled", outcome: "success", target: target(user) });
      return view(row);
    },

    async verifyRfid(ctx: RequestContext, user: User, cardNumber: string): Promise<void> {
      const digests = new Set(lookupDigests(cardNumber.trim()));
      const rows = await verifiedOf(user.id, "rfid");
      await guarded(ctx, user, "rfid", async () =>
        rows.some((r) => r.lookup_hash !== null && digests.has(r.lookup_hash)),
      );
    },

    // --- FIDO2 / WebAuthn ---
    async webauthnRegistrationOptions(user: User) {
      const existing = await verifiedOf(user.id, "webauthn");
      return generateRegistrationOptions({
        rpName: "PinDesk",
        rpID,
        userName: user.userPrincipalName,
        userDisplayName: user.displayName,
        userID: new TextEncoder().encode(user.id),
        attestationType: "none",
        excludeCredentials: existing.map((r) => ({ id: (JSON.parse(r.data) as WebAuthnData).credentialId })),
        authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
      });
    },

    async webauthnRegister(
      ctx: RequestContext,
      user: User,
      expectedChallenge: string,
      response: unknown,
      name = "Security key",
    ): Promise<MethodView> {
      let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verification = await verifyRegistrationResponse({
          // biome-ignore lint/suspicious/noExplicitAny: the browser's JSON is validated by the library itself.
          response: response as any,
          expectedChallenge,
          expectedOrigin,
          expectedRPID: rpID,
          requireUserVerification: false,
        });
      } catch (error) {
        throw new AppError("webauthnFailed", { problem: (error as Error).message.slice(0, 200) });
      }
      if (!verification.verified) throw new AppError("webauthnFailed");
      const { credential } = verification.registrationInfo;
      const data: WebAuthnData = {
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey).toString("base64url"),
        counter: credential.counter,
        ...(credential.transports && { transports: credential.transports }),
      };
      const row: AuthMethodRow = {
        id: randomUUID(),
        user_id: user.id,
        type: "webauthn",
        name: name.trim().slice(0, 60) || "Security key",
        secret_sealed: null,
        lookup_hash: credential.id,
        data: JSON.stringify(data),
        verified: 1,
        last_step: null,
        created_at: clock.now(),
        last_used_at: null,
      };
      await authMethods.insert(row);
      await audit.record(ctx, {
        action: "method.webauthn.enrolled",
        outcome: "success",
        target: target(user),
      });
      return view(row);
    },

    async webauthnAuthenticationOptions(user: User) {
      const rows = await verifiedOf(user.id, "webauthn");
      return generateAuthenticationOptions({
        rpID,
        userVerification: "preferred",
        allowCredentials: rows.map((r) => {
          const d = JSON.parse(r.data) as WebAuthnData;
          // biome-ignore lint/suspicious/noExplicitAny: transports are the library's own strings, stored as given.
          return { id: d.credentialId, ...(d.transports && { transports: d.transports as any }) };
        }),
      });
    },

    async webauthnAuthenticate(
      ctx: RequestContext,
      user: User,
      expectedChallenge: string,
      response: unknown,
    ) {
      const credentialId = (response as { id?: unknown })?.id;
      const rows = await verifiedOf(user.id, "webauthn");
      const row = rows.find((r) => (JSON.parse(r.data) as WebAuthnData).credentialId === credentialId);
      await guarded(ctx, user, "webauthn", async () => {
        if (!row) return false;
        const d = JSON.parse(row.data) as WebAuthnData;
        const credential: WebAuthnCredential = {
          id: d.credentialId,
          publicKey: new Uint8Array(Buffer.from(d.publicKey, "base64url")),
          counter: d.counter,
        };
        try {
          const result = await verifyAuthenticationResponse({
            // biome-ignore lint/suspicious/noExplicitAny: validated by the library.
            response: response as any,
            expectedChallenge,
            expectedOrigin,
            expectedRPID: rpID,
            credential,
            requireUserVerification: false,
          });
          if (!result.verified) return false;
          await authMethods.update(row.id, {
            data: JSON.stringify({ ...d, counter: result.authenticationInfo.newCounter }),
            last_used_at: clock.now(),
          });
          return true;
        } catch {
          return false;
        }
      });
    },

    // --- Email / SMS as methods (verified by a code sent through the outbox) ---
    async addContact(ctx: RequestContext, user: User, channel: "email" | "sms", destination: string) {
      const value = destination.trim();
      const valid =
        channel === "email"
          ? /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/.test(value)
          : /^\+[1-9]\d{6,14}$/.test(value.replace(/[\s-]/g, ""));
      if (!valid) {
        throw new AppError("invalidRequest", {
          problems: [
            {
              field: channel === "email" ? "address" : "phone",
              message:
                channel === "email"
                  ? "must be an email address"
                  : "must be a phone number in international form, e.g. +44 7700 900123",
            },
          ],
        });
      }
      const normalised = channel === "sms" ? value.replace(/[\s-]/g, "") : value;
      await authMethods.deleteUnverifiedBefore(user.id, channel);
      const row: AuthMethodRow = {
        id: randomUUID(),
        user_id: user.id,
        type: channel,
        name: channel === "email" ? "Email" : "Mobile phone",
        secret_sealed: null,
        lookup_hash: null,
        data: JSON.stringify(channel === "email" ? { address: normalised } : { phone: normalised }),
        verified: 0,
        last_step: null,
        created_at: clock.now(),
        last_used_at: null,
      };
      await authMethods.insert(row);
      await audit.record(ctx, {
        action: `method.${channel}.added`,
        outcome: "success",
        target: target(user),
      });
      return { row, destination: normalised };
    },

    async markContactVerified(ctx: RequestContext, user: User, methodId: string): Promise<MethodView> {
      const row = await authMethods.get(methodId);
      if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
      await authMethods.markVerified(row.id, clock.now());
      await audit.record(ctx, {
        action: `method.${row.type}.verified`,
        outcome: "success",
        target: target(user),
      });
      return view({ ...row, verified: 1 });
    },

    async rename(ctx: RequestContext, user: User, methodId: string, name: string): Promise<MethodView> {
      const row = await authMethods.get(methodId);
      if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
      const trimmed = name.trim().slice(0, 60);
      if (!trimmed)
        throw new AppError("invalidRequest", { problems: [{ field: "name", message: "is required" }] });
      await authMethods.update(row.id, { name: trimmed });
      await audit.record(ctx, { action: "method.renamed", outcome: "success", target: target(user) });
      return view({ ...row, name: trimmed });
    },

    /** Removes a method, never the last one of a type the user's authentication set requires. */
    async remove(ctx: RequestContext, user: User, methodId: string): Promise<void> {
      const row = await authMethods.get(methodId);
      if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
      const set = authSetFor(await portalPolicy.current(), user);
      const required = set.methods.includes(row.type) && row.verified === 1;
      const directoryFallback =
        (row.type === "email" && Boolean(user.mail)) || (row.type === "sms" && Boolean(user.mobilePhone));
      // The check and the delete are one transaction, with the user's methods of that kind locked
      // (PostgreSQL FOR UPDATE; SQLite takes the write lock up front): two removals at once cannot
      // both see "another one is left" and leave none.
      await db.transaction(async (trx) => {
        let mine = trx
          .selectFrom("auth_methods")
          .select(["id"])
          .where("user_id", "=", user.id)
          .where("type", "=", row.type)
          .where("verified", "=", 1);
        if (db.dialect === "postgres") mine = mine.forUpdate();
        const rows = await mine.execute();
        if (required && !directoryFallback && rows.filter((r) => r.id !== row.id).length === 0) {
          throw new AppError("lastMethodOfSet", { method: row.type, set: set.name });
        }
        const deleted = await trx.deleteFrom("auth_methods").where("id", "=", row.id).executeTakeFirst();
        if (Number(deleted.numDeletedRows) !== 1) throw new AppError("methodNotFound");
      });
      await audit.record(ctx, {
        action: "method.removed",
        outcome: "success",
        target: target(user),
        details: { type: row.type, name: row.name },
      });
    },
  };
  return service;
};

export type MethodsService = ReturnType<typeof createMethodsService>;
