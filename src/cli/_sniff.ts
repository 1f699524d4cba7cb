// Copyright 2026 the framewire authors. MIT license.
// Recognises well-known protocols from the first bytes of a stream. Private.

/** A protocol recognised from its first bytes. */
export interface Sniffed {
  /** What the bytes look like, e.g. "a TLS ClientHello (TLS handshake record 16 03 01)". */
  what: string;
  /** The likely mistake, as advice. */
  advice: string;
}

const HTTP_METHODS = [
  "GET",
  "POST",
  "PUT",
  "HEAD",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
];

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

const TLS_CONTENT: Record<number, string> = {
  0x14: "ChangeCipherSpec",
  0x15: "alert",
  0x16: "handshake",
  0x17: "application data",
};
const TLS_HANDSHAKE: Record<number, string> = { 0x01: "ClientHello", 0x02: "ServerHello" };

/** Names the protocol `bytes` start with, when it is a well-known one that is not framing. */
export function sniff(bytes: Uint8Array): Sniffed | undefined {
  if (
    bytes.length >= 3 && TLS_CONTENT[bytes[0]!] !== undefined && bytes[1] === 0x03 &&
    bytes[2]! <= 0x04
  ) {
    const record = `TLS ${TLS_CONTENT[bytes[0]!]} record, ${hex3(bytes)}`;
    const hello = bytes[0] === 0x16 && bytes.length >= 6 ? TLS_HANDSHAKE[bytes[5]!] : undefined;
    return {
      what: hello === undefined ? `a ${record}` : `a TLS ${hello} (${record})`,
      advice: hello === "ServerHello"
        ? "the server answered with TLS: connect with TLS, or point the client at the plain-TCP port"
        : "the peer is speaking TLS to a plain-TCP port: use TLS on both sides or on neither",
    };
  }
  if (startsWith(bytes, "PRI * HTTP/2.0")) {
    return {
      what: "the HTTP/2 connection preface (PRI * HTTP/2.0)",
      advice:
        "an HTTP/2 (gRPC?) client is talking to this port; gRPC messages need HTTP/2 underneath",
    };
  }
  for (const method of HTTP_METHODS) {
    if (startsWith(bytes, `${method} `)) {
      return {
        what: `an HTTP request (${JSON.stringify(firstLine(bytes))})`,
        advice: "an HTTP client (browser, curl, health check) is talking to this port",
      };
    }
  }
  if (startsWith(bytes, "HTTP/1.")) {
    return {
      what: `an HTTP response (${JSON.stringify(firstLine(bytes))})`,
      advice: "the other side is an HTTP server, not a framed-message peer",
    };
  }
  if (startsWith(bytes, "SSH-")) {
    return {
      what: "an SSH banner",
      advice: "this is an SSH server or client, not a framed-message peer",
    };
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    return {
      what: "gzip data (1f 8b)",
      advice: "the stream is compressed: decompress it before decoding frames",
    };
  }
  return undefined;
}

function hex3(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 3), (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function firstLine(bytes: Uint8Array): string {
  let end = 0;
  while (end < bytes.length && end < 80 && bytes[end] !== 0x0d && bytes[end] !== 0x0a) end++;
  let out = "";
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
  }
  return out;
}
