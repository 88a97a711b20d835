import { describe, expect, it } from "vitest";
import { errorCatalogue } from "./catalogue.ts";
import {
  type Explanation,
  explainCode,
  formatCodeList,
  formatExplanation,
  knownCodeList,
} from "./explain.ts";
import { windowsHelloErrors, windowsHelloGenericSteps } from "./windows-hello.ts";

const expectKind = <K extends Explanation["kind"]>(
  e: Explanation,
  kind: K,
): Extract<Explanation, { kind: K }> => {
  expect(e.kind).toBe(kind);
  return e as Extract<Explanation, { kind: K }>;
};

describe("explainCode: Windows Hello codes", () => {
  it.each([
    ["0x801C03ED", "0x801C03ED"],
    ["801C03ED", "0x801C03ED"],
    ["801c03ed", "0x801C03ED"],
    ["0x801c03ed", "0x801C03ED"],
    ["  0x801C03ED \n", "0x801C03ED"],
    ["0X80072F0C", "0x80072F0C"],
    ["0x80072f0c", "0x80072F0C"],
    ["0x801c004D", "0x801C004D"],
    ["0x801C044D", "0x801C044D"],
    ["0xc00000bb", "0xC00000BB"],
    ["CAA30193", "0xCAA30193"],
    ["80090005", "0x80090005"],
  ])("accepts %j as %s", (input, hex) => {
    expect(explainCode(input).code).toBe(hex);
    expect(explainCode(input).kind).toBe("windowsHello");
  });

  it.each([
    ["-2146893819", "0x80090005"],
    ["2148073477", "0x80090005"],
    ["-2145647635", "0x801C03ED"],
    ["2149319661", "0x801C03ED"],
    ["-1073741637", "0xC00000BB"],
    ["3399680403", "0xCAA30193"],
    [" -2147024809 ", "0x80070057"],
  ])("accepts the decimal HRESULT %j as %s", (input, hex) => {
    const e = expectKind(explainCode(input), "windowsHello");
    expect(e.code).toBe(hex);
  });

  it("keeps 0x801C004D and 0x801C044D apart", () => {
    const noDefaultAccount = expectKind(explainCode("0x801c004D"), "windowsHello");
    const noDeviceId = expectKind(explainCode("0x801C044D"), "windowsHello");
    expect(noDefaultAccount.causes[0]).toMatch(/^DSREG_NO_DEFAULT_ACCOUNT/);
    expect(noDefaultAccount.mitigation).toBeNull();
    expect(noDeviceId.causes).toHaveLength(2);
    expect(noDeviceId.mitigation).not.toBeNull();
  });

  it("returns causes, mitigation, generic steps, support and source for a code with a mitigation", () => {
    const e = expectKind(explainCode("0x801C03ED"), "windowsHello");
    expect(e.causes).toHaveLength(5);
    expect(e.mitigation).toContain("Allow user(s) to join to Microsoft Entra ID");
    expect(e.genericSteps).toEqual([...windowsHelloGenericSteps]);
    expect(e.support).toBe("If the error occurs again after the generic steps, contact Microsoft Support.");
    expect(e.source).toBe("Windows Hello errors during PIN creation (Microsoft Learn)");
  });

  it("says to contact Microsoft Support for a code without mitigation", () => {
    const e = expectKind(explainCode("0X80072F0C"), "windowsHello");
    expect(e.causes).toEqual(["Unknown"]);
    expect(e.mitigation).toBeNull();
    expect(e.support).toBe("No mitigation is known: contact Microsoft Support.");
  });

  it("mentions tpm.msc for 0x80090029", () => {
    const e = expectKind(explainCode("80090029"), "windowsHello");
    expect(e.mitigation).toContain("tpm.msc");
  });

  it("returns copies: changing an explanation does not change the tables", () => {
    const e = expectKind(explainCode("0x801C03ED"), "windowsHello");
    e.causes.length = 0;
    e.genericSteps.push("x");
    expect(expectKind(explainCode("0x801C03ED"), "windowsHello").causes).toHaveLength(5);
    expect(windowsHelloGenericSteps).toHaveLength(4);
  });

  it("explains every code of the tables", () => {
    for (const entry of windowsHelloErrors) {
      const e = expectKind(explainCode(entry.hex.slice(2).toLowerCase()), "windowsHello");
      expect(e.code).toBe(entry.hex);
      expect(e.causes).toEqual([...entry.causes]);
      expect(e.mitigation).toBe(entry.mitigation);
    }
  });
});

describe("explainCode: PinDesk codes", () => {
  it.each(["pinTooShort", "PINTOOSHORT", "pintooshort", "PinTooShort", "  pinTooShort  "])(
    "finds %j case-insensitively",
    (input) => {
      const e = expectKind(explainCode(input), "pindesk");
      expect(e).toEqual({
        kind: "pindesk",
        code: "pinTooShort",
        status: 400,
        message: errorCatalogue.pinTooShort.message,
        mitigation: errorCatalogue.pinTooShort.mitigation,
      });
    },
  );

  it("finds every catalogue code", () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      const e = expectKind(explainCode(code.toUpperCase()), "pindesk");
      expect(e.code).toBe(code);
      expect(e.status).toBe(entry.status);
    }
  });

  it("does not look names up by prefix, kebab-case or inherited properties", () => {
    for (const input of [
      "pinTooSho",
      "pin-too-short",
      "pin_too_short",
      "toString",
      "constructor",
      "__proto__",
    ]) {
      expect(explainCode(input).kind).toBe("unknown");
    }
  });
});

