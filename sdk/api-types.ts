/** The HTTP API's response shapes: the contract between the control plane, the SDK and the CLI. */
import type { Cost } from "../lambdas/domain/cost.ts";
import type { JobDialects } from "../lambdas/domain/dialects/index.ts";
import type { Role } from "../lambdas/domain/identity.ts";
import type { LogChunk, LogStream } from "../lambdas/domain/logs.ts";
import type { JobKind, Phase, Reason } from "../lambdas/domain/phases.ts";
import type { TimelinePeriod } from "../lambdas/domain/timeline.ts";

export type DialectName = keyof JobDialects;

export interface JobView {
  id: string;
  name: string;
  kind: JobKind;
  owner: string;
  phase: Phase;
  /** The phase is terminal: nothing will change any more. */
  terminal: boolean;
  reason?: Reason;
  exitCode?: number;
  attempt: number;
  requeues: number;
  workersReady: number;
  workersTotal: number;
  instanceId?: string;
  modelName?: string;
  /** Where an inference deployment serves, once it is healthy. */
  endpoint?: string;
  /** Where its checkpoints are among its outputs (the spec's `checkpointDir`). */
  checkpointDir?: string;
  /** The job this one replays (`POST /v1/jobs/{id}/replay`). */
  replayOf?: string;
  /** What its submitter said about it when replaying. */
  description?: string;
  createdAt: string;
  updatedAt: string;
  dialects: JobDialects;
  /** With `?dialect=NAME`: that dialect's view, also found under `dialects`. */
  status?: JobDialects[DialectName];
  /** `GET /v1/jobs/{id}` only: what it cost, estimated from list prices (docs/api.md#cost). */
  cost?: CostView;
}

/**
 * An estimate from list prices and recorded times, not the bill: `usd` with what it is made
 * of (`items`) and the prices used, or `unpriced` saying why there is no figure.
 */
export type CostView = Cost;

export interface InstanceView {
  id: string;
  status: "LAUNCHING" | "EXECUTING" | "COOLING" | "CLOSING" | "CLOSED";
  substatus?: "STOPPING" | "TERMINATING" | "STOPPED" | "TERMINATED";
  /** AIbro's status and substatus (a cooling instance's substatus is COOLING). */
  aibro: { status: string; substatus?: string };
  instanceType: string;
  envHash: string;
  region: string;
  spot: boolean;
  jobId?: string;
  /** While cooling: when its cooling plan stops it (or terminates it, when equal to `stoppedUntil`). */
  coolingUntil?: string;
  /** While cooling, or stopped by its cooling plan: when that plan terminates it. */
  stoppedUntil?: string;
  updatedAt: string;
  /** What it has cost so far, estimated from list prices (docs/api.md#cost). */
  cost: CostView;
}

export interface JobEventView {
  version: number;
  at: string;
  type: string;
  from?: Phase;
  phase: Phase;
  reason?: Reason;
  /** On a replay's `submitted` event: the job it replays. */
  replayOf?: string;
  /** The user who made the change (submit, cancel, complete, a review decision); absent when the control plane did. */
  by?: { userId: string; email: string };
  /** The job's status in each dialect once this event had happened. */
  dialects: JobDialects;
}

export interface Page<T> {
  items: T[];
  cursor?: string;
}

/**
 * A chunk of a job's log stream: `text` is the UTF-8 from byte `offset` (whole characters),
 * the next chunk starts at `nextOffset`; `ended` once no more bytes will come.
 */
export interface LogChunkView extends LogChunk {
  stream: LogStream;
}

export interface TimelineView {
  periods: TimelinePeriod[];
}

/** Every 4xx/5xx body. `fields` names each bad input field and why. */
export interface ApiError {
  error: {
    code:
      | "VALIDATION"
      | "NOT_FOUND"
      | "CONFLICT"
      | "REFUSED"
      | "UNAUTHORIZED"
      | "FORBIDDEN"
      | "LOCKED"
      | "TOO_LARGE"
      | "INTERNAL";
    message: string;
    fields?: Array<{ field: string; message: string }>;
  };
}

/** Request header: when the client began preparing a submitted job (ISO 8601); its Job Create period starts then. */
export const PREPARED_SINCE_HEADER = "gpuctl-prepared-since";

/** The answer to `POST /v1/inputs`: stored already, or where to PUT exactly those bytes (with `headers`). */
export type InputUploadView =
  | { sha256: string; stored: true }
  | { sha256: string; stored: false; upload: { url: string; headers: Record<string, string> } };

/** A job waiting at the cost gate, as `GET /v1/reviews` lists it: what its reviewer weighs. */
export interface ReviewView {
  id: string;
  name: string;
  kind: JobKind;
  owner: string;
  /** The owner's email, while the owner is a user. */
  ownerEmail?: string;
  /** `INIT` until a reviewer starts the review, then `RUNNING`. */
  review: "INIT" | "RUNNING";
  instanceTypes: string[];
  spot: boolean;
  workers: number;
  timeoutS?: number;
  coolingPeriodS?: number;
  submittedAt: string;
  /** When it last changed: since when it has waited as it is. */
  updatedAt: string;
}

/** A user, as the admins' user routes and a sign-in answer show them. */
export interface UserView {
  userId: string;
  email: string;
  role: Role;
  createdAt: string;
  /** The user id of the admin who added the user (`setup` for the first admin). */
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

/** The answer to `GET /v1/me`: whom the request's token signs in. */
export interface CallerView {
  userId: string;
  email: string;
  role: Role;
}

/** The answer to `DELETE /v1/users/{email}`: the user, and how many unfinished jobs of theirs were canceled. */
export interface RemovedUserView extends UserView {
  canceledJobs: number;
}

/** An access token as listed: never the token itself. */
export interface TokenView {
  tokenId: string;
  name: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
}

/** A token just made: the only answer that carries `token`. */
export interface IssuedTokenView extends TokenView {
  token: string;
}

/** The answer to `POST /v1/login`: a token named `login`, and whom it signs in. */
export interface SignedInView extends IssuedTokenView {
  user: UserView;
}

/** The answer to `POST /v1/users`: the user and their first access token. */
export interface AddedUserView {
  user: UserView;
  token: IssuedTokenView;
}
