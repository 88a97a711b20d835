import { type FormEvent, useState } from "react";
import { type ApiError, toApiError } from "../../api.ts";
import { AdminError } from "./AdminNotices.tsx";
import { adminApi } from "./admin-api.tsx";

export const TroubleshooterPage = () => {
  const [code, setCode] = useState("");
  // biome-ignore lint/suspicious/noExplicitAny: explanations come in several shapes and are shown field by field.
  const [result, setResult] = useState<any>();
  const [error, setError] = useState<ApiError>();
  const look = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      setResult(await adminApi.explain(code.trim()));
    } catch (err) {
      setError(toApiError(err));
    }
  };
  return (
    <div className="page">
      <h1>Troubleshooter</h1>
      <p>
        Look up a PIN error code: a Windows Hello code (0x801C004D, 801c03ed, any casing) or a PinDesk code
        (pinTooShort).
      </p>
      <form className="filters" onSubmit={look}>
        <label>
          Error code
          <input value={code} onChange={(e) => setCode(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-primary" disabled={!code.trim()}>
          Look up
        </button>
      </form>
      <AdminError error={error} />
      {result && (
        <section className="card" aria-live="polite" data-testid="explanation">
          <h2>{result.code}</h2>
          {result.message && <p>{result.message}</p>}
          {Array.isArray(result.causes) && (
            <p>
              <strong>Cause:</strong> {result.causes.join(" ")}
            </p>
          )}
          {result.kind === "windowsHello" && !result.mitigation && (
            <p>No specific fix is known; try these steps:</p>
          )}
          {result.mitigation && (
            <p>
              <strong>What to do:</strong> {result.mitigation}
            </p>
          )}
          {Array.isArray(result.genericSteps) && (
            <ol>
              {result.genericSteps.map((s: string) => (
                <li key={s}>{s}</li>
              ))}
            </ol>
          )}
          <details>
            <summary>All details</summary>
            <pre>{JSON.stringify(result, null, 2)}</pre>
          </details>
        </section>
      )}
    </div>
  );
};
