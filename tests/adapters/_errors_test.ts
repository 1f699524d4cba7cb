// Copyright 2026 the framewire authors. MIT license.
// How the adapters turn runtime socket errors into ConnectionError codes and messages, for the
// errors a loopback test cannot provoke on every runtime (EPIPE, Deno's error classes, IPv6).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectionError, FrameTooLargeError, FramingError } from "../../src/errors.ts";
import {
  checkTarget,
  closedError,
  connectionError,
  errorCode,
  formatAddr,
  isFramewireError,
  reasonOf,
  requireRuntime,
  unixBindPath,
  unixListenErrno,
} from "../../src/adapters/_errors.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

/** A test that hangs fails instead of blocking the run. */
const BOUNDED = { timeout: 10_000 };

test("errorCode maps errno codes and Deno error class names", BOUNDED, () => {
  const cases: [cause: unknown, code: string][] = [
    [{ code: "ECONNREFUSED" }, "CONNECTION_REFUSED"],
    [{ code: "ECONNRESET" }, "CONNECTION_RESET"],
    // Writing after the peer's RST was taken: Node and Bun report EPIPE.
    [{ code: "EPIPE" }, "CONNECTION_RESET"],
    [{ code: "ECONNABORTED" }, "CONNECTION_RESET"],
    [{ code: "EBADF" }, "CONNECTION_RESET"],
    [{ code: "ERR_SOCKET_CLOSED" }, "CONNECTION_RESET"],
    [{ code: "ETIMEDOUT" }, "CONNECTION_TIMEOUT"],
    // Deno's error classes, by name (an error built without an errno code).
    [{ name: "ConnectionRefused" }, "CONNECTION_REFUSED"],
    [{ name: "ConnectionReset" }, "CONNECTION_RESET"],
    [{ name: "ConnectionAborted" }, "CONNECTION_RESET"],
    [{ name: "BrokenPipe" }, "CONNECTION_RESET"],
    [{ name: "TimedOut" }, "CONNECTION_TIMEOUT"],
    [{ code: "EWHATEVER", name: "Error" }, "CONNECTION_FAILED"],
    [undefined, "CONNECTION_FAILED"],
    ["oops", "CONNECTION_FAILED"],
  ];
  for (const [cause, code] of cases) assert.equal(errorCode(cause), code, JSON.stringify(cause));
});

