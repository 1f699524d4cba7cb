// Copyright 2026 the framewire authors. MIT license.
// Private: turns the runtimes' socket errors into ConnectionError. Runtime-agnostic (it
// only reads `code` and `name` from the error objects).

import { ConnectionError, FramingError, type FramingErrorCode } from "../errors.ts";
import type { NetAddr } from "../connection/types.ts";
import {
  causeText,
  checkOptions,
  couldNot,
  isDetached,
  numberError,
  receivedValue,
  signalError,
} from "../framing/_options.ts";

// Re-exported so that `deno doc --lint` on this private file sees the types it references.
export type { ConnectionError, FramingError, FramingErrorCode, NetAddr };

const BY_CODE: Record<string, FramingErrorCode> = {
  // Node and Bun (errno names); Deno errors carry them too
  ECONNREFUSED: "CONNECTION_REFUSED",
  ECONNRESET: "CONNECTION_RESET",
  EPIPE: "CONNECTION_RESET",
  ECONNABORTED: "CONNECTION_RESET",
  ETIMEDOUT: "CONNECTION_TIMEOUT",
  // Bun's node:net, writing to a Unix socket whose peer has closed (EBADF; after a half-close
  // of its own, ERR_SOCKET_CLOSED)
  EBADF: "CONNECTION_RESET",
  ERR_SOCKET_CLOSED: "CONNECTION_RESET",
  // Deno error class names
  ConnectionRefused: "CONNECTION_REFUSED",
  ConnectionReset: "CONNECTION_RESET",
  ConnectionAborted: "CONNECTION_RESET",
  BrokenPipe: "CONNECTION_RESET",
  TimedOut: "CONNECTION_TIMEOUT",
};

const REASONS: Partial<Record<FramingErrorCode, string>> = {
  CONNECTION_REFUSED: "the connection was refused",
  CONNECTION_RESET: "the connection was reset",
  CONNECTION_TIMEOUT: "the connection timed out",
  CONNECTION_CLOSED: "the connection is closed",
};

/** A TLS server whose certificate chain does not lead to a trusted certificate. */
const UNTRUSTED =
  "the server's certificate could not be verified against the trusted CAs (caCerts)";

/** Deno's (rustls's) certificate failures, by the start of their message after "invalid peer certificate: ". */
const RUSTLS: [prefix: string, errno: string][] = [
  ["certificate not valid for name", "ERR_TLS_CERT_ALTNAME_INVALID"],
  ["Expired", "CERT_HAS_EXPIRED"],
  ["NotValidYet", "CERT_NOT_YET_VALID"],
  // Deno 2.9's rustls: "certificate expired: verification time …, but certificate is not valid after …".
  ["certificate expired", "CERT_HAS_EXPIRED"],
  ["certificate not valid yet", "CERT_NOT_YET_VALID"],
  ["", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
];

/**
 * The reason for ENOENT: a Unix socket path in a missing directory, also on Node, whose EACCES for
 * it the node adapter words so ({@linkcode unixListenErrno}; the cause keeps EACCES).
 */
export const NO_SUCH_FILE = "there is no such file or directory";

/**
 * Reasons for failures that keep the code `CONNECTION_FAILED`, by errno name
 * (Deno's errors carry it in `code` too), so that the message reads the same
 * on every runtime: Bun's listen errors all say "Failed to listen at …".
 */
const DETAILS: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission was denied",
  ENOENT: NO_SUCH_FILE,
  ENOTFOUND: "the host name could not be resolved",
  EAI_AGAIN: "the host name could not be resolved",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  // TLS (OpenSSL's names, which Node and Bun use; errnoOf() gives Deno's rustls failures them):
  // the runtimes' own words differ, and Node's advise a command-line flag of its own.
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  CERT_UNTRUSTED: UNTRUSTED,
  CERT_SIGNATURE_FAILURE: UNTRUSTED,
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is not valid for the server name",
  // A server that does not speak TLS (its first bytes are no TLS record). Each runtime said it
  // in other words, Node's with OpenSSL's source path.
  ERR_SSL_WRONG_VERSION_NUMBER: "the server did not answer in TLS",
  // listenTls() with a key that is not the certificate's (errnoOf() gives Deno's rustls failure it).
  ERR_OSSL_X509_KEY_VALUES_MISMATCH: "the certificate and the key do not match",
};

