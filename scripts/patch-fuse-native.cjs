#!/usr/bin/env node
// Patches fuse-native 2.2.6 so each FUSE operation tells JavaScript who called it, then rebuilds
// it from source (npm's bundled node-gyp, headers from fuse-shared-library-linux; no download).
//
// Why: fuse_get_context() (the caller's uid/gid/pid) is thread-local to the FUSE worker thread
// that received the request; fuse-native runs JS handlers on the main thread and never passes it
// on, so files created through the mount could only belong to the mounting user. The patch
// records the context in the request's thread locals before handing the request to JS, and adds
// `fuse_native_caller(handle)`; index.js stores it in `fuse.caller` right before calling an op.
// Idempotent (a marker in the C file); exits 0 with a warning where it cannot build, so the
// unpatched prebuild keeps working (ownership then stays with the mounting user).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const MARKER = '/* timefs: caller context */';
let dir;
try {
  dir = path.dirname(require.resolve('fuse-native/package.json'));
} catch {
  process.exit(0); // fuse-native is not installed (optional use)
}
const cFile = path.join(dir, 'fuse-native.c');
const jsFile = path.join(dir, 'index.js');
const originalC = fs.readFileSync(cFile, 'utf8');
const originalJs = fs.readFileSync(jsFile, 'utf8');
let c = originalC;
let js = originalJs;

function replace(text, from, to, what) {
  if (!text.includes(from)) throw new Error(`patch-fuse-native: cannot find the ${what} to patch (fuse-native changed?)`);
  return text.replace(from, to);
}

if (!c.includes(MARKER)) {
  c = replace(c, '  // Internal bookkeeping\n  fuse_thread_t *fuse;', `  ${MARKER}\n  uid_t caller_uid;\n  gid_t caller_gid;\n  pid_t caller_pid;\n\n  // Internal bookkeeping\n  fuse_thread_t *fuse;`, 'thread locals struct');
  c = replace(
    c,
    '  l->op = op_##name;\\\n',
    '  l->op = op_##name;\\\n  { struct fuse_context *fc = fuse_get_context(); l->caller_uid = fc->uid; l->caller_gid = fc->gid; l->caller_pid = fc->pid; }\\\n',
    'handler macro',
  );
  c = replace(
    c,
    'static void* start_fuse_thread (void *data) {',
    `NAPI_METHOD(fuse_native_caller) {\n  NAPI_ARGV(1)\n  NAPI_ARGV_BUFFER_CAST(fuse_thread_locals_t *, l, 0);\n  napi_value arr;\n  napi_create_array_with_length(env, 3, &arr);\n  napi_value v;\n  napi_create_uint32(env, l->caller_uid, &v); napi_set_element(env, arr, 0, v);\n  napi_create_uint32(env, l->caller_gid, &v); napi_set_element(env, arr, 1, v);\n  napi_create_uint32(env, l->caller_pid, &v); napi_set_element(env, arr, 2, v);\n  return arr;\n}\n\nstatic void* start_fuse_thread (void *data) {`,
    'thread start function',
  );
  c = replace(c, '  NAPI_EXPORT_FUNCTION(fuse_native_mount)\n', '  NAPI_EXPORT_FUNCTION(fuse_native_mount)\n  NAPI_EXPORT_FUNCTION(fuse_native_caller)\n', 'export list');
  // utimens: upstream passes atime twice (mtime is lost) and turns UTIME_NOW / UTIME_OMIT into
  // garbage times; pass mtime, and mark NOW / OMIT with sentinels in the high word (exact as doubles)
  c = replace(
    c,
    '  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);\n',
    '  l->atime = tv[0].tv_nsec == UTIME_OMIT ? 0xFFFFFFFF00000000ULL : tv[0].tv_nsec == UTIME_NOW ? 0xFFFFFFFE00000000ULL : timespec_to_uint64(&tv[0]);\n  l->mtime = tv[1].tv_nsec == UTIME_OMIT ? 0xFFFFFFFF00000000ULL : tv[1].tv_nsec == UTIME_NOW ? 0xFFFFFFFE00000000ULL : timespec_to_uint64(&tv[1]);\n',
    'utimens times',
  );
  c = replace(c, '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)\n', '  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n', 'utimens arguments');
  js = replace(
    js,
    "        if (!self[funcName] || !self._implemented.has(op)) return boundSignal(-1, ...defaults)\n",
    "        if (!self[funcName] || !self._implemented.has(op)) return boundSignal(-1, ...defaults)\n        if (binding.fuse_native_caller) self.caller = binding.fuse_native_caller(nativeHandler) // timefs: caller context\n",
    'op dispatch in index.js',
  );
  // st_ino from the filesystem (stable across rename and hard links), as the kernel reports it
  js = replace(js, "    if (this.opts.allowOther) options.push('allow_other')\n", "    if (this.opts.allowOther) options.push('allow_other')\n    if (this.opts.useIno) options.push('use_ino') // timefs\n", 'mount options');
}
// utimensat with one time (the other UTIME_OMIT: `touch -m`, tar, rsync, cp -p) reached the
// filesystem only when it declares it understands UTIME_OMIT/UTIME_NOW: libfuse 2.9's setattr
// otherwise drops any request that does not set both times — silently (pjdfstest utimensat/02)
const OMIT_MARKER = '/* timefs: utime_omit_ok */';
if (!c.includes(OMIT_MARKER)) {
  c = replace(c, '  struct fuse_operations ops = { };\n', `  struct fuse_operations ops = { };\n  ops.flag_utime_omit_ok = 1; ${OMIT_MARKER}\n`, 'fuse_operations setup');
}
// 128 KiB writes instead of 4 KiB ones: 32× fewer round trips for `cp` of a big file
if (!js.includes("options.push('big_writes')")) {
  js = replace(js, "    if (this.opts.useIno) options.push('use_ino') // timefs\n", "    if (this.opts.useIno) options.push('use_ino') // timefs\n    if (this.opts.bigWrites) options.push('big_writes', 'max_write=131072') // timefs\n", 'mount options (big_writes)');
}
if (c !== originalC) fs.writeFileSync(cFile, c);
if (js !== originalJs) fs.writeFileSync(jsFile, js);

const gyp = process.env.npm_config_node_gyp || path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const built = path.join(dir, 'build', 'Release', 'fuse.node');
if (fs.existsSync(built) && fs.statSync(built).mtimeMs > fs.statSync(cFile).mtimeMs && fs.readFileSync(built).includes('fuse_native_caller')) process.exit(0);
// node headers: npm's nodedir setting, or the distribution's (Debian's nodejs ships them in /usr/include/node)
const nodedir = process.env.npm_config_nodedir || (fs.existsSync(path.join(path.dirname(process.execPath), '..', 'include', 'node', 'node_api.h')) ? path.resolve(path.dirname(process.execPath), '..') : null);
const r = spawnSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: dir, stdio: 'inherit' });
if (r.status !== 0) {
  console.warn('patch-fuse-native: WARNING: rebuilding fuse-native failed; the prebuilt binding stays (files created through a mount belong to the mounting user)');
  process.exit(0);
}
console.log('patch-fuse-native: fuse-native rebuilt with the caller context');
