/**
 * Forgot PIN: a code to a verified email address or phone. Seed 000's user pressed "Send code" and
 * nothing ever came; here the person sees where it went, whether it was accepted or refused and why,
 * when they can resend, and every other way in — all the time, not after a failure.
 */
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";
import {
  type ApiError,
  api,
  type DeliveryStatus,
  type PinProfile,
  type RecoveryChannel,
  type RecoverySent,
  type RecoveryStart,
  toApiError,
} from "../api.ts";
import { Field } from "../components/Field.tsx";
import { Link } from "../components/Link.tsx";
import { ErrorNotice } from "../components/Notices.tsx";
import { PinChangedPanel } from "../components/PinChangedPanel.tsx";
import { PinFields } from "../components/PinFields.tsx";
import { WaysOut } from "../components/WaysOut.tsx";
import { announce } from "../lib/announce.ts";
import { notSetUpWords } from "../lib/channels.ts";
import { navState } from "../lib/router.ts";
import { formatClock, formatCountdown, humanizeTimes, msUntilServerTime } from "../lib/time.ts";

const STATUS_POLL_MS = 3000;
/** A code lives 10 minutes by default; following its delivery longer than that helps nobody. */
const STATUS_POLL_FOR_MS = 15 * 60_000;

const channelWord = (c: RecoveryChannel | undefined) => (c?.channel === "sms" ? "text message" : "email");

/** Local time (Date.now scale) when a new code may be sent. */
const resendMomentOf = (sent: RecoverySent): number =>
  Date.now() + Math.max(0, Date.parse(sent.resendAvailableAt) - Date.parse(sent.sentAt));

/** Re-renders every second while a countdown runs. */
const useTicking = (active: boolean) => {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setTick((t) => t + 1), 1000);
    return () => window.clearInterval(timer);
  }, [active]);
};

const FINAL_STATES = ["accepted", "failed", "expired"];

const DeliveryLine = ({ sent, status }: { sent: RecoverySent; status: DeliveryStatus | undefined }) => {
  const via = sent.channel === "sms" ? "text message service" : "mail server";
  const raw = status?.status ?? "queued";
  const state = raw === "none" ? "queued" : raw;
  const text =
    state === "accepted"
      ? `Accepted by the ${via}. It usually arrives within a minute or two.`
      : state === "failed"
        ? "Not delivered."
        : state === "expired"
          ? "Not delivered in time: the code in it has expired, so PinDesk stopped trying."
          : state === "retrying"
            ? `Not delivered yet — PinDesk tries again${status?.nextAttemptAt ? ` at ${formatClock(status.nextAttemptAt)}` : " shortly"}.`
            : state === "sending"
              ? "Sending now…"
              : "Waiting to be sent…";
  return (
    <div className={`delivery delivery-${state}`} data-testid="delivery-status" data-status={state}>
      <p>
        <span className="delivery-dot" aria-hidden="true" /> <strong>Delivery:</strong> {text}
      </p>
      {status?.detail && <p className="delivery-detail">{humanizeTimes(status.detail)}</p>}
      {(state === "failed" || state === "retrying" || state === "expired") && (
        <p>
          {state === "retrying" ? "It may not arrive." : "This code will not arrive."} Use another way below —
          you are not stuck.
        </p>
      )}
    </div>
  );
};

/**
 * A code belongs to the flow that asked for it, so the flow outlives a reload of the page (or a look at
 * the mail app and back): kept for this tab only (sessionStorage, gone with the tab, never shared with
 * another tab or person on a shared device), and dropped once the code has been used or the flow has
 * run out (the server's own limit; this side keeps it at most 30 minutes after its last change).
 */
const FLOW_KEY = "pindesk.forgot-pin";
const FLOW_KEEP_MS = 30 * 60_000;

interface SavedFlow {
  upn: string;
  flow: RecoveryStart;
  channelId?: string | undefined;
  sent?: RecoverySent | undefined;
  resendAt: Partial<Record<"email" | "sms", number>>;
  savedAt: number;
}

