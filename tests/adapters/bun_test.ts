// Copyright 2026 the framewire authors. MIT license.
// The bun adapter against real loopback sockets; skips on other runtimes.
import { adapterSuite } from "./_suite.ts";

adapterSuite("bun");
