import { type ErrorCode, errorCatalogue } from "./catalogue.ts";
import { type WindowsHelloError, windowsHelloErrors, windowsHelloGenericSteps } from "./windows-hello.ts";

export type Explanation =
  | { kind: "pindesk"; code: string; status: number; message: string; mitigation: string }
  | {
      kind: "windowsHello";
      /** Canonical hex: "0x" + 8 uppercase hex digits. */
      code: string;
      causes: string[];
      mitigation: string | null;
      genericSteps: string[];
      support: string;
      source: string;
    }
  | {
      kind: "unknown";
      /** What was typed, trimmed and cut to 100 characters. */
      code: string;
      message: string;
      genericSteps: string[];
      pointer: string;
    };

export const WINDOWS_HELLO_SOURCE = "Windows Hello errors during PIN creation (Microsoft Learn)";
const SUPPORT_AFTER_STEPS = "If the error occurs again after the generic steps, contact Microsoft Support.";
const SUPPORT_NO_MITIGATION = "No mitigation is known: contact Microsoft Support.";
const UNKNOWN_POINTER =
  "`pindesk explain --list` (or GET /api/v1/errors) lists every code PinDesk knows. For any other Windows code, contact Microsoft Support.";
const MAX_ECHO_CHARS = 100;

const pindeskByLowerName: ReadonlyMap<string, ErrorCode> = new Map(
  (Object.keys(errorCatalogue) as ErrorCode[]).map((code) => [code.toLowerCase(), code]),
);

const windowsHelloByHex: ReadonlyMap<string, WindowsHelloError> = new Map(
  windowsHelloErrors.map((entry) => [entry.hex, entry]),
);

const HEX_WITH_PREFIX = /^0x([0-9a-f]{8})$/i;
const HEX_BARE = /^[0-9a-f]{8}$/i;
const DECIMAL = /^[+-]?\d{1,12}$/;
const TWO_TO_32 = 2 ** 32;

const canonicalHex = (value: number): string => `0x${value.toString(16).toUpperCase().padStart(8, "0")}`;

/** Decimal HRESULT as event logs show it: signed 32-bit (-2146893819) or unsigned (2148073477). */
const decimalToHex = (text: string): string | undefined => {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value >= TWO_TO_32) return undefined;
  return canonicalHex(value < 0 ? value + TWO_TO_32 : value);
};

/**
 * The canonical hex forms the input may stand for, most likely first. "80090005" is both a bare hex code
 * and a decimal number; the hex reading comes first (decimal HRESULTs of real errors have 10 digits).
 */
const hexCandidates = (text: string): string[] => {
  const candidates: string[] = [];
  const prefixed = HEX_WITH_PREFIX.exec(text);
  if (prefixed?.[1] !== undefined) candidates.push(`0x${prefixed[1].toUpperCase()}`);
  if (HEX_BARE.test(text)) candidates.push(`0x${text.toUpperCase()}`);
  const fromDecimal = decimalToHex(text);
  if (fromDecimal !== undefined) candidates.push(fromDecimal);
  return candidates;
};

/** Cut to at most `max` code points, so an emoji is never split in half. */
const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text;
  return Array.from(text.slice(0, max * 2))
    .slice(0, max)
    .join("");
};

const explainWindowsHello = (entry: WindowsHelloError): Explanation => ({
  kind: "windowsHello",
  code: entry.hex,
  causes: [...entry.causes],
  mitigation: entry.mitigation,
  genericSteps: [...windowsHelloGenericSteps],
  support: entry.mitigation === null ? SUPPORT_NO_MITIGATION : SUPPORT_AFTER_STEPS,
  source: WINDOWS_HELLO_SOURCE,
});

const explainUnknown = (code: string): Extract<Explanation, { kind: "unknown" }> => ({
  kind: "unknown",
  code,
  message: code === "" ? "No code was given." : `PinDesk does not know the code "${code}".`,
  genericSteps: [...windowsHelloGenericSteps],
  pointer: UNKNOWN_POINTER,
});