test("connectionError names the address and the reason, and keeps the cause", BOUNDED, () => {
  const cause = Object.assign(new Error("connect ECONNREFUSED ::1:1"), { code: "ECONNREFUSED" });
  const target = formatAddr({ transport: "tcp", hostname: "::1", port: 1 });
  const error = connectionError(`connect to ${target}`, cause);
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.message, "Cannot connect to [::1]:1 as the connection was refused");
  assert.equal(error.code, "CONNECTION_REFUSED");
  assert.equal(error.cause, cause);
  // Unknown failures say what the runtime said.
  const other = connectionError("connect to 127.0.0.1:1", new Error("no route"));
  assert.equal(other.message, "Cannot connect to 127.0.0.1:1 as it failed: no route");
  assert.equal(other.code, "CONNECTION_FAILED");
  // Failures with an errno name read the same on every runtime (Bun's listen errors all said
  // "Failed to listen at 127.0.0.1"); Deno's failed lookup has only a message.
  const reasons: [cause: Error, reason: string][] = [
    [errno("Failed to listen at 127.0.0.1", "EADDRINUSE"), "the address is already in use"],
    [
      errno("Cannot assign requested address", "EADDRNOTAVAIL"),
      "the address is not available on this machine",
    ],
    [errno("listen EACCES: permission denied", "EACCES"), "permission was denied"],
    [errno("Failed to connect", "ENOENT"), "there is no such file or directory"],
    [errno("getaddrinfo ENOTFOUND x.invalid", "ENOTFOUND"), "the host name could not be resolved"],
    [errno("getaddrinfo EAI_AGAIN x.example", "EAI_AGAIN"), "the host name could not be resolved"],
    [
      new Error("failed to lookup address information: Name or service not known"),
      "the host name could not be resolved",
    ],
    [
      new Error("invalid host 'no such host': invalid char found in FQDN"),
      "the host name could not be resolved",
    ],
    [errno("connect EHOSTUNREACH", "EHOSTUNREACH"), "the host is unreachable"],
    [errno("connect ENETUNREACH", "ENETUNREACH"), "the network is unreachable"],
    // TLS: Node's words advised a Node command-line flag, Deno's named rustls's error kinds.
    [
      errno(
        "unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      ),
      "the server's certificate could not be verified against the trusted CAs (caCerts)",
    ],
    [
      rustls("invalid peer certificate: UnknownIssuer"),
      "the server's certificate could not be verified against the trusted CAs (caCerts)",
    ],
    [
      errno("Hostname/IP does not match certificate's altnames", "ERR_TLS_CERT_ALTNAME_INVALID"),
      "the server's certificate is not valid for the server name",
    ],
    [
      rustls('invalid peer certificate: certificate not valid for name "example.com"; …'),
      "the server's certificate is not valid for the server name",
    ],
    [errno("certificate has expired", "CERT_HAS_EXPIRED"), "the server's certificate has expired"],
    [rustls("invalid peer certificate: Expired"), "the server's certificate has expired"],
    // Deno 2.9's own words (the two above are older rustls'): before, "could not be verified".
    [
      rustls(
        "invalid peer certificate: certificate expired: verification time 1796499022 (UNIX), but certificate is not valid after 1609459200 (187039822 seconds ago)",
      ),
      "the server's certificate has expired",
    ],
    [
      rustls(
        "invalid peer certificate: certificate not valid yet: verification time 1796499022 (UNIX), but certificate is not valid before 2208988800 (412489778 seconds in future)",
      ),
      "the server's certificate is not valid yet",
    ],
    [rustls("keys may not be consistent: KeyMismatch"), "the certificate and the key do not match"],
    [
      errno(
        "error:05800074:x509 certificate routines::key values mismatch",
        "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
      ),
      "the certificate and the key do not match",
    ],
  ];
  for (const [cause, reason] of reasons) {
    const failed = connectionError("connect to 127.0.0.1:1", cause);
    assert.equal(failed.message, `Cannot connect to 127.0.0.1:1 as ${reason}`);
    assert.equal(failed.code, "CONNECTION_FAILED");
    assert.equal(failed.cause, cause);
    // A listener has no server's certificate to verify: what it is told of one is the runtime's
    // (Deno's listenTls() says "invalid peer certificate: BadEncoding" of a certificate it
    // cannot read; before, that read as the server's certificate not verified against caCerts).
    const listening = connectionError("listen on 127.0.0.1:1", cause);
    const own = reason.startsWith("the server's certificate")
      ? `it failed: ${cause.message}`
      : reason;
    assert.equal(listening.message, `Cannot listen on 127.0.0.1:1 as ${own}`);
  }
  assert.equal(
    connectionError("listen on 127.0.0.1:0", rustls("invalid peer certificate: BadEncoding"))
      .message,
    "Cannot listen on 127.0.0.1:0 as it failed: invalid peer certificate: BadEncoding",
  );
  // Bytes that are no TLS record: Node (and node:tls on Deno and Bun), Bun's own TLS, Deno
  // (rustls). The server's answer when connecting; later (a corrupt record, or a plain-text
  // client of a Deno TLS server, which shakes hands on the first read), whoever sent them.
  for (
    const cause of [
      errno(
        "error:0A00010B:SSL routines:tls_validate_record_header:wrong version number",
        "ERR_SSL_WRONG_VERSION_NUMBER",
      ),
      errno("error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER", "EPROTO"),
      rustls("received corrupt message of type InvalidContentType"),
    ]
  ) {
    assert.equal(
      connectionError("connect to 127.0.0.1:1", cause).message,
      "Cannot connect to 127.0.0.1:1 as the server did not answer in TLS",
    );
    for (const action of ["read from 127.0.0.1:1", "write to 127.0.0.1:1"]) {
      assert.equal(
        connectionError(action, cause).message,
        `Cannot ${action} as the peer sent data that is not TLS`,
      );
    }
  }
  // A ConnectionError goes through unchanged.
  assert.equal(connectionError("write to 127.0.0.1:1", error), error);
});

function rustls(message: string): Error {
  return Object.assign(new Error(message), { name: "InvalidData" });
}