/**
 * A Unix socket connect that found its listener's queue full (the listener does not accept):
 * Node and Deno fail it with EAGAIN, each in its own words (Bun reports ECONNREFUSED).
 */
const QUEUE_FULL = "the listener's queue is full (it does not accept connections)";

/** Bytes that are no TLS record, by OpenSSL's name (errnoOf() gives Bun's and Deno's it too). */
const NOT_TLS = "ERR_SSL_WRONG_VERSION_NUMBER";
/** The same after connecting: not the server's answer. */
const NOT_TLS_LATER = "the peer sent data that is not TLS";

/**
 * The errno name of a runtime socket error (`code`); for Deno's errors that
 * have only a message, the name Node would give: `ENOTFOUND` for a failed
 * host lookup or a name refused as invalid, OpenSSL's for a server
 * certificate rustls refused and for a reply that is not TLS (which Bun's
 * own TLS names only in its message).
 */
export function errnoOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  // Bun's own TLS gives the OpenSSL reason only in its message.
  if (
    code === "EPROTO" && cause instanceof Error && cause.message.includes("WRONG_VERSION_NUMBER")
  ) {
    return "ERR_SSL_WRONG_VERSION_NUMBER";
  }
  if (typeof code === "string") return code;
  if (!(cause instanceof Error)) return undefined;
  // rustls (Deno), for a reply that is no TLS record.
  if (cause.message.startsWith("received corrupt message of type InvalidContentType")) {
    return "ERR_SSL_WRONG_VERSION_NUMBER";
  }
  // Deno's failed lookup, and its refusal of a name no lookup could find ("invalid char found in
  // FQDN"), which Node and Bun report as ENOTFOUND.
  if (
    cause.message.startsWith("failed to lookup address information") ||
    cause.message.startsWith("invalid host ")
  ) return "ENOTFOUND";
  if (cause.message.endsWith("KeyMismatch")) return "ERR_OSSL_X509_KEY_VALUES_MISMATCH";
  const peer = "invalid peer certificate: ";
  if (!cause.message.startsWith(peer)) return undefined;
  const rest = cause.message.slice(peer.length);
  return RUSTLS.find(([prefix]) => rest.startsWith(prefix))![1];
}

/** Every framewire error code. */
const CODES: ReadonlySet<string> = new Set<FramingErrorCode>([
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
]);

/**
 * Whether `error` is a framewire error, also one from another copy of the
 * module (where `instanceof` fails): a `FramingError`, or an `Error` named
 * `…Error` with a framewire `code`.
 */
