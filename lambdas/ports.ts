import type { Command } from "../agent/protocol.ts";
import type { Caller, Role } from "./domain/identity.ts";
import type { Instance, InstancePool, InstanceStatus } from "./domain/instance.ts";
import type { Job } from "./domain/job.ts";
import type { JobSpec } from "./domain/job-spec.ts";
import type { MetricPoint } from "./domain/metrics.ts";
import type { Phase, Reason } from "./domain/phases.ts";
import type { PoolChange, PoolEvidence } from "./domain/pool-history.ts";
import type { StatusEvent } from "./domain/status-events.ts";
import type { Timeline, TimelinePhase } from "./domain/timeline.ts";
import type { JobEvent } from "./domain/transitions.ts";

/** A stored job: the canonical job plus who submitted it, when, and its timeline. */
export interface JobRecord {
  job: Job;
  owner: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  /** The model an inference deployment serves; unique among its owner's active deployments. */
  modelName?: string;
  timeline: Timeline;
  spec: JobSpec;
  /** Where an inference deployment serves, once its agent reported it healthy. */
  endpoint?: string;
  /** The token of the workflow task waiting on this job's agent, if one is. */
  taskToken?: string;
  /** The job this one replays: its spec and pinned inputs, run again. */
  replayOf?: string;
  /** What its submitter says about it (a replay's reason: the issue it reproduces). */
  description?: string;
}

/**
 * The user who made a change: their id, and their email as it was then (a user removed
 * since is still named). A change without one was made by the control plane itself: its
 * workflows, the agents' reports, the reaper.
 */
export type Actor = Pick<Caller, "userId" | "email">;

/** One entry of a job's history: the event that produced `version`, where it led, and who made it. */
export interface JobEventRecord {
  jobId: string;
  version: number;
  at: string;
  event: JobEvent | { type: "submitted"; replayOf?: string };
  from?: Phase;
  phase: Phase;
  reason?: Reason;
  by?: Actor;
}

/** A transition to persist: the job as read, as the domain says it is now, and who asked. */
export interface JobChange {
  before: JobRecord;
  after: Job;
  event: JobEvent;
  at: string;
  by?: Actor;
}

export interface InstanceChange {
  before: Instance;
  after: Instance;
  at: string;
}

export type Conflict =
  | "STALE_JOB"
  | "STALE_INSTANCE"
  | "JOB_EXISTS"
  | "INSTANCE_EXISTS"
  | "MODEL_NAME_TAKEN"
  | "IDEMPOTENCY_KEY_REUSED"
  | "USER_EXISTS"
  | "STALE_USER"
  | "LAST_ADMIN"
  | "TOKEN_EXISTS"
  | "INPUT_GONE";

/** A write refused because the records moved on or a uniqueness rule holds: a 409, never a crash. */
export type WriteResult = { ok: true } | { ok: false; conflict: Conflict; message: string };

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back to get the next page. Absent on the last page. */
  cursor?: string;
}

export interface Submission {
  record: JobRecord;
  /** Who submitted it, recorded with its `submitted` event. */
  by?: Actor;
  /** Same key, same request: the first job is returned, nothing new is written. */
  idempotency?: { key: string; requestHash: string };
}

export type SubmitResult =
  | { ok: true; record: JobRecord; replayed: boolean }
  | { ok: false; conflict: Conflict; message: string };

export interface JobStore {
  submit(submission: Submission): Promise<SubmitResult>;
  get(jobId: string): Promise<JobRecord | undefined>;
  listByOwner(owner: string, page?: { limit?: number; cursor?: string }): Promise<Page<JobRecord>>;
  events(jobId: string): Promise<JobEventRecord[]>;
  /** The owner's active deployment serving `modelName`; another owner's is never found. */
  activeDeployment(owner: string, modelName: string): Promise<JobRecord | undefined>;
  /** Every job in a phase, most recently changed first (the reaper, recovery, operators). */
  listByPhase(phase: Phase): Promise<JobRecord[]>;
  /**
   * The jobs in a phase a page at a time, longest there first (a queue such as the
   * reviewers'), leaving out `exceptOwner`'s: a page may hold fewer than `limit` jobs.
   */
  pageByPhase(
    phase: Phase,
    page?: { limit?: number; cursor?: string; exceptOwner?: string },
  ): Promise<Page<JobRecord>>;
  /** Persists one transition and its event, only if the job is still as `before` says. */
  apply(change: JobChange): Promise<WriteResult>;
  recordTimeline(
    jobId: string,
    phase: TimelinePhase,
    period: NonNullable<Timeline[TimelinePhase]>,
  ): Promise<WriteResult>;
  timeline(jobId: string): Promise<Timeline | undefined>;
  /** Records where an inference deployment serves. */
  setEndpoint(jobId: string, url: string): Promise<WriteResult>;
  /** Records the token of the task the job's workflow waits on, so cancel can end that wait. */
  setTaskToken(jobId: string, taskToken: string): Promise<WriteResult>;
}

