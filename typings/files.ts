import { NotificationType, RequestType } from 'vscode-jsonrpc';

/** One entry of a listing. Paths are host paths in the host's own syntax. */
export interface HostFileEntry {
  Name: string;
  /** The host path of the entry, as the caller would pass it to `file/read`. */
  FullName: string;
  Type: 'File' | 'Directory';
  /** Bytes; 0 for directories. */
  Length: number;
  /** ISO 8601. */
  LastWriteTime: string;
  /** The policy root the entry is under. */
  Root: string;
}

export interface FileListParams {
  /** An absolute host path inside one of the profile's roots (the root itself lists its top level). */
  path: string;
  /** Descend into subdirectories. */
  recurse?: boolean;
}

export interface FileListResult {
  entries: HostFileEntry[];
}

export namespace FileListRequest {
  export const method = 'file/list' as const;
  export const type = new RequestType<FileListParams, FileListResult, void>(method);
}

/** How `tail`/`head` count lines: by `\n` in UTF-8 (and ASCII) or in UTF-16LE. */
export type LineEncoding = 'utf8' | 'utf16le';

export interface FileReadParams {
  /** An absolute host path of a file inside one of the profile's roots. */
  path: string;
  /** Names the `file/data` notifications of this read, so one connection can run several. */
  token: string;
  /** Start here (bytes). Not with `tail`. */
  offset?: number;
  /** Read at most this many bytes. */
  length?: number;
  /** Only the last N lines. */
  tail?: number;
  /** Only the first N lines. */
  head?: number;
  lineEncoding?: LineEncoding;
}

export interface FileReadResult {
  path: string;
  /** The file's size when it was opened; a read never goes past it, so a growing file reads consistently. */
  size: number;
  /** Where the bytes sent start. */
  offset: number;
  bytesRead: number;
  sha256: string;
}

/** A chunk of a read, in order, before the read's response. */
export interface FileDataParams {
  token: string;
  offset: number;
  /** Base64 of the bytes. */
  data: string;
}

export namespace FileReadRequest {
  export const method = 'file/read' as const;
  export const type = new RequestType<FileReadParams, FileReadResult, void>(method);
}

export namespace FileDataNotification {
  export const method = 'file/data' as const;
  export const type = new NotificationType<FileDataParams>(method);
}
