import { type FormEvent, useRef, useState } from "react";
import { checkPin, checkQrPin } from "../../../../src/domain/pin-policy.ts";
import { type ApiError, api, toApiError } from "../../api.ts";
import { usePinPolicy } from "../../lib/policy.ts";
import { Field } from "../Field.tsx";
import { ErrorNotice } from "../Notices.tsx";
import { digitsOnly } from "../PinFields.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

export const PinStep = ({ view, onView }: StepProps) => {
  const info = usePinPolicy();
  const [pin, setPin] = useState("");
  const [show, setShow] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!pin) {
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const next = await api.signIn.pin(pin);
      if (next.next === "changePin" && next.reason === "policyChange" && info) {
        const check = next.pinProfile === "qr" ? checkQrPin : checkPin;
        next.currentPinProblems = check(pin, info.policy).map((v) => v.message);
      }
      onView(next);
    } catch (err) {
      setError(toApiError(err));
      setPin("");
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <StepCard title="Enter your PIN" testId="step-pin">
      <form className="stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        <input
          type="text"
          name="username"
          autoComplete="username"
          value={view.userPrincipalName}
          readOnly
          hidden
        />
        <Field
          ref={input}
          label="PIN"
          name="pin"
          type={show ? "text" : "password"}
          autoComplete="current-password"
          inputMode={digitsOnly(info?.policy) ? "numeric" : "text"}
          autoCapitalize="off"
          autoCorrect="off"
          spellCheck={false}
          value={pin}
          onChange={(e) => setPin(e.target.value)}
          autoFocus
        />
        <label className="checkbox">
          <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> Show PIN
        </label>
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Checking…" : "Continue"}
          </button>
        </div>
      </form>
    </StepCard>
  );
};