function errno(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test(
  "unixListenErrno reads Node's EACCES as ENOENT only for a directory that is missing",
  BOUNDED,
  () => {
    const denied = errno("listen EACCES", "EACCES");
    // Node's EACCES is read as ENOENT only when the directory's stat says ENOENT: one that exists
    // but cannot be searched (stat fails with EACCES, as for a non-root user under a directory
    // of mode 000) is a real EACCES, as the Deno and Bun adapters say.
    const stat = (code: string | undefined) => (dir: string) => {
      assert.equal(dir, "/tmp/gone");
      if (code !== undefined) throw errno(`stat ${code}`, code);
    };
    assert.equal(unixListenErrno(denied, "/tmp/gone", stat("ENOENT")), "ENOENT");
    assert.equal(unixListenErrno(denied, "/tmp/gone", stat("EACCES")), undefined);
    assert.equal(unixListenErrno(denied, "/tmp/gone", stat(undefined)), undefined);
    const inUse = errno("listen EADDRINUSE", "EADDRINUSE");
    assert.equal(unixListenErrno(inUse, "/tmp/gone", stat("ENOENT")), undefined);
  },
);

test("connectionError words EAGAIN as a full listener queue only when connecting", BOUNDED, () => {
  // Before (mutation review), only a connect's EAGAIN was tested: a write's or a read's
  // (EAGAIN where a socket would block) could be worded as a listener's full queue.
  const eagain = Object.assign(new Error("resource temporarily unavailable"), { code: "EAGAIN" });
  assert.equal(
    connectionError("connect to /tmp/s.sock", eagain).message,
    "Cannot connect to /tmp/s.sock as the listener's queue is full (it does not accept connections)",
  );
  for (const action of ["write to /tmp/s.sock", "read from /tmp/s.sock"]) {
    assert.equal(
      connectionError(action, eagain).message,
      `Cannot ${action} as it failed: resource temporarily unavailable`,
    );
  }
});

test(
  "checkTarget unwraps a hostname only when brackets enclose it, and refuses one they do not",
  BOUNDED,
  () => {
    // Before (mutation review), a hostname that only starts with "[" was unpinned: cut as if it
    // ended with "]", "[::1" became "::", another address (the unspecified one: the local host).
    // Since ac61e36 a bracket other than one pair around the name is refused before anything.
    for (const hostname of ["[::1", "[fe80::1"]) {
      assert.throws(() => checkTarget({ hostname, port: 1 }, "connect"), {
        name: "TypeError",
        message: /hostname must have no brackets but one pair around it/,
      });
    }
    assert.equal(checkTarget({ hostname: "[::1]", port: 1 }, "connect").hostname, "::1");
  },
);

test("formatAddr brackets IPv6 addresses only", BOUNDED, () => {
  assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 80 }), "[::1]:80");
  assert.equal(formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 80 }), "127.0.0.1:80");
  assert.equal(formatAddr({ transport: "unix", path: "/tmp/s.sock" }), "/tmp/s.sock");
});

sockets.check();

test(
  "reasonOf takes the reason after the address, even a path that contains ' as '",
  BOUNDED,
  () => {
    const path = "/tmp/saved as backup.sock";
    const unix = { transport: "unix" as const, path };
    const reset = connectionError(
      `read from ${formatAddr(unix)}`,
      errno("read ECONNRESET", "ECONNRESET"),
    );
    assert.equal(reset.message, `Cannot read from ${path} as the connection was reset`);
    assert.equal(reasonOf(reset), "the connection was reset");
    const denied = connectionError(`connect to ${path}`, errno("connect EACCES", "EACCES"));
    assert.equal(reasonOf(denied), "permission was denied");
    // Worded by another errno name when told (Node's EACCES for a missing directory), the
    // runtime's error kept as the cause.
    const cause = errno("listen EACCES", "EACCES");
    const missing = connectionError(`listen on ${path}`, cause, "ENOENT");
    assert.equal(reasonOf(missing), "there is no such file or directory");
    assert.deepEqual([missing.code, missing.cause], ["CONNECTION_FAILED", cause]);
    const other = connectionError(`read from ${path}`, new Error("odd as it gets"));
    assert.equal(reasonOf(other), "it failed: odd as it gets");
    // A cause in framewire's words, itself wrapping another's: from the first of them.
    const nested = connectionError(
      `read from ${path}`,
      new Error("Cannot write to b as it failed: boom"),
    );
    assert.equal(
      nested.message,
      `Cannot read from ${path} as it could not write to b as it failed: boom`,
    );
    assert.equal(reasonOf(nested), "it could not write to b as it failed: boom");
    // Worded elsewhere: from the first " as ", or the whole message.
    assert.equal(reasonOf(new Error("Cannot read from x as y as z")), "y as z");
    assert.equal(
      reasonOf(new Error("Connection reset (memory link cut)")),
      "Connection reset (memory link cut)",
    );
  },
);

