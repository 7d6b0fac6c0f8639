/**
 * How a port's or setting's AWS adapter is built from the environment the stack sets. The
 * builders are grouped by the AWS service behind them (dynamodb.ts, sqs.ts, ...), one named
 * export per port, and a Lambda entry imports those its handler needs and hands them to
 * `buildPorts` (build-ports.ts): its bundle then holds only their adapters' code. Calls to
 * `builder` are marked `@__PURE__` (esbuild does not see that a function in another module
 * is pure), so an unused builder is dropped with its adapter.
 */
import type {
  ControlPlane,
  PortName,
  SettingName,
  Settings,
} from "../../../use-cases/control-plane.ts";
import type { Environment, EnvironmentKind } from "../environment.ts";

/** How one port or setting is built: the kinds of environment it reads, and its adapter. */
export interface Builder<T> {
  reads: readonly EnvironmentKind[];
  build: (environment: Environment<EnvironmentKind>) => T | Promise<T>;
}

/** The builder of each port `P` and setting `S`: what a Lambda entry hands `buildPorts`. */
export type Builders<P extends PortName, S extends SettingName> = {
  [K in P]: Builder<ControlPlane[K]>;
} & { [K in S]: Builder<Settings[K]> };

export const builder = <K extends EnvironmentKind, T>(
  reads: readonly K[],
  build: (environment: Environment<K>) => T | Promise<T>,
): Builder<T> => ({ reads, build });

/** The first call's result, for every call: a client per container, shared by the ports that use it. */
export const once = <A, T>(create: (argument: A) => T) => {
  let made: { value: T } | undefined;
  return (argument: A): T => {
    made ??= { value: create(argument) };
    return made.value;
  };
};
