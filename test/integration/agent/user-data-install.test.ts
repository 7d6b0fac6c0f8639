/**
 * The agent's user data, run for real as root, in a mount namespace of its own where /etc,
 * /opt and /var/lib are overlays (what it writes there vanishes with the namespace), with
 * stand-ins for the AWS CLI (copies from a local folder), systemctl (records its calls) and
 * sleep (the retry pauses).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGENT_UNIT,
  type AgentUserDataOptions,
  agentUserData,
  CONFIG_FILE,
  METADATA_BLOCK,
  METADATA_BLOCK_SCRIPT,
  UNIT_NAME,
} from "../../../agent/install/user-data.ts";
import { AGENT_BUNDLE } from "../../../scripts/build-agent.ts";

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const canIsolate =
  process.getuid?.() === 0 &&
  existsSync("/usr/bin/unshare") &&
  spawnSync("unshare", ["-m", "true"]).status === 0;

let dir: string;
let options: AgentUserDataOptions;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gpuctl-install-"));
  // The bucket: a Node.js distribution (a stand-in node) and the agent's bundle.
  const bucket = join(dir, "bucket");
  mkdirSync(join(dir, "dist", "node-v22.0.0-linux-x64", "bin"), { recursive: true });
  writeFileSync(join(dir, "dist", "node-v22.0.0-linux-x64", "bin", "node"), "#!/bin/sh\n", {
    mode: 0o755,
  });
  mkdirSync(bucket);
  spawnSync("tar", [
    "-czf",
    join(bucket, "node.tar.gz"),
    "-C",
    join(dir, "dist"),
    "node-v22.0.0-linux-x64",
  ]);
  writeFileSync(join(bucket, "agent.mjs"), readFileSync(AGENT_BUNDLE));
  const stubs = join(dir, "stubs");
  mkdirSync(stubs);
  // aws s3 cp --only-show-errors --region R s3://assets/KEY FILE
  writeFileSync(join(stubs, "aws"), `#!/bin/sh\ncp "${bucket}/\${6#s3://assets/}" "$7"\n`, {
    mode: 0o755,
  });
  writeFileSync(join(stubs, "systemctl"), `#!/bin/sh\necho "$*" >> ${dir}/systemctl\n`, {
    mode: 0o755,
  });
  writeFileSync(join(stubs, "sleep"), "#!/bin/sh\n", { mode: 0o755 });
  options = {
    endpoint: "https://abc123.execute-api.eu-west-1.amazonaws.com",
    instanceId: "gi-install",
    queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/gpuctl-gi-install",
    region: "eu-west-1",
    agentBundle: { bucket: "assets", key: "agent.mjs", sha256: sha256(join(bucket, "agent.mjs")) },
    nodeRuntime: {
      bucket: "assets",
      key: "node.tar.gz",
      sha256: sha256(join(bucket, "node.tar.gz")),
    },
  };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let runs = 0;
/** Runs the user data in a namespace of its own, then `inspect` there; returns both outputs. */
const install = (userData: string, inspect: string) => {
  const run = join(dir, `run-${++runs}`);
  const overlays = ["/etc", "/opt", "/var/lib"].map((target, index) => {
    for (const part of ["upper", "work"])
      mkdirSync(join(run, `${part}-${index}`), { recursive: true });
    return `mount -t overlay overlay -o lowerdir=${target},upperdir=${run}/upper-${index},workdir=${run}/work-${index} ${target}`;
  });
  writeFileSync(join(run, "user-data"), userData);
  const script = [
    "set -e",
    ...overlays,
    `PATH=${dir}/stubs:$PATH bash ${run}/user-data > ${run}/out 2>&1 || echo "user data failed: $?" >> ${run}/out`,
    inspect,
  ].join("\n");
  const result = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
    encoding: "utf8",
  });
  return {
    userData: readFileSync(join(run, "out"), "utf8"),
    inspect: result.stdout + result.stderr,
  };
};

describe.runIf(canIsolate)("the agent's user data on a fresh instance", () => {
  it("installs the runtime, the bundle, a root-only configuration and the unit, and starts it", () => {
    const { userData, inspect } = install(
      agentUserData(options),
      [
        "stat -c '%a %U %n' /opt/gpuctl/node/bin/node /opt/gpuctl/agent.mjs " +
          `${CONFIG_FILE} /etc/gpuctl ${METADATA_BLOCK_SCRIPT} /var/lib/gpuctl`,
        `sha256sum /opt/gpuctl/agent.mjs`,
        `echo ---; cat ${CONFIG_FILE}`,
        `echo ---; cat /etc/systemd/system/${UNIT_NAME}`,
        `echo ---; cat ${METADATA_BLOCK_SCRIPT}`,
        "echo ---; ls /opt/gpuctl",
      ].join("\n"),
    );
    expect(userData).toBe("");
    const [modes, config, unit, block, listing] = inspect.split("---\n");
    expect(modes).toContain("755 root /opt/gpuctl/node/bin/node\n");
    expect(modes).toContain("644 root /opt/gpuctl/agent.mjs\n");
    expect(modes).toContain(`600 root ${CONFIG_FILE}\n`);
    expect(modes).toContain("700 root /etc/gpuctl\n");
    expect(modes).toContain(`755 root ${METADATA_BLOCK_SCRIPT}\n`);
    expect(modes).toContain("711 root /var/lib/gpuctl\n");
    expect(modes).toContain(`${options.agentBundle.sha256}  /opt/gpuctl/agent.mjs`);
    expect(config).toBe(
      [
        `GPUCTL_ENDPOINT=${options.endpoint}`,
        `GPUCTL_INSTANCE_ID=${options.instanceId}`,
        "GPUCTL_RUNTIME=aws",
        `GPUCTL_COMMAND_QUEUE_URL=${options.queueUrl}`,
        "AWS_REGION=eu-west-1",
        "GPUCTL_AGENT_HOME=/var/lib/gpuctl",
        "",
      ].join("\n"),
    );
    expect(unit).toBe(AGENT_UNIT);
    expect(block).toBe(METADATA_BLOCK);
    // The downloads leave nothing behind.
    expect(listing).toBe("agent.mjs\nbin\nnode\n");
    expect(readFileSync(join(dir, "systemctl"), "utf8")).toBe(
      `daemon-reload\nenable --now ${UNIT_NAME}\n`,
    );
  });

  it("installs nothing whose SHA-256 is not the one it was given", () => {
    const { userData, inspect } = install(
      agentUserData({
        ...options,
        agentBundle: { ...options.agentBundle, sha256: "0".repeat(64) },
      }),
      "ls /opt/gpuctl /etc/systemd/system",
    );
    expect(userData).toContain(
      `gpuctl: could not fetch s3://assets/agent.mjs with SHA-256 ${"0".repeat(64)}`,
    );
    expect(userData).toMatch(/user data failed: 1\n$/);
    expect(inspect).not.toContain("agent.mjs\n");
    expect(inspect).not.toContain(UNIT_NAME);
  });
});
