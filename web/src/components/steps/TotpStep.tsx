import { type FormEvent, useRef, useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { Field } from "../Field.tsx";
import { ErrorNotice } from "../Notices.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

export const TotpStep = ({ onView }: StepProps) => {
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.totp(code.replace(/\s/g, "")));
    } catch (err) {
      setError(toApiError(err));
      setCode("");
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <StepCard title="Enter the code from your authenticator app" testId="step-totp">
      <form className="stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        <Field
          ref={input}
          label="6-digit code"
          name="totp-code"
          hint="Open your authenticator app and type the code it shows for PinDesk. A code works once."
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9]*"
          maxLength={7}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoFocus
        />
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={busy || code.trim().length < 6}>
            {busy ? "Checking…" : "Continue"}
          </button>
        </div>
      </form>
    </StepCard>
  );
};
