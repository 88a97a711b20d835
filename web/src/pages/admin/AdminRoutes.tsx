/**
 * The admin portal: dashboard, users, the user page with every help-desk action (each confirmed, each
 * ending in an explicit result), policies with a preview, audit with exports, troubleshooter.
 * The server enforces what each role may do; the pages only hide what would be refused anyway.
 */
import type { ReactNode } from "react";
import { Link } from "../../components/Link.tsx";
import { AuditPage } from "./AuditPage.tsx";
import { DashboardPage } from "./DashboardPage.tsx";
import { PoliciesPage } from "./PoliciesPage.tsx";
import { TroubleshooterPage } from "./TroubleshooterPage.tsx";
import { UserPage } from "./UserPage.tsx";
import { UsersPage } from "./UsersPage.tsx";

const NAV = [
  ["/admin", "Dashboard"],
  ["/admin/users", "Users"],
  ["/admin/policies", "Policies"],
  ["/admin/audit", "Audit"],
  ["/admin/troubleshooter", "Troubleshooter"],
] as const;

export const AdminRoutes = ({ path }: { path: string }) => {
  const userMatch = /^\/admin\/users\/([^/]+)$/.exec(path);
  let page: ReactNode;
  if (path === "/admin") page = <DashboardPage />;
  else if (path === "/admin/users") page = <UsersPage />;
  else if (userMatch?.[1]) page = <UserPage id={decodeURIComponent(userMatch[1])} />;
  else if (path === "/admin/policies") page = <PoliciesPage />;
  else if (path === "/admin/audit") page = <AuditPage />;
  else if (path === "/admin/troubleshooter") page = <TroubleshooterPage />;
  else
    page = (
      <div className="page">
        <h1>Not found</h1>
        <p>
          <Link to="/admin">Back to the dashboard</Link>
        </p>
      </div>
    );
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin">
        {NAV.map(([to, label]) => (
          <Link
            key={to}
            to={to}
            aria-current={path === to || (to !== "/admin" && path.startsWith(to)) ? "page" : undefined}
          >
            {label}
          </Link>
        ))}
      </nav>
      {page}
    </div>
  );
};