/**
 * Explains an error code: one of PinDesk's own codes (any casing, e.g. "PINTOOSHORT") or a Windows Hello
 * PIN-creation code as a user might type it ("0x801C03ED", "0X80072F0C", "801c03ed", "-2146893819",
 * "2148073477"). Never throws; anything not recognised gives kind "unknown".
 */
export const explainCode = (input: string): Explanation => {
  try {
    const text = typeof input === "string" ? input.trim() : "";
    // No known code is anywhere near this long; skip the lookups for absurd input.
    if (text.length <= MAX_ECHO_CHARS) {
      const pindeskCode = pindeskByLowerName.get(text.toLowerCase());
      if (pindeskCode !== undefined) {
        const entry = errorCatalogue[pindeskCode];
        return {
          kind: "pindesk",
          code: pindeskCode,
          status: entry.status,
          message: entry.message,
          mitigation: entry.mitigation,
        };
      }
      for (const hex of hexCandidates(text)) {
        const entry = windowsHelloByHex.get(hex);
        if (entry !== undefined) return explainWindowsHello(entry);
      }
    }
    return explainUnknown(truncate(text, MAX_ECHO_CHARS));
  } catch {
    return { ...explainUnknown(""), message: "PinDesk could not read the code." };
  }
};

/**
 * Every code `explainCode` knows, with its one-line meaning (PinDesk's names in catalogue order, Windows
 * Hello codes in article order): what `pindesk explain --list` and `GET /api/v1/errors` answer.
 */
export const knownCodeList = () => ({
  pindesk: (Object.keys(errorCatalogue) as ErrorCode[]).map((code) => ({
    code,
    status: errorCatalogue[code].status,
    message: errorCatalogue[code].message,
  })),
  windowsHello: windowsHelloErrors.map((entry) => ({
    code: entry.hex,
    cause: entry.causes[0] ?? "",
    mitigationKnown: entry.mitigation !== null,
  })),
});

/** The code list as text, one code a line, PinDesk's own first. */
export const formatCodeList = (list: ReturnType<typeof knownCodeList>): string => {
  const width = Math.max(...list.pindesk.map((e) => e.code.length));
  return [
    `PinDesk's own codes (${list.pindesk.length}), with the HTTP status they answer:`,
    ...list.pindesk.map((e) => `  ${e.code.padEnd(width)}  ${e.status}  ${e.message}`),
    "",
    `Windows Hello PIN-creation codes (${list.windowsHello.length}):`,
    ...list.windowsHello.map(
      (e) => `  ${e.code}  ${e.cause}${e.mitigationKnown ? "" : " (no known mitigation)"}`,
    ),
    "",
    "Run `pindesk explain CODE` for a code's causes and what to do.",
  ].join("\n");
};

const indent = (text: string, prefix = "  "): string =>
  text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");

const numbered = (steps: readonly string[]): string[] => steps.map((step, i) => `  ${i + 1}. ${step}`);

/** Multi-line, human-readable text for the CLI. */
export const formatExplanation = (e: Explanation): string => {
  switch (e.kind) {
    case "pindesk":
      return [
        `${e.code} (PinDesk error, HTTP ${e.status})`,
        "What happened:",
        indent(e.message),
        "What to do:",
        indent(e.mitigation),
      ].join("\n");
    case "windowsHello": {
      const lines = [`${e.code} (Windows Hello error during PIN creation)`];
      if (e.causes.length === 1) {
        lines.push("Cause:", indent(e.causes[0] ?? ""));
      } else {
        lines.push("Possible causes:", ...e.causes.map((cause) => `  - ${cause}`));
      }
      lines.push("Mitigation:", indent(e.mitigation ?? "None known."));
      lines.push("Generic steps (many errors are fixed by one of these):", ...numbered(e.genericSteps));
      lines.push(e.support, `Source: ${e.source}`);
      return lines.join("\n");
    }
    case "unknown":
      return [
        e.code === "" ? "No code given" : `Unknown code: ${e.code}`,
        e.message,
        "If this is a Windows Hello error during PIN creation, try these steps:",
        ...numbered(e.genericSteps),
        e.pointer,
      ].join("\n");
  }
};
