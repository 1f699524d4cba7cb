// Copyright 2026 the framewire authors. MIT license.
// What framewire needs of Deno's permissions, checked in `deno run --no-prompt` children with
// narrow --allow-* flags (tests/adapters/_deno_permissions_child.ts and the CLI): importing needs
// none, sockets need net (Unix sockets read, write and net of the path), and a denied
// permission is a rejected promise naming the address and the flag, never an uncaught error or
// a hang. DENO_AUDIT_PERMISSIONS logs every permission check a child makes (granted or not).
// Skips on other runtimes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeno, root } from "../_util/runtime.ts";
import type { Listener } from "../../src/connection/types.ts";

const SKIP = !isDeno && "Deno's permissions";
const CHILD = `${root}/tests/adapters/_deno_permissions_child.ts`;
const CLI = `${root}/src/cli/bin.ts`;

function pem(file: string): Promise<string> {
  return readFile(`${root}/tests/fixtures/tls/${file}`, "utf8");
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Each permission check the child made, as `kind value` (e.g. `net 127.0.0.1:0`). */
  checks: string[];
}

/** Runs `deno run --no-prompt FLAGS SCRIPT ARGS` in the repository, `stdin` as its input. */
async function denoRun(
  flags: string[],
  script: string,
  args: string[],
  stdin = "",
  cwd = root,
): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), "framewire-perm-"));
  const audit = join(dir, "audit.jsonl");
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, script, ...args],
      cwd,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", DENO_AUDIT_PERMISSIONS: audit },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Not a timing assertion: a child that hangs is killed, and fails the checks below.
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const log = await readFile(audit, "utf8").catch(() => "");
    const checks = log.split("\n").filter((line) => line !== "").map((line) => {
      const { permission, value } = JSON.parse(line) as { permission: string; value: string };
      return `${permission} ${value}`;
    });
    const text = new TextDecoder();
    return { code, stdout: text.decode(stdout), stderr: text.decode(stderr), checks };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The child's JSON lines, by step. */
function steps(run: Run): Record<string, Record<string, unknown>> {
  assert.equal(run.code, 0, `the child failed:\n${run.stdout}\n${run.stderr}`);
  const out: Record<string, Record<string, unknown>> = {};
  for (const line of run.stdout.split("\n").filter((l) => l !== "")) {
    const { step, ...rest } = JSON.parse(line) as { step: string };
    out[step] = rest;
  }
  return out;
}

/** Asserts a step failed with the ConnectionError that carries Deno's NotCapable. */
function assertDenied(
  result: Record<string, unknown> | undefined,
  action: string,
  flag: string,
  what: string,
): void {
  assert.ok(result !== undefined, `${what}: no result`);
  const error = result.error as Record<string, unknown> | undefined;
  assert.ok(error !== undefined, `${what}: succeeded: ${JSON.stringify(result)}`);
  assert.equal(error.name, "ConnectionError", `${what}: ${JSON.stringify(error)}`);
  assert.equal(error.code, "CONNECTION_FAILED", what);
  assert.equal(error.cause, "NotCapable", what);
  const message = error.message as string;
  assert.ok(message.startsWith(`Cannot ${action} as it failed: Requires `), `${what}: ${message}`);
  assert.ok(message.endsWith(`run again with the ${flag} flag`), `${what}: ${message}`);
}

/** A TLS listener (of the Deno adapter) that completes every handshake and drops the connection. */
async function tlsSink(): Promise<Listener & { addr: { port: number } }> {
  const { listenTls } = await import("../../src/adapters/deno.ts");
  const listener = await listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await pem("localhost.crt"),
    key: await pem("localhost.key"),
  });
  (async () => {
    for await (const conn of listener) {
      // The handshake runs on the first read; a plain client's fails it.
      conn.readable.pipeTo(new WritableStream()).catch(() => {}).finally(() => conn.close());
    }
  })();
  return listener;
}

async function pemInput(): Promise<string> {
  return JSON.stringify({
    ca: await pem("ca.crt"),
    cert: await pem("localhost.crt"),
    key: await pem("localhost.key"),
  });
}

