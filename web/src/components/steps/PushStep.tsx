import { useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, api, toApiError } from "../../api.ts";
import { ErrorNotice } from "../Notices.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

const POLL_MS = 2000;

/** Sends an approval request to the user's other signed-in session and waits for the matching number. */
export const PushStep = ({ onView }: StepProps) => {
  const [number, setNumber] = useState<number>();
  const [status, setStatus] = useState<"starting" | "waiting" | "expired" | "stopped">("starting");
  const [error, setError] = useState<ApiError>();
  const attempt = useRef(0);

  const start = useCallback(async () => {
    const mine = ++attempt.current;
    setStatus("starting");
    setError(undefined);
    setNumber(undefined);
    try {
      const started = await api.signIn.pushStart();
      if (mine !== attempt.current) return;
      setNumber(started.number);
      setStatus("waiting");
    } catch (err) {
      if (mine !== attempt.current) return;
      setError(toApiError(err));
      setStatus("stopped");
    }
  }, []);

  useEffect(() => {
    void start();
    return () => {
      attempt.current++;
    };
  }, [start]);

  useEffect(() => {
    if (status !== "waiting") return;
    const mine = attempt.current;
    let busy = false;
    const timer = window.setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const result = await api.signIn.pushPoll();
        if (mine !== attempt.current) return;
        if (result.status === "approved") {
          window.clearInterval(timer);
          const { status: _status, ...view } = result;
          onView(view);
        } else if (result.status === "expired") {
          setStatus("expired");
        }
      } catch (err) {
        if (mine !== attempt.current) return;
        setError(toApiError(err));
        setStatus("stopped");
      } finally {
        busy = false;
      }
    }, POLL_MS);
    return () => window.clearInterval(timer);
  }, [status, onView]);

  return (
    <StepCard title="Approve on your other device" testId="step-push" focusHeading>
      <div className="stack">
        <ErrorNotice error={error}>
          <RestartIfNeeded error={error} />
        </ErrorNotice>
        {status === "starting" && <p role="status">Sending the request…</p>}
        {status === "waiting" && number !== undefined && (
          <>
            <p>
              On a phone or computer where you are already signed in to PinDesk, open{" "}
              <strong>Approvals</strong> and pick this number:
            </p>
            <p className="push-number" data-testid="push-number">
              <span className="sr-only">Number to pick: </span>
              {number}
            </p>
            <p className="hint" role="status">
              Waiting for your approval… This page continues by itself.
            </p>
          </>
        )}
        {status === "expired" && (
          <p role="status">
            The request expired before it was approved. Send a new one and approve it within 2 minutes.
          </p>
        )}
        {(status === "expired" || status === "stopped") && (
          <div className="actions">
            <button type="button" className="btn btn-primary" onClick={() => void start()}>
              Send a new request
            </button>
          </div>
        )}
        <details className="more">
          <summary>Use another method?</summary>
          <p>
            Your organisation's sign-in needs this approval, so it cannot be skipped. If you are not signed in
            anywhere else, sign in on your other device first, then come back here. If you cannot, your help
            desk can change the methods your sign-in needs.
          </p>
        </details>
      </div>
    </StepCard>
  );
};
