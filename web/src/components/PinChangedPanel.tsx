import { useEffect, useRef } from "react";
import { Link } from "./Link.tsx";

/** The explicit confirmation seed 001's admin dialog never gave: the PIN was changed, and what next. */
export const PinChangedPanel = ({ message, upn }: { message: string; upn?: string | undefined }) => {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <div className="success-panel" data-testid="pin-changed">
      <span className="success-icon" aria-hidden="true">
        ✓
      </span>
      <h1 ref={heading} tabIndex={-1}>
        PIN changed
      </h1>
      <p>{message.replace(/^PIN changed\.\s*/, "")}</p>
      <p className="hint">
        If your PIN was locked, it is unlocked now. We have sent a notice to your email address or phone.
      </p>
      <div className="actions">
        <Link to="/" state={upn ? { upn } : undefined} className="btn btn-primary">
          Sign in
        </Link>
      </div>
    </div>
  );
};
