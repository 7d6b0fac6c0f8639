import {
  DescribeInstancesCommand,
  EC2Client,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterEach, describe, expect, it } from "vitest";
import { clientToken, Ec2Compute } from "../../../../../lambdas/adapters/aws/ec2/ec2-compute.ts";
import { ComputeError, type LaunchRequest } from "../../../../../lambdas/ports.ts";
import { ec2Client, ec2Error, fakeEc2 } from "../../../../fakes/fake-ec2.ts";

const SUBNETS = ["subnet-a", "subnet-b", "subnet-c"];
const compute = (client: EC2Client = ec2Client()) =>
  new Ec2Compute({
    client,
    launchTemplate: { id: "lt-0123", version: "7" },
    subnetIds: SUBNETS,
    instanceTypes: ["g5.xlarge", "g6.xlarge"],
    controlPlane: "gpuctl-prod",
    userData: (launch) => `#!/bin/sh\necho ${launch.instanceId} ${launch.endpoint}\n`,
    stoppedWaitS: 30,
  });

const request = (fields: Partial<LaunchRequest> = {}): LaunchRequest => ({
  instanceId: "gi-0011223344556677",
  instanceType: "g5.xlarge",
  spot: false,
  jobId: "job-1",
  owner: "ada",
  envHash: "sha256:env",
  region: "eu-west-1",
  agent: { endpoint: "https://api.example/agent", token: "secret" },
  ...fields,
});

let ec2: ReturnType<typeof fakeEc2>;
afterEach(() => ec2?.mock.restore());

const runs = () => ec2.mock.commandCalls(RunInstancesCommand).map((call) => call.args[0].input);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable("it resolved"),
    (error: unknown) => {
      expect(error).toBeInstanceOf(ComputeError);
      return error as ComputeError;
    },
  );