test("connectionError words timeouts, and a closed connection keeps its code", BOUNDED, () => {
  for (const cause of [errno("connect ETIMEDOUT 10.0.0.1:80", "ETIMEDOUT"), named("TimedOut")]) {
    const error = connectionError("connect to 10.0.0.1:80", cause);
    assert.equal(error.message, "Cannot connect to 10.0.0.1:80 as the connection timed out");
    assert.equal(error.code, "CONNECTION_TIMEOUT");
    assert.equal(error.cause, cause);
  }
  const path = "/tmp/saved as backup.sock";
  const closed = closedError({ transport: "unix", path });
  assert.equal(closed.message, `Cannot write to ${path} as the connection is closed`);
  assert.equal(closed.code, "CONNECTION_CLOSED");
  assert.equal(errorCode(closed), "CONNECTION_CLOSED");
  assert.equal(reasonOf(closed), "the connection is closed");
  assert.equal(
    closedError({ transport: "tcp", hostname: "::1", port: 9 }).message,
    "Cannot write to [::1]:9 as the connection is closed",
  );
});

test("connectionError words every untrusted-certificate errno alike", BOUNDED, () => {
  const untrusted =
    "the server's certificate could not be verified against the trusted CAs (caCerts)";
  for (
    const code of [
      "UNABLE_TO_GET_ISSUER_CERT",
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "SELF_SIGNED_CERT_IN_CHAIN",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "CERT_UNTRUSTED",
      "CERT_SIGNATURE_FAILURE",
    ]
  ) {
    const error = connectionError("connect to 127.0.0.1:1", errno("self-signed certificate", code));
    assert.equal(error.message, `Cannot connect to 127.0.0.1:1 as ${untrusted}`, code);
    assert.equal(error.code, "CONNECTION_FAILED");
  }
  // Older rustls' word for a certificate not valid yet.
  assert.equal(
    connectionError("connect to 127.0.0.1:1", rustls("invalid peer certificate: NotValidYet"))
      .message,
    "Cannot connect to 127.0.0.1:1 as the server's certificate is not valid yet",
  );
});

test(
  "connectionError takes causes that are no Error, and EPROTO that is not about TLS",
  BOUNDED,
  () => {
    for (
      const [cause, words] of [
        ["oops", "oops"],
        [undefined, "undefined (no message)"],
        [null, "null (no message)"],
        // Before: String() threw for it, and the caller got that TypeError.
        [Object.create(null), "object (no message)"],
      ]
    ) {
      const error = connectionError("read from 127.0.0.1:1", cause);
      assert.equal(error.message, `Cannot read from 127.0.0.1:1 as it failed: ${words}`);
      assert.equal(error.code, "CONNECTION_FAILED");
      assert.equal(error.cause, cause);
    }
    // EPROTO names the TLS reply only when its message does.
    const proto = errno("write EPROTO: unsupported protocol", "EPROTO");
    assert.equal(
      connectionError("connect to 127.0.0.1:1", proto).message,
      "Cannot connect to 127.0.0.1:1 as it failed: write EPROTO: unsupported protocol",
    );
  },
);

