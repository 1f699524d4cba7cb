// Copyright 2026 the framewire authors. MIT license.
// Child of deno_permissions_test.ts, run by `deno run --no-prompt` with only the permissions a
// case gives it. Static imports only (a computed dynamic import of a local file needs read
// permission), so that importing everything is itself checked. Runs `Deno.args[0]` with the
// rest of the arguments and prints one JSON line per step: `{ step, ok: true, … }`, or
// `{ step, error: { name, code, message, cause } }`. TLS PEM comes on standard input (reading
// it needs no permission), as JSON `{ ca, cert, key }`.
import * as denoAdapter from "../../src/adapters/deno.ts";
import * as nodeAdapter from "../../src/adapters/node.ts";
import "../../src/adapters/bun.ts";
import "../../src/cli/main.ts";
import { framed, lengthPrefixed, reliableClient, reliableServer } from "../../mod.ts";
import type { Conn, Listener } from "../../src/connection/types.ts";

type Adapter = typeof denoAdapter;
const adapters: Record<string, Adapter> = { deno: denoAdapter, node: nodeAdapter };

// A permission error must come out of the call that needed it: anything uncaught is a failure.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  print("unhandledrejection", { error: describe(event.reason) });
  Deno.exit(3);
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  print("uncaught", { error: describe(event.error) });
  Deno.exit(3);
});

function describe(error: unknown): Record<string, unknown> {
  const e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  const cause = e?.cause as { name?: unknown } | undefined;
  return { name: e?.name, code: e?.code, message: e?.message, cause: cause?.name };
}

function print(step: string, result: Record<string, unknown>): void {
  console.log(JSON.stringify({ step, ...result }));
}

async function attempt(step: string, work: () => Promise<Record<string, unknown>>): Promise<void> {
  try {
    print(step, { ok: true, ...await work() });
  } catch (error) {
    print(step, { error: describe(error) });
  }
}

async function readPem(): Promise<{ ca: string; cert: string; key: string }> {
  return JSON.parse(await new Response(Deno.stdin.readable).text());
}

/** Takes one connection from `listener`. */
async function acceptOne(listener: Listener): Promise<Conn> {
  for await (const conn of listener) return conn;
  throw new Error("the listener ended");
}

/** One framed message echoed over `listener`, connecting with `dial`. */
async function framedEcho(listener: Listener, dial: () => Promise<Conn>): Promise<string> {
  const serving = (async () => {
    const fc = framed(await acceptOne(listener), lengthPrefixed());
    for await (const message of fc) await fc.send(message);
    await fc.close();
  })();
  const client = framed(await dial(), lengthPrefixed());
  try {
    await client.send("hello");
    for await (const reply of client) return new TextDecoder().decode(reply);
    throw new Error("no reply");
  } finally {
    await client.close();
    await serving;
  }
}

/** One message over a reliable session. */
async function reliableEcho(listener: Listener, dial: () => Promise<Conn>): Promise<string> {
  const server = reliableServer(listener);
  const client = reliableClient(dial);
  try {
    await client.send("reliable");
    for await (const session of server) {
      for await (const message of session) return new TextDecoder().decode(message);
    }
    throw new Error("no message");
  } finally {
    await client.close();
    await server.close();
  }
}

const [command, ...args] = Deno.args;
switch (command) {
  case "imports": {
    // performance.now(), a candidate for the reliable layer's default clock: sub-millisecond
    // readings (Deno 1 rounded them to ms without --allow-hrtime).
    let fractional = false;
    for (let i = 0; i < 1000 && !fractional; i++) fractional = !Number.isInteger(performance.now());
    print("imports", { ok: true, fractional });
    break;
  }
  // The TCP, TLS and reliable paths of both adapters on 127.0.0.1:0.
  case "loopback": {
    const pem = await readPem();
    for (const name of ["deno", "node"]) {
      const a = adapters[name]!;
      await attempt(`${name} framed`, async () => {
        await using listener = await a.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as { port: number }).port;
        return { reply: await framedEcho(listener, () => a.connect({ port })) };
      });
      await attempt(`${name} reliable`, async () => {
        await using listener = await a.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as { port: number }).port;
        return { reply: await reliableEcho(listener, () => a.connect({ port })) };
      });
      await attempt(`${name} tls`, async () => {
        const { cert, key, ca } = pem;
        await using listener = await a.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
        const port = listener.addr.port;
        const dial = (): Promise<Conn> => a.connectTls({ port, caCerts: [ca] });
        return { reply: await framedEcho(listener, dial) };
      });
    }
    break;
  }
  // Each operation of an adapter, on `port` (connect) and `listenPort` (listen), and on Unix
  // socket `path`; the caller decides which of them are allowed (and holds `listenPort`, so that a
  // listen let through binds no port of another process's: it fails with AddrInUse).
  case "each": {
    const [name, portArg, listenPortArg, path] = args;
    const a = adapters[name!]!;
    const port = Number(portArg);
    const listenPort = Number(listenPortArg);
    const pem = await readPem();
    const closeConn = (conn: Conn): Record<string, unknown> => {
      conn.close();
      return {};
    };
    const closeListener = (listener: Listener): Record<string, unknown> => {
      listener.close();
      return { addr: listener.addr };
    };
    await attempt("connect", async () => closeConn(await a.connect({ port })));
    await attempt(
      "connectTls",
      async () => closeConn(await a.connectTls({ port, caCerts: [pem.ca] })),
    );
    await attempt(
      "listen",
      async () => closeListener(await a.listen({ hostname: "127.0.0.1", port: listenPort })),
    );
    await attempt("listenTls", async () =>
      closeListener(
        await a.listenTls({
          hostname: "127.0.0.1",
          port: listenPort,
          cert: pem.cert,
          key: pem.key,
        }),
      ));
    await attempt("listen unix", async () => closeListener(await a.listen({ path: path! })));
    await attempt("connect unix", async () => closeConn(await a.connect({ path: path! })));
    break;
  }
  // A Unix socket round trip on `path`.
  case "unix": {
    const [name, path] = args;
    const a = adapters[name!]!;
    await attempt("unix framed", async () => {
      await using listener = await a.listen({ path: path! });
      return { reply: await framedEcho(listener, () => a.connect({ path: path! })) };
    });
    break;
  }
  // A reliable client whose dial is refused permission: what its `reconnecting` event says.
  case "reliable-dial": {
    const [name, portArg] = args;
    const a = adapters[name!]!;
    const port = Number(portArg);
    const client = reliableClient((signal) => a.connect({ port, signal }));
    const event = await new Promise<CustomEvent>((resolve) =>
      client.addEventListener("reconnecting", (e) => resolve(e as CustomEvent), { once: true })
    );
    await client.close({ timeout: 0 }).catch(() => {});
    print("reliable-dial", { ok: true, state: client.state, error: describe(event.detail.error) });
    break;
  }
  default:
    throw new TypeError(`Cannot run as command ${command} is unknown`);
}
