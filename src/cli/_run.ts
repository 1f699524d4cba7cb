// Copyright 2026 the framewire authors. MIT license.
// Dispatches the framewire subcommands. Private: `main.ts` exports `main()`, `bin.ts` is the
// executable.

import { causeText } from "../framing/_options.ts";
import { UsageError } from "./_args.ts";
import { FORMAT_NAMES } from "./_formats.ts";
import { type CliIo, exitProcess, processArgs, runtimeIo } from "./_io.ts";
import { VERSION } from "./_version.ts";

/** `framewire --help`. */
export const MAIN_HELP: string =
  `framewire — turn a TCP byte stream back into the messages that were sent

Usage:
  framewire <command> [options]

Commands:
  demo      show, step by step, why a byte stream needs framing
  listen    accept connections and print each frame as it arrives
  send      send each line of standard input as one frame, print the replies
  inspect   show where each frame of a captured byte stream starts and ends
  help      show the help of a command

Formats (--format): ${FORMAT_NAMES.join(", ")}; u32be is the default.

Run "framewire <command> --help" for the options of each command, and
"framewire --version" for the version.

Examples:
  framewire demo
  framewire listen --port 9000 --echo
  echo hello | framewire send 127.0.0.1:9000
  framewire inspect --format varint capture.bin
`;

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, () => Promise<{ run: Command; help: string }>> = {
  async demo() {
    const m = await import("./_demo.ts");
    return { run: m.demo, help: m.DEMO_HELP };
  },
  async listen() {
    const m = await import("./_listen.ts");
    return { run: m.listen, help: m.LISTEN_HELP };
  },
  async send() {
    const m = await import("./_send.ts");
    return { run: m.send, help: m.SEND_HELP };
  },
  async inspect() {
    const m = await import("./_inspect.ts");
    return { run: m.inspect, help: m.INSPECT_HELP };
  },
};

/**
 * Runs the command line `args` with `io`; returns the exit code: 0 on
 * success, 1 when the work failed (refused connection, framing error), 2 for
 * a usage mistake. Every failure is reported in one line on standard error.
 */
export async function run(args: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--version" || name === "-V") {
    io.out(`framewire ${VERSION} (${io.runtime})\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h") {
    (name === undefined ? io.err : io.out)(MAIN_HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "help") {
    const topic = rest[0];
    if (topic === undefined || topic === "help") {
      io.out(MAIN_HELP);
      return 0;
    }
    const load = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (load === undefined) return usage(io, "framewire", `unknown command "${topic}"`);
    io.out((await load()).help);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    return usage(
      io,
      "framewire",
      name.startsWith("-")
        ? `unknown option ${name} (options go after the command)`
        : `unknown command "${name}": expected one of ${Object.keys(COMMANDS).join(", ")}`,
    );
  }
  const command = await load();
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) return usage(io, `framewire ${name}`, error.message);
    // causeText(): an Error without a message, or a value String() throws for, says what it was.
    io.err(`framewire ${name}: ${causeText(error)}\n`);
    return 1;
  }
}

function usage(io: CliIo, prefix: string, message: string): number {
  io.err(`${prefix}: ${message} (see "${prefix} --help")\n`);
  return 2;
}

/** Runs the command with the process's arguments, flushes the output and exits with its code. */
export async function runProcess(): Promise<never> {
  const io = await runtimeIo();
  const code = await run(processArgs(), io);
  await io.flush();
  exitProcess(code);
}
