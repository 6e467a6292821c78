// The overlay layer (L3): per-inode differences from the base snapshot, persisted in the registry
// database, plus the backing files of copied-up and new content. Filesystem semantics on top of
// it belong to fs/.

export { BACKING_FILE_MODE, parseBackingName } from './backing-files.js';
export { isOverlayError, OVERLAY_ERROR_CODES, OverlayError, type OverlayErrorCode } from './errors.js';
export { OverlayStore } from './overlay-store.js';
export { FAULT_POINTS, type FaultPoint, INO_RESERVE_CHUNK, type OverlayStoreOptions, RELEASE_DELAY_MS } from './store-options.js';
export {
  type ContentKind, KIND_RULES, type KindRule, NAME_MAX_BYTES, OVERLAY_KINDS, type OverlayContent, type OverlayKind,
  type OverlayRow, type OverlayState, SYMLINK_MAX_BYTES, XATTR_NAME_MAX_BYTES, XATTR_TOTAL_MAX_BYTES, XATTR_VALUE_MAX_BYTES,
} from './types.js';