describe("explainCode: unknown input", () => {
  it.each([
    "0x801C03E", // 7 hex digits
    "0x801C03ED0", // 9 hex digits
    "0x00000000",
    "0x80004005", // a real HRESULT the article does not list
    "12345",
    "-1",
    "4294967296", // beyond 32 bits
    "-2147483649",
    "0x801C03ED trailing",
    "0x-801C03ED",
    "1e9",
    "hello",
  ])("returns unknown for %j", (input) => {
    const e = expectKind(explainCode(input), "unknown");
    expect(e.code).toBe(input.trim());
    expect(e.message).toBe(`PinDesk does not know the code "${input.trim()}".`);
    expect(e.genericSteps).toEqual([...windowsHelloGenericSteps]);
    expect(e.pointer).toContain("pindesk explain --list");
    expect(e.pointer).toContain("Microsoft Support");
  });

  it("handles empty and blank input", () => {
    for (const input of ["", "   ", "\n\t"]) {
      const e = expectKind(explainCode(input), "unknown");
      expect(e.code).toBe("");
      expect(e.message).toBe("No code was given.");
    }
  });

  it("truncates huge input to 100 characters without throwing", () => {
    const e = expectKind(explainCode("A".repeat(10_000)), "unknown");
    expect(e.code).toBe("A".repeat(100));
    const padded = expectKind(
      explainCode(`${" ".repeat(5000)}0x801C03ED${" ".repeat(5000)}`),
      "windowsHello",
    );
    expect(padded.code).toBe("0x801C03ED");
  });

  it("handles emoji and other odd characters without splitting a character", () => {
    const e = expectKind(explainCode("🔐".repeat(200)), "unknown");
    expect(Array.from(e.code)).toHaveLength(100);
    expect(e.code).toBe("🔐".repeat(100));
    for (const input of ["🔐", "\u0000", "\uD800", "0x801C03ED\u0000", "٨٠٠٩٠٠٠٥", "０x801C03ED"]) {
      expect(() => explainCode(input)).not.toThrow();
      expect(explainCode(input).kind).toBe("unknown");
    }
  });

  it("does not throw for a non-string passed from untyped code", () => {
    expect(explainCode(undefined as unknown as string).kind).toBe("unknown");
    expect(explainCode(42 as unknown as string).kind).toBe("unknown");
  });
});

describe("knownCodeList", () => {
  it("lists PinDesk's codes and the 52 Windows Hello codes, each of which explain knows", () => {
    const known = knownCodeList();
    const pindesk = known.pindesk.map((e) => e.code);
    const windowsHello = known.windowsHello.map((e) => e.code);
    expect(pindesk).toEqual(Object.keys(errorCatalogue));
    expect(known.pindesk).toContainEqual({
      code: "pinTooShort",
      status: 400,
      message: "The PIN is shorter than the policy allows.",
    });
    expect(windowsHello).toHaveLength(52);
    expect(windowsHello).toContain("0x801C004D");
    expect(windowsHello).toContain("0x80072F0C");
    for (const code of [...pindesk, ...windowsHello]) {
      expect(explainCode(code).kind).not.toBe("unknown");
    }
    const text = formatCodeList(known);
    expect(text).toMatch(/^ {2}pinTooShort +400 {2}The PIN is shorter than the policy allows\.$/m);
    expect(text).toContain("0x80072F0C");
  });
});

describe("formatExplanation", () => {
  it("formats a PinDesk code", () => {
    const text = formatExplanation(explainCode("pintooshort"));
    expect(text.split("\n")[0]).toBe("pinTooShort (PinDesk error, HTTP 400)");
    expect(text).toContain(errorCatalogue.pinTooShort.message);
    expect(text).toContain(errorCatalogue.pinTooShort.mitigation);
  });

  it("formats a Windows Hello code with several causes, mitigation and numbered generic steps", () => {
    const text = formatExplanation(explainCode("801c03ed"));
    const lines = text.split("\n");
    expect(lines[0]).toBe("0x801C03ED (Windows Hello error during PIN creation)");
    expect(text).toContain("Possible causes:\n  - Multi-factor authentication is required");
    expect(text).toContain(
      "  Allow user(s) to join to Microsoft Entra ID under Microsoft Entra Device settings.",
    );
    expect(text).toContain("  1. Try to create the PIN again.");
    expect(text).toContain("  4. Unjoin the device from Microsoft Entra ID, rejoin");
    expect(text).toContain("If the error occurs again after the generic steps, contact Microsoft Support.");
    expect(text).toContain("Source: Windows Hello errors during PIN creation (Microsoft Learn)");
    // Order: causes, mitigation, generic steps, support.
    const at = (s: string) => text.indexOf(s);
    expect(at("Possible causes:")).toBeLessThan(at("Mitigation:"));
    expect(at("Mitigation:")).toBeLessThan(at("  1. "));
    expect(at("  4. ")).toBeLessThan(at("contact Microsoft Support"));
  });

  it("formats a Windows Hello code without mitigation", () => {
    const text = formatExplanation(explainCode("0xCAA30193"));
    expect(text).toContain("Cause:\n  HTTP 403 Request Forbidden");
    expect(text).toContain("Mitigation:\n  None known.");
    expect(text).toContain("No mitigation is known: contact Microsoft Support.");
  });

  it("formats an unknown code and an empty input", () => {
    const text = formatExplanation(explainCode("0x80004005"));
    expect(text.split("\n")[0]).toBe("Unknown code: 0x80004005");
    expect(text).toContain('PinDesk does not know the code "0x80004005".');
    expect(text).toContain("  1. Try to create the PIN again.");
    expect(text).toContain("pindesk explain --list");
    expect(formatExplanation(explainCode("")).split("\n")[0]).toBe("No code given");
  });
});
