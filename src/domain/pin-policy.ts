/**
 * PIN policy: every Windows Hello for Business PIN complexity setting, PinDesk's pattern filters, the
 * lockout rules and the QR code + PIN method's profile. Pure: no I/O, no clock, no randomness of its own.
 */
import { AppError } from "../errors/app-error.ts";
import type { ErrorCode } from "../errors/catalogue.ts";

/** How a character class is treated, as in Windows Hello's PIN complexity settings. */
export type CharRule = "allowed" | "required" | "disallowed";

export interface LockoutPolicy {
  /** Wrong PINs in a row that lock the PIN (1–100). */
  readonly threshold: number;
  /** `temporary`: the PIN unlocks by itself after an escalating wait; `permanent`: until an admin unblocks. */
  readonly mode: "temporary" | "permanent";
  /** First lock duration in temporary mode; each further lock doubles it up to `maxLockSeconds`. */
  readonly initialLockSeconds: number;
  readonly maxLockSeconds: number;
  /** 0 = never; otherwise failures older than this many seconds no longer count. */
  readonly decaySeconds: number;
}

export interface QrPinPolicy {
  /** Minimum length of a QR code + PIN method's PIN (digits only, 8–20). */
  readonly pinLength: number;
  /** Default lifetime of a standard QR code (1–395 days). */
  readonly standardQRCodeLifetimeInDays: number;
}

export interface TemporaryPinPolicy {
  /** Length of generated temporary PINs (6–20; never below the policy minimum). */
  readonly length: number;
  /** How long a temporary PIN can be used to set a new PIN (1–720 hours). */
  readonly expiryHours: number;
}

export interface PinPolicy {
  /** MinimumPINLength, 4–127. */
  readonly minLength: number;
  /** MaximumPINLength, minLength–127. */
  readonly maxLength: number;
  readonly digits: CharRule;
  readonly lowercase: CharRule;
  readonly uppercase: CharRule;
  readonly special: CharRule;
  /** How many previous PINs (including the current one) cannot be reused, 0–50. */
  readonly history: number;
  /** Days until a PIN must be changed, 0 (never) – 730. */
  readonly expirationDays: number;
  /** Reject numeric PINs with a constant digit step (1111, 1234, 9630, 8901). */
  readonly blockSimplePins: boolean;
  /** Reject PINs that repeat a group of 2–3 characters (121212, 123123). */
  readonly blockRepeatedGroups: boolean;
  /** Reject the most common PINs (and years 1900–2030). */
  readonly blockCommonPins: boolean;
  /** An admin reset to a chosen PIN forces a change at next sign-in unless the admin opts out. */
  readonly forceChangeAfterAdminReset: boolean;
  readonly temporaryPin: TemporaryPinPolicy;
  readonly lockout: LockoutPolicy;
  readonly qr: QrPinPolicy;
}

/** The documented defaults (README "PIN policy"). */
export const defaultPinPolicy: PinPolicy = Object.freeze({
  minLength: 6,
  maxLength: 127,
  digits: "required",
  lowercase: "disallowed",
  uppercase: "disallowed",
  special: "disallowed",
  history: 5,
  expirationDays: 0,
  blockSimplePins: true,
  blockRepeatedGroups: true,
  blockCommonPins: true,
  forceChangeAfterAdminReset: true,
  temporaryPin: Object.freeze({ length: 8, expiryHours: 72 }),
  lockout: Object.freeze({
    threshold: 10,
    mode: "temporary" as const,
    initialLockSeconds: 60,
    maxLockSeconds: 3600,
    decaySeconds: 0,
  }),
  qr: Object.freeze({ pinLength: 8, standardQRCodeLifetimeInDays: 365 }),
});

/** One reason a PIN was rejected; `code` is a catalogue code a UI can map to exact advice. */
export interface PinViolation {
  readonly code: ErrorCode;
  readonly message: string;
  readonly mitigation: string;
  readonly params: Readonly<Record<string, string | number>>;
}

// ---------------------------------------------------------------------------------------------------
// Parsing and validation of the policy itself
// ---------------------------------------------------------------------------------------------------

