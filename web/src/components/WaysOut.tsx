import { usePinPolicy } from "../lib/policy.ts";
import { Link } from "./Link.tsx";

interface WaysOutProps {
  upn?: string | undefined;
  /** Known from the recovery flow; otherwise taken from the policy endpoint when it says. */
  emergencyAccess?: boolean | undefined;
  helpdeskContact?: string | undefined;
  onStartAgain?: (() => void) | undefined;
  title?: string;
  hide?: ("forgot" | "emergency")[];
}

/** Never a dead end: every sign-in and recovery screen offers the other ways back in. */
export const WaysOut = ({
  upn,
  emergencyAccess,
  helpdeskContact,
  onStartAgain,
  title = "Other ways in",
  hide = [],
}: WaysOutProps) => {
  const info = usePinPolicy();
  const emergency = emergencyAccess ?? info?.emergencyAccess ?? true;
  const helpdesk = helpdeskContact ?? info?.helpdeskContact ?? "your help desk";
  const state = upn ? { upn } : undefined;
  return (
    <aside className="ways-out" aria-label={title}>
      <h2 className="h3">{title}</h2>
      <ul>
        {!hide.includes("forgot") && (
          <li>
            <Link to="/forgot" state={state}>
              Forgot your PIN?
            </Link>{" "}
            Get a code by email or text message.
          </li>
        )}
        {emergency && !hide.includes("emergency") && (
          <li>
            <Link to="/emergency" state={state}>
              Emergency Access
            </Link>{" "}
            Answer your security questions to set a new PIN.
          </li>
        )}
        {onStartAgain && (
          <li>
            <button type="button" className="link-button" onClick={onStartAgain}>
              Start again
            </button>{" "}
            with a different user name.
          </li>
        )}
        <li>
          Still stuck? Contact <strong>{helpdesk}</strong>.
        </li>
      </ul>
    </aside>
  );
};
