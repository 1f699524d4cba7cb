// Copyright 2026 the framewire authors. MIT license.
// The deno adapter against real loopback sockets; skips on other runtimes.
import { adapterSuite } from "./_suite.ts";

adapterSuite("deno");