export interface PolicyProblem {
  readonly field: string;
  readonly message: string;
}

const CHAR_RULES: readonly CharRule[] = ["allowed", "required", "disallowed"];
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

type FieldSpec =
  | { kind: "int"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "rule" }
  | { kind: "enum"; values: readonly string[] };

const TOP: Record<string, FieldSpec> = {
  minLength: { kind: "int", min: 4, max: 127 },
  maxLength: { kind: "int", min: 4, max: 127 },
  digits: { kind: "rule" },
  lowercase: { kind: "rule" },
  uppercase: { kind: "rule" },
  special: { kind: "rule" },
  history: { kind: "int", min: 0, max: 50 },
  expirationDays: { kind: "int", min: 0, max: 730 },
  blockSimplePins: { kind: "bool" },
  blockRepeatedGroups: { kind: "bool" },
  blockCommonPins: { kind: "bool" },
  forceChangeAfterAdminReset: { kind: "bool" },
};
const NESTED: Record<"temporaryPin" | "lockout" | "qr", Record<string, FieldSpec>> = {
  temporaryPin: { length: { kind: "int", min: 6, max: 20 }, expiryHours: { kind: "int", min: 1, max: 720 } },
  lockout: {
    threshold: { kind: "int", min: 1, max: 100 },
    mode: { kind: "enum", values: ["temporary", "permanent"] },
    initialLockSeconds: { kind: "int", min: 1, max: 86_400 },
    maxLockSeconds: { kind: "int", min: 1, max: 2_592_000 },
    decaySeconds: { kind: "int", min: 0, max: 2_592_000 },
  },
  qr: {
    pinLength: { kind: "int", min: 8, max: 20 },
    standardQRCodeLifetimeInDays: { kind: "int", min: 1, max: 395 },
  },
};

const checkField = (field: string, spec: FieldSpec, value: unknown): string | null => {
  switch (spec.kind) {
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= spec.min && value <= spec.max
        ? null
        : `must be a whole number from ${spec.min} to ${spec.max}`;
    case "bool":
      return typeof value === "boolean" ? null : "must be true or false";
    case "rule":
      return typeof value === "string" && (CHAR_RULES as readonly string[]).includes(value)
        ? null
        : `must be one of ${CHAR_RULES.join(", ")}`;
    case "enum":
      return typeof value === "string" && spec.values.includes(value)
        ? null
        : `${field} must be one of ${spec.values.join(", ")}`;
  }
};

const mergeSection = (
  section: string,
  specs: Record<string, FieldSpec>,
  base: Record<string, unknown>,
  input: unknown,
  problems: PolicyProblem[],
): Record<string, unknown> => {
  const merged: Record<string, unknown> = { ...base };
  if (input === undefined) return merged;
  if (!isRecord(input)) {
    problems.push({ field: section || "policy", message: "must be an object" });
    return merged;
  }
  for (const [key, value] of Object.entries(input)) {
    const field = section ? `${section}.${key}` : key;
    const spec = specs[key];
    if (!spec) {
      if (!section && key in NESTED) continue;
      problems.push({ field, message: "is not a PIN policy setting" });
      continue;
    }
    const problem = checkField(field, spec, value);
    if (problem) problems.push({ field, message: problem });
    else merged[key] = value;
  }
  return merged;
};

/**
 * Validates a (partial) policy and merges it over `base` (the defaults unless given). Unknown settings
 * and out-of-range values are rejected with every problem listed, never silently dropped.
 */
