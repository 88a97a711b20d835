import { type ReactNode, useId, useState } from "react";
import { METHOD_LABELS, METHOD_TYPES, type MethodType } from "../../../../src/domain/portal-policy.ts";
import { DIRECTORY_ROLES } from "../../../../src/domain/roles.ts";
import { type ApiError, toApiError } from "../../api.ts";
import { Notice } from "../../components/Notices.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { AdminError } from "./AdminNotices.tsx";
import { adminApi, type Preview } from "./admin-api.tsx";

// biome-ignore lint/suspicious/noExplicitAny: policy documents are nested JSON edited field by field.
type Doc = any;
type Kind = "pin" | "portal" | "qr";

/** Field labels, also used to name the fields the server reports as invalid. */
const LABELS: Record<string, string> = {
  minLength: "Minimum length",
  maxLength: "Maximum length",
  digits: "Digits",
  lowercase: "Lowercase letters",
  uppercase: "Uppercase letters",
  special: "Symbols",
  history: "PINs remembered",
  expirationDays: "Expires after (days, 0 = never)",
  blockSimplePins: "Block repeated digits and sequences (1111, 1234)",
  blockRepeatedGroups: "Block repeated groups (121212)",
  blockCommonPins: "Block the most common PINs and years",
  forceChangeAfterAdminReset: "After a help desk reset, the user must change the PIN",
  "temporaryPin.length": "Temporary PIN length",
  "temporaryPin.expiryHours": "Temporary PIN works for (hours)",
  "lockout.threshold": "Wrong PINs before lockout",
  "lockout.mode": "Lockout mode",
  "lockout.initialLockSeconds": "First lock (seconds)",
  "lockout.maxLockSeconds": "Longest lock (seconds)",
  "lockout.decaySeconds": "Forget wrong PINs after (seconds, 0 = never)",
  state: "QR code sign-in",
  pinLength: "Badge PIN length",
  standardQRCodeLifetimeInDays: "Badge lifetime (days)",
  "qr.pinLength": "Badge PIN length",
  "qr.standardQRCodeLifetimeInDays": "Badge lifetime (days)",
  helpdeskContact: "Help desk contact shown to users",
  enrolDuringSignIn: "Users may set up a missing method during sign-in",
  defaultSetId: "Default set",
  "sessions.idleMinutes": "Sign out after idle (minutes)",
  "sessions.absoluteHours": "Sign out after (hours)",
  "recovery.channels": "Forgot PIN sends codes by",
  "recovery.codeLength": "Code length",
  "recovery.ttlMinutes": "A code works for (minutes)",
  "recovery.maxTries": "Tries per code",
  "recovery.resendCooldownSeconds": "Wait before sending another code (seconds)",
  "recovery.perUserPerHour": "Codes per user per hour",
  "recovery.perIpPerHour": "Attempts per network address per hour",
  "emergencyAccess.enabled": "Emergency Access",
  "emergencyAccess.questions": "Security questions",
  "emergencyAccess.registerCount": "Answers each user registers",
  "emergencyAccess.askCount": "Answers asked each time",
  "emergencyAccess.allowPreviousPin": "The previous PIN may be chosen again",
};

const get = (doc: Doc, path: string): Doc => path.split(".").reduce((o, k) => o?.[k], doc);
const set = (doc: Doc, path: string, value: unknown): Doc => {
  const [head, ...rest] = path.split(".");
  const key = head as string;
  if (rest.length === 0)
    return Array.isArray(doc) ? doc.map((v, i) => (String(i) === key ? value : v)) : { ...doc, [key]: value };
  return { ...doc, [key]: set(doc?.[key] ?? {}, rest.join("."), value) };
};
const PREVIEW = { pin: adminApi.previewPin, portal: adminApi.previewPortal, qr: adminApi.previewQr };
const SAVE = { pin: adminApi.savePin, portal: adminApi.savePortal, qr: adminApi.saveQr };

