/** Who is acting. Every service call carries one, and every audit event records it. */
export type Actor =
  | { readonly type: "cli" }
  | { readonly type: "system" }
  | { readonly type: "anonymous" }
  | {
      readonly type: "app";
      readonly id: string;
      readonly name: string;
      readonly permissions: readonly string[];
    }
  | { readonly type: "user"; readonly id: string; readonly upn: string; readonly roles: readonly string[] };

export interface RequestContext {
  readonly actor: Actor;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

export const actorLabel = (actor: Actor): string => {
  switch (actor.type) {
    case "app":
      return `app:${actor.id}`;
    case "user":
      return `user:${actor.upn}`;
    default:
      return actor.type;
  }
};

export const cliContext: RequestContext = { actor: { type: "cli" } };
export const systemContext: RequestContext = { actor: { type: "system" } };

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
