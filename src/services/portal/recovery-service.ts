import { createHmac, randomInt, randomUUID } from "node:crypto";
import type { Hasher } from "../../crypto/hasher.ts";
import type { Keyring } from "../../crypto/keyring.ts";
import { digestToken, randomToken } from "../../crypto/tokens.ts";
import { maskEmail, maskPhone, normaliseAnswer } from "../../domain/portal-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Db } from "../../store/db.ts";
import type { Repos } from "../../store/index.ts";
import type { User } from "../../store/repos/users.ts";
import type { AttemptGuard } from "../attempts.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock, RequestContext } from "../context.ts";
import type { PinService } from "../pin-service.ts";
import type { PolicyService } from "../policy-service.ts";
import type { MethodsService } from "./methods-service.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";

/** What recovery needs from the outbox (see src/delivery). */
export interface RecoveryOutbox {
  enqueue(message: {
    userId: string | null;
    channel: "email" | "sms";
    destination: string;
    purpose: string;
    subject: string;
    text: string;
  }): Promise<{ id: string }>;
  deliver(id: string): Promise<unknown>;
  get(id: string): Promise<OutboxView | undefined>;
}

export interface OutboxView {
  id: string;
  status: string;
  lastError: string | null;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string | null;
}

export interface RecoveryChannelView {
  id: string;
  channel: "email" | "sms";
  masked: string;
}

const RESET_TTL_MS = 15 * 60_000;
// Long enough to follow a message through every retry (about 45 minutes) and still act on the outcome.
const FLOW_TTL_MS = 3 * 3_600_000;

/**
 * Forgot PIN by a code sent to a verified channel, and Emergency Access by security questions. Every
 * answer to an unknown user name looks like an answer to a known one.
 */