export interface InstanceStore {
  create(instance: Instance, at: string): Promise<WriteResult>;
  get(instanceId: string): Promise<Instance | undefined>;
  /** Reusable instances of a pool: COOLING ones first, then STOPPED, most recently freed first. */
  findReusable(pool: InstancePool): Promise<Instance[]>;
  listByStatus(status: InstanceStatus): Promise<Instance[]>;
  /** The instance the compute knows as `providerId` (an EC2 instance id); EC2's events name only that. */
  getByProviderId(providerId: string): Promise<Instance | undefined>;
  /** Persists an instance change, with the job change it belongs to in the same transaction. */
  apply(change: InstanceChange, jobChange?: JobChange): Promise<WriteResult>;
}

/** A pagination cursor that this store did not hand out. */
export class InvalidCursorError extends Error {
  readonly field = "cursor";
}

/** The state machines gpuctl runs; each has an ASL file under statemachines/. */
export type StateMachineName = "job-lifecycle" | "job-deadline" | "instance-cooling";

/**
 * Step Functions, or the local runner that executes the same ASL files. A task state with
 * `.waitForTaskToken` hands a token to its handler and waits until someone (the agent,
 * through the API) reports success or failure with that token.
 */
export interface Workflows {
  /**
   * Starts an execution named `name`, as a Standard workflow's StartExecution does: while an
   * execution of that name runs with the very same input, starting it again returns it;
   * otherwise a name once used fails with `ExecutionAlreadyExists`, whether the input
   * differs or the execution has closed (Step Functions keeps closed names for 90 days).
   * So a name is one attempt: a caller that may start again after the first execution
   * closed either names the new attempt afresh or takes the error as "started already".
   * Refused before anything starts: a name outside Step Functions' rule (1 to 80
   * characters, no white space, brackets, wildcards, control characters or any of
   * "#%\^|~`$&,;:/) with `InvalidExecutionName`, an input over 256 KiB (UTF-8 JSON) with
   * `PayloadTooLarge`. A state's input or output over 256 KiB at run time fails the
   * execution with `States.DataLimitExceeded`.
   */
  start(
    machine: StateMachineName,
    name: string,
    input: Record<string, unknown>,
  ): Promise<{ executionId: string }>;
  /**
   * The three reports on a waiting task resolve once the workflow has them. A report that
   * comes too late (its task is over: reported already, timed out, or its execution
   * closed) or names a token never issued resolves too, changing nothing: the task it was
   * meant for has ended one way or the other, and nobody is left to tell. They throw only
   * when the report could not be delivered (the service is unreachable: retrying may
   * work) or is itself refused: an output over 256 KiB (`PayloadTooLarge`), and the task
   * waits on.
   */
  sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void>;
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
  /** Keeps a long task alive; its state's HeartbeatSeconds measures the gaps. */
  sendTaskHeartbeat(taskToken: string): Promise<void>;
}

/**
 * The cooling timers (executions of the instance-cooling machine), for stopping one: apart
 * from `Workflows`, so a holder may stop a timer and start or stop nothing else.
 */
export interface CoolingTimers {
  /**
   * Stops the timer named `name`, as StopExecution does (it ends ABORTED, `cause` on its
   * record). One that has closed already or was never started is left as it is: stopping is
   * a no-op then, so a repeated or late stop resolves too. (The local runner keeps no cause.)
   */
  stop(name: string, cause: string): Promise<void>;
}

/** StartExecution named an execution that exists, and is not that running one's very request again. */
export class ExecutionAlreadyExists extends Error {
  override readonly name = "ExecutionAlreadyExists";
  readonly executionId: string;
  constructor(executionId: string) {
    super(`execution ${executionId} already exists`);
    this.executionId = executionId;
  }
}

/** An execution name Step Functions would refuse, refused before any execution exists. */
export class InvalidExecutionName extends Error {
  override readonly name = "InvalidName";
  readonly field = "name";
}

