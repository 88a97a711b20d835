/** My methods: what the user can sign in and recover with; add, confirm, rename, remove. */
import { startRegistration } from "@simplewebauthn/browser";
import { type FormEvent, useRef, useState } from "react";
import {
  type ApiError,
  api,
  type ContactAdded,
  type MethodType,
  type MethodView,
  type MyMethods,
  type TotpEnrolment,
  toApiError,
} from "../api.ts";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { Field } from "../components/Field.tsx";
import { Link } from "../components/Link.tsx";
import { ErrorNotice, Notice } from "../components/Notices.tsx";
import { TotpSetup } from "../components/TotpSetup.tsx";
import { announce } from "../lib/announce.ts";
import { channelSends, undeliverable } from "../lib/channels.ts";
import { usePinPolicy } from "../lib/policy.ts";
import { formatDateTime } from "../lib/time.ts";
import { useLoad } from "../lib/use-load.ts";

type AddKind = "totp" | "webauthn" | "rfid" | "email" | "sms";

const ADD_CHOICES: { kind: AddKind; label: string; hint: string }[] = [
  { kind: "totp", label: "Authenticator app", hint: "A 6-digit code from an app on your phone." },
  { kind: "webauthn", label: "Security key or passkey", hint: "A USB/NFC key, or your device's passkey." },
  { kind: "rfid", label: "Badge", hint: "Your RFID card, read by a badge reader." },
  { kind: "email", label: "Email address", hint: "For codes if you forget your PIN." },
  { kind: "sms", label: "Mobile phone", hint: "For codes by text message if you forget your PIN." },
];

interface Done {
  message: string;
}

// ------------------------------------------------------------------------------------------- add flows

const AddTotp = ({ onDone }: { onDone(d: Done): void }) => {
  const [enrolment, setEnrolment] = useState<TotpEnrolment>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const begin = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setEnrolment(await api.me.totpStart());
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const confirm = async (code: string) => {
    if (!enrolment) return;
    setBusy(true);
    setError(undefined);
    try {
      onDone(await api.me.totpConfirm(enrolment.methodId, code));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  if (!enrolment) {
    return (
      <div className="stack">
        <ErrorNotice error={error} />
        <p>You will scan a QR code with an authenticator app, then type the code it shows.</p>
        <div className="actions">
          <button type="button" className="btn btn-primary" onClick={begin} disabled={busy}>
            {busy ? "Preparing…" : "Show QR code"}
          </button>
        </div>
      </div>
    );
  }
  return (
    <TotpSetup enrolment={enrolment} onConfirm={confirm} busy={busy} error={error} confirmLabel="Add app" />
  );
};

const AddWebAuthn = ({ onDone }: { onDone(d: Done): void }) => {
  const [name, setName] = useState("Security key");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const optionsJSON = await api.me.webauthnOptions();
      const response = await startRegistration({ optionsJSON });
      onDone(await api.me.addWebauthn(response, name.trim() || undefined));
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
        label="Name for this key"
        name="key-name"
        hint="So you can tell your keys apart, e.g. “Blue key” or “Work laptop”."
        maxLength={60}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <p>
        Insert your key (or get your device's passkey ready), press the button, and touch the key when it
        blinks.
      </p>
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Waiting for your key…" : "Register security key"}
        </button>
      </div>
    </form>
  );
};

const AddRfid = ({ onDone }: { onDone(d: Done): void }) => {
  const [card, setCard] = useState("");
  const [name, setName] = useState("Badge");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!card.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      onDone(await api.me.addRfid(card.trim(), name.trim() || undefined));
    } catch (err) {
      setError(toApiError(err));
      setCard("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error} />
      <Field
        label="Name for this badge"
        name="badge-name"
        maxLength={60}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <Field
        label="Badge number"
        name="badge"
        type="password"
        autoComplete="off"
        hint="Click here, then hold your badge against the reader — or type the number printed on it and press Enter."
        value={card}
        onChange={(e) => setCard(e.target.value)}
      />
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Add badge"}
        </button>
      </div>
    </form>
  );
};

/** Code entry for an email address or phone number waiting for confirmation. */
const ConfirmContact = ({
  methodId,
  sentTo,
  onDone,
}: {
  methodId: string;
  sentTo?: string | undefined;
  onDone(d: Done): void;
}) => {
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onDone(await api.me.verifyContact(methodId, code.trim()));
    } catch (err) {
      setError(toApiError(err));
      setCode("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      {sentTo && <Notice kind="info">{`We sent a code to ${sentTo}. Type it here to confirm.`}</Notice>}
      <ErrorNotice error={error} />
      <Field
        label="Confirmation code"
        name="contact-code"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9]*"
        maxLength={10}
        value={code}
        onChange={(e) => setCode(e.target.value)}
        hint="Not arrived after a few minutes? Check your spam folder, or add the address again to get a new code."
        autoFocus
      />
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy || !code.trim()}>
          {busy ? "Checking…" : "Confirm"}
        </button>
      </div>
    </form>
  );
};

