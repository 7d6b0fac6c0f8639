import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { gpuctlProgram } from "../../../bin/cli/program.ts";

/** The command and every command under it, each with its full name (`token create`). */
const walk = (command: Command, path: string[] = []): Array<[string, Command]> => [
  [path.join(" ") || "gpuctl", command],
  ...command.commands.flatMap((sub) => walk(sub, [...path, sub.name()])),
];

/** What `--help` prints, the text added after the options included. */
const helpOf = (command: Command): string => {
  let text = "";
  command.configureOutput({ writeOut: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
};

const program = await gpuctlProgram();
const commands = walk(program);

describe("every verb's --help", () => {
  it("covers every verb and subverb", () => {
    const names = commands.map(([name]) => name);
    expect(names).toEqual(
      expect.arrayContaining(["submit", "token create", "user role", "admin bootstrap"]),
    );
    expect(names.length).toBeGreaterThan(25);
  });

  it.each(commands)("%s has a description and examples of itself", (name, command) => {
    expect(command.description()).not.toBe("");
    const help = helpOf(command);
    const examples = help.slice(help.indexOf("\nExamples:\n"));
    expect(help).toContain("\nExamples:\n");
    const invoked = name === "gpuctl" ? "gpuctl " : `gpuctl ${name}`;
    expect(examples.split("\n").filter((line) => line.includes(invoked)).length).toBeGreaterThan(0);
  });
});