export const parsePinPolicy = (input: unknown, base: PinPolicy = defaultPinPolicy): PinPolicy => {
  const problems: PolicyProblem[] = [];
  const top = mergeSection("", TOP, { ...base }, input, problems);
  const raw = isRecord(input) ? input : {};
  const temporaryPin = mergeSection(
    "temporaryPin",
    NESTED.temporaryPin,
    { ...base.temporaryPin },
    raw.temporaryPin,
    problems,
  );
  const lockout = mergeSection("lockout", NESTED.lockout, { ...base.lockout }, raw.lockout, problems);
  const qr = mergeSection("qr", NESTED.qr, { ...base.qr }, raw.qr, problems);
  const policy = { ...top, temporaryPin, lockout, qr } as unknown as PinPolicy;

  if (problems.length === 0) {
    if (policy.maxLength < policy.minLength) {
      problems.push({ field: "maxLength", message: `must be at least minLength (${policy.minLength})` });
    }
    const rules = [policy.digits, policy.lowercase, policy.uppercase, policy.special];
    if (rules.every((r) => r === "disallowed")) {
      problems.push({ field: "digits", message: "at least one character class must be allowed" });
    }
    if (rules.filter((r) => r === "required").length > policy.maxLength) {
      problems.push({ field: "maxLength", message: "is too short for the required character classes" });
    }
    if (policy.lockout.maxLockSeconds < policy.lockout.initialLockSeconds) {
      problems.push({
        field: "lockout.maxLockSeconds",
        message: `must be at least lockout.initialLockSeconds (${policy.lockout.initialLockSeconds})`,
      });
    }
  }
  if (problems.length > 0) {
    throw new AppError(
      "invalidPolicy",
      { problems },
      `The PIN policy is not valid: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}.`,
    );
  }
  return Object.freeze({
    ...policy,
    temporaryPin: Object.freeze(policy.temporaryPin),
    lockout: Object.freeze(policy.lockout),
    qr: Object.freeze(policy.qr),
  });
};

// ---------------------------------------------------------------------------------------------------
// Checking a PIN
// ---------------------------------------------------------------------------------------------------

const PRINTABLE = /^[\x21-\x7e]$/;
const isDigit = (c: string) => c >= "0" && c <= "9";
const isLower = (c: string) => c >= "a" && c <= "z";
const isUpper = (c: string) => c >= "A" && c <= "Z";
const isSpecial = (c: string) => PRINTABLE.test(c) && !isDigit(c) && !isLower(c) && !isUpper(c);

/**
 * The most common four- and six-digit PINs (from published analyses of leaked PIN sets), plus a few
 * longer favourites. Years 1900–2030 are rejected separately.
 */
const COMMON_PINS: ReadonlySet<string> = new Set([
  "1234",
  "1111",
  "0000",
  "1212",
  "7777",
  "1004",
  "2000",
  "4444",
  "2222",
  "6969",
  "9999",
  "3333",
  "5555",
  "6666",
  "1122",
  "1313",
  "8888",
  "4321",
  "2001",
  "1010",
  "2580",
  "0852",
  "1230",
  "1100",
  "0101",
  "1221",
  "2468",
  "1357",
  "0007",
  "1369",
  "1066",
  "2112",
  "1024",
  "0911",
  "0420",
  "1000",
  "5683",
  "0690",
  "7410",
  "123456",
  "654321",
  "111111",
  "000000",
  "123123",
  "666666",
  "121212",
  "112233",
  "789456",
  "159753",
  "777777",
  "555555",
  "987654",
  "101010",
  "222222",
  "999999",
  "888888",
  "131313",
  "123321",
  "147258",
  "456789",
  "696969",
  "159357",
  "147852",
  "102030",
  "123654",
  "753951",
  "258456",
  "741852",
  "963852",
  "12345678",
  "11111111",
  "87654321",
  "00000000",
  "12341234",
  "88888888",
  "11223344",
  "98765432",
  "1234567890",
  "0987654321",
  "0123456789",
  "9876543210",
  "123456789",
  "987654321",
]);

const stepOf = (a: string, b: string) => (b.charCodeAt(0) - a.charCodeAt(0) + 10) % 10;

/** All digits the same (1111) or a constant step, wrapping at 9 → 0 (1234, 9630, 8901, 2468). */
export const isSimpleNumericPin = (pin: string): boolean => {
  if (pin.length < 2 || ![...pin].every(isDigit)) return false;
  const step = stepOf(pin[0] as string, pin[1] as string);
  for (let i = 2; i < pin.length; i++) {
    if (stepOf(pin[i - 1] as string, pin[i] as string) !== step) return false;
  }
  return true;
};