test("isFramewireError knows another copy's errors by name and code", BOUNDED, () => {
  // As another copy of framewire would make them: instanceof fails.
  const copy = (name: string, code: unknown): Error =>
    Object.assign(new Error("Cannot read from 127.0.0.1:1 as the connection was reset"), {
      name,
      code,
    });
  for (
    const code of [
      "FRAME_TOO_LARGE",
      "TRUNCATED_FRAME",
      "MALFORMED_HEADER",
      "CONNECTION_FAILED",
      "CONNECTION_REFUSED",
      "CONNECTION_RESET",
      "CONNECTION_TIMEOUT",
      "CONNECTION_CLOSED",
      "SESSION_LOST",
      "PROTOCOL_ERROR",
    ]
  ) assert.equal(isFramewireError(copy("SomeError", code)), true, code);
  assert.equal(isFramewireError(copy("ConnectionError", "ECONNRESET")), false);
  assert.equal(isFramewireError(copy("ConnectionError", 7)), false);
  assert.equal(isFramewireError(copy("Connection", "CONNECTION_RESET")), false);
  assert.equal(isFramewireError({ name: "ConnectionError", code: "CONNECTION_RESET" }), false);
  // A FramingError of this copy, whatever its name.
  class Odd extends FramingError {}
  assert.equal(isFramewireError(new Odd("odd", "PROTOCOL_ERROR")), true);
  // Another copy's ConnectionError goes through unchanged, with its code; its other errors
  // (and this copy's) are wrapped.
  const reset = copy("ConnectionError", "CONNECTION_RESET");
  assert.equal(connectionError("read from 127.0.0.1:1", reset), reset);
  assert.equal(errorCode(reset), "CONNECTION_RESET");
  for (
    const other of [copy("FrameTooLargeError", "FRAME_TOO_LARGE"), new FrameTooLargeError(9, 1)]
  ) {
    const wrapped = connectionError("read from 127.0.0.1:1", other);
    assert.notEqual(wrapped, other);
    assert.equal(wrapped.code, "CONNECTION_FAILED");
    assert.equal(wrapped.cause, other);
    // Its words follow without a second "Cannot" (before: "… as it failed: Cannot decode frame …").
    const words = other instanceof FrameTooLargeError
      ? "decode frame as length 9 exceeds maxFrameLength 1"
      : "read from 127.0.0.1:1 as the connection was reset";
    assert.equal(wrapped.message, `Cannot read from 127.0.0.1:1 as it could not ${words}`);
    // (A known reason at the end is taken first: the copy's "the connection was reset".)
    if (other instanceof FrameTooLargeError) {
      assert.equal(reasonOf(wrapped), `it could not ${words}`);
    }
  }
});

test("reasonOf reads only messages worded as connectionError words them", BOUNDED, () => {
  for (
    const message of [
      "Peer gone as the connection was reset",
      "Peer gone as it failed: boom",
    ]
  ) assert.equal(reasonOf(new Error(message)), message);
});

function named(name: string): Error {
  return Object.assign(new Error(name), { name });
}

test(
  "checkTarget unwraps [IPv6], takes port 65535, turns null options into defaults",
  BOUNDED,
  () => {
    assert.equal(checkTarget({ hostname: "[::1]", port: 1 }, "connect").hostname, "::1");
    assert.equal(checkTarget({ hostname: "127.0.0.1", port: 65535 }, "connect").port, 65535);
    assert.throws(() => checkTarget({ hostname: "127.0.0.1", port: 65536 }, "connect"), {
      name: "RangeError",
      message: "Cannot connect as port must be an integer from 1 to 65535: received 65536",
    });
    for (const name of ["signal", "noDelay", "caCerts", "serverName"]) {
      const checked = checkTarget({ hostname: "h", port: 1, [name]: null }, "connect", "client");
      assert.equal((checked as Record<string, unknown>)[name], undefined, name);
    }
  },
);

test("checkTarget asks a TLS server for its key, and decodes a key given as bytes", BOUNDED, () => {
  const cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const key = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
  assert.throws(() => checkTarget({ port: 0, cert }, "listen", "server"), {
    name: "TypeError",
    message: "Cannot listen as key must be a non-empty string: received undefined",
  });
  const options = { port: 0, cert, key: new TextEncoder().encode(key) };
  const checked = checkTarget(options, "listen", "server") as Record<string, unknown>;
  assert.equal(checked.key, key);
  assert.equal(checked.cert, cert);
  // Checked once decoded: bytes with no PEM block are refused as text would be.
  assert.throws(
    () => checkTarget({ port: 0, cert: new TextEncoder().encode("CERT"), key }, "listen", "server"),
    {
      name: "TypeError",
      message: 'Cannot listen as cert must be a PEM certificate: received the string "CERT"',
    },
  );
  // Bytes whose buffer was transferred read as none: said so, by name (before: 'received the
  // string ""', as if the file had been empty).
  const transferred = (pem: string): Uint8Array => {
    const bytes = new TextEncoder().encode(pem);
    structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    return bytes;
  };
  const detached = (name: string, action: string): { name: string; message: string } => ({
    name: "TypeError",
    message:
      `Cannot ${action} as the buffer of ${name} was detached (transferred): pass the PEM before transferring its buffer, or a copy`,
  });
  assert.throws(
    () => checkTarget({ port: 0, cert: transferred(cert), key }, "listen", "server"),
    detached("cert", "listen"),
  );
  assert.throws(
    () => checkTarget({ port: 0, cert, key: transferred(key) }, "listen", "server"),
    detached("key", "listen"),
  );
  assert.throws(
    () => checkTarget({ port: 1, caCerts: [cert, transferred(cert)] }, "connect", "client"),
    detached("caCerts[1]", "connect"),
  );
});

