import type { FastifyInstance } from "fastify";
import { AppError } from "../../errors/app-error.ts";
import type { User } from "../../store/repos/users.ts";
import {
  assertCanCreateUser,
  assertCanListUsers,
  assertCanManageUser,
  assertCanReadUser,
  callerOf,
  guard,
  userRefOf,
} from "./access.ts";
import {
  applySelect,
  decodeSkipToken,
  encodeSkipToken,
  parseQuery,
  parseSelect,
  parseTop,
  parseUserFilter,
} from "./odata.ts";
import { ctxOf, docs, type GraphContext, nullableText, spellings, text, userParams } from "./shared.ts";

const USER_TYPE = "microsoft.graph.user";
const USER_PROPERTIES = [
  "id",
  "userPrincipalName",
  "displayName",
  "mail",
  "mobilePhone",
  "accountEnabled",
] as const;
const MAX_TOP = 999;
const DEFAULT_TOP = 100;

export const userEntity = (u: User) => ({
  "@odata.type": `#${USER_TYPE}`,
  id: u.id,
  userPrincipalName: u.userPrincipalName,
  displayName: u.displayName,
  mail: u.mail,
  mobilePhone: u.mobilePhone,
  accountEnabled: u.accountEnabled,
});

/**
 * The user properties PinDesk keeps. Other Graph user properties (mailNickname, passwordProfile, …) that
 * existing provisioning scripts send are accepted and not stored, so those scripts run unchanged.
 */
const userFields = {
  "@odata.type": text(200),
  userPrincipalName: text(320, 1),
  displayName: text(256, 1),
  mail: nullableText(320),
  mobilePhone: nullableText(40),
  accountEnabled: { type: "boolean" },
} as const;

type UserBody = {
  userPrincipalName?: string;
  displayName?: string;
  mail?: string | null;
  mobilePhone?: string | null;
  accountEnabled?: boolean;
};

const known = (body: UserBody) => ({
  ...(body.userPrincipalName !== undefined && { userPrincipalName: body.userPrincipalName }),
  ...(body.displayName !== undefined && { displayName: body.displayName }),
  ...(body.mail !== undefined && { mail: body.mail }),
  ...(body.mobilePhone !== undefined && { mobilePhone: body.mobilePhone }),
  ...(body.accountEnabled !== undefined && { accountEnabled: body.accountEnabled }),
});

const selectContext = (select: string[] | undefined) => (select ? `users(${select.join(",")})` : "users");

export const userRoutes = async (app: FastifyInstance, g: GraphContext) => {
  const { services } = g;
  const base = `${services.config.publicUrl}/${g.version}`;
  const context = (fragment: string) => `${base}/$metadata#${fragment}`;

  app.post(
    "/users",
    {
      onRequest: guard(services, "users.write"),
      schema: {
        ...docs(),
        body: {
          type: "object",
          required: ["userPrincipalName", "displayName"],
          additionalProperties: true,
          properties: userFields,
        },
      },
    },
    async (request, reply) => {
      assertCanCreateUser(callerOf(request));
      const body = request.body as UserBody & { userPrincipalName: string; displayName: string };
      const user = await services.users.create(ctxOf(request), {
        ...known(body),
        userPrincipalName: body.userPrincipalName,
        displayName: body.displayName,
      });
      return reply
        .status(201)
        .header("location", `${base}/users/${user.id}`)
        .send({ "@odata.context": context("users/$entity"), ...userEntity(user) });
    },
  );

  app.get("/users", { onRequest: guard(services, "users.read"), schema: docs() }, async (request) => {
    assertCanListUsers(callerOf(request));
    const q = parseQuery(request.query, ["$select", "$top", "$filter", "$skiptoken", "$count"]);
    const select = parseSelect(q.$select, USER_PROPERTIES, USER_TYPE);
    const top = parseTop(q.$top, MAX_TOP, DEFAULT_TOP);
    const filter = parseUserFilter(q.$filter);
    const after = decodeSkipToken(q.$skiptoken);
    if (q.$count !== undefined && q.$count !== "false") {
      throw new AppError("invalidRequest", {
        problems: [{ field: "$count", message: "is not supported on users" }],
      });
    }
    let page: User[];
    let more = false;
    if (filter?.kind === "eq") {
      const found =
        filter.property === "id"
          ? await services.users.find({ id: filter.value })
          : await services.users.find({ upn: filter.value });
      page = found ? [found] : [];
    } else {
      // One extra row says whether there is a next page, without a count query.
      const rows = await services.users.list({
        limit: top + 1,
        ...(after !== undefined && { after }),
        ...(filter?.property === "userPrincipalName" && { prefix: filter.value }),
        ...(filter?.property === "displayName" && { displayNamePrefix: filter.value }),
      });
      more = rows.length > top;
      page = rows.slice(0, top);
    }
    const last = page.at(-1);
    const next = new URLSearchParams();
    if (more && last) {
      if (q.$select) next.set("$select", q.$select);
      if (q.$filter) next.set("$filter", q.$filter);
      next.set("$top", String(top));
      next.set("$skiptoken", encodeSkipToken(last.userPrincipalName));
    }
    return {
      "@odata.context": context(selectContext(select)),
      ...(more && { "@odata.nextLink": `${base}/users?${next.toString()}` }),
      value: page.map((u) => applySelect(userEntity(u), select)),
    };
  });

  for (const me of [false, true]) {
    const path = me ? "/me" : "/users/:user";
    const params = { ...docs(), ...(!me && { params: userParams }) };
    for (const spelled of spellings(path)) {
      app.get(
        spelled,
        { onRequest: guard(services, "users.read", { me }), schema: { ...params } },
        async (request) => {
          const q = parseQuery(request.query, ["$select"]);
          const select = parseSelect(q.$select, USER_PROPERTIES, USER_TYPE);
          const user = await services.users.get(userRefOf(request, me));
          assertCanReadUser(callerOf(request), user);
          return {
            "@odata.context": context(`${selectContext(select)}/$entity`),
            ...applySelect(userEntity(user), select),
          };
        },
      );

      app.patch(
        spelled,
        {
          onRequest: guard(services, "users.write", { me }),
          schema: {
            ...params,
            body: { type: "object", additionalProperties: true, properties: userFields },
          },
        },
        async (request, reply) => {
          const caller = callerOf(request);
          const user = await services.users.get(userRefOf(request, me));
          const patch = known(request.body as UserBody);
          assertCanManageUser(caller, user, { fields: Object.keys(patch) });
          if (Object.keys(patch).length > 0) await services.users.update(ctxOf(request), user.id, patch);
          return reply.status(204).send();
        },
      );

      app.delete(
        spelled,
        { onRequest: guard(services, "users.delete", { me }), schema: { ...params } },
        async (request, reply) => {
          const user = await services.users.get(userRefOf(request, me));
          assertCanManageUser(callerOf(request), user, "delete");
          await services.users.delete(ctxOf(request), user.id);
          return reply.status(204).send();
        },
      );
    }
  }
};
