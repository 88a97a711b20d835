/**
 * Emergency Access (seed 001, Method 3): user name → security questions → the method whose PIN to
 * change → new PIN + confirm → "PIN changed".
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import { type ApiError, api, type EmergencyAnswered, type EmergencyStart, toApiError } from "../api.ts";
import { Field } from "../components/Field.tsx";
import { Link } from "../components/Link.tsx";
import { ErrorNotice } from "../components/Notices.tsx";
import { PinChangedPanel } from "../components/PinChangedPanel.tsx";
import { PinFields } from "../components/PinFields.tsx";
import { WaysOut } from "../components/WaysOut.tsx";
import { announce } from "../lib/announce.ts";
import { navState } from "../lib/router.ts";

export const EmergencyPage = () => {
  const [upn, setUpn] = useState(() => navState().upn ?? "");
  const [flow, setFlow] = useState<EmergencyStart>();
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const [answered, setAnswered] = useState<EmergencyAnswered>();
  const [methodId, setMethodId] = useState<string>();
  const [methodChosen, setMethodChosen] = useState(false);
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const heading = useRef<HTMLHeadingElement>(null);

  const phase = done ? "done" : methodChosen ? "pin" : answered ? "method" : flow ? "questions" : "upn";
  useEffect(() => {
    if (phase !== "upn") heading.current?.focus();
  }, [phase]);

  const startAgain = () => {
    setFlow(undefined);
    setAnswers({});
    setAnswered(undefined);
    setMethodChosen(false);
    setError(undefined);
  };

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const start = (e: FormEvent) => {
    e.preventDefault();
    if (!upn.trim()) return;
    void run(async () => {
      setFlow(await api.emergency.start(upn.trim()));
      setAnswers({});
    });
  };

  const answer = (e: FormEvent) => {
    e.preventDefault();
    if (!flow) return;
    void run(async () => {
      const result = await api.emergency.answer(flow.emergencyToken, answers);
      setAnswered(result);
      setMethodId(result.methods[0]?.id);
      announce("Answers accepted. Choose the PIN to change.");
    });
  };

  const setPin = async (newPin: string, confirmPin: string) => {
    if (!answered) return;
    await run(async () => {
      const result = await api.emergency.setPin(answered.resetToken, newPin, confirmPin, methodId);
      setDone(result.message);
      announce("PIN changed.");
    });
  };

  if (phase === "done" && done) {
    return (
      <div className="page page-narrow">
        <PinChangedPanel message={done} upn={upn.trim()} />
      </div>
    );
  }

  const mustRestart = error?.code === "recoveryLinkInvalid" || error?.code === "methodLocked";

  return (
    <div className="page page-narrow">
      <h1 ref={heading} tabIndex={-1}>
        Emergency Access
      </h1>

      {phase === "upn" && (
        <>
          <p className="lead">
            Forgot your PIN and cannot get a code? Answer your security questions to set a new PIN.
          </p>
          <p className="hint">
            This works only if you registered security questions after signing in. If you never did, use
            Forgot PIN or contact your help desk.
          </p>
          <form className="stack" onSubmit={start} noValidate>
            <ErrorNotice error={error} />
            <Field
              label="User name"
              name="username"
              hint="Usually your work email address, for example name@contoso.com."
              type="email"
              autoComplete="username"
              autoCapitalize="off"
              spellCheck={false}
              value={upn}
              onChange={(e) => setUpn(e.target.value)}
              autoFocus
            />
            <div className="actions">
              <button type="submit" className="btn btn-primary" disabled={busy || !upn.trim()}>
                {busy ? "One moment…" : "Next"}
              </button>
              <Link to="/" state={upn ? { upn } : undefined}>
                Back to sign in
              </Link>
            </div>
          </form>
          <WaysOut upn={upn.trim() || undefined} hide={["emergency"]} />
        </>
      )}

      {phase === "questions" && flow && (
        <>
          <p className="lead">Answer your security questions. Capitals and extra spaces do not matter.</p>
          <form className="stack" onSubmit={answer} noValidate>
            <ErrorNotice error={error}>
              {mustRestart && (
                <div className="actions">
                  <button type="button" className="btn btn-primary" onClick={startAgain}>
                    Start again
                  </button>
                </div>
              )}
            </ErrorNotice>
            {flow.questions.map((q, i) => (
              <Field
                key={q.id}
                label={q.text}
                name={`answer-${q.id}`}
                type="text"
                autoComplete="off"
                maxLength={200}
                value={answers[q.id] ?? ""}
                onChange={(e) => setAnswers((a) => ({ ...a, [q.id]: e.target.value }))}
                autoFocus={i === 0}
              />
            ))}
            <div className="actions">
              <button type="submit" className="btn btn-primary" disabled={busy}>
                {busy ? "Checking…" : "Continue"}
              </button>
            </div>
          </form>
          <WaysOut upn={upn.trim()} hide={["emergency"]} onStartAgain={startAgain} />
        </>
      )}

      {phase === "method" && answered && (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            if (methodId) setMethodChosen(true);
          }}
        >
          <p className="lead" role="status">
            Your answers are correct.
          </p>
          <fieldset className="radio-list">
            <legend>Which PIN do you want to change?</legend>
            {answered.methods.map((m) => (
              <label key={m.id} className="radio">
                <input
                  type="radio"
                  name="method"
                  value={m.id}
                  checked={methodId === m.id}
                  onChange={() => setMethodId(m.id)}
                />
                <span>
                  <strong>{m.label}</strong>
                  {m.detail && <span className="radio-detail"> — {m.detail}</span>}
                </span>
              </label>
            ))}
          </fieldset>
          <div className="actions">
            <button type="submit" className="btn btn-primary" disabled={!methodId}>
              Continue
            </button>
          </div>
        </form>
      )}

      {phase === "pin" && answered && (
        <>
          <p className="lead">
            New PIN for: <strong>{answered.methods.find((m) => m.id === methodId)?.label ?? "PIN"}</strong>.
            It works straight away.
          </p>
          {mustRestart && (
            <ErrorNotice error={error}>
              <div className="actions">
                <button type="button" className="btn btn-primary" onClick={startAgain}>
                  Start again
                </button>
              </div>
            </ErrorNotice>
          )}
          <PinFields
            username={upn.trim()}
            onSubmit={setPin}
            busy={busy}
            error={mustRestart ? undefined : error}
            submitLabel="Change PIN"
            showHistoryRule={false}
            profile={answered.pinProfile ?? "standard"}
          />
        </>
      )}
    </div>
  );
};
