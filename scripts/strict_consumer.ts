// Copyright 2026 the framewire authors. MIT license.
/**
 * The strictest compiler settings a consumer of framewire may use, which its
 * published types must pass: scripts/build_npm.ts type-checks the built
 * package under them, tests/connection/types_test.ts a fixture of wrappers of
 * its interfaces, and scripts/check_strict.ts the sources themselves (the
 * settings that are about checking, not emit).
 */
export const STRICT_CONSUMER: Readonly<Record<string, unknown>> = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
  verbatimModuleSyntax: true,
  isolatedDeclarations: true,
  declaration: true,
  noEmit: true,
  skipLibCheck: false,
};
