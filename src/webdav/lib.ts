/**
 * webdav-server is CommonJS; importing its default export and destructuring is the form Node's ESM
 * loader always supports. Everything of the library that timefs uses passes through here.
 */
import davPkg from 'webdav-server/lib/index.v2.js';

export const dav = davPkg as unknown as typeof import('webdav-server/lib/index.v2.js');
export type * from 'webdav-server/lib/index.v2.js';
