import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AgentFs } from '../../src/fs/agentfs.js';
import { blockPrefix } from '../../src/fs/codec.js';
import type { FsTx } from '../../src/fs/tx.js';
import { BLOCK_SIZE, INLINE_MAX } from '../../src/fs/types.js';
import { errno, makeFs } from '../helpers/fs.js';
import { TestClock } from '../helpers/store.js';

const text = (b: Buffer): string => b.toString('utf8');

describe('files and directories', () => {
  it('refuses a filesystem stored in another format instead of misreading it', async () => {
    const fs = await makeFs();
    await fs.writeFile('/a.txt', 'x');
    // as timefs before format 2 left it: a root, no format record
    await fs.ns.commit({ actor: 'test', summary: 'old format' }, async (w) => w.delete(['m', 'format']));
    await expect(AgentFs.open(fs.store, fs.agent)).rejects.toThrow(/stored in filesystem format 1 \(256 KiB blocks, an older timefs\); this version reads format 2/);
    await fs.ns.commit({ actor: 'test', summary: 'new format' }, async (w) => w.set(['m', 'format'], Buffer.from('2')));
    expect((await (await AgentFs.open(fs.store, fs.agent)).readFile('/a.txt')).toString()).toBe('x');
  });

  it('creates, reads, overwrites, appends and lists', async () => {
    const fs = await makeFs();
    await fs.mkdir('/docs');
    await fs.writeFile('/docs/a.md', 'hello');
    await fs.appendFile('/docs/a.md', ' world');
    expect(text(await fs.readFile('/docs/a.md'))).toBe('hello world');
    await fs.writeFile('/docs/b.md', 'b');
    expect((await fs.readdir('/docs')).entries.map((e) => [e.name, e.type])).toEqual([['a.md', 'file'], ['b.md', 'file']]);
    const st = await fs.stat('/docs/a.md');
    expect(st).toMatchObject({ type: 'file', size: 11, nlink: 1, mode: 0o100644 });
    expect((await fs.stat('/docs')).nlink).toBe(2);
    expect((await fs.stat('/')).nlink).toBe(3);
    await fs.writeFile('/docs/a.md', 'short');
    expect(text(await fs.readFile('/docs/a.md'))).toBe('short');
  });

  it('handles unicode, spaces, @ in names, 255-byte names and deep nesting', async () => {
    const fs = await makeFs();
    const names = ['héllo wörld.txt', 'emoji 🎉.md', 'user@host.txt', 'a@b@c', 'x@123', '日本語', 'a'.repeat(255)];
    for (const n of names) await fs.writeFile(`/${n}`, n);
    for (const n of names) expect(text(await fs.readFile(`/${n}`))).toBe(n);
    expect((await fs.readdir('/')).entries.map((e) => e.name).sort()).toEqual([...names].sort());
    expect(await errno(fs.writeFile(`/${'a'.repeat(256)}`, 'x'))).toBe('ENAMETOOLONG');
    expect(await errno(fs.writeFile(`/${'é'.repeat(128)}`, 'x'))).toBe('ENAMETOOLONG'); // 256 bytes
    const deep = `/${Array.from({ length: 60 }, (_, i) => `d${i}`).join('/')}`;
    await fs.mkdir(deep, { recursive: true });
    await fs.writeFile(`${deep}/leaf`, 'deep');
    expect(text(await fs.readFile(`${deep}/leaf`))).toBe('deep');
  });

  it('normalizes paths; .. never escapes the root', async () => {
    const fs = await makeFs();
    await fs.writeFile('/top.txt', 'top');
    expect(text(await fs.readFile('/../../../top.txt'))).toBe('top');
    expect(text(await fs.readFile('a/../../top.txt'))).toBe('top');
    expect(text(await fs.readFile('//./top.txt'))).toBe('top');
    await fs.writeFile('/../../etc-passwd', 'inside');
    expect((await fs.readdir('/')).entries.map((e) => e.name).sort()).toEqual(['etc-passwd', 'top.txt']);
    expect(await errno(fs.readFile('/a\0b'))).toBe('EINVAL');
  });

  it('gives the POSIX errno for every misuse', async () => {
    const fs = await makeFs();
    await fs.mkdir('/d');
    await fs.writeFile('/d/f', 'x');
    expect(await errno(fs.readFile('/nope'))).toBe('ENOENT');
    expect(await errno(fs.readFile('/d'))).toBe('EISDIR');
    expect(await errno(fs.readFile('/d/f/g'))).toBe('ENOTDIR');
    expect(await errno(fs.writeFile('/d/f/g', 'x'))).toBe('ENOTDIR');
    expect(await errno(fs.writeFile('/missing/f', 'x'))).toBe('ENOENT');
    expect(await errno(fs.mkdir('/d'))).toBe('EEXIST');
    expect(await errno(fs.mkdir('/d/f'))).toBe('EEXIST');
    expect(await errno(fs.rm('/d'))).toBe('EISDIR');
    expect(await errno(fs.rm('/d', { dir: true }))).toBe('ENOTEMPTY');
    expect(await errno(fs.transaction('rmdir', (tx) => tx.rmdir('/d/f')))).toBe('ENOTDIR');
    expect(await errno(fs.transaction('unlink', (tx) => tx.unlink('/d')))).toBe('EISDIR');
    expect(await errno(fs.rm('/'))).toBe('EBUSY');
    expect(await errno(fs.rename('/d', '/d/sub'))).toBe('EINVAL');
    expect(await errno(fs.readlink('/d/f'))).toBe('EINVAL');
    expect(await errno(fs.link('/d', '/dlink'))).toBe('EPERM');
    expect(await errno(fs.truncate('/d', 0))).toBe('EISDIR');
    expect(await errno(fs.truncate('/d/f', -1))).toBe('EINVAL');
    expect(await errno(fs.write('/d/f', 2 ** 44, Buffer.from('x')))).toBe('EFBIG');
    expect(await errno(fs.getxattr('/d/f', 'user.none'))).toBe('ENODATA');
    expect(await errno(fs.setxattr('/d/f', 'user.a', Buffer.from('1'), { replace: true }))).toBe('ENODATA');
    await fs.symlink('loop2', '/loop1');
    await fs.symlink('loop1', '/loop2');
    expect(await errno(fs.readFile('/loop1'))).toBe('ELOOP');
    expect(await errno(fs.symlink('', '/empty'))).toBe('ENOENT');
    expect(await errno(fs.rm('/nope'))).toBe('ENOENT');
    expect(await fs.rm('/nope', { force: true })).toBeNull();
    // nothing above changed the tree
    expect((await fs.readdir('/')).entries.map((e) => e.name).sort()).toEqual(['d', 'loop1', 'loop2']);
  });

  it("treats a trailing '/' as POSIX does: the path must name a directory", async () => {
    const fs = await makeFs();
    await fs.mkdir('/d');
    await fs.writeFile('/d/f', 'x');
    await fs.symlink('d', '/dl');
    const head = await fs.head();
    // never a file named `new` or `d/f` where a directory was meant
    for (const attempt of [
      () => fs.writeFile('/new/', 'x'),
      () => fs.writeFile('/d/f/', 'x'),
      () => fs.readFile('/d/f/'),
      () => fs.stat('/d/f/'),
      () => fs.readdir('/d/f/'),
      () => fs.rm('/d/f/'),
      () => fs.rename('/d/f', '/g/'),
      () => fs.rename('/d/f/', '/g'),
      () => fs.copy('/d/f', '/g/'),
      () => fs.symlink('d/f', '/s/'),
      () => fs.link('/d/f', '/l/'),
      () => fs.transaction('unlink', (tx) => tx.unlink('/d/f/')),
      () => fs.transaction('create', (tx) => tx.openFile('/created/', { create: true })),
    ]) {
      expect(await errno(attempt()), attempt.toString()).toBe('ENOTDIR');
    }
    expect(await fs.head()).toBe(head);
    // directories with a trailing '/' work as before; a symlink to one is followed
    expect((await fs.readdir('/d/')).entries.map((e) => e.name)).toEqual(['f']);
    expect((await fs.readdir('/dl/')).entries.map((e) => e.name)).toEqual(['f']);
    expect((await fs.stat('/dl/')).type).toBe('dir');
    expect((await fs.lstat('/dl')).type).toBe('symlink');
    await fs.mkdir('/e/');
    await fs.rename('/e/', '/e2/');
    await fs.copy('/d/', '/d2/');
    expect(text(await fs.readFile('/d2/f'))).toBe('x');
    await fs.rm('/e2/', { recursive: true });
    expect((await fs.readdir('/')).entries.map((e) => e.name).sort()).toEqual(['d', 'd2', 'dl']);
  });
});

