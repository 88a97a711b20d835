import type { ReactNode } from "react";
import type { ApiError } from "../api.ts";
import { formatDateTime } from "../lib/time.ts";

const FIELD_NAMES: Record<string, string> = {
  cardNumber: "Badge number",
  address: "Email address",
  phone: "Phone number",
  name: "Name",
  code: "Code",
  userPrincipalName: "User name",
  newPin: "New PIN",
  confirmPin: "Confirm PIN",
};

const tries = (n: number) => (n === 0 ? "No tries left." : `${n} ${n === 1 ? "try" : "tries"} left.`);

/** The details of an error that a person can act on, in words. */
const detailLines = (error: ApiError): string[] => {
  const lines: string[] = [];
  const d = error.details;
  if (error.attemptsRemaining !== undefined) lines.push(tries(error.attemptsRemaining));
  if ("lockedUntil" in d) {
    lines.push(
      typeof d.lockedUntil === "string"
        ? `Locked until ${formatDateTime(d.lockedUntil)}.`
        : "It stays locked until your help desk unblocks it.",
    );
  }
  if (typeof d.expiredAt === "string") lines.push(`It expired on ${formatDateTime(d.expiredAt)}.`);
  if (typeof d.retryAt === "string") lines.push(`You can try again at ${formatDateTime(d.retryAt)}.`);
  return lines;
};

/** An error from the API: what happened, what to do, and the details that matter. */
export const ErrorNotice = ({ error, children }: { error: ApiError | undefined; children?: ReactNode }) => {
  if (!error) return null;
  const violations = error.violations;
  const problems = error.problems;
  return (
    <div className="notice notice-error" role="alert" data-error-code={error.code}>
      <p className="notice-title">{error.message}</p>
      {violations.length > 1 && (
        <ul>
          {violations.map((v) => (
            <li key={v.code}>{v.message}</li>
          ))}
        </ul>
      )}
      {problems.length > 0 && (
        <ul>
          {problems.map((p) => (
            <li key={`${p.field}:${p.message}`}>
              {FIELD_NAMES[p.field] ?? p.field} {p.message}
            </li>
          ))}
        </ul>
      )}
      {detailLines(error).map((line) => (
        <p key={line}>{line}</p>
      ))}
      <p className="notice-mitigation">{error.mitigation}</p>
      {children}
      {(error.status >= 500 || error.code === "httpError") && error.requestId && (
        <p className="notice-small">Reference for your help desk: {error.requestId}</p>
      )}
    </div>
  );
};

/** A calm status message (success or information); read out politely. */
export const Notice = ({
  kind = "info",
  title,
  children,
}: {
  kind?: "info" | "success" | "warning";
  title?: string;
  children?: ReactNode;
}) => (
  <div className={`notice notice-${kind}`} role="status">
    {title && <p className="notice-title">{title}</p>}
    {children}
  </div>
);