/** The PIN is a group of 2 or 3 characters repeated at least twice (121212, 123123, abab). */
export const hasRepeatedGroup = (pin: string): boolean => {
  // By characters, not UTF-16 units: one emoji is one character.
  const chars = [...pin];
  for (const size of [2, 3]) {
    if (chars.length < size * 2 || chars.length % size !== 0) continue;
    const group = chars.slice(0, size);
    if (group.every((c) => c === group[0])) continue; // one repeated char is the "simple" rule's job
    if (chars.every((c, i) => c === group[i % size])) return true;
  }
  return false;
};

const isCommonPin = (pin: string): boolean => {
  if (COMMON_PINS.has(pin)) return true;
  if (/^\d{4}$/.test(pin)) {
    const year = Number(pin);
    if (year >= 1900 && year <= 2030) return true;
  }
  return false;
};

const violation = (
  code: ErrorCode,
  message: string,
  mitigation: string,
  params: Record<string, string | number> = {},
): PinViolation => ({ code, message, mitigation, params });

const classRules: ReadonlyArray<{
  key: "digits" | "lowercase" | "uppercase" | "special";
  test: (c: string) => boolean;
  needs: [ErrorCode, string, string];
  banned: [ErrorCode, string, string];
}> = [
  {
    key: "digits",
    test: isDigit,
    needs: ["pinNeedsDigit", "Add at least one digit (0-9).", "Add a digit."],
    banned: ["pinDigitsNotAllowed", "Digits are not allowed in this PIN.", "Remove the digits."],
  },
  {
    key: "lowercase",
    test: isLower,
    needs: ["pinNeedsLowercase", "Add at least one lowercase letter (a-z).", "Add a lowercase letter."],
    banned: [
      "pinLowercaseNotAllowed",
      "Lowercase letters are not allowed in this PIN.",
      "Remove the lowercase letters.",
    ],
  },
  {
    key: "uppercase",
    test: isUpper,
    needs: ["pinNeedsUppercase", "Add at least one uppercase letter (A-Z).", "Add an uppercase letter."],
    banned: [
      "pinUppercaseNotAllowed",
      "Uppercase letters are not allowed in this PIN.",
      "Remove the uppercase letters.",
    ],
  },
  {
    key: "special",
    test: isSpecial,
    needs: ["pinNeedsSpecial", "Add at least one special character (such as ! # $ % @).", "Add a symbol."],
    banned: [
      "pinSpecialNotAllowed",
      "Special characters are not allowed in this PIN.",
      "Remove the symbols.",
    ],
  },
];

/**
 * What the policy rules need to know of a PIN, and nothing more. Every rule is evaluated on this
 * profile, so a PIN's compliance with a future policy can be decided from its stored (keyed) profile
 * without ever reading the PIN back.
 */
export interface PinProfile {
  readonly length: number;
  readonly digits: boolean;
  readonly lowercase: boolean;
  readonly uppercase: boolean;
  readonly special: boolean;
  readonly invalidCharacter: boolean;
  /** A numeric PIN that is one digit repeated (1111) or a constant step (1234, 9630); null otherwise. */
  readonly simple: "repeat" | "sequence" | null;
  readonly repeatedGroup: boolean;
  readonly common: boolean;
  /** Contains the full run 0123456789 or 9876543210 (refused by the QR code + PIN method). */
  readonly fullRun: boolean;
}

export const pinProfile = (pin: string): PinProfile => {
  const chars = [...pin];
  const numeric = chars.length > 0 && chars.every(isDigit);
  return {
    length: chars.length,
    digits: chars.some(isDigit),
    lowercase: chars.some(isLower),
    uppercase: chars.some(isUpper),
    special: chars.some(isSpecial),
    invalidCharacter: chars.some((c) => !PRINTABLE.test(c)),
    simple:
      numeric && chars.length >= 2 && isSimpleNumericPin(pin)
        ? new Set(chars).size === 1
          ? "repeat"
          : "sequence"
        : null,
    repeatedGroup: hasRepeatedGroup(pin),
    common: isCommonPin(pin.toLowerCase()),
    fullRun: pin.includes("0123456789") || pin.includes("9876543210"),
  };
};

