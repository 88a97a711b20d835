/** A single-use "set a new PIN" link sent by the help desk: /portal/reset#<token>. */
import { useEffect, useState } from "react";
import { type ApiError, api, type PinProfile, toApiError } from "../api.ts";
import { ErrorNotice } from "../components/Notices.tsx";
import { PinChangedPanel } from "../components/PinChangedPanel.tsx";
import { PinFields } from "../components/PinFields.tsx";
import { WaysOut } from "../components/WaysOut.tsx";
import { announce } from "../lib/announce.ts";

/** Takes the token out of the address bar at once, so it is not left in history or shared by accident. */
const takeToken = (): string | undefined => {
  const token = window.location.hash.slice(1);
  if (token) window.history.replaceState(window.history.state, "", window.location.pathname);
  return token || undefined;
};

export const ResetLinkPage = () => {
  const [token] = useState(takeToken);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [pinProfile, setPinProfile] = useState<PinProfile>("standard");

  // Before anything is typed: a link that no longer works says so, and a badge holder's PIN is checked
  // against the badge's rules.
  useEffect(() => {
    if (!token) return;
    api.recovery.rules(token).then(
      (rules) => setPinProfile(rules.pinProfile),
      (e: unknown) => setError(toApiError(e)),
    );
  }, [token]);

  const submit = async (newPin: string, confirmPin: string) => {
    if (!token) return;
    setBusy(true);
    setError(undefined);
    try {
      setDone((await api.recovery.setPin(token, newPin, confirmPin)).message);
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
        <PinChangedPanel message={done} />
      </div>
    );
  }
  const invalid = !token || error?.code === "recoveryLinkInvalid";
  return (
    <div className="page page-narrow">
      <h1>Set a new PIN</h1>
      {invalid ? (
        <>
          <ErrorNotice error={error} />
          {!error && (
            <div className="notice notice-warning" role="status">
              <p className="notice-title">This link is incomplete.</p>
              <p>Open the link from your message again, or use one of the options below.</p>
            </div>
          )}
          <WaysOut />
        </>
      ) : (
        <>
          <p className="lead">
            Your help desk sent you this link. Choose your new PIN; it works straight away.
          </p>
          <PinFields
            onSubmit={submit}
            busy={busy}
            error={error}
            submitLabel="Set new PIN"
            profile={pinProfile}
          />
          <WaysOut />
        </>
      )}
    </div>
  );
};
