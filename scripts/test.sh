#!/usr/bin/env bash
# The full test run: the same suite on Deno, Bun and Node 24, plus the
# static checks and the npm build. Used by `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
export DENO_NO_UPDATE_CHECK=1 NO_COLOR=1

step() { printf '\n== %s\n' "$*"; }

step "deno fmt --check"; deno fmt --check
step "README in sync with docs/cli.md"; deno run -A scripts/sync_readme.ts --check
step "deno lint"; deno lint
step "deno check"; deno check mod.ts src/ tests/ scripts/ bench/
step "deno check (a consumer's strictest settings)"; deno run -A scripts/check_strict.ts
step "deno doc --lint"; deno doc --lint mod.ts src/adapters/[!_]*.ts src/cli/main.ts
step "deno test --doc"; deno test -A --doc mod.ts src/ README.md docs/*.md
step "deno test"; deno test -A tests/
# Bun alone limits each test, to 5 s by default: the split-at-every-offset tests take 3-5 s there
# when the machine is busy (two failed so under load). Deno and Node set no limit; 60 s still ends a hang.
step "bun test"; bun test --timeout 60000 ./tests
step "node --test (Node $(node --version))"; node --test "tests/**/*_test.ts"
step "npm build + smoke test"; deno run -A scripts/build_npm.ts
step "deno publish --dry-run"; deno publish --dry-run --allow-dirty
