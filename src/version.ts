/** The timefs version (kept equal to package.json's by test/cli). */
export const TIMEFS_VERSION = '0.1.0';
