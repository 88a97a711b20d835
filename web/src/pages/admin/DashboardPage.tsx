import { Link } from "../../components/Link.tsx";
import { ErrorNotice } from "../../components/Notices.tsx";
import { useLoad } from "../../lib/use-load.ts";
import { adminApi, type State } from "./admin-api.tsx";

const Bars = ({ title, days }: { title: string; days: { day: string; count: number }[] }) => {
  const max = Math.max(1, ...days.map((d) => d.count));
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      <table className="bars">
        <tbody>
          {days.map((d) => (
            <tr key={d.day}>
              <th scope="row">
                {new Date(`${d.day}T00:00:00Z`).toLocaleDateString([], {
                  weekday: "short",
                  day: "numeric",
                  timeZone: "UTC",
                })}
              </th>
              <td>
                <span className="bar" style={{ width: `${(d.count / max) * 100}%` }} />
                <span className="bar-value">{d.count}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
};

export const DashboardPage = () => {
  const { data, error } = useLoad(adminApi.dashboard);
  return (
    <div className="page">
      <h1>Dashboard</h1>
      <ErrorNotice error={error} />
      {data && (
        <>
          <div className="cards">
            {(Object.entries(data.usersPerState) as [State, number][]).map(([state, n]) => (
              <section className="card" key={state}>
                <p className="stat">{n.toLocaleString()}</p>
                <p>
                  <Link to={`/admin/users?state=${encodeURIComponent(state)}`}>{state}</Link>
                </p>
              </section>
            ))}
          </div>
          <div className="cards">
            <Bars title="Lockouts, last 7 days" days={data.lockouts} />
            <Bars title="Resets and unblocks, last 7 days" days={data.resets} />
            <Bars title="Failed deliveries, last 7 days" days={data.failedDeliveries} />
          </div>
        </>
      )}
    </div>
  );
};
