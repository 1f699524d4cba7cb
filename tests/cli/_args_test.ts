// Copyright 2026 the framewire authors. MIT license.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  integerOption,
  parseArgs,
  parsePort,
  parseTarget,
  UsageError,
} from "../../src/cli/_args.ts";
import { FORMAT_NAMES, formatHelp, framingFor, PROTOCOL_NAMES } from "../../src/cli/_formats.ts";

const SPEC = {
  port: { type: "string", short: "p" },
  echo: { type: "boolean" },
  format: { type: "string" },
} as const;

test("parseArgs() accepts --opt value, --opt=value, -p value and -pvalue", () => {
  for (const args of [["--port", "9000"], ["--port=9000"], ["-p", "9000"], ["-p9000"]]) {
    const parsed = parseArgs(args, SPEC);
    assert.equal(parsed.options.get("port"), "9000", args.join(" "));
    assert.deepEqual(parsed.positionals, []);
  }
});

test("parseArgs() takes the value of -pVALUE from one character on", () => {
  const parsed = parseArgs(["-p9", "x"], SPEC);
  assert.equal(parsed.options.get("port"), "9");
  assert.deepEqual(parsed.positionals, ["x"]);
});

test("parseArgs() keeps positionals, a lone - and everything after --", () => {
  const parsed = parseArgs(["a", "--echo", "-", "--", "--port", "x"], SPEC);
  assert.deepEqual(parsed.positionals, ["a", "-", "--port", "x"]);
  assert.equal(parsed.options.get("echo"), true);
  assert.equal(parsed.options.has("port"), false);
});

test("parseArgs() always accepts --help and -h", () => {
  assert.equal(parseArgs(["--help"], SPEC).options.get("help"), true);
  assert.equal(parseArgs(["-h"], {}).options.get("help"), true);
});

test("parseArgs() lets a value start with a dash only when it is a number or -", () => {
  assert.equal(parseArgs(["--port", "-1"], SPEC).options.get("port"), "-1");
  assert.equal(parseArgs(["--format=--x"], SPEC).options.get("format"), "--x");
});

test("parseArgs() takes a lone - as an option's value", () => {
  assert.equal(parseArgs(["--format", "-"], SPEC).options.get("format"), "-");
  assert.equal(parseArgs(["-p", "-", "x"], SPEC).options.get("port"), "-");
  assert.deepEqual(parseArgs(["-p", "-", "x"], SPEC).positionals, ["x"]);
});

test("parseArgs() rejects unknown options, missing values and values on flags", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--bogus"], /unknown option --bogus/],
    [["-x"], /unknown option -x/],
    [["--port"], /option --port needs a value/],
    [["--port", "--echo"], /option --port needs a value/],
    [["--echo=yes"], /option --echo takes no value/],
    // A one-letter flag with letters after it is no flag.
    [["-hx"], /^unknown option -hx$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseArgs(args, SPEC),
      (e) => e instanceof UsageError && message.test(e.message),
    );
  }
});

test("integerOption() checks the range and names the option", () => {
  const parsed = parseArgs(["--port", "12x"], SPEC);
  assert.throws(
    () => integerOption(parsed, "port", { min: 0, max: 10 }),
    /invalid --port "12x": expected an integer from 0 to 10/,
  );
  assert.equal(integerOption(parseArgs([], SPEC), "port", { min: 0, max: 10, fallback: 7 }), 7);
  assert.equal(integerOption(parseArgs(["--port=10"], SPEC), "port", { min: 0, max: 10 }), 10);
});

test("parsePort() accepts 0 only when asked to", () => {
  assert.equal(parsePort("0", "--port", true), 0);
  assert.equal(parsePort("65535", "--port", false), 65535);
  for (const bad of ["0", "65536", "-1", "1.5", "", "80a", " 80"]) {
    assert.throws(() => parsePort(bad, "--port", false), UsageError, bad);
  }
});

