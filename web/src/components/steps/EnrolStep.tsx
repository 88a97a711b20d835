import { startRegistration } from "@simplewebauthn/browser";
import { type FormEvent, useEffect, useState } from "react";
import { type ApiError, api, type TotpEnrolment, toApiError } from "../../api.ts";
import { Field } from "../Field.tsx";
import { ErrorNotice } from "../Notices.tsx";
import { TotpSetup } from "../TotpSetup.tsx";
import { RestartIfNeeded, StepCard, type StepProps } from "./StepCard.tsx";

const TotpEnrol = ({ onView }: StepProps) => {
  const [enrolment, setEnrolment] = useState<TotpEnrolment>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  useEffect(() => {
    let live = true;
    api.signIn
      .enrolTotpStart()
      .then((e) => live && setEnrolment(e))
      .catch((err: unknown) => live && setError(toApiError(err)));
    return () => {
      live = false;
    };
  }, []);
  const confirm = async (code: string) => {
    if (!enrolment) return;
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.enrolTotpConfirm(enrolment.methodId, code));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (!enrolment)
    return error ? (
      <ErrorNotice error={error}>
        <RestartIfNeeded error={error} />
      </ErrorNotice>
    ) : (
      <p role="status">Preparing your QR code…</p>
    );
  return (
    <TotpSetup
      enrolment={enrolment}
      onConfirm={confirm}
      busy={busy}
      error={error}
      confirmLabel="Confirm and continue"
      errorAction={<RestartIfNeeded error={error} />}
    />
  );
};

const RfidEnrol = ({ onView }: StepProps) => {
  const [card, setCard] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!card.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      onView(await api.signIn.enrolRfid(card.trim()));
    } catch (err) {
      setError(toApiError(err));
      setCard("");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error}>
        <RestartIfNeeded error={error} />
      </ErrorNotice>
      <Field
        label="Badge number"
        name="badge"
        type="password"
        autoComplete="off"
        hint="Hold your badge against the reader, or type the number printed on it and press Enter."
        value={card}
        onChange={(e) => setCard(e.target.value)}
        autoFocus
      />
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Add badge and continue"}
        </button>
      </div>
    </form>
  );
};

const WebAuthnEnrol = ({ onView }: StepProps) => {
  const [name, setName] = useState("Security key");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const optionsJSON = await api.signIn.enrolWebauthnOptions();
      const response = await startRegistration({ optionsJSON });
      onView(await api.signIn.enrolWebauthn(response, name.trim() || undefined));
    } catch (err) {
      setError(toApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <ErrorNotice error={error}>
        <RestartIfNeeded error={error} />
      </ErrorNotice>
      <Field
        label="Name for this key"
        name="key-name"
        hint="So you can tell your keys apart later, e.g. “Blue key” or “Work laptop”."
        maxLength={60}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <p>
        Insert your security key (or use your device's passkey), press the button, then touch the key when it
        blinks.
      </p>
      <div className="actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? "Waiting for your key…" : "Register security key"}
        </button>
      </div>
    </form>
  );
};

const TITLES: Record<string, string> = {
  totp: "Set up your authenticator app",
  rfid: "Register your badge",
  webauthn: "Register your security key or passkey",
};

/** Enrolment of a method the set needs and the user lacks (after every other method was presented). */
export const EnrolStep = (props: StepProps) => {
  const method = props.view.method;
  const title = (method && TITLES[method]) ?? "Set up a sign-in method";
  return (
    <StepCard title={title} testId="step-enrol" focusHeading={method !== "rfid"}>
      {props.view.message && (
        <div className="notice notice-info">
          <p>{props.view.message}</p>
        </div>
      )}
      {method === "totp" && <TotpEnrol {...props} />}
      {method === "rfid" && <RfidEnrol {...props} />}
      {method === "webauthn" && <WebAuthnEnrol {...props} />}
      {method !== "totp" && method !== "rfid" && method !== "webauthn" && (
        // The server offers enrolment only for these three; anything else comes back as "blocked".
        <div className="notice notice-warning" role="status">
          <p>This method cannot be set up during sign-in. Your help desk can set it up with you.</p>
        </div>
      )}
    </StepCard>
  );
};
