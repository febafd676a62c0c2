import type { IPropertyManager, PropertyAttributes, PropertyBag, ResourcePropertyValue } from './lib.js';
import { dav } from './lib.js';

const { Errors } = dav;
import type { AgentFs } from '../fs/agentfs.js';
import { toDavError } from './errors.js';

/** Dead properties live in the filesystem as xattrs `dav:<name>`, so they have versions too. */
const PREFIX = 'dav:';

type Cb<T> = (err?: Error, value?: T) => void;

export class XattrPropertyManager implements IPropertyManager {
  constructor(
    private readonly fs: AgentFs,
    private readonly path: string,
  ) {}

  setProperty(name: string, value: ResourcePropertyValue, attributes: PropertyAttributes, callback: (e?: Error) => void): void {
    this.fs
      .setxattr(this.path, PREFIX + name, Buffer.from(JSON.stringify({ v: value, a: attributes ?? {} })))
      .then(() => callback(), (e: unknown) => callback(toDavError(e)));
  }

  getProperty(name: string, callback: (e?: Error, value?: ResourcePropertyValue, attributes?: PropertyAttributes) => void): void {
    this.fs.getxattr(this.path, PREFIX + name).then(
      (raw) => {
        const { v, a } = JSON.parse(raw.toString()) as { v: ResourcePropertyValue; a: PropertyAttributes };
        callback(undefined, v, a);
      },
      (e: unknown) => callback((e as { code?: string }).code === 'ENODATA' ? Errors.PropertyNotFound : toDavError(e)),
    );
  }

  removeProperty(name: string, callback: (e?: Error) => void): void {
    this.fs.removexattr(this.path, PREFIX + name).then(
      () => callback(),
      (e: unknown) => callback((e as { code?: string }).code === 'ENODATA' ? undefined : toDavError(e)),
    );
  }

  getProperties(callback: Cb<PropertyBag>): void {
    (async () => {
      const bag: PropertyBag = {};
      for (const name of await this.fs.listxattr(this.path)) {
        if (!name.startsWith(PREFIX)) continue;
        const { v, a } = JSON.parse((await this.fs.getxattr(this.path, name)).toString()) as { v: ResourcePropertyValue; a: PropertyAttributes };
        bag[name.slice(PREFIX.length)] = { value: v, attributes: a };
      }
      return bag;
    })().then((bag) => callback(undefined, bag), (e: unknown) => callback(toDavError(e)));
  }
}
