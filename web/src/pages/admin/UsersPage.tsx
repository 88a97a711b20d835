import { useEffect, useState } from "react";
import { type ApiError, toApiError } from "../../api.ts";
import { Link } from "../../components/Link.tsx";
import { AdminError } from "./AdminNotices.tsx";
import { adminApi, StateBadge, type UserRow, when } from "./admin-api.tsx";

const STATES = ["", "Steady State", "Must Change", "Account Lockout", "No PIN"];

export const UsersPage = () => {
  const initialState = new URLSearchParams(window.location.search).get("state") ?? "";
  const [query, setQuery] = useState("");
  const [state, setState] = useState(initialState);
  const [rows, setRows] = useState<UserRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    const timer = setTimeout(async () => {
      setLoading(true);
      try {
        const page = await adminApi.users({ q: query.trim() || undefined, state: state || undefined });
        setRows(page.users);
        setCursor(page.nextCursor);
        setError(undefined);
      } catch (e) {
        setError(toApiError(e));
      } finally {
        setLoading(false);
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [query, state]);

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await adminApi.users({ q: query.trim() || undefined, state: state || undefined, cursor });
      setRows((r) => [...r, ...page.users]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(toApiError(e));
    }
  };

  return (
    <div className="page">
      <h1>Users</h1>
      <div className="filters">
        <label>
          Search by name, user name or email
          <input
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="e.g. ana, lopez, ana@contoso.com"
          />
        </label>
        <label>
          PIN state
          <select value={state} onChange={(e) => setState(e.target.value)}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s || "Any state"}
              </option>
            ))}
          </select>
        </label>
      </div>
      <AdminError error={error} />
      <p className="hint" aria-live="polite">
        {loading
          ? "Searching…"
          : rows.length === 0
            ? "No user matches. Try part of the first name or surname, or the start of the user name or email."
            : `${rows.length}${cursor ? "+" : ""} user${rows.length === 1 && !cursor ? "" : "s"}`}
      </p>
      <div className="table-wrap">
        <table className="table table-cards">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">User name</th>
              <th scope="col">PIN state</th>
              <th scope="col">Last sign-in</th>
              <th scope="col">Wrong PINs</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((u) => (
              <tr key={u.id}>
                <td data-label="Name">
                  {u.canOpen === false ? (
                    <>
                      {u.displayName}{" "}
                      <span className="hint" data-testid="cannot-open">
                        (your role can find this user but not open their page)
                      </span>
                    </>
                  ) : (
                    <Link to={`/admin/users/${encodeURIComponent(u.id)}`}>{u.displayName}</Link>
                  )}
                </td>
                <td data-label="User name">{u.userPrincipalName}</td>
                <td data-label="PIN state">
                  <StateBadge state={u.state} />
                </td>
                <td data-label="Last sign-in" className="nowrap">
                  {u.lastSignInAt ? when(u.lastSignInAt) : "never"}
                </td>
                <td data-label="Wrong PINs">{u.failedAttempts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" className="btn" onClick={more}>
          Load more
        </button>
      )}
    </div>
  );
};
