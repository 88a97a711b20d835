/**
 * Portal policy: authentication sets (which methods a user must present, one after another), sessions,
 * recovery by email/SMS code, and Emergency Access by security questions. Pure.
 */
import { AppError } from "../errors/app-error.ts";

export const METHOD_TYPES = ["pin", "totp", "webauthn", "rfid", "push", "email", "sms"] as const;
export type MethodType = (typeof METHOD_TYPES)[number];

/** Methods an authentication set can ask for at sign-in (email/SMS codes go to an address already on file). */
export const SIGN_IN_METHODS: readonly MethodType[] = [
  "pin",
  "totp",
  "webauthn",
  "rfid",
  "push",
  "email",
  "sms",
];

/** What a channel sends, in a sentence ("not set up to send text messages"). */
export const CHANNEL_SENDS: Record<"email" | "sms", string> = { email: "email", sms: "text messages" };

export const METHOD_LABELS: Record<MethodType, string> = {
  pin: "PIN",
  totp: "Authenticator app code",
  webauthn: "Security key or passkey",
  rfid: "Badge (RFID card)",
  push: "Approval on another signed-in device",
  email: "Code by email",
  sms: "Code by text message",
};

/** The method's name inside a sentence ("Your sign-in also needs your badge (RFID card)."). */
export const METHOD_PHRASES: Record<MethodType, string> = {
  pin: "your PIN",
  totp: "a code from your authenticator app",
  webauthn: "your security key or passkey",
  rfid: "your badge (RFID card)",
  push: "approval on another device where you are signed in",
  email: "a code sent to your email address",
  sms: "a code sent by text message to your phone",
};

/**
 * Failure counters that lock a sign-in method or recovery path of a user, besides the PIN's own
 * ("pin:<id>"): each method has its own counter, and an administrator's unblock or a completed
 * recovery clears them all.
 */
export const METHOD_COUNTER_KINDS = ["totp", "webauthn", "rfid", "emergency"] as const;
export type MethodCounterKind = (typeof METHOD_COUNTER_KINDS)[number];
export const methodCounterSubject = (kind: MethodCounterKind, userId: string): string => `${kind}:${userId}`;
export const METHOD_COUNTER_LABELS: Record<MethodCounterKind, string> = {
  totp: "Authenticator app code",
  webauthn: "Security key or passkey",
  rfid: "Badge (RFID card)",
  emergency: "Emergency Access (security questions)",
};

export interface AuthSet {
  readonly id: string;
  readonly name: string;
  readonly methods: readonly MethodType[];
  /** User ids assigned to this set. */
  readonly users: readonly string[];
  /** Directory roles ("groups") assigned to this set. */
  readonly roles: readonly string[];
}

export interface SecurityQuestion {
  readonly id: string;
  readonly text: string;
}

export interface PortalPolicy {
  readonly authSets: readonly AuthSet[];
  /** The set for users no other set names. */
  readonly defaultSetId: string;
  /** A user missing a method of their set may enrol it during sign-in, after presenting all the others. */
  readonly enrolDuringSignIn: boolean;
  /** Who to ask when self-service cannot help ("your help desk on 0800 123 456"). */
  readonly helpdeskContact: string;
  readonly sessions: { readonly idleMinutes: number; readonly absoluteHours: number };
  readonly recovery: {
    readonly channels: readonly ("email" | "sms")[];
    readonly codeLength: number;
    readonly ttlMinutes: number;
    readonly maxTries: number;
    readonly resendCooldownSeconds: number;
    readonly perUserPerHour: number;
    readonly perIpPerHour: number;
  };
  readonly emergencyAccess: {
    readonly enabled: boolean;
    readonly questions: readonly SecurityQuestion[];
    /** How many answers a user registers (at least 3). */
    readonly registerCount: number;
    /** How many of them are asked, chosen at random. */
    readonly askCount: number;
    readonly allowPreviousPin: boolean;
  };
}

export const defaultPortalPolicy: PortalPolicy = {
  authSets: [{ id: "standard", name: "Standard", methods: ["pin"], users: [], roles: [] }],
  defaultSetId: "standard",
  enrolDuringSignIn: true,
  helpdeskContact: "your help desk",
  sessions: { idleMinutes: 15, absoluteHours: 8 },
  recovery: {
    channels: ["email", "sms"],
    codeLength: 8,
    ttlMinutes: 10,
    maxTries: 5,
    resendCooldownSeconds: 60,
    perUserPerHour: 5,
    perIpPerHour: 30,
  },
  emergencyAccess: {
    enabled: false,
    questions: [
      { id: "q1", text: "What was the name of your first school?" },
      { id: "q2", text: "In which town was your first job?" },
      { id: "q3", text: "What was the make of your first car or bicycle?" },
      { id: "q4", text: "What is the middle name of your oldest sibling or cousin?" },
      { id: "q5", text: "What was the name of the street you grew up on?" },
    ],
    // More registered than asked, so each Emergency Access asks a random subset (seed 001).
    registerCount: 5,
    askCount: 3,
    allowPreviousPin: true,
  },
};

type Problem = { field: string; message: string };