export function isFramewireError(error: unknown): error is FramingError {
  if (error instanceof FramingError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  const name: unknown = error.name;
  return typeof name === "string" && name.endsWith("Error") && typeof code === "string" &&
    CODES.has(code);
}

/** `error` is a framewire `ConnectionError`, of this copy of the module or another. */
function isConnectionError(error: unknown): error is ConnectionError {
  return error instanceof ConnectionError ||
    (isFramewireError(error) && error.name === "ConnectionError");
}

/** The framewire code for a runtime socket error. */
export function errorCode(cause: unknown): FramingErrorCode {
  if (isConnectionError(cause)) return cause.code;
  const { code, name } = (cause ?? {}) as { code?: unknown; name?: unknown };
  return (typeof code === "string" ? BY_CODE[code] : undefined) ??
    (typeof name === "string" ? BY_CODE[name] : undefined) ?? "CONNECTION_FAILED";
}

/**
 * Wraps a runtime error as a `ConnectionError` (unchanged if it already is one),
 * e.g. "Cannot connect to 127.0.0.1:1 as the connection was refused";
 * `errno`, when given, is the errno name to word it by instead of the cause's.
 */
export function connectionError(
  action: string,
  cause: unknown,
  errno: string = errnoOf(cause) ?? "",
): ConnectionError {
  if (isConnectionError(cause)) return cause;
  const code = errorCode(cause);
  const detail = causeText(cause);
  // Bytes that are no TLS record: the server's answer when connecting, else whoever sent them
  // (a record corrupted later, or a plain-text client of a Deno TLS server, whose handshake runs
  // on the first read).
  // A listener has no server's certificate to verify: Deno's listenTls() words a certificate
  // it cannot read as a peer's ("invalid peer certificate: BadEncoding").
  const about = action.startsWith("listen ") && SERVER_CERTIFICATE.has(errno)
    ? undefined
    : DETAILS[errno];
  // A cause in framewire's words ("Cannot decode frames as …"): "it could not decode frames as
  // …", not a second "Cannot" in the line.
  const could = couldNot(detail);
  const connecting = action.startsWith("connect ");
  const reason = REASONS[code] ??
    (errno === NOT_TLS && !connecting ? NOT_TLS_LATER : about) ??
    (errno === "EAGAIN" && connecting ? QUEUE_FULL : undefined) ??
    (could === undefined ? `it failed: ${detail}` : `it ${could}`);
  return new ConnectionError(`Cannot ${action} as ${reason}`, { code, cause });
}

/** The errno names whose reason is about the certificate of the server connected to. */
const SERVER_CERTIFICATE: ReadonlySet<string> = new Set(
  Object.keys(DETAILS).filter((errno) => DETAILS[errno]!.startsWith("the server's certificate")),
);

/** Every reason connectionError() words without the runtime's own message. */
const KNOWN_REASONS: readonly string[] = [
  ...new Set([...Object.values(REASONS), ...Object.values(DETAILS), NOT_TLS_LATER]),
];

/**
 * The reason of an error worded `Cannot <action> as <reason>` (as
 * connectionError() words them): the action names an address, and a socket
 * path may itself contain " as ", so a known reason is looked for at the end
 * first, then "it failed: …" and "it could not …", and only then the first
 * " as ".
 */
export function reasonOf(error: Error): string {
  const message = error.message;
  for (const reason of KNOWN_REASONS) {
    if (message.startsWith("Cannot ") && message.endsWith(` as ${reason}`)) return reason;
  }
  // The first of them: a cause's own words may follow ("it could not write to … as it failed: …").
  const at = [" as it failed: ", " as it could not "]
    .map((marker) => message.indexOf(marker))
    .filter((index) => index >= 0);
  if (message.startsWith("Cannot ") && at.length > 0) return message.slice(Math.min(...at) + 4);
  return /^Cannot .+? as (.+)$/s.exec(message)?.[1] ?? message;
}

/** The error that pending and later writes get once `close()` was called. */
export function closedError(addr: NetAddr): ConnectionError {
  return new ConnectionError(`Cannot write to ${formatAddr(addr)} as the connection is closed`, {
    code: "CONNECTION_CLOSED",
  });
}

/**
 * `options` with a bracketed IPv6 `hostname` (`"[::1]"`, as in URLs) unwrapped:
 * Deno and Bun take both forms, Node only the bare one.
 */
function bareHost<T extends object>(options: T): T {
  const host = (options as { hostname?: unknown }).hostname;
  return typeof host === "string" && host.startsWith("[") && host.endsWith("]")
    ? { ...options, hostname: host.slice(1, -1) }
    : options;
}

/** `127.0.0.1:80`, `[::1]:80` or the socket path. */
export function formatAddr(addr: NetAddr): string {
  if (addr.transport === "unix") return addr.path;
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * Throws a `RangeError` unless `port` is an integer from 1 (0 to listen: any
 * free port) to 65535 (a `TypeError` if it is no number at all), so that
 * every runtime refuses a bad port alike.
 */
export function checkPort(port: number, action: "connect" | "listen"): void {
  const min = action === "connect" ? 1 : 0;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw numberError(
      port,
      `Cannot ${action} as port must be an integer from ${min} to 65535: received ${
        receivedValue(port)
      }`,
    );
  }
}

/** Connect or listen options as plain JavaScript may pass them: anything goes. */
interface LooseOptions {
  signal?: unknown;
  noDelay?: unknown;
  caCerts?: unknown;
  cert?: unknown;
  key?: unknown;
  [name: string]: unknown;
}

/**
 * Throws a `TypeError` for a `signal` that is no `AbortSignal`, a `noDelay`
 * that is no boolean, and TLS settings of the wrong type (`caCerts` not an
 * array of strings, `serverName` not a non-empty string, `cert` or `key` not
 * a non-empty string): each runtime would refuse them in its own words, take
 * them (Node takes a string for `caCerts`), or fail later.
 */
function checkSettings(
  options: object,
  action: string,
  tls: "client" | "server" | undefined,
): void {
  const o = options as LooseOptions;
  const badSignal = signalError(o.signal, action);
  if (badSignal !== undefined) throw badSignal;
  const refuse = (name: string, must: string): never => {
    throw new TypeError(
      `Cannot ${action} as ${name} must be ${must}: received ${receivedValue(o[name])}`,
    );
  };
  if (o.noDelay != null && typeof o.noDelay !== "boolean") refuse("noDelay", "a boolean");
  const text = (name: string, required: boolean): void => {
    const value = o[name];
    if ((value != null || required) && (typeof value !== "string" || value === "")) {
      refuse(name, "a non-empty string");
    }
  };
  if (tls === "client") {
    const ca = o.caCerts;
    if (ca != null && !Array.isArray(ca)) refuse("caCerts", "an array of PEM strings");
    (ca as unknown[] | undefined)?.forEach((pem, i) => {
      if (typeof pem !== "string") {
        throw new TypeError(
          `Cannot ${action} as caCerts[${i}] must be a PEM string: received ${receivedValue(pem)}`,
        );
      }
    });
    text("serverName", false);
  } else if (tls === "server") {
    text("cert", true);
    text("key", true);
  }
}

/**
 * `options` with PEM given as bytes (`readFileSync(file)`, as plain
 * JavaScript often passes it; every runtime took it) turned into the text
 * the types ask for, and text without the byte order mark that decoding
 * drops (`readFileSync(file, "utf8")` of a file saved with one keeps it:
 * Node read past it, Bun and Deno found no PEM, ignoring such a CA).
 */
function pemText<T extends object>(options: T, action: string): T {
  const o = options as LooseOptions;
  const bom = (value: unknown): boolean => typeof value === "string" && value.startsWith("\uFEFF");
  const text = (value: unknown, name: string): unknown => {
    if (!(value instanceof Uint8Array)) return bom(value) ? (value as string).slice(1) : value;
    // Transferred, it reads as no bytes: say so, not 'received the string ""' from the check.
    if (value.length === 0 && isDetached(value)) {
      throw new TypeError(
        `Cannot ${action} as the buffer of ${name} was detached (transferred): pass the PEM before transferring its buffer, or a copy`,
      );
    }
    return new TextDecoder().decode(value);
  };
  const changes = (value: unknown): boolean => value instanceof Uint8Array || bom(value);
  const bytes = changes(o.cert) || changes(o.key) ||
    (Array.isArray(o.caCerts) && o.caCerts.some(changes));
  if (!bytes) return options;
  const copy: LooseOptions = { ...o };
  for (const name of ["cert", "key"]) if (name in copy) copy[name] = text(copy[name], name);
  if (Array.isArray(o.caCerts)) {
    copy.caCerts = o.caCerts.map((pem, i) => text(pem, `caCerts[${i}]`));
  }
  return copy as T;
}

/**
 * The errno name to word a failed Unix socket `listen()` on Node by, when not
 * its own: libuv reports a path in a missing directory as EACCES (as on
 * Windows), Deno's and Bun's node:net, and their adapters, as ENOENT.
 * "ENOENT" when `error` is EACCES and `stat(dir)` (the path's directory)
 * fails with ENOENT; a directory that exists but cannot be searched (`stat`
 * fails with EACCES) is a real EACCES, as the Deno and Bun adapters say.
 */
export function unixListenErrno(
  error: unknown,
  dir: string,
  stat: (path: string) => unknown,
): string | undefined {
  if (errnoOf(error) !== "EACCES") return undefined;
  try {
    stat(dir);
  } catch (cause) {
    if (errnoOf(cause) === "ENOENT") return "ENOENT";
  }
  return undefined;
}

/** The longest Unix socket path Linux takes (`sun_path` holds 108 bytes with the final NUL). */
const MAX_UNIX_PATH = 107;

/**
 * The path to bind a Unix socket listener to: a relative `path` made
 * absolute against `cwd()`, when that fits in 107 bytes. Every runtime
 * removes the socket file on `close()` by the path it was bound to, relative
 * to the working directory of the moment: after a `chdir()`, a relative one
 * left the listener's own file and removed another one of that name. An
 * absolute path, an abstract (`"\0"`) name, one whose absolute form is too
 * long, or a working directory that cannot be read (Deno without read
 * permission) keeps `path` as given.
 */
export function unixBindPath(path: string, cwd: () => string): string {
  if (path.startsWith("/") || path.startsWith("\0") || path.startsWith("\\")) return path;
  let dir: string;
  try {
    dir = cwd();
  } catch {
    return path;
  }
  const absolute = `${dir.endsWith("/") ? dir.slice(0, -1) : dir}/${path}`;
  return new TextEncoder().encode(absolute).length <= MAX_UNIX_PATH ? absolute : path;
}

/**
 * `options` with a bracketed IPv6 `hostname` unwrapped ({@linkcode bareHost}),
 * once checked: a `RangeError` for a Unix socket `path` over 107 bytes (macOS
 * allows 103: longer ones fail there as the runtime says), a `TypeError` for
 * an empty (or non-string) `path` or `hostname` (`"[]"` too), a `hostname`
 * with a NUL character, with brackets other than one pair around it, or with
 * brackets around what is no IPv6 address (`"[localhost]"`), and `port` as
 * {@linkcode checkPort} checks it, so
 * that every runtime refuses a bad target alike (they would otherwise fail in
 * different ways, or dial the local host). Call it before anything reads the
 * options, where a throw becomes the returned promise's rejection.
 */
export function checkTarget<
  T extends { hostname?: string | undefined; port: number } | { path: string },
>(
  given: T,
  action: "connect" | "listen",
  tls?: "client" | "server",
): T {
  checkOptions(given, action);
  if (given === undefined) {
    throw new TypeError(`Cannot ${action} as options must be an object: received undefined`);
  }
  if (tls !== undefined) given = pemText(given, action);
  checkSettings(given, action, tls);
  let options = bareHost(given);
  // null: the default (no signal, as for fetch()), as for every option; the runtimes would refuse
  // it, each in its own words. A host name or path is no option: it names the target.
  const nulls = ["signal", "noDelay", "caCerts", "serverName"].filter((name) =>
    (options as Record<string, unknown>)[name] === null
  );
  if (nulls.length > 0) {
    options = { ...options };
    for (const name of nulls) (options as Record<string, unknown>)[name] = undefined;
  }
  // An undefined path next to a port is no path (options take undefined), as for Node's net.
  if (
    "path" in options && options.path === undefined &&
    (options as { port?: unknown }).port !== undefined
  ) {
    const { path: _, ...tcp } = options as Record<string, unknown>;
    options = tcp as T;
  }
  if ("path" in options) {
    const path: unknown = options.path;
    // TLS is over TCP only (Deno's connectTls() has no path; the others failed in their words).
    if (tls !== undefined) {
      throw new TypeError(
        `Cannot ${action} as TLS takes a hostname and port, not a Unix socket path`,
      );
    }
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `Cannot ${action} as path must be a non-empty string: received ${receivedValue(path)}`,
      );
    }
    // Every runtime took the path and ignored the rest (a port of 70000 too).
    const tcp = (["hostname", "port"] as const).filter((name) =>
      (options as Record<string, unknown>)[name] !== undefined
    );
    if (tcp.length > 0) {
      throw new TypeError(
        `Cannot ${action} as the options name a Unix socket (path) and a TCP address (${
          tcp.join(" and ")
        }): pass one or the other`,
      );
    }
    // Longer paths fail in every runtime, each in its own words (Node "EINVAL: invalid
    // argument", Bun "Failed to listen at", Deno "path must be shorter than SUN_LEN").
    const bytes = new TextEncoder().encode(path).length;
    if (bytes > MAX_UNIX_PATH) {
      throw new RangeError(
        `Cannot ${action} as a Unix socket path must be at most ${MAX_UNIX_PATH} bytes: received ${bytes} bytes`,
      );
    }
    return options;
  }
  const host: unknown = options.hostname;
  // Named as given: "[]" reads as "" once its brackets are taken off.
  const named = (given as { hostname?: unknown }).hostname;
  if (host !== undefined && (typeof host !== "string" || host === "")) {
    const rule = named === host ? "be a non-empty string" : "name a host inside its brackets";
    throw new TypeError(
      `Cannot ${action} as hostname must ${rule}: received ${receivedValue(named)}`,
    );
  }
  // No host has one; the runtimes failed each in its own way (Node with a TypeError of its own).
  if (typeof host === "string" && host.includes("\0")) {
    throw new TypeError(
      `Cannot ${action} as hostname must not contain a NUL character: received ${
        receivedValue(named)
      }`,
    );
  }
  // No host has a bracket but the pair around an IPv6 address (taken off above): before, Deno took
  // "[[::1]]" for ::1 (it takes off a pair too) where the others failed to resolve it, and Deno
  // refused "[[]]" as no IPv6 address where the others failed to resolve it.
  if (typeof host === "string" && (host.includes("[") || host.includes("]"))) {
    throw new TypeError(
      `Cannot ${action} as hostname must have no brackets but one pair around it: received ${
        receivedValue(named)
      }`,
    );
  }
  // Brackets enclose an IPv6 address only (RFC 3986's IP-literal), and every IPv6 address has a
  // ":": before, "[127.0.0.1]" and "[localhost]" were taken as if bare, on every runtime.
  if (typeof host === "string" && named !== host && !host.includes(":")) {
    throw new TypeError(
      `Cannot ${action} as hostname must be an IPv6 address if in brackets: received ${
        receivedValue(named)
      }`,
    );
  }
  checkPort(options.port, action);
  if (tls !== undefined) checkPem(options, action, tls);
  return options;
}