describe('content: blocks, sparse files, truncate', () => {
  it('writes across block boundaries, keeps holes as zeros, truncates up and down', async () => {
    const fs = await makeFs();
    const big = Buffer.alloc(3 * BLOCK_SIZE + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await fs.writeFile('/big', big);
    expect((await fs.readFile('/big')).equals(big)).toBe(true);
    expect((await fs.read('/big', BLOCK_SIZE - 10, 20)).equals(big.subarray(BLOCK_SIZE - 10, BLOCK_SIZE + 10))).toBe(true);
    // overwrite in the middle
    await fs.write('/big', BLOCK_SIZE + 5, Buffer.from('PATCH'));
    big.write('PATCH', BLOCK_SIZE + 5);
    expect((await fs.readFile('/big')).equals(big)).toBe(true);
    // sparse: write far past the end
    await fs.write('/sparse', 10 * BLOCK_SIZE, Buffer.from('end'));
    const sparse = await fs.readFile('/sparse');
    expect(sparse.length).toBe(10 * BLOCK_SIZE + 3);
    expect(sparse.subarray(0, 10 * BLOCK_SIZE).every((b) => b === 0)).toBe(true);
    expect(text(sparse.subarray(10 * BLOCK_SIZE))).toBe('end');
    // truncate down into a block, then up: the cut-off bytes read as zeros
    await fs.truncate('/big', BLOCK_SIZE + 7);
    await fs.truncate('/big', 2 * BLOCK_SIZE);
    const t = await fs.readFile('/big');
    expect(t.length).toBe(2 * BLOCK_SIZE);
    expect(t.subarray(0, BLOCK_SIZE + 7).equals(big.subarray(0, BLOCK_SIZE + 7))).toBe(true);
    expect(t.subarray(BLOCK_SIZE + 7).every((b) => b === 0)).toBe(true);
    // read past EOF
    expect((await fs.read('/big', 5 * BLOCK_SIZE, 10)).length).toBe(0);
    // readShared (what GET streams) yields the same bytes as a read, for any range: holes, blocks
    // stored shorter than the extent (the truncate above), ranges inside one block and across many
    await fs.write('/sparse', 2 * BLOCK_SIZE + 17, Buffer.from('mid'));
    const view = await fs.view();
    for (const file of ['/big', '/sparse']) {
      const st = await fs.stat(file);
      const inode = await view.mustInode(st.ino);
      const whole = await fs.readFile(file);
      for (const [a, b] of [[0, st.size], [0, 1], [BLOCK_SIZE - 3, BLOCK_SIZE + 3], [BLOCK_SIZE + 5, 2 * BLOCK_SIZE], [7, st.size + 100], [st.size, st.size + 1], [2 * BLOCK_SIZE + 10, 2 * BLOCK_SIZE + 30]] as const) {
        const parts: Buffer[] = [];
        for await (const p of view.readShared(st.ino, inode, a, b)) parts.push(Buffer.from(p));
        expect(Buffer.concat(parts).equals(whole.subarray(a, b)), `${file} [${a}, ${b})`).toBe(true);
      }
    }
  });

  it('fallocate: punched and zeroed ranges read as zeros, whole blocks become holes, the past keeps the bytes', async () => {
    const fs = await makeFs();
    const data = randomBytes(3 * BLOCK_SIZE + 500);
    const before = await fs.writeFile('/f', data);
    const ino = (await fs.stat('/f')).ino;
    const falloc = (offset: number, length: number, mode: Parameters<FsTx['fallocate']>[3]) =>
      fs.transaction('fallocate', (tx) => tx.fallocate(ino, offset, length, mode));
    // from inside block 0 to inside block 2: block 1 goes whole
    await falloc(10, 2 * BLOCK_SIZE, { keepSize: true, punchHole: true });
    const want = Buffer.from(data);
    want.fill(0, 10, 10 + 2 * BLOCK_SIZE);
    expect((await fs.readFile('/f')).equals(want)).toBe(true);
    const blocks = await fs.transaction('list blocks', async (tx) => (await tx.batch.list(blockPrefix(ino))).map((e) => e.key[2]));
    expect(blocks.value).toEqual([0, 2, 3]);
    // zero range past the end grows the file; a punch past the end changes nothing
    await falloc(3 * BLOCK_SIZE, 1000, { zeroRange: true });
    want.fill(0, 3 * BLOCK_SIZE);
    const grown = Buffer.concat([want.subarray(0, 3 * BLOCK_SIZE), Buffer.alloc(1000)]);
    expect((await fs.readFile('/f')).equals(grown)).toBe(true);
    // past the end: nothing to zero, nothing to commit
    expect((await falloc(5 * BLOCK_SIZE, 10, { keepSize: true, punchHole: true })).version).toBeNull();
    await falloc(0, 8 * BLOCK_SIZE, {});
    expect((await fs.stat('/f')).size).toBe(8 * BLOCK_SIZE);
    expect((await fs.readFile(`/f@${before}`)).equals(data)).toBe(true);
    expect(await errno(falloc(0, 10, { punchHole: true }))).toBe('ENOTSUP');
    expect(await errno(falloc(0, 0, {}))).toBe('EINVAL');
    expect(await errno(fs.transaction('fallocate', async (tx) => tx.fallocate((await fs.stat('/')).ino, 0, 1, {})))).toBe('EISDIR');
  });

  it('copyRange: shares whole blocks, copies the rest, reads the source at its version, stops at its end', async () => {
    const fs = await makeFs();
    const data = randomBytes(3 * BLOCK_SIZE + 777);
    data.fill(0, BLOCK_SIZE, 2 * BLOCK_SIZE); // a hole in the middle
    const v1 = (await fs.writeFile('/src', data))!;
    await fs.writeFile('/dst', Buffer.alloc(0));
    await fs.writeFile('/src', Buffer.from('changed'));
    const ino = async (p: string) => (await fs.stat(p)).ino;
    const [src, dst] = [await ino('/src'), await ino('/dst')];
    const copy = async (version: typeof v1 | null, from: number, to: number, length: number) =>
      (await fs.transaction('copy', async (tx) => tx.copyRange({ view: version ? await fs.view(version) : tx, ino: src }, from, dst, to, length))).value;
    const chunks = await countChunks(fs);
    // aligned, from the past: whole blocks shared (no chunk added), the tail copied
    expect(await copy(v1, 0, 0, 10 * BLOCK_SIZE)).toBe(data.length);
    expect((await fs.readFile('/dst')).equals(data)).toBe(true);
    expect(await countChunks(fs)).toBe(chunks);
    // unaligned: bytes, into the middle of what is there
    expect(await copy(v1, 5, BLOCK_SIZE - 3, 10)).toBe(10);
    const want = Buffer.from(data);
    data.copy(want, BLOCK_SIZE - 3, 5, 15);
    expect((await fs.readFile('/dst')).equals(want)).toBe(true);
    // the present source, past its end: only what it has, then nothing
    expect(await copy(null, 3, 0, 100)).toBe(4);
    expect((await fs.read('/dst', 0, 4)).toString()).toBe('nged');
    expect(await copy(null, 7, 0, 100)).toBe(0);
    expect(await errno(fs.transaction('copy', async (tx) => tx.copyRange({ view: tx, ino: src }, 0, (await fs.stat('/')).ino, 0, 1)))).toBe('EISDIR');
  });

  it('stores small files inline and big blocks as shared chunks; a 1-byte edit adds one chunk', async () => {
    const fs = await makeFs();
    await fs.writeFile('/small', Buffer.alloc(INLINE_MAX, 1));
    // files up to 64 KiB commit without a chunk file (and its fsync): most of a source tree
    await fs.writeFile('/sixty-k', randomBytes(60 * 1024));
    const chunksBefore = await countChunks(fs);
    expect(chunksBefore).toBe(0);
    const data = randomBytes(8 * BLOCK_SIZE);
    data[3 * BLOCK_SIZE + 100] = 0x11;
    await fs.writeFile('/file', data);
    expect(await countChunks(fs)).toBe(8);
    await fs.write('/file', 3 * BLOCK_SIZE + 100, Buffer.from([0xee]));
    expect(await countChunks(fs)).toBe(9);
    await fs.copy('/file', '/copy');
    expect(await countChunks(fs)).toBe(9); // the copy shares every chunk
    expect((await fs.readFile('/copy'))[3 * BLOCK_SIZE + 100]).toBe(0xee);
  });
});

describe('content: big writes', () => {
  it('stores the chunks of a big write together; when one fails the write fails and the file keeps its content', async () => {
    const fs = await makeFs();
    const before = randomBytes(12 * BLOCK_SIZE);
    await fs.writeFile('/big', before);
    const blobs = fs.store.blobs;
    const put = blobs.put.bind(blobs);
    let calls = 0;
    let inFlight = 0;
    let most = 0;
    blobs.put = async (hash: string, data: Buffer): Promise<void> => {
      const call = ++calls;
      most = Math.max(most, ++inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        if (call === 5) throw new Error('injected: no space left on device');
        await put(hash, data);
      } finally {
        inFlight--;
      }
    };
    await expect(fs.writeFile('/big', randomBytes(12 * BLOCK_SIZE))).rejects.toThrow(/injected/);
    expect((await fs.readFile('/big')).equals(before)).toBe(true);
    // one chunk's hash is computed while others are written out, a few at a time
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(8);
    const after = randomBytes(12 * BLOCK_SIZE + 7);
    await fs.writeFile('/big', after);
    expect((await fs.readFile('/big')).equals(after)).toBe(true);
  });
});

async function countChunks(fs: AgentFs): Promise<number> {
  let n = 0;
  for await (const _ of fs.store.blobs.list()) n++;
  return n;
}

describe('links, renames, attributes', () => {
  it('hard links share content and count links; symlinks resolve relative and absolute', async () => {
    const fs = await makeFs();
    await fs.mkdir('/a');
    await fs.writeFile('/a/f', 'data');
    await fs.link('/a/f', '/a/g');
    expect((await fs.stat('/a/f')).nlink).toBe(2);
    await fs.write('/a/g', 0, Buffer.from('DA'));
    expect(text(await fs.readFile('/a/f'))).toBe('DAta');
    await fs.rm('/a/f');
    expect((await fs.stat('/a/g')).nlink).toBe(1);
    await fs.symlink('g', '/a/rel');
    await fs.symlink('/a/g', '/abs');
    await fs.symlink('../a', '/a/up');
    expect(text(await fs.readFile('/a/rel'))).toBe('DAta');
    expect(text(await fs.readFile('/abs'))).toBe('DAta');
    expect(text(await fs.readFile('/a/up/up/g'))).toBe('DAta');
    expect(await fs.readlink('/a/rel')).toBe('g');
    expect((await fs.lstat('/abs')).type).toBe('symlink');
    expect((await fs.lstat('/abs')).size).toBe(4);
  });

  it('renames with POSIX semantics', async () => {
    const fs = await makeFs();
    await fs.mkdir('/x/y', { recursive: true });
    await fs.mkdir('/z');
    await fs.writeFile('/x/y/f', 'f');
    await fs.writeFile('/z/f2', 'f2');
    await fs.rename('/x/y', '/z/y'); // move a dir across parents
    expect((await fs.stat('/x')).nlink).toBe(2);
    expect((await fs.stat('/z')).nlink).toBe(3);
    expect(text(await fs.readFile('/z/y/f'))).toBe('f');
    await fs.rename('/z/f2', '/z/y/f'); // replace a file
    expect(text(await fs.readFile('/z/y/f'))).toBe('f2');
    expect(await fs.exists('/z/f2')).toBe(false);
    await fs.mkdir('/empty');
    await fs.rename('/z/y', '/empty'); // replace an empty dir
    expect(text(await fs.readFile('/empty/f'))).toBe('f2');
    await fs.mkdir('/full');
    await fs.writeFile('/full/k', 'k');
    expect(await errno(fs.rename('/empty', '/full'))).toBe('ENOTEMPTY');
    expect(await errno(fs.rename('/full/k', '/empty'))).toBe('EISDIR');
    expect(await errno(fs.rename('/empty', '/full/k'))).toBe('ENOTDIR');
    expect(await errno(fs.rename('/nope', '/x/n'))).toBe('ENOENT');
    await fs.link('/full/k', '/full/k2');
    await fs.rename('/full/k', '/full/k2'); // same inode: a no-op
    expect(await fs.exists('/full/k')).toBe(true);
    expect((await fs.stat('/')).nlink).toBe(2 + 4); // x, z, empty, full
  });

  it('keeps mode, owner, times and xattrs', async () => {
    const clock = new TestClock();
    const fs = await makeFs({ clock });
    await fs.writeFile('/f', 'x');
    await fs.chmod('/f', 0o4755);
    await fs.chown('/f', 1234, 5678);
    await fs.utimes('/f', 1_000_000, 2_000_000);
    const st = await fs.stat('/f');
    expect(st).toMatchObject({ mode: 0o104755, uid: 1234, gid: 5678, atimeMs: 1_000_000, mtimeMs: 2_000_000, ctimeMs: clock.now });
    await fs.setxattr('/f', 'user.tag', Buffer.from('v1'));
    expect(await errno(fs.setxattr('/f', 'user.tag', Buffer.from('v2'), { create: true }))).toBe('EEXIST');
    expect(text(await fs.getxattr('/f', 'user.tag'))).toBe('v1');
    expect(await fs.listxattr('/f')).toEqual(['user.tag']);
    // a POSIX ACL would have to change the mode; refused as on a filesystem without ACLs
    expect(await errno(fs.setxattr('/f', 'system.posix_acl_access', Buffer.alloc(28)))).toBe('ENOTSUP');
    expect(await fs.listxattr('/f')).toEqual(['user.tag']);
    await fs.removexattr('/f', 'user.tag');
    expect(await fs.listxattr('/f')).toEqual([]);
    clock.advance(5000);
    await fs.mkdir('/sgid');
    await fs.chmod('/sgid', 0o2775);
    await fs.chown('/sgid', 0, 4242);
    await fs.writeFile('/sgid/child', 'c');
    await fs.mkdir('/sgid/sub');
    expect((await fs.stat('/sgid/child')).gid).toBe(4242);
    expect((await fs.stat('/sgid/sub')).mode & 0o2000).toBe(0o2000);
  });

  it('keeps an unlinked file readable while it is open, and drops it at release', async () => {
    const fs = await makeFs();
    await fs.writeFile('/open', 'still here');
    const ino = (await fs.stat('/open')).ino;
    fs.retain(ino);
    await fs.rm('/open');
    expect(await fs.exists('/open')).toBe(false);
    const view = await fs.view();
    const inode = await view.mustInode(ino);
    expect(inode.nlink).toBe(0);
    expect(text(await view.readContent(ino, inode, 0, 100))).toBe('still here');
    await fs.release(ino);
    expect(await (await fs.view()).inode(ino)).toBeUndefined();
  });
});

describe('time travel', () => {
  it('reads any path at any version, by version or timestamp, both selector positions', async () => {
    const clock = new TestClock();
    const fs = await makeFs({ clock });
    await fs.mkdir('/artifacts');
    const v1 = (await fs.writeFile('/artifacts/doc.md', 'first draft'))!;
    const t1 = new Date(clock.now).toISOString();
    clock.advance(60_000);
    await fs.writeFile('/artifacts/doc.md', 'second draft');
    await fs.writeFile('/artifacts/other.md', 'other');
    clock.advance(60_000);
    await fs.rm('/artifacts/doc.md');
    expect(await fs.exists('/artifacts/doc.md')).toBe(false);
    expect(text(await fs.readFile(`/artifacts/doc.md@${v1}`))).toBe('first draft');
    expect(text(await fs.readFile(`/artifacts@${v1}/doc.md`))).toBe('first draft');
    expect(text(await fs.readFile(`/artifacts/doc.md@${t1}`))).toBe('first draft');
    expect(text(await fs.readFile('/artifacts/doc.md', v1))).toBe('first draft');
    const past = await fs.readdir(`/artifacts@${new Date(clock.now - 1).toISOString()}`);
    expect(past.entries.map((e) => e.name)).toEqual(['doc.md', 'other.md']); // plain names
    expect((await fs.stat(`/artifacts/doc.md@${v1.toUpperCase()}`)).size).toBe(11);
    // a selector on `.` or on nothing is the directory it stands in: the only way to name the root's past
    await fs.rm('/artifacts', { recursive: true });
    for (const root of [`/@${v1}`, `/.@${v1}`, `@${v1}`, `/artifacts/..@${v1}`]) expect((await fs.readdir(root)).entries.map((e) => e.name), root).toEqual(['artifacts']);
    expect(text(await fs.readFile(`/artifacts/@${v1}/doc.md`))).toBe('first draft');
    expect(text(await fs.readFile(`/artifacts/.@${t1}/doc.md`))).toBe('first draft');
    expect(await fs.exists('/artifacts')).toBe(false);
  });

  it('refuses every write through a versioned path with EROFS and changes nothing', async () => {
    const fs = await makeFs();
    const v = (await fs.writeFile('/f', 'x'))!;
    await fs.mkdir('/d');
    const head = await fs.head();
    const attempts: Array<() => Promise<unknown>> = [
      () => fs.writeFile(`/f@${v}`, 'y'),
      () => fs.appendFile(`/f@${v}`, 'y'),
      () => fs.write(`/f@${v}`, 0, Buffer.from('y')),
      () => fs.truncate(`/f@${v}`, 0),
      () => fs.rm(`/f@${v}`),
      () => fs.rm(`/d@${v}`, { recursive: true }),
      () => fs.mkdir(`/d@${v}/sub`),
      () => fs.writeFile(`/d@${v}/new`, 'n'),
      () => fs.rename(`/f@${v}`, '/g'),
      () => fs.rename('/f', `/g@${v}`),
      () => fs.copy('/f', `/copy@${v}`),
      () => fs.chmod(`/f@${v}`, 0o600),
      () => fs.utimes(`/f@${v}`, 0, 0),
      () => fs.setxattr(`/f@${v}`, 'user.a', Buffer.from('1')),
      () => fs.symlink('/f', `/s@${v}`),
      () => fs.link('/f', `/l@${v}`),
      () => fs.writeFile(`/x@2026-01-01T00:00:00Z`, 'reserved name'),
      () => fs.writeFile(`/@${v}/new`, 'n'),
      () => fs.mkdir(`/@${v}`),
      () => fs.rm(`/.@${v}`, { recursive: true }),
      () => fs.copy('/f', `/d/@${v}`),
    ];
    // one at a time: a rejection nobody awaits yet is an unhandled one
    for (const a of attempts) expect(await errno(a()), a.toString()).toBe('EROFS');
    expect(await fs.head()).toBe(head);
    const err = await fs.writeFile(`/f@${v}`, 'y').catch((e: Error) => e.message);
    expect(err).toMatch(/read-only: .* names a past version .* restore with copy/);
  });

  it('restores a deleted file and a deleted tree with copy, sharing content', async () => {
    const clock = new TestClock();
    const fs = await makeFs({ clock });
    await fs.mkdir('/proj/src', { recursive: true });
    await fs.writeFile('/proj/src/a.ts', 'export const a = 1;\n');
    await fs.writeFile('/proj/big.bin', Buffer.alloc(5 * BLOCK_SIZE, 9));
    await fs.symlink('src/a.ts', '/proj/link');
    // a file copied onto itself as it is now changes nothing and makes no commit; from the past, it restores
    const head = await fs.head();
    expect(await fs.copy('/proj/src/a.ts', '/proj/src/a.ts')).toEqual({ version: null, before: head, files: 0, dirs: 0, bytes: 0, restored: false });
    expect(await fs.head()).toBe(head);
    clock.advance(3 * 24 * 3600 * 1000);
    const before = await fs.versionAt('now');
    clock.advance(1000);
    await fs.rm('/proj', { recursive: true });
    expect(await fs.exists('/proj')).toBe(false);
    clock.advance(1000);
    const v = await fs.versionAt('2 seconds ago');
    expect(v).toBe(before);
    const res = await fs.copy('/proj', '/proj', { version: v });
    expect(res).toMatchObject({ files: 2, dirs: 2, bytes: 5 * BLOCK_SIZE + 20 });
    expect(text(await fs.readFile('/proj/src/a.ts'))).toBe('export const a = 1;\n');
    expect((await fs.readFile('/proj/big.bin')).equals(Buffer.alloc(5 * BLOCK_SIZE, 9))).toBe(true);
    expect(await fs.readlink('/proj/link')).toBe('src/a.ts');
    // restore over a modified file replaces it; a single file through the path selector
    await fs.writeFile('/proj/src/a.ts', 'broken');
    await fs.copy(`/proj/src/a.ts@${v}`, '/proj/src/a.ts');
    expect(text(await fs.readFile('/proj/src/a.ts'))).toBe('export const a = 1;\n');
    expect(await errno(fs.copy('/proj', '/proj'))).toBe('EEXIST');
    expect(await errno(fs.copy('/proj', '/proj/inner'))).toBe('EINVAL');
    const log = await fs.log({ limit: 1 });
    expect(log[0]!.summary).toBe(`copy /proj/src/a.ts@${v} -> /proj/src/a.ts`);
  });

  it('puts a directory back as it was when it is copied from the past onto its own path: one commit, same inode', async () => {
    const fs = await makeFs();
    await fs.mkdir('/proj/src', { recursive: true });
    await fs.mkdir('/proj/docs/old', { recursive: true });
    await fs.writeFile('/proj/src/a.ts', 'a1');
    await fs.writeFile('/proj/docs/old/n.md', 'note');
    await fs.setxattr('/proj', 'user.tag', Buffer.from('v1'));
    await fs.chmod('/proj', 0o750);
    const v = await fs.head();
    const was = await fs.stat('/proj', { version: v });
    // the agent "cleans up": edits, deletes, adds, changes the directory itself
    await fs.writeFile('/proj/src/a.ts', 'broken');
    await fs.rm('/proj/docs', { recursive: true });
    await fs.mkdir('/proj/tmp/deep', { recursive: true });
    await fs.mkdir('/proj/tmp2'); // one more subdirectory than then: nlink must come back to 4
    await fs.writeFile('/proj/tmp/deep/junk', 'x');
    await fs.writeFile('/proj/new.md', 'new');
    await fs.setxattr('/proj', 'user.tag', Buffer.from('v2'));
    await fs.setxattr('/proj', 'user.extra', Buffer.from('e'));
    await fs.chmod('/proj', 0o700);
    await fs.writeFile('/outside.md', 'kept');
    const before = await fs.head();
    const ino = (await fs.stat('/proj')).ino;
    const res = await fs.copy('/proj', '/proj', { version: v });
    expect(res).toMatchObject({ restored: true, files: 2, dirs: 4, bytes: 6 });
    expect((await fs.log({ limit: 2 }))[1]!.version.slice(0, 16)).toBe(before.slice(0, 16)); // one commit
    const tree = async (version?: typeof v) => {
      const out: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const e of (await fs.readdir(dir, version)).entries) {
          const p = `${dir === '/' ? '' : dir}/${e.name}`;
          const st = await fs.stat(p, { version });
          out.push(`${p} ${st.type} ${(st.mode & 0o7777).toString(8)} ${st.nlink} ${st.type === 'file' ? text(await fs.readFile(p, version)) : ''}`);
          if (st.type === 'dir') await walk(p);
        }
      };
      await walk('/proj');
      return out.sort();
    };
    expect(await tree()).toEqual(await tree(v));
    const now = await fs.stat('/proj');
    expect(now.ino).toBe(ino); // a shell cd'ed into /proj on the mount stays valid
    expect({ mode: now.mode, nlink: now.nlink, mtime: now.mtimeMs }).toEqual({ mode: was.mode, nlink: was.nlink, mtime: was.mtimeMs });
    expect(text(await fs.getxattr('/proj', 'user.tag'))).toBe('v1');
    expect(await errno(fs.getxattr('/proj', 'user.extra'))).toBe('ENODATA');
    expect(text(await fs.readFile('/outside.md'))).toBe('kept');
    // nothing is lost: the state it replaced is one version back
    expect(text(await fs.readFile('/proj/tmp/deep/junk', before))).toBe('x');
    expect(text(await fs.readFile('/proj/src/a.ts', before))).toBe('broken');
    // the root too: `cp -r /@V /`
    await fs.writeFile('/later.md', 'later');
    const all = await fs.copy('/', '/', { version: v });
    expect(all.restored).toBe(true);
    expect((await fs.readdir('/')).entries.map((e) => e.name).sort()).toEqual(['proj']);
    expect(await tree()).toEqual(await tree(v));
    // from the present onto itself it is still refused: there is nothing to put back
    expect(await errno(fs.copy('/proj', '/proj'))).toBe('EEXIST');
  });

  it('lists history of a file and a subtree, newest first, paginated', async () => {
    const fs = await makeFs();
    await fs.mkdir('/a');
    const v1 = await fs.writeFile('/a/f', '1');
    await fs.writeFile('/b', 'unrelated');
    const v2 = await fs.writeFile('/a/f', '2');
    await fs.writeFile('/a/g', 'g');
    const v3 = await fs.rename('/a', '/c');
    const h = await fs.history('/a/f');
    expect(h.entries.map((e) => e.version)).toEqual([v3, v2, v1, h.entries[3]!.version]);
    expect(h.entries[3]!.summary).toBe('mkdir /a');
    const page1 = await fs.history('/a', { limit: 2 });
    expect(page1.entries).toHaveLength(2);
    const page2 = await fs.history('/a', { limit: 2, before: page1.next! });
    expect(page2.entries.map((e) => e.summary)).toEqual(['write /a/f (1 bytes)', 'write /a/f (1 bytes)']);
    expect((await fs.history('/c/f')).entries.map((e) => e.version)).toEqual([v3]);
  });

  it('diffs text, binary and trees between versions', async () => {
    const fs = await makeFs();
    const v1 = (await fs.writeFile('/doc.md', 'line one\nline two\n'))!;
    const v2 = (await fs.writeFile('/doc.md', 'line one\nline 2\n'))!;
    const d = await fs.diff('/doc.md', v1, v2);
    expect(d.kind).toBe('text');
    if (d.kind === 'text') {
      expect(d.patch).toContain('-line two');
      expect(d.patch).toContain('+line 2');
      expect(d.changed).toBe(true);
    }
    const b1 = (await fs.writeFile('/bin', Buffer.from([0, 1, 2])))!;
    await fs.writeFile('/bin', Buffer.from([0, 1, 2, 3]));
    const bd = await fs.diff('/bin', b1);
    expect(bd).toMatchObject({ kind: 'binary', changed: true, from: { size: 3 }, to: { size: 4 } });
    await fs.mkdir('/t');
    await fs.writeFile('/t/keep', 'k');
    await fs.writeFile('/t/change', 'c1');
    await fs.writeFile('/t/gone', 'g');
    const t1 = await fs.head();
    await fs.writeFile('/t/change', 'c2');
    await fs.rm('/t/gone');
    await fs.mkdir('/t/new');
    await fs.writeFile('/t/new/file', 'n');
    const td = await fs.diff('/t', t1);
    expect(td).toMatchObject({ kind: 'tree', added: ['new', 'new/file'], removed: ['gone'], modified: ['change'] });
  });

  it('explains bad versions and times clearly', async () => {
    const clock = new TestClock();
    const fs = await makeFs({ clock });
    await fs.writeFile('/f', 'x');
    expect(await errno(fs.readFile('/f@00003a6ed63a7951ffff'))).toBe('ENOENT'); // before the agent existed: no root
    expect(await errno(fs.readFile('/f@7fffffffffffffffffff'))).toBe('ENOENT');
    const future = await fs.readFile('/f@7fffffffffffffffffff').catch((e: Error) => e.message);
    expect(future).toMatch(/from the future/);
    expect(await errno(fs.readFile('/a@00003a6ed63a7951ffff/b@00003a6ed63a7951ffff'))).toBe('EINVAL');
    expect(await errno(fs.versionAt('not a time at all'))).toBe('EINVAL');
    expect(await errno(fs.versionAt('10 years ago'))).toBe('ENOENT');
    expect(await errno(fs.resolveVersion('zzzz'))).toBe('EINVAL');
    // an @ suffix that is neither a version nor a timestamp is just part of the name
    expect(await errno(fs.readFile('/f@12345'))).toBe('ENOENT');
  });
});

describe('agents', () => {
  it('rejects bad agent names and unknown agents', async () => {
    const fs = await makeFs();
    expect(await errno(AgentFs.open(fs.store, '../etc'))).toBe('EINVAL');
    expect(await errno(AgentFs.open(fs.store, ''))).toBe('EINVAL');
    expect(await errno(AgentFs.open(fs.store, 'ghost'))).toBe('ENOENT');
    const other = await AgentFs.open(fs.store, 'other', { create: true });
    await other.writeFile('/secret', 's');
    expect(await fs.exists('/secret')).toBe(false);
  });
});
