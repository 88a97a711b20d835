import { type ReactNode, useRef, useState } from "react";
import { type ApiError, toApiError } from "../../api.ts";
import { Link } from "../../components/Link.tsx";
import { Modal } from "../../components/Modal.tsx";
import { PinFields } from "../../components/PinFields.tsx";
import { usePinPolicy } from "../../lib/policy.ts";
import { useLoad } from "../../lib/use-load.ts";
import { AdminError, ResultNotice } from "./AdminNotices.tsx";
import {
  actionWords,
  actorWords,
  adminApi,
  outcomeWords,
  purposeWords,
  StateBadge,
  when,
} from "./admin-api.tsx";

type Action =
  | "reset"
  | "temporary"
  | "unblock"
  | "qr"
  | "qrTemporary"
  | "recovery"
  | { remove: string; label: string };

const TITLES = {
  reset: "Reset PIN",
  temporary: "Generate a temporary PIN",
  unblock: "Unblock PIN",
  qr: "Create a QR badge",
  qrTemporary: "Issue a temporary QR code",
  recovery: "Send a recovery link",
} as const;

/** A modal for one action. */
const ActionDialog = ({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose(): void;
  children: ReactNode;
}) => (
  <Modal open={open} title={title} onClose={onClose}>
    <div className="stack">{children}</div>
  </Modal>
);

const Copyable = ({ value }: { value: string }) => {
  const [state, setState] = useState<"idle" | "copied" | "unavailable">("idle");
  const ref = useRef<HTMLParagraphElement>(null);
  const selectText = () => {
    const node = ref.current;
    const selection = window.getSelection();
    if (!node || !selection) return;
    const range = document.createRange();
    range.selectNodeContents(node);
    selection.removeAllRanges();
    selection.addRange(range);
  };
  return (
    <>
      <p className="temp-pin" data-testid="temporary-pin" ref={ref}>
        {value}
      </p>
      <button
        type="button"
        className="btn"
        onClick={async () => {
          try {
            if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
            await navigator.clipboard.writeText(value);
            setState("copied");
          } catch {
            selectText();
            setState("unavailable");
          }
        }}
      >
        Copy
      </button>
      <span className="hint" role="status" data-testid="copy-status">
        {state === "copied"
          ? " Copied to the clipboard."
          : state === "unavailable"
            ? " This browser does not allow copying here: the PIN is selected, press Ctrl+C (⌘C on a Mac) to copy it."
            : ""}
      </span>
    </>
  );
};

