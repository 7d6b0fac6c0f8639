/**
 * The user data that makes an EC2 instance of the AWS Deep Learning Base GPU AMI (Ubuntu
 * 22.04) a gpuctl instance: on its first boot it fetches Node.js and the agent's bundle
 * from the control plane's bucket, writes the agent's configuration, and installs the agent
 * as a systemd service. A stopped and started instance keeps its disk, so all of it is
 * still there and the service starts at boot; the user data does not run again.
 *
 * The files are named by S3 location and fetched with the instance role's credentials
 * (`aws s3 cp`; the AMI has the AWS CLI), not by presigned URLs: a URL signed with a
 * Lambda's session credentials dies with that session, possibly before a slow spot launch
 * boots, and the user data would then carry a bearer URL. Each file is checked against
 * its SHA-256 before it is used. Nothing comes from the internet.
 */
/** An object in the control plane's bucket, and the SHA-256 (hex) of its contents. */
export interface S3File {
  bucket: string;
  key: string;
  sha256: string;
}

export interface AgentUserDataOptions {
  /** The agent API's base URL (https). */
  endpoint: string;
  /** The gpuctl instance id the control plane chose. */
  instanceId: string;
  /** The instance's command queue (SQS), long-polled by the agent. */
  queueUrl: string;
  /** The control plane's region: its bucket, queue and API. */
  region: string;
  /** The agent's bundle, as `npm run build:agent` writes it (dist/agent/agent.mjs). */
  agentBundle: S3File;
  /** An official Node.js 22 linux-x64 distribution (`node-v22.*-linux-x64.tar.xz` or `.tar.gz`). */
  nodeRuntime: S3File;
}

/** EC2 refuses user data longer than this, before base64. */
export const USER_DATA_LIMIT_BYTES = 16_384;
export const INSTALL_DIR = "/opt/gpuctl";
/** The agent's configuration: an environment file only root reads. */
export const CONFIG_FILE = "/etc/gpuctl/agent.env";
/** The agent's home on the root volume, which a stop keeps (not the instance store, which it wipes). */
export const AGENT_HOME = "/var/lib/gpuctl";
export const UNIT_NAME = "gpuctl-agent.service";
export const METADATA_BLOCK_SCRIPT = `${INSTALL_DIR}/bin/block-metadata`;
/**
 * How long systemd waits for the agent to stop before it kills it: more than the agent's
 * own bound on its shutdown (SHUTDOWN_LIMIT_MS, agent/commands.ts: kill the jobs, upload
 * the running job's checkpoint), less than a spot interruption notice's two minutes.
 */
export const STOP_TIMEOUT_S = 100;

/**
 * The instance role's credentials are served by the metadata service to any process that
 * asks: only root, the agent, may ask, or a job becomes the agent. Rules vanish at reboot,
 * so the unit applies them before every start of the agent (iptables-persistent would be a
 * package from the internet); `-C` first, so a restart adds no duplicate. Without IPv6 in
 * the kernel, nothing reaches the IPv6 address either.
 */
export const METADATA_BLOCK = `#!/bin/sh
set -eu
block() {
  "$1" -w -C OUTPUT -d "$2" -m owner ! --uid-owner 0 -j REJECT 2>/dev/null ||
    "$1" -w -I OUTPUT 1 -d "$2" -m owner ! --uid-owner 0 -j REJECT
}
block /usr/sbin/iptables 169.254.169.254
block /usr/sbin/ip6tables fd00:ec2::254 || [ ! -e /proc/net/if_inet6 ]
`;

/**
 * The agent's unit. KillMode=mixed: SIGTERM goes to the agent alone, which stops its jobs
 * itself before it uploads the running job's checkpoint; whatever is left when it exits
 * (or at the timeout) is killed. No start limit: an agent that cannot start keeps trying.
 */
export const AGENT_UNIT = `[Unit]
Description=gpuctl instance agent
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=exec
User=root
EnvironmentFile=${CONFIG_FILE}
ExecStartPre=${METADATA_BLOCK_SCRIPT}
ExecStart=${INSTALL_DIR}/node/bin/node ${INSTALL_DIR}/agent.mjs
Restart=always
RestartSec=5
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=${STOP_TIMEOUT_S}

[Install]
WantedBy=multi-user.target
`;

