/** What image processing answers, shared by the server and the image worker (neither loads the other). */
export interface ProcessedImage {
  original: { bytes: Buffer; mime: string; ext: string; width: number; height: number };
  small: { bytes: Buffer; mime: string; ext: string; width: number; height: number };
  blurhash: string;
}

/** The image is the uploader's problem (unreadable, no size...): a 422, not a server error. */
export class ImageError extends Error {}

/** A job the server sends the image worker, and its answer, over the IPC channel ("advanced": bytes as bytes). */
export interface ImageJob {
  id: number;
  input: Uint8Array;
  mime: string;
  maxPixels: number;
}

export type ImageAnswer =
  | { id: number; result: ProcessedImage }
  | { id: number; error: string; imageError: boolean };