test("parseTarget() reads HOST:PORT, [IPv6]:PORT, bare ports and Unix socket paths", () => {
  assert.deepEqual(parseTarget("127.0.0.1:9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseTarget("localhost:1"), { hostname: "localhost", port: 1 });
  assert.deepEqual(parseTarget("[::1]:9000"), { hostname: "::1", port: 9000 });
  assert.deepEqual(parseTarget(":9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseTarget("9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseTarget("unix:/tmp/x.sock"), { path: "/tmp/x.sock" });
  assert.deepEqual(parseTarget("./x.sock"), { path: "./x.sock" });
  assert.throws(() => parseTarget("::1:9000"), /write IPv6 addresses in brackets/);
  // Before: "write IPv6 addresses in brackets", for an address in brackets without a port.
  assert.throws(() => parseTarget("[::1]"), /"\[::1\]": the port is missing, e.g. \[::1\]:9000/);
  assert.throws(() => parseTarget("example.com"), /expected HOST:PORT/);
  assert.throws(() => parseTarget("example.com:http"), /invalid port "http" in "example.com:http"/);
  assert.throws(() => parseTarget("unix:"), /the socket path is empty/);
  // Before: "[]" went to the adapter as the host name.
  assert.throws(() => parseTarget("[]:9000"), /"\[\]:9000": the host is empty, e.g. \[::1\]:9000/);
  // Brackets around what is no IPv6 address: before, taken off ("[127.0.0.1]:9000" dialled
  // 127.0.0.1), as the adapters did.
  for (const host of ["127.0.0.1", "localhost"]) {
    assert.throws(() => parseTarget(`[${host}]:9000`), {
      name: "UsageError",
      message:
        `invalid address "[${host}]:9000": brackets are for IPv6 addresses, e.g. [::1]:9000; write ${host}:9000`,
    });
  }
});

test("framingFor() maps every format name to the framing of that name", () => {
  assert.deepEqual(FORMAT_NAMES, [
    "u32be",
    "u32le",
    "u16be",
    "u16le",
    "u8",
    "u64be",
    "varint",
    "decimal10",
    "line",
    "netstring",
  ]);
  for (const name of FORMAT_NAMES) assert.equal(framingFor(name).name, name);
  assert.equal(framingFor(undefined).name, "u32be");
  assert.equal(framingFor("line", 10).maxFrameLength, 10);
  assert.equal(framingFor("u8").maxFrameLength, 255);
  assert.equal(framingFor("u16be", 65535).maxFrameLength, 65535);
  assert.throws(
    () => framingFor("u16be", 65536),
    /--max-frame-length 65536 is more than u16be can carry: at most 65535 bytes/,
  );
  assert.throws(() => framingFor("u8", 256), /more than u8 can carry: at most 255 bytes/);
  assert.throws(() => framingFor("u33"), /unknown format "u33": expected one of u32be, u32le/);
});

test("framingFor() calls a protocol name inspect-only only where it is refused for being one", () => {
  const formats = FORMAT_NAMES.join(", ");
  assert.throws(() => framingFor("u33"), {
    message: `unknown format "u33": expected one of ${formats}`,
  });
  assert.throws(() => framingFor("u33", undefined, true), {
    message: `unknown format "u33": expected one of ${
      [...FORMAT_NAMES, ...PROTOCOL_NAMES].join(", ")
    }`,
  });
  // An empty --format= is a mistake too, not the default format.
  assert.throws(() => framingFor(""), /^UsageError: unknown format "": expected one of u32be/);
  assert.throws(() => framingFor("postgres"), {
    message: `unknown format "postgres": expected one of ${formats} (postgres is for inspect ` +
      "only: its frames start with a type byte, not a line of text)",
  });
});

test("formatHelp() lists every name, one a line, each description at the same column", () => {
  for (
    const [protocols, names] of [[false, FORMAT_NAMES], [true, [
      ...FORMAT_NAMES,
      ...PROTOCOL_NAMES,
    ]]] as const
  ) {
    const lines = formatHelp(protocols).split("\n");
    assert.deepEqual(lines.map((l) => l.trim().split(" ")[0]), names);
    // Four spaces, the longest name, two spaces, the description.
    const column = 4 + Math.max(...names.map((n) => n.length)) + 2;
    for (const line of lines) assert.match(line.slice(column - 2), /^ {2}\S/, line);
  }
});

test("framingFor() wires the byte order and width of each length format", () => {
  const payload = new Uint8Array([7]);
  const expected: Record<string, number[]> = {
    u32be: [0, 0, 0, 1, 7],
    u32le: [1, 0, 0, 0, 7],
    u16be: [0, 1, 7],
    u16le: [1, 0, 7],
    u8: [1, 7],
    u64be: [0, 0, 0, 0, 0, 0, 0, 1, 7],
    varint: [1, 7],
    decimal10: [...new TextEncoder().encode("1         "), 7],
    line: [7, 10],
    netstring: [...new TextEncoder().encode("1:"), 7, 44],
  };
  for (const name of FORMAT_NAMES) {
    assert.deepEqual([...framingFor(name).encode(payload)], expected[name], name);
  }
});
