/**
 * Tests that need something outside the repo (a system tool, a build, a service) call this.
 * Locally they skip with a loud reason; in CI (TIMEFS_REQUIRE_ALL=1) a missing requirement is a
 * failure, so a green CI run can never hide a test that did not run.
 */
export const REQUIRE_ALL = process.env.TIMEFS_REQUIRE_ALL === '1';

export function requirement(available: boolean, what: string): { run: boolean; reason: string } {
  if (!available && !REQUIRE_ALL) {
    console.warn(`\n*** SKIPPING: ${what} is not available (set TIMEFS_REQUIRE_ALL=1 to make this a failure) ***\n`);
  }
  return { run: available || REQUIRE_ALL, reason: `SKIPPED: ${what} is not available` };
}
