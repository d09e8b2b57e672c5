/**
 * {@linkcode readClientFiles}: the files the client's flags name (`--ca`,
 * `--cert`, `--key`, `--password-file`), read up front so a missing or wrong
 * file is one line that names its flag, never an OS error code or a TLS
 * failure later.
 *
 * @module
 */
import { flagName } from "../util/config.ts";
import { whyUnreadable } from "../util/why_unreadable.ts";

/** A file named by a flag cannot be used; the message names the flag and the file. */
export class ClientFileError extends Error {
  /** The setting whose file is at fault (`passwordFile`, `ca`, ...). */
  readonly key: string;
  /**
   * @param message What is wrong, naming the flag.
   * @param key The setting.
   * @param options The underlying error.
   */
  constructor(message: string, key: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientFileError";
    this.key = key;
  }
}

/** What {@linkcode readClientFiles} reads from. */
export interface ClientFileSources {
  /** Reads a file as text. @default Deno.readTextFile */
  readTextFile?: (path: string) => Promise<string>;
  /** The permission bits of a file, or undefined when unknown (Windows). @default Deno.stat */
  mode?: (path: string) => Promise<number | undefined>;
  /** Told about a file that works but should be fixed. */
  warn: (text: string) => void;
}

/** The paths to read; undefined ones are skipped. */
export interface ClientFilePaths {
  /** `--ca` (or the default CA file). */
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  passwordFile: string | undefined;
}

/** The files' contents. */
export interface ClientFiles {
  caCerts?: string[];
  cert?: string;
  key?: string;
  /** The password file's text, without its final newline. */
  password?: string;
}

/** Permission bits that let the group or others read a file. */
const READABLE_BY_OTHERS = 0o044;

const PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----";
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

async function readFor(
  key: string,
  path: string,
  read: (path: string) => Promise<string>,
): Promise<string> {
  try {
    return await read(path);
  } catch (error) {
    throw new ClientFileError(
      `Cannot read --${flagName(key)} ${path}: ${whyUnreadable(error)}`,
      key,
      { cause: error },
    );
  }
}

/**
 * Read the CA, certificate, key and password files the flags name. A CA or
 * certificate file must hold a PEM certificate and a key file a PEM private
 * key; a password file readable by group or others gets a warning and is
 * used.
 *
 * @param paths The files, by setting.
 * @param sources File access and where warnings go.
 * @returns The contents.
 * @throws {ClientFileError} Naming the flag and the file, without quoting it.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * await rejects(
 *   readClientFiles(
 *     { ca: "README.md", cert: undefined, key: undefined, passwordFile: undefined },
 *     { readTextFile: () => Promise.resolve("# Banter"), warn: () => {} },
 *   ),
 *   /--ca README.md: holds no certificate/,
 * );
 * ```
 */
export async function readClientFiles(
  paths: ClientFilePaths,
  sources: ClientFileSources,
): Promise<ClientFiles> {
  const read = sources.readTextFile ?? ((path: string) => Deno.readTextFile(path));
  const files: ClientFiles = {};
  if (paths.ca !== undefined) {
    const text = await readFor("ca", paths.ca, read);
    if (!text.includes(PEM_CERTIFICATE)) {
      throw new ClientFileError(
        `Cannot use --ca ${paths.ca}: holds no certificate (expected PEM text with ${PEM_CERTIFICATE})`,
        "ca",
      );
    }
    files.caCerts = [text];
  }
  if (paths.cert !== undefined) {
    const text = await readFor("cert", paths.cert, read);
    if (!text.includes(PEM_CERTIFICATE)) {
      throw new ClientFileError(
        `Cannot use --cert ${paths.cert}: holds no certificate (expected PEM text with ${PEM_CERTIFICATE})`,
        "cert",
      );
    }
    files.cert = text;
  }
  if (paths.key !== undefined) {
    const text = await readFor("key", paths.key, read);
    if (!PEM_PRIVATE_KEY.test(text)) {
      throw new ClientFileError(
        `Cannot use --key ${paths.key}: holds no private key (expected PEM text with -----BEGIN PRIVATE KEY-----)`,
        "key",
      );
    }
    files.key = text;
  }
  if (paths.passwordFile !== undefined) {
    const text = await readFor("passwordFile", paths.passwordFile, read);
    const mode = await (sources.mode ?? fileMode)(paths.passwordFile);
    if (mode !== undefined && (mode & READABLE_BY_OTHERS) !== 0) {
      sources.warn(
        `Warning: --password-file ${paths.passwordFile} can be read by other users (mode ${
          (mode & 0o777).toString(8).padStart(3, "0")
        }); chmod 600 it`,
      );
    }
    files.password = text.replace(/\r?\n$/, "");
  }
  return files;
}

/** A file's mode; undefined when the platform has none (or the file went away since). */
async function fileMode(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mode ?? undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
