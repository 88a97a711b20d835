/** The PIN policy (for live checks) and the organisation's help facts, fetched once per page load. */
import { useEffect, useState } from "react";
import { api, type PinPolicyInfo } from "../api.ts";

let cached: Promise<PinPolicyInfo> | undefined;

export const loadPinPolicy = (): Promise<PinPolicyInfo> => {
  cached ??= api.pinPolicy().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
};

/** undefined while loading (or when the policy could not be loaded: the server still checks). */
export const usePinPolicy = (): PinPolicyInfo | undefined => {
  const [info, setInfo] = useState<PinPolicyInfo>();
  useEffect(() => {
    let live = true;
    loadPinPolicy()
      .then((i) => live && setInfo(i))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return info;
};
