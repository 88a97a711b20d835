import cookie from "@fastify/cookie";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { describePinPolicy } from "../../domain/pin-policy.ts";
import { authSetFor, METHOD_LABELS } from "../../domain/portal-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { RequestContext } from "../../services/context.ts";
import type { Services } from "../../services/index.ts";
import type { PortalSession } from "../../services/portal/session-service.ts";
import type { PendingSignIn, StepView } from "../../services/portal/signin-service.ts";
import { pinText, text } from "../text-schema.ts";

export const SESSION_COOKIE = "pindesk_session";
export const SIGNIN_COOKIE = "pindesk_signin";
const API = "/portal/api";

declare module "fastify" {
  interface FastifyRequest {
    portal?: PortalSession;
  }
}

const str = (max: number, min = 1) => text(max, min);
const body = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: "object",
  additionalProperties: false,
  required,
  properties,
});

/**
 * The portal's API: the step-by-step sign-in (pending state sealed in a cookie), the session, and
 * self-service (methods, Change My PIN, push approvals, security questions), Forgot PIN and Emergency
 * Access. Session cookie: HttpOnly, SameSite=Strict, Secure behind TLS; state changes need the CSRF header.
 */
export const portalRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  // Cookies (the portal session) only here: the API, Graph and OAuth routes carry bearer tokens and
  // do not pay for cookie parsing on every request.
  await app.register(cookie);
  const { portal, pins, policies } = services;
  const secure = services.config.publicUrl.startsWith("https:");
  const cookieBase = { httpOnly: true, sameSite: "strict" as const, secure, path: "/" };

  const ctxOf = (request: FastifyRequest): RequestContext => ({
    actor: request.portal
      ? {
          type: "user",
          id: request.portal.user.id,
          upn: request.portal.user.userPrincipalName,
          roles: request.portal.user.roles,
        }
      : { type: "anonymous" },
    ip: request.ip,
    userAgent: request.headers["user-agent"],
    requestId: request.id,
  });

  const pending = (request: FastifyRequest) =>
    portal.sessions.open<PendingSignIn>(request.cookies[SIGNIN_COOKIE]);
  const savePending = (reply: FastifyReply, state: PendingSignIn) =>
    reply.setCookie(SIGNIN_COOKIE, portal.sessions.seal(state), { ...cookieBase, maxAge: 600 });

  /** After a step: either the next step, or — all presented — a new session. */
  const stepReply = async (
    request: FastifyRequest,
    reply: FastifyReply,
    state: PendingSignIn,
    view: StepView,
  ) => {
    if (view.next !== "done") {
      savePending(reply, state);
      return view;
    }
    const user = await portal.signIn.finish(state);
    const session = await portal.sessions.create(user, {
      ip: request.ip,
      userAgent: request.headers["user-agent"],
    });
    reply.clearCookie(SIGNIN_COOKIE, { path: "/" });
    reply.setCookie(SESSION_COOKIE, session.token, cookieBase);
    await services.audit.record(
      {
        ...ctxOf(request),
        actor: { type: "user", id: user.id, upn: user.userPrincipalName, roles: user.roles },
      },
      { action: "portal.signedIn", outcome: "success", target: { id: user.id, upn: user.userPrincipalName } },
    );
    return { ...view, signedIn: true, csrfToken: session.csrfToken };
  };

  const requireSession = async (request: FastifyRequest) => {
    const token = request.cookies[SESSION_COOKIE];
    request.portal = await portal.sessions.resolve(token);
    if (request.method !== "GET" && request.method !== "HEAD") {
      portal.sessions.checkCsrf(token as string, request.headers["x-csrf-token"] as string | undefined);
    }
  };
  const me = (request: FastifyRequest) => {
    if (!request.portal) throw new AppError("notSignedIn");
    return request.portal.user;
  };

  const limited = { config: { rateLimit: { max: 30, timeWindow: "1 minute" } } };

  // ------------------------------------------------------------------ public: policy for live checks
  app.get(`${API}/pin-policy`, async () => {
    const { policy } = await policies.current();
    const portalPolicy = await portal.portalPolicy.current();
    return {
      policy,
      description: describePinPolicy(policy),
      helpdeskContact: portalPolicy.helpdeskContact,
      emergencyAccess: portalPolicy.emergencyAccess.enabled,
      channelsNotSetUp: portal.recovery.undeliverableChannels(),
    };
  });

  // ------------------------------------------------------------------ sign-in steps
  app.post(
    `${API}/signin/start`,
    { ...limited, schema: { body: body({ userPrincipalName: str(256) }) } },
    async (request, reply) => {
      const { userPrincipalName } = request.body as { userPrincipalName: string };
      const { state, view } = await portal.signIn.start(userPrincipalName);
      savePending(reply, state);
      return view;
    },
  );

  app.get(`${API}/signin/state`, async (request) => portal.signIn.current(pending(request)));

  app.post(
    `${API}/signin/pin`,
    { ...limited, schema: { body: body({ pin: pinText(128) }) } },
    async (request, reply) => {
      const { state, view } = await portal.signIn.pin(
        ctxOf(request),
        pending(request),
        (request.body as { pin: string }).pin,
      );
      return stepReply(request, reply, state, view);
    },
  );

  app.post(
    `${API}/signin/change-pin`,
    { ...limited, schema: { body: body({ newPin: pinText(128), confirmPin: pinText(128) }) } },
    async (request, reply) => {
      const { newPin, confirmPin } = request.body as { newPin: string; confirmPin: string };
      if (newPin !== confirmPin) throw new AppError("pinMismatch");
      const { state, view } = await portal.signIn.changePin(ctxOf(request), pending(request), newPin);
      const user = state.userId ? await services.users.find({ id: state.userId }) : undefined;
      if (user) await portal.recovery.notifyPinChanged(user, "when signing in to the PinDesk portal");
      return stepReply(request, reply, state, view);
    },
  );

  app.post(
    `${API}/signin/totp`,
    { ...limited, schema: { body: body({ code: str(10) }) } },
    async (request, reply) => {
      const { state, view } = await portal.signIn.totp(
        ctxOf(request),
        pending(request),
        (request.body as { code: string }).code,
      );
      return stepReply(request, reply, state, view);
    },
  );

  app.post(
    `${API}/signin/rfid`,
    { ...limited, schema: { body: body({ cardNumber: str(64) }) } },
    async (request, reply) => {
      const { cardNumber } = request.body as { cardNumber: string };
      const { state, view } = await portal.signIn.rfid(ctxOf(request), pending(request), cardNumber);
      return stepReply(request, reply, state, view);
    },
  );

  app.post(`${API}/signin/webauthn/options`, limited, async (request, reply) => {
    const { state, options } = await portal.signIn.webauthnOptions(pending(request));
    savePending(reply, state);
    return options;
  });

  app.post(
    `${API}/signin/webauthn`,
    {
      ...limited,
      schema: {
        body: { type: "object", required: ["response"], properties: { response: { type: "object" } } },
      },
    },
    async (request, reply) => {
      const { response } = request.body as { response: unknown };
      const { state, view } = await portal.signIn.webauthn(ctxOf(request), pending(request), response);
      return stepReply(request, reply, state, view);
    },
  );

  // Email / SMS code as a sign-in step, for sets that include it.
  app.post(`${API}/signin/code/send`, limited, async (request) => {
    const { user, channel } = await portal.signIn.codeStep(pending(request));
    return portal.recovery.sendSignInCode(ctxOf(request), user, channel);
  });
  app.post(
    `${API}/signin/code`,
    { ...limited, schema: { body: body({ code: str(12) }) } },
    async (request, reply) => {
      const { state, user, channel } = await portal.signIn.codeStep(pending(request));
      await portal.recovery.verifySignInCode(
        ctxOf(request),
        user,
        channel,
        (request.body as { code: string }).code,
      );
      await portal.signIn.markPresented(state, channel);
      return stepReply(request, reply, state, await portal.signIn.view(state));
    },
  );

  app.post(`${API}/signin/push/start`, limited, async (request, reply) => {
    const { state, number, expiresAt } = await portal.signIn.pushStart(ctxOf(request), pending(request));
    savePending(reply, state);
    return { number, expiresAt };
  });

  app.post(`${API}/signin/push/poll`, async (request, reply) => {
    const result = await portal.signIn.pushPoll(ctxOf(request), pending(request));
    if (result.status === "approved" && result.view) {
      return { status: "approved", ...(await stepReply(request, reply, result.state, result.view)) };
    }
    return { status: result.status };
  });

  // Enrolment of a missing method during sign-in (policy permitting), after every other method.
  const enrolUser = (request: FastifyRequest, type: "totp" | "rfid" | "webauthn") =>
    portal.signIn.enrolTarget(pending(request), type);

  app.post(`${API}/signin/enrol/totp/start`, limited, async (request) => {
    const { user } = await enrolUser(request, "totp");
    return portal.methods.beginTotp(ctxOf(request), user);
  });
  app.post(
    `${API}/signin/enrol/totp/confirm`,
    { ...limited, schema: { body: body({ methodId: str(64), code: str(10) }) } },
    async (request, reply) => {
      const { state, user } = await enrolUser(request, "totp");
      const { methodId, code } = request.body as { methodId: string; code: string };
      await portal.methods.confirmTotp(ctxOf(request), user, methodId, code);
      await portal.signIn.markEnrolled(state, "totp");
      return stepReply(request, reply, state, await portal.signIn.view(state));
    },
  );
  app.post(
    `${API}/signin/enrol/rfid`,
    { ...limited, schema: { body: body({ cardNumber: str(64), name: str(60) }, ["cardNumber"]) } },
    async (request, reply) => {
      const { state, user } = await enrolUser(request, "rfid");
      const { cardNumber, name } = request.body as { cardNumber: string; name?: string };
      await portal.methods.enrolRfid(ctxOf(request), user, cardNumber, name);
      await portal.signIn.markEnrolled(state, "rfid");
      return stepReply(request, reply, state, await portal.signIn.view(state));
    },
  );
  app.post(`${API}/signin/enrol/webauthn/options`, limited, async (request, reply) => {
    const { state, user } = await enrolUser(request, "webauthn");
    const options = await portal.methods.webauthnRegistrationOptions(user);
    await portal.signIn.enrolChallenge(state, options.challenge);
    savePending(reply, state);
    return options;
  });
  app.post(
    `${API}/signin/enrol/webauthn`,
    {
      ...limited,
      schema: {
        body: {
          type: "object",
          required: ["response"],
          properties: { response: { type: "object" }, name: str(60) },
        },
      },
    },
    async (request, reply) => {
      const { state, user } = await enrolUser(request, "webauthn");
      if (!state.challenge) throw new AppError("signInStepNotExpected", { expected: "options first" });
      const { response, name } = request.body as { response: unknown; name?: string };
      await portal.methods.webauthnRegister(ctxOf(request), user, state.challenge, response, name);
      await portal.signIn.markEnrolled(state, "webauthn");
      return stepReply(request, reply, state, await portal.signIn.view(state));
    },
  );

  // ------------------------------------------------------------------ session
  app.get(`${API}/session`, { preHandler: requireSession }, async (request) => {
    const session = request.portal as PortalSession;
    const user = session.user;
    return {
      user: {
        id: user.id,
        userPrincipalName: user.userPrincipalName,
        displayName: user.displayName,
        roles: user.roles,
        pinProfile: await services.pins.pinProfileOf(user.id),
      },
      csrfToken: portal.sessions.csrfTokenOf(request.cookies[SESSION_COOKIE] as string),
      expiresAt: new Date(session.expiresAt).toISOString(),
      idleExpiresAt: new Date(session.idleExpiresAt).toISOString(),
      idleMinutes: (await portal.portalPolicy.current()).sessions.idleMinutes,
      now: new Date(services.clock.now()).toISOString(),
    };
  });

  app.post(`${API}/signout`, { preHandler: requireSession }, async (request, reply) => {
    await portal.sessions.revoke(request.cookies[SESSION_COOKIE] as string);
    reply.clearCookie(SESSION_COOKIE, { path: "/" });
    await services.audit.record(ctxOf(request), { action: "portal.signedOut", outcome: "success" });
    return { result: "signedOut", message: "You are signed out." };
  });

  // ------------------------------------------------------------------ self-service
  app.register(async (self) => {
    self.addHook("preHandler", requireSession);

    self.get(`${API}/me/methods`, async (request) => {
      const user = me(request);
      const policy = await portal.portalPolicy.current();
      const set = authSetFor(policy, user);
      return {
        methods: await portal.methods.list(user),
        authenticationSet: {
          id: set.id,
          name: set.name,
          methods: set.methods.map((m) => ({ type: m, label: METHOD_LABELS[m] })),
        },
        pin: await pins.statusOf(user),
      };
    });

    self.post(`${API}/me/methods/totp`, async (request) =>
      portal.methods.beginTotp(ctxOf(request), me(request)),
    );
    self.post(
      `${API}/me/methods/totp/confirm`,
      { schema: { body: body({ methodId: str(64), code: str(10) }) } },
      async (request) => {
        const { methodId, code } = request.body as { methodId: string; code: string };
        const method = await portal.methods.confirmTotp(ctxOf(request), me(request), methodId, code);
        return { method, message: "Authenticator app added." };
      },
    );
    self.post(
      `${API}/me/methods/rfid`,
      { schema: { body: body({ cardNumber: str(64), name: str(60) }, ["cardNumber"]) } },
      async (request) => {
        const { cardNumber, name } = request.body as { cardNumber: string; name?: string };
        return {
          method: await portal.methods.enrolRfid(ctxOf(request), me(request), cardNumber, name),
          message: "Badge added.",
        };
      },
    );
    self.post(`${API}/me/methods/webauthn/options`, async (request) => {
      const options = await portal.methods.webauthnRegistrationOptions(me(request));
      await portal.sessions.rememberChallenge((request.portal as PortalSession).idHash, options.challenge);
      return options;
    });
    self.post(
      `${API}/me/methods/webauthn`,
      {
        schema: {
          body: {
            type: "object",
            required: ["response"],
            properties: { response: { type: "object" }, name: str(60) },
          },
        },
      },
      async (request) => {
        const challenge = await portal.sessions.takeChallenge((request.portal as PortalSession).idHash);
        if (!challenge) throw new AppError("signInStepNotExpected", { expected: "options first" });
        const { response, name } = request.body as { response: unknown; name?: string };
        const method = await portal.methods.webauthnRegister(
          ctxOf(request),
          me(request),
          challenge,
          response,
          name,
        );
        return { method, message: "Security key added." };
      },
    );
    for (const channel of ["email", "sms"] as const) {
      const field = channel === "email" ? "address" : "phone";
      self.post(
        `${API}/me/methods/${channel}`,
        { schema: { body: body({ [field]: str(254) }) } },
        async (request) => {
          const sent = await portal.recovery.addContact(
            ctxOf(request),
            me(request),
            channel,
            (request.body as Record<string, string>)[field] as string,
          );
          return { ...sent, message: `We sent a code to ${sent.to}. Type it to confirm.` };
        },
      );
    }
    self.post(
      `${API}/me/methods/:id/verify`,
      { schema: { body: body({ code: str(10) }) } },
      async (request) => {
        const { id } = request.params as { id: string };
        const method = await portal.recovery.verifyContactCode(
          ctxOf(request),
          me(request),
          id,
          (request.body as { code: string }).code,
        );
        return { method, message: "Confirmed." };
      },
    );
    self.patch(`${API}/me/methods/:id`, { schema: { body: body({ name: str(60) }) } }, async (request) => {
      const { id } = request.params as { id: string };
      const method = await portal.methods.rename(
        ctxOf(request),
        me(request),
        id,
        (request.body as { name: string }).name,
      );
      return { method, message: "Renamed." };
    });
    self.delete(`${API}/me/methods/:id`, async (request) => {
      const { id } = request.params as { id: string };
      await portal.methods.remove(ctxOf(request), me(request), id);
      return { result: "removed", message: "Method removed." };
    });

    // A delegated token for the Microsoft Graph-compatible API, acting as the signed-in user (their own
    // QR code + PIN method through /me, and what their directory role allows on others). Short-lived;
    // the portal session, which proved every method of the sign-in set, is what it rests on.
    self.post(`${API}/me/graph-token`, async (request, reply) => {
      const user = me(request);
      const accessToken = await services.tokens.issueUserToken(
        { userId: user.id, upn: user.userPrincipalName, roles: user.roles },
        "https://graph.microsoft.com",
      );
      await services.audit.record(ctxOf(request), {
        action: "token.issue",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
        details: { kind: "delegated", audience: "https://graph.microsoft.com" },
      });
      return reply.header("cache-control", "no-store").send({
        token_type: "Bearer",
        access_token: accessToken,
        expires_in: services.tokens.ttlSeconds,
      });
    });

    // Change My PIN: the session proves every method of the set was presented.
    self.post(
      `${API}/me/pin`,
      { schema: { body: body({ newPin: pinText(128), confirmPin: pinText(128) }) } },
      async (request) => {
        const { newPin, confirmPin } = request.body as { newPin: string; confirmPin: string };
        if (newPin !== confirmPin) throw new AppError("pinMismatch");
        const user = me(request);
        const status = await pins.setOwn(ctxOf(request), user.id, newPin, { reason: "selfService" });
        await portal.recovery.notifyPinChanged(user, "from the self-service portal");
        return {
          result: "pinChanged",
          message: "PIN changed. Use your new PIN from now on.",
          state: status.state,
        };
      },
    );

    self.get(`${API}/me/push-requests`, async (request) => ({
      requests: await portal.signIn.pendingApprovals(me(request)),
    }));
    self.post(
      `${API}/me/push-requests/:id`,
      {
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["approve"],
            properties: {
              approve: { type: "boolean" },
              number: { type: "integer", minimum: 0, maximum: 999 },
            },
          },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const decision = request.body as { approve: boolean; number?: number };
        return portal.signIn.decidePush(ctxOf(request), me(request), id, decision);
      },
    );

    self.get(`${API}/me/security-questions`, async (request) => {
      const policy = (await portal.portalPolicy.current()).emergencyAccess;
      return {
        enabled: policy.enabled,
        questions: policy.questions,
        registerCount: policy.registerCount,
        registered: await portal.recovery.registeredQuestions(me(request)),
      };
    });
    self.put(
      `${API}/me/security-questions`,
      {
        schema: {
          body: body({
            answers: {
              type: "object",
              maxProperties: 20,
              additionalProperties: { type: "string", maxLength: 200 },
            },
          }),
        },
      },
      async (request) => {
        const { answers } = request.body as { answers: Record<string, string> };
        const result = await portal.recovery.registerAnswers(ctxOf(request), me(request), answers);
        return { ...result, message: "Security answers saved." };
      },
    );
  });

  // ------------------------------------------------------------------ Forgot PIN
  const recoveryLimit = { config: { rateLimit: { max: 20, timeWindow: "1 minute" } } };
  app.post(
    `${API}/recovery/start`,
    { ...recoveryLimit, schema: { body: body({ userPrincipalName: str(256) }) } },
    async (request) =>
      portal.recovery.start(
        ctxOf(request),
        (request.body as { userPrincipalName: string }).userPrincipalName,
      ),
  );
  app.post(
    `${API}/recovery/send`,
    { ...recoveryLimit, schema: { body: body({ recoveryToken: str(200), channelId: str(64) }) } },
    async (request) => {
      const { recoveryToken, channelId } = request.body as { recoveryToken: string; channelId: string };
      return portal.recovery.send(ctxOf(request), recoveryToken, channelId);
    },
  );
  app.post(
    `${API}/recovery/status`,
    { schema: { body: body({ recoveryToken: str(200) }) } },
    async (request) =>
      portal.recovery.deliveryStatus((request.body as { recoveryToken: string }).recoveryToken),
  );
  app.post(
    `${API}/recovery/verify`,
    { ...recoveryLimit, schema: { body: body({ recoveryToken: str(200), code: str(12) }) } },
    async (request) => {
      const { recoveryToken, code } = request.body as { recoveryToken: string; code: string };
      return portal.recovery.verifyCode(ctxOf(request), recoveryToken, code);
    },
  );
  app.post(
    `${API}/recovery/rules`,
    { ...recoveryLimit, schema: { body: body({ resetToken: str(200) }) } },
    async (request) => portal.recovery.resetRules((request.body as { resetToken: string }).resetToken),
  );
  app.post(
    `${API}/recovery/pin`,
    {
      ...recoveryLimit,
      schema: { body: body({ resetToken: str(200), newPin: pinText(128), confirmPin: pinText(128) }) },
    },
    async (request) => {
      const { resetToken, newPin, confirmPin } = request.body as {
        resetToken: string;
        newPin: string;
        confirmPin: string;
      };
      if (newPin !== confirmPin) throw new AppError("pinMismatch");
      await portal.recovery.setPinAfterCode(ctxOf(request), resetToken, newPin);
      return { result: "pinChanged", message: "PIN changed. Sign in with your new PIN." };
    },
  );

  // ------------------------------------------------------------------ Emergency Access
  app.post(
    `${API}/emergency/start`,
    { ...recoveryLimit, schema: { body: body({ userPrincipalName: str(256) }) } },
    async (request) =>
      portal.recovery.emergencyStart(
        ctxOf(request),
        (request.body as { userPrincipalName: string }).userPrincipalName,
      ),
  );
  app.post(
    `${API}/emergency/answer`,
    {
      ...recoveryLimit,
      schema: {
        body: body({
          emergencyToken: str(400),
          answers: {
            type: "object",
            maxProperties: 20,
            additionalProperties: { type: "string", maxLength: 200 },
          },
        }),
      },
    },
    async (request) => {
      const { emergencyToken, answers } = request.body as {
        emergencyToken: string;
        answers: Record<string, string>;
      };
      return portal.recovery.emergencyAnswer(ctxOf(request), emergencyToken, answers);
    },
  );
  app.post(
    `${API}/emergency/pin`,
    {
      ...recoveryLimit,
      schema: {
        body: body(
          { resetToken: str(200), newPin: pinText(128), confirmPin: pinText(128), methodId: str(20) },
          ["resetToken", "newPin", "confirmPin"],
        ),
      },
    },
    async (request) => {
      const { resetToken, newPin, confirmPin, methodId } = request.body as {
        resetToken: string;
        newPin: string;
        confirmPin: string;
        methodId?: string;
      };
      if (newPin !== confirmPin) throw new AppError("pinMismatch");
      const { method, alsoChanged } = await portal.recovery.setPinAfterEmergency(
        ctxOf(request),
        resetToken,
        newPin,
        methodId,
      );
      const also =
        alsoChanged.length > 0
          ? ` It is also the PIN for: ${alsoChanged.map((m) => m.label).join(", ")}.`
          : "";
      return {
        result: "pinChanged",
        method: method.id,
        message: `PIN changed for: ${method.label}. It works from now on.${also}`,
      };
    },
  );
};