/** A stable text form of a profile (what a keyed tag is computed over). */
export const encodeProfile = (p: PinProfile): string =>
  [
    "p1",
    p.length,
    [p.digits, p.lowercase, p.uppercase, p.special, p.invalidCharacter, p.repeatedGroup, p.common, p.fullRun]
      .map((b) => (b ? "1" : "0"))
      .join(""),
    p.simple ?? "-",
  ].join(":");

/**
 * Every profile a stored PIN can have (valid characters, at most 127 of them): about eleven thousand,
 * few enough to enumerate when mapping keyed tags back to profiles.
 */
export function* allPinProfiles(): Generator<PinProfile> {
  const flags = [false, true];
  for (let length = 1; length <= 127; length++) {
    for (let classes = 1; classes < 16; classes++) {
      const digits = (classes & 1) !== 0;
      const onlyDigits = classes === 1;
      for (const simple of onlyDigits ? ([null, "repeat", "sequence"] as const) : [null]) {
        for (const repeatedGroup of flags)
          for (const common of flags)
            for (const fullRun of onlyDigits && length >= 10 ? flags : [false]) {
              yield {
                length,
                digits,
                lowercase: (classes & 2) !== 0,
                uppercase: (classes & 4) !== 0,
                special: (classes & 8) !== 0,
                invalidCharacter: false,
                simple,
                repeatedGroup,
                common,
                fullRun,
              };
            }
      }
    }
  }
}

/** Every reason a PIN with this profile breaks `policy` (history is checked by the service). */
export const checkProfile = (profile: PinProfile, policy: PinPolicy): PinViolation[] => {
  const out: PinViolation[] = [];
  const { length } = profile;
  if (profile.invalidCharacter) {
    out.push(
      violation(
        "pinHasInvalidCharacter",
        "The PIN contains a character that cannot be used, such as a space, an accented letter or an emoji.",
        "Use only digits, unaccented letters and keyboard symbols.",
      ),
    );
  }
  if (length < policy.minLength) {
    out.push(
      violation(
        "pinTooShort",
        `Use at least ${policy.minLength} characters (this PIN has ${length}).`,
        `Make the PIN at least ${policy.minLength} characters long.`,
        { minLength: policy.minLength, length },
      ),
    );
  }
  if (length > policy.maxLength) {
    out.push(
      violation(
        "pinTooLong",
        `Use at most ${policy.maxLength} characters (this PIN has ${length}).`,
        `Shorten the PIN to ${policy.maxLength} characters or fewer.`,
        { maxLength: policy.maxLength, length },
      ),
    );
  }
  for (const rule of classRules) {
    const setting = policy[rule.key];
    const present = profile[rule.key];
    if (setting === "required" && !present) out.push(violation(...rule.needs));
    if (setting === "disallowed" && present) out.push(violation(...rule.banned));
  }
  if (policy.blockSimplePins && profile.simple === "repeat") {
    out.push(
      violation("pinRepeatsDigit", "The PIN is one digit repeated (like 1111).", "Mix different digits."),
    );
  }
  if (policy.blockSimplePins && profile.simple === "sequence") {
    out.push(
      violation(
        "pinHasSequence",
        "The PIN is a sequence with a constant step (like 1234, 9876 or 2468).",
        "Choose digits that do not follow a pattern.",
      ),
    );
  }
  if (policy.blockRepeatedGroups && profile.repeatedGroup) {
    out.push(
      violation(
        "pinHasRepeatedGroup",
        "The PIN repeats a short group (like 121212 or 123123).",
        "Choose a PIN without a repeating group.",
      ),
    );
  }
  const alreadyPattern = out.some((v) =>
    ["pinRepeatsDigit", "pinHasSequence", "pinHasRepeatedGroup"].includes(v.code),
  );
  if (policy.blockCommonPins && !alreadyPattern && profile.common) {
    out.push(
      violation(
        "pinTooCommon",
        "This PIN is one of the most commonly used PINs.",
        "Choose a less predictable PIN.",
      ),
    );
  }
  return out;
};

