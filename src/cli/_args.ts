// Copyright 2026 the framewire authors. MIT license.
// Hand-written argument parsing for the framewire command. Private.

/** A mistake in the command line: reported in one line, exit code 2. */
export class UsageError extends Error {
  /**
   * Constructs a new instance.
   *
   * @param message What is wrong, without the command prefix.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How one option is parsed. */
export interface OptionSpec {
  /** `"string"` takes a value (`--port 9000` or `--port=9000`); `"boolean"` does not. */
  type: "string" | "boolean";
  /** A one-letter alias, e.g. `"p"` for `-p`. */
  short?: string;
}

/** The parsed command line. */
export interface ParsedArgs {
  /** Option values by long name: a string, or `true` for boolean flags. */
  options: Map<string, string | true>;
  /** The arguments that are not options, in order. */
  positionals: string[];
}

/**
 * Parses `args` against `spec`. `--help`/`-h` are always accepted as the
 * boolean `help`. `--` ends the options; a lone `-` is a positional (stdin).
 */
export function parseArgs(
  args: readonly string[],
  spec: Readonly<Record<string, OptionSpec>>,
): ParsedArgs {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  const shorts = new Map<string, string>([["h", "help"]]);
  for (const [name, s] of Object.entries(spec)) {
    if (s.short !== undefined) shorts.set(s.short, name);
  }
  const all: Record<string, OptionSpec> = { help: { type: "boolean" }, ...spec };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      const long = shorts.get(arg.slice(1, 2));
      if (long === undefined || (arg.length > 2 && all[long]!.type === "boolean")) {
        throw new UsageError(`unknown option ${arg}`);
      }
      name = long;
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    const s = all[name];
    if (s === undefined) throw new UsageError(`unknown option --${name}`);
    if (s.type === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(`option --${name} takes no value: received "${inline}"`);
      }
      options.set(name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-" && !/^-\d/.test(next))) {
        throw new UsageError(`option --${name} needs a value`);
      }
      value = next;
      i++;
    }
    options.set(name, value);
  }
  return { options, positionals };
}

/** Returns the string value of option `name`, or `undefined`. */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options.get(name);
  return typeof value === "string" ? value : undefined;
}

/** Returns whether boolean option `name` was given. */
export function flag(parsed: ParsedArgs, name: string): boolean {
  return parsed.options.get(name) === true;
}

/** Parses a decimal integer in `[min, max]`, or throws a {@linkcode UsageError} naming the option. */
export function integerOption(
  parsed: ParsedArgs,
  name: string,
  range: { min: number; max: number; fallback?: number },
): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return range.fallback;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(
      `invalid --${name} "${raw}": expected an integer from ${range.min} to ${range.max}`,
    );
  }
  return n;
}

/**
 * Parses a TCP port (0 allowed only when `allowZero`); `what` names it in
 * the error, e.g. `--port "abc"`.
 */
export function parsePort(raw: string, what: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > 65535) {
    throw new UsageError(`invalid ${what}: expected a port number from ${min} to 65535`);
  }
  return n;
}

/** The address `send` connects to. */
export type Target = { hostname: string; port: number } | { path: string };

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT`, `:PORT` / `PORT` (127.0.0.1), or a Unix
 * socket path (`unix:PATH`, or anything containing a `/`).
 */
export function parseTarget(raw: string): Target {
  if (raw.startsWith("unix:")) {
    const path = raw.slice(5);
    if (path === "") throw new UsageError(`invalid address "${raw}": the socket path is empty`);
    return { path };
  }
  if (raw.includes("/")) return { path: raw };
  let host: string;
  let port: string;
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(raw);
  if (bracket !== null) {
    host = bracket[1]!;
    port = bracket[2]!;
    // Brackets are for IPv6 addresses, as in URLs (before, "[127.0.0.1]:9000" was taken as bare).
    if (!host.includes(":")) {
      throw new UsageError(
        `invalid address "${raw}": brackets are for IPv6 addresses, e.g. [::1]:9000; write ${host}:${port}`,
      );
    }
  } else if (/^\d+$/.test(raw)) {
    host = "";
    port = raw;
  } else {
    const colon = raw.lastIndexOf(":");
    if (colon === -1) {
      throw new UsageError(`invalid address "${raw}": expected HOST:PORT, e.g. 127.0.0.1:9000`);
    }
    host = raw.slice(0, colon);
    port = raw.slice(colon + 1);
    if (raw.startsWith("[") && raw.endsWith("]")) {
      throw new UsageError(`invalid address "${raw}": the port is missing, e.g. ${raw}:9000`);
    }
    if (host === "[]") {
      throw new UsageError(`invalid address "${raw}": the host is empty, e.g. [::1]:9000`);
    }
    if (host.includes(":")) {
      throw new UsageError(
        `invalid address "${raw}": write IPv6 addresses in brackets, e.g. [::1]:9000`,
      );
    }
  }
  return {
    hostname: host === "" ? "127.0.0.1" : host,
    port: parsePort(port, `port "${port}" in "${raw}"`, false),
  };
}
