/**
 * Reads of native memory by absolute address. The parsers take this interface instead of calling koffi so the
 * same code walks a real GetAdaptersAddresses buffer on Windows and a recorded byte image in tests. Integers
 * are little-endian (every Windows target is). Addresses are BigInt, as koffi 3 represents pointers.
 */
export interface NativeMemory {
  u8(address: bigint): number;
  u16(address: bigint): number;
  u32(address: bigint): number;
  u64(address: bigint): bigint;
  /** A pointer stored at `address`; 0n for NULL. */
  pointer(address: bigint): bigint;
  /** A copy, so the result stays valid after the native block is freed. */
  bytes(address: bigint, length: number): Uint8Array;
  /** NUL-terminated UTF-16LE (PWCHAR). */
  wstring(address: bigint): string;
  /** NUL-terminated 8-bit string (PCHAR; Windows fills AdapterName with an ASCII GUID). */
  cstring(address: bigint): string;
}

export class MemoryRangeError extends RangeError {
  constructor(address: bigint, length: number, base: bigint, size: number) {
    super(
      `read of ${length} bytes at 0x${address.toString(16)} is outside 0x${base.toString(16)}+${size}`,
    );
    this.name = 'MemoryRangeError';
  }
}

/**
 * A Buffer seen as if it lived at `base`. Every read is bounds-checked, so a wrong offset or a corrupt pointer
 * becomes an exception instead of a read of arbitrary process memory.
 */
export class BufferMemory implements NativeMemory {
  readonly #buffer: Buffer;
  readonly #base: bigint;

  constructor(buffer: Buffer, base: bigint) {
    this.#buffer = buffer;
    this.#base = base;
  }

  get base(): bigint {
    return this.#base;
  }

  get size(): number {
    return this.#buffer.length;
  }

  #offset(address: bigint, length: number): number {
    const offset = address - this.#base;
    if (address === 0n || offset < 0n || offset + BigInt(length) > BigInt(this.#buffer.length)) {
      throw new MemoryRangeError(address, length, this.#base, this.#buffer.length);
    }
    return Number(offset);
  }

  u8(address: bigint): number {
    return this.#buffer.readUInt8(this.#offset(address, 1));
  }

  u16(address: bigint): number {
    return this.#buffer.readUInt16LE(this.#offset(address, 2));
  }

  u32(address: bigint): number {
    return this.#buffer.readUInt32LE(this.#offset(address, 4));
  }

  u64(address: bigint): bigint {
    return this.#buffer.readBigUInt64LE(this.#offset(address, 8));
  }

  pointer(address: bigint): bigint {
    return this.u64(address);
  }

  bytes(address: bigint, length: number): Uint8Array {
    const offset = this.#offset(address, length);
    // A plain Uint8Array copy, the same type koffiMemory returns.
    return new Uint8Array(this.#buffer.subarray(offset, offset + length));
  }

  wstring(address: bigint): string {
    const start = this.#offset(address, 2);
    for (let end = start; end + 1 < this.#buffer.length; end += 2) {
      if (this.#buffer[end] === 0 && this.#buffer[end + 1] === 0) return this.#buffer.toString('utf16le', start, end);
    }
    throw new MemoryRangeError(address, this.#buffer.length - start + 2, this.#base, this.#buffer.length);
  }

  cstring(address: bigint): string {
    const start = this.#offset(address, 1);
    const end = this.#buffer.indexOf(0, start);
    if (end < 0) throw new MemoryRangeError(address, this.#buffer.length - start + 1, this.#base, this.#buffer.length);
    return this.#buffer.toString('latin1', start, end);
  }
}