/** A payload over the service's size quota, refused before it is sent: nothing was sent. */
export class PayloadTooLarge extends Error {
  override readonly name = "ValidationException";
  /** What was too large: `input`, `output`, `events[2]`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export interface LaunchRequest {
  /** Chosen by the control plane, so the agent's token can name its instance. */
  instanceId: string;
  instanceType: string;
  spot: boolean;
  /** The job it is launched for, its owner and environment: tags that say whose GPU this is. */
  jobId: string;
  owner: string;
  envHash: string;
  /** Spot only: how long to wait for the request to be fulfilled before `SpotUnavailable`. */
  waitRequestS?: number;
  region: string;
  /** What the agent needs to reach the control plane: its endpoint and its own bearer token. */
  agent: { endpoint: string; token: string };
}

/** EC2, or the local adapter whose instances are agent processes in their own folders. */
export interface Compute {
  /** The instance types this compute can launch; anything else is refused before launching. */
  instanceTypes(): Promise<string[]>;
  /**
   * Launches a new instance with the id it is given, once however often it is asked, and
   * returns the compute's own id for it. Fails with a `ComputeError`: code
   * `InsufficientInstanceCapacity` (try later or elsewhere), `QuotaExceeded` (try later, or
   * another instance family), `InvalidInstanceType`, or `SpotUnavailable`. Any call that
   * is a request to the cloud may fail `Throttled`: nothing was done, ask again later.
   */
  launch(request: LaunchRequest): Promise<{ providerId: string }>;
  /**
   * Starts a stopped instance; its disk (and the env cache on it) is as it was. Fails with a
   * `ComputeError` `InsufficientInstanceCapacity` when there is no capacity to start it now.
   */
  start(instanceId: string, agent: LaunchRequest["agent"]): Promise<void>;
  /** Stops an instance, keeping its disk. */
  stop(instanceId: string): Promise<void>;
  /**
   * Restarts the agent of a running instance that went silent, keeping the instance, its
   * disk and what its job left there: on EC2 a reboot (the agent starts again at boot);
   * locally the agent process is killed and started again, as it was last started.
   */
  restartAgent(instanceId: string): Promise<void>;
  /** Deletes an instance and its disk; one already gone is done, not an error. */
  terminate(instanceId: string): Promise<void>;
  /**
   * Where a deployment on the instance that asks for `port` is reached: on EC2, the
   * instance's address and that port; locally, where every instance shares one machine, a
   * port of its own that is free now.
   */
  serviceAddress(instanceId: string, port: number): Promise<{ host: string; port: number }>;
  /** Every instance this control plane launched that the compute still knows, for reconcile. */
  list(): Promise<ComputeInstance[]>;
}

/** An instance as the compute sees it; the states are EC2's. */
export interface ComputeInstance {
  instanceId: string;
  providerId: string;
  state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
  launchedAt: string;
}

export type ComputeErrorCode =
  | "InsufficientInstanceCapacity"
  | "QuotaExceeded"
  | "InvalidInstanceType"
  | "SpotUnavailable"
  /** The compute refused the call for its request rate (EC2's RequestLimitExceeded): the same call later may work. */
  | "Throttled";

export class ComputeError extends Error {
  readonly code: ComputeErrorCode;
  constructor(code: ComputeErrorCode, message: string) {
    super(message);
    this.name = "ComputeError";
    this.code = code;
  }
}

/**
 * Each instance's mailbox of agent commands: opened when the instance is launched, closed
 * when it is terminated (a stopped instance keeps its mailbox). On AWS an SQS queue that
 * the agent long-polls itself; locally, one the control plane drains for the agent's poll
 * (`PolledCommandQueue`).
 */
export interface CommandQueue {
  /**
   * Opens the instance's mailbox, to be read by that instance's agent alone (`providerId`:
   * the cloud's id of the instance, once known). Opening an open mailbox changes nothing,
   * so a retried launch may open it again.
   */
  open(instanceId: string, providerId?: string): Promise<void>;
  /** Fails with `MailboxClosed` once the mailbox is closed. */
  push(instanceId: string, command: Command): Promise<void>;
  /** Closes the mailbox and drops what it holds; closing a closed mailbox changes nothing. */
  close(instanceId: string): Promise<void>;
}

/** A mailbox the control plane drains itself, for the agent's HTTP long poll (locally). */
export interface PolledCommandQueue extends CommandQueue {
  /** The next command, waiting up to `waitS` for one to arrive, or until `signal` aborts (the agent left). */
  next(instanceId: string, waitS: number, signal?: AbortSignal): Promise<Command | undefined>;
}

/** A command for an instance whose mailbox is closed: the instance is gone. */
export class MailboxClosed extends Error {
  override readonly name = "MailboxClosed";
  readonly instanceId: string;
  constructor(instanceId: string) {
    super(`instance ${instanceId} has no mailbox: it was terminated`);
    this.instanceId = instanceId;
  }
}

