import { type FormEvent, type ReactNode, useState } from "react";
import type { ApiError, TotpEnrolment } from "../api.ts";
import { Field } from "./Field.tsx";
import { ErrorNotice } from "./Notices.tsx";

const grouped = (secret: string) => secret.replace(/(.{4})/g, "$1 ").trim();

/** Authenticator app setup: QR code, the key for typing in by hand, then a code to prove it works. */
export const TotpSetup = ({
  enrolment,
  onConfirm,
  busy,
  error,
  confirmLabel = "Confirm",
  errorAction,
}: {
  enrolment: TotpEnrolment;
  onConfirm(code: string): void;
  busy: boolean;
  error: ApiError | undefined;
  confirmLabel?: string;
  errorAction?: ReactNode;
}) => {
  const [code, setCode] = useState("");
  const [copied, setCopied] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onConfirm(code.replace(/\s/g, ""));
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(enrolment.secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <ol className="setup-steps">
      <li>
        <p>
          Open your authenticator app (Microsoft Authenticator, Google Authenticator or similar) and choose{" "}
          <strong>add account</strong>.
        </p>
      </li>
      <li>
        <p>Scan this QR code with the app.</p>
        <img
          className="qr"
          src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qrSvg)}`}
          alt="QR code to add PinDesk to your authenticator app"
          width={200}
          height={200}
        />
        <p className="hint">
          Can't scan it? Type this key in the app instead (time-based):{" "}
          <code className="secret" data-testid="totp-secret">
            {grouped(enrolment.secret)}
          </code>{" "}
          <button type="button" className="btn btn-small" onClick={copy}>
            {copied ? "Copied" : "Copy key"}
          </button>
        </p>
        <p className="hint">
          On this phone? <a href={enrolment.otpauthUri}>Open in your authenticator app</a>.
        </p>
      </li>
      <li>
        <form className="stack" onSubmit={submit} noValidate>
          <ErrorNotice error={error}>{errorAction}</ErrorNotice>
          <Field
            label="The 6-digit code the app shows"
            name="totp-code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]*"
            maxLength={7}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            hint="The code changes every 30 seconds; type the one showing now."
          />
          <div className="actions">
            <button type="submit" className="btn btn-primary" disabled={busy || code.trim().length < 6}>
              {busy ? "Checking…" : confirmLabel}
            </button>
          </div>
        </form>
      </li>
    </ol>
  );
};
