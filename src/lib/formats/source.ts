// Random-access byte sources: the one interface every format reader takes, so a 2.4 GB checkpoint is never
// one buffer. The browser implements it with Blob slices (File is a Blob), Node with a file handle
// (src/node/files.ts), tests with an in-memory array. A folder is a name → source map.

export interface ByteSource {
  /** File name (no folder), for messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; rejects reads past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A set of files by relative name (a model folder, or a single dropped file). */
export interface FileSet {
  /** Where the files came from (a folder path or "dropped files"). */
  readonly label: string;
  names(): string[];
  get(name: string): ByteSource | undefined;
}

export class FormatError extends Error {
  override name = "FormatError";
}

/** The most one read may return: one typed array every engine can allocate (browsers cap ArrayBuffers
 *  near 2 GiB; Node's fs.read aborts the process on a length ≥ 2³¹). A tensor above it is refused by name
 *  (`checkTensorBytes`) before anything is read. */
export const MAX_READ_BYTES = 2 ** 31 - 1;
/** Reads are issued in pieces of at most this size (positioned file reads, Blob slices). */
export const READ_CHUNK_BYTES = 2 ** 30;

export function checkRange(src: {name: string; size: number}, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FormatError(`${src.name}: invalid read [${offset}, +${length})`);
  }
  if (offset + length > src.size)
    throw new FormatError(
      `${src.name}: read [${offset}, ${offset + length}) runs past the end of the ${src.size}-byte file (truncated file?)`,
    );
  if (length > MAX_READ_BYTES)
    throw new FormatError(
      `${src.name}: one read of ${length} bytes at ${offset} is larger than a single buffer may be (${MAX_READ_BYTES} bytes)`,
    );
}

/** Refuses a tensor whose bytes cannot be one typed array, naming it. */
export function checkTensorBytes(file: string, tensor: string, bytes: number): void {
  if (bytes > MAX_READ_BYTES)
    throw new FormatError(
      `${file}: tensor "${tensor}" is ${bytes} bytes, more than one buffer can hold (${MAX_READ_BYTES} bytes): a model this large cannot be loaded here`,
    );
}

export function memorySource(bytes: Uint8Array, name = "memory"): ByteSource {
  return {
    name,
    size: bytes.length,
    async read(offset, length) {
      checkRange(this, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A Blob (or File) as a source: each read is one slice, so nothing larger than a tensor is ever held. */
export function blobSource(
  blob: Blob,
  name = (blob as {name?: string}).name ?? "blob",
  chunk = READ_CHUNK_BYTES,
): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(this, offset, length);
      if (length <= chunk) return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      // Large reads in ≤ 1 GiB slices: one huge slice's arrayBuffer() fails or doubles the peak memory.
      const out = new Uint8Array(length);
      for (let done = 0; done < length; done += chunk) {
        const n = Math.min(chunk, length - done);
        const part = new Uint8Array(await blob.slice(offset + done, offset + done + n).arrayBuffer());
        if (part.length !== n) throw new FormatError(`${name}: the file changed while reading (at ${offset + done})`);
        out.set(part, done);
      }
      return out;
    },
  };
}

export function mapFileSet(label: string, files: Map<string, ByteSource>): FileSet {
  return {label, names: () => [...files.keys()], get: (n) => files.get(n)};
}

export async function readText(src: ByteSource, maxBytes = 200_000_000): Promise<string> {
  if (src.size > maxBytes)
    throw new FormatError(`${src.name}: ${src.size} bytes is too large for a JSON/text file (limit ${maxBytes})`);
  try {
    return new TextDecoder("utf-8", {fatal: true}).decode(await src.read(0, src.size));
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${src.name}: not valid UTF-8`);
  }
}

export async function readJSONFile(src: ByteSource): Promise<unknown> {
  const text = await readText(src);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${src.name}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Sequential little-endian reader over a source, fetching windows on demand (GGUF headers hold whole
 *  vocabularies: megabytes, read in 1 MiB windows). Every length is checked against the file size before
 *  anything is allocated. */
export class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  pos: number;
  constructor(
    private readonly src: ByteSource,
    start = 0,
    private readonly window = 1 << 20,
  ) {
    this.pos = start;
  }
  get remaining(): number {
    return this.src.size - this.pos;
  }
  private async ensure(n: number): Promise<DataView> {
    checkRange(this.src, this.pos, n);
    const off = this.pos - this.bufStart;
    if (off < 0 || off + n > this.buf.length) {
      const len = Math.min(this.src.size - this.pos, Math.max(n, this.window));
      this.buf = await this.src.read(this.pos, len);
      this.bufStart = this.pos;
    }
    return new DataView(this.buf.buffer, this.buf.byteOffset + (this.pos - this.bufStart), n);
  }
  async bytes(n: number): Promise<Uint8Array> {
    const dv = await this.ensure(n);
    this.pos += n;
    return new Uint8Array(dv.buffer, dv.byteOffset, n).slice();
  }
  async u8(): Promise<number> {
    const v = (await this.ensure(1)).getUint8(0);
    this.pos += 1;
    return v;
  }
  async i8(): Promise<number> {
    const v = (await this.ensure(1)).getInt8(0);
    this.pos += 1;
    return v;
  }
  async u16(): Promise<number> {
    const v = (await this.ensure(2)).getUint16(0, true);
    this.pos += 2;
    return v;
  }
  async i16(): Promise<number> {
    const v = (await this.ensure(2)).getInt16(0, true);
    this.pos += 2;
    return v;
  }
  async u32(): Promise<number> {
    const v = (await this.ensure(4)).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  async i32(): Promise<number> {
    const v = (await this.ensure(4)).getInt32(0, true);
    this.pos += 4;
    return v;
  }
  async f32(): Promise<number> {
    const v = (await this.ensure(4)).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  async f64(): Promise<number> {
    const v = (await this.ensure(8)).getFloat64(0, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit in 2^53 (counts, offsets, lengths). */
  async u64(what: string): Promise<number> {
    const dv = await this.ensure(8);
    const lo = dv.getUint32(0, true);
    const hi = dv.getUint32(4, true);
    this.pos += 8;
    if (hi >= 2 ** 21) throw new FormatError(`${this.src.name}: ${what} ${hi}·2^32+${lo} is absurd (corrupt header?)`);
    return hi * 2 ** 32 + lo;
  }
  async i64(what: string): Promise<number> {
    const dv = await this.ensure(8);
    const v = dv.getBigInt64(0, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new FormatError(`${this.src.name}: ${what} ${v} does not fit a safe integer`);
    return Number(v);
  }
}
