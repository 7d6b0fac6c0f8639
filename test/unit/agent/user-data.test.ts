import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHUTDOWN_LIMIT_MS } from "../../../agent/commands.ts";
import { readConfig } from "../../../agent/config.ts";
import {
  AGENT_HOME,
  AGENT_UNIT,
  type AgentUserDataOptions,
  agentUserData,
  CONFIG_FILE,
  METADATA_BLOCK,
  METADATA_BLOCK_SCRIPT,
  STOP_TIMEOUT_S,
  UNIT_NAME,
  USER_DATA_LIMIT_BYTES,
} from "../../../agent/install/user-data.ts";

const options: AgentUserDataOptions = {
  endpoint: "https://abc123.execute-api.eu-west-1.amazonaws.com",
  instanceId: "gi-0123456789abcdef",
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/gpuctl-gi-0123456789abcdef",
  region: "eu-west-1",
  agentBundle: { bucket: "gpuctl-assets-123", key: "agent/abc.mjs", sha256: "a".repeat(64) },
  nodeRuntime: {
    bucket: "gpuctl-assets-123",
    key: "runtime/node-v22.23.3-linux-x64.tar.xz",
    sha256: "b".repeat(64),
  },
};

/** The syntax check of `shell` on `script`: its stderr, empty when the script parses. */
const syntaxErrors = (shell: string, script: string): string => {
  const result = spawnSync(shell, ["-n"], { input: script, encoding: "utf8" });
  return result.status === 0 ? "" : result.stderr || `exit ${result.status}`;
};

