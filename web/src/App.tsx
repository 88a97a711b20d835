import { type ReactNode, useEffect } from "react";
import { isAdministrator } from "../../src/domain/roles.ts";
import { Layout } from "./components/Layout.tsx";
import { navigate, usePath } from "./lib/router.ts";
import { SessionProvider, useSession } from "./lib/session.tsx";
import { AccountPage } from "./pages/AccountPage.tsx";
import { ApprovalsPage } from "./pages/ApprovalsPage.tsx";
import { AdminRoutes } from "./pages/admin/AdminRoutes.tsx";
import { ChangePinPage } from "./pages/ChangePinPage.tsx";
import { EmergencyPage } from "./pages/EmergencyPage.tsx";
import { ForgotPinPage } from "./pages/ForgotPinPage.tsx";
import { MethodsPage } from "./pages/MethodsPage.tsx";
import { NotFoundPage } from "./pages/NotFoundPage.tsx";
import { ResetLinkPage } from "./pages/ResetLinkPage.tsx";
import { SecurityQuestionsPage } from "./pages/SecurityQuestionsPage.tsx";
import { SetupPage } from "./pages/SetupPage.tsx";
import { SignInPage } from "./pages/SignInPage.tsx";

const TITLES: Record<string, string> = {
  "/": "Sign in",
  "/forgot": "Forgot PIN",
  "/emergency": "Emergency Access",
  "/reset": "Set a new PIN",
  "/me": "My account",
  "/me/methods": "My methods",
  "/me/pin": "Change My PIN",
  "/me/approvals": "Approvals",
  "/me/questions": "Security questions",
};

const Loading = () => (
  <p className="page" role="status">
    Loading…
  </p>
);

/** Pages that need a session: wait for it, or go to sign-in with a word of explanation. */
const SignedIn = ({ children }: { children: ReactNode }) => {
  const { state, setNotice } = useSession();
  useEffect(() => {
    if (state.status === "signedOut") {
      navigate("/", { replace: true });
      setNotice({ kind: "info", text: "Sign in to continue." });
    }
  }, [state.status, setNotice]);
  return state.status === "signedIn" ? children : <Loading />;
};

const Routes = () => {
  const path = usePath();
  const { state } = useSession();

  useEffect(() => {
    document.title = `${TITLES[path] ?? (path.startsWith("/admin") ? "Admin" : "PinDesk")} · PinDesk`;
  }, [path]);

  if (path === "/") return state.status === "loading" ? <Loading /> : <SignInPage />;
  if (path === "/forgot") return <ForgotPinPage />;
  if (path === "/emergency") return <EmergencyPage />;
  if (path === "/reset") return <ResetLinkPage />;
  if (path === "/me")
    return (
      <SignedIn>
        <AccountPage />
      </SignedIn>
    );
  if (path === "/me/methods")
    return (
      <SignedIn>
        <MethodsPage />
      </SignedIn>
    );
  if (path === "/me/pin")
    return (
      <SignedIn>
        <ChangePinPage />
      </SignedIn>
    );
  if (path === "/me/approvals")
    return (
      <SignedIn>
        <ApprovalsPage />
      </SignedIn>
    );
  if (path === "/me/questions")
    return (
      <SignedIn>
        <SecurityQuestionsPage />
      </SignedIn>
    );
  if (path === "/setup") return <SetupPage />;
  if (path === "/admin" || path.startsWith("/admin/")) {
    return (
      <SignedIn>
        {state.status === "signedIn" && isAdministrator(state.info.user.roles) ? (
          <AdminRoutes path={path} />
        ) : (
          <NotFoundPage />
        )}
      </SignedIn>
    );
  }
  return <NotFoundPage />;
};

export const App = () => (
  <SessionProvider>
    <Layout>
      <Routes />
    </Layout>
  </SessionProvider>
);