test("checkTarget drops a byte order mark from PEM text, as decoding bytes does", BOUNDED, () => {
  const cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  const server = checkTarget(
    { port: 0, cert: `\uFEFF${cert}`, key: `\uFEFF${key}` },
    "listen",
    "server",
  );
  assert.deepEqual([server.cert, server.key], [cert, key]);
  const client = checkTarget({ port: 1, caCerts: [cert, `\uFEFF${cert}`] }, "connect", "client");
  assert.deepEqual(client.caCerts, [cert, cert]);
});

test("checkTarget finds the PEM block wherever it is, and checks every CA", BOUNDED, () => {
  const block = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
  // Text before the block (openssl's "Bag Attributes", a comment) and a chain of blocks are PEM.
  const cert = `subject=CN = localhost\r\n${block("CERTIFICATE")}${block("CERTIFICATE")}`;
  for (const key of [block("PRIVATE KEY"), block("RSA PRIVATE KEY"), block("EC PRIVATE KEY")]) {
    checkTarget({ port: 0, cert, key }, "listen", "server");
  }
  // A key file with its parameters first: any block of the right kind is enough.
  checkTarget(
    { port: 0, cert, key: block("EC PARAMETERS") + block("EC PRIVATE KEY") },
    "listen",
    "server",
  );
  checkTarget({ port: 1, caCerts: [cert, block("CERTIFICATE")] }, "connect", "client");
  assert.throws(
    () => checkTarget({ port: 1, caCerts: [cert, "-----BEGIN CERTIFICATE"] }, "connect", "client"),
    {
      name: "TypeError",
      message:
        'Cannot connect as caCerts[1] must be a PEM certificate: received the string "-----BEGIN CERTIFICATE"',
    },
  );
  // A plain TCP target is not checked for PEM (no TLS).
  checkTarget({ port: 0, cert: "junk" } as { port: number }, "listen");
});

test(
  "checkTarget: a path with an undefined host or port is a path; a null one is given",
  BOUNDED,
  () => {
    const path = "/tmp/framewire-s.sock";
    assert.deepEqual(checkTarget({ path, hostname: undefined, port: undefined }, "listen"), {
      path,
      hostname: undefined,
      port: undefined,
    });
    // An undefined path is none, next to a port (a TCP target, without the key: the adapters
    // pick a Unix socket by "path" in options); alone it is a path missing.
    const tcp = checkTarget({ path: undefined, port: 1 } as { port: number }, "connect");
    assert.deepEqual(tcp, { port: 1 });
    assert.throws(
      () => checkTarget({ path: undefined } as unknown as { path: string }, "connect"),
      {
        name: "TypeError",
        message: "Cannot connect as path must be a non-empty string: received undefined",
      },
    );
    // null is no default for a host name or port (refused without a path too).
    for (const name of ["hostname", "port"]) {
      assert.throws(() => checkTarget({ path, [name]: null }, "connect"), {
        name: "TypeError",
        message:
          `Cannot connect as the options name a Unix socket (path) and a TCP address (${name}): ` +
          "pass one or the other",
      });
    }
  },
);

test("checkTarget names the first PEM block when none is of the right kind", BOUNDED, () => {
  const block = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
  assert.throws(
    () =>
      checkTarget(
        { port: 0, cert: block("CERTIFICATE"), key: block("EC PARAMETERS") + block("PUBLIC KEY") },
        "listen",
        "server",
      ),
    {
      name: "TypeError",
      message: "Cannot listen as key must be an unencrypted PEM private key: " +
        'received a PEM block "EC PARAMETERS"',
    },
  );
});

