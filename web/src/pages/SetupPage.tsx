import { type FormEvent, useState } from "react";
import { type ApiError, http, toApiError } from "../api.ts";
import { Link } from "../components/Link.tsx";
import { ErrorNotice, Notice } from "../components/Notices.tsx";
import { useSession } from "../lib/session.tsx";

/** First run: the one-time link printed by `npm start` creates the first administrator. */
export const SetupPage = () => {
  const session = useSession();
  const token = window.location.hash.slice(1);
  const [form, setForm] = useState({ userPrincipalName: "", displayName: "", pin: "", confirmPin: "" });
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await http.post<{ message: string; csrfToken: string }>("/setup", { token, ...form });
      await session.signedIn(r.csrfToken);
      window.history.replaceState(null, "", window.location.pathname);
      setDone(r.message);
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };

  if (done)
    return (
      <div className="page page-narrow">
        <h1>Welcome to PinDesk</h1>
        <Notice kind="success" title="Administrator created">
          {done}
        </Notice>
        <p>
          <Link to="/me/methods" className="btn btn-primary">
            Add my sign-in methods
          </Link>{" "}
          <Link to="/admin" className="btn">
            Go to the admin portal
          </Link>
        </p>
      </div>
    );

  const field = (name: keyof typeof form, label: string, type = "text") => (
    <label>
      {label}
      <input
        type={type}
        name={name}
        inputMode={type === "password" ? "numeric" : undefined}
        autoComplete="off"
        value={form[name]}
        onChange={(e) => setForm({ ...form, [name]: e.target.value })}
      />
    </label>
  );
  return (
    <div className="page page-narrow">
      <h1>Create the first administrator</h1>
      {!token && (
        <Notice kind="warning" title="This page needs the setup link">
          Open the link that `npm start` (or `pindesk admin create`) printed.
        </Notice>
      )}
      <form className="stack" onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        {field("userPrincipalName", "Your user name (e.g. you@contoso.com)")}
        {field("displayName", "Your name")}
        {field("pin", "Choose a PIN", "password")}
        {field("confirmPin", "Type the PIN again", "password")}
        <div className="actions">
          <button type="submit" className="btn btn-primary" disabled={busy || !token}>
            {busy ? "Creating…" : "Create administrator"}
          </button>
        </div>
      </form>
    </div>
  );
};
