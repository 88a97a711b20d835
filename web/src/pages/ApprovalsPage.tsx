/**
 * Approvals ("PingMe" of seed 001): sign-ins waiting for this signed-in user, approved by picking the
 * number shown on the signing-in screen. Checks by itself while the person is using the page.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, api, type PushRequest, toApiError } from "../api.ts";
import { ErrorNotice } from "../components/Notices.tsx";
import { announce } from "../lib/announce.ts";
import { formatClock } from "../lib/time.ts";

const POLL_MS = 3000;
/** Polling keeps the session alive, so it stops when nobody has touched the page for a while. */
const POLL_FOR_MS = 2 * 60_000;

export const ApprovalsPage = () => {
  const [requests, setRequests] = useState<PushRequest[]>();
  const [error, setError] = useState<ApiError>();
  const [result, setResult] = useState<{ kind: "success" | "warning"; text: string }>();
  const [busyId, setBusyId] = useState<string>();
  const [active, setActive] = useState(true);
  const lastTouch = useRef(Date.now());
  const known = useRef<Set<string>>(new Set());

  const load = useCallback(async () => {
    try {
      const { requests: list } = await api.me.pushRequests();
      setRequests(list);
      setError(undefined);
      const fresh = list.filter((r) => !known.current.has(r.id));
      if (fresh.length > 0 && known.current.size > 0) announce("A new sign-in is waiting for your approval.");
      known.current = new Set(list.map((r) => r.id));
    } catch (e) {
      setError(toApiError(e));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!active) return;
    const touch = () => {
      lastTouch.current = Date.now();
    };
    window.addEventListener("pointerdown", touch);
    window.addEventListener("keydown", touch);
    const timer = window.setInterval(() => {
      if (Date.now() - lastTouch.current > POLL_FOR_MS) {
        setActive(false);
        return;
      }
      if (document.visibilityState === "visible") void load();
    }, POLL_MS);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("pointerdown", touch);
      window.removeEventListener("keydown", touch);
    };
  }, [active, load]);

  const decide = async (request: PushRequest, decision: { approve: boolean; number?: number }) => {
    setBusyId(request.id);
    setResult(undefined);
    try {
      const { status } = await api.me.decidePush(request.id, decision);
      const text =
        status === "approved"
          ? "Approved. The other device is signing in now."
          : status === "expired"
            ? "This request had already expired or been answered. Start again on the other device if you still want to sign in."
            : decision.approve
              ? "That number did not match, so the sign-in was refused. If it was you, start again on the other device and pick the number it shows."
              : "Denied. If this was not you, tell your help desk — someone knows your PIN.";
      setResult({ kind: status === "approved" ? "success" : "warning", text });
      announce(text);
      await load();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusyId(undefined);
    }
  };

  return (
    <div className="page page-narrow">
      <h1>Approvals</h1>
      <p className="lead">
        When you sign in on another device and it asks for approval, pick here the number that device shows.
      </p>
      <ErrorNotice error={error} />
      {result && (
        <div className={`notice notice-${result.kind}`} role="status" data-testid="approval-result">
          <p>{result.text}</p>
        </div>
      )}
      {requests && requests.length === 0 && (
        <p data-testid="no-approvals">No sign-ins are waiting for approval.</p>
      )}
      <ul className="approval-list">
        {requests?.map((r) => (
          <li key={r.id} className="card" data-testid="approval">
            <h2 className="h3">Sign-in requested at {formatClock(r.createdAt)}</h2>
            <p>Which number does the signing-in screen show?</p>
            <fieldset className="number-choices" disabled={busyId === r.id}>
              <legend className="sr-only">Number shown on the other device</legend>
              {r.choices.map((n) => (
                <button
                  key={n}
                  type="button"
                  className="btn number-choice"
                  onClick={() => void decide(r, { approve: true, number: n })}
                >
                  {n}
                </button>
              ))}
            </fieldset>
            <div className="actions">
              <button
                type="button"
                className="btn btn-danger-outline"
                disabled={busyId === r.id}
                onClick={() => void decide(r, { approve: false })}
              >
                Deny — this was not me
              </button>
            </div>
          </li>
        ))}
      </ul>
      <p className="hint" role="status">
        {active ? "This page checks for new requests by itself." : "Stopped checking for new requests."}{" "}
        {!active && (
          <button
            type="button"
            className="link-button"
            onClick={() => {
              lastTouch.current = Date.now();
              setActive(true);
              void load();
            }}
          >
            Check again
          </button>
        )}
      </p>
    </div>
  );
};