/** Characters a URL may hold that mean nothing to a shell heredoc or a systemd environment file. */
const PLAIN_URL = /^https:\/\/[\w.~:/?#@!&*+,;=%-]+$/;
const INSTANCE_ID = /^[\w.-]{1,128}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const SHA256 = /^[0-9a-f]{64}$/;

const check = (field: string, value: string, pattern: RegExp, reason: string): string => {
  if (!pattern.test(value)) throw new Error(`${field}: ${reason}, got ${JSON.stringify(value)}`);
  return value;
};

const checkFile = (field: string, file: S3File): S3File => {
  check(`${field}.bucket`, file.bucket, BUCKET, "must be an S3 bucket name");
  check(`${field}.sha256`, file.sha256, SHA256, "must be 64 lowercase hex digits");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (!file.key || file.key.length > 1024 || /[\u0000-\u001f\u007f]/.test(file.key))
    throw new Error(`${field}.key: must be 1 to 1024 characters with no control character`);
  return file;
};

/** One word for the shell, whatever it holds. */
export const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
const s3Uri = (file: S3File) => quote(`s3://${file.bucket}/${file.key}`);

/** The user data for one instance: a shell script cloud-init runs as root on its first boot. */
export const agentUserData = (options: AgentUserDataOptions): string => {
  const endpoint = check("endpoint", options.endpoint, PLAIN_URL, "must be an https URL");
  const queueUrl = check("queueUrl", options.queueUrl, PLAIN_URL, "must be an https URL");
  const instanceId = check(
    "instanceId",
    options.instanceId,
    INSTANCE_ID,
    "must be 1 to 128 of A-Z a-z 0-9 _ . -",
  );
  const region = check("region", options.region, REGION, "must be an AWS region name");
  const agent = checkFile("agentBundle", options.agentBundle);
  const node = checkFile("nodeRuntime", options.nodeRuntime);
  const script = `#!/bin/bash
# gpuctl instance ${instanceId}: installs the agent as ${UNIT_NAME}.
set -euo pipefail
umask 022
install -d -m 0755 ${INSTALL_DIR} ${INSTALL_DIR}/bin
install -d -m 0700 /etc/gpuctl
install -d -m 0711 ${AGENT_HOME}

# fetch <s3 uri> <sha256> <file>: with the instance role, retried while the network comes up.
fetch() {
  local attempt
  for attempt in 1 2 3 4 5 6; do
    if aws s3 cp --only-show-errors --region ${region} "$1" "$3.part" &&
      echo "$2  $3.part" | sha256sum --check --status; then
      mv "$3.part" "$3"
      return 0
    fi
    sleep $((attempt * 5))
  done
  echo "gpuctl: could not fetch $1 with SHA-256 $2" >&2
  return 1
}

fetch ${s3Uri(node)} ${node.sha256} ${INSTALL_DIR}/node.tar
rm -rf ${INSTALL_DIR}/node
install -d -m 0755 ${INSTALL_DIR}/node
tar -xf ${INSTALL_DIR}/node.tar -C ${INSTALL_DIR}/node --strip-components=1 --no-same-owner
rm -f ${INSTALL_DIR}/node.tar
fetch ${s3Uri(agent)} ${agent.sha256} ${INSTALL_DIR}/agent.mjs

(umask 077 && cat > ${CONFIG_FILE}) <<'GPUCTL_CONFIG'
GPUCTL_ENDPOINT=${endpoint}
GPUCTL_INSTANCE_ID=${instanceId}
GPUCTL_RUNTIME=aws
GPUCTL_COMMAND_QUEUE_URL=${queueUrl}
AWS_REGION=${region}
GPUCTL_AGENT_HOME=${AGENT_HOME}
GPUCTL_CONFIG

cat > ${METADATA_BLOCK_SCRIPT} <<'GPUCTL_BLOCK'
${METADATA_BLOCK}GPUCTL_BLOCK
chmod 0755 ${METADATA_BLOCK_SCRIPT}

cat > /etc/systemd/system/${UNIT_NAME} <<'GPUCTL_UNIT'
${AGENT_UNIT}GPUCTL_UNIT
systemctl daemon-reload
systemctl enable --now ${UNIT_NAME}
`;
  const bytes = Buffer.byteLength(script);
  if (bytes > USER_DATA_LIMIT_BYTES)
    throw new Error(`user data is ${bytes} bytes; EC2 takes at most ${USER_DATA_LIMIT_BYTES}`);
  return script;
};
