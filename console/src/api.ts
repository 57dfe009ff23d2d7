// The API as the console calls it: gRPC-Web clients generated from the .proto files, the
// session's tokens (kept in memory only), and server errors read into what the page shows.

import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb";
import { AuthService } from "./gen/onsite/v1/auth_pb";
import { CustomerService } from "./gen/onsite/v1/customers_pb";
import { DispatchService } from "./gen/onsite/v1/dispatch_pb";
import { EngineerService } from "./gen/onsite/v1/engineers_pb";
import { SlipService } from "./gen/onsite/v1/slips_pb";
import { TicketService } from "./gen/onsite/v1/tickets_pb";

/** The signed-in session: an access token, and a refresh token after a password sign-in. */
interface Session {
  access: string;
  refresh: string;
  name: string;
}

let session: Session | null = null;

export function signedIn(): Session | null {
  return session;
}

export function startSession(access: string, refresh: string, name: string): void {
  session = { access, refresh, name };
}

/** Forgets the tokens; the server's session is ended by the caller first when it can be. */
export function endSession(): void {
  session = null;
}

let sessionLost: (reason: string) => void = () => undefined;

/** What to do when the session cannot go on (revoked, or its refresh token expired). */
export function onSessionLost(handler: (reason: string) => void): void {
  sessionLost = handler;
}

/**
 * After a refusal: swaps an expired access token for a fresh one (true: try again), or, when
 * the caller is no longer signed in at all, ends the session (false).
 */
export async function recover(error: unknown): Promise<boolean> {
  const p = problem(error);
  if (p.code !== Code.Unauthenticated || !session) return false;
  if (p.reason === "TOKEN_EXPIRED" && session.refresh) {
    try {
      const fresh = await api.auth.refresh({ refreshToken: session.refresh });
      session = { ...session, access: fresh.accessToken, refresh: fresh.refreshToken };
      return true;
    } catch (refused) {
      endSession();
      sessionLost(problem(refused).message);
      return false;
    }
  }
  endSession();
  sessionLost(p.message);
  return false;
}

/** Adds the bearer token; an expired one is swapped once for a fresh one and the call retried. */
const bearer: Interceptor = (next) => async (request) => {
  if (session) request.header.set("authorization", `Bearer ${session.access}`);
  try {
    return await next(request);
  } catch (error) {
    if (request.stream || !session?.refresh || !(await recover(error)) || !session) throw error;
    request.header.set("authorization", `Bearer ${session.access}`);
    return await next(request);
  }
};

const transport = createGrpcWebTransport({ baseUrl: location.origin, interceptors: [bearer] });

export const api: {
  auth: Client<typeof AuthService>;
  tickets: Client<typeof TicketService>;
  slips: Client<typeof SlipService>;
  customers: Client<typeof CustomerService>;
  engineers: Client<typeof EngineerService>;
  dispatch: Client<typeof DispatchService>;
} = {
  auth: createClient(AuthService, transport),
  tickets: createClient(TicketService, transport),
  slips: createClient(SlipService, transport),
  customers: createClient(CustomerService, transport),
  engineers: createClient(EngineerService, transport),
  dispatch: createClient(DispatchService, transport),
};

/** A refused call as the page shows it. */
export interface Problem {
  code: Code;
  /** The ErrorInfo reason, such as DOUBLE_BOOKED; empty when there is none. */
  reason: string;
  message: string;
  /** BadRequest field violations: field path to description. */
  fields: Map<string, string>;
  metadata: Record<string, string>;
}

export function problem(error: unknown): Problem {
  const e = ConnectError.from(error);
  const info = e.findDetails(ErrorInfoSchema)[0];
  const fields = new Map<string, string>();
  for (const bad of e.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) fields.set(v.field, v.description);
  }
  return { code: e.code, reason: info?.reason ?? "", message: e.rawMessage, fields, metadata: info?.metadata ?? {} };
}

export { Code };

/** An idempotency key (AIP-155). `crypto.randomUUID` needs a secure context; this does not. */
export function requestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Reads every page of a list call. */
export async function allPages<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const { items, next } = await page(token);
    all.push(...items);
    token = next;
  } while (token);
  return all;
}
