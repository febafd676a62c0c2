// The sync WebAssembly build of wa-sqlite (an Emscripten module factory). Only what sqlvfs/ uses.
declare module 'wa-sqlite/dist/wa-sqlite.mjs' {
  export interface WaSqliteModule {
    HEAPU8: Uint8Array;
    _malloc(n: number): number;
    _free(p: number): void;
    getValue(ptr: number, type: string): number;
    setValue(ptr: number, value: number, type: string): void;
    getTempRet0(): number;
    lengthBytesUTF8(s: string): number;
    stringToUTF8(s: string, ptr: number, max: number): void;
    UTF8ToString(ptr: number, maxBytes?: number): string;
    cwrap(name: string, ret: string | null, args: string[]): (...args: Array<number | string>) => number;
    ccall(name: string, ret: string | null, args: string[], values: Array<number | string>): number;
    registerVFS(vfs: object, makeDefault: boolean): number;
  }
  const factory: (options: { wasmBinary?: Uint8Array }) => Promise<WaSqliteModule>;
  export default factory;
}