describe("launching on EC2", () => {
  it("asks RunInstances for one on-demand instance from the launch template, tagged with whose it is", async () => {
    ec2 = fakeEc2();
    const { providerId } = await compute().launch(request());
    const tags = [
      { Key: "gpuctl:control-plane", Value: "gpuctl-prod" },
      { Key: "gpuctl:instance", Value: "gi-0011223344556677" },
      { Key: "gpuctl:job", Value: "job-1" },
      { Key: "gpuctl:pool", Value: "g5.xlarge/sha256:env" },
      { Key: "gpuctl:owner", Value: "ada" },
      { Key: "Name", Value: "gpuctl gi-0011223344556677" },
    ];
    expect(ec2.mock).toHaveReceivedCommandWith(RunInstancesCommand, {
      LaunchTemplate: { LaunchTemplateId: "lt-0123", Version: "7" },
      InstanceType: "g5.xlarge",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: "subnet-a",
      ClientToken: "gi-0011223344556677.subnet-a",
      InstanceInitiatedShutdownBehavior: "stop",
      UserData: Buffer.from(
        "#!/bin/sh\necho gi-0011223344556677 https://api.example/agent\n",
      ).toString("base64"),
      TagSpecifications: [
        { ResourceType: "instance", Tags: tags },
        { ResourceType: "volume", Tags: tags },
      ],
    });
    expect(runs()[0]).not.toHaveProperty("InstanceMarketOptions");
    expect(providerId).toBe(ec2.instances.keys().next().value);
  });

  it("asks for a one-time spot instance that terminates when interrupted", async () => {
    ec2 = fakeEc2();
    await compute().launch(request({ spot: true }));
    expect(ec2.mock).toHaveReceivedCommandWith(RunInstancesCommand, {
      InstanceMarketOptions: {
        MarketType: "spot",
        SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate" },
      },
      InstanceInitiatedShutdownBehavior: "terminate",
    });
  });

  it("puts no agent token in the user data, which DescribeInstanceAttribute reads back", async () => {
    ec2 = fakeEc2();
    await compute().launch(request());
    expect(Buffer.from(runs()[0]?.UserData ?? "", "base64").toString()).not.toContain("secret");
  });

  it("refuses a type it is not allowed to launch, and calls nothing", async () => {
    ec2 = fakeEc2();
    const error = await failure(compute().launch(request({ instanceType: "p5.48xlarge" })));
    expect(error.code).toBe("InvalidInstanceType");
    expect(error.message).toContain("allowed: g5.xlarge, g6.xlarge");
    expect(ec2.mock.calls()).toHaveLength(0);
  });

  it("launches an id once: asked again, it adopts the instance launched already", async () => {
    ec2 = fakeEc2();
    const first = await compute().launch(request());
    // Another container, which did not make the first launch, asks again.
    const again = await compute().launch(request());
    expect(again).toEqual(first);
    expect(runs()).toHaveLength(1);
    expect(ec2.instances.size).toBe(1);
  });

  it("derives each subnet's client token from the instance id, readable while it fits 64 characters", () => {
    expect(clientToken("gi-1", "subnet-a")).toBe("gi-1.subnet-a");
    expect(clientToken("gi-1", "subnet-b")).not.toBe(clientToken("gi-1", "subnet-a"));
    const long = clientToken("x".repeat(60), "subnet-a");
    expect(long).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("capacity refusals and the fallback across subnets", () => {
  it("tries the next subnet, in the configured order, on InsufficientInstanceCapacity", async () => {
    ec2 = fakeEc2();
    ec2.refuse("InsufficientInstanceCapacity", "subnet-a");
    const { providerId } = await compute().launch(request());
    expect(runs().map((input) => [input.SubnetId, input.ClientToken])).toEqual([
      ["subnet-a", "gi-0011223344556677.subnet-a"],
      ["subnet-b", "gi-0011223344556677.subnet-b"],
    ]);
    expect(ec2.instances.get(providerId)?.SubnetId).toBe("subnet-b");
  });

  const cases: Array<[string, boolean, string[], string, number]> = [
    // refusal, spot, refused subnets, the port's code, RunInstances calls
    ["InsufficientInstanceCapacity", false, SUBNETS, "InsufficientInstanceCapacity", 3],
    ["InstanceLimitExceeded", false, ["*"], "QuotaExceeded", 1],
    ["VcpuLimitExceeded", false, ["*"], "QuotaExceeded", 1],
    ["Unsupported", false, SUBNETS, "InvalidInstanceType", 3],
    ["InsufficientInstanceCapacity", true, SUBNETS, "SpotUnavailable", 3],
    ["MaxSpotInstanceCountExceeded", true, ["*"], "SpotUnavailable", 1],
    ["VcpuLimitExceeded", true, ["*"], "SpotUnavailable", 1],
    ["SpotMaxPriceTooLow", true, SUBNETS, "SpotUnavailable", 3],
    ["Unsupported", true, SUBNETS, "SpotUnavailable", 3],
  ];
  for (const [refusal, spot, subnets, code, calls] of cases) {
    it(`${spot ? "spot" : "on-demand"} ${refusal} -> ${code} after ${calls} subnet(s)`, async () => {
      ec2 = fakeEc2();
      for (const subnet of subnets) ec2.refuse(refusal, subnet);
      const error = await failure(compute().launch(request({ spot })));
      expect(error.code).toBe(code);
      expect(runs().map((input) => input.SubnetId)).toEqual(SUBNETS.slice(0, calls));
      expect(error.message).toContain(`subnet-a: ${refusal}`);
      expect(ec2.instances.size).toBe(0);
    });
  }

  it("calls a mix of unsupported AZs and short ones a shortage, not an invalid type", async () => {
    ec2 = fakeEc2();
    ec2.refuse("Unsupported", "subnet-a");
    ec2.refuse("InsufficientInstanceCapacity", "subnet-b");
    ec2.refuse("Unsupported", "subnet-c");
    const error = await failure(compute().launch(request()));
    expect(error.code).toBe("InsufficientInstanceCapacity");
  });

  it("stops at an error that is no refusal: another subnet could make a second GPU", async () => {
    ec2 = fakeEc2();
    ec2.mock.on(RunInstancesCommand).rejects(ec2Error("InvalidParameterValue", "bad template"));
    await expect(compute().launch(request())).rejects.toThrow("bad template");
    expect(runs()).toHaveLength(1);
  });
});

describe("throttling", () => {
  it("is retried with backoff by the SDK's own retry strategy, with the same client token", async () => {
    const bodies: string[] = [];
    const answers = [
      {
        statusCode: 503,
        body: "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>",
      },
      {
        statusCode: 200,
        body: '<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-0aaa</instanceId></item></instancesSet></RunInstancesResponse>',
      },
    ];
    const client = new EC2Client({
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDFAKE", secretAccessKey: "fake" },
      maxAttempts: 3,
      requestHandler: {
        handle: async (httpRequest: { body?: unknown }) => {
          bodies.push(String(httpRequest.body));
          const isRun = String(httpRequest.body).includes("Action=RunInstances");
          const answer = isRun
            ? (answers.shift() ?? { statusCode: 500, body: "" })
            : {
                statusCode: 200,
                body: '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><reservationSet/></DescribeInstancesResponse>',
              };
          return {
            response: {
              statusCode: answer.statusCode,
              headers: { "content-type": "text/xml" },
              body: new TextEncoder().encode(answer.body),
            },
          };
        },
      },
    });
    const { providerId } = await compute(client).launch(request());
    expect(providerId).toBe("i-0aaa");
    const launches = bodies.filter((body) => body.includes("Action=RunInstances"));
    expect(launches).toHaveLength(2);
    expect(launches[1]).toContain("ClientToken=gi-0011223344556677.subnet-a");
    expect(launches[1]).toBe(launches[0]);
  });
});

describe("throttling past the SDK's retries", () => {
  it("is Throttled, and the launch tries no other subnet: the same call later may work", async () => {
    ec2 = fakeEc2();
    ec2.refuse("RequestLimitExceeded", "subnet-a");
    const error = await failure(compute().launch(request()));
    expect(error.code).toBe("Throttled");
    expect(runs().map((input) => input.SubnetId)).toEqual(["subnet-a"]);
    expect(ec2.instances.size).toBe(0);
  });

  it("is Throttled for every call that asks EC2, so callers tell it from a failure", async () => {
    ec2 = fakeEc2();
    const ec2Compute = compute();
    const { providerId } = await ec2Compute.launch(request());
    ec2.setState(providerId, "stopped");
    const throttle = ec2Error("RequestLimitExceeded", "Request limit exceeded.");
    for (const command of [StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand])
      ec2.mock.on(command).rejects(throttle);
    const { instanceId } = request();
    expect((await failure(ec2Compute.start(instanceId))).code).toBe("Throttled");
    expect((await failure(ec2Compute.terminate(instanceId))).code).toBe("Throttled");
    ec2.setState(providerId, "running");
    expect((await failure(ec2Compute.stop(instanceId))).code).toBe("Throttled");
    ec2.mock.on(DescribeInstancesCommand).rejects(throttle);
    expect((await failure(ec2Compute.list())).code).toBe("Throttled");
    expect((await failure(ec2Compute.launch(request({ instanceId: "gi-2" })))).code).toBe(
      "Throttled",
    );
  });
});

describe("starting, stopping, terminating", () => {
  const launched = async () => {
    const ec2Compute = compute();
    const { providerId } = await ec2Compute.launch(request());
    return { ec2Compute, providerId };
  };

  it("a start with no capacity is a ComputeError, and the instance stays stopped", async () => {
    ec2 = fakeEc2();
    const { ec2Compute, providerId } = await launched();
    ec2.setState(providerId, "stopped");
    ec2.mock.on(StartInstancesCommand).rejects(ec2Error("InsufficientInstanceCapacity"));
    const error = await failure(ec2Compute.start(request().instanceId));
    expect(error.code).toBe("InsufficientInstanceCapacity");
    expect(ec2.instances.get(providerId)?.State?.Name).toBe("stopped");
  });

  it("a start waits for an instance still stopping, then starts it", async () => {
    ec2 = fakeEc2();
    const { ec2Compute, providerId } = await launched();
    ec2.setState(providerId, "stopping");
    await ec2Compute.start(request().instanceId);
    expect(ec2.mock).toHaveReceivedCommandWith(StartInstancesCommand, {
      InstanceIds: [providerId],
    });
    expect(ec2.instances.get(providerId)?.State?.Name).toBe("pending");
  });

  it("terminating an instance EC2 no longer knows is done, not an error", async () => {
    ec2 = fakeEc2();
    await compute().terminate("gi-never-launched");
    expect(ec2.mock).not.toHaveReceivedCommand(TerminateInstancesCommand);
    const { ec2Compute, providerId } = await launched();
    ec2.instances.delete(providerId);
    ec2.mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: providerId, State: { Name: "running" } }] }],
    });
    await ec2Compute.terminate(request().instanceId);
    expect(ec2.mock).toHaveReceivedCommandWith(TerminateInstancesCommand, {
      InstanceIds: [providerId],
    });
  });

  it("terminates an instance it just launched even before DescribeInstances lists it", async () => {
    ec2 = fakeEc2();
    const { ec2Compute, providerId } = await launched();
    ec2.mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await ec2Compute.terminate(request().instanceId);
    expect(ec2.instances.get(providerId)?.State?.Name).toBe("shutting-down");
  });

  it("serves a deployment at the instance's private address and the port asked", async () => {
    ec2 = fakeEc2();
    const { ec2Compute, providerId } = await launched();
    expect(await ec2Compute.serviceAddress(request().instanceId, 8080)).toEqual({
      host: ec2.instances.get(providerId)?.PrivateIpAddress,
      port: 8080,
    });
  });
});

