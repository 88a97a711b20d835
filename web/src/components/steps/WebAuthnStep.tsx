import { startAuthentication } from "@simplewebauthn/browser";
import { useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { ErrorNotice } from "../Notices.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

export const WebAuthnStep = ({ onView }: StepProps) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();

  const use = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const optionsJSON = await api.signIn.webauthnOptions();
      const response = await startAuthentication({ optionsJSON });
      onView(await api.signIn.webauthn(response));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <StepCard title="Use your security key or passkey" testId="step-webauthn" focusHeading>
      <div className="stack">
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        <p>
          Insert your security key (or have your phone or computer's passkey ready), then press the button.
          Touch the key when it blinks.
        </p>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={use} disabled={busy}>
            {busy ? "Waiting for your key…" : error ? "Try again" : "Use security key"}
          </button>
        </div>
      </div>
    </StepCard>
  );
};
