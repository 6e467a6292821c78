// Public surface of the FUSE library.
export * from './abi.js';
export { DefaultHandler } from './default-handler.js';
export { FuseError, fail, errno, toErrno } from './errno.js';
export type { FuseHandler, RequestContext, SetattrChanges, AttrResult, CreateResult } from './handler.js';
export * from './types.js';
export { Session, type SessionOptions, type Logger, type LogLevel } from './session.js';
export type { InitOptions } from './init.js';
export { DevFuseDevice, openFuseDevice, MAX_WRITE, type FuseDevice } from './device.js';
export { mountFuse, unmountFuse, probeMount, recoverStaleMount, listMounts, MountError, type MountOptions } from './mount.js';
export { mountFilesystem, type MountedFilesystem, type MountFilesystemOptions } from './mount-fs.js';
