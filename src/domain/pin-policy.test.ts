import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors/app-error.ts";
import {
  allPinProfiles,
  checkPin,
  checkProfile,
  checkQrPin,
  checkQrProfile,
  defaultPinPolicy,
  describePinPolicy,
  encodeProfile,
  generateTemporaryPin,
  hasRepeatedGroup,
  isSimpleNumericPin,
  lockDurationSeconds,
  type PinPolicy,
  parsePinPolicy,
  pinProfile,
} from "./pin-policy.ts";

const codes = (pin: string, policy: PinPolicy = defaultPinPolicy) => checkPin(pin, policy).map((v) => v.code);

describe("checkPin with the defaults", () => {
  it("accepts an unpatterned 6-digit PIN", () => {
    expect(codes("482915")).toEqual([]);
  });

  it.each([
    ["12345", "pinTooShort"],
    ["1111111", "pinRepeatsDigit"],
    ["123456", "pinHasSequence"],
    ["987654", "pinHasSequence"],
    ["963074", "pinHasSequence"], // step 7 (−3) wrapping: 9,6,3,0,7,4
    ["890123", "pinHasSequence"], // wraps 9 → 0
    ["121212", "pinHasRepeatedGroup"],
    ["123123", "pinHasRepeatedGroup"],
    ["147258", "pinTooCommon"],
    ["48291a", "pinLowercaseNotAllowed"],
    ["48291A", "pinUppercaseNotAllowed"],
    ["48291!", "pinSpecialNotAllowed"],
    ["482 915", "pinHasInvalidCharacter"],
    ["48291é", "pinHasInvalidCharacter"],
    ["4829🙂5", "pinHasInvalidCharacter"],
  ])("rejects %s with %s", (pin, code) => {
    expect(codes(pin)).toContain(code);
  });

  it("rejects a PIN over the maximum length", () => {
    const policy = parsePinPolicy({ maxLength: 8 });
    expect(codes("482915730", policy)).toEqual(["pinTooLong"]);
  });

  it("gives each violation a message, a mitigation and parameters", () => {
    const [v] = checkPin("48", defaultPinPolicy);
    expect(v).toMatchObject({ code: "pinTooShort", params: { minLength: 6, length: 2 } });
    expect(v?.message).toContain("6");
    expect(v?.mitigation).toBeTruthy();
  });

  it("rejects years as common PINs at 4 digits", () => {
    const policy = parsePinPolicy({ minLength: 4 });
    expect(codes("1987", policy)).toEqual(["pinTooCommon"]);
    expect(codes("2031", policy)).toEqual([]);
  });
});

describe("character classes", () => {
  const complex = parsePinPolicy({
    lowercase: "required",
    uppercase: "required",
    special: "required",
    digits: "allowed",
  });
  it("requires each required class", () => {
    expect(codes("abcdefgh", complex).sort()).toEqual(["pinNeedsSpecial", "pinNeedsUppercase"]);
    expect(codes("aB!xyz", complex)).toEqual([]);
  });
  it("reports a missing digit", () => {
    expect(codes("abcdef", parsePinPolicy({ lowercase: "allowed" }))).toEqual(["pinNeedsDigit"]);
  });
  it("disallows digits when told to", () => {
    expect(codes("abc1ef", parsePinPolicy({ digits: "disallowed", lowercase: "required" }))).toEqual([
      "pinDigitsNotAllowed",
    ]);
  });
  it("turns filters off", () => {
    const lax = parsePinPolicy({
      blockSimplePins: false,
      blockRepeatedGroups: false,
      blockCommonPins: false,
    });
    expect(codes("123456", lax)).toEqual([]);
    expect(codes("121212", lax)).toEqual([]);
  });
});

describe("pattern helpers", () => {
  it.each(["1111", "1234", "9630", "8901", "2468", "0987"])("%s is simple", (pin) => {
    expect(isSimpleNumericPin(pin)).toBe(true);
  });
  it.each(["1235", "4829", "12", "abcd"].slice(0, 2))("%s is not simple", (pin) => {
    expect(isSimpleNumericPin(pin)).toBe(false);
  });
  it("finds repeated 2- and 3-character groups only", () => {
    expect(hasRepeatedGroup("121212")).toBe(true);
    expect(hasRepeatedGroup("123123")).toBe(true);
    expect(hasRepeatedGroup("abab")).toBe(true);
    expect(hasRepeatedGroup("12341234")).toBe(false);
    expect(hasRepeatedGroup("1212123")).toBe(false);
  });
});

