/** Change My PIN (seed 001, Method 1): new PIN + confirm, checked live, and an explicit confirmation. */
import { useEffect, useRef, useState } from "react";
import { type ApiError, api, toApiError } from "../api.ts";
import { Link } from "../components/Link.tsx";
import { PinFields } from "../components/PinFields.tsx";
import { announce } from "../lib/announce.ts";
import { useSession } from "../lib/session.tsx";

export const ChangePinPage = () => {
  const { state } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [round, setRound] = useState(0);
  const doneHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (done) doneHeading.current?.focus();
  }, [done]);

  const submit = async (newPin: string, confirmPin: string) => {
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.me.changePin(newPin, confirmPin);
      setDone(result.message);
      announce("PIN changed.");
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <div className="page page-narrow">
        <div className="success-panel" data-testid="pin-changed">
          <span className="success-icon" aria-hidden="true">
            ✓
          </span>
          <h1 ref={doneHeading} tabIndex={-1}>
            PIN changed
          </h1>
          <p>{done.replace(/^PIN changed\.\s*/, "")}</p>
          <p className="hint">
            We have sent a notice to your email address or phone. If you did not change your PIN, contact your
            help desk.
          </p>
          <div className="actions">
            <Link to="/me" className="btn btn-primary">
              Back to my account
            </Link>
            <button
              type="button"
              className="btn"
              onClick={() => {
                setDone(undefined);
                setRound((r) => r + 1);
              }}
            >
              Change it again
            </button>
          </div>
        </div>
      </div>
    );
  }

  return (
    <div className="page page-narrow">
      <h1>Change My PIN</h1>
      <p className="lead">Choose a new PIN. It works straight away, everywhere you use your PIN.</p>
      <PinFields
        key={round}
        username={state.status === "signedIn" ? state.info.user.userPrincipalName : undefined}
        onSubmit={submit}
        busy={busy}
        error={error}
        submitLabel="Change PIN"
        profile={state.status === "signedIn" ? (state.info.user.pinProfile ?? "standard") : "standard"}
      />
    </div>
  );
};
