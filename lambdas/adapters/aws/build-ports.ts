/**
 * Builds the AWS adapter of each port a Lambda names, from the environment the stack sets,
 * once per container: each entry point calls `buildPorts` at start-up, and a variable its
 * ports need that is missing or malformed fails that start-up, named (environment.ts).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_COST_MODEL } from "../../domain/cooling-policy.ts";
import type {
  ControlPlane,
  Needs,
  PortName,
  Ports,
  SettingName,
  Settings,
} from "../../use-cases/control-plane.ts";
import { DynamoInstanceStore } from "./dynamodb/instance-store.ts";
import { DynamoJobStore } from "./dynamodb/job-store.ts";
import { DynamoPoolStats } from "./dynamodb/pool-stats.ts";
import { type Environment, type EnvironmentKind, readEnvironment } from "./environment.ts";

/** How one port or setting is built: the kinds of environment it reads, and its adapter. */
interface Builder<T> {
  reads: readonly EnvironmentKind[];
  build: (environment: Environment<EnvironmentKind>) => T | Promise<T>;
}

const builder = <K extends EnvironmentKind, T>(
  reads: readonly K[],
  build: (environment: Environment<K>) => T | Promise<T>,
): Builder<T> => ({ reads, build });

/** The first call's result, for every call: a client per container, shared by the ports that use it. */
const once = <A, T>(create: (argument: A) => T) => {
  let made: { value: T } | undefined;
  return (argument: A): T => {
    made ??= { value: create(argument) };
    return made.value;
  };
};

const table = once((environment: Environment<"table">) => ({
  client: DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }),
  tableName: environment.table.TABLE_NAME,
}));

/**
 * Each port's AWS adapter. A Lambda whose ports include one not listed here fails at
 * start-up, naming it.
 */
const PORTS: { [P in PortName]?: Builder<ControlPlane[P]> } = {
  jobs: builder(["table"], (environment) => new DynamoJobStore(table(environment))),
  instances: builder(["table"], (environment) => new DynamoInstanceStore(table(environment))),
  pools: builder(["table"], (environment) => new DynamoPoolStats(table(environment))),
  clock: builder([], () => ({ now: () => new Date().toISOString() })),
};

const SETTINGS: { [S in SettingName]: Builder<Settings[S]> } = {
  region: builder(["region"], (environment) => environment.region.AWS_REGION),
  /** The secret is read once per container: rotating it takes new containers (a deploy). */
  agent: builder(["agent"], async ({ agent }) => {
    const secret = await new SecretsManagerClient({}).send(
      new GetSecretValueCommand({ SecretId: agent.AGENT_SECRET_ARN }),
    );
    if (!secret.SecretString)
      throw new Error(`AGENT_SECRET_ARN: secret ${agent.AGENT_SECRET_ARN} has no string value`);
    return { endpoint: agent.AGENT_ENDPOINT, secret: secret.SecretString };
  }),
  costModel: builder([], () => DEFAULT_COST_MODEL),
};

/** The adapters of the ports and the settings `needs` names, and no others. */
export const buildPorts = async <P extends PortName, S extends SettingName>(
  needs: Needs<P, S>,
  variables: Record<string, string | undefined> = process.env,
): Promise<Ports<P, S>> => {
  const unbuilt = needs.ports.filter((port) => !PORTS[port]);
  if (unbuilt.length) throw new Error(`no AWS adapter is wired for port ${unbuilt.join(", ")}`);
  const ports = needs.ports.map((port) => [port, PORTS[port] as Builder<unknown>] as const);
  const settings = needs.settings.map(
    (name) => [name, SETTINGS[name] as Builder<unknown>] as const,
  );
  const environment = readEnvironment(
    [...ports, ...settings].flatMap(([, { reads }]) => reads),
    variables,
  );
  const build = (entries: typeof ports | typeof settings) =>
    Promise.all(
      entries.map(async ([name, { build }]) => [name, await build(environment)] as const),
    ).then(Object.fromEntries);
  const built = await build(ports);
  return (needs.settings.length ? { ...built, settings: await build(settings) } : built) as Ports<
    P,
    S
  >;
};
