import { Link } from "../../components/Link.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { AdminError } from "./AdminNotices.tsx";
import { adminApi, type State } from "./admin-api.tsx";

const Bars = ({
  title,
  days,
  note,
}: {
  title: string;
  days: { day: string; count: number; retrying?: number }[];
  note?: string;
}) => {
  const max = Math.max(1, ...days.map((d) => d.count));
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      <table className="bars">
        <tbody>
          {days.map((d) => (
            <tr key={d.day}>
              <th scope="row">
                {new Date(`${d.day}T00:00:00Z`).toLocaleDateString("en-GB", {
                  weekday: "short",
                  day: "numeric",
                  timeZone: "UTC",
                })}
              </th>
              <td>
                <span className="bar" style={{ width: `${(d.count / max) * 100}%` }} />
                <span className="bar-value">
                  {d.count}
                  {d.retrying ? ` (${d.retrying} retrying)` : ""}
                </span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {note && <p className="hint">{note}</p>}
    </section>
  );
};

export const DashboardPage = () => {
  const { data, error } = useLoad(adminApi.dashboard);
  return (
    <div className="page">
      <h1>Dashboard</h1>
      <AdminError error={error} />
      {!data && !error && <p role="status">Loading…</p>}
      {data && (
        <>
          <div className="cards">
            {(Object.entries(data.usersPerState) as [State, number][]).map(([state, n]) => (
              <section className="card" key={state}>
                <p className="stat" data-testid={`count-${state}`}>
                  {n.toLocaleString("en-GB")}
                </p>
                <p>
                  <Link to={`/admin/users?state=${encodeURIComponent(state)}`}>{state}</Link>
                </p>
              </section>
            ))}
          </div>
          <div className="cards">
            <Bars title="Lockouts, last 7 days" days={data.lockouts} />
            <Bars title="Resets and unblocks, last 7 days" days={data.resets} />
            <Bars
              title="Failed deliveries, last 7 days"
              days={data.failedDeliveries}
              note="Messages not delivered, and those still being retried after a failure (by the day they were sent)."
            />
          </div>
        </>
      )}
    </div>
  );
};