test(
  "deno permissions: importing mod.ts, every adapter and the CLI module checks no permission; performance.now() has sub-millisecond readings without one",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const run = await denoRun([], CHILD, ["imports"]);
    assert.deepEqual(steps(run), { imports: { ok: true, fractional: true } });
    assert.deepEqual(run.checks, []);
  },
);

test(
  "deno permissions: TCP, TLS (PEM as strings) and reliable sessions on both adapters need only --allow-net=127.0.0.1",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const run = await denoRun(["--allow-net=127.0.0.1"], CHILD, ["loopback"], await pemInput());
    const got = steps(run);
    for (const name of ["deno", "node"]) {
      assert.deepEqual(got[`${name} framed`], { ok: true, reply: "hello" }, name);
      assert.deepEqual(got[`${name} reliable`], { ok: true, reply: "reliable" }, name);
      assert.deepEqual(got[`${name} tls`], { ok: true, reply: "hello" }, name);
    }
    // No env, read (certificates come as strings), sys or hrtime: net on 127.0.0.1 only.
    assert.ok(run.checks.length > 0, "the audit log recorded nothing");
    for (const check of run.checks) assert.match(check, /^net 127\.0\.0\.1:\d+$/);
  },
);

for (const name of ["deno", "node"]) {
  test(
    `deno permissions: the ${name} adapter rejects each operation without permission with a ConnectionError naming the address and the flag`,
    { skip: SKIP, timeout: 60_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "framewire-perm-"));
      try {
        const path = join(dir, "s.sock");
        const run = await denoRun([], CHILD, ["each", name, "9", "10", path], await pemInput());
        const got = steps(run);
        assertDenied(got["connect"], "connect to 127.0.0.1:9", "--allow-net", "connect");
        assertDenied(got["connectTls"], "connect to 127.0.0.1:9", "--allow-net", "connectTls");
        assertDenied(got["listen"], "listen on 127.0.0.1:10", "--allow-net", "listen");
        assertDenied(got["listenTls"], "listen on 127.0.0.1:10", "--allow-net", "listenTls");
        assertDenied(got["listen unix"], `listen on ${path}`, "--allow-read", "listen unix");
        assertDenied(got["connect unix"], `connect to ${path}`, "--allow-read", "connect unix");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `deno permissions: the ${name} adapter with --allow-net for one port connects there, and is refused permission (not the connection) elsewhere`,
    { skip: SKIP, timeout: 60_000 },
    async () => {
      await using allowed = await tlsSink();
      await using other = await tlsSink();
      const port = allowed.addr.port;
      const dir = await mkdtemp(join(tmpdir(), "framewire-perm-"));
      try {
        const flags = [`--allow-net=127.0.0.1:${port}`];
        const path = join(dir, "s.sock");
        const input = await pemInput();
        // Listening on another port, not allowed: one this test holds (`other`'s), so that no
        // other process's port is involved, and a listen let through would fail with AddrInUse.
        const held = String(other.addr.port);
        const got = steps(
          await denoRun(flags, CHILD, ["each", name, String(port), held, path], input),
        );
        assert.deepEqual(got["connect"], { ok: true });
        assert.deepEqual(got["connectTls"], { ok: true });
        assertDenied(got["listen"], `listen on 127.0.0.1:${held}`, "--allow-net", "listen");
        assertDenied(got["listenTls"], `listen on 127.0.0.1:${held}`, "--allow-net", "listenTls");
        // A port that is listening but not allowed: permission, not "refused".
        const elsewhere = await denoRun(
          flags,
          CHILD,
          ["each", name, held, held, path],
          input,
        );
        assertDenied(
          steps(elsewhere)["connect"],
          `connect to 127.0.0.1:${other.addr.port}`,
          "--allow-net",
          "connect elsewhere",
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `deno permissions: a Unix socket on the ${name} adapter needs --allow-read, --allow-write and --allow-net=unix: of its path`,
    { skip: SKIP, timeout: 60_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "framewire-perm-"));
      try {
        const path = join(dir, "s.sock");
        const files = [`--allow-read=${path}`, `--allow-write=${path}`];
        const ok = await denoRun([...files, `--allow-net=unix:${path}`], CHILD, [
          "unix",
          name,
          path,
        ]);
        assert.deepEqual(steps(ok)["unix framed"], { ok: true, reply: "hello" });
        assert.deepEqual(
          [...new Set(ok.checks)].sort(),
          [`net unix:${path}`, `read ${path}`, `write ${path}`],
        );
        // A relative path, from the directory: binding it by its absolute form (Deno.cwd()) needs
        // no read permission of the working directory.
        const relative = await denoRun(
          [...files, `--allow-net=unix:${path}`],
          CHILD,
          ["unix", name, "s.sock"],
          "",
          dir,
        );
        assert.deepEqual(steps(relative)["unix framed"], { ok: true, reply: "hello" });
        // The socket's path (absolute, or as given), never the directory.
        assert.ok(relative.checks.every((check) => check.endsWith("s.sock")), `${relative.checks}`);
        const noNet = await denoRun(files, CHILD, ["unix", name, path]);
        assertDenied(steps(noNet)["unix framed"], `listen on ${path}`, "--allow-net", "no net");
        const noWrite = await denoRun([files[0]!], CHILD, ["unix", name, path]);
        assertDenied(
          steps(noWrite)["unix framed"],
          `listen on ${path}`,
          "--allow-write",
          "no write",
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test(
    `deno permissions: a reliable client on the ${name} adapter whose dial lacks permission reports it in its reconnecting event`,
    { skip: SKIP, timeout: 60_000 },
    async () => {
      const got = steps(await denoRun([], CHILD, ["reliable-dial", name, "9"]));
      const result = got["reliable-dial"]!;
      assert.equal(result.state, "closed");
      assertDenied({ error: result.error }, "connect to 127.0.0.1:9", "--allow-net", "dial");
    },
  );
}

test(
  "deno permissions: the CLI's inspect needs --allow-read of its file only (standard input: none), and says which flag is missing",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const file = "docs/examples/capture.bin";
    const denied = await denoRun([], CLI, ["inspect", file]);
    assert.equal(denied.code, 1);
    assert.equal(
      denied.stderr,
      `framewire inspect: cannot read ${file}: Requires read access to "${file}", run again with the --allow-read flag\n`,
    );
    const allowed = await denoRun([`--allow-read=${file}`], CLI, ["inspect", file]);
    assert.match(allowed.stdout, /^docs\/examples\/capture\.bin: 81 bytes/);
    assert.deepEqual([...new Set(allowed.checks)], [`read ${file}`]);
    const stdin = await denoRun([], CLI, ["inspect", "-"], "\x00\x00\x00\x02hi");
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.match(stdin.stdout, /ok: 1 frame, all 6 bytes decoded/);
    assert.deepEqual(stdin.checks, []);
  },
);

test(
  "deno permissions: the CLI's listen, send and demo say which flag is missing; demo runs with --allow-net=127.0.0.1",
  { skip: SKIP, timeout: 60_000 },
  async () => {
    const listen = await denoRun([], CLI, ["listen", "--port", "9"]);
    assert.equal(listen.code, 1);
    assert.equal(
      listen.stderr,
      'framewire listen: cannot listen on 127.0.0.1:9: Requires net access to "127.0.0.1:9", run again with the --allow-net flag\n',
    );
    const send = await denoRun([], CLI, ["send", "127.0.0.1:9"], "hello\n");
    assert.equal(send.code, 1);
    assert.equal(
      send.stderr,
      'framewire send: cannot connect to 127.0.0.1:9: Requires net access to "127.0.0.1:9", run again with the --allow-net flag\n',
    );
    const demoDenied = await denoRun([], CLI, ["demo"]);
    assert.equal(demoDenied.code, 1);
    assert.match(demoDenied.stderr, /^framewire demo: Requires net access to "127\.0\.0\.1:0"/);
    const demo = await denoRun(["--allow-net=127.0.0.1"], CLI, ["demo"]);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /The decoder returned all 6 messages intact/);
    for (const check of demo.checks) assert.match(check, /^net 127\.0\.0\.1:\d+$/);
  },
);