/** The PEM block each TLS setting must hold, by its label. */
const PEM_LABELS = {
  // OpenSSL's other names for one too, "TRUSTED CERTIFICATE" (`openssl x509 -trustout`, Fedora's
  // ca-bundle.trust.crt) and the old "X509 CERTIFICATE": Node and Bun use them, Deno does not.
  caCerts: /^(?:TRUSTED |X509 )?CERTIFICATE$/,
  cert: /^(?:TRUSTED |X509 )?CERTIFICATE$/,
  // PKCS #8, PKCS #1 (RSA) or SEC 1 (EC): what every runtime reads. An encrypted one needs a
  // passphrase, which no adapter takes.
  key: /^(?:RSA |EC )?PRIVATE KEY$/,
} as const;

/**
 * Throws a `TypeError` for TLS settings whose text holds no PEM block of the
 * kind they must: a certificate (`caCerts`, `cert`) or an unencrypted private
 * key (`key`). The runtimes refused such text in their own words ("no start
 * line", "No certificates found", "nom error: Eof", "Invalid CA"), or, for a
 * CA, ignored it and then failed to verify the server, which read as a fault
 * of the server's certificate.
 */
function checkPem(options: object, action: string, tls: "client" | "server"): void {
  const o = options as LooseOptions;
  const check = (name: keyof typeof PEM_LABELS, text: string, shown: string): void => {
    // At the start of a line, as every runtime reads it (an indented one was refused, and such a
    // CA ignored, everywhere). A legacy encrypted key ("Proc-Type: 4,ENCRYPTED" after the BEGIN
    // line) needs a passphrase no adapter takes: every runtime refused it in its own words.
    const blocks = [
      ...text.matchAll(/^-----BEGIN ([A-Z0-9 ]+)-----\r?\n(Proc-Type: *4, *ENCRYPTED\b)?/gm),
    ]
      .map((m) => ({ label: m[1]!, encrypted: m[2] !== undefined }));
    if (blocks.some((b) => !b.encrypted && PEM_LABELS[name].test(b.label))) return;
    const want = name === "key" ? "an unencrypted PEM private key" : "a PEM certificate";
    const first = blocks[0];
    const got = first === undefined
      ? receivedValue(text)
      : `${first.encrypted ? "an encrypted" : "a"} PEM block "${first.label}"`;
    throw new TypeError(`Cannot ${action} as ${shown} must be ${want}: received ${got}`);
  };
  if (tls === "client") {
    (o.caCerts as string[] | undefined)?.forEach((pem, i) =>
      check("caCerts", pem, `caCerts[${i}]`)
    );
  } else {
    check("cert", o.cert as string, "cert");
    check("key", o.key as string, "key");
  }
}

/**
 * Throws a `TypeError` naming the adapter to use instead when this runtime
 * is not `runtime` (e.g. `@framewire/framewire/bun` imported on Node).
 */
export function requireRuntime(runtime: "Deno" | "Bun", action: "connect" | "listen"): void {
  if (!(runtime in globalThis)) {
    throw new TypeError(
      `Cannot ${action} as the ${runtime.toLowerCase()} adapter needs ${runtime}: ` +
        "use @framewire/framewire/node on other runtimes",
    );
  }
}

/** Rejects with the signal's reason if it is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}