/**
 * Where the bytes of one artifact go, or come from, without passing through the control
 * plane's functions: a presigned S3 URL on AWS, the local control plane's own route here.
 * A PUT sends `headers` as given and the body's exact length: both are part of what was
 * signed, so anything but the announced bytes is refused.
 */
export interface ArtifactTransfer {
  url: string;
  headers: Record<string, string>;
}

/** A file an uploader announces before sending it: its size and content hash are bound into its URL. */
export interface AnnouncedFile {
  size: number;
  /** 64 lowercase hex digits. */
  sha256: string;
}

/** A range of a result file's bytes, with the file's size when it was read. */
export interface ResultBytes {
  bytes: Uint8Array;
  size: number;
}

/**
 * S3, or a local folder: each owner's content-addressed inputs under
 * `inputs/<owner>/<sha256>`, each job's results under `jobs/<jobId>/`. The control plane
 * only hands out transfers; the CLI and the agents move the bytes.
 */
export interface Artifacts {
  /**
   * Nothing to send when the owner stored this input already; else where to PUT exactly that
   * content. Another owner's copy of the same bytes counts for nothing.
   */
  inputUpload(
    owner: string,
    input: AnnouncedFile,
  ): Promise<{ stored: true } | { stored: false; upload: ArtifactTransfer }>;
  inputStored(owner: string, sha256: string): Promise<boolean>;
  /**
   * Where the agent of an owner's job GETs that owner's stored input; asked for when a
   * command is sent, so it expires soon.
   */
  inputDownload(owner: string, sha256: string): Promise<string>;
  /** Where an agent PUTs one result file, `path` relative to the job's results. */
  resultUpload(jobId: string, file: AnnouncedFile & { path: string }): Promise<ArtifactTransfer>;
  /**
   * At most `length` bytes of one result file from byte `offset`, and the file's whole size
   * now: none (size 0) when it does not exist, none when `offset` is at or past its end.
   */
  readResult(
    jobId: string,
    path: string,
    range: { offset: number; length: number },
  ): Promise<ResultBytes>;
  /** The job's result paths, in key order, a page at a time. */
  listOutputs(jobId: string, page?: { cursor?: string }): Promise<Page<string>>;
  /**
   * Where the job's owner GETs one result file (a 404 there when it does not exist); with
   * `reader: "agent"`, where the agent of the job's current attempt does (a checkpoint an
   * earlier attempt saved).
   */
  outputDownload(jobId: string, path: string, reader?: "owner" | "agent"): Promise<string>;
}

/** EventBridge, or an in-process bus with the same envelope. */
export interface EventBus {
  /**
   * Delivers every event or throws. Events are put in the order given, but EventBridge
   * does not promise to keep it (nor does putting a refused one again): consumers order a
   * job's or an instance's events by `detail.metadata.version`, and drop repeats by
   * `detail.metadata.id`. Refused before anything is delivered: an event outside the
   * StatusEvent schema (a ZodError), or one over EventBridge's 256 KB entry limit
   * (`PayloadTooLarge`). Events the bus keeps refusing after its retries throw
   * `EventsNotDelivered`, naming each one: nothing is dropped silently.
   */
  publish(events: StatusEvent[]): Promise<void>;
}

/** Events the bus still refused after its retries; the others of the same publish were delivered. */
export class EventsNotDelivered extends Error {
  override readonly name = "EventsNotDelivered";
  /** Each undelivered event's `detail.metadata.id`, with the bus's reason. */
  readonly undelivered: Array<{ id: string; error: string }>;
  constructor(undelivered: Array<{ id: string; error: string }>) {
    super(
      `${undelivered.length} event(s) not delivered: ${undelivered.map(({ id, error }) => `${id} (${error})`).join(", ")}`,
    );
    this.undelivered = undelivered;
  }
}

/**
 * Where the data points of domain/metrics.ts go: CloudWatch, as embedded metric format in
 * the function's log, or memory. Synchronous and never throws: a metric lost must not undo
 * the change it describes, which is written already.
 */
export interface Metrics {
  record(points: readonly MetricPoint[]): void;
}

export interface Clock {
  now(): string;
}

/** Each pool's idle periods and gaps, and the fleet's gaps, which the adaptive cooling policy learns from. */
export interface PoolStats {
  /**
   * Records `change` in the pool's history, exactly once: a change whose id the pool has
   * taken already changes nothing. A gap it records is added to the fleet's gaps with it,
   * all or nothing. Returns the pool's history and the fleet's gaps as they are now, read
   * with the change, so a release costs no extra read. Never drops a change: contention is
   * waited out, and should it last, the call fails for its step to be retried.
   */
  update(pool: InstancePool, change: PoolChange): Promise<PoolEvidence>;
}

