/**
 * The gpuctl instance agent: `node agent/agent.ts`, configured by its environment
 * (GPUCTL_ENDPOINT, GPUCTL_INSTANCE_ID, GPUCTL_AGENT_HOME; locally GPUCTL_AGENT_TOKEN_FILE;
 * on AWS GPUCTL_RUNTIME=aws, GPUCTL_COMMAND_QUEUE_URL and AWS_REGION; optional
 * GPUCTL_HEARTBEAT_S). It long-polls its mailbox for commands (mailbox.ts) and carries them
 * out (commands.ts) while it keeps polling. SIGTERM or SIGINT (instance stopping, spot notice):
 * kill the jobs, upload the running job's checkpoint folder, exit 0. Run as root, it runs
 * each job as a user of its own (job-users.ts); docs/isolation.md says what that keeps apart.
 */
import { mkdirSync } from "node:fs";
import { SQSClient } from "@aws-sdk/client-sqs";
import { InstanceRoleSignature, InstanceToken } from "./auth.ts";
import { Backoff, ControlPlane, type PollOutcome, sleep } from "./client.ts";
import { Agent } from "./commands.ts";
import { type AgentConfig, readConfig } from "./config.ts";
import { killLeftoverGroups } from "./groups.ts";
import { runsAsRoot } from "./job-users.ts";
import { describeError, log } from "./log.ts";
import { type Mailbox, PolledMailbox, QueueMailbox } from "./mailbox.ts";
import { AGENT_ERRORS, Command } from "./protocol.ts";

/** The control plane's client and the mailbox of the runtime the agent is configured for. */
const connect = (config: AgentConfig): { controlPlane: ControlPlane; mailbox: Mailbox } => {
  const { runtime, endpoint, instanceId, pollWaitS } = config;
  if (runtime.kind === "local") {
    const controlPlane = new ControlPlane(endpoint, new InstanceToken(runtime.token));
    return { controlPlane, mailbox: new PolledMailbox(controlPlane, instanceId, pollWaitS) };
  }
  const { region, queueUrl } = runtime;
  const controlPlane = new ControlPlane(
    endpoint,
    new InstanceRoleSignature({ region, instanceId }),
  );
  const mailbox = new QueueMailbox(new SQSClient({ region }), queueUrl, pollWaitS);
  return { controlPlane, mailbox };
};

/** A 204 faster than this means a control plane that does not hold polls: do not spin. */
const MIN_EMPTY_POLL_MS = 250;

const main = async (): Promise<void> => {
  const config = readConfig();
  mkdirSync(config.home, { recursive: true });
  const leftovers = killLeftoverGroups(config.home);
  if (leftovers.length > 0) log(`killed ${leftovers.length} process groups left by a previous run`);

  const { controlPlane, mailbox } = connect(config);
  const ownUsers = runsAsRoot();
  if (!ownUsers) {
    log(
      `not root (uid ${process.getuid?.()}): jobs run as this agent's user, and can reach its ` +
        "memory, its files and each other's (see docs/isolation.md)",
    );
  }
  const agent = new Agent(config, controlPlane, ownUsers);
  const polling = new AbortController();

  process.on("exit", () => agent.killAllNow());
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    polling.abort();
    agent.shutdown().then(
      () => {
        log("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log(`shutdown: ${describeError(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", stop);

  log(`agent ${config.instanceId} polling ${mailbox.source} (home ${config.home})`);
  const backoff = new Backoff();
  let lastProblem = "";
  while (!polling.signal.aborted) {
    const started = Date.now();
    const envHashes = await agent.cachedEnvs();
    let outcome: PollOutcome;
    try {
      outcome = await mailbox.next(envHashes, polling.signal);
    } catch {
      break; // aborted: the agent is stopping
    }
    if (outcome.type === "retry") {
      if (outcome.reason !== lastProblem) log(`poll: ${outcome.reason}; retrying`);
      lastProblem = outcome.reason;
      await sleep(backoff.next(), polling.signal);
      continue;
    }
    if (lastProblem) log("poll: connected");
    lastProblem = "";
    backoff.reset();
    if (outcome.type === "empty") {
      await sleep(MIN_EMPTY_POLL_MS - (Date.now() - started), polling.signal);
      continue;
    }
    const command = Command.safeParse(outcome.body);
    if (command.success) {
      agent.handle(command.data);
      continue;
    }
    const problems = command.error.issues
      .map((issue) => `${issue.path.join(".") || "command"}: ${issue.message}`)
      .join("; ");
    log(`poll: invalid command: ${problems}`);
    const body = outcome.body as { taskToken?: unknown; job?: { credential?: unknown } } | null;
    if (typeof body?.taskToken === "string" && typeof body.job?.credential === "string") {
      controlPlane
        .fail(body.job.credential, {
          taskToken: body.taskToken,
          error: AGENT_ERRORS.prepare,
          cause: `invalid command: ${problems}`,
        })
        .catch((error: unknown) => log(`report of an invalid command: ${describeError(error)}`));
    }
  }
};

main().catch((error: unknown) => {
  log(`agent failed: ${describeError(error)}`);
  process.exit(1);
});