test(
  "checkTarget wants a PEM block at the start of a line, and a key that is not encrypted",
  BOUNDED,
  () => {
    const block = (label: string, indent = "", headers = "") =>
      `${indent}-----BEGIN ${label}-----\n${headers}${indent}AAAA\n${indent}-----END ${label}-----\n`;
    const cert = block("CERTIFICATE");
    // Indented (as in a template literal): every runtime refused such a cert or key, each in its
    // own words, and ignored such a CA (then reported the server's certificate as unverified).
    assert.throws(
      () => checkTarget({ port: 1, caCerts: [block("CERTIFICATE", "  ")] }, "connect", "client"),
      {
        name: "TypeError",
        message:
          'Cannot connect as caCerts[0] must be a PEM certificate: received the string "  -----BEGIN CERTIFICATE-----\\n  AAAA\\n  -…"',
      },
    );
    // openssl rsa -aes128 (PKCS #1 with a Proc-Type header): every runtime failed it ("bad
    // decrypt", "Unable to decode key", ...).
    const legacy = block(
      "RSA PRIVATE KEY",
      "",
      "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n",
    );
    for (const text of [legacy, legacy.replaceAll("\n", "\r\n")]) {
      assert.throws(() => checkTarget({ port: 0, cert, key: text }, "listen", "server"), {
        name: "TypeError",
        message: "Cannot listen as key must be an unencrypted PEM private key: " +
          'received an encrypted PEM block "RSA PRIVATE KEY"',
      });
    }
    // The same block without the header, and one after a line of text, are taken.
    checkTarget(
      { port: 0, cert: `Bag Attributes\r\n${cert}`, key: block("RSA PRIVATE KEY") },
      "listen",
      "server",
    );
  },
);

test("checkTarget takes OpenSSL's other names for a certificate", BOUNDED, () => {
  // "TRUSTED CERTIFICATE" (openssl x509 -trustout, Fedora's ca-bundle.trust.crt) and the old
  // "X509 CERTIFICATE": a handshake with either as cert or CA worked with the node adapter on
  // Node and Bun (and Deno for a CA) and the bun adapter on Bun; only Deno's own TLS refused them.
  const block = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
  const key = block("PRIVATE KEY");
  for (const label of ["TRUSTED CERTIFICATE", "X509 CERTIFICATE"]) {
    checkTarget({ port: 0, cert: block(label), key }, "listen", "server");
    checkTarget({ port: 1, caCerts: [block(label)] }, "connect", "client");
  }
  // Not a certificate by any name.
  for (const label of ["CERTIFICATE REQUEST", "X509 CRL", "PKCS7"]) {
    assert.throws(() => checkTarget({ port: 1, caCerts: [block(label)] }, "connect", "client"), {
      name: "TypeError",
      message:
        `Cannot connect as caCerts[0] must be a PEM certificate: received a PEM block "${label}"`,
    });
  }
});

test("unixBindPath makes relative paths absolute, within 107 bytes", BOUNDED, () => {
  const cwd = () => "/work";
  assert.equal(unixBindPath("/tmp/s.sock", cwd), "/tmp/s.sock");
  assert.equal(unixBindPath("\0abstract", cwd), "\0abstract");
  assert.equal(unixBindPath("s.sock", cwd), "/work/s.sock");
  assert.equal(unixBindPath("s.sock", () => "/"), "/s.sock");
  assert.equal(unixBindPath("s.sock", () => "/work/"), "/work/s.sock");
  // "/work/" and a name of 101 bytes make 107; one more keeps the path as given.
  assert.equal(unixBindPath("a".repeat(101), cwd), `/work/${"a".repeat(101)}`);
  assert.equal(unixBindPath("a".repeat(102), cwd), "a".repeat(102));
});

test("requireRuntime names the adapter that fits this runtime", BOUNDED, () => {
  for (const runtime of ["Deno", "Bun"] as const) {
    if (runtime in globalThis) {
      requireRuntime(runtime, "connect");
      continue;
    }
    assert.throws(() => requireRuntime(runtime, "listen"), {
      name: "TypeError",
      message: `Cannot listen as the ${runtime.toLowerCase()} adapter needs ${runtime}: ` +
        "use @framewire/framewire/node on other runtimes",
    });
  }
});
