import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, toApiError } from "../api.ts";

/**
 * Loads data for a page; `reload` fetches again (after a change). The load runs again whenever a value
 * in `deps` changes (a filter applied, another user opened); an answer to an older load is dropped.
 */
export const useLoad = <T>(load: () => Promise<T>, deps: DependencyList = []) => {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const loader = useRef(load);
  loader.current = load;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await loader.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(toApiError(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  // The caller names what the load depends on.
  useEffect(() => {
    void reload();
    return () => {
      generation.current++;
    };
  }, [reload, ...deps]);

  return { data, error, loading, reload };
};
