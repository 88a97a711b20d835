import { type FormEvent, useState } from "react";
import { useLoad } from "../../lib/use-load.ts";
import { AdminError } from "./AdminNotices.tsx";
import {
  ACTION_WORDS,
  type AuditEvent,
  actionWords,
  actorWords,
  adminApi,
  outcomeWords,
  when,
} from "./admin-api.tsx";

interface Filters {
  user: string;
  actor: string;
  action: string;
  from: string;
  to: string;
}
const EMPTY: Filters = { user: "", actor: "", action: "", from: "", to: "" };

/** A day typed in the page (yyyy-mm-dd, UTC like every time shown) as the API's time bounds. */
const bounds = (f: Filters) => ({
  from: f.from ? new Date(`${f.from}T00:00:00Z`).toISOString() : undefined,
  // Up to the end of the "to" day.
  to: f.to ? new Date(Date.parse(`${f.to}T00:00:00Z`) + 86_400_000).toISOString() : undefined,
});

const ACTION_CHOICES: [string, string][] = [
  ["", "Any action"],
  ["pin.*", "Anything about PINs"],
  // One choice per wording (several codes read the same, e.g. two ways a badge is created).
  ...Object.entries(ACTION_WORDS).filter(([, words], i, all) => all.findIndex(([, w]) => w === words) === i),
  ["policy.*", "Any policy change"],
  ["recovery.*", "Anything about recovery"],
  ["qr.*", "Anything about QR badges"],
];

export const AuditPage = () => {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const params = {
    user: applied.user.trim() || undefined,
    actor: applied.actor.trim() || undefined,
    action: applied.action || undefined,
    ...bounds(applied),
  };
  const key = JSON.stringify(params);
  // The filter is part of the load: applying it fetches again.
  const { data, error, loading } = useLoad(() => adminApi.audit(params), [key]);
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setApplied(filters);
  };
  const field = (name: keyof Filters) => ({
    value: filters[name],
    onChange: (e: { target: { value: string } }) => setFilters({ ...filters, [name]: e.target.value }),
  });
  const active = Object.values(applied).some((v) => v !== "");
  return (
    <div className="page">
      <h1>Audit</h1>
      <form className="filters" onSubmit={apply}>
        <label>
          User (user name or id)
          <input {...field("user")} placeholder="lee@contoso.com" />
        </label>
        <label>
          Done by
          <input {...field("actor")} placeholder="ana@contoso.com" />
        </label>
        <label>
          Action
          <select {...field("action")}>
            {ACTION_CHOICES.map(([code, words]) => (
              <option key={code} value={code}>
                {words}
              </option>
            ))}
          </select>
        </label>
        <label>
          From (day, UTC)
          <input type="date" {...field("from")} />
        </label>
        <label>
          To (day, UTC)
          <input type="date" {...field("to")} />
        </label>
        <div className="actions">
          <button type="submit" className="btn btn-primary">
            Filter
          </button>
          {active && (
            <button
              type="button"
              className="btn"
              onClick={() => {
                setFilters(EMPTY);
                setApplied(EMPTY);
              }}
            >
              Clear filters
            </button>
          )}
        </div>
      </form>
      <p>
        Export everything that matches: <a href={adminApi.auditUrl({ ...params, format: "csv" })}>CSV</a> ·{" "}
        <a href={adminApi.auditUrl({ ...params, format: "jsonl" })}>JSON lines</a>
      </p>
      <AdminError error={error} />
      <p className="hint" aria-live="polite" data-testid="audit-count">
        {loading
          ? "Loading…"
          : data
            ? data.events.length === 0
              ? "No events match."
              : data.more
                ? `The newest ${data.events.length} matching events. There are more: narrow the filter, or export them all.`
                : `${data.events.length} matching event${data.events.length === 1 ? "" : "s"}.`
            : ""}
      </p>
      <AuditTable events={data?.events ?? []} />
    </div>
  );
};

const AuditTable = ({ events }: { events: AuditEvent[] }) => (
  <div className="table-wrap">
    <table className="table table-cards" data-testid="audit-table">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Done by</th>
          <th scope="col">What</th>
          <th scope="col">User</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id} data-action={e.action} data-actor={e.actor}>
            <td data-label="When" className="nowrap">
              {when(e.at)}
            </td>
            <td data-label="Done by">{actorWords(e.actor)}</td>
            <td data-label="What">{actionWords(e.action)}</td>
            <td data-label="User">{e.targetUpn ?? ""}</td>
            <td data-label="Outcome">{outcomeWords(e.outcome, e.reason)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);
