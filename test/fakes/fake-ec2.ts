/**
 * A stateful EC2 behind aws-sdk-client-mock: RunInstances (client tokens honoured),
 * DescribeInstances (tag and id filters, pages), Start/Stop/TerminateInstances. A pending,
 * stopping or shutting-down instance moves on at the next DescribeInstances, as EC2's do.
 */
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  EC2ServiceException,
  type Instance,
  type InstanceStateName,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";

export const ec2Error = (name: string, message = name) =>
  new EC2ServiceException({ name, $fault: "server", $metadata: {}, message });

const SETTLES: Partial<Record<InstanceStateName, InstanceStateName>> = {
  pending: "running",
  stopping: "stopped",
  "shutting-down": "terminated",
};

/** A client to give the adapter; fake credentials, so nothing reaches AWS or asks for credentials. */
export const ec2Client = () =>
  new EC2Client({
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDFAKE", secretAccessKey: "fake" },
  });

export const fakeEc2 = (options: { pageSize?: number } = {}) => {
  const mock = mockClient(EC2Client);
  const instances = new Map<string, Instance>();
  const tokens = new Map<string, string>();
  /** Refusals RunInstances answers first, one per call, by subnet ("*": any subnet). */
  const refusals: Array<{ subnetId: string; name: string }> = [];
  let launches = 0;

  const notFound = (id: string) => ec2Error("InvalidInstanceID.NotFound", `${id} does not exist`);
  const get = (id: string) => {
    const instance = instances.get(id);
    if (!instance) throw notFound(id);
    return instance;
  };
  const setState = (instance: Instance, name: InstanceStateName) => {
    instance.State = { Name: name };
  };

  const run = (input: RunInstancesCommandInput) => {
    const token = input.ClientToken ?? "";
    const known = tokens.get(token);
    if (known) return { Instances: [get(known)] };
    const refusal = refusals.findIndex((r) => r.subnetId === "*" || r.subnetId === input.SubnetId);
    if (refusal >= 0) {
      const name = refusals.splice(refusal, 1)[0]?.name ?? "";
      throw ec2Error(name, `${name} in ${input.SubnetId}`);
    }
    const id = `i-${String(++launches).padStart(17, "0")}`;
    const instance: Instance = {
      InstanceId: id,
      InstanceType: input.InstanceType,
      SubnetId: input.SubnetId,
      State: { Name: "pending" },
      LaunchTime: new Date(Date.UTC(2026, 0, 1, 0, launches)),
      PrivateIpAddress: `10.0.0.${launches}`,
      Tags: input.TagSpecifications?.find((spec) => spec.ResourceType === "instance")?.Tags ?? [],
    };
    instances.set(id, instance);
    tokens.set(token, id);
    return { Instances: [instance] };
  };

  const describe = (input: DescribeInstancesCommandInput) => {
    for (const id of input.InstanceIds ?? []) get(id);
    const matching = [...instances.values()].filter(
      (instance) =>
        (!input.InstanceIds || input.InstanceIds.includes(instance.InstanceId ?? "")) &&
        (input.Filters ?? []).every((filter) => {
          const key = filter.Name?.replace(/^tag:/, "");
          const value = instance.Tags?.find((tag) => tag.Key === key)?.Value ?? "";
          return filter.Values?.includes(value);
        }),
    );
    const start = Number(input.NextToken ?? 0);
    const size = Math.min(options.pageSize ?? 1000, input.MaxResults ?? 1000);
    const page = matching.slice(start, start + size);
    // What this call shows is as it was; the next one sees it settled.
    const shown = page.map((instance) => structuredClone(instance));
    for (const instance of page) {
      const settled = SETTLES[instance.State?.Name ?? "running"];
      if (settled) setState(instance, settled);
    }
    return {
      Reservations: shown.map((instance) => ({ Instances: [instance] })),
      ...(start + size < matching.length ? { NextToken: String(start + size) } : {}),
    };
  };

  mock.on(RunInstancesCommand).callsFake(run);
  mock.on(DescribeInstancesCommand).callsFake(describe);
  mock.on(StartInstancesCommand).callsFake(({ InstanceIds = [] }) => {
    for (const id of InstanceIds) {
      const instance = get(id);
      if (instance.State?.Name !== "stopped") throw ec2Error("IncorrectInstanceState", id);
      setState(instance, "pending");
    }
    return {};
  });
  mock.on(StopInstancesCommand).callsFake(({ InstanceIds = [] }) => {
    for (const id of InstanceIds) setState(get(id), "stopping");
    return {};
  });
  mock.on(TerminateInstancesCommand).callsFake(({ InstanceIds = [] }) => {
    for (const id of InstanceIds) {
      const instance = get(id);
      if (instance.State?.Name !== "terminated") setState(instance, "shutting-down");
    }
    return {};
  });

  return {
    mock,
    instances,
    /** RunInstances refuses its next call in `subnetId` (or any: "*") with `name`. */
    refuse: (name: string, subnetId = "*") => refusals.push({ subnetId, name }),
    setState: (id: string, name: InstanceStateName) => setState(get(id), name),
  };
};