export const createRecoveryService = ({
  db,
  repos,
  hasher,
  keyring,
  attempts,
  pins,
  policies,
  methods,
  portalPolicy,
  outbox,
  audit,
  clock,
}: {
  db: Db;
  repos: Repos;
  hasher: Hasher;
  keyring: Keyring;
  attempts: AttemptGuard;
  pins: PinService;
  policies: PolicyService;
  methods: MethodsService;
  portalPolicy: PortalPolicyService;
  outbox: RecoveryOutbox;
  audit: AuditService;
  clock: Clock;
}) => {
  const { kysely } = db;
  const iso = (ms: number) => new Date(ms).toISOString();
  const target = (user: User) => ({ id: user.id, upn: user.userPrincipalName });

  /** A stable pseudo-random number per unknown user name, so repeated answers for it agree. */
  const pseudo = (upn: string, salt: string) =>
    createHmac("sha256", keyring.current.secret).update(`${salt}:${upn.toLowerCase()}`).digest();

  /** Plausible channels for a user name that does not exist. */
  const decoyChannels = (upn: string): RecoveryChannelView[] => {
    const bytes = pseudo(upn, "channels");
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const domain = upn.includes("@") ? upn.slice(upn.lastIndexOf("@") + 1) : "example.com";
    const first = letters[(bytes[0] ?? 0) % 26] ?? "a";
    const last = letters[(bytes[1] ?? 0) % 26] ?? "z";
    const out: RecoveryChannelView[] = [
      { id: "directory-mail", channel: "email", masked: `${first}•••${last}@${domain}` },
    ];
    if ((bytes[2] ?? 0) % 2 === 0) {
      out.push({
        id: "directory-phone",
        channel: "sms",
        masked: `+44 ••• ••• ${String(((bytes[3] ?? 0) * 4) % 1000).padStart(3, "0")}`,
      });
    }
    return out;
  };

  const newLink = async (purpose: string, userId: string | null, ttlMs: number) => {
    const token = randomToken();
    const now = clock.now();
    await kysely
      .insertInto("one_time_links")
      .values({
        token_hash: digestToken(token),
        purpose,
        user_id: userId,
        created_at: now,
        expires_at: now + ttlMs,
        used_at: null,
      })
      .execute();
    return token;
  };

  const readLink = async (purpose: string, token: string) => {
    const row = await kysely
      .selectFrom("one_time_links")
      .selectAll()
      .where("token_hash", "=", digestToken(token))
      .where("purpose", "=", purpose)
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= clock.now()) return undefined;
    return row;
  };

  /** Single use: of concurrent redemptions exactly one succeeds. */
  const consumeLink = async (purpose: string, token: string) => {
    const result = await kysely
      .updateTable("one_time_links")
      .set({ used_at: clock.now() })
      .where("token_hash", "=", digestToken(token))
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .where("expires_at", ">", clock.now())
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  };

  /**
   * One-time codes by email or SMS, for one purpose each ("recovery", "signin:email", "contact:<id>"),
   * so a code sent for one thing never works for another. Stored as argon2id; the body that carries it
   * is sealed in the outbox.
   */
  const issueCode = async (
    user: User,
    purposeKey: string,
    to: { channel: "email" | "sms"; destination: string },
    message: { purpose: string; subject: string; text: (code: string, minutes: number) => string },
  ) => {
    const policy = (await portalPolicy.current()).recovery;
    const now = clock.now();
    const code = String(randomInt(0, 10 ** policy.codeLength)).padStart(policy.codeLength, "0");
    const queued = await outbox.enqueue({
      userId: user.id,
      channel: to.channel,
      destination: to.destination,
      purpose: message.purpose,
      subject: message.subject,
      text: message.text(code, policy.ttlMinutes),
    });
    await kysely
      .insertInto("recovery_codes")
      .values({
        id: randomUUID(),
        user_id: user.id,
        code_hash: await hasher.hash(code),
        channel: to.channel,
        method_id: purposeKey,
        outbox_id: queued.id,
        attempts: 0,
        created_at: now,
        expires_at: now + policy.ttlMinutes * 60_000,
        used_at: null,
      })
      .execute();
    // Delivery starts now; its outcome is followed through the outbox, not awaited here.
    void outbox.deliver(queued.id).catch(() => undefined);
    return { messageId: queued.id, now, ttlMinutes: policy.ttlMinutes };
  };

  /**
   * Checks `code` against the newest live code for the purpose. A try is reserved atomically before the
   * hash, so a burst of guesses cannot exceed maxTries; a right code is spent once. With no code to
   * check, one hash is still computed, so timing does not tell the cases apart.
   */
  const checkCode = async (userId: string | null, purposeKey: string, code: string) => {
    const policy = (await portalPolicy.current()).recovery;
    const now = clock.now();
    const row = userId
      ? await kysely
          .selectFrom("recovery_codes")
          .selectAll()
          .where("user_id", "=", userId)
          .where("method_id", "=", purposeKey)
          .where("used_at", "is", null)
          .where("expires_at", ">", now)
          .orderBy("created_at", "desc")
          .executeTakeFirst()
      : undefined;
    const reserved =
      row !== undefined &&
      Number(
        (
          await kysely
            .updateTable("recovery_codes")
            .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
            .where("id", "=", row.id)
            .where("attempts", "<", policy.maxTries)
            .where("used_at", "is", null)
            .executeTakeFirst()
        ).numUpdatedRows,
      ) === 1;
    let ok = false;
    if (reserved && row) ok = (await hasher.verify(row.code_hash, code.trim())).ok;
    else await hasher.verifyDummy(code);
    if (ok && row) {
      const used = await kysely
        .updateTable("recovery_codes")
        .set({ used_at: now })
        .where("id", "=", row.id)
        .where("used_at", "is", null)
        .executeTakeFirst();
      ok = Number(used.numUpdatedRows) === 1;
    }
    const attemptsRemaining = row && reserved && !ok ? Math.max(policy.maxTries - row.attempts - 1, 0) : 0;
    return { ok, reserved, attemptsRemaining };
  };

  /** Flow tokens are "<subject key>.<secret>": the key names the user, or a stand-in for an unknown name. */
  const readFlow = async (recoveryToken: string) => {
    const dot = recoveryToken.indexOf(".");
    if (dot < 1) return undefined;
    const key = recoveryToken.slice(0, dot);
    const link = await readLink(`recovery:${key}`, recoveryToken.slice(dot + 1));
    return link && { key, link, secret: recoveryToken.slice(dot + 1) };
  };

  const notifyPinChanged = async (user: User, how: string) => {
    for (const channel of await methods.recoveryChannels(user)) {
      const message = await outbox.enqueue({
        userId: user.id,
        channel: channel.channel,
        destination: channel.destination,
        purpose: "pinChangedNotice",
        subject: "Your PinDesk PIN was changed",
        text: `Your PIN was changed ${how} at ${iso(clock.now())}. If this was not you, contact your help desk now.`,
      });
      void outbox.deliver(message.id).catch(() => undefined);
    }
  };

  const setPinWithResetToken = async (
    ctx: RequestContext,
    purpose: string,
    resetToken: string,
    newPin: string,
    reason: string,
  ) => {
    const link = await readLink(purpose, resetToken);
    if (!link?.user_id) throw new AppError("setupLinkInvalid");
    const policy = await portalPolicy.current();
    // Checked (and a rejected PIN reported) before the token is spent, so the user can simply try again.
    const status = await pins.setOwn(ctx, link.user_id, newPin, {
      reason,
      allowPrevious: purpose === "emergency-reset" && policy.emergencyAccess.allowPreviousPin,
    });
    if (!(await consumeLink(purpose, resetToken))) throw new AppError("setupLinkInvalid");
    const user = await repos.users.findById(link.user_id);
    if (user)
      await notifyPinChanged(
        user,
        reason === "emergencyAccess" ? "through Emergency Access" : "with a recovery code",
      );
    return status;
  };

  return {
    // ------------------------------------------------------------------ Forgot PIN
    async start(ctx: RequestContext, upn: string) {
      const user = await repos.users.findByUpn(upn);
      const policy = await portalPolicy.current();
      const key = user ? user.id : `u-${pseudo(upn, "flow").toString("hex").slice(0, 32)}`;
      const token = `${key}.${await newLink(`recovery:${key}`, user?.id ?? null, FLOW_TTL_MS)}`;
      const channels = user
        ? (await methods.recoveryChannels(user))
            .filter((c) => policy.recovery.channels.includes(c.channel))
            .map(({ id, channel, masked }) => ({ id, channel, masked }))
        : decoyChannels(upn).filter((c) => policy.recovery.channels.includes(c.channel));
      await audit.record(ctx, {
        action: "recovery.started",
        outcome: user ? "success" : "denied",
        target: { id: user?.id ?? null, upn: upn.slice(0, 256) },
        ...(user ? {} : { reason: "unknownUser" }),
      });
      return {
        recoveryToken: token,
        channels,
        helpdeskContact: policy.helpdeskContact,
        emergencyAccess: policy.emergencyAccess.enabled,
      };
    },

    /** Sends a code: 6-8 digits, single use, limited tries and lifetime, resend after a cooldown. */
    async send(ctx: RequestContext, recoveryToken: string, channelId: string) {
      const flow = await readFlow(recoveryToken);
      if (!flow) throw new AppError("setupLinkInvalid");
      const { link, key } = flow;
      const policy = (await portalPolicy.current()).recovery;
      const now = clock.now();
      const user = link.user_id ? await repos.users.findById(link.user_id) : undefined;
      const channels = user ? await methods.recoveryChannels(user) : [];
      const channel = channels.find((c) => c.id === channelId);

      // Cooldown and hourly cap per user name, counted the same way whether or not the user exists.
      const recent = await kysely
        .selectFrom("one_time_links")
        .select(["created_at"])
        .where("purpose", "=", `recovery-sent:${key}`)
        .where("created_at", ">", now - 3_600_000)
        .orderBy("created_at", "desc")
        .execute();
      const last = recent[0]?.created_at;
      if (last !== undefined && now - last < policy.resendCooldownSeconds * 1000) {
        throw new AppError("resendTooSoon", {
          resendAvailableAt: iso(last + policy.resendCooldownSeconds * 1000),
        });
      }
      if (recent.length >= policy.perUserPerHour)
        throw new AppError("recoveryRateLimited", { retryAfterMinutes: 60 });
      await newLink(`recovery-sent:${key}`, null, 3_600_000);

      const masked = channel?.masked ?? "•••";
      let outboxId: string | null = null;
      if (user && channel) {
        outboxId = (
          await issueCode(user, "recovery", channel, {
            purpose: "recoveryCode",
            subject: "Your PinDesk recovery code",
            text: (code, minutes) =>
              `Your PinDesk recovery code is ${code}. It is valid for ${minutes} minutes. If you did not ask for it, ignore this message and tell your help desk.`,
          })
        ).messageId;
        await audit.record(ctx, {
          action: "recovery.codeSent",
          outcome: "success",
          target: target(user),
          details: { channel: channel.channel, to: channel.masked, messageId: outboxId },
        });
      } else {
        // Same work as a real send, so the answer takes as long and looks the same.
        await hasher.hash(randomToken(6));
      }
      return {
        sentAt: iso(now),
        to: masked,
        channel: channel?.channel ?? (channelId === "directory-phone" ? "sms" : "email"),
        messageId: outboxId ?? digestToken(recoveryToken).slice(0, 36),
        expiresAt: iso(now + policy.ttlMinutes * 60_000),
        resendAvailableAt: iso(now + policy.resendCooldownSeconds * 1000),
      };
    },

    /** Delivery status of the last code sent in this flow, in plain words for the person waiting. */
    async deliveryStatus(recoveryToken: string) {
      const flow = await readFlow(recoveryToken);
      if (!flow) throw new AppError("setupLinkInvalid");
      const { link } = flow;
      const last = link.user_id
        ? await kysely
            .selectFrom("recovery_codes")
            .selectAll()
            .where("user_id", "=", link.user_id)
            .where("method_id", "=", "recovery")
            .orderBy("created_at", "desc")
            .executeTakeFirst()
        : undefined;
      const message = last?.outbox_id ? await outbox.get(last.outbox_id) : undefined;
      if (!message) return { status: "accepted", detail: null as string | null };
      return {
        status: message.status,
        detail:
          message.status === "failed"
            ? `The message could not be delivered: ${message.lastError ?? "the provider refused it"}.`
            : message.status === "queued" && message.attempts > 0
              ? `Delivery failed (${message.lastError ?? "unknown reason"}); retrying${message.nextAttemptAt ? ` at ${message.nextAttemptAt}` : ""}.`
              : null,
      };
    },

    async verifyCode(ctx: RequestContext, recoveryToken: string, code: string) {
      const flow = await readFlow(recoveryToken);
      if (!flow) throw new AppError("setupLinkInvalid");
      const { link } = flow;
      const checked = await checkCode(link.user_id, "recovery", code);
      if (!checked.ok || !link.user_id) {
        await audit.record(ctx, {
          action: "recovery.codeChecked",
          outcome: "failure",
          target: { id: link.user_id, upn: null },
          reason: checked.reserved ? "wrongCode" : "noValidCode",
        });
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      }
      await consumeLink(`recovery:${flow.key}`, flow.secret);
      await audit.record(ctx, {
        action: "recovery.codeChecked",
        outcome: "success",
        target: { id: link.user_id, upn: null },
      });
      return { resetToken: await newLink("recovery-reset", link.user_id, RESET_TTL_MS) };
    },

    setPinAfterCode: (ctx: RequestContext, resetToken: string, newPin: string) =>
      setPinWithResetToken(ctx, "recovery-reset", resetToken, newPin, "recoveryCode"),

    /** A sign-in step by email or SMS code (when the user's authentication set includes it). */
    async sendSignInCode(ctx: RequestContext, user: User, channel: "email" | "sms") {
      const destination = (await methods.recoveryChannels(user)).find((c) => c.channel === channel);
      if (!destination) throw new AppError("methodNotEnrolled", { method: channel });
      const policy = (await portalPolicy.current()).recovery;
      const last = await kysely
        .selectFrom("recovery_codes")
        .select("created_at")
        .where("user_id", "=", user.id)
        .where("method_id", "=", `signin:${channel}`)
        .orderBy("created_at", "desc")
        .executeTakeFirst();
      if (last && clock.now() - last.created_at < policy.resendCooldownSeconds * 1000) {
        throw new AppError("resendTooSoon", {
          resendAvailableAt: iso(last.created_at + policy.resendCooldownSeconds * 1000),
        });
      }
      const sent = await issueCode(user, `signin:${channel}`, destination, {
        purpose: "signInCode",
        subject: "Your PinDesk sign-in code",
        text: (code, minutes) =>
          `Your PinDesk sign-in code is ${code}. It is valid for ${minutes} minutes. If you are not signing in, tell your help desk.`,
      });
      await audit.record(ctx, {
        action: `signin.${channel}.codeSent`,
        outcome: "success",
        target: target(user),
      });
      return {
        to: destination.masked,
        sentAt: iso(sent.now),
        messageId: sent.messageId,
        resendAvailableAt: iso(sent.now + policy.resendCooldownSeconds * 1000),
      };
    },

    async verifySignInCode(ctx: RequestContext, user: User, channel: "email" | "sms", code: string) {
      const checked = await checkCode(user.id, `signin:${channel}`, code);
      if (!checked.ok) {
        await audit.record(ctx, { action: `signin.${channel}`, outcome: "failure", target: target(user) });
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      }
    },

    /** Confirms a newly added email address or phone number with a code sent to it. */
    async sendContactCode(
      ctx: RequestContext,
      user: User,
      methodId: string,
      channel: "email" | "sms",
      destination: string,
    ) {
      const sent = await issueCode(
        user,
        `contact:${methodId}`,
        { channel, destination },
        {
          purpose: "contactVerification",
          subject: "Confirm your address for PinDesk",
          text: (code, minutes) =>
            `Your PinDesk confirmation code is ${code}. It is valid for ${minutes} minutes.`,
        },
      );
      await audit.record(ctx, {
        action: `method.${channel}.codeSent`,
        outcome: "success",
        target: target(user),
      });
      return { messageId: sent.messageId, sentAt: iso(sent.now) };
    },

    async verifyContactCode(ctx: RequestContext, user: User, methodId: string, code: string) {
      const checked = await checkCode(user.id, `contact:${methodId}`, code);
      if (!checked.ok)
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      return methods.markContactVerified(ctx, user, methodId);
    },

    notifyPinChanged,

    /** Sent by the help desk: a single-use link to set a new PIN, to the user's first verified channel. */
    async sendRecoveryLink(ctx: RequestContext, user: User, publicUrl: string) {
      const [channel] = await methods.recoveryChannels(user);
      if (!channel) {
        throw new AppError("invalidRequest", {
          problems: [
            {
              field: "user",
              message: "has no email address or phone number to send a link to; add one first",
            },
          ],
        });
      }
      const token = await newLink("recovery-reset", user.id, 24 * 3_600_000);
      const message = await outbox.enqueue({
        userId: user.id,
        channel: channel.channel,
        destination: channel.destination,
        purpose: "recoveryLink",
        subject: "Set a new PinDesk PIN",
        text: `Your help desk sent you this link to set a new PIN. It works once, for 24 hours: ${publicUrl}/portal/reset#${token}`,
      });
      void outbox.deliver(message.id).catch(() => undefined);
      await audit.record(ctx, {
        action: "recovery.linkSent",
        outcome: "success",
        target: target(user),
        details: { to: channel.masked, messageId: message.id },
      });
      return { to: channel.masked, messageId: message.id };
    },

    // ------------------------------------------------------------------ Emergency Access
    async registerAnswers(ctx: RequestContext, user: User, answers: Record<string, string>) {
      const policy = (await portalPolicy.current()).emergencyAccess;
      const entries = Object.entries(answers).filter(([id]) => policy.questions.some((q) => q.id === id));
      if (
        entries.length < policy.registerCount ||
        entries.length !== Object.keys(answers).length ||
        entries.some(([, a]) => typeof a !== "string" || normaliseAnswer(a).length < 2)
      ) {
        throw new AppError("securityAnswersInvalid", { required: policy.registerCount });
      }
      const now = clock.now();
      const hashed = await Promise.all(
        entries.map(async ([id, a]) => [id, await hasher.hash(normaliseAnswer(a))] as const),
      );
      await db.transaction(async (trx) => {
        await trx.deleteFrom("security_answers").where("user_id", "=", user.id).execute();
        await trx
          .insertInto("security_answers")
          .values(
            hashed.map(([id, hash]) => ({
              user_id: user.id,
              question_id: id,
              answer_hash: hash,
              created_at: now,
            })),
          )
          .execute();
      });
      await audit.record(ctx, {
        action: "emergency.answersRegistered",
        outcome: "success",
        target: target(user),
        details: { count: entries.length },
      });
      return { registered: entries.map(([id]) => id) };
    },

    async registeredQuestions(user: User) {
      const rows = await kysely
        .selectFrom("security_answers")
        .select("question_id")
        .where("user_id", "=", user.id)
        .execute();
      return rows.map((r) => r.question_id);
    },

    /** A random subset of the user's questions (or of the list, for unknown or unregistered users). */
    async emergencyStart(ctx: RequestContext, upn: string) {
      const policy = (await portalPolicy.current()).emergencyAccess;
      if (!policy.enabled) throw new AppError("emergencyAccessDisabled");
      const user = await repos.users.findByUpn(upn);
      const registered = user
        ? (
            await kysely
              .selectFrom("security_answers")
              .select("question_id")
              .where("user_id", "=", user.id)
              .execute()
          ).map((r) => r.question_id)
        : [];
      const pool = registered.length >= policy.askCount ? registered : policy.questions.map((q) => q.id);
      const chosen = [...pool].sort(() => randomInt(3) - 1).slice(0, policy.askCount);
      const token = await newLink(
        `emergency:${chosen.join(",")}`,
        user && registered.length >= policy.askCount ? user.id : null,
        FLOW_TTL_MS,
      );
      await audit.record(ctx, {
        action: "emergency.started",
        outcome: user ? "success" : "denied",
        target: { id: user?.id ?? null, upn: upn.slice(0, 256) },
      });
      return {
        emergencyToken: `${chosen.join(",")}.${token}`,
        questions: chosen.map((id) => ({ id, text: policy.questions.find((q) => q.id === id)?.text ?? id })),
      };
    },

    async emergencyAnswer(ctx: RequestContext, emergencyToken: string, answers: Record<string, string>) {
      const dot = emergencyToken.indexOf(".");
      const chosen = emergencyToken.slice(0, dot);
      const token = emergencyToken.slice(dot + 1);
      const purpose = `emergency:${chosen}`;
      const link = dot > 0 ? await readLink(purpose, token) : undefined;
      if (!link) throw new AppError("setupLinkInvalid");
      const lockout = (await policies.pinPolicy()).lockout;
      const subject = link.user_id ? `emergency:${link.user_id}` : `emergency-unknown:${digestToken(token)}`;
      const stored = link.user_id
        ? await kysely
            .selectFrom("security_answers")
            .selectAll()
            .where("user_id", "=", link.user_id)
            .execute()
        : [];
      const result = await attempts.attempt(subject, lockout, async () => {
        let all = stored.length > 0;
        for (const id of chosen.split(",")) {
          const row = stored.find((s) => s.question_id === id);
          const given = normaliseAnswer(String(answers[id] ?? ""));
          if (!row) {
            await hasher.verifyDummy(given);
            all = false;
          } else if (!(await hasher.verify(row.answer_hash, given)).ok) all = false;
        }
        return all;
      });
      if (result.outcome !== "ok") {
        await audit.record(ctx, {
          action: "emergency.answered",
          outcome: "failure",
          target: { id: link.user_id, upn: null },
        });
        if (result.outcome === "locked" || result.attemptsRemaining === 0) {
          throw new AppError("methodLocked", {
            method: "emergencyAccess",
            lockedUntil: result.lockedUntil ? iso(result.lockedUntil) : null,
          });
        }
        throw new AppError("emergencyAnswersWrong", { attemptsRemaining: result.attemptsRemaining });
      }
      await consumeLink(purpose, token);
      await audit.record(ctx, {
        action: "emergency.answered",
        outcome: "success",
        target: { id: link.user_id, upn: null },
      });
      const user = link.user_id ? await repos.users.findById(link.user_id) : undefined;
      const hasQr = user ? (await repos.qr.getMethod(user.id)) !== undefined : false;
      return {
        resetToken: await newLink("emergency-reset", link.user_id, RESET_TTL_MS),
        // "Choose the method whose PIN to change": the PIN, used by every PIN sign-in including QR badges.
        methods: [{ id: "pin", label: hasQr ? "PIN (also used with your QR badge)" : "PIN" }],
      };
    },

    setPinAfterEmergency: (ctx: RequestContext, resetToken: string, newPin: string) =>
      setPinWithResetToken(ctx, "emergency-reset", resetToken, newPin, "emergencyAccess"),

    maskFor: (channel: "email" | "sms", destination: string) =>
      channel === "email" ? maskEmail(destination) : maskPhone(destination),
  };
};

export type RecoveryService = ReturnType<typeof createRecoveryService>;