export const UserPage = ({ id }: { id: string }) => {
  const { data, error, reload } = useLoad(() => adminApi.user(id), [id]);
  const [action, setAction] = useState<Action>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ kind: "success" | "warning"; text: string; n: number }>();
  const [failure, setFailure] = useState<ApiError>();
  // Unset until the administrator ticks or clears it: the organisation's policy decides meanwhile.
  const [forceChangeChoice, setForceChange] = useState<boolean>();
  const pinPolicy = usePinPolicy();
  const forceChange = forceChangeChoice ?? pinPolicy?.policy.forceChangeAfterAdminReset ?? true;
  const [temporary, setTemporary] = useState<{ pin: string; expiresAt: string }>();
  const [badge, setBadge] = useState<{ svg: string; expires: string; temporary: boolean }>();

  const close = () => {
    setAction(undefined);
    setFailure(undefined);
  };
  const done = (text: string, kind: "success" | "warning" = "success") =>
    setResult((r) => ({ kind, text, n: (r?.n ?? 0) + 1 }));

  const run = async (pin = "", confirmPin = "") => {
    if (!action || !data) return;
    setBusy(true);
    setFailure(undefined);
    try {
      const uid = data.user.id;
      // A PIN or badge shown earlier stops being the one that works once anything else changes them.
      if (action !== "unblock" && action !== "recovery") {
        setTemporary(undefined);
        setBadge(undefined);
      }
      if (action === "reset")
        done((await adminApi.resetPin(uid, pin, confirmPin, forceChangeChoice)).message);
      else if (action === "temporary") {
        const r = await adminApi.temporaryPin(uid);
        setTemporary({ pin: r.temporaryPin, expiresAt: r.expiresAt });
        done(r.message);
      } else if (action === "unblock") done((await adminApi.unblock(uid)).message);
      else if (action === "qr" || action === "qrTemporary") {
        const r = action === "qr" ? await adminApi.qrBadge(uid, pin) : await adminApi.qrTemporary(uid);
        if (r.code.image)
          setBadge({
            svg: atob(r.code.image.binaryValue),
            expires: r.code.expireDateTime,
            temporary: action === "qrTemporary",
          });
        done(r.message);
      } else if (action === "recovery") {
        const r = await adminApi.recoveryLink(uid);
        done(r.message, r.result === "sent" ? "success" : "warning");
      } else done((await adminApi.removeMethod(uid, action.remove)).message);
      setAction(undefined);
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
        <p>
          <Link to="/admin/users">← Users</Link>
        </p>
        <AdminError error={error} />
      </div>
    );
  if (!data)
    return (
      <div className="page">
        <p role="status">Loading…</p>
      </div>
    );
  const { user, pin: status } = data;
  // Unblock PIN clears the PIN's lock and every method's (Emergency Access, authenticator app, …).
  const lockedMethods = data.methodLockouts.map((m) => m.label);
  const locked = status.state === "Account Lockout" || lockedMethods.length > 0;
  const activeTemporary = data.qr?.codes.find((c) => c.kind === "temporary" && !c.expired);
  const can = data.canManage;
  const title = typeof action === "object" ? `Remove ${action.label}` : action ? TITLES[action] : "";

  const cancelButton = (
    <button type="button" className="btn" onClick={close}>
      Cancel
    </button>
  );
  const confirm = (label: string, danger = false) => (
    <div className="actions">
      {cancelButton}
      <button
        type="button"
        className={`btn ${danger ? "btn-danger" : "btn-primary"}`}
        onClick={() => void run()}
        disabled={busy}
      >
        {busy ? "Working…" : label}
      </button>
    </div>
  );

  return (
    <div className="page">
      <p>
        <Link to="/admin/users">← Users</Link>
      </p>
      <h1>{user.displayName}</h1>
      <dl className="identity" aria-label="Identity">
        <div>
          <dt>User name</dt>
          <dd>{user.userPrincipalName}</dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{user.mail ?? "none on file"}</dd>
        </div>
        <div>
          <dt>Mobile phone</dt>
          <dd>{user.mobilePhone ?? "none on file"}</dd>
        </div>
        <div>
          <dt>Last sign-in</dt>
          <dd>{user.lastSignInAt ? when(user.lastSignInAt) : "never"}</dd>
        </div>
        <div>
          <dt>Roles</dt>
          <dd>{user.roles.length ? user.roles.join(", ") : "none (a regular user)"}</dd>
        </div>
        <div>
          <dt>Account</dt>
          <dd>{user.accountEnabled ? "enabled" : "disabled"}</dd>
        </div>
      </dl>

      {result && (
        <ResultNotice
          kind={result.kind}
          title={result.kind === "success" ? "Done" : "Please note"}
          focusKey={result.n}
        >
          <p>{result.text}</p>
        </ResultNotice>
      )}

      {temporary && (
        <section className="card card-primary" aria-label="Temporary PIN">
          <h2>Temporary PIN</h2>
          <Copyable value={temporary.pin} />
          <p>
            Give this to the user; they must change it at sign-in. It works until {when(temporary.expiresAt)}{" "}
            and is not shown again.
          </p>
          <button type="button" className="btn" onClick={() => setTemporary(undefined)}>
            Hide
          </button>
        </section>
      )}

      {badge && (
        <section className="card badge-print" aria-label="QR badge" data-testid="badge-print">
          <h2>{badge.temporary ? "Temporary QR code" : "QR badge"}</h2>
          {/* The SVG comes from PinDesk's own QR encoder. */}
          {/* biome-ignore lint/security/noDangerouslySetInnerHtml: server-generated SVG of a QR code, no user input. */}
          <div className="qr" dangerouslySetInnerHTML={{ __html: badge.svg }} />
          <p className="badge-name">{user.displayName}</p>
          <p>Valid until {when(badge.expires)}</p>
          <div className="actions no-print">
            <button type="button" className="btn btn-primary" onClick={() => window.print()}>
              Print
            </button>
            <button type="button" className="btn" onClick={() => setBadge(undefined)}>
              Hide
            </button>
          </div>
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
          {!can && (
            <p className="notice notice-info" data-testid="manage-reason">
              {data.manageReason}
            </p>
          )}
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
              {!data.recovery.cannotSend && (
                <button type="button" className="btn" onClick={() => setAction("recovery")}>
                  Send recovery link
                </button>
              )}
            </div>
          )}
          {can && data.recovery.cannotSend && (
            <p className="hint" data-testid="recovery-reason">
              No recovery link can be sent. {data.recovery.cannotSend} Generate a temporary PIN instead.
            </p>
          )}
        </section>

        <section className="card" aria-labelledby="methods">
          <h2 id="methods">Sign-in methods</h2>
          {data.methods.length === 0 ? (
            <p className="hint">Only the PIN.</p>
          ) : (
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
          )}
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
          {can && data.badgeAllowed === false && (
            <p className="hint" data-testid="badge-off">
              Badge sign-in is turned off for this user by the QR code + PIN policy, so no badge or temporary
              QR code can be issued. An administrator of policies can turn it on under Policies.
            </p>
          )}
          {can && (
            <div className="actions">
              {data.badgeAllowed !== false && (
                <button type="button" className="btn" onClick={() => setAction("qr")}>
                  {data.qr ? "Replace QR badge" : "Create QR badge"}
                </button>
              )}
              {data.qr && data.badgeAllowed !== false && (
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
                <span className="nowrap">{when(m.createdAt)}</span> · {purposeWords(m.purpose)} to{" "}
                {m.destinationMasked}: <strong>{m.statusText ?? m.status}</strong>
                {!m.statusText && m.lastError ? ` — ${m.lastError}` : ""}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="card" aria-labelledby="events">
        <h2 id="events">Recent activity</h2>
        <div className="table-wrap">
          <table className="table table-cards">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Outcome</th>
                <th scope="col">By</th>
              </tr>
            </thead>
            <tbody>
              {data.recentEvents.map((e) => (
                <tr key={e.id}>
                  <td data-label="When" className="nowrap">
                    {when(e.at)}
                  </td>
                  <td data-label="What">{actionWords(e.action)}</td>
                  <td data-label="Outcome">{outcomeWords(e.outcome, e.reason)}</td>
                  <td data-label="By">{actorWords(e.actor)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <ActionDialog open={action !== undefined} title={title} onClose={close}>
        {action === "reset" && (
          <>
            <p>
              Set a PIN for {user.displayName}. Tell it to them in person or by phone after checking who they
              are.
            </p>
            <PinFields
              key="reset"
              profile={data.qr ? "qr" : "standard"}
              onSubmit={(pin, confirmPin) => run(pin, confirmPin)}
              submitLabel="Reset PIN"
              busy={busy}
              error={failure}
              newLabel="New PIN"
              confirmLabel="Type it again"
              checksTitle="The PIN needs:"
              showHistoryRule={false}
              actions={cancelButton}
            >
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={forceChange}
                  onChange={(e) => setForceChange(e.target.checked)}
                />{" "}
                The user must change it at next sign-in
              </label>
            </PinFields>
          </>
        )}
        {action === "qr" && (
          <>
            <p>
              {data.qr
                ? "A new badge replaces the old one: the old printed badge stops working once this one is created."
                : "A printable badge for signing in on shared devices."}{" "}
              Choose the PIN to give with it; the user changes it at first sign-in.{" "}
              {status.state !== "No PIN" &&
                "This PIN also replaces the one they use everywhere else (portal, other devices): their current PIN stops working."}
            </p>
            <PinFields
              key="qr"
              profile="qr"
              onSubmit={(pin) => run(pin)}
              submitLabel={data.qr ? "Replace QR badge" : "Create QR badge"}
              busy={busy}
              error={failure}
              newLabel="Badge PIN"
              confirmLabel="Type it again"
              checksTitle="The badge PIN needs:"
              showHistoryRule={false}
              actions={cancelButton}
            />
          </>
        )}
        {action === "temporary" && (
          <>
            <p>
              A temporary PIN is generated and shown once. The user must choose their own PIN when they sign
              in with it.
            </p>
            <AdminError error={failure} />
            {confirm(TITLES.temporary)}
          </>
        )}
        {action === "unblock" && (
          <>
            <p>
              {status.state === "Account Lockout" ? "The PIN lockout is cleared" : "The lockout is cleared"}
              {lockedMethods.length > 0 ? `, and ${lockedMethods.join(", ")} unblocked` : ""};{" "}
              {user.displayName} keeps their current PIN.
            </p>
            <AdminError error={failure} />
            {confirm(TITLES.unblock)}
          </>
        )}
        {action === "qrTemporary" && (
          <>
            <p>
              A temporary QR code valid for up to 12 hours, for a forgotten or lost badge. The PIN stays the
              same.
            </p>
            {activeTemporary && (
              <p>
                The temporary code issued earlier (valid until {when(activeTemporary.expireDateTime)}) stops
                working.
              </p>
            )}
            <AdminError error={failure} />
            {confirm(TITLES.qrTemporary)}
          </>
        )}
        {action === "recovery" && (
          <>
            <p>
              A single-use link to set a new PIN goes to{" "}
              {data.recovery.channels.find((c) => !c.unavailable)?.masked}. It works for 24 hours; its
              delivery shows under Recent messages.
            </p>
            <AdminError error={failure} />
            {confirm(TITLES.recovery)}
          </>
        )}
        {typeof action === "object" && (
          <>
            <p>Remove {action.label}? The user can no longer sign in with it.</p>
            {action.remove === "qr" && (
              <p>
                The badge&apos;s PIN is their only PIN: it is removed too, so they cannot sign in anywhere
                with a PIN until they get a new one. Generate a temporary PIN afterwards if they still need to
                sign in.
              </p>
            )}
            <AdminError error={failure} />
            {confirm("Remove", true)}
          </>
        )}
      </ActionDialog>
    </div>
  );
};
