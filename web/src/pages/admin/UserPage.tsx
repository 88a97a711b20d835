import { useState } from "react";
import { type ApiError, toApiError } from "../../api.ts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { Link } from "../../components/Link.tsx";
import { ErrorNotice, Notice } from "../../components/Notices.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { adminApi, StateBadge, when } from "./admin-api.tsx";

type Action =
  | "reset"
  | "temporary"
  | "unblock"
  | "qr"
  | "qrTemporary"
  | "recovery"
  | { remove: string; label: string };

export const UserPage = ({ id }: { id: string }) => {
  const { data, error, reload } = useLoad(() => adminApi.user(id));
  const [action, setAction] = useState<Action>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string>();
  const [failure, setFailure] = useState<ApiError>();
  const [pin, setPin] = useState("");
  const [confirmPin, setConfirmPin] = useState("");
  const [forceChange, setForceChange] = useState(true);
  const [temporary, setTemporary] = useState<{ pin: string; expiresAt: string }>();
  const [badge, setBadge] = useState<{ svg: string; expires: string; temporary: boolean }>();
  const [copied, setCopied] = useState(false);

  const close = () => {
    setAction(undefined);
    setPin("");
    setConfirmPin("");
  };

  const run = async () => {
    if (!action || !data) return;
    setBusy(true);
    setFailure(undefined);
    setResult(undefined);
    try {
      const uid = data.user.id;
      if (action === "reset") setResult((await adminApi.resetPin(uid, pin, confirmPin, forceChange)).message);
      else if (action === "temporary") {
        const r = await adminApi.temporaryPin(uid);
        setTemporary({ pin: r.temporaryPin, expiresAt: r.expiresAt });
        setCopied(false);
        setResult(r.message);
      } else if (action === "unblock") setResult((await adminApi.unblock(uid)).message);
      else if (action === "qr" || action === "qrTemporary") {
        const r = action === "qr" ? await adminApi.qrBadge(uid, pin) : await adminApi.qrTemporary(uid);
        if (r.code.image)
          setBadge({
            svg: atob(r.code.image.binaryValue),
            expires: r.code.expireDateTime,
            temporary: action === "qrTemporary",
          });
        setResult(r.message);
      } else if (action === "recovery") setResult((await adminApi.recoveryLink(uid)).message);
      else setResult((await adminApi.removeMethod(uid, action.remove)).message);
      close();
      await reload();
    } catch (e) {
      setFailure(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  if (error)
    return (
      <div className="page">
        <ErrorNotice error={error} />
      </div>
    );
  if (!data)
    return (
      <div className="page">
        <p>Loading…</p>
      </div>
    );
  const { user, pin: status } = data;
  const locked = status.state === "Account Lockout";
  const can = data.canManage;

  const dialogTitle =
    action === "reset"
      ? "Reset PIN"
      : action === "temporary"
        ? "Generate a temporary PIN"
        : action === "unblock"
          ? "Unblock PIN"
          : action === "qr"
            ? "Create a QR badge"
            : action === "qrTemporary"
              ? "Issue a temporary QR code"
              : action === "recovery"
                ? "Send a recovery link"
                : action
                  ? `Remove ${action.label}`
                  : "";

  return (
    <div className="page">
      <p>
        <Link to="/admin/users">← Users</Link>
      </p>
      <h1>{user.displayName}</h1>
      <p className="lead">
        {user.userPrincipalName}
        {user.mail ? ` · ${user.mail}` : ""}
        {user.roles.length ? ` · ${user.roles.join(", ")}` : ""}
        {user.accountEnabled ? "" : " · account disabled"}
      </p>

      {result && (
        <Notice kind="success" title="Done">
          {result}
        </Notice>
      )}
      <ErrorNotice error={failure && !action ? failure : undefined} />

      {temporary && (
        <section className="card card-primary" aria-label="Temporary PIN">
          <h2>Temporary PIN</h2>
          <p className="temp-pin" data-testid="temporary-pin">
            {temporary.pin}
          </p>
          <p>
            Give this to the user; they must change it at sign-in. It works until {when(temporary.expiresAt)}{" "}
            and is not shown again.
          </p>
          <button
            type="button"
            className="btn"
            onClick={async () => {
              await navigator.clipboard?.writeText(temporary.pin).catch(() => undefined);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>{" "}
          <button type="button" className="btn" onClick={() => setTemporary(undefined)}>
            Hide
          </button>
        </section>
      )}

      {badge && (
        <section className="card badge-print" aria-label="QR badge">
          <h2>{badge.temporary ? "Temporary QR code" : "QR badge"}</h2>
          {/* The SVG comes from PinDesk's own QR encoder. */}
          {/* biome-ignore lint/security/noDangerouslySetInnerHtml: server-generated SVG of a QR code, no user input. */}
          <div className="qr" dangerouslySetInnerHTML={{ __html: badge.svg }} />
          <p className="badge-name">{user.displayName}</p>
          <p>Valid until {when(badge.expires)}</p>
          <button type="button" className="btn btn-primary no-print" onClick={() => window.print()}>
            Print
          </button>
        </section>
      )}

      <section className="card why" aria-labelledby="why">
        <h2 id="why">Why is this user stuck?</h2>
        <ul>
          {data.whyStuck.summary.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
        <p>
          <strong>Next step:</strong> {data.whyStuck.nextStep}
        </p>
      </section>

      <div className="cards">
        <section className="card" aria-labelledby="pin-state">
          <h2 id="pin-state">PIN</h2>
          <p>
            <StateBadge state={status.state} />
          </p>
          <p data-testid="pin-description">{status.description}</p>
          <p className="hint">
            Wrong PINs since last success: {status.failedAttempts} · last set {when(status.changedAt)}
          </p>
          {!can && <p className="hint">Your role cannot manage this user's methods.</p>}
          {can && (
            <div className="actions">
              {locked && (
                <button type="button" className="btn btn-primary" onClick={() => setAction("unblock")}>
                  Unblock PIN
                </button>
              )}
              <button type="button" className="btn" onClick={() => setAction("reset")}>
                Reset PIN
              </button>
              <button type="button" className="btn" onClick={() => setAction("temporary")}>
                Generate temporary PIN
              </button>
              <button type="button" className="btn" onClick={() => setAction("recovery")}>
                Send recovery link
              </button>
            </div>
          )}
        </section>

        <section className="card" aria-labelledby="methods">
          <h2 id="methods">Sign-in methods</h2>
          <ul>
            {data.methods.map((m) => (
              <li key={m.id}>
                {m.label}: {m.name}
                {m.detail ? ` (${m.detail})` : ""}{" "}
                {can && !m.managed && (
                  <button
                    type="button"
                    className="btn btn-small"
                    onClick={() => setAction({ remove: m.id, label: `${m.label} "${m.name}"` })}
                  >
                    Remove
                  </button>
                )}
              </li>
            ))}
          </ul>
          <h3>QR badge</h3>
          {data.qr ? (
            <ul>
              {data.qr.codes.map((c) => (
                <li key={c.id}>
                  {c.kind === "standard" ? "Badge" : "Temporary code"}:{" "}
                  {c.expired ? "expired" : "valid until"} {when(c.expireDateTime)}
                  {c.lastUsedDateTime ? ` · last used ${when(c.lastUsedDateTime)}` : ""}
                </li>
              ))}
            </ul>
          ) : (
            <p className="hint">No QR badge.</p>
          )}
          {can && (
            <div className="actions">
              <button type="button" className="btn" onClick={() => setAction("qr")}>
                {data.qr ? "Replace QR badge" : "Create QR badge"}
              </button>
              {data.qr && (
                <button type="button" className="btn" onClick={() => setAction("qrTemporary")}>
                  Issue temporary QR code
                </button>
              )}
              {data.qr && (
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => setAction({ remove: "qr", label: "the QR badge and its PIN" })}
                >
                  Remove QR method
                </button>
              )}
            </div>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="messages">
        <h2 id="messages">Recent messages</h2>
        {data.recentMessages.length === 0 ? (
          <p className="hint">No messages sent.</p>
        ) : (
          <ul>
            {data.recentMessages.map((m) => (
              <li key={m.id}>
                {when(m.createdAt)} · {m.purpose} to {m.destinationMasked}: <strong>{m.status}</strong>
                {m.lastError ? ` — ${m.lastError}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="card" aria-labelledby="events">
        <h2 id="events">Recent activity</h2>
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {data.recentEvents.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.at)}</td>
                  <td>{e.action}</td>
                  <td>
                    {e.outcome}
                    {e.reason ? ` (${e.reason})` : ""}
                  </td>
                  <td>{e.actor}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <ConfirmDialog
        open={action !== undefined}
        title={dialogTitle}
        confirmLabel={busy ? "Working…" : dialogTitle}
        danger={typeof action === "object"}
        busy={busy}
        onConfirm={run}
        onCancel={() => {
          close();
          setFailure(undefined);
        }}
      >
        <ErrorNotice error={failure} />
        {action === "reset" && (
          <div className="stack">
            <p>
              Set a PIN for {user.displayName}. Tell it to them in person or by phone after checking who they
              are.
            </p>
            <label>
              New PIN
              <input
                type="password"
                inputMode="numeric"
                value={pin}
                onChange={(e) => setPin(e.target.value)}
                autoComplete="off"
              />
            </label>
            <label>
              Type it again
              <input
                type="password"
                inputMode="numeric"
                value={confirmPin}
                onChange={(e) => setConfirmPin(e.target.value)}
                autoComplete="off"
              />
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={forceChange}
                onChange={(e) => setForceChange(e.target.checked)}
              />{" "}
              The user must change it at next sign-in
            </label>
          </div>
        )}
        {action === "temporary" && (
          <p>
            A temporary PIN is generated and shown once. The user must choose their own PIN when they sign in
            with it.
          </p>
        )}
        {action === "unblock" && <p>The lockout is cleared; {user.displayName} keeps their current PIN.</p>}
        {action === "qr" && (
          <div className="stack">
            <p>
              A new badge replaces any old one (the old printed badge stops working). Choose the PIN to give
              with it; the user changes it at first sign-in.
            </p>
            <label>
              Badge PIN (digits only)
              <input
                type="password"
                inputMode="numeric"
                value={pin}
                onChange={(e) => setPin(e.target.value)}
                autoComplete="off"
              />
            </label>
          </div>
        )}
        {action === "qrTemporary" && (
          <p>
            A temporary QR code valid for up to 12 hours, for a forgotten or lost badge. The PIN stays the
            same.
          </p>
        )}
        {action === "recovery" && (
          <p>
            A single-use link to set a new PIN goes to the user's email address or phone. Its delivery shows
            under Recent messages.
          </p>
        )}
        {typeof action === "object" && <p>Remove {action.label}? The user can no longer sign in with it.</p>}
      </ConfirmDialog>
    </div>
  );
};
