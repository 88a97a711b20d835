import { type FormEvent, useRef, useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { Field } from "../Field.tsx";
import { ErrorNotice } from "../Notices.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

/** A keyboard-wedge badge reader types the card number into the focused field and presses Enter. */
export const RfidStep = ({ onView }: StepProps) => {
  const [card, setCard] = useState("");
  const [busy, setBusy] = useState(false);
  const [focused, setFocused] = useState(true);
  const [error, setError] = useState<ApiError>();
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const cardNumber = card.trim();
    if (!cardNumber) return;
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.rfid(cardNumber));
    } catch (err) {
      setError(toApiError(err));
      setCard("");
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };

  return (
    <StepCard title="Scan your badge" testId="step-rfid">
      <form className="stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        <Field
          ref={input}
          label="Badge number"
          name="badge"
          type="password"
          autoComplete="off"
          hint="Hold your badge against the reader — it fills this in and continues by itself. No reader? Type the number printed on the badge and press Enter."
          value={card}
          readOnly={busy}
          onChange={(e) => setCard(e.target.value)}
          onFocus={() => setFocused(true)}
          onBlur={() => setFocused(false)}
          autoFocus
        />
        {!focused && (
          <p className="hint">
            <button type="button" className="link-button" onClick={() => input.current?.focus()}>
              Select the badge field
            </button>{" "}
            before you scan, so the reader types into it.
          </p>
        )}
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? "Checking…" : "Continue"}
          </button>
        </div>
      </form>
    </StepCard>
  );
};
