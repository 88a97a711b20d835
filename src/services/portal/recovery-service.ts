import { createHmac, randomInt, randomUUID } from "node:crypto";
import type { Hasher } from "../../crypto/hasher.ts";
import type { Keyring } from "../../crypto/keyring.ts";
import { digestToken, randomToken } from "../../crypto/tokens.ts";
import { SUPERSEDED } from "../../delivery/outbox.ts";
import {
  CHANNEL_SENDS,
  METHOD_COUNTER_KINDS,
  maskEmail,
  maskPhone,
  methodCounterSubject,
  normaliseAnswer,
  shuffled,
} from "../../domain/portal-policy.ts";
import { humanTime } from "../../domain/time-words.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Db } from "../../store/db.ts";
import type { Repos } from "../../store/index.ts";
import { type User, upnKey } from "../../store/repos/users.ts";
import type { AttemptGuard } from "../attempts.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock, RequestContext } from "../context.ts";
import type { PinProfileName, PinService } from "../pin-service.ts";
import type { PolicyService } from "../policy-service.ts";
import type { MethodsService } from "./methods-service.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";
import { createRateLimiter } from "./rate-limits.ts";

/** What recovery needs from the outbox (see src/delivery). */
export interface RecoveryOutbox {
  enqueue(message: {
    userId: string | null;
    channel: "email" | "sms";
    destination: string;
    purpose: string;
    subject: string;
    text: string;
    expiresAt?: number;
  }): Promise<{ id: string }>;
  /** A message for an unknown name: never sent, but its states follow a real one's (see outbox.ts). */
  enqueueStandIn(message: {
    id: string;
    channel: "email" | "sms";
    purpose: string;
    subject: string;
    expiresAt: number;
  }): Promise<{ id: string }>;
  deliver(id: string): Promise<unknown>;
  /** Marks a message still waiting for a retry as expired with `reason`, so it is never sent. */
  supersede(id: string, reason: string): Promise<boolean>;
  get(id: string): Promise<OutboxView | undefined>;
  /** Why a channel cannot deliver at all (nothing configured), or null. */
  unavailable(channel: "email" | "sms"): string | null;
}

export interface OutboxView {
  id: string;
  channel: "email" | "sms";
  status: string;
  state: string;
  lastError: string | null;
  /** The last reason without the recipient's address in it (see the outbox's view). */
  lastErrorMasked: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  nextAttemptAt: string | null;
}

export interface RecoveryChannelView {
  id: string;
  channel: "email" | "sms";
  masked: string;
}

/** Where a code goes: the user's real address, or (for a name that does not exist) a stand-in. */
interface Channel extends RecoveryChannelView {
  destination: string | null;
}

/** A PIN the user can change after Emergency Access (the portal PIN; the QR badge uses the same PIN). */
export interface PinBearingMethod {
  id: "pin" | "qr";
  label: string;
  detail: string;
}

const RESET_TTL_MS = 15 * 60_000;
// Long enough to follow a message through its retries and still act on the outcome.
const FLOW_TTL_MS = 3 * 3_600_000;
const HOUR_MS = 3_600_000;
/** How often the picture of real users' recovery channels (for stand-ins) is refreshed. */
const MIX_TTL_MS = 10 * 60_000;
const MIX_SAMPLE = 1000;
const RECOVERY_SUBJECT = "Your PinDesk recovery code";

interface ChannelMix {
  /** [emails, phones] per sampled user, each capped at 2, with how many users have that combination. */
  combos: { emails: number; phones: number; weight: number }[];
  total: number;
  mailDomain: string;
  phonePrefix: string;
}