/** One part of a policy: edited, previewed (what it does, in numbers), then saved. */
const Section = ({
  id,
  title,
  kind,
  initial,
  canManage,
  onSaved,
  saved,
  children,
}: {
  id: string;
  title: string;
  kind: Kind;
  initial: Doc;
  canManage: boolean;
  onSaved(id: string, message: string): Promise<void>;
  /** What the last save said, and of which section (kept by the page: sections start afresh after a save). */
  saved: { id: string; text: string } | undefined;
  children: (draft: Doc, edit: (path: string, value: unknown) => void, disabled: boolean) => ReactNode;
}) => {
  const [draft, setDraft] = useState<Doc>(initial);
  const [preview, setPreview] = useState<{ for: string; result: Preview }>();
  const [failure, setFailure] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const change = draft;
  const changeKey = JSON.stringify(change);
  const dirty = changeKey !== JSON.stringify(initial);
  const savedText = saved?.id === id ? saved.text : undefined;
  const edit = (path: string, value: unknown) => {
    setDraft((d: Doc) => set(d, path, value));
  };
  const doPreview = async () => {
    setBusy(true);
    setFailure(undefined);
    try {
      setPreview({ for: changeKey, result: await PREVIEW[kind](change) });
    } catch (e) {
      setFailure(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    setBusy(true);
    setFailure(undefined);
    try {
      const r = await SAVE[kind](change);
      setPreview(undefined);
      await onSaved(id, r.message);
    } catch (e) {
      setFailure(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const current = preview && preview.for === changeKey ? preview.result : undefined;
  return (
    <section className="card policy-section" aria-labelledby={id} data-testid={`policy-${id}`}>
      <h2 id={id}>{title}</h2>
      {children(draft, edit, !canManage || busy)}
      <AdminError error={failure} labels={LABELS} />
      {current && (
        <Notice kind="warning" title="What this change does">
          {current.changes.length > 0 && (
            <ul>
              {current.changes.map((c) => (
                <li key={c}>{c}</li>
              ))}
            </ul>
          )}
          <p data-testid="preview-effect">{current.message}</p>
          {current.pinsNotCompliant !== undefined && (
            <p data-testid="pins-not-compliant">
              PINs that no longer comply: <strong>{current.pinsNotCompliant}</strong>
            </p>
          )}
        </Notice>
      )}
      {savedText && !dirty && (
        <Notice kind="success" title="Saved">
          {savedText}
        </Notice>
      )}
      {canManage && (
        <div className="actions">
          <button type="button" className="btn" onClick={doPreview} disabled={!dirty || busy}>
            Preview the effect
          </button>
          <button type="button" className="btn btn-primary" onClick={save} disabled={!current || busy}>
            Save
          </button>
          {dirty && (
            <button
              type="button"
              className="btn"
              onClick={() => {
                setDraft(initial);
                setPreview(undefined);
                setFailure(undefined);
              }}
            >
              Undo changes
            </button>
          )}
        </div>
      )}
      {canManage && dirty && !current && (
        <p className="hint">Preview the change to see its effect before saving.</p>
      )}
    </section>
  );
};

const NumberField = ({
  path,
  draft,
  edit,
  disabled,
  hint,
}: {
  path: string;
  draft: Doc;
  edit: (path: string, value: unknown) => void;
  disabled: boolean;
  hint?: string;
}) => (
  <label>
    {LABELS[path] ?? path}
    <input
      inputMode="numeric"
      value={String(get(draft, path) ?? "")}
      // A whole number is sent as one; anything else as typed, for the server to say what is wrong.
      onChange={(e) => edit(path, /^\d{1,9}$/.test(e.target.value) ? Number(e.target.value) : e.target.value)}
      disabled={disabled}
    />
    {hint && <span className="hint">{hint}</span>}
  </label>
);

const Check = ({
  path,
  draft,
  edit,
  disabled,
  label,
}: {
  path: string;
  draft: Doc;
  edit: (path: string, value: unknown) => void;
  disabled: boolean;
  label?: string;
}) => (
  <label className="checkbox">
    <input
      type="checkbox"
      checked={get(draft, path) === true}
      onChange={(e) => edit(path, e.target.checked)}
      disabled={disabled}
    />{" "}
    {label ?? LABELS[path] ?? path}
  </label>
);

const RULE_CHOICES = [
  ["allowed", "allowed"],
  ["required", "required"],
  ["disallowed", "not allowed"],
] as const;

const AuthSetEditor = ({
  draft,
  edit,
  disabled,
}: {
  draft: Doc;
  edit: (path: string, value: unknown) => void;
  disabled: boolean;
}) => {
  const sets: Doc[] = draft.authSets;
  const base = useId();
  return (
    <>
      {sets.map((s, i) => (
        <fieldset key={s.id || i}>
          <legend>
            {s.name || "New set"}
            {s.id === draft.defaultSetId ? " (default)" : ""}
          </legend>
          <div className="form-grid">
            <label>
              Name
              <input
                value={s.name}
                onChange={(e) => edit(`authSets.${i}`, { ...s, name: e.target.value })}
                disabled={disabled}
              />
            </label>
          </div>
          <p className="checks-title">Methods asked at sign-in (the PIN is always first):</p>
          <div className="inline">
            {METHOD_TYPES.map((m: MethodType) => (
              <label className="checkbox" key={m}>
                <input
                  type="checkbox"
                  checked={s.methods.includes(m)}
                  disabled={disabled || m === "pin"}
                  onChange={(e) =>
                    edit(`authSets.${i}`, {
                      ...s,
                      methods: e.target.checked
                        ? METHOD_TYPES.filter((x) => x === m || s.methods.includes(x))
                        : s.methods.filter((x: string) => x !== m),
                    })
                  }
                />{" "}
                {METHOD_LABELS[m]}
              </label>
            ))}
          </div>
          <label>
            For users with these roles (hold Ctrl or ⌘ to choose several)
            <select
              multiple
              size={4}
              value={s.roles}
              disabled={disabled}
              onChange={(e) =>
                edit(`authSets.${i}`, { ...s, roles: [...e.target.selectedOptions].map((o) => o.value) })
              }
            >
              {DIRECTORY_ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          {s.users.length > 0 && <p className="hint">Also assigned to {s.users.length} named user(s).</p>}
          <div className="inline">
            <label className="checkbox">
              <input
                type="radio"
                name={`${base}-default`}
                checked={s.id === draft.defaultSetId}
                onChange={() => edit("defaultSetId", s.id)}
                disabled={disabled}
              />{" "}
              Default set (for everyone no other set names)
            </label>
            {sets.length > 1 && s.id !== draft.defaultSetId && (
              <button
                type="button"
                className="btn btn-small"
                disabled={disabled}
                onClick={() =>
                  edit(
                    "authSets",
                    sets.filter((_, j) => j !== i),
                  )
                }
              >
                Remove this set
              </button>
            )}
          </div>
        </fieldset>
      ))}
      <button
        type="button"
        className="btn btn-small"
        disabled={disabled}
        onClick={() =>
          edit("authSets", [
            ...sets,
            {
              id: `set-${sets.length + 1}`,
              name: `Set ${sets.length + 1}`,
              methods: ["pin"],
              users: [],
              roles: [],
            },
          ])
        }
      >
        Add a set
      </button>
    </>
  );
};

export const PoliciesPage = () => {
  const { data, error, reload } = useLoad(adminApi.policies);
  const [generation, setGeneration] = useState(0);
  const [saved, setSaved] = useState<{ id: string; text: string }>();
  if (error)
    return (
      <div className="page">
        <h1>Policies</h1>
        <AdminError error={error} />
      </div>
    );
  if (!data)
    return (
      <div className="page">
        <h1>Policies</h1>
        <p role="status">Loading…</p>
      </div>
    );
  const { canManage } = data;
  const pin = data.pin.policy;
  const portal = data.portal;
  const onSaved = async (id: string, text: string) => {
    await reload();
    setSaved({ id, text });
    // Each section starts again from what was saved.
    setGeneration((g) => g + 1);
  };
  const common = { canManage, onSaved, saved };
  return (
    <div className="page" key={generation}>
      <h1>Policies</h1>
      {!canManage && (
        <Notice kind="info" title="You can read these policies but not change them">
          Changing policies needs the {data.manageRoles.join(" or ")} role. Ask someone with one of these
          roles to make the change, or to give you the role.
        </Notice>
      )}
      <p className="hint">
        PIN policy version {data.pin.version}. Every change is previewed, then saved as a new version.
      </p>

      <Section
        id="pin-rules"
        title="PIN rules"
        kind="pin"
        {...common}
        initial={{
          minLength: pin.minLength,
          maxLength: pin.maxLength,
          digits: pin.digits,
          lowercase: pin.lowercase,
          uppercase: pin.uppercase,
          special: pin.special,
          history: pin.history,
          expirationDays: pin.expirationDays,
          blockSimplePins: pin.blockSimplePins,
          blockRepeatedGroups: pin.blockRepeatedGroups,
          blockCommonPins: pin.blockCommonPins,
          forceChangeAfterAdminReset: pin.forceChangeAfterAdminReset,
          temporaryPin: pin.temporaryPin,
        }}
      >
        {(draft, edit, disabled) => (
          <>
            <ul className="hint">
              {data.pin.description.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
            <div className="form-grid">
              <NumberField path="minLength" {...{ draft, edit, disabled }} hint="4 to 127" />
              <NumberField path="maxLength" {...{ draft, edit, disabled }} hint="up to 127" />
              {(["digits", "lowercase", "uppercase", "special"] as const).map((rule) => (
                <label key={rule}>
                  {LABELS[rule]}
                  <select
                    value={draft[rule]}
                    onChange={(e) => edit(rule, e.target.value)}
                    disabled={disabled}
                  >
                    {RULE_CHOICES.map(([v, words]) => (
                      <option key={v} value={v}>
                        {words}
                      </option>
                    ))}
                  </select>
                </label>
              ))}
              <NumberField path="history" {...{ draft, edit, disabled }} hint="0 to 50" />
              <NumberField path="expirationDays" {...{ draft, edit, disabled }} hint="0 to 730" />
              <NumberField path="temporaryPin.length" {...{ draft, edit, disabled }} />
              <NumberField path="temporaryPin.expiryHours" {...{ draft, edit, disabled }} hint="1 to 720" />
            </div>
            <Check path="blockSimplePins" {...{ draft, edit, disabled }} />
            <Check path="blockRepeatedGroups" {...{ draft, edit, disabled }} />
            <Check path="blockCommonPins" {...{ draft, edit, disabled }} />
            <Check path="forceChangeAfterAdminReset" {...{ draft, edit, disabled }} />
          </>
        )}
      </Section>

      <Section id="lockout" title="Lockout" kind="pin" {...common} initial={{ lockout: pin.lockout }}>
        {(draft, edit, disabled) => (
          <div className="form-grid">
            <NumberField path="lockout.threshold" {...{ draft, edit, disabled }} hint="1 to 100" />
            <label>
              {LABELS["lockout.mode"]}
              <select
                value={draft.lockout.mode}
                onChange={(e) => edit("lockout.mode", e.target.value)}
                disabled={disabled}
              >
                <option value="temporary">temporary (unlocks by itself)</option>
                <option value="permanent">permanent (until an administrator unblocks)</option>
              </select>
            </label>
            <NumberField path="lockout.initialLockSeconds" {...{ draft, edit, disabled }} />
            <NumberField path="lockout.maxLockSeconds" {...{ draft, edit, disabled }} />
            <NumberField path="lockout.decaySeconds" {...{ draft, edit, disabled }} />
          </div>
        )}
      </Section>

      <Section
        id="qr"
        title="QR code + PIN method (badges)"
        kind="qr"
        {...common}
        initial={{
          state: data.qr.state,
          pinLength: data.qr.pinLength,
          standardQRCodeLifetimeInDays: data.qr.standardQRCodeLifetimeInDays,
        }}
      >
        {(draft, edit, disabled) => (
          <div className="form-grid">
            <label>
              {LABELS.state}
              <select value={draft.state} onChange={(e) => edit("state", e.target.value)} disabled={disabled}>
                <option value="enabled">on</option>
                <option value="disabled">off</option>
              </select>
            </label>
            <NumberField path="pinLength" {...{ draft, edit, disabled }} hint="8 to 20 digits" />
            <NumberField path="standardQRCodeLifetimeInDays" {...{ draft, edit, disabled }} hint="1 to 395" />
          </div>
        )}
      </Section>

      <Section
        id="sign-in"
        title="Sign-in: authentication sets and sessions"
        kind="portal"
        {...common}
        initial={{
          authSets: portal.authSets,
          defaultSetId: portal.defaultSetId,
          enrolDuringSignIn: portal.enrolDuringSignIn,
          helpdeskContact: portal.helpdeskContact,
          sessions: portal.sessions,
        }}
      >
        {(draft, edit, disabled) => (
          <>
            <p>Each user signs in with every method of their set, one after another.</p>
            <AuthSetEditor draft={draft} edit={edit} disabled={disabled} />
            <div className="form-grid">
              <label>
                {LABELS.helpdeskContact}
                <input
                  value={draft.helpdeskContact}
                  onChange={(e) => edit("helpdeskContact", e.target.value)}
                  disabled={disabled}
                />
              </label>
              <NumberField path="sessions.idleMinutes" {...{ draft, edit, disabled }} hint="1 to 240" />
              <NumberField path="sessions.absoluteHours" {...{ draft, edit, disabled }} hint="1 to 24" />
            </div>
            <Check path="enrolDuringSignIn" {...{ draft, edit, disabled }} />
          </>
        )}
      </Section>

      <Section
        id="emergency"
        title="Emergency Access (security questions)"
        kind="portal"
        {...common}
        initial={{ emergencyAccess: portal.emergencyAccess }}
      >
        {(draft, edit, disabled) => {
          const ea = draft.emergencyAccess;
          return (
            <>
              <Check
                path="emergencyAccess.enabled"
                label="Users may reset their PIN by answering their security questions"
                {...{ draft, edit, disabled }}
              />
              <p className="checks-title">Questions users choose from:</p>
              <ol>
                {ea.questions.map((qn: { id: string; text: string }, i: number) => (
                  <li key={qn.id}>
                    <div className="inline">
                      <input
                        aria-label={`Question ${i + 1}`}
                        value={qn.text}
                        onChange={(e) =>
                          edit(`emergencyAccess.questions.${i}`, { ...qn, text: e.target.value })
                        }
                        disabled={disabled}
                        size={50}
                      />
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={disabled}
                        onClick={() =>
                          edit(
                            "emergencyAccess.questions",
                            ea.questions.filter((_: unknown, j: number) => j !== i),
                          )
                        }
                      >
                        Remove
                      </button>
                    </div>
                  </li>
                ))}
              </ol>
              <button
                type="button"
                className="btn btn-small"
                disabled={disabled}
                onClick={() =>
                  edit("emergencyAccess.questions", [
                    ...ea.questions,
                    { id: `q${Date.now().toString(36)}`, text: "" },
                  ])
                }
              >
                Add a question
              </button>
              <div className="form-grid">
                <NumberField
                  path="emergencyAccess.registerCount"
                  {...{ draft, edit, disabled }}
                  hint="3 to 10"
                />
                <NumberField
                  path="emergencyAccess.askCount"
                  {...{ draft, edit, disabled }}
                  hint="no more than registered"
                />
              </div>
              <Check path="emergencyAccess.allowPreviousPin" {...{ draft, edit, disabled }} />
            </>
          );
        }}
      </Section>

      <Section
        id="recovery"
        title="Forgot PIN: recovery codes"
        kind="portal"
        {...common}
        initial={{ recovery: portal.recovery }}
      >
        {(draft, edit, disabled) => (
          <>
            <p className="checks-title">{LABELS["recovery.channels"]}:</p>
            <div className="inline">
              {(["email", "sms"] as const).map((c) => (
                <label className="checkbox" key={c}>
                  <input
                    type="checkbox"
                    checked={draft.recovery.channels.includes(c)}
                    disabled={disabled}
                    onChange={(e) =>
                      edit(
                        "recovery.channels",
                        e.target.checked
                          ? (["email", "sms"] as const).filter(
                              (x) => x === c || draft.recovery.channels.includes(x),
                            )
                          : draft.recovery.channels.filter((x: string) => x !== c),
                      )
                    }
                  />{" "}
                  {c === "email" ? "Email" : "Text message"}
                </label>
              ))}
            </div>
            <div className="form-grid">
              <NumberField path="recovery.codeLength" {...{ draft, edit, disabled }} hint="6 to 8" />
              <NumberField path="recovery.ttlMinutes" {...{ draft, edit, disabled }} hint="1 to 60" />
              <NumberField path="recovery.maxTries" {...{ draft, edit, disabled }} hint="1 to 10" />
              <NumberField
                path="recovery.resendCooldownSeconds"
                {...{ draft, edit, disabled }}
                hint="10 to 600"
              />
              <NumberField path="recovery.perUserPerHour" {...{ draft, edit, disabled }} hint="1 to 100" />
              <NumberField path="recovery.perIpPerHour" {...{ draft, edit, disabled }} hint="1 to 10,000" />
            </div>
          </>
        )}
      </Section>
    </div>
  );
};
