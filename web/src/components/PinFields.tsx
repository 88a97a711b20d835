/**
 * New PIN + confirmation, checked live against the organisation's PIN policy with the exact reason for
 * each rule that is not met. The server checks again (and checks history, which only it can).
 */
import { type FormEvent, type ReactNode, useEffect, useId, useMemo, useRef, useState } from "react";
import {
  checkPin,
  checkQrPin,
  type PinPolicy,
  type PinViolation,
  qrProfilePolicy,
} from "../../../src/domain/pin-policy.ts";
import type { ApiError } from "../api.ts";
import { usePinPolicy } from "../lib/policy.ts";
import { Field } from "./Field.tsx";
import { ErrorNotice } from "./Notices.tsx";

interface Rule {
  id: string;
  text: string;
  codes: string[];
}

const CLASS_WORDS = {
  digits: ["a digit (0-9)", "digits"],
  lowercase: ["a lowercase letter (a-z)", "lowercase letters"],
  uppercase: ["an uppercase letter (A-Z)", "uppercase letters"],
  special: ["a symbol (such as ! # $ %)", "symbols"],
} as const;
const CLASS_CODES = {
  digits: ["pinNeedsDigit", "pinDigitsNotAllowed"],
  lowercase: ["pinNeedsLowercase", "pinLowercaseNotAllowed"],
  uppercase: ["pinNeedsUppercase", "pinUppercaseNotAllowed"],
  special: ["pinNeedsSpecial", "pinSpecialNotAllowed"],
} as const;
const PATTERN_CODES = ["pinRepeatsDigit", "pinHasSequence", "pinHasRepeatedGroup", "pinTooCommon"];

export const digitsOnly = (policy: PinPolicy | undefined): boolean =>
  policy !== undefined &&
  policy.lowercase === "disallowed" &&
  policy.uppercase === "disallowed" &&
  policy.special === "disallowed";

/** The policy as a short checklist; each rule lists the violation codes that break it. */
const rulesOf = (policy: PinPolicy): Rule[] => {
  const rules: Rule[] = [
    {
      id: "length",
      text:
        policy.maxLength >= 127
          ? `At least ${policy.minLength} characters`
          : `${policy.minLength} to ${policy.maxLength} characters`,
      codes: ["pinTooShort", "pinTooLong"],
    },
  ];
  if (digitsOnly(policy)) {
    rules.push({
      id: "classes",
      text: "Digits only (0-9)",
      codes: [
        "pinHasInvalidCharacter",
        "pinNotDigitsOnly",
        ...CLASS_CODES.digits,
        ...CLASS_CODES.lowercase,
        ...CLASS_CODES.uppercase,
        ...CLASS_CODES.special,
      ],
    });
  } else {
    rules.push({
      id: "characters",
      text: "Letters, digits and keyboard symbols only",
      codes: ["pinHasInvalidCharacter"],
    });
    for (const key of ["digits", "lowercase", "uppercase", "special"] as const) {
      const setting = policy[key];
      if (setting === "allowed") continue;
      rules.push({
        id: key,
        text: setting === "required" ? `Contains ${CLASS_WORDS[key][0]}` : `No ${CLASS_WORDS[key][1]}`,
        codes: [...CLASS_CODES[key]],
      });
    }
  }
  if (policy.blockSimplePins || policy.blockRepeatedGroups || policy.blockCommonPins) {
    rules.push({
      id: "patterns",
      text: "Not easy to guess (like 1111, 1234, 121212 or a common PIN)",
      codes: PATTERN_CODES,
    });
  }
  return rules;
};

interface PinFieldsProps {
  onSubmit(newPin: string, confirmPin: string): void | Promise<void>;
  submitLabel?: string;
  busy?: boolean;
  /** The server's answer to the last attempt (history, QR profile, mismatch…). */
  error?: ApiError | undefined;
  /** Shown inside the error, e.g. a "Start again" button when the flow expired. */
  errorAction?: ReactNode;
  newLabel?: string;
  confirmLabel?: string;
  /** Lets password managers file the new PIN under the right account. */
  username?: string | undefined;
  /** Emergency Access may allow the previous PIN (policy); the server has the last word either way. */
  showHistoryRule?: boolean;
  /** "qr": the QR code + PIN method's rules (digits only, the badge PIN length) instead of the PIN policy's. */
  profile?: "standard" | "qr";
  /** Heading of the checklist ("Your new PIN needs:"; an administrator setting someone's PIN reads "The PIN needs:"). */
  checksTitle?: string;
  /** More fields shown under the PINs (an option of the action). */
  children?: ReactNode;
  /** More buttons beside the submit button (Cancel in a dialog). */
  actions?: ReactNode;
}

