/**
 * glibc malloc settings for timefs's processes, in glibc's own syntax (GLIBC_TUNABLES). glibc reads
 * them only when a process starts, so they travel in the environment: the `timefs` bin's shebang
 * and the npm scripts set them, before the user's own GLIBC_TUNABLES (which win where they set
 * the same tunable; test/cli/tunables.test.ts checks both), and the mount's --daemon child and the
 * benchmarks' servers get them from withMallocTunables.
 *
 * Why: file chunks are 1 MiB Buffers, and glibc by default gives every allocation of that size a
 * fresh mmap of its own, returned to the kernel when freed — so each chunk read or written touches
 * new pages, and on this VM each first touch of a page faults through the hypervisor. With
 * mmap_threshold at 16 MiB, chunks and the write-back's 8 MiB runs come from the heap, and with
 * trim_threshold at 128 MiB (the read cache's size) the heap keeps freed memory for the next ones
 * instead of handing it back at once (without it, a 5,000-file untar was ~4% slower). Measured on
 * the mount, alternating: a cold read of 256 MiB 0.80–0.86 s → 0.69–0.74 s, cp of 256 MiB in
 * 1.85–2.17 s → 1.79–2.05 s. The price: up to 128 MiB of freed memory stays with the process.
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=16777216:glibc.malloc.trim_threshold=134217728';

/**
 * `env` with MALLOC_TUNABLES put before the caller's own GLIBC_TUNABLES, for a timefs process
 * started from code (the mount's --daemon child, the benchmarks), as the bin's shebang and the npm
 * scripts do (`GLIBC_TUNABLES=<ours>:${GLIBC_TUNABLES}`): glibc applies tunables in order, so a
 * malloc setting of the caller's own wins over ours, and every other one is kept. Unchanged when
 * ours are there already (a child of the bin).
 */
export function withMallocTunables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const current = env.GLIBC_TUNABLES ?? '';
  if (current.includes(MALLOC_TUNABLES)) return env;
  return { ...env, GLIBC_TUNABLES: current ? `${MALLOC_TUNABLES}:${current}` : MALLOC_TUNABLES };
}