const AddContact = ({ kind, onDone }: { kind: "email" | "sms"; onDone(d: Done): void }) => {
  const [value, setValue] = useState("");
  const [sent, setSent] = useState<ContactAdded>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setSent(kind === "email" ? await api.me.addEmail(value.trim()) : await api.me.addPhone(value.trim()));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (sent) return <ConfirmContact methodId={sent.methodId} sentTo={sent.to} onDone={onDone} />;
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error} />
      {kind === "email" ? (
        <Field
          label="Email address"
          name="email"
          type="email"
          autoComplete="email"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
      ) : (
        <Field
          label="Mobile phone number"
          name="phone"
          type="tel"
          autoComplete="tel"
          hint="In international form, for example +44 7700 900123."
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
      )}
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy || !value.trim()}>
          {busy ? "Sending…" : "Send confirmation code"}
        </button>
      </div>
    </form>
  );
};

const AddMethod = ({ onDone, onCancel }: { onDone(d: Done): void; onCancel(): void }) => {
  const [kind, setKind] = useState<AddKind>();
  const choice = ADD_CHOICES.find((c) => c.kind === kind);
  // An address that no code can be sent to could never be confirmed: say so instead of offering it.
  const notSetUp = usePinPolicy()?.channelsNotSetUp ?? [];
  const unavailable = (k: AddKind) => {
    const channel = undeliverable(k, notSetUp);
    return channel
      ? `This PinDesk is not set up to send ${channelSends(channel)}, so it cannot be added yet. Ask your help desk.`
      : undefined;
  };
  return (
    <section className="card" aria-labelledby="add-title" data-testid="add-method">
      <h2 id="add-title" className="h3" tabIndex={-1}>
        {choice ? `Add: ${choice.label}` : "Add a method"}
      </h2>
      {!kind && (
        <ul className="choice-list">
          {ADD_CHOICES.map((c) => {
            const note = unavailable(c.kind);
            return (
              <li key={c.kind}>
                <button
                  type="button"
                  className="choice"
                  disabled={note !== undefined}
                  onClick={() => setKind(c.kind)}
                >
                  <span className="choice-label">{c.label}</span>
                  <span className="choice-hint">{note ?? c.hint}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {kind === "totp" && <AddTotp onDone={onDone} />}
      {kind === "webauthn" && <AddWebAuthn onDone={onDone} />}
      {kind === "rfid" && <AddRfid onDone={onDone} />}
      {(kind === "email" || kind === "sms") && <AddContact kind={kind} onDone={onDone} />}
      <div className="actions">
        {kind && (
          <button type="button" className="btn" onClick={() => setKind(undefined)}>
            Choose another kind
          </button>
        )}
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
};

// ------------------------------------------------------------------------------------------- one method

const MethodRow = ({
  method,
  pinNote,
  onRename,
  onRemove,
  onChanged,
}: {
  method: MethodView;
  /** For the PIN row: why it needs attention. */
  pinNote?: string | undefined;
  onRename(m: MethodView, name: string): Promise<ApiError | undefined>;
  onRemove(m: MethodView): void;
  onChanged(d: Done): void;
}) => {
  const [renaming, setRenaming] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [name, setName] = useState(method.name);
  const [error, setError] = useState<ApiError>();
  const saveName = async (e: FormEvent) => {
    e.preventDefault();
    const problem = await onRename(method, name.trim());
    if (problem) setError(problem);
    else {
      setRenaming(false);
      setError(undefined);
    }
  };
  const unconfirmed = !method.verified && (method.type === "email" || method.type === "sms");
  // A code can only be sent where this PinDesk is set up to send: otherwise "Ready to use" would promise
  // a code that never comes.
  const cannotSend = undeliverable(method.type, usePinPolicy()?.channelsNotSetUp ?? []);
  return (
    <li className="method" data-testid={`method-${method.type}`}>
      <div className="method-main">
        <p className="method-name">{method.name}</p>
        {method.type !== "pin" && (
          <p className="method-meta">
            {method.label}
            {method.detail ? ` · ${method.detail}` : ""}
          </p>
        )}
        <p className="method-meta">
          {pinNote ? (
            <span className="status-warn">{pinNote}</span>
          ) : cannotSend ? (
            <span className="status-warn">
              {`Cannot be used now: this PinDesk is not set up to send ${channelSends(cannotSend)}`}
            </span>
          ) : method.verified ? (
            <span className="status-ok">Ready to use</span>
          ) : (
            <span className="status-warn">Waiting for confirmation</span>
          )}
          {` · Added ${formatDateTime(method.createdAt)}`}
          {method.lastUsedAt ? ` · Last used ${formatDateTime(method.lastUsedAt)}` : ""}
          {method.managed && method.type !== "pin" ? " · Managed by your organisation" : ""}
        </p>
      </div>
      {method.type === "pin" && (
        <div className="method-actions">
          <Link to="/me/pin" className="btn btn-small">
            Change My PIN
          </Link>
        </div>
      )}
      {!method.managed && (
        <div className="method-actions">
          {unconfirmed && (
            <button type="button" className="btn btn-small" onClick={() => setConfirming((c) => !c)}>
              Type code
            </button>
          )}
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              setRenaming((r) => !r);
              setName(method.name);
              setError(undefined);
            }}
            aria-expanded={renaming}
          >
            Rename<span className="sr-only"> {method.name}</span>
          </button>
          <button type="button" className="btn btn-small btn-danger-outline" onClick={() => onRemove(method)}>
            Remove<span className="sr-only"> {method.name}</span>
          </button>
        </div>
      )}
      {renaming && (
        <form className="method-form stack" onSubmit={saveName} noValidate>
          <ErrorNotice error={error} />
          <Field
            label="New name"
            name="method-name"
            maxLength={60}
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoFocus
          />
          <div className="actions">
            <button type="submit" className="btn btn-primary btn-small" disabled={!name.trim()}>
              Save name
            </button>
            <button type="button" className="btn btn-small" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {confirming && (
        <div className="method-form">
          <ConfirmContact
            methodId={method.id}
            onDone={(d) => {
              setConfirming(false);
              onChanged(d);
            }}
          />
        </div>
      )}
    </li>
  );
};

// ------------------------------------------------------------------------------------------- page

const TYPE_ORDER: MethodType[] = ["pin", "totp", "webauthn", "rfid", "push", "email", "sms"];

export const MethodsPage = () => {
  const { data, error, reload } = useLoad<MyMethods>(() => api.me.methods());
  const [adding, setAdding] = useState(false);
  const [done, setDone] = useState<string>();
  const [removing, setRemoving] = useState<MethodView>();
  const [removeError, setRemoveError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const doneRef = useRef<HTMLDivElement>(null);

  const finished = (d: Done) => {
    setAdding(false);
    setDone(d.message);
    announce(d.message);
    void reload();
    window.setTimeout(() => doneRef.current?.focus(), 0);
  };

  const rename = async (m: MethodView, name: string) => {
    try {
      finished(await api.me.rename(m.id, name));
      return undefined;
    } catch (e) {
      return toApiError(e);
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setRemoveError(undefined);
    try {
      const result = await api.me.remove(removing.id);
      setRemoving(undefined);
      finished(result);
    } catch (e) {
      setRemoveError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const methods = [...(data?.methods ?? [])].sort(
    (a, b) =>
      TYPE_ORDER.indexOf(a.type) - TYPE_ORDER.indexOf(b.type) || a.createdAt.localeCompare(b.createdAt),
  );
  const needed = data?.authenticationSet.methods ?? [];
  const has = (type: MethodType) =>
    type === "pin" ? data?.pin.state !== "No PIN" : methods.some((m) => m.type === type && m.verified);

  return (
    <div className="page">
      <h1>My methods</h1>
      <ErrorNotice error={error} />
      {done && (
        <div
          ref={doneRef}
          tabIndex={-1}
          className="notice notice-success"
          role="status"
          data-testid="methods-done"
        >
          <p className="notice-title">{done}</p>
        </div>
      )}
      {data && (
        <section className="card" aria-labelledby="set-title">
          <h2 id="set-title" className="h3">
            What your sign-in needs
          </h2>
          <p className="hint">
            Your organisation's “{data.authenticationSet.name}” sign-in asks for each of these, one after
            another.
          </p>
          <ul className="checklist">
            {needed.map((m) => (
              <li key={m.type} className={`check ${has(m.type) ? "check-ok" : "check-bad"}`}>
                <span className="check-icon" aria-hidden="true">
                  {has(m.type) ? "✓" : "!"}
                </span>
                <span>
                  {m.label}
                  {has(m.type) ? (
                    <span className="sr-only"> — set up</span>
                  ) : (
                    <span className="check-reason">Not set up yet — add it below.</span>
                  )}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="list-title">
        <h2 id="list-title" className="h2">
          Your methods
        </h2>
        {data && (
          <ul className="method-list">
            {methods.map((m) => (
              <MethodRow
                key={m.id}
                method={m}
                onRename={rename}
                onRemove={setRemoving}
                onChanged={finished}
              />
            ))}
          </ul>
        )}
        {!adding && (
          <div className="actions">
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => {
                setAdding(true);
                setDone(undefined);
              }}
            >
              Add a method
            </button>
          </div>
        )}
        {adding && <AddMethod onDone={finished} onCancel={() => setAdding(false)} />}
      </section>
      <ConfirmDialog
        open={removing !== undefined}
        title={`Remove “${removing?.name ?? ""}”?`}
        confirmLabel="Remove"
        danger
        busy={busy}
        hideConfirm={removeError?.code === "lastMethodOfSet"}
        onConfirm={() => void remove()}
        onCancel={() => {
          setRemoving(undefined);
          setRemoveError(undefined);
        }}
      >
        <p>
          You will no longer be able to use this {removing?.label.toLowerCase() ?? "method"} with PinDesk. You
          can add it again later.
        </p>
        <ErrorNotice error={removeError} />
      </ConfirmDialog>
    </div>
  );
};
