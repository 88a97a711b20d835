import { type FormEvent, useEffect, useRef, useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { Field } from "../Field.tsx";
import { ErrorNotice } from "../Notices.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

interface Sent {
  to: string;
  sentAt: string;
  resendAvailableAt: string;
}

/** A one-time code by email or text message, as a step of the authentication set. */
export const CodeStep = ({ view, onView }: StepProps) => {
  const channel = view.next === "sms" ? "sms" : "email";
  const [sent, setSent] = useState<Sent>();
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [now, setNow] = useState(() => Date.now());
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setSent(await api.signIn.sendCode());
      input.current?.focus();
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.code(code.replace(/\s/g, "")));
    } catch (err) {
      setError(toApiError(err));
      setCode("");
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const wait = sent ? Math.max(0, Math.ceil((Date.parse(sent.resendAvailableAt) - now) / 1000)) : 0;
  const label = channel === "sms" ? "text message" : "email";
  return (
    <StepCard title={`Enter the code we send by ${label}`} testId="step-code">
      <form className="stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        {sent ? (
          <p role="status">
            Sent to <strong>{sent.to}</strong> at{" "}
            {new Date(sent.sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.
          </p>
        ) : (
          <p>
            We will send a one-time code to the {label === "email" ? "email address" : "phone"} on your
            account.
          </p>
        )}
        {sent && (
          <Field
            ref={input}
            label="Code"
            name="signin-code"
            hint="The code works once, for 10 minutes."
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={9}
            value={code}
            onChange={(e) => setCode(e.target.value)}
          />
        )}
        <div className="actions">
          {sent && (
            <button type="submit" className="btn btn-primary" disabled={busy || code.trim().length < 6}>
              {busy ? "Checking…" : "Continue"}
            </button>
          )}
          <button
            type="button"
            className={sent ? "btn" : "btn btn-primary"}
            onClick={send}
            disabled={busy || wait > 0}
          >
            {sent
              ? wait > 0
                ? `Send a new code in 0:${String(wait).padStart(2, "0")}`
                : "Send a new code"
              : "Send the code"}
          </button>
        </div>
      </form>
    </StepCard>
  );
};