/** Every reason `pin` breaks `policy` (history is checked by the service, which holds the hashes). */
export const checkPin = (pin: string, policy: PinPolicy): PinViolation[] =>
  checkProfile(pinProfile(pin), policy);

/**
 * The QR code + PIN method's profile: digits only, at least the QR policy's length (8–20, and never
 * below the PIN policy minimum), no full ascending/descending run, plus the pattern filters.
 */
export const checkQrProfile = (profile: PinProfile, policy: PinPolicy): PinViolation[] => {
  // Never above the method's 20-digit maximum, whatever the general PIN policy asks for.
  const minLength = qrPinMinLength(policy);
  const { length } = profile;
  const out: PinViolation[] = [];
  const digitsOnly =
    length > 0 &&
    profile.digits &&
    !profile.lowercase &&
    !profile.uppercase &&
    !profile.special &&
    !profile.invalidCharacter;
  if (!digitsOnly) {
    out.push(
      violation("pinNotDigitsOnly", "PIN needs to be digit only.", "Use only the digits 0-9.", { minLength }),
    );
  }
  if (length < minLength) {
    out.push(
      violation(
        "pinTooShort",
        `PIN needs to be digit only and at least ${minLength} characters long.`,
        `Use at least ${minLength} digits.`,
        { minLength, length },
      ),
    );
  }
  if (length > 20) {
    out.push(
      violation("pinTooLong", "PIN can be at most 20 digits long.", "Use 20 digits or fewer.", {
        maxLength: 20,
        length,
      }),
    );
  }
  if (out.length > 0) return out;
  if (profile.fullRun) {
    out.push(
      violation(
        "pinHasSequence",
        "The PIN contains the run 0123456789 or 9876543210.",
        "Choose digits that do not follow a pattern.",
      ),
    );
  }
  const patterns = checkProfile(profile, {
    ...policy,
    minLength: 1,
    maxLength: 127,
    digits: "required",
    lowercase: "disallowed",
    uppercase: "disallowed",
    special: "disallowed",
  }).filter((v) => !out.some((o) => o.code === v.code));
  return [...out, ...patterns];
};

export const checkQrPin = (pin: string, policy: PinPolicy): PinViolation[] =>
  checkQrProfile(pinProfile(pin), policy);

/** A badge PIN's least length: the QR policy's, or the PIN policy's minimum if longer, at most 20. */
export const qrPinMinLength = (policy: PinPolicy): number =>
  Math.min(Math.max(policy.qr.pinLength, policy.minLength), 20);

/** The QR method's profile as a plain policy (digits only, QR length), for generating its temporary PINs. */
export const qrProfilePolicy = (policy: PinPolicy): PinPolicy => {
  const minLength = qrPinMinLength(policy);
  return {
    ...policy,
    minLength,
    maxLength: 20,
    digits: "required",
    lowercase: "disallowed",
    uppercase: "disallowed",
    special: "disallowed",
    temporaryPin: { ...policy.temporaryPin, length: minLength },
  };
};

// ---------------------------------------------------------------------------------------------------
// Generation and lockout arithmetic
// ---------------------------------------------------------------------------------------------------

const ALPHABETS = {
  digits: "0123456789",
  // Letters and symbols that are hard to confuse when read out or copied by hand.
  lowercase: "abcdefghjkmnpqrstuvwxyz",
  uppercase: "ABCDEFGHJKLMNPQRSTUVWXYZ",
  special: "!#$%&*+-=?@",
} as const;

/**
 * A temporary PIN of `length` characters (clamped to the policy's bounds) drawn with `randomInt`, which
 * must be a CSPRNG returning an unbiased integer in [0, max) (node:crypto's randomInt is). Uses only
 * the allowed classes, includes every required one, and never returns a PIN the policy's pattern
 * filters would reject.
 */
