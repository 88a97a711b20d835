import { type ReactNode, useEffect, useRef, useState } from "react";
import { isAdministrator } from "../../../src/domain/roles.ts";
import { ANNOUNCER_ID } from "../lib/announce.ts";
import { usePath } from "../lib/router.ts";
import { useSession } from "../lib/session.tsx";
import { formatCountdown } from "../lib/time.ts";
import { Link } from "./Link.tsx";

const NAV = [
  { to: "/me", label: "My account" },
  { to: "/me/methods", label: "My methods" },
  { to: "/me/pin", label: "Change My PIN" },
  { to: "/me/approvals", label: "Approvals" },
  { to: "/me/questions", label: "Security questions" },
];

/** Shown in the last two minutes before the session ends for inactivity; never a surprise logout. */
const IdleBanner = () => {
  const { deadline, stayActive, signOut, setNotice } = useSession();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (deadline === undefined) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [deadline]);
  const left = deadline === undefined ? undefined : deadline.at - now;
  const idle = deadline?.kind !== "absolute";
  const ended = left !== undefined && left <= 0;
  useEffect(() => {
    if (!ended) return;
    // End it on the server too, rather than leave a session behind on a shared screen.
    void signOut().then(() =>
      setNotice({
        kind: "warning",
        text: idle
          ? "You were signed out because the session was not used for a while. Sign in again to continue."
          : "You were signed out because sessions last a limited time. Sign in again to continue.",
      }),
    );
  }, [ended, idle, signOut, setNotice]);
  if (left === undefined || left > 120_000 || ended) return null;
  return (
    <div className="idle-banner">
      <p role="alert">
        {idle
          ? "For your security you will be signed out soon because this page has not been used."
          : "Your session reaches its time limit soon; save what you are doing and sign in again afterwards."}
      </p>
      <p>
        Time left: <strong>{formatCountdown(left)}</strong>
      </p>
      {idle && (
        <button type="button" className="btn btn-primary" onClick={() => void stayActive()}>
          Stay signed in
        </button>
      )}
    </div>
  );
};

export const Layout = ({ children }: { children: ReactNode }) => {
  const path = usePath();
  const { state, signOut, notice, setNotice } = useSession();
  const shown = useRef<{ id: number; path: string } | undefined>(undefined);

  // A notice belongs to the page it was first shown on; moving on clears it.
  useEffect(() => {
    if (!notice) return;
    if (shown.current?.id !== notice.id) shown.current = { id: notice.id, path };
    else if (shown.current.path !== path) setNotice(undefined);
  }, [path, notice, setNotice]);

  const signedIn = state.status === "signedIn";
  const roles = signedIn ? state.info.user.roles : [];
  const nav = isAdministrator(roles) ? [...NAV, { to: "/admin", label: "Admin" }] : NAV;

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="header-inner">
          <Link to={signedIn ? "/me" : "/"} className="brand">
            <span className="brand-mark" aria-hidden="true">
              ●
            </span>{" "}
            PinDesk
          </Link>
          {signedIn && (
            <div className="header-user">
              <span className="header-name" title={state.info.user.userPrincipalName}>
                {state.info.user.displayName || state.info.user.userPrincipalName}
              </span>
              <button type="button" className="btn btn-small" onClick={() => void signOut()}>
                Sign out
              </button>
            </div>
          )}
        </div>
        {signedIn && (
          <nav className="main-nav" aria-label="Your account">
            <ul>
              {nav.map((item) => {
                const current = item.to === "/me" ? path === "/me" : path.startsWith(item.to);
                return (
                  <li key={item.to}>
                    <Link to={item.to} aria-current={current ? "page" : undefined}>
                      {item.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
        )}
      </header>
      <main id="main" tabIndex={-1} className="main">
        {signedIn && <IdleBanner />}
        {notice && (
          <div className={`notice notice-${notice.kind} flash`} role="status" data-testid="flash">
            <p>{notice.text}</p>
          </div>
        )}
        {children}
      </main>
      <footer className="site-footer">
        <p>PinDesk — PIN and sign-in self-service.</p>
      </footer>
      <div id={ANNOUNCER_ID} className="sr-only" aria-live="polite" aria-atomic="true" />
    </>
  );
};
