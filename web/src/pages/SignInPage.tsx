/**
 * Sign in: the user name, then every method of the user's authentication set in turn (seed 001), with
 * the way out always in view — Forgot PIN, Emergency Access, start again, the help desk.
 */
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, api, type StepView, toApiError } from "../api.ts";
import { Field } from "../components/Field.tsx";
import { ErrorNotice } from "../components/Notices.tsx";
import { progressText, StepProgress } from "../components/StepProgress.tsx";
import { BlockedStep } from "../components/steps/BlockedStep.tsx";
import { ChangePinStep } from "../components/steps/ChangePinStep.tsx";
import { CodeStep } from "../components/steps/CodeStep.tsx";
import { EnrolStep } from "../components/steps/EnrolStep.tsx";
import { PinStep } from "../components/steps/PinStep.tsx";
import { PushStep } from "../components/steps/PushStep.tsx";
import { RfidStep } from "../components/steps/RfidStep.tsx";
import { StartAgainContext } from "../components/steps/StepCard.tsx";
import { TotpStep } from "../components/steps/TotpStep.tsx";
import { WebAuthnStep } from "../components/steps/WebAuthnStep.tsx";
import { WaysOut } from "../components/WaysOut.tsx";
import { announce } from "../lib/announce.ts";
import { navigate, navState } from "../lib/router.ts";
import { useSession } from "../lib/session.tsx";

const UpnForm = ({
  upn,
  setUpn,
  onStarted,
}: {
  upn: string;
  setUpn(upn: string): void;
  onStarted(view: StepView, upn: string): void;
}) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [problem, setProblem] = useState<string>();
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = upn.trim();
    if (!value) {
      setProblem("Type your user name, for example name@contoso.com.");
      input.current?.focus();
      return;
    }
    setProblem(undefined);
    setBusy(true);
    setError(undefined);
    try {
      onStarted(await api.signIn.start(value), value);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error} />
      <Field
        ref={input}
        label="User name"
        name="username"
        hint="Usually your work email address, for example name@contoso.com."
        type="email"
        autoComplete="username"
        autoCapitalize="off"
        autoCorrect="off"
        spellCheck={false}
        value={upn}
        onChange={(e) => setUpn(e.target.value)}
        problem={problem}
        autoFocus
      />
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "One moment…" : "Next"}
        </button>
      </div>
    </form>
  );
};

export const SignInPage = () => {
  const session = useSession();
  const [view, setView] = useState<StepView>();
  const [upn, setUpn] = useState(() => navState().upn ?? "");
  const [round, setRound] = useState(0);

  useEffect(() => {
    if (session.state.status === "signedIn" && !view) navigate("/me", { replace: true });
  }, [session.state.status, view]);

  const startAgain = useCallback(() => {
    setView(undefined);
    setRound((r) => r + 1);
    announce("Start again: type your user name.");
  }, []);

  // Stable across session changes, so a step's timers (push polling) are not restarted by them.
  const sessionRef = useRef(session);
  sessionRef.current = session;

  const onView = useCallback(async (next: StepView) => {
    const session = sessionRef.current;
    if (next.signedIn) {
      const info = await session.signedIn(next.csrfToken);
      if (!info) {
        setView(undefined);
        session.setNotice({
          kind: "warning",
          text: "You were signed in, but this page could not load your session. Check your connection and sign in again.",
        });
        return;
      }
      navigate("/me", { replace: true });
      session.setNotice({
        kind: "success",
        text: next.message === "PIN changed." ? "PIN changed. You are signed in." : "You are signed in.",
      });
      return;
    }
    setView(next);
    setRound((r) => r + 1);
    const progress = progressText(next);
    if (progress) announce(next.message === "PIN changed." ? `PIN changed. ${progress}` : progress);
  }, []);

  const onStarted = (next: StepView, typed: string) => {
    setUpn(typed);
    void onView(next);
  };

  const stepProps = view ? { view, onView } : undefined;
  const stepKey = view ? `${view.next}-${view.method ?? ""}-${round}` : "upn";

  return (
    <div className="page page-narrow">
      <h1>Sign in</h1>
      {!view && (
        <>
          <p className="lead">Sign in to change your PIN and manage how you sign in.</p>
          <UpnForm key={stepKey} upn={upn} setUpn={setUpn} onStarted={onStarted} />
        </>
      )}
      {view && stepProps && (
        <>
          <p className="signing-in-as">
            Signing in as <strong data-testid="signin-upn">{view.userPrincipalName}</strong>.{" "}
            <button type="button" className="link-button" onClick={startAgain}>
              Not you? Start again
            </button>
          </p>
          <StepProgress view={view} />
          {view.message === "PIN changed." && view.next !== "changePin" && (
            <div className="notice notice-success" role="status">
              <p className="notice-title">PIN changed.</p>
              <p>Use your new PIN from now on. Continue with the next step.</p>
            </div>
          )}
          <StartAgainContext.Provider value={startAgain}>
            <div key={stepKey}>
              {view.next === "pin" && <PinStep {...stepProps} />}
              {view.next === "changePin" && <ChangePinStep {...stepProps} />}
              {view.next === "totp" && <TotpStep {...stepProps} />}
              {view.next === "webauthn" && <WebAuthnStep {...stepProps} />}
              {view.next === "rfid" && <RfidStep {...stepProps} />}
              {view.next === "push" && <PushStep {...stepProps} />}
              {view.next === "enrol" && <EnrolStep {...stepProps} />}
              {view.next === "blocked" && <BlockedStep {...stepProps} />}
              {(view.next === "email" || view.next === "sms") && <CodeStep {...stepProps} />}
              {view.next === "done" && <p role="status">Signing you in…</p>}
            </div>
          </StartAgainContext.Provider>
        </>
      )}
      <WaysOut
        upn={view?.userPrincipalName ?? (upn.trim() || undefined)}
        onStartAgain={view ? startAgain : undefined}
      />
    </div>
  );
};