const loadFlow = (upnGiven: string | undefined): SavedFlow | undefined => {
  try {
    const raw = window.sessionStorage.getItem(FLOW_KEY);
    if (!raw) return undefined;
    const saved = JSON.parse(raw) as SavedFlow;
    // Another name typed on the sign-in page starts afresh.
    if (Date.now() - saved.savedAt > FLOW_KEEP_MS || (upnGiven && upnGiven !== saved.upn)) {
      window.sessionStorage.removeItem(FLOW_KEY);
      return undefined;
    }
    return saved;
  } catch {
    return undefined;
  }
};

const keepFlow = (saved: SavedFlow | undefined) => {
  try {
    if (saved) window.sessionStorage.setItem(FLOW_KEY, JSON.stringify(saved));
    else window.sessionStorage.removeItem(FLOW_KEY);
  } catch {
    // Storage refused (private mode, full): the flow just does not survive a reload.
  }
};

export const ForgotPinPage = () => {
  const [saved] = useState(() => loadFlow(navState().upn));
  const [upn, setUpn] = useState(() => saved?.upn ?? navState().upn ?? "");
  const [flow, setFlow] = useState<RecoveryStart | undefined>(saved?.flow);
  const [channelId, setChannelId] = useState<string | undefined>(saved?.channelId);
  const [sent, setSent] = useState<RecoverySent | undefined>(saved?.sent);
  /** When a new code may be sent, per kind of channel: switching to the phone is never held up by an email. */
  const [resendAt, setResendAt] = useState<Partial<Record<"email" | "sms", number>>>(saved?.resendAt ?? {});
  const [status, setStatus] = useState<DeliveryStatus>();
  const [code, setCode] = useState("");
  const [resetToken, setResetToken] = useState<string>();
  const [pinProfile, setPinProfile] = useState<PinProfile>("standard");
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [expired, setExpired] = useState(false);
  const codeInput = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useTicking(Object.values(resendAt).some((at) => at !== undefined && at > Date.now() - 1000));
  const waitFor = (c: RecoveryChannel | undefined) =>
    c ? Math.max(0, (resendAt[c.channel] ?? 0) - Date.now()) : 0;
  const channel = flow?.channels.find((c) => c.id === channelId);
  const resendLeft = waitFor(channel);
  const phase = done ? "done" : resetToken ? "pin" : sent ? "code" : flow ? "channels" : "upn";

  useEffect(() => {
    if (phase !== "upn") heading.current?.focus();
  }, [phase]);

  useEffect(() => {
    keepFlow(
      flow && !resetToken && !done && !expired
        ? { upn: upn.trim(), flow, channelId, sent, resendAt, savedAt: Date.now() }
        : undefined,
    );
  }, [flow, channelId, sent, resendAt, resetToken, done, expired, upn]);

  const fail = (e: unknown) => {
    const err = toApiError(e);
    if (err.code === "recoveryLinkInvalid") setExpired(true);
    setError(err);
    return err;
  };

  const startAgain = () => {
    setFlow(undefined);
    setSent(undefined);
    setResendAt({});
    setStatus(undefined);
    setResetToken(undefined);
    setChannelId(undefined);
    setCode("");
    setError(undefined);
    setExpired(false);
  };

  const start = async (e: FormEvent) => {
    e.preventDefault();
    if (!upn.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      const started = await api.recovery.start(upn.trim());
      setFlow(started);
      setChannelId(started.channels[0]?.id);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const send = async (id: string | undefined = channelId) => {
    if (!flow || !id) return;
    const kind = flow.channels.find((c) => c.id === id)?.channel ?? "email";
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.recovery.send(flow.recoveryToken, id);
      setChannelId(id);
      setSent(result);
      setStatus(undefined);
      setResendAt((r) => ({ ...r, [kind]: resendMomentOf(result) }));
      setCode("");
      announce(`Code sent to ${result.to} at ${formatClock(result.sentAt)}.`);
      window.setTimeout(() => codeInput.current?.focus(), 0);
    } catch (err) {
      const e2 = fail(err);
      const when = e2.details.resendAvailableAt;
      if (e2.code === "resendTooSoon" && typeof when === "string") {
        const ms = msUntilServerTime(when, 3_600_000);
        setResendAt((r) => ({ ...r, [kind]: Date.now() + (ms ?? 60_000) }));
      }
    } finally {
      setBusy(false);
    }
  };

  // Follow the delivery until the provider accepted or refused the message.
  const pollStatus = useCallback(async (token: string) => {
    try {
      const s = await api.recovery.status(token);
      setStatus(s);
      return s;
    } catch {
      return undefined;
    }
  }, []);
  useEffect(() => {
    if (phase !== "code" || !flow || !sent) return;
    let stopped = false;
    let timer: number | undefined;
    let announced = false;
    const until = Date.now() + STATUS_POLL_FOR_MS;
    const tick = async () => {
      const s = await pollStatus(flow.recoveryToken);
      if (stopped) return;
      if ((s?.status === "failed" || s?.status === "expired" || s?.detail) && !announced) {
        announced = true;
        announce("The code could not be delivered. Other ways are listed on the page.");
      }
      if (!FINAL_STATES.includes(s?.status ?? "") && Date.now() < until) {
        timer = window.setTimeout(tick, STATUS_POLL_MS);
      }
    };
    void tick();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [phase, flow, sent, pollStatus]);

  const verify = async (e: FormEvent) => {
    e.preventDefault();
    if (!flow || !code.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      const verified = await api.recovery.verify(flow.recoveryToken, code.replace(/\s/g, ""));
      setPinProfile(verified.pinProfile ?? "standard");
      setResetToken(verified.resetToken);
      announce("Code accepted. Choose your new PIN.");
    } catch (err) {
      fail(err);
      setCode("");
      codeInput.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const setPin = async (newPin: string, confirmPin: string) => {
    if (!resetToken) return;
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.recovery.setPin(resetToken, newPin, confirmPin);
      setDone(result.message);
      announce("PIN changed.");
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  if (phase === "done" && done) {
    return (
      <div className="page page-narrow">
        <PinChangedPanel message={done} upn={upn.trim()} />
      </div>
    );
  }

  const helpdesk = flow?.helpdeskContact ?? "your help desk";
  const others = flow?.channels.filter((c) => c.id !== channelId) ?? [];
  const codeValidMinutes = sent
    ? Math.round((Date.parse(sent.expiresAt) - Date.parse(sent.sentAt)) / 60_000)
    : 0;

  return (
    <div className="page page-narrow">
      <h1 ref={heading} tabIndex={-1}>
        {phase === "pin" ? "Choose a new PIN" : "Forgot your PIN?"}
      </h1>

      {expired && (
        <ErrorNotice error={error}>
          <div className="actions">
            <button type="button" className="btn btn-primary" onClick={startAgain}>
              Start again
            </button>
          </div>
        </ErrorNotice>
      )}

      {phase === "upn" && (
        <>
          <p className="lead">
            We will send a code to your email address or phone. With it you can set a new PIN.
          </p>
          <form className="stack" onSubmit={start} noValidate>
            {!expired && <ErrorNotice error={error} />}
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
          <WaysOut upn={upn.trim() || undefined} hide={["forgot"]} />
        </>
      )}

      {phase === "channels" && flow && (
        <>
          {!expired && <ErrorNotice error={error} />}
          {flow.channels.length === 0 ? (
            <div className="notice notice-warning" role="status" data-testid="no-channel">
              <p className="notice-title">
                {flow.channelsNotSetUp.length === 0
                  ? "We have no email address or phone number to send you a code."
                  : flow.channelsNotSetUp.length === 1
                    ? `We cannot send you a code: this PinDesk is not set up to send ${notSetUpWords(flow.channelsNotSetUp)}, and there is no other way on file to send you one.`
                    : `We cannot send you a code: this PinDesk is not set up to send ${notSetUpWords(flow.channelsNotSetUp)}.`}
              </p>
              <p>
                {flow.emergencyAccess
                  ? "Use Emergency Access if you registered security questions, or contact "
                  : "Contact "}
                <strong>{flow.helpdeskContact}</strong>: they can reset your PIN.
              </p>
            </div>
          ) : (
            <form
              className="stack"
              onSubmit={(e) => {
                e.preventDefault();
                void send();
              }}
            >
              <fieldset className="radio-list">
                <legend>Where should we send your code?</legend>
                {flow.channels.map((c) => (
                  <label key={c.id} className="radio">
                    <input
                      type="radio"
                      name="channel"
                      value={c.id}
                      checked={channelId === c.id}
                      onChange={() => setChannelId(c.id)}
                    />
                    <span>
                      {c.channel === "sms" ? "Text message to " : "Email to "}
                      <strong>{c.masked}</strong>
                    </span>
                  </label>
                ))}
              </fieldset>
              <div className="actions">
                <button
                  type="submit"
                  className="btn btn-primary"
                  disabled={busy || !channelId || resendLeft > 0}
                >
                  {busy
                    ? "Sending…"
                    : resendLeft > 0
                      ? `Send code (in ${formatCountdown(resendLeft)})`
                      : "Send code"}
                </button>
              </div>
            </form>
          )}
          <WaysOut
            upn={upn.trim()}
            emergencyAccess={flow.emergencyAccess}
            helpdeskContact={flow.helpdeskContact}
            onStartAgain={startAgain}
            hide={["forgot"]}
          />
        </>
      )}

      {phase === "code" && flow && sent && (
        <>
          <div className="sent-box" data-testid="code-sent">
            <p className="sent-title">
              Sent to <strong>{sent.to}</strong> at {formatClock(sent.sentAt)}
            </p>
            <DeliveryLine sent={sent} status={status} />
          </div>
          <form className="stack" onSubmit={verify} noValidate>
            {!expired && <ErrorNotice error={error} />}
            <Field
              ref={codeInput}
              label={`Code from the ${channelWord(channel)}`}
              name="recovery-code"
              hint={
                codeValidMinutes > 0 ? `The code works for ${codeValidMinutes} minutes, once.` : undefined
              }
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]*"
              maxLength={10}
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            <div className="actions">
              <button type="submit" className="btn btn-primary" disabled={busy || !code.trim()}>
                {busy ? "Checking…" : "Continue"}
              </button>
            </div>
          </form>
          <aside className="ways-out" aria-labelledby="not-arrived">
            <h2 id="not-arrived" className="h3">
              Code not arrived?
            </h2>
            <ul>
              {sent.channel === "email" && <li>Check your spam or junk folder.</li>}
              <li data-testid="resend">
                <button
                  type="button"
                  className="link-button"
                  onClick={() => void send()}
                  disabled={busy || resendLeft > 0}
                >
                  Send a new code
                </button>
                {resendLeft > 0 ? (
                  <span aria-live="off"> — available in {formatCountdown(resendLeft)}</span>
                ) : (
                  " — available now"
                )}
              </li>
              {others.map((c) => (
                <li key={c.id}>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => void send(c.id)}
                    disabled={busy || waitFor(c) > 0}
                  >
                    {c.channel === "sms"
                      ? "Use your phone instead"
                      : c.channel === sent.channel
                        ? "Use your other email address instead"
                        : "Use your email instead"}
                  </button>{" "}
                  ({c.masked}){waitFor(c) > 0 ? ` — in ${formatCountdown(waitFor(c))}` : ""}
                </li>
              ))}
              {flow.emergencyAccess && (
                <li>
                  <Link to="/emergency" state={{ upn: upn.trim() }}>
                    Emergency Access
                  </Link>{" "}
                  — answer your security questions instead.
                </li>
              )}
              <li>
                Contact <strong>{helpdesk}</strong>: they can see whether the message was sent and can reset
                your PIN.
              </li>
              <li>
                <button type="button" className="link-button" onClick={startAgain}>
                  Start again
                </button>
              </li>
            </ul>
          </aside>
        </>
      )}

      {phase === "pin" && (
        <>
          <p className="lead">Code accepted. Choose your new PIN; it works straight away.</p>
          <PinFields
            username={upn.trim()}
            onSubmit={setPin}
            busy={busy}
            error={expired ? undefined : error}
            submitLabel="Set new PIN"
            profile={pinProfile}
          />
        </>
      )}
    </div>
  );
};
