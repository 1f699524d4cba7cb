// Copyright 2026 the framewire authors. MIT license.
// The bun adapter against real loopback sockets; skips on other runtimes.
import { adapterSuite } from "./_suite.ts";
import { watchSockets } from "../_util/leaks.ts";

const sockets = watchSockets();

adapterSuite("bun");

sockets.check();