/**
 * A pool's history (or the fleet's gaps) kept changing under a change for every one of its
 * tries: the change is not recorded, and its step is retried to record it.
 */
export class PoolHistoryContended extends Error {
  constructor(changeId: string, tries: number) {
    super(`pool history change ${changeId} not recorded: changed under it ${tries} times running`);
    this.name = "PoolHistoryContended";
  }
}

/** A stored job this version cannot read: damaged, or written by a newer version. */
export class UnreadableJobError extends Error {
  readonly item: Record<string, unknown>;
  constructor(item: Record<string, unknown>) {
    super(`job item ${String(item.pk)} cannot be read by this version`);
    this.item = item;
  }
}

/** A user: who they are, what their role lets them do, and who made them so. */
export interface UserRecord {
  /** What jobs, instances and tokens name their user by: opaque, and never reused. */
  userId: string;
  /** Normalized (domain/identity.ts `normalizeEmail`); unique among users. */
  email: string;
  role: Role;
  /** The password's hash with its salt and parameters (the passwords port); none: tokens only. */
  passwordHash?: string;
  createdAt: string;
  /** The user id of the admin who added this user (`setup` for the first admin). */
  createdBy: string;
  updatedAt: string;
  updatedBy: string;
}

/** A personal access token as stored: never the token itself, only its SHA-256. */
export interface TokenRecord {
  /** The first characters of the token's random part: how its user lists and revokes it. */
  tokenId: string;
  hash: string;
  userId: string;
  email: string;
  /** What the user called it (`login`, `laptop`, ...). */
  name: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
}

/**
 * Users, their access tokens and the failed sign-ins per address, in the jobs' table
 * (docs/storage.md). Listings come from an index, so a token just created may be missing
 * from `listTokens` for a moment; lookups by email and by hash are strongly consistent.
 */
/** A user changed or removed, or the conflict that refused it. */
export type UserChange =
  | { ok: true; user: UserRecord }
  | { ok: false; conflict: Conflict; message: string };

export interface UserStore {
  /**
   * Adds the user and, in the same write, its first token: `USER_EXISTS` when the email is
   * taken. The installation's first user (`firstOfAll`) is written only once ever, however
   * many setups race to make it: every later one gets `USER_EXISTS`. An admin is counted
   * (see setRole).
   */
  addUser(
    user: UserRecord,
    firstToken?: TokenRecord,
    options?: { firstOfAll?: boolean },
  ): Promise<WriteResult>;
  getUser(email: string): Promise<UserRecord | undefined>;
  /** Every user, by email. */
  listUsers(): Promise<UserRecord[]>;
  /**
   * Changes the user's role: the user as it is now, or undefined when there is no such user.
   * The store counts admins, and a change that would leave none is refused (`LAST_ADMIN`)
   * however many run at once; a user changed meanwhile is `STALE_USER`.
   */
  setRole(email: string, role: Role, by: string, at: string): Promise<UserChange | undefined>;
  /**
   * Removes the user and every token of theirs, leaving a record of who removed them and
   * when: the user removed, or undefined when there was none. Removing the last admin is
   * refused (`LAST_ADMIN`), as for setRole.
   */
  removeUser(email: string, by: string, at: string): Promise<UserChange | undefined>;
  addToken(token: TokenRecord): Promise<void>;
  tokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** The user's tokens, revoked and expired ones too (until the table forgets them), newest first. */
  listTokens(userId: string): Promise<TokenRecord[]>;
  /**
   * Revokes the user's token `tokenId`: the token as it is now, or undefined when the user
   * has none of that id. Revoking a revoked token changes nothing, its first `revokedAt` stays.
   */
  revokeToken(userId: string, tokenId: string, at: string): Promise<TokenRecord | undefined>;
  /**
   * Applies `change` to the address's failed sign-ins, with optimistic concurrency, so two
   * attempts at once both count; kept until `expiresAt`, then forgotten. A `change` that
   * answers undefined writes nothing (`changed: false`): the failures it was shown are returned.
   */
  updateLoginFailures(
    email: string,
    change: (failures: string[]) => string[] | undefined,
    expiresAt: string,
  ): Promise<{ failures: string[]; changed: boolean }>;
}

/** A slow salted password hash and its check: scrypt, in an adapter, as it is slow and async. */
export interface Passwords {
  /** The hash, carrying its own salt and cost parameters. */
  hash(password: string): Promise<string>;
  /** Whether `password` is the one `stored` was made from, compared in constant time. */
  verify(password: string, stored: string): Promise<boolean>;
}
