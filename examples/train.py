"""A small, real training job: fits y = w*x + b to data/points.csv by gradient descent.

Writes a checkpoint per epoch (resuming from the latest one if the job was preempted)
and the fitted model and its loss to results/.
"""
import argparse
import csv
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--seconds-per-epoch", type=float, default=0.4)
args = parser.parse_args()

with open("data/points.csv") as f:
    points = [(float(row["x"]), float(row["y"])) for row in csv.DictReader(f)]

checkpoints = os.environ.get("GPUCTL_CHECKPOINT_DIR", "checkpoints")
os.makedirs(checkpoints, exist_ok=True)
os.makedirs("results", exist_ok=True)

state = {"epoch": 0, "w": 0.0, "b": 0.0}
saved = sorted(name for name in os.listdir(checkpoints) if name.endswith(".json"))
if saved:
    with open(os.path.join(checkpoints, saved[-1])) as f:
        state = json.load(f)
    print(f"resuming from epoch {state['epoch']}", flush=True)


def loss(w, b):
    return sum((w * x + b - y) ** 2 for x, y in points) / len(points)


for epoch in range(state["epoch"] + 1, args.epochs + 1):
    for _ in range(200):
        dw = sum(2 * (state["w"] * x + state["b"] - y) * x for x, y in points) / len(points)
        db = sum(2 * (state["w"] * x + state["b"] - y) for x, y in points) / len(points)
        state["w"] -= args.lr * dw
        state["b"] -= args.lr * db
    state["epoch"] = epoch
    with open(os.path.join(checkpoints, f"epoch-{epoch:04d}.json"), "w") as f:
        json.dump(state, f)
    print(f"epoch {epoch}/{args.epochs} loss {loss(state['w'], state['b']):.6f}", flush=True)
    time.sleep(args.seconds_per_epoch)

with open("results/model.json", "w") as f:
    json.dump({"w": state["w"], "b": state["b"], "loss": loss(state["w"], state["b"]), "epochs": args.epochs}, f)
print("wrote results/model.json", flush=True)