const int = (
  problems: Problem[],
  field: string,
  v: unknown,
  min: number,
  max: number,
): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    problems.push({ field, message: `must be a whole number from ${min} to ${max}` });
    return undefined;
  }
  return v;
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Validates a partial change and merges it over `base`; every problem is reported. */
export const parsePortalPolicy = (input: unknown, base: PortalPolicy = defaultPortalPolicy): PortalPolicy => {
  const problems: Problem[] = [];
  if (!isRecord(input))
    throw new AppError("invalidPolicy", { problems: [{ field: "policy", message: "must be an object" }] });
  const known = [
    "authSets",
    "defaultSetId",
    "enrolDuringSignIn",
    "helpdeskContact",
    "sessions",
    "recovery",
    "emergencyAccess",
  ];
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) problems.push({ field: key, message: "is not a portal policy setting" });
  }

  let authSets = base.authSets;
  if (input.authSets !== undefined) {
    if (!Array.isArray(input.authSets) || input.authSets.length === 0) {
      problems.push({ field: "authSets", message: "must be a non-empty list" });
    } else {
      authSets = input.authSets.map((raw, i): AuthSet => {
        const field = `authSets[${i}]`;
        const s = isRecord(raw) ? raw : {};
        const id = typeof s.id === "string" && /^[a-z0-9-]{1,40}$/.test(s.id) ? s.id : "";
        if (!id)
          problems.push({ field: `${field}.id`, message: "must be 1-40 lowercase letters, digits or -" });
        const name = typeof s.name === "string" && s.name.trim() ? s.name.trim().slice(0, 80) : "";
        if (!name) problems.push({ field: `${field}.name`, message: "is required" });
        const methods = Array.isArray(s.methods) ? s.methods : [];
        const validMethods = methods.filter((m): m is MethodType =>
          (METHOD_TYPES as readonly unknown[]).includes(m),
        );
        if (validMethods.length === 0 || validMethods.length !== methods.length) {
          problems.push({
            field: `${field}.methods`,
            message: `must list methods from ${METHOD_TYPES.join(", ")}`,
          });
        }
        if (new Set(validMethods).size !== validMethods.length) {
          problems.push({ field: `${field}.methods`, message: "lists a method twice" });
        }
        // The PIN is asked first, of every user name alike: nothing about an account (which methods it
        // has) is shown before the person has proven something, and Forgot PIN always leads back in.
        if (validMethods.length > 0 && !validMethods.includes("pin")) {
          problems.push({
            field: `${field}.methods`,
            message: 'must include "pin" (it is always asked first)',
          });
        }
        const strings = (v: unknown, f: string): string[] => {
          if (v === undefined) return [];
          if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
            problems.push({ field: `${field}.${f}`, message: "must be a list of strings" });
            return [];
          }
          return v as string[];
        };
        return {
          id,
          name,
          methods: validMethods,
          users: strings(s.users, "users"),
          roles: strings(s.roles, "roles"),
        };
      });
      const ids = authSets.map((s) => s.id);
      if (new Set(ids).size !== ids.length)
        problems.push({ field: "authSets", message: "set ids must be unique" });
    }
  }
  const defaultSetId = typeof input.defaultSetId === "string" ? input.defaultSetId : base.defaultSetId;
  if (!authSets.some((s) => s.id === defaultSetId)) {
    problems.push({ field: "defaultSetId", message: "must name one of the authentication sets" });
  }
  if (input.enrolDuringSignIn !== undefined && typeof input.enrolDuringSignIn !== "boolean") {
    problems.push({ field: "enrolDuringSignIn", message: "must be true or false" });
  }
  if (
    input.helpdeskContact !== undefined &&
    (typeof input.helpdeskContact !== "string" || !input.helpdeskContact.trim())
  ) {
    problems.push({ field: "helpdeskContact", message: "must be a short text" });
  }

  const s = isRecord(input.sessions) ? input.sessions : {};
  const sessions = {
    idleMinutes: int(problems, "sessions.idleMinutes", s.idleMinutes, 1, 240) ?? base.sessions.idleMinutes,
    absoluteHours:
      int(problems, "sessions.absoluteHours", s.absoluteHours, 1, 24) ?? base.sessions.absoluteHours,
  };
  const r = isRecord(input.recovery) ? input.recovery : {};
  let channels = base.recovery.channels;
  if (r.channels !== undefined) {
    if (!Array.isArray(r.channels) || !r.channels.every((c) => c === "email" || c === "sms")) {
      problems.push({ field: "recovery.channels", message: 'must be a list of "email" and/or "sms"' });
    } else channels = r.channels as ("email" | "sms")[];
  }
  const recovery = {
    channels,
    codeLength: int(problems, "recovery.codeLength", r.codeLength, 6, 8) ?? base.recovery.codeLength,
    ttlMinutes: int(problems, "recovery.ttlMinutes", r.ttlMinutes, 1, 60) ?? base.recovery.ttlMinutes,
    maxTries: int(problems, "recovery.maxTries", r.maxTries, 1, 10) ?? base.recovery.maxTries,
    resendCooldownSeconds:
      int(problems, "recovery.resendCooldownSeconds", r.resendCooldownSeconds, 10, 600) ??
      base.recovery.resendCooldownSeconds,
    perUserPerHour:
      int(problems, "recovery.perUserPerHour", r.perUserPerHour, 1, 100) ?? base.recovery.perUserPerHour,
    perIpPerHour:
      int(problems, "recovery.perIpPerHour", r.perIpPerHour, 1, 10_000) ?? base.recovery.perIpPerHour,
  };
  const e = isRecord(input.emergencyAccess) ? input.emergencyAccess : {};
  let questions = base.emergencyAccess.questions;
  if (e.questions !== undefined) {
    if (
      !Array.isArray(e.questions) ||
      !e.questions.every(
        (q) => isRecord(q) && typeof q.id === "string" && typeof q.text === "string" && q.text.trim(),
      )
    ) {
      problems.push({ field: "emergencyAccess.questions", message: 'must be a list of {"id","text"}' });
    } else {
      questions = (e.questions as { id: string; text: string }[]).map((q) => ({
        id: q.id,
        text: q.text.trim(),
      }));
    }
  }
  const emergencyAccess = {
    enabled: typeof e.enabled === "boolean" ? e.enabled : base.emergencyAccess.enabled,
    questions,
    registerCount:
      int(problems, "emergencyAccess.registerCount", e.registerCount, 3, 10) ??
      base.emergencyAccess.registerCount,
    askCount: int(problems, "emergencyAccess.askCount", e.askCount, 1, 10) ?? base.emergencyAccess.askCount,
    allowPreviousPin:
      typeof e.allowPreviousPin === "boolean" ? e.allowPreviousPin : base.emergencyAccess.allowPreviousPin,
  };
  if (emergencyAccess.askCount > emergencyAccess.registerCount) {
    problems.push({ field: "emergencyAccess.askCount", message: "cannot exceed registerCount" });
  }
  if (emergencyAccess.questions.length < emergencyAccess.registerCount) {
    problems.push({ field: "emergencyAccess.questions", message: "needs at least registerCount questions" });
  }
  if (problems.length > 0) throw new AppError("invalidPolicy", { problems });
  return {
    authSets,
    defaultSetId,
    enrolDuringSignIn:
      typeof input.enrolDuringSignIn === "boolean" ? input.enrolDuringSignIn : base.enrolDuringSignIn,
    helpdeskContact:
      typeof input.helpdeskContact === "string" ? input.helpdeskContact.trim() : base.helpdeskContact,
    sessions,
    recovery,
    emergencyAccess,
  };
};

