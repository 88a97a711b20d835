import { useState } from "react";
import { type ApiError, toApiError } from "../../api.ts";
import { ErrorNotice, Notice } from "../../components/Notices.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { adminApi } from "./admin-api.tsx";

type Fields = Record<string, string>;

const PIN_FIELDS: [string, string][] = [
  ["minLength", "Minimum length (4–127)"],
  ["maxLength", "Maximum length (up to 127)"],
  ["history", "PINs remembered (0–50)"],
  ["expirationDays", "Expires after days (0 = never)"],
  ["lockout.threshold", "Wrong PINs before lockout (1–100)"],
  ["lockout.initialLockSeconds", "First lock, seconds"],
  ["lockout.maxLockSeconds", "Longest lock, seconds"],
  ["qr.pinLength", "QR badge PIN length (8–20)"],
  ["qr.standardQRCodeLifetimeInDays", "QR badge lifetime, days (1–395)"],
];
const RULES = ["digits", "lowercase", "uppercase", "special"];

// biome-ignore lint/suspicious/noExplicitAny: the policy is a nested JSON document.
const read = (policy: any, path: string): string =>
  String(path.split(".").reduce((o, k) => o?.[k], policy) ?? "");

const toChange = (fields: Fields) => {
  const change: Record<string, unknown> = {};
  for (const [path, raw] of Object.entries(fields)) {
    const value = /^\d+$/.test(raw) ? Number(raw) : raw;
    const keys = path.split(".");
    let node = change;
    for (const k of keys.slice(0, -1)) {
      if (typeof node[k] !== "object" || node[k] === null) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys.at(-1) as string] = value;
  }
  return change;
};

export const PoliciesPage = () => {
  const { data, error, reload } = useLoad(adminApi.policies);
  const [fields, setFields] = useState<Fields>({});
  const [preview, setPreview] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const [failure, setFailure] = useState<ApiError>();

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
  const policy = data.pin.policy;
  const value = (path: string) => fields[path] ?? read(policy, path);
  const set = (path: string, v: string) => {
    setFields((f) => ({ ...f, [path]: v }));
    setPreview(undefined);
    setSaved(undefined);
  };
  const problems = (failure?.details.problems as { field: string; message: string }[] | undefined) ?? [];

  const doPreview = async () => {
    setFailure(undefined);
    try {
      const p = await adminApi.previewPin(toChange(fields));
      setPreview(
        p.message + (p.expiresNow ? ` ${p.expiresNow} PIN(s) expire as soon as this is saved.` : ""),
      );
    } catch (e) {
      setFailure(toApiError(e));
    }
  };
  const save = async () => {
    setFailure(undefined);
    try {
      const r = await adminApi.savePin(toChange(fields));
      setSaved(r.message);
      setFields({});
      setPreview(undefined);
      await reload();
    } catch (e) {
      setFailure(toApiError(e));
    }
  };

  return (
    <div className="page">
      <h1>Policies</h1>
      <section className="card" aria-labelledby="pin-policy">
        <h2 id="pin-policy">PIN policy (version {data.pin.version})</h2>
        <ul className="hint">
          {data.pin.description.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
        {saved && (
          <Notice kind="success" title="Saved">
            {saved}
          </Notice>
        )}
        <ErrorNotice error={failure} />
        <div className="form-grid">
          {PIN_FIELDS.map(([path, label]) => (
            <label key={path}>
              {label}
              <input
                inputMode="numeric"
                value={value(path)}
                onChange={(e) => set(path, e.target.value)}
                aria-invalid={problems.some((p) => p.field === path)}
              />
              {problems
                .filter((p) => p.field === path)
                .map((p) => (
                  <span className="field-error" key={p.message}>
                    {p.message}
                  </span>
                ))}
            </label>
          ))}
          {RULES.map((rule) => (
            <label key={rule}>
              {rule[0]?.toUpperCase()}
              {rule.slice(1)}
              <select value={value(rule)} onChange={(e) => set(rule, e.target.value)}>
                <option value="allowed">allowed</option>
                <option value="required">required</option>
                <option value="disallowed">not allowed</option>
              </select>
            </label>
          ))}
          <label>
            Lockout mode
            <select value={value("lockout.mode")} onChange={(e) => set("lockout.mode", e.target.value)}>
              <option value="temporary">temporary (unlocks by itself)</option>
              <option value="permanent">permanent (until an administrator unblocks)</option>
            </select>
          </label>
        </div>
        {preview && (
          <Notice kind="warning" title="What this change does">
            {preview}
          </Notice>
        )}
        <div className="actions">
          <button
            type="button"
            className="btn"
            onClick={doPreview}
            disabled={Object.keys(fields).length === 0}
          >
            Preview the effect
          </button>
          <button type="button" className="btn btn-primary" onClick={save} disabled={!preview}>
            Save
          </button>
        </div>
      </section>
      <section className="card" aria-labelledby="portal-policy">
        <h2 id="portal-policy">Sign-in and recovery</h2>
        <p>Authentication sets:</p>
        <ul>
          {/* biome-ignore lint/suspicious/noExplicitAny: policy document. */}
          {data.portal.authSets.map((s: any) => (
            <li key={s.id}>
              <strong>{s.name}</strong>: {s.methods.join(" + ")}
              {s.roles.length ? ` — for ${s.roles.join(", ")}` : ""}
              {s.users.length ? ` — ${s.users.length} user(s)` : ""}
              {s.id === data.portal.defaultSetId ? " (default)" : ""}
            </li>
          ))}
        </ul>
        <p>
          Emergency Access: <strong>{data.portal.emergencyAccess.enabled ? "on" : "off"}</strong> · recovery
          channels: {data.portal.recovery.channels.join(", ")} · help desk: {data.portal.helpdeskContact}
        </p>
        <p className="hint">
          Change these with PATCH /portal/api/admin/policies/portal (the API reference is at /docs).
        </p>
      </section>
      <section className="card" aria-labelledby="qr-policy">
        <h2 id="qr-policy">QR code + PIN method</h2>
        <p>
          State: <strong>{data.qr.state}</strong> · PIN length {data.qr.pinLength} · badges last{" "}
          {data.qr.standardQRCodeLifetimeInDays} days
        </p>
      </section>
    </div>
  );
};
