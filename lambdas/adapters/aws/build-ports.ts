/**
 * Builds the AWS adapter of each port a Lambda names, from the environment the stack sets,
 * once per container: each entry point calls `buildPorts` (or `buildPortsAndEnvironment`)
 * at start-up with its handler's needs and their builders (builders/), and a
 * variable its ports need that is missing or malformed fails that start-up, named
 * (environment.ts).
 */
import type { Needs, PortName, Ports, SettingName } from "../../use-cases/control-plane.ts";
import type { Builder, Builders } from "./builders/builder.ts";
import { type Environment, type EnvironmentKind, readEnvironment } from "./environment.ts";

/**
 * The adapters of the ports and the settings `needs` names, and no others; and the
 * variables of `kinds`, which the entry point uses itself. All are checked at once.
 */
export const buildPortsAndEnvironment = async <
  P extends PortName,
  S extends SettingName,
  K extends EnvironmentKind = never,
>(
  needs: Needs<P, S>,
  builders: NoInfer<Builders<P, S>>,
  kinds: readonly K[] = [],
  variables: Record<string, string | undefined> = process.env,
): Promise<{ ports: Ports<P, S>; environment: Environment<K> }> => {
  const builderOf = (name: P | S) => [name, builders[name] as Builder<unknown>] as const;
  const ports = needs.ports.map(builderOf);
  const settings = needs.settings.map(builderOf);
  const environment = readEnvironment(
    [...kinds, ...[...ports, ...settings].flatMap(([, { reads }]) => reads)],
    variables,
  );
  const build = (entries: typeof ports | typeof settings) =>
    Promise.all(
      entries.map(async ([name, { build }]) => [name, await build(environment)] as const),
    ).then(Object.fromEntries);
  const built = await build(ports);
  return {
    ports: (needs.settings.length ? { ...built, settings: await build(settings) } : built) as Ports<
      P,
      S
    >,
    environment,
  };
};

/** The adapters of the ports and the settings `needs` names, and no others. */
export const buildPorts = async <P extends PortName, S extends SettingName>(
  needs: Needs<P, S>,
  builders: NoInfer<Builders<P, S>>,
  variables: Record<string, string | undefined> = process.env,
): Promise<Ports<P, S>> => (await buildPortsAndEnvironment(needs, builders, [], variables)).ports;