/** The set that applies to a user: one naming the user, else one naming a role of theirs, else the default. */
export const authSetFor = (policy: PortalPolicy, user: { id: string; roles: readonly string[] }): AuthSet => {
  const byUser = policy.authSets.find((s) => s.users.includes(user.id));
  if (byUser) return byUser;
  const byRole = policy.authSets.find((s) => s.roles.some((r) => user.roles.includes(r)));
  if (byRole) return byRole;
  return policy.authSets.find((s) => s.id === policy.defaultSetId) ?? (policy.authSets[0] as AuthSet);
};

/**
 * Fisher–Yates: an unbiased random order of `items`. `randomBelow(n)` returns a uniform integer in
 * [0, n): crypto.randomInt for a real draw, or a keyed-hash stream for a draw that must repeat.
 */
export const shuffled = <T>(items: readonly T[], randomBelow: (n: number) => number): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/** A phone number as an SMS provider expects it (E.164): "+1 555 010 9999" → "+15550109999". */
export const toE164 = (phone: string): string => {
  const trimmed = phone.trim();
  const digits = trimmed.replace(/\D/g, "");
  return trimmed.startsWith("+") || trimmed.startsWith("00")
    ? `+${trimmed.startsWith("00") ? digits.slice(2) : digits}`
    : digits;
};

/** Normalises a security answer so case and spacing do not matter. */
export const normaliseAnswer = (answer: string): string =>
  answer.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();

/** "m•••z@outlook.com" */
export const maskEmail = (address: string): string => {
  const at = address.lastIndexOf("@");
  if (at < 1) return "•••";
  const local = address.slice(0, at);
  const first = local[0] ?? "";
  const last = local.length > 1 ? local[local.length - 1] : "";
  return `${first}•••${last}${address.slice(at)}`;
};

/** Two-digit country calling codes (E.164); "1" and "7" are one digit, everything else three. */
const TWO_DIGIT_CODES = new Set(
  "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split(
    " ",
  ),
);

/** "+44 ••• ••• 123": the country code and the last three digits, nothing else. */
export const maskPhone = (phone: string): string => {
  const digits = phone.replace(/[^\d+]/g, "");
  const tail = digits.slice(-3);
  if (!digits.startsWith("+")) return `••• ••• ${tail}`;
  const rest = digits.slice(1);
  const first = rest[0] ?? "";
  const country =
    first === "1" || first === "7"
      ? first
      : TWO_DIGIT_CODES.has(rest.slice(0, 2))
        ? rest.slice(0, 2)
        : rest.slice(0, 3);
  return `+${country} ••• ••• ${tail}`;
};