export const PinFields = ({
  onSubmit,
  submitLabel = "Change PIN",
  busy = false,
  error,
  errorAction,
  newLabel = "New PIN",
  confirmLabel = "Confirm new PIN",
  username,
  showHistoryRule = true,
  profile = "standard",
  checksTitle = "Your new PIN needs:",
  children,
  actions,
}: PinFieldsProps) => {
  const info = usePinPolicy();
  const basePolicy = info?.policy;
  const policy = basePolicy && profile === "qr" ? qrProfilePolicy(basePolicy) : basePolicy;
  const [pin, setPin] = useState("");
  const [confirm, setConfirm] = useState("");
  const [show, setShow] = useState(false);
  const [tried, setTried] = useState(false);
  const [spoken, setSpoken] = useState("");
  const pinRef = useRef<HTMLInputElement>(null);
  const confirmRef = useRef<HTMLInputElement>(null);
  const checksId = useId();

  const violations: PinViolation[] = useMemo(
    () => (!basePolicy ? [] : profile === "qr" ? checkQrPin(pin, basePolicy) : checkPin(pin, basePolicy)),
    [pin, basePolicy, profile],
  );
  const rules = useMemo(() => (policy ? rulesOf(policy) : []), [policy]);
  const mismatch = confirm.length > 0 && confirm !== pin && (confirm.length >= pin.length || tried);
  const missingConfirm = tried && confirm.length === 0;

  // A summary for screen readers once typing pauses, rather than a report on every keystroke.
  useEffect(() => {
    if (!pin || !policy) {
      setSpoken("");
      return;
    }
    const timer = window.setTimeout(() => {
      setSpoken(
        violations.length === 0
          ? "This PIN meets the rules."
          : `Not yet: ${violations.map((v) => v.message).join(" ")}`,
      );
    }, 700);
    return () => window.clearTimeout(timer);
  }, [pin, policy, violations]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (pin.length === 0 || violations.length > 0) {
      pinRef.current?.focus();
      return;
    }
    if (confirm !== pin) {
      confirmRef.current?.focus();
      return;
    }
    void onSubmit(pin, confirm);
  };

  const ruleState = (rule: Rule): { state: "todo" | "ok" | "bad"; reason?: string } => {
    if (!pin) return { state: "todo" };
    const broken = violations.find((v) => rule.codes.includes(v.code));
    return broken ? { state: "bad", reason: broken.message } : { state: "ok" };
  };
  const numeric = digitsOnly(policy);
  const historyNote =
    showHistoryRule && policy && policy.history > 0
      ? `Not one of your last ${policy.history} PINs (checked when you save)`
      : null;

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error}>{errorAction}</ErrorNotice>
      {username && (
        <input type="text" name="username" autoComplete="username" value={username} readOnly hidden />
      )}
      <Field
        ref={pinRef}
        label={newLabel}
        name="new-pin"
        type={show ? "text" : "password"}
        autoComplete="new-password"
        inputMode={numeric ? "numeric" : "text"}
        autoCapitalize="off"
        autoCorrect="off"
        spellCheck={false}
        value={pin}
        onChange={(e) => setPin(e.target.value)}
        describedBy={checksId}
        problem={tried && pin.length === 0 ? "Type your new PIN." : undefined}
        aria-invalid={tried && (pin.length === 0 || violations.length > 0) ? true : undefined}
        autoFocus
      />
      <div className="checks" id={checksId}>
        <p className="checks-title">{checksTitle}</p>
        {rules.length === 0 && <p className="hint">Loading your organisation's PIN rules…</p>}
        <ul className="checklist" data-testid="pin-checks">
          {rules.map((rule) => {
            const { state, reason } = ruleState(rule);
            return (
              <li key={rule.id} className={`check check-${state}`} data-state={state}>
                <span className="check-icon" aria-hidden="true">
                  {state === "ok" ? "✓" : state === "bad" ? "✗" : "•"}
                </span>
                <span>
                  {rule.text}
                  <span className="sr-only">
                    {state === "ok" ? " — met" : state === "bad" ? " — not met" : ""}
                  </span>
                  {reason && <span className="check-reason">{reason}</span>}
                </span>
              </li>
            );
          })}
          {historyNote && (
            <li className="check check-todo">
              <span className="check-icon" aria-hidden="true">
                •
              </span>
              <span>{historyNote}</span>
            </li>
          )}
        </ul>
      </div>
      <p className="sr-only" aria-live="polite">
        {spoken}
      </p>
      <Field
        ref={confirmRef}
        label={confirmLabel}
        name="confirm-pin"
        type={show ? "text" : "password"}
        autoComplete="new-password"
        inputMode={numeric ? "numeric" : "text"}
        autoCapitalize="off"
        autoCorrect="off"
        spellCheck={false}
        value={confirm}
        onChange={(e) => setConfirm(e.target.value)}
        problem={
          mismatch
            ? "The two PINs are different. Type the same new PIN in both fields."
            : missingConfirm
              ? "Type your new PIN again to confirm it."
              : undefined
        }
      />
      {confirm.length > 0 && confirm === pin && (
        <p className="match-ok" data-testid="pin-match">
          <span aria-hidden="true">✓ </span>Both PINs match.
        </p>
      )}
      <label className="checkbox">
        <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> Show PIN
      </label>
      {children}
      <div className="actions">
        {actions}
        <button type="submit" className="btn btn-primary" disabled={busy} aria-busy={busy || undefined}>
          {busy ? "Saving…" : submitLabel}
        </button>
      </div>
    </form>
  );
};
