/**
 * The primitive password functions the hasher is built on (scrypt, bcrypt,
 * SHA-256), behind one interface so tests can count and inspect the work a
 * login does.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, scrypt } from "node:crypto";
import bcrypt from "bcryptjs";
import { scryptMemoryBytes, type ScryptParams } from "./_stored_hash.ts";

/** The primitives a {@linkcode Hasher} calls; every call is real work. */
export interface Kdf {
  /**
   * Derive a scrypt key off the main thread.
   *
   * @param password The password, or the output of a legacy hash.
   * @param salt The salt.
   * @param params The cost.
   * @param keyLength Bytes of key to derive.
   */
  scrypt(
    password: string | Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    keyLength: number,
  ): Promise<Uint8Array>;
  /**
   * Compute a bcrypt hash.
   *
   * @param password The password.
   * @param setting `$2b$<cost>$<22 characters of salt>`.
   * @returns The 60-character encoded hash.
   */
  bcrypt(password: string, setting: string): Promise<string>;
  /**
   * The unsalted SHA-256 digest of the UTF-8 password (the original
   * Python version's format).
   */
  sha256(password: string): Uint8Array;
}

/** The real primitives: `node:crypto` scrypt and SHA-256, bcryptjs. */
export const nodeKdf: Kdf = Object.freeze({
  scrypt(
    password: string | Uint8Array,
    salt: Uint8Array,
    params: ScryptParams,
    keyLength: number,
  ): Promise<Uint8Array> {
    const { logN, r, p } = params;
    // OpenSSL needs 128·r·(N + p + 2) bytes; leave a little headroom.
    const maxmem = scryptMemoryBytes(params) + 128 * r * (p + 2) + 65536;
    return new Promise<Uint8Array>((resolve, reject) => {
      scrypt(
        password,
        salt,
        keyLength,
        { N: 2 ** logN, r, p, maxmem },
        (error: Error | null, key: Buffer) => error ? reject(error) : resolve(key),
      );
    });
  },
  bcrypt(password: string, setting: string): Promise<string> {
    return bcrypt.hash(password, setting);
  },
  sha256(password: string): Uint8Array {
    return createHash("sha256").update(password, "utf8").digest();
  },
});
