/** The user's page after sign-in (seed 001: "your user page with multiple options"). */
import { api, type MyMethods, type PinStatus } from "../api.ts";
import { Link } from "../components/Link.tsx";
import { ErrorNotice } from "../components/Notices.tsx";
import { useSession } from "../lib/session.tsx";
import { formatDateTime } from "../lib/time.ts";
import { useLoad } from "../lib/use-load.ts";

const pinSummary = (pin: PinStatus): { tone: "ok" | "warn"; text: string } => {
  switch (pin.state) {
    case "Steady State":
      return {
        tone: "ok",
        text: pin.expiresAt
          ? `Your PIN works. It expires on ${formatDateTime(pin.expiresAt)}.`
          : "Your PIN works.",
      };
    case "Must Change":
      return { tone: "warn", text: "Your PIN needs to be changed. Choose a new one now." };
    case "Account Lockout":
      return {
        tone: "warn",
        text: "Your PIN is locked after too many wrong attempts. Setting a new PIN here unlocks it.",
      };
    default:
      return { tone: "warn", text: "You have no PIN yet. Set one now." };
  }
};

const otherMethods = (data: MyMethods): string => {
  const others = data.methods.filter((m) => m.type !== "pin");
  if (others.length === 0) return "You have nothing set up besides your PIN.";
  return `Also set up: ${others.map((m) => m.name).join(", ")}.`;
};

export const AccountPage = () => {
  const { state } = useSession();
  const methods = useLoad<MyMethods>(() => api.me.methods());
  const approvals = useLoad(() => api.me.pushRequests());
  const questions = useLoad(() => api.me.securityQuestions());
  const user = state.status === "signedIn" ? state.info.user : undefined;
  const pin = methods.data?.pin;
  const summary = pin ? pinSummary(pin) : undefined;
  const pending = approvals.data?.requests.length ?? 0;
  const q = questions.data;

  return (
    <div className="page">
      <h1>Hello{user?.displayName ? `, ${user.displayName}` : ""}</h1>
      <p className="lead">
        Signed in as <strong>{user?.userPrincipalName}</strong>.
      </p>
      <ErrorNotice error={methods.error} />
      {pending > 0 && (
        <div className="notice notice-warning" role="status">
          <p className="notice-title">
            {pending === 1
              ? "A sign-in is waiting for your approval."
              : `${pending} sign-ins are waiting for your approval.`}
          </p>
          <p>
            <Link to="/me/approvals">Review it in Approvals</Link>. If it was not you, deny it.
          </p>
        </div>
      )}
      <div className="cards">
        <section className="card card-primary" aria-labelledby="card-pin">
          <h2 id="card-pin" className="h3">
            Your PIN
          </h2>
          {summary && (
            <p className={summary.tone === "ok" ? "status-ok" : "status-warn"} data-testid="pin-status">
              {summary.text}
            </p>
          )}
          {pin?.changedAt && <p className="hint">Last changed {formatDateTime(pin.changedAt)}.</p>}
          <Link to="/me/pin" className="btn btn-primary">
            Change My PIN
          </Link>
        </section>
        <section className="card" aria-labelledby="card-methods">
          <h2 id="card-methods" className="h3">
            How you sign in
          </h2>
          {methods.data && (
            <>
              <p>
                Your sign-in needs:{" "}
                <strong>{methods.data.authenticationSet.methods.map((m) => m.label).join(" + ")}</strong>.
              </p>
              <p className="hint">{otherMethods(methods.data)}</p>
            </>
          )}
          <Link to="/me/methods" className="btn">
            My methods
          </Link>
        </section>
        <section className="card" aria-labelledby="card-approvals">
          <h2 id="card-approvals" className="h3">
            Approvals
          </h2>
          <p>Approve a sign-in on another device by picking the number it shows.</p>
          <Link to="/me/approvals" className="btn">
            Approvals{pending > 0 ? ` (${pending})` : ""}
          </Link>
        </section>
        {q?.enabled && (
          <section className="card" aria-labelledby="card-questions">
            <h2 id="card-questions" className="h3">
              Emergency Access
            </h2>
            <p>
              {q.registered.length >= q.registerCount
                ? "Your security answers are saved. You can use Emergency Access if you ever forget your PIN."
                : "Save answers to security questions so you can reset your PIN yourself if everything else fails."}
            </p>
            <Link to="/me/questions" className="btn">
              Security questions
            </Link>
          </section>
        )}
      </div>
    </div>
  );
};