export const generateTemporaryPin = (
  length: number,
  randomInt: (max: number) => number,
  policy: PinPolicy,
): string => {
  const size = Math.min(Math.max(length, policy.minLength), policy.maxLength);
  const keys = (["digits", "lowercase", "uppercase", "special"] as const).filter(
    (k) => policy[k] !== "disallowed",
  );
  const alphabet = keys.map((k) => ALPHABETS[k]).join("");
  const required = keys.filter((k) => policy[k] === "required");
  for (let attempt = 0; attempt < 1000; attempt++) {
    const chars = Array.from({ length: size }, () => alphabet[randomInt(alphabet.length)] as string);
    // Place one character of each required class at distinct random positions.
    const positions: number[] = [];
    for (const key of required) {
      let pos = randomInt(size);
      while (positions.includes(pos)) pos = randomInt(size);
      positions.push(pos);
      const set = ALPHABETS[key];
      chars[pos] = set[randomInt(set.length)] as string;
    }
    const pin = chars.join("");
    if (checkPin(pin, policy).length === 0) return pin;
  }
  throw new Error("Could not generate a temporary PIN that meets the policy");
};

/**
 * Seconds the `lockNumber`-th consecutive lock lasts (1-based): the initial duration doubling up to the
 * cap in temporary mode; null (until an admin unblocks) in permanent mode.
 */
export const lockDurationSeconds = (lockout: LockoutPolicy, lockNumber: number): number | null => {
  if (lockout.mode === "permanent") return null;
  const n = Math.max(1, Math.floor(lockNumber));
  const doubled = lockout.initialLockSeconds * 2 ** Math.min(n - 1, 40);
  return Math.min(doubled, lockout.maxLockSeconds);
};

const RULE_WORDS: Record<CharRule, string> = {
  allowed: "allowed",
  required: "required",
  disallowed: "not allowed",
};

const duration = (seconds: number): string => {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? "" : "s"}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? "" : "s"}`;
  return `${seconds} seconds`;
};

/** The policy in plain sentences, for people: CLI output, portal summaries and emails. */
export const describePinPolicy = (policy: PinPolicy): string[] => {
  const lines = [
    `PIN length: ${policy.minLength} to ${policy.maxLength} characters.`,
    `Digits ${RULE_WORDS[policy.digits]}; lowercase letters ${RULE_WORDS[policy.lowercase]}; uppercase letters ${RULE_WORDS[policy.uppercase]}; special characters ${RULE_WORDS[policy.special]}.`,
    policy.history > 0 ? `The last ${policy.history} PINs cannot be reused.` : "Previous PINs may be reused.",
    policy.expirationDays > 0 ? `PINs expire after ${policy.expirationDays} days.` : "PINs do not expire.",
  ];
  const filters = [
    policy.blockSimplePins && "repeated digits and sequences (1111, 1234, 9630)",
    policy.blockRepeatedGroups && "repeated groups (121212, 123123)",
    policy.blockCommonPins && "the most common PINs and years",
  ].filter((x): x is string => typeof x === "string");
  if (filters.length > 0) lines.push(`Not allowed: ${filters.join("; ")}.`);
  const l = policy.lockout;
  lines.push(
    l.mode === "permanent"
      ? `After ${l.threshold} wrong PINs in a row the PIN locks until an administrator unblocks it.`
      : `After ${l.threshold} wrong PINs in a row the PIN locks for ${duration(l.initialLockSeconds)}, doubling with each further lock up to ${duration(l.maxLockSeconds)}.`,
  );
  if (l.decaySeconds > 0)
    lines.push(`The count of wrong PINs starts afresh after ${duration(l.decaySeconds)} without one.`);
  lines.push(
    `Temporary PINs have ${policy.temporaryPin.length} characters and must be replaced within ${policy.temporaryPin.expiryHours} hours.`,
    policy.forceChangeAfterAdminReset
      ? "After an administrator sets a PIN, the user must change it at next sign-in."
      : "After an administrator sets a PIN, the user may keep it.",
    `QR code sign-in PINs: digits only, at least ${qrPinMinLength(policy)} digits; standard QR codes last ${policy.qr.standardQRCodeLifetimeInDays} days by default.`,
  );
  return lines;
};
