import { useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { humanizeTimes } from "../../lib/time.ts";
import { PinFields } from "../PinFields.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

/** Why the PIN must change, in plain words, before the details the server gives. */
const REASONS: Record<string, string> = {
  temporaryPin: "You signed in with a temporary PIN. Choose your own PIN to continue.",
  adminReset: "Your help desk reset your PIN. Choose a new PIN to continue.",
  pinExpired: "Your PIN has expired. Choose a new PIN to continue.",
  policyChange:
    "Your organisation changed its PIN rules and your current PIN no longer meets them. Choose a new PIN that does — the rules are listed below.",
};

export const ChangePinStep = ({ view, onView }: StepProps) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const lead = (view.reason && REASONS[view.reason]) ?? "You need to choose a new PIN before you continue.";
  // The server's words add when and what changed (a policy change, an expiry's lifetime); for a reset or
  // a temporary PIN they would only repeat the lead.
  const detail = view.reason === "adminReset" || view.reason === "temporaryPin" ? undefined : view.message;

  const submit = async (newPin: string, confirmPin: string) => {
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.changePin(newPin, confirmPin));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <StepCard title="Choose a new PIN" testId="step-change-pin">
      <div className="notice notice-info" data-testid="change-reason">
        <p className="notice-title">{lead}</p>
        {/* The server's words say when and what changed ("…changed on 25 May…: PINs now need…"). */}
        {detail && <p className="notice-small">{humanizeTimes(detail)}</p>}
        {!detail && view.currentPinProblems && view.currentPinProblems.length > 0 && (
          <>
            <p>What your current PIN no longer meets:</p>
            <ul>
              {view.currentPinProblems.map((problem) => (
                <li key={problem}>{problem}</li>
              ))}
            </ul>
          </>
        )}
      </div>
      <PinFields
        username={view.userPrincipalName}
        onSubmit={submit}
        errorAction={<RestartIfNeeded error={error} />}
        busy={busy}
        error={error}
        submitLabel="Save new PIN and continue"
        profile={view.pinProfile ?? "standard"}
      />
    </StepCard>
  );
};