describe("QR code PIN profile", () => {
  const qr = (pin: string) => checkQrPin(pin, defaultPinPolicy).map((v) => v.code);
  it("accepts 8+ unpatterned digits", () => {
    expect(qr("48291573")).toEqual([]);
  });
  it("needs digits only and at least the QR length", () => {
    expect(qr("4829157")).toEqual(["pinTooShort"]);
    expect(qr("4829157a")).toEqual(["pinNotDigitsOnly"]);
    expect(checkQrPin("4829157", defaultPinPolicy)[0]?.message).toBe(
      "PIN needs to be digit only and at least 8 characters long.",
    );
  });
  it("rejects the full ascending and descending runs", () => {
    expect(qr("0123456789")).toContain("pinHasSequence");
    expect(qr("59876543210")).toContain("pinHasSequence");
  });
  it("uses the larger of the QR length and the PIN minimum", () => {
    expect(checkQrPin("48291573", parsePinPolicy({ minLength: 10 })).map((v) => v.code)).toEqual([
      "pinTooShort",
    ]);
    expect(checkQrPin("482915730", parsePinPolicy({ qr: { pinLength: 10 } })).map((v) => v.code)).toEqual([
      "pinTooShort",
    ]);
  });
});

describe("parsePinPolicy", () => {
  it("merges a partial change over the base", () => {
    const p = parsePinPolicy({ lockout: { threshold: 3 } }, parsePinPolicy({ minLength: 8 }));
    expect(p.minLength).toBe(8);
    expect(p.lockout).toEqual({ ...defaultPinPolicy.lockout, threshold: 3 });
  });

  it("lists every problem", () => {
    try {
      parsePinPolicy({
        minLength: 3,
        history: 51,
        expirationDays: 731,
        digits: "sometimes",
        x: 1,
        lockout: { mode: "x" },
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      const fields = ((e as AppError).details.problems as { field: string }[]).map((p) => p.field).sort();
      expect(fields).toEqual(["digits", "expirationDays", "history", "lockout.mode", "minLength", "x"]);
    }
  });

  it.each([
    [{ minLength: 10, maxLength: 8 }, "maxLength"],
    [{ digits: "disallowed" }, "digits"],
    [{ lockout: { initialLockSeconds: 600, maxLockSeconds: 60 } }, "lockout.maxLockSeconds"],
    [{ qr: { pinLength: 7 } }, "qr.pinLength"],
    [{ qr: { standardQRCodeLifetimeInDays: 396 } }, "qr.standardQRCodeLifetimeInDays"],
    [{ minLength: 6.5 }, "minLength"],
    ["nope", "policy"],
  ])("rejects %j (%s)", (input, field) => {
    expect(() => parsePinPolicy(input)).toThrow(AppError);
    try {
      parsePinPolicy(input);
    } catch (e) {
      expect(((e as AppError).details.problems as { field: string }[]).map((p) => p.field)).toContain(field);
    }
  });

  it("accepts the Windows Hello ranges at their edges", () => {
    expect(() =>
      parsePinPolicy({ minLength: 4, maxLength: 127, history: 50, expirationDays: 730 }),
    ).not.toThrow();
    expect(() => parsePinPolicy({ minLength: 127 })).not.toThrow();
  });
});

describe("generateTemporaryPin", () => {
  it("generates compliant PINs of the asked length", () => {
    for (let i = 0; i < 200; i++) {
      const pin = generateTemporaryPin(8, randomInt, defaultPinPolicy);
      expect(pin).toMatch(/^\d{8}$/);
      expect(checkPin(pin, defaultPinPolicy)).toEqual([]);
    }
  });
  it("honours required classes and the minimum length", () => {
    const policy = parsePinPolicy({ minLength: 10, uppercase: "required", special: "required" });
    for (let i = 0; i < 100; i++) {
      const pin = generateTemporaryPin(8, randomInt, policy);
      expect(pin).toHaveLength(10);
      expect(checkPin(pin, policy)).toEqual([]);
    }
  });
  it("is unbiased over digits (chi-square on 40 000 digits)", () => {
    const counts = new Array<number>(10).fill(0);
    const lax = parsePinPolicy({
      blockSimplePins: false,
      blockRepeatedGroups: false,
      blockCommonPins: false,
    });
    for (let i = 0; i < 5000; i++) {
      for (const c of generateTemporaryPin(8, randomInt, lax))
        counts[Number(c)] = (counts[Number(c)] ?? 0) + 1;
    }
    const expected = 4000;
    const chi = counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(27.88); // p = 0.001 at 9 degrees of freedom
  });
});

describe("lockDurationSeconds", () => {
  it("doubles from the initial duration up to the cap", () => {
    const l = defaultPinPolicy.lockout;
    expect([1, 2, 3, 6, 7, 50].map((n) => lockDurationSeconds(l, n))).toEqual([
      60, 120, 240, 1920, 3600, 3600,
    ]);
  });
  it("is null in permanent mode", () => {
    expect(lockDurationSeconds({ ...defaultPinPolicy.lockout, mode: "permanent" }, 1)).toBeNull();
  });
});

it("describes the policy in plain words", () => {
  const text = describePinPolicy(defaultPinPolicy).join("\n");
  expect(text).toContain("PIN length: 6 to 127 characters.");
  expect(text).toContain("After 10 wrong PINs in a row the PIN locks for 1 minute");
  // A badge PIN has at most 20 digits, however long the PIN policy's minimum.
  expect(describePinPolicy({ ...defaultPinPolicy, minLength: 24 }).join("\n")).toContain(
    "QR code sign-in PINs: digits only, at least 20 digits;",
  );
});

describe("PIN profiles", () => {
  const policies: PinPolicy[] = [
    defaultPinPolicy,
    { ...defaultPinPolicy, minLength: 8, maxLength: 10 },
    {
      ...defaultPinPolicy,
      digits: "allowed",
      lowercase: "required",
      uppercase: "allowed",
      special: "allowed",
    },
    {
      ...defaultPinPolicy,
      digits: "disallowed",
      lowercase: "allowed",
      uppercase: "required",
      special: "required",
    },
    { ...defaultPinPolicy, blockSimplePins: false, blockRepeatedGroups: false, blockCommonPins: false },
  ];
  const pins = [
    "482915",
    "1111",
    "1234",
    "9630",
    "121212",
    "123123",
    "123456",
    "1987",
    "password",
    "Abc!2024",
    "kx7q2m9w",
    "0123456789",
    "98765432100",
    "48291573",
    "ABAB",
    "a b",
    "пин123",
    "7".repeat(127),
  ];
  const profiles = new Set([...allPinProfiles()].map(encodeProfile));

  it("every rule decided on the profile agrees with the rule decided on the PIN", () => {
    for (const policy of policies) {
      for (const pin of pins) {
        expect(checkProfile(pinProfile(pin), policy)).toEqual(checkPin(pin, policy));
        expect(checkQrProfile(pinProfile(pin), policy)).toEqual(checkQrPin(pin, policy));
      }
    }
  });

  it("the enumeration holds the profile of every PIN a policy can accept", () => {
    for (const pin of pins.filter((p) => !/[^\x21-\x7e]/.test(p))) {
      expect(profiles.has(encodeProfile(pinProfile(pin))), pin).toBe(true);
    }
    expect(profiles.size).toBeLessThan(20_000);
  });
});

describe("regression: emoji PINs", () => {
  it("an emoji is one character: one emoji repeated is not a repeated group", () => {
    expect(hasRepeatedGroup("😀😀😀")).toBe(false);
    expect(hasRepeatedGroup("😀😃😀😃")).toBe(true);
    expect(checkPin("😀😀😀", defaultPinPolicy).map((v) => v.code)).not.toContain("pinHasRepeatedGroup");
  });
});
