/**
 * The signed-in session: who is signed in, the CSRF token for changes, the idle timer, and the notice
 * to show after a redirect ("Your session ended — sign in again").
 */
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import { api, type SessionInfo, setActivityHandler, setCsrfToken, setSessionEndedHandler } from "../api.ts";
import { currentPath, navigate } from "./router.ts";
import { msUntilServerTime } from "./time.ts";

export type SessionState =
  | { status: "loading" }
  | { status: "signedOut" }
  | { status: "signedIn"; info: SessionInfo };

export interface Notice {
  id: number;
  kind: "info" | "success" | "warning";
  text: string;
}

let noticeCount = 0;

export interface Deadline {
  at: number;
  kind: "idle" | "absolute";
}

interface SessionContextValue {
  state: SessionState;
  /** When (Date.now() scale) the session ends, and why: inactivity or its absolute limit; when known. */
  deadline: Deadline | undefined;
  notice: Notice | undefined;
  /** Shows a notice on the page being shown (set it in the same tick as a navigate()). */
  setNotice(notice: Omit<Notice, "id"> | undefined): void;
  /** After the last sign-in step: load the new session. */
  signedIn(csrfToken: string | undefined): Promise<SessionInfo | undefined>;
  /** Keeps the session alive (any signed-in request restarts the idle timer). */
  stayActive(): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export const useSession = (): SessionContextValue => {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
};

/** The server touches a session at most once a minute, so its idle clock may lag ours by that much. */
const TOUCH_GRANULARITY_MS = 60_000;

export const SessionProvider = ({ children }: { children: ReactNode }) => {
  const [state, setState] = useState<SessionState>({ status: "loading" });
  const [notice, setNoticeState] = useState<Notice>();
  const setNotice = useCallback((n: Omit<Notice, "id"> | undefined) => {
    setNoticeState(n ? { ...n, id: ++noticeCount } : undefined);
  }, []);
  const [deadline, setDeadline] = useState<Deadline>();
  const idleMs = useRef<number | undefined>(undefined);
  const absoluteEnd = useRef<number | undefined>(undefined);
  const signedInRef = useRef(false);

  const applySession = useCallback((info: SessionInfo) => {
    setCsrfToken(info.csrfToken);
    signedInRef.current = true;
    setState({ status: "signedIn", info });
    const idle = msUntilServerTime(info.idleExpiresAt);
    const absolute = msUntilServerTime(info.expiresAt);
    idleMs.current = idle !== undefined && idle > TOUCH_GRANULARITY_MS ? idle : undefined;
    absoluteEnd.current = absolute !== undefined ? Date.now() + absolute : undefined;
  }, []);

  const restartIdle = useCallback(() => {
    if (!signedInRef.current) return;
    const candidates: Deadline[] = [];
    if (idleMs.current !== undefined)
      candidates.push({ at: Date.now() + idleMs.current - TOUCH_GRANULARITY_MS, kind: "idle" });
    if (absoluteEnd.current !== undefined) candidates.push({ at: absoluteEnd.current, kind: "absolute" });
    setDeadline(candidates.sort((a, b) => a.at - b.at)[0]);
  }, []);

  useEffect(() => {
    setActivityHandler(restartIdle);
    setSessionEndedHandler((reason) => {
      if (!signedInRef.current) return;
      signedInRef.current = false;
      setCsrfToken(undefined);
      setDeadline(undefined);
      setState({ status: "signedOut" });
      setNotice({
        kind: "warning",
        text:
          reason === "idle"
            ? "Your session ended because it was not used for a while — sign in again."
            : "Your session ended — sign in again.",
      });
      if (currentPath().startsWith("/me") || currentPath().startsWith("/admin"))
        navigate("/", { replace: true });
    });
    let cancelled = false;
    api
      .session()
      .then((info) => {
        if (cancelled) return;
        applySession(info);
        restartIdle();
      })
      .catch(() => {
        if (!cancelled) setState({ status: "signedOut" });
      });
    return () => {
      cancelled = true;
      setActivityHandler(undefined);
      setSessionEndedHandler(undefined);
    };
  }, [applySession, restartIdle, setNotice]);

  const signedIn = useCallback(
    async (csrfToken: string | undefined) => {
      setCsrfToken(csrfToken);
      try {
        const info = await api.session();
        applySession(info);
        restartIdle();
        return info;
      } catch {
        setState({ status: "signedOut" });
        return undefined;
      }
    },
    [applySession, restartIdle],
  );

  const stayActive = useCallback(async () => {
    try {
      applySession(await api.session());
      restartIdle();
    } catch {
      // notSignedIn is handled by the session-ended handler; anything else leaves the timer as it was.
    }
  }, [applySession, restartIdle]);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } catch {
      // Already signed out (the session ended meanwhile): the outcome is the same.
    } finally {
      signedInRef.current = false;
      setCsrfToken(undefined);
      setDeadline(undefined);
      setState({ status: "signedOut" });
      setNotice({ kind: "success", text: "You are signed out." });
      navigate("/", { replace: true });
    }
  }, [setNotice]);

  const value = useMemo(
    () => ({ state, deadline, notice, setNotice, signedIn, stayActive, signOut }),
    [state, deadline, notice, setNotice, signedIn, stayActive, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
};
