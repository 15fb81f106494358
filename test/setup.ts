// Fedify 1.10 exports keys with ArrayBuffer.prototype.transfer, which Node 20 lacks.
// This polyfill exists for the tests' Fedify peer only; Wren itself never relies on it.
declare global {
  interface ArrayBuffer {
    transfer(newLength?: number): ArrayBuffer;
  }
}

if (typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer !== "function") {
  Object.defineProperty(ArrayBuffer.prototype, "transfer", {
    configurable: true,
    writable: true,
    value: function transfer(this: ArrayBuffer, newLength?: number): ArrayBuffer {
      const length = newLength ?? this.byteLength;
      const copy = new ArrayBuffer(length);
      new Uint8Array(copy).set(new Uint8Array(this, 0, Math.min(length, this.byteLength)));
      return copy;
    },
  });
}

export {};
