/**
 * The HTTP API's response shapes: the contract between the control plane, the SDK and the
 * CLI. Each type is its schema's output (contract/schemas.ts), the schema the OpenAPI
 * document is generated from, so the two cannot drift.
 */
import type { z } from "zod";
import type * as schemas from "./contract/schemas.ts";

export { PREPARED_SINCE_HEADER } from "./contract/routes.ts";

export type DialectName = z.output<typeof schemas.DialectName>;
export type JobView = z.output<typeof schemas.JobView>;
export type InstanceView = z.output<typeof schemas.InstanceView>;
export type JobEventView = z.output<typeof schemas.JobEventView>;
/** A listing's page; `cursor` asks for the next one. */
export type Page<T> = Omit<z.output<ReturnType<typeof schemas.pageOf>>, "items"> & { items: T[] };
export type TimelineView = z.output<typeof schemas.TimelineView>;
/**
 * An estimate from list prices and recorded times, not the bill: `usd` with what it is made
 * of (`items`) and the prices used, or `unpriced` saying why there is no figure.
 */
export type CostView = z.output<typeof schemas.CostView>;
/**
 * A chunk of a job's log stream: `text` is the UTF-8 from byte `offset` (whole characters),
 * the next chunk starts at `nextOffset`; `ended` once no more bytes will come.
 */
export type LogChunkView = z.output<typeof schemas.LogChunkView>;
/** Every 4xx/5xx body. `fields` names each bad input field and why. */
export type ApiError = z.output<typeof schemas.ApiError>;
/** The answer to `POST /v1/inputs`: stored already, or where to PUT exactly those bytes (with `headers`). */
export type InputUploadView = z.output<typeof schemas.InputUploadView>;
/** A job waiting at the cost gate, as `GET /v1/reviews` lists it: what its reviewer weighs. */
export type ReviewView = z.output<typeof schemas.ReviewView>;
/** A user, as the admins' user routes and a sign-in answer show them. */
export type UserView = z.output<typeof schemas.UserView>;
/** The answer to `GET /v1/me`: whom the request's token signs in. */
export type CallerView = z.output<typeof schemas.CallerView>;
/** The answer to `DELETE /v1/users/{email}`: the user, and how many unfinished jobs of theirs were canceled. */
export type RemovedUserView = z.output<typeof schemas.RemovedUserView>;
/** An access token as listed: never the token itself. */
export type TokenView = z.output<typeof schemas.TokenView>;
/** A token just made: the only answer that carries `token`. */
export type IssuedTokenView = z.output<typeof schemas.IssuedTokenView>;
/** The answer to `POST /v1/login`: a token named `login`, and whom it signs in. */
export type SignedInView = z.output<typeof schemas.SignedInView>;
/** The answer to `POST /v1/users`: the user and their first access token. */
export type AddedUserView = z.output<typeof schemas.AddedUserView>;
