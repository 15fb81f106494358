import { mkdirSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MediaStorage } from "./types.js";

/** Files in one folder (media.path), served by Wren at /media/NAME. */
export class LocalStorage implements MediaStorage {
  readonly kind = "local";

  constructor(readonly folder: string) {}

  path(name: string): string {
    return join(this.folder, name);
  }

  async put(name: string, bytes: Uint8Array): Promise<void> {
    mkdirSync(this.folder, { recursive: true });
    // Written under a temporary name and renamed, so a crash never leaves half a file under the real name.
    const temporary = this.path(`.${name}.partial`);
    await writeFile(temporary, bytes);
    await rename(temporary, this.path(name));
  }

  async get(name: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(name)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async stat(name: string): Promise<{ size: number; etag: null } | null> {
    try {
      return { size: (await stat(this.path(name))).size, etag: null };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    await rm(this.path(name), { force: true });
  }

  publicUrl(): null {
    return null;
  }
}
