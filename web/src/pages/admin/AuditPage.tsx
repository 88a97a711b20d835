import { useState } from "react";
import { ErrorNotice } from "../../components/Notices.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { adminApi, when } from "./admin-api.tsx";

export const AuditPage = () => {
  const [filters, setFilters] = useState({ user: "", actor: "", action: "" });
  const [applied, setApplied] = useState(filters);
  const params = {
    user: applied.user || undefined,
    actor: applied.actor || undefined,
    action: applied.action || undefined,
  };
  const { data, error } = useLoad(() => adminApi.audit(params));
  const key = JSON.stringify(applied);
  return (
    <div className="page" key={key}>
      <h1>Audit</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        {(["user", "actor", "action"] as const).map((f) => (
          <label key={f}>
            {f === "user"
              ? "User (id or user name)"
              : f === "actor"
                ? "Done by (e.g. user:ana@contoso.com)"
                : "Action (e.g. pin.reset or pin.*)"}
            <input value={filters[f]} onChange={(e) => setFilters({ ...filters, [f]: e.target.value })} />
          </label>
        ))}
        <button type="submit" className="btn btn-primary">
          Filter
        </button>
      </form>
      <p>
        Export: <a href={adminApi.auditUrl({ ...params, format: "csv", limit: "10000" })}>CSV</a> ·{" "}
        <a href={adminApi.auditUrl({ ...params, format: "jsonl", limit: "10000" })}>JSON lines</a>
      </p>
      <ErrorNotice error={error} />
      <AuditTable key={key} events={data?.events ?? []} />
    </div>
  );
};

const AuditTable = ({
  events,
}: {
  events: {
    id: string;
    at: string;
    actor: string;
    action: string;
    outcome: string;
    reason: string | null;
    targetUpn: string | null;
    ip: string | null;
  }[];
}) => (
  <div className="table-wrap">
    <table className="table">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Done by</th>
          <th scope="col">Action</th>
          <th scope="col">User</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td>{when(e.at)}</td>
            <td>{e.actor}</td>
            <td>{e.action}</td>
            <td>{e.targetUpn ?? ""}</td>
            <td>
              {e.outcome}
              {e.reason ? ` (${e.reason})` : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
);
