#!/usr/bin/env node
// Copyright 2026 the framewire authors. MIT license.
// The `framewire` executable: the npm package's `bin`, and what `node`, `bun` and `deno run` run
// in a clone. Not an export: importing it runs the command (import `main` from main.ts to run it
// from code). Not a top-level await, as in main.ts.

import { runProcess } from "./_run.ts";

void runProcess();
