/**
 * The EC2 `Compute`: instances launched from the stack's launch template, one subnet (one
 * AZ) after another, and found again by their `gpuctl:instance` tag. Choices: docs/aws.md,
 * "Compute on EC2".
 */
import { createHash } from "node:crypto";
import {
  type _InstanceType,
  DescribeInstancesCommand,
  type EC2Client,
  EC2ServiceException,
  type Instance as Ec2Instance,
  paginateDescribeInstances,
  RebootInstancesCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceStopped,
} from "@aws-sdk/client-ec2";
import {
  type Compute,
  ComputeError,
  type ComputeInstance,
  type LaunchRequest,
} from "../../../ports.ts";
import {
  anotherSubnetMayHelp,
  capacityErrorOf,
  launchRefused,
  unthrottled,
} from "./launch-errors.ts";

/** The tags every instance and volume gets; reconcile and operators find them by these. */
export const TAGS = {
  controlPlane: "gpuctl:control-plane",
  instance: "gpuctl:instance",
  job: "gpuctl:job",
  pool: "gpuctl:pool",
  owner: "gpuctl:owner",
} as const;

/** What the user data script of a new instance is made from. */
export interface UserDataRequest {
  instanceId: string;
  instanceType: string;
  spot: boolean;
  region: string;
  /** Where the agent reaches the control plane. */
  endpoint: string;
}

export interface Ec2ComputeOptions {
  client: EC2Client;
  launchTemplate: { id: string; version: string };
  /** One subnet per AZ, in the order a launch tries them. */
  subnetIds: string[];
  /** The instance types jobs may ask for. */
  instanceTypes: string[];
  /** This installation's name: the `gpuctl:control-plane` tag of everything it launches. */
  controlPlane: string;
  /** The user data script (plain text) that installs and starts the agent. */
  userData: (launch: UserDataRequest) => string;
  /** How long a start waits for an instance that is still stopping; default 600 s. */
  stoppedWaitS?: number;
}

/** States in which an instance launched under an id is that id's instance still. */
const LIVE = new Set(["pending", "running", "stopping", "stopped"]);

/**
 * The idempotency token of launching `instanceId` into `subnetId`: the same launch retried
 * (by the SDK, or by a caller) makes no second instance; another subnet is another request,
 * which a shared token would refuse as `IdempotentParameterMismatch`. Readable in
 * CloudTrail when it fits EC2's 64 characters.
 */
export const clientToken = (instanceId: string, subnetId: string): string => {
  const token = `${instanceId}.${subnetId}`;
  return token.length <= 64 ? token : createHash("sha256").update(token).digest("hex");
};

const tagValue = (instance: Ec2Instance, key: string) =>
  instance.Tags?.find((tag) => tag.Key === key)?.Value;

export class Ec2Compute implements Compute {
  readonly #client: EC2Client;
  readonly #options: Ec2ComputeOptions;
  /** EC2 ids of the launches made here: DescribeInstances may not list a new one yet. */
  readonly #launched = new Map<string, string>();

  constructor(options: Ec2ComputeOptions) {
    for (const field of ["subnetIds", "instanceTypes"] as const) {
      if (options[field].length === 0) throw new Error(`Ec2Compute: ${field} is empty`);
    }
    if (!options.controlPlane) throw new Error("Ec2Compute: controlPlane is empty");
    this.#client = options.client;
    this.#options = options;
  }

