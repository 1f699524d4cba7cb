// Copyright 2026 the framewire authors. MIT license.
// The deno adapter against real loopback sockets; skips on other runtimes.
import { adapterSuite } from "./_suite.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

adapterSuite("deno");

sockets.check();
