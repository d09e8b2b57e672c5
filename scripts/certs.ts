/**
 * `deno task certs`: write a CA, a server certificate and client
 * certificates into `certs/` (or `--dir`).
 *
 * Usage: deno task certs [--dir DIR] [--host NAME]... [--client NAME]...
 *        [--force] [--add-clients] [--if-missing]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  CERT_FILES,
  ensureDevCertificates,
  issueClientCertificates,
  KeyExistsError,
  writeCertificates,
} from "../lib/net/cert_files.ts";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import { missingPermission, shellLine } from "../lib/util/permission_advice.ts";

const USAGE = `Usage: deno task certs [options]

Writes ca.crt, ca.key, server_cert.pem, server_key.pem and, for each --client,
client_cert.pem/client_key.pem (the first) or client_NAME_cert.pem/_key.pem.

  --dir DIR        target directory (default: certs)
  --host NAME      extra server name or IP in the SAN, repeatable
                   (localhost, 127.0.0.1 and ::1 are always included)
  --client NAME    issue a client certificate with CN=NAME, repeatable
  --add-clients    only issue client certificates from the existing CA
  --if-missing     only when there is no server certificate and key yet
                   (what deno task server runs first)
  --force          replace existing keys`;

/**
 * Run the certificate tool.
 *
 * @param args Command-line arguments.
 * @returns Exit status.
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        dir: { type: "string", default: "certs" },
        host: { type: "string", multiple: true, default: [] },
        client: { type: "string", multiple: true, default: [] },
        "add-clients": { type: "boolean", default: false },
        "if-missing": { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`certs: ${error instanceof Error ? error.message : error}`);
    console.error(USAGE);
    return TOOL_EXIT.usage;
  }
  if (values.help) {
    console.log(USAGE);
    return TOOL_EXIT.ok;
  }
  try {
    if (values["if-missing"]) {
      if (await ensureDevCertificates(values.dir)) {
        console.log(
          `Created a dev CA and server certificate in ${values.dir}/ (clients trust ${
            join(values.dir, CERT_FILES.caCert)
          })`,
        );
      }
      return TOOL_EXIT.ok;
    }
    const written = values["add-clients"]
      ? await issueClientCertificates(values.dir, values.client, values.force)
      : await writeCertificates(values.dir, {
        hosts: values.host,
        clients: values.client,
        force: values.force,
      });
    for (const path of written) console.log(`wrote ${path}`);
    return TOOL_EXIT.ok;
  } catch (error) {
    if (error instanceof KeyExistsError) {
      console.error(`certs: ${error.message}`);
      return TOOL_EXIT.failure;
    }
    if (error instanceof TypeError || error instanceof SyntaxError) {
      console.error(`certs: ${error.message}`);
      return TOOL_EXIT.failure;
    }
    const missing = missingPermission(error);
    if (missing !== undefined) {
      console.error(
        `certs: Cannot ${missing.kind} ${missing.target}: this process may only use what its --allow-read and --allow-write name (deno task certs: certs/); run instead: deno run ${
          shellLine([
            `--allow-read=${values.dir}`,
            `--allow-write=${values.dir}`,
            "scripts/certs.ts",
            ...args,
          ])
        }`,
      );
      return TOOL_EXIT.failure;
    }
    if (error instanceof Deno.errors.NotFound) {
      console.error(
        `certs: no CA in ${values.dir} (run without --add-clients first)`,
      );
      return TOOL_EXIT.failure;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