describe("restarting a silent agent", () => {
  it("reboots the instance by its EC2 id: the agent's service starts again at boot, on the same disk", async () => {
    ec2 = fakeEc2();
    const ec2Compute = compute();
    const { providerId } = await ec2Compute.launch(request());
    ec2.mock.on(RebootInstancesCommand).resolves({});
    await ec2Compute.restartAgent(request().instanceId);
    expect(ec2.mock).toHaveReceivedCommandTimes(RebootInstancesCommand, 1);
    expect(ec2.mock).toHaveReceivedCommandWith(RebootInstancesCommand, {
      InstanceIds: [providerId],
    });
  });

  it("fails as EC2 does when the reboot is refused, and reboots nothing it does not know", async () => {
    ec2 = fakeEc2();
    const ec2Compute = compute();
    await ec2Compute.launch(request());
    ec2.mock.on(RebootInstancesCommand).rejects(ec2Error("IncorrectInstanceState"));
    await expect(ec2Compute.restartAgent(request().instanceId)).rejects.toMatchObject({
      name: "IncorrectInstanceState",
    });
    ec2.mock.resetHistory();
    await expect(compute().restartAgent("gi-never-launched")).rejects.toThrow(/no EC2 instance/);
    expect(ec2.mock).not.toHaveReceivedCommand(RebootInstancesCommand);
  });
});

describe("listing for reconcile", () => {
  it("lists every instance of this control plane, page after page", async () => {
    ec2 = fakeEc2({ pageSize: 2 });
    const ec2Compute = compute();
    const ids = ["gi-1", "gi-2", "gi-3", "gi-4", "gi-5"];
    for (const instanceId of ids) await ec2Compute.launch(request({ instanceId }));
    const listed = await ec2Compute.list();
    expect(listed.map((instance) => instance.instanceId)).toEqual(ids);
    expect(listed[0]).toMatchObject({ state: expect.any(String), launchedAt: expect.any(String) });
    const pages = ec2.mock
      .commandCalls(DescribeInstancesCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.Filters?.length === 1);
    // The paginator reuses one input object, so each recorded call shows the last token.
    expect(pages).toHaveLength(3);
    expect(pages[0]?.Filters).toEqual([
      { Name: "tag:gpuctl:control-plane", Values: ["gpuctl-prod"] },
    ]);
  });
});
