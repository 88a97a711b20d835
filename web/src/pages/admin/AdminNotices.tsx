/** Errors on the admin pages in words a help desk can act on (not "see /docs" or "details.problems"). */
import { type ReactNode, useEffect, useRef } from "react";
import { ApiError } from "../../api.ts";
import { ErrorNotice } from "../../components/Notices.tsx";

const MITIGATIONS: Record<string, string> = {
  invalidPolicy: "Correct the settings listed above, then preview and save again.",
  invalidRequest: "Correct what is listed above and try again.",
  userNotFound: "Check the spelling, or search for the user on the Users page.",
  notFound: "Open the page again from the menu.",
  methodNotAllowed: "Open the page again from the menu.",
  malformedJson: "Reload the page and try again.",
};

/** A sentence pointing at developer material is replaced; the rest of the advice is kept. */
const forAdmins = (code: string, mitigation: string): string => {
  if (MITIGATIONS[code]) return MITIGATIONS[code] as string;
  const kept = mitigation
    .split(/(?<=\.)\s+|;\s+/)
    .filter((s) => !/\/docs|details\.|the README|pindesk [a-z]+ /i.test(s));
  return kept.length > 0 ? kept.join(" ") : "Try again; if it keeps happening, tell whoever runs PinDesk.";
};

/**
 * An API error on an admin page. `labels` names the fields as the page does ("lockout.threshold" →
 * "Wrong PINs before lockout").
 */
export const AdminError = ({
  error,
  labels = {},
  children,
}: {
  error: ApiError | undefined;
  labels?: Record<string, string>;
  children?: ReactNode;
}) => {
  if (!error) return null;
  const problems = error.problems.map((p) => ({ ...p, field: labels[p.field] ?? p.field }));
  const shown = new ApiError(
    error.status,
    error.code,
    error.message,
    forAdmins(error.code, error.mitigation),
    {
      ...error.details,
      ...(problems.length > 0 && { problems }),
    },
  );
  return <ErrorNotice error={shown}>{children}</ErrorNotice>;
};

/**
 * The outcome of an action, announced and focused: the button that was pressed may be gone (Unblock
 * disappears once the PIN is unlocked), so keyboard focus moves here instead of falling to the page.
 */
export const ResultNotice = ({
  kind,
  title,
  children,
  focusKey,
}: {
  kind: "success" | "error" | "warning";
  title: string;
  children: ReactNode;
  /** Changes with each new result, so focus moves again. */
  focusKey: number;
}) => {
  const ref = useRef<HTMLDivElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus follows each new result.
  useEffect(() => {
    // After the frame: a dialog closing in the same update hands focus back to its opener first.
    const frame = requestAnimationFrame(() => ref.current?.focus());
    return () => cancelAnimationFrame(frame);
  }, [focusKey]);
  return (
    <div
      ref={ref}
      tabIndex={-1}
      className={`notice notice-${kind === "error" ? "error" : kind}`}
      role={kind === "error" ? "alert" : "status"}
      data-testid="action-result"
    >
      <p className="notice-title">{title}</p>
      {children}
    </div>
  );
};
