/**
 * A tiny client-side router for the portal's handful of pages: paths below /portal, history state for
 * passing a user name between pages (never in the URL, so it stays out of server logs).
 */
import { useSyncExternalStore } from "react";

export const BASE = "/portal";
const CHANGE = "pindesk:navigate";

const subscribe = (callback: () => void) => {
  window.addEventListener("popstate", callback);
  window.addEventListener(CHANGE, callback);
  return () => {
    window.removeEventListener("popstate", callback);
    window.removeEventListener(CHANGE, callback);
  };
};

/** The path inside the portal: "/", "/forgot", "/me/methods". */
export const currentPath = (): string => {
  const p = window.location.pathname;
  const inner = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  const trimmed = inner.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
};

export const usePath = (): string => useSyncExternalStore(subscribe, currentPath, () => "/");

export interface NavState {
  upn?: string;
}

export const navState = (): NavState => {
  const s = window.history.state as unknown;
  return typeof s === "object" && s !== null ? (s as NavState) : {};
};

export const href = (to: string) => (to === "/" ? `${BASE}/` : `${BASE}${to}`);

export const navigate = (to: string, options: { replace?: boolean; state?: NavState } = {}) => {
  const url = href(to);
  if (options.replace) window.history.replaceState(options.state ?? null, "", url);
  else window.history.pushState(options.state ?? null, "", url);
  window.dispatchEvent(new Event(CHANGE));
  window.scrollTo(0, 0);
};