/**
 * Forgot PIN by a code sent to a verified channel, and Emergency Access by security questions.
 *
 * No enumeration: for a user name that does not exist (or a disabled account) every step runs the same
 * work and answers in the same shape and formats as for a real user. Values that are stable for a real
 * user (which channels, their masked form, which questions) are derived for a stand-in from a keyed
 * hash of the name, so asking twice gives the same answer; values that are random for a real user
 * (tokens, message ids) are random for a stand-in too. A stand-in gets a real code nobody knows, stored
 * and checked like a real one, so tries left, lockouts and the number of argon2id operations agree.
 * A real user with no email or phone is told so (and offered Emergency Access and the help desk) rather
 * than waiting for a code that cannot come; stand-ins get "no channel" in the same proportion as the
 * organisation's real users do, sampled from the directory.
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
  const limits = createRateLimiter({ db, clock });
  const iso = (ms: number) => new Date(ms).toISOString();
  const target = (user: User) => ({ id: user.id, upn: user.userPrincipalName });

  // ------------------------------------------------------------------ keyed stand-ins
  const keyed = (text: string) => createHmac("sha256", keyring.current.secret).update(text).digest();

  /** The same for every flow of one user name, real or not; reveals nothing without the key. */
  const nameKey = (upn: string) =>
    keyed(`recovery-name:${upnKey(upn)}`)
      .toString("hex")
      .slice(0, 32);

  /** A reproducible uniform draw below n from a keyed-hash stream (rejection sampling, no bias). */
  const keyedRandom = (seed: string) => {
    let i = 0;
    return (n: number): number => {
      const limit = Math.floor(0x1_0000_0000 / n) * n;
      for (;;) {
        const v = keyed(`${seed}:${i++}`).readUInt32BE(0);
        if (v < limit) return v % n;
      }
    };
  };

  /** Channel ids say nothing about where a channel comes from; they are keyed per user name. */
  const channelId = (key: string, sourceId: string) =>
    `ch-${keyed(`channel:${key}:${sourceId}`).toString("hex").slice(0, 16)}`;

  let mixCache: { at: number; mix: ChannelMix } | undefined;
  /** How real users' recovery channels are distributed (from the newest users), for stand-ins. */
  const channelMix = async (): Promise<ChannelMix> => {
    const now = clock.now();
    if (mixCache && now - mixCache.at < MIX_TTL_MS && now >= mixCache.at) return mixCache.mix;
    const users = await kysely
      .selectFrom("users")
      .select(["id", "mail", "mobile_phone"])
      .where("account_enabled", "=", 1)
      .orderBy("created_at", "desc")
      .limit(MIX_SAMPLE)
      .execute();
    const extra =
      users.length === 0
        ? []
        : await kysely
            .selectFrom("auth_methods")
            .select(["user_id", "type", "data"])
            .where("verified", "=", 1)
            .where("type", "in", ["email", "sms"])
            .where(
              "user_id",
              "in",
              users.map((u) => u.id),
            )
            .execute();
    const counts = new Map<string, number>();
    const domains = new Map<string, number>();
    const prefixes = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const u of users) {
      const mine = extra.filter((e) => e.user_id === u.id);
      const mails = new Set([
        u.mail,
        ...mine.filter((e) => e.type === "email").map((e) => JSON.parse(e.data).address),
      ]);
      const phones = new Set([
        u.mobile_phone,
        ...mine.filter((e) => e.type === "sms").map((e) => JSON.parse(e.data).phone),
      ]);
      mails.delete(null);
      mails.delete(undefined);
      phones.delete(null);
      phones.delete(undefined);
      for (const m of mails)
        bump(
          domains,
          String(m)
            .slice(String(m).lastIndexOf("@") + 1)
            .toLowerCase(),
        );
      for (const p of phones) bump(prefixes, maskPhone(String(p)).split(" ")[0] ?? "");
      bump(counts, `${Math.min(mails.size, 2)}:${Math.min(phones.size, 2)}`);
    }
    const top = (m: Map<string, number>, fallback: string) =>
      [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] || fallback;
    const combos = [...counts]
      .map(([k, weight]) => {
        const [emails, phones] = k.split(":").map(Number) as [number, number];
        return { emails, phones, weight };
      })
      .sort((a, b) => a.emails - b.emails || a.phones - b.phones);
    const mix: ChannelMix = {
      combos: combos.length > 0 ? combos : [{ emails: 1, phones: 0, weight: 1 }],
      total: combos.length > 0 ? users.length : 1,
      mailDomain: top(domains, "example.com"),
      phonePrefix: top(prefixes, "+44"),
    };
    mixCache = { at: now, mix };
    return mix;
  };

  /** Stand-in channels for a user name that is not a real, enabled user. */
  const standInChannels = async (upn: string, key: string): Promise<Channel[]> => {
    const mix = await channelMix();
    const draw = keyedRandom(`channels:${key}`);
    // The combination whose share of the directory this name's draw falls into.
    const pick = draw(mix.total);
    let below = 0;
    const combo =
      mix.combos.find((c) => {
        below += c.weight;
        return pick < below;
      }) ?? mix.combos[0];
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const letter = () => letters[draw(26)] as string;
    const out: Channel[] = [];
    for (let i = 0; i < (combo?.emails ?? 0); i++) {
      // A directory mail address is most often the user name itself.
      const masked =
        i === 0 && upn.includes("@") && upn.lastIndexOf("@") > 0
          ? maskEmail(upn.trim().toLowerCase())
          : `${letter()}•••${letter()}@${mix.mailDomain}`;
      out.push({ id: channelId(key, `email-${i}`), channel: "email", masked, destination: null });
    }
    for (let i = 0; i < (combo?.phones ?? 0); i++) {
      const tail = String(draw(1000)).padStart(3, "0");
      out.push({
        id: channelId(key, `sms-${i}`),
        channel: "sms",
        masked: `${mix.phonePrefix} ••• ••• ${tail}`,
        destination: null,
      });
    }
    return out;
  };

  /** A real user's channels in the order stand-ins use: email addresses first, then phones. */
  const realChannels = async (user: User, key: string): Promise<Channel[]> => {
    const all = await methods.recoveryChannels(user);
    return [...all.filter((c) => c.channel === "email"), ...all.filter((c) => c.channel === "sms")].map(
      (c) => ({ id: channelId(key, c.id), channel: c.channel, masked: c.masked, destination: c.destination }),
    );
  };

  /**
   * The user behind a name (`named`), and the one recovery may act on (`user`): a disabled account is
   * treated like an unknown name, though the help desk's record still says whose it was.
   */
  const lookUp = async (upn: string) => {
    const named = await repos.users.findByUpn(upn);
    return { named, user: named?.accountEnabled ? named : undefined };
  };

  /**
   * The channels a code can be sent on: allowed by the portal policy and deliverable by this PinDesk.
   * A channel nobody configured is never offered (a code that cannot arrive is a dead end), and since
   * that depends on the installation, not on the name, real and unknown names lose it alike.
   */
  const channelsFor = async (upn: string, key: string, user: User | undefined) => {
    const allowed = (await portalPolicy.current()).recovery.channels;
    const list = user ? await realChannels(user, key) : await standInChannels(upn, key);
    return list.filter((c) => allowed.includes(c.channel) && outbox.unavailable(c.channel) === null);
  };

  /**
   * Channels this PinDesk cannot send on at all, whatever the Forgot PIN policy allows: no sign-in
   * code or confirmation code can go there either (the same for everyone).
   */
  const undeliverableChannels = (): ("email" | "sms")[] =>
    (["email", "sms"] as const).filter((c) => outbox.unavailable(c) !== null);

  /** Channels the policy allows but this PinDesk cannot send on: the same for every name. */
  const channelsNotSetUp = async (): Promise<("email" | "sms")[]> => {
    const allowed = (await portalPolicy.current()).recovery.channels;
    return undeliverableChannels().filter((c) => allowed.includes(c));
  };

  /** Refuses, with what to do instead, to send a code on a channel this PinDesk cannot deliver to. */
  const assertChannelSetUp = (channel: "email" | "sms") => {
    if (outbox.unavailable(channel) === null) return;
    throw new AppError(
      "channelNotSetUp",
      { channel },
      `This PinDesk is not set up to send ${CHANNEL_SENDS[channel]}.`,
    );
  };

  // ------------------------------------------------------------------ single-use links
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

  /** A live link whose purpose is `purpose`, or starts with `purpose` when `prefix` is set. */
  const readLink = async (purpose: string, token: string, prefix = false) => {
    const row = await kysely
      .selectFrom("one_time_links")
      .selectAll()
      .where("token_hash", "=", digestToken(token))
      .executeTakeFirst();
    if (!row || row.used_at !== null || row.expires_at <= clock.now()) return undefined;
    if (prefix ? !row.purpose.startsWith(purpose) : row.purpose !== purpose) return undefined;
    return row;
  };

  /** Single use: of concurrent redemptions exactly one succeeds. Returns the moment it was spent. */
  const consumeLink = async (purpose: string, token: string): Promise<number | undefined> => {
    const now = clock.now();
    const result = await kysely
      .updateTable("one_time_links")
      .set({ used_at: now })
      .where("token_hash", "=", digestToken(token))
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? now : undefined;
  };

  /** Gives a spent link back (the new PIN it was spent for was refused), so the user can try again. */
  const releaseLink = async (purpose: string, token: string, spentAt: number) => {
    await kysely
      .updateTable("one_time_links")
      .set({ used_at: null })
      .where("token_hash", "=", digestToken(token))
      .where("purpose", "=", purpose)
      .where("used_at", "=", spentAt)
      .execute();
  };

  /**
   * Flow tokens are "<name key>.<secret>" for every user name, real or not. `userCodes` and `standIn`
   * name the codes of this flow alone (a real user's, an unknown name's): a code is bound to the flow
   * that asked for it, so whoever starts Forgot PIN for someone else's name can neither replace the
   * code that person is waiting for nor read how its delivery went. Both come from the stored digest
   * of the flow's secret, never the secret itself.
   */
  const readFlow = async (kind: "recovery" | "emergency", flowToken: string) => {
    const dot = flowToken.indexOf(".");
    if (dot < 1) return undefined;
    const key = flowToken.slice(0, dot);
    const secret = flowToken.slice(dot + 1);
    const link = await readLink(`${kind}:${key}:`, secret, true);
    if (!link) return undefined;
    const flowId = link.token_hash.slice(0, 32);
    return {
      key,
      secret,
      link,
      rest: link.purpose.slice(`${kind}:${key}:`.length),
      userCodes: `recovery:${flowId}`,
      standIn: `${key}:${flowId}`,
    };
  };

  // ------------------------------------------------------------------ limits
  const assertAddressAllowed = async (ctx: RequestContext) => {
    if (!ctx.ip) return;
    const rule = { max: (await portalPolicy.current()).recovery.perIpPerHour, windowMs: HOUR_MS };
    const admitted = await limits.admit(`recovery-ip:${ctx.ip}`, rule);
    if (!admitted.admitted) {
      await audit.record(ctx, { action: "recovery.rateLimited", outcome: "denied", reason: "perIpPerHour" });
      throw new AppError("recoveryTooManyFromAddress", { retryAt: iso(admitted.retryAt) });
    }
  };

  /**
   * Resend cooldown per destination kind (so "use your phone instead" works at once after an email),
   * then the hourly cap across all of them: both per subject (a user name, or a signed-in user).
   */
  const assertSendAllowed = async (subject: string, channel: "email" | "sms") => {
    const policy = (await portalPolicy.current()).recovery;
    const cooldownMs = policy.resendCooldownSeconds * 1000;
    const last = await limits.last(`${subject}:${channel}`, cooldownMs);
    if (last !== undefined)
      throw new AppError("resendTooSoon", { resendAvailableAt: iso(last + cooldownMs) });
    const admitted = await limits.admit(subject, { max: policy.perUserPerHour, windowMs: HOUR_MS });
    if (!admitted.admitted) {
      throw new AppError("recoveryRateLimited", {
        retryAt: iso(admitted.retryAt),
        retryAfterMinutes: Math.max(1, Math.ceil((admitted.retryAt - clock.now()) / 60_000)),
      });
    }
    await limits.record(`${subject}:${channel}`);
  };

  // ------------------------------------------------------------------ codes
  const newCode = async () => {
    const { codeLength } = (await portalPolicy.current()).recovery;
    return String(randomInt(0, 10 ** codeLength)).padStart(codeLength, "0");
  };

  /**
   * One-time codes by email or SMS, for one purpose each ("recovery:<flow>", "signin:email", "contact:<id>"),
   * so a code sent for one thing never works for another. Stored as argon2id; the body that carries it
   * is sealed in the outbox, and not delivered once the code has expired.
   */
  const issueCode = async (
    user: User,
    purposeKey: string,
    to: { channel: "email" | "sms"; destination: string },
    message: { purpose: string; subject: string; text: (code: string, minutes: number) => string },
  ) => {
    const policy = (await portalPolicy.current()).recovery;
    const now = clock.now();
    const code = await newCode();
    const expiresAt = now + policy.ttlMinutes * 60_000;
    // Only the newest code works: an earlier message still waiting for a retry is never sent, so it
    // cannot arrive after this one with a code that would be refused.
    const earlier = await kysely
      .selectFrom("recovery_codes")
      .select("outbox_id")
      .where("user_id", "=", user.id)
      .where("method_id", "=", purposeKey)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .execute();
    for (const { outbox_id } of earlier) {
      if (outbox_id)
        await outbox.supersede(outbox_id, `${SUPERSEDED} sent at ${humanTime(now)}, so it was not sent`);
    }
    const queued = await outbox.enqueue({
      userId: user.id,
      channel: to.channel,
      destination: to.destination,
      purpose: message.purpose,
      subject: message.subject,
      text: message.text(code, policy.ttlMinutes),
      expiresAt,
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
        expires_at: expiresAt,
        used_at: null,
      })
      .execute();
    // Delivery starts now; its outcome is followed through the outbox, not awaited here.
    void outbox.deliver(queued.id).catch(() => undefined);
    return { messageId: queued.id, now, expiresAt, ttlMinutes: policy.ttlMinutes };
  };

  /**
   * The stand-in for issueCode: a random code nobody is sent, hashed and stored the same way, with a
   * stand-in message in the outbox whose delivery status goes the way a real message's would.
   */
  const issueStandInCode = async (key: string, channel: "email" | "sms") => {
    const policy = (await portalPolicy.current()).recovery;
    const now = clock.now();
    const expiresAt = now + policy.ttlMinutes * 60_000;
    const id = randomUUID();
    await kysely
      .insertInto("recovery_decoys")
      .values({
        id,
        subject: key,
        code_hash: await hasher.hash(await newCode()),
        channel,
        attempts: 0,
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
      })
      .execute();
    await outbox.enqueueStandIn({
      id,
      channel,
      purpose: "recoveryCode",
      subject: RECOVERY_SUBJECT,
      expiresAt,
    });
    void outbox.deliver(id).catch(() => undefined);
    return { messageId: id, now, expiresAt };
  };

  /**
   * Checks `code` against the newest live code for the purpose (or a stand-in's code). A try is
   * reserved atomically before the hash, so a burst of guesses cannot exceed maxTries; a right code is
   * spent once. With no code to check, one hash is still computed, so timing does not tell cases apart.
   */
  const checkCode = async (
    owner: { userId: string; purposeKey: string } | { standIn: string },
    code: string,
  ): Promise<{ ok: boolean; reserved: boolean; attemptsRemaining: number }> => {
    const policy = (await portalPolicy.current()).recovery;
    const now = clock.now();
    const store =
      "userId" in owner ? userCodes(owner.userId, owner.purposeKey, now) : standInCodes(owner.standIn, now);
    const row = await store.newestLive();
    const reserved = row !== undefined && (await store.reserve(row.id, policy.maxTries));
    let ok = false;
    if (reserved && row) ok = (await hasher.verify(row.code_hash, code.trim())).ok;
    else await hasher.verifyDummy(code);
    if (ok && row) ok = await store.spend(row.id);
    const attemptsRemaining = row && reserved && !ok ? Math.max(policy.maxTries - row.attempts - 1, 0) : 0;
    return { ok, reserved, attemptsRemaining };
  };

  const changed = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) === 1;

  /**
   * Taking a try at a code (only while tries are left and it is unused) and spending it (once): the
   * same conditional statements for a user's codes and for a stand-in's.
   */
  const guessable = (table: "recovery_codes" | "recovery_decoys", now: number) => ({
    reserve: async (id: string, maxTries: number) =>
      changed(
        await kysely
          .updateTable(table)
          .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
          .where("id", "=", id)
          .where("attempts", "<", maxTries)
          .where("used_at", "is", null)
          .executeTakeFirst(),
      ),
    spend: async (id: string) =>
      changed(
        await kysely
          .updateTable(table)
          .set({ used_at: now })
          .where("id", "=", id)
          .where("used_at", "is", null)
          .executeTakeFirst(),
      ),
  });

  /** A user's codes for one purpose: the newest live one is the one checked. */
  const userCodes = (userId: string, purposeKey: string, now: number) => ({
    newestLive: () =>
      kysely
        .selectFrom("recovery_codes")
        .select(["id", "code_hash", "attempts"])
        .where("user_id", "=", userId)
        .where("method_id", "=", purposeKey)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .executeTakeFirst(),
    ...guessable("recovery_codes", now),
  });

  /** The same for a stand-in's codes (its own table: no user row to point at). */
  const standInCodes = (subject: string, now: number) => ({
    newestLive: () =>
      kysely
        .selectFrom("recovery_decoys")
        .select(["id", "code_hash", "attempts"])
        .where("subject", "=", subject)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .orderBy("created_at", "desc")
        .executeTakeFirst(),
    ...guessable("recovery_decoys", now),
  });

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

  /** After Forgot PIN or Emergency Access, every method lock is lifted too: the person proved who they are. */
  const clearMethodLocks = (userId: string) =>
    repos.counters.clearMany(
      METHOD_COUNTER_KINDS.map((kind) => methodCounterSubject(kind, userId)),
      clock.now(),
    );

  const setPinWithResetToken = async (
    ctx: RequestContext,
    purpose: string,
    resetToken: string,
    newPin: string,
    reason: string,
  ) => {
    const link = await readLink(purpose, resetToken);
    if (!link?.user_id) throw new AppError("recoveryLinkInvalid");
    const policy = await portalPolicy.current();
    // Spent first, atomically, so two requests with one token cannot both set a PIN; given back if the
    // new PIN is refused, so the user can simply try another.
    const spentAt = await consumeLink(purpose, resetToken);
    if (spentAt === undefined) throw new AppError("recoveryLinkInvalid");
    let status: Awaited<ReturnType<PinService["setOwn"]>>;
    try {
      status = await pins.setOwn(ctx, link.user_id, newPin, {
        reason,
        allowPrevious: purpose === "emergency-reset" && policy.emergencyAccess.allowPreviousPin,
      });
    } catch (error) {
      await releaseLink(purpose, resetToken, spentAt);
      throw error;
    }
    await clearMethodLocks(link.user_id);
    const user = await repos.users.findById(link.user_id);
    if (user)
      await notifyPinChanged(
        user,
        reason === "emergencyAccess" ? "through Emergency Access" : "with a recovery code or help-desk link",
      );
    return status;
  };

  /** The PINs a user can change after Emergency Access (seed 001: "select the method"). */
  const pinBearingMethods = async (userId: string | null): Promise<PinBearingMethod[]> => {
    const methodsOffered: PinBearingMethod[] = [
      { id: "pin", label: "PIN", detail: "The PIN you sign in with." },
    ];
    if (userId && (await repos.qr.getMethod(userId))) {
      methodsOffered.push({
        id: "qr",
        label: "QR code + PIN (your badge)",
        detail: "Your badge uses the same PIN, so changing one changes both.",
      });
    }
    return methodsOffered;
  };

  return {
    // ------------------------------------------------------------------ Forgot PIN
    async start(ctx: RequestContext, upn: string) {
      await assertAddressAllowed(ctx);
      const { named, user } = await lookUp(upn);
      const policy = await portalPolicy.current();
      const key = nameKey(upn);
      const secret = await newLink(
        `recovery:${key}:${upnKey(upn).slice(0, 256)}`,
        user?.id ?? null,
        FLOW_TTL_MS,
      );
      const channels = await channelsFor(upn, key, user);
      await audit.record(ctx, {
        action: "recovery.started",
        outcome: user ? "success" : "denied",
        target: { id: named?.id ?? null, upn: upn.slice(0, 256) },
        ...(user ? {} : { reason: named ? "accountDisabled" : "unknownUser" }),
      });
      return {
        recoveryToken: `${key}.${secret}`,
        channels: channels.map(({ id, channel, masked }) => ({ id, channel, masked })),
        channelsNotSetUp: await channelsNotSetUp(),
        helpdeskContact: policy.helpdeskContact,
        emergencyAccess: policy.emergencyAccess.enabled,
      };
    },

    /** Sends a code: 6-8 digits, single use, limited tries and lifetime, resend after a cooldown. */
    async send(ctx: RequestContext, recoveryToken: string, channelIdGiven: string) {
      const flow = await readFlow("recovery", recoveryToken);
      if (!flow) throw new AppError("recoveryLinkInvalid");
      await assertAddressAllowed(ctx);
      const policy = (await portalPolicy.current()).recovery;
      const user = flow.link.user_id ? await repos.users.findById(flow.link.user_id) : undefined;
      const real = user?.accountEnabled ? user : undefined;
      const channel = (await channelsFor(flow.rest, flow.key, real)).find((c) => c.id === channelIdGiven);
      if (!channel) {
        throw new AppError("invalidRequest", {
          problems: [{ field: "channelId", message: "is not one of the channels offered; start again" }],
        });
      }
      await assertSendAllowed(`recovery-sent:${flow.key}`, channel.channel);
      let sent: { messageId: string; now: number; expiresAt: number };
      if (real && channel.destination) {
        sent = await issueCode(
          real,
          flow.userCodes,
          { channel: channel.channel, destination: channel.destination },
          {
            purpose: "recoveryCode",
            subject: RECOVERY_SUBJECT,
            text: (code, minutes) =>
              `Your PinDesk recovery code is ${code}. It is valid for ${minutes} minutes. If you did not ask for it, ignore this message and tell your help desk.`,
          },
        );
        await audit.record(ctx, {
          action: "recovery.codeSent",
          outcome: "success",
          target: target(real),
          details: { channel: channel.channel, to: channel.masked, messageId: sent.messageId },
        });
      } else {
        sent = await issueStandInCode(flow.standIn, channel.channel);
      }
      return {
        sentAt: iso(sent.now),
        to: channel.masked,
        channel: channel.channel,
        messageId: sent.messageId,
        expiresAt: iso(sent.expiresAt),
        resendAvailableAt: iso(sent.now + policy.resendCooldownSeconds * 1000),
      };
    },

    /** Delivery status of the last code sent in this flow, in plain words for the person waiting. */
    async deliveryStatus(recoveryToken: string) {
      const flow = await readFlow("recovery", recoveryToken);
      if (!flow) throw new AppError("recoveryLinkInvalid");
      const { link } = flow;
      const none = { status: "none", detail: null as string | null, attempt: 0, nextAttemptAt: null };
      // An unknown name's stand-in message is read like a real one: it went through the same states.
      const last = link.user_id
        ? await kysely
            .selectFrom("recovery_codes")
            .select(["outbox_id as id"])
            .where("user_id", "=", link.user_id)
            .where("method_id", "=", flow.userCodes)
            .orderBy("created_at", "desc")
            .executeTakeFirst()
        : await kysely
            .selectFrom("recovery_decoys")
            .select(["id"])
            .where("subject", "=", flow.standIn)
            .orderBy("created_at", "desc")
            .executeTakeFirst();
      const message = last?.id ? await outbox.get(last.id) : undefined;
      if (!message) return none;
      // A channel nobody configured is never offered (channelsFor), so what is reported here is always
      // the provider's own answer; anyone can read it, so never with the full address in it.
      const reason = message.lastErrorMasked ?? "the provider gave no reason";
      return {
        status: message.state,
        detail:
          message.state === "failed"
            ? `The message could not be delivered: ${reason}.`
            : message.state === "expired"
              ? `The message could not be delivered in time: ${reason}.`
              : message.state === "retrying"
                ? `Attempt ${message.attempts} of ${message.maxAttempts} failed: ${reason}.`
                : null,
        attempt: message.attempts,
        nextAttemptAt: message.nextAttemptAt,
      };
    },

    async verifyCode(ctx: RequestContext, recoveryToken: string, code: string) {
      const flow = await readFlow("recovery", recoveryToken);
      if (!flow) throw new AppError("recoveryLinkInvalid");
      const { link } = flow;
      const checked = await checkCode(
        link.user_id ? { userId: link.user_id, purposeKey: flow.userCodes } : { standIn: flow.standIn },
        code,
      );
      if (!checked.ok || !link.user_id) {
        await audit.record(ctx, {
          action: "recovery.codeChecked",
          outcome: "failure",
          target: { id: link.user_id, upn: null },
          reason: checked.reserved ? "wrongCode" : "noValidCode",
        });
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      }
      if ((await consumeLink(link.purpose, flow.secret)) === undefined)
        throw new AppError("recoveryLinkInvalid");
      await audit.record(ctx, {
        action: "recovery.codeChecked",
        outcome: "success",
        target: { id: link.user_id, upn: null },
      });
      return {
        resetToken: await newLink("recovery-reset", link.user_id, RESET_TTL_MS),
        pinProfile: link.user_id ? await pins.pinProfileOf(link.user_id) : "standard",
      };
    },

    /**
     * What the page needs before the PIN is typed, for a link that still works (the help desk's link, or
     * a code just checked): which rules the new PIN is checked against. Nothing is spent.
     */
    async resetRules(resetToken: string): Promise<{ pinProfile: PinProfileName; expiresAt: string }> {
      const link = await readLink("recovery-reset", resetToken);
      if (!link?.user_id) throw new AppError("recoveryLinkInvalid");
      return { pinProfile: await pins.pinProfileOf(link.user_id), expiresAt: iso(link.expires_at) as string };
    },

    setPinAfterCode: (ctx: RequestContext, resetToken: string, newPin: string) =>
      setPinWithResetToken(ctx, "recovery-reset", resetToken, newPin, "recoveryCode"),

    /** A sign-in step by email or SMS code (when the user's authentication set includes it). */
    async sendSignInCode(ctx: RequestContext, user: User, channel: "email" | "sms") {
      const destination = (await methods.recoveryChannels(user)).find((c) => c.channel === channel);
      if (!destination) throw new AppError("methodNotEnrolled", { method: channel });
      assertChannelSetUp(channel);
      const policy = (await portalPolicy.current()).recovery;
      await assertSendAllowed(`signin-code:${user.id}`, channel);
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
        expiresAt: iso(sent.expiresAt),
        resendAvailableAt: iso(sent.now + policy.resendCooldownSeconds * 1000),
      };
    },

    async verifySignInCode(ctx: RequestContext, user: User, channel: "email" | "sms", code: string) {
      const checked = await checkCode({ userId: user.id, purposeKey: `signin:${channel}` }, code);
      if (!checked.ok) {
        await audit.record(ctx, { action: `signin.${channel}`, outcome: "failure", target: target(user) });
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      }
    },

    /**
     * Adds an email address or phone number and sends a code to confirm it. The same cooldown and
     * hourly cap as recovery codes apply per user, checked before anything is added or sent, so the
     * form cannot be used to send a stream of messages to any address.
     */
    async addContact(ctx: RequestContext, user: User, channel: "email" | "sms", destination: string) {
      assertChannelSetUp(channel);
      const policy = (await portalPolicy.current()).recovery;
      await assertSendAllowed(`contact:${user.id}`, channel);
      const { row, destination: normalised } = await methods.addContact(ctx, user, channel, destination);
      const sent = await issueCode(
        user,
        `contact:${row.id}`,
        { channel, destination: normalised },
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
      const masked = channel === "email" ? maskEmail(normalised) : maskPhone(normalised);
      return {
        methodId: row.id,
        messageId: sent.messageId,
        sentAt: iso(sent.now),
        expiresAt: iso(sent.expiresAt),
        resendAvailableAt: iso(sent.now + policy.resendCooldownSeconds * 1000),
        to: masked,
      };
    },

    async verifyContactCode(ctx: RequestContext, user: User, methodId: string, code: string) {
      const checked = await checkCode({ userId: user.id, purposeKey: `contact:${methodId}` }, code);
      if (!checked.ok)
        throw new AppError("recoveryCodeInvalid", { attemptsRemaining: checked.attemptsRemaining });
      return methods.markContactVerified(ctx, user, methodId);
    },

    notifyPinChanged,

    undeliverableChannels,

    /**
     * For the help desk: the Forgot PIN codes sent for this user's name in the last hour against the
     * hourly limit, when the next one can be sent (null: now), and from how many network addresses
     * they were asked for.
     */
    async codeLimit(user: User) {
      const { perUserPerHour } = (await portalPolicy.current()).recovery;
      const { counted, retryAt } = await limits.state(`recovery-sent:${nameKey(user.userPrincipalName)}`, {
        max: perUserPerHour,
        windowMs: HOUR_MS,
      });
      const sent = await audit.query({
        targetUserId: user.id,
        action: "recovery.codeSent",
        from: clock.now() - HOUR_MS,
        limit: 200,
      });
      return {
        sentLastHour: counted,
        retryAt,
        addresses: new Set(sent.map((e) => e.ip ?? "")).size,
      };
    },

    /**
     * Sent by the help desk: a single-use link to set a new PIN, to the user's first channel that this
     * PinDesk can deliver to (the one the admin page names).
     */
    async sendRecoveryLink(ctx: RequestContext, user: User, publicUrl: string) {
      const channels = await methods.recoveryChannels(user);
      const channel = channels.find((c) => outbox.unavailable(c.channel) === null);
      if (channels.length > 0 && !channel) {
        throw new AppError("deliveryUnavailable", {
          reason: outbox.unavailable(channels[0]?.channel ?? "email"),
        });
      }
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
      const ttlMs = 24 * HOUR_MS;
      const token = await newLink("recovery-reset", user.id, ttlMs);
      const message = await outbox.enqueue({
        userId: user.id,
        channel: channel.channel,
        destination: channel.destination,
        purpose: "recoveryLink",
        subject: "Set a new PinDesk PIN",
        text: `Your help desk sent you this link to set a new PIN. It works once, for 24 hours: ${publicUrl}/portal/reset#${token}`,
        expiresAt: clock.now() + ttlMs,
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

    /**
     * A random subset of the user's registered questions. For a name without enough registered answers
     * (unknown, or never registered) the "registered" questions are a keyed-hash pick from the list, so
     * repeated starts draw from the same few questions exactly as for a real user.
     */
    async emergencyStart(ctx: RequestContext, upn: string) {
      const policy = (await portalPolicy.current()).emergencyAccess;
      if (!policy.enabled) throw new AppError("emergencyAccessDisabled");
      await assertAddressAllowed(ctx);
      const { user } = await lookUp(upn);
      const key = nameKey(upn);
      const listed = policy.questions.map((q) => q.id);
      const registered = user
        ? (
            await kysely
              .selectFrom("security_answers")
              .select("question_id")
              .where("user_id", "=", user.id)
              .execute()
          )
            .map((r) => r.question_id)
            .filter((id) => listed.includes(id))
        : [];
      const pool =
        registered.length >= policy.askCount
          ? registered.sort()
          : shuffled(listed, keyedRandom(`questions:${key}`)).slice(0, policy.registerCount);
      const chosen = shuffled(pool, (n) => randomInt(n)).slice(0, policy.askCount);
      const secret = await newLink(
        `emergency:${key}:${JSON.stringify(chosen)}`,
        user?.id ?? null,
        FLOW_TTL_MS,
      );
      await audit.record(ctx, {
        action: "emergency.started",
        outcome: user ? "success" : "denied",
        target: { id: user?.id ?? null, upn: upn.slice(0, 256) },
      });
      return {
        emergencyToken: `${key}.${secret}`,
        questions: chosen.map((id) => ({ id, text: policy.questions.find((q) => q.id === id)?.text ?? id })),
      };
    },

    async emergencyAnswer(ctx: RequestContext, emergencyToken: string, answers: Record<string, string>) {
      const policy = (await portalPolicy.current()).emergencyAccess;
      // Turned off while someone was answering: it is off.
      if (!policy.enabled) throw new AppError("emergencyAccessDisabled");
      const flow = await readFlow("emergency", emergencyToken);
      if (!flow) throw new AppError("recoveryLinkInvalid");
      const { link } = flow;
      const chosen = JSON.parse(flow.rest) as string[];
      const lockout = (await policies.pinPolicy()).lockout;
      // One counter per user name: a real user's own, or the name's (so a stand-in locks the same way).
      const subject = link.user_id
        ? methodCounterSubject("emergency", link.user_id)
        : `emergency-unknown:${flow.key}`;
      const stored = link.user_id
        ? await kysely
            .selectFrom("security_answers")
            .selectAll()
            .where("user_id", "=", link.user_id)
            .execute()
        : [];
      const result = await attempts.attempt(
        subject,
        lockout,
        async () => {
          let all = link.user_id !== null;
          for (const id of chosen) {
            const row = stored.find((s) => s.question_id === id);
            const given = normaliseAnswer(String(answers[id] ?? ""));
            if (!row) {
              await hasher.verifyDummy(given);
              all = false;
            } else if (!(await hasher.verify(row.answer_hash, given)).ok) all = false;
          }
          return all;
        },
        {
          onInProgress: () =>
            audit.record(ctx, {
              action: "emergency.answered",
              outcome: "denied",
              target: { id: link.user_id, upn: null },
              reason: "attemptsInProgress",
            }),
        },
      );
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
      if ((await consumeLink(link.purpose, flow.secret)) === undefined)
        throw new AppError("recoveryLinkInvalid");
      await audit.record(ctx, {
        action: "emergency.answered",
        outcome: "success",
        target: { id: link.user_id, upn: null },
      });
      return {
        resetToken: await newLink("emergency-reset", link.user_id, RESET_TTL_MS),
        methods: await pinBearingMethods(link.user_id),
        pinProfile: link.user_id ? await pins.pinProfileOf(link.user_id) : "standard",
      };
    },

    /** The new PIN after Emergency Access, for the method the user chose among those offered. */
    async setPinAfterEmergency(ctx: RequestContext, resetToken: string, newPin: string, methodId = "pin") {
      if (!(await portalPolicy.current()).emergencyAccess.enabled)
        throw new AppError("emergencyAccessDisabled");
      const link = await readLink("emergency-reset", resetToken);
      if (!link?.user_id) throw new AppError("recoveryLinkInvalid");
      const offered = await pinBearingMethods(link.user_id);
      const method = offered.find((m) => m.id === methodId);
      if (!method) {
        throw new AppError("invalidRequest", {
          problems: [
            { field: "methodId", message: `must be one of: ${offered.map((m) => m.id).join(", ")}` },
          ],
        });
      }
      const status = await setPinWithResetToken(
        ctx,
        "emergency-reset",
        resetToken,
        newPin,
        "emergencyAccess",
      );
      return { status, method, alsoChanged: offered.filter((m) => m.id !== method.id) };
    },

    maskFor: (channel: "email" | "sms", destination: string) =>
      channel === "email" ? maskEmail(destination) : maskPhone(destination),
  };
};

export type RecoveryService = ReturnType<typeof createRecoveryService>;