describe("the agent's user data", () => {
  const script = agentUserData(options);

  it("is a bash script that parses, with its embedded sh script parsing too", () => {
    expect(script.startsWith("#!/bin/bash\n")).toBe(true);
    expect(syntaxErrors("bash", script)).toBe("");
    expect(syntaxErrors("sh", METADATA_BLOCK)).toBe("");
  });

  it("fetches the runtime and the bundle from their S3 locations, checking each SHA-256", () => {
    expect(script).toContain(
      `fetch 's3://gpuctl-assets-123/runtime/node-v22.23.3-linux-x64.tar.xz' ${"b".repeat(64)} `,
    );
    expect(script).toContain(`fetch 's3://gpuctl-assets-123/agent/abc.mjs' ${"a".repeat(64)} `);
    expect(script).toContain("aws s3 cp --only-show-errors --region eu-west-1");
    expect(script).toContain("sha256sum --check");
    // Nothing from the internet.
    expect(script).not.toMatch(/curl|wget|apt-get|nodejs\.org|npm /);
  });

  it("writes the agent's configuration to a file only root reads", () => {
    expect(script).toContain(`(umask 077 && cat > ${CONFIG_FILE}) <<'GPUCTL_CONFIG'
GPUCTL_ENDPOINT=${options.endpoint}
GPUCTL_INSTANCE_ID=${options.instanceId}
GPUCTL_RUNTIME=aws
GPUCTL_COMMAND_QUEUE_URL=${options.queueUrl}
AWS_REGION=eu-west-1
GPUCTL_AGENT_HOME=${AGENT_HOME}
GPUCTL_CONFIG
`);
  });

  it("writes the configuration the agent reads: its runtime on AWS, its queue and its home", () => {
    const envFile = script.split("<<'GPUCTL_CONFIG'\n")[1]?.split("GPUCTL_CONFIG\n")[0] ?? "";
    const env = Object.fromEntries(
      envFile
        .trimEnd()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(readConfig(env)).toMatchObject({
      endpoint: options.endpoint,
      instanceId: options.instanceId,
      runtime: { kind: "aws", region: options.region, queueUrl: options.queueUrl },
      home: AGENT_HOME,
    });
  });

  it("installs and starts the unit, whose ExecStartPre blocks the metadata service for all but root", () => {
    expect(script).toContain(`<<'GPUCTL_UNIT'\n${AGENT_UNIT}GPUCTL_UNIT\n`);
    expect(script).toContain(`<<'GPUCTL_BLOCK'\n${METADATA_BLOCK}GPUCTL_BLOCK\n`);
    expect(script).toContain(`systemctl enable --now ${UNIT_NAME}`);
    expect(AGENT_UNIT).toContain(`ExecStartPre=${METADATA_BLOCK_SCRIPT}\n`);
    expect(METADATA_BLOCK).toContain(
      '"$1" -w -I OUTPUT 1 -d "$2" -m owner ! --uid-owner 0 -j REJECT',
    );
    expect(METADATA_BLOCK).toContain("block /usr/sbin/iptables 169.254.169.254\n");
    expect(METADATA_BLOCK).toContain("block /usr/sbin/ip6tables fd00:ec2::254 ||");
  });

  it("adds each metadata rule once, however often the agent starts", () => {
    const dir = mkdtempSync(join(tmpdir(), "gpuctl-iptables-"));
    try {
      // Stand-ins for iptables and ip6tables: record each call; -C answers CHECK.
      const log = join(dir, "calls");
      const stub = `#!/bin/sh\necho "\${0##*/} $*" >> ${log}\ncase "$*" in *" -C "*) exit "$CHECK";; esac\n`;
      for (const name of ["iptables", "ip6tables"])
        writeFileSync(join(dir, name), stub, { mode: 0o755 });
      const script = METADATA_BLOCK.replaceAll("/usr/sbin/", `${dir}/`);
      const run = (check: number) => {
        writeFileSync(log, "");
        const result = spawnSync("sh", ["-c", script], { env: { CHECK: String(check) } });
        expect(result.status).toBe(0);
        return readFileSync(log, "utf8").trim().split("\n");
      };
      const rule = "-m owner ! --uid-owner 0 -j REJECT";
      expect(run(1)).toEqual([
        `iptables -w -C OUTPUT -d 169.254.169.254 ${rule}`,
        `iptables -w -I OUTPUT 1 -d 169.254.169.254 ${rule}`,
        `ip6tables -w -C OUTPUT -d fd00:ec2::254 ${rule}`,
        `ip6tables -w -I OUTPUT 1 -d fd00:ec2::254 ${rule}`,
      ]);
      expect(run(0)).toEqual([
        `iptables -w -C OUTPUT -d 169.254.169.254 ${rule}`,
        `ip6tables -w -C OUTPUT -d fd00:ec2::254 ${rule}`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("holds no secret: no token, no key, no presigned URL", () => {
    expect(script).not.toMatch(/token|secret|password/i);
    expect(script).not.toMatch(/\b(AKIA|ASIA)[A-Z0-9]{16}\b/);
    expect(script).not.toMatch(/X-Amz-(Signature|Credential|Security-Token)/i);
  });

  it("stays under EC2's 16 KB limit with the longest keys, and refuses to go over it", () => {
    const longest = agentUserData({
      ...options,
      agentBundle: { ...options.agentBundle, key: "k".repeat(1024) },
      nodeRuntime: { ...options.nodeRuntime, key: "n".repeat(1024) },
    });
    expect(Buffer.byteLength(longest)).toBeLessThan(USER_DATA_LIMIT_BYTES);
    expect(() =>
      agentUserData({ ...options, endpoint: `https://example.com/${"p".repeat(16_384)}` }),
    ).toThrow(/^user data is \d+ bytes; EC2 takes at most 16384$/);
  });

  it("refuses what a shell or an environment file would read otherwise, naming the field", () => {
    const refused: Array<[Partial<AgentUserDataOptions>, RegExp]> = [
      [{ endpoint: "http://abc.example.com" }, /^endpoint: must be an https URL/],
      [{ endpoint: "https://x.example.com/$(reboot)" }, /^endpoint: must be an https URL/],
      [{ queueUrl: "https://sqs/q'; rm -rf /" }, /^queueUrl: must be an https URL/],
      [{ instanceId: "gi-1\nGPUCTL_AUTH=none" }, /^instanceId: must be 1 to 128 of/],
      [{ region: "eu-west-1; reboot" }, /^region: must be an AWS region name/],
      [
        { agentBundle: { ...options.agentBundle, bucket: "Bad_Bucket" } },
        /^agentBundle\.bucket: must be an S3 bucket name/,
      ],
      [
        { nodeRuntime: { ...options.nodeRuntime, sha256: "abc" } },
        /^nodeRuntime\.sha256: must be 64 lowercase hex digits/,
      ],
      [
        { agentBundle: { ...options.agentBundle, key: "agent\nrm -rf /" } },
        /^agentBundle\.key: must be 1 to 1024 characters with no control character$/,
      ],
    ];
    for (const [change, message] of refused)
      expect(() => agentUserData({ ...options, ...change })).toThrow(message);
  });

  it("quotes an S3 key whatever it holds", () => {
    const script = agentUserData({
      ...options,
      agentBundle: { ...options.agentBundle, key: "it's $(here).mjs" },
    });
    expect(script).toContain(`'s3://gpuctl-assets-123/it'\\''s $(here).mjs'`);
    expect(syntaxErrors("bash", script)).toBe("");
  });
});

describe("the agent's systemd unit", () => {
  it("runs the agent as root, restarts it always, and gives it time to upload a checkpoint", () => {
    const settings = AGENT_UNIT.split("\n");
    for (const setting of [
      "User=root",
      `EnvironmentFile=${CONFIG_FILE}`,
      "ExecStart=/opt/gpuctl/node/bin/node /opt/gpuctl/agent.mjs",
      "Restart=always",
      "KillSignal=SIGTERM",
      "KillMode=mixed",
      `TimeoutStopSec=${STOP_TIMEOUT_S}`,
      "WantedBy=multi-user.target",
    ])
      expect(settings).toContain(setting);
    // Longer than the agent's own bound on its shutdown, within a spot notice's two minutes.
    expect(STOP_TIMEOUT_S * 1000).toBeGreaterThan(SHUTDOWN_LIMIT_MS);
    expect(STOP_TIMEOUT_S).toBeLessThan(120);
  });

  it.runIf(existsSync("/usr/bin/systemd-analyze"))(
    "is a unit systemd reads without a complaint",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "gpuctl-unit-"));
      try {
        const file = join(dir, UNIT_NAME);
        writeFileSync(file, AGENT_UNIT);
        const result = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
        // The programs it runs exist on an instance only.
        const complaints = result.stderr
          .split("\n")
          .filter((line) => line && !/Command \/opt\/gpuctl\/\S+ is not executable/.test(line));
        expect(complaints).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