  async instanceTypes(): Promise<string[]> {
    return [...this.#options.instanceTypes];
  }

  /**
   * Adopts the live instance already launched under this id, if any; otherwise tries each
   * subnet in order, to the next only on a refusal another AZ may not repeat. Any other
   * error (throttling past the SDK's retries, a timeout, an unknown fault) ends the launch: a next subnet could make a second GPU.
   */
  async launch(request: LaunchRequest): Promise<{ providerId: string }> {
    const offered = this.#options.instanceTypes;
    if (!offered.includes(request.instanceType))
      throw new ComputeError(
        "InvalidInstanceType",
        `${request.instanceType} is not an allowed instance type (allowed: ${offered.join(", ")})`,
      );
    const existing = await this.#find(request.instanceId);
    if (existing && LIVE.has(existing.State?.Name ?? "")) {
      return { providerId: existing.InstanceId ?? "" };
    }
    const refusals = [];
    for (const subnetId of this.#options.subnetIds) {
      try {
        const { Instances } = await unthrottled(
          "RunInstances",
          this.#client.send(new RunInstancesCommand(this.#runInstances(request, subnetId))),
        );
        const providerId = Instances?.[0]?.InstanceId;
        if (!providerId) throw new Error(`RunInstances made no instance for ${request.instanceId}`);
        this.#launched.set(request.instanceId, providerId);
        return { providerId };
      } catch (error) {
        const name = capacityErrorOf(error);
        if (!name) throw error;
        refusals.push({ subnetId, name, message: (error as Error).message });
        if (!anotherSubnetMayHelp(name)) break;
      }
    }
    throw launchRefused(request, refusals);
  }

  #runInstances(request: LaunchRequest, subnetId: string): RunInstancesCommandInput {
    const { instanceId, instanceType, spot, region } = request;
    const userData = this.#options.userData({
      instanceId,
      instanceType,
      spot,
      region,
      endpoint: request.agent.endpoint,
    });
    const tags = [
      { Key: TAGS.controlPlane, Value: this.#options.controlPlane },
      { Key: TAGS.instance, Value: instanceId },
      { Key: TAGS.job, Value: request.jobId },
      { Key: TAGS.pool, Value: `${instanceType}/${request.envHash}` },
      { Key: TAGS.owner, Value: request.owner.slice(0, 256) },
      { Key: "Name", Value: `gpuctl ${instanceId}` },
    ];
    return {
      LaunchTemplate: {
        LaunchTemplateId: this.#options.launchTemplate.id,
        Version: this.#options.launchTemplate.version,
      },
      InstanceType: instanceType as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
      ClientToken: clientToken(instanceId, subnetId),
      UserData: Buffer.from(userData).toString("base64"),
      // A stopped on-demand instance keeps its disk for the next job; a one-time spot
      // instance cannot be stopped.
      InstanceInitiatedShutdownBehavior: spot ? "terminate" : "stop",
      ...(spot
        ? {
            InstanceMarketOptions: {
              MarketType: "spot",
              SpotOptions: {
                SpotInstanceType: "one-time",
                InstanceInterruptionBehavior: "terminate",
              },
            },
          }
        : {}),
      TagSpecifications: (["instance", "volume"] as const).map((ResourceType) => ({
        ResourceType,
        Tags: tags,
      })),
    };
  }

  /** The user data of launch runs again at start, so the agent's token is not needed here. */
  async start(instanceId: string): Promise<void> {
    const instance = await this.#require(instanceId);
    const providerId = instance.InstanceId ?? "";
    const state = instance.State?.Name;
    if (state === "pending" || state === "running") return;
    if (state === "stopping") {
      await waitUntilInstanceStopped(
        { client: this.#client, maxWaitTime: this.#options.stoppedWaitS ?? 600, minDelay: 5 },
        { InstanceIds: [providerId] },
      );
    }
    try {
      await unthrottled(
        "StartInstances",
        this.#client.send(new StartInstancesCommand({ InstanceIds: [providerId] })),
      );
    } catch (error) {
      const name = capacityErrorOf(error);
      if (!name) throw error;
      const message = `${instanceId} (${providerId}) cannot start now: ${name} (${(error as Error).message})`;
      throw new ComputeError(
        name === "InstanceLimitExceeded" || name === "VcpuLimitExceeded"
          ? "QuotaExceeded"
          : "InsufficientInstanceCapacity",
        message,
      );
    }
  }

  async stop(instanceId: string): Promise<void> {
    const instance = await this.#require(instanceId);
    const state = instance.State?.Name;
    if (state === "stopping" || state === "stopped") return;
    await unthrottled(
      "StopInstances",
      this.#client.send(new StopInstancesCommand({ InstanceIds: [instance.InstanceId ?? ""] })),
    );
  }

  /** A reboot: the agent's systemd service starts again at boot, on the same disk. */
  async restartAgent(instanceId: string): Promise<void> {
    const instance = await this.#require(instanceId);
    await this.#client.send(
      new RebootInstancesCommand({ InstanceIds: [instance.InstanceId ?? ""] }),
    );
  }

  /** An instance already gone is terminated: the caller's wish holds. */
  async terminate(instanceId: string): Promise<void> {
    const instance = await this.#find(instanceId);
    if (!instance?.InstanceId || !LIVE.has(instance.State?.Name ?? "")) return;
    try {
      await unthrottled(
        "TerminateInstances",
        this.#client.send(new TerminateInstancesCommand({ InstanceIds: [instance.InstanceId] })),
      );
    } catch (error) {
      if (error instanceof EC2ServiceException && error.name === "InvalidInstanceID.NotFound")
        return;
      throw error;
    }
  }

  async serviceAddress(instanceId: string, port: number) {
    const instance = await this.#require(instanceId);
    if (!instance.PrivateIpAddress)
      throw new Error(`instance ${instanceId} (${instance.InstanceId}) has no private address`);
    return { host: instance.PrivateIpAddress, port };
  }

  async list(): Promise<ComputeInstance[]> {
    return unthrottled("DescribeInstances", this.#list());
  }

  async #list(): Promise<ComputeInstance[]> {
    const found: ComputeInstance[] = [];
    const pages = paginateDescribeInstances(
      { client: this.#client, pageSize: 1000 },
      { Filters: [{ Name: `tag:${TAGS.controlPlane}`, Values: [this.#options.controlPlane] }] },
    );
    for await (const page of pages) {
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const instanceId = tagValue(instance, TAGS.instance);
        const state = instance.State?.Name;
        if (!instanceId || !instance.InstanceId || !state) continue;
        found.push({
          instanceId,
          providerId: instance.InstanceId,
          state,
          launchedAt: instance.LaunchTime?.toISOString() ?? "",
        });
      }
    }
    return found;
  }

  async #require(instanceId: string): Promise<Ec2Instance> {
    const instance = await this.#find(instanceId);
    if (!instance?.InstanceId) throw new Error(`no EC2 instance is tagged ${instanceId}`);
    return instance;
  }

  /**
   * The EC2 instance tagged with this gpuctl id, a live one before one that is gone; a
   * launch made here that DescribeInstances does not list yet counts as pending.
   */
  async #find(instanceId: string): Promise<Ec2Instance | undefined> {
    const { Reservations } = await unthrottled(
      "DescribeInstances",
      this.#client.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TAGS.controlPlane}`, Values: [this.#options.controlPlane] },
            { Name: `tag:${TAGS.instance}`, Values: [instanceId] },
          ],
        }),
      ),
    );
    const instances = (Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    const launched = this.#launched.get(instanceId);
    return (
      instances.find((instance) => LIVE.has(instance.State?.Name ?? "")) ??
      (launched ? { InstanceId: launched, State: { Name: "pending" } } : instances[0])
    );
  }
}
