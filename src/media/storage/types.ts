/** What Wren needs from the place media files live: the local folder or an S3-compatible bucket. */
export interface MediaStorage {
  readonly kind: "local" | "s3";
  put(name: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** The whole file, or null when there is none. */
  get(name: string): Promise<Uint8Array | null>;
  /** Size and, for S3, the ETag (the MD5 of a file uploaded in one PUT); null when there is none. */
  stat(name: string): Promise<{ size: number; etag: string | null } | null>;
  /** Removes the file; one that is already gone is not an error. */
  delete(name: string): Promise<void>;
  /** Where clients fetch the file when not from Wren's /media/NAME; null: from Wren. */
  publicUrl(name: string): string | null;
}

export class StorageError extends Error {}
