/**
 * `deno task user`: run the admin CLI (`scripts/user.ts`) with the least
 * privilege its arguments need. Without `--cluster` that is exactly the
 * task's grants (read `data` and `credentials.json`, write `data`, the
 * `BANTER_*` variables); with `--cluster URL[,URL...]` also network access
 * to those NATS servers only, and read access to the `--cluster-creds` and
 * `--cluster-ca` files. The terminal is inherited (password prompts) and
 * the CLI's exit status is this one's.
 *
 * Itself it runs with read access to nothing it uses and `--allow-run=deno`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import { clusterGrants, userRunFlags } from "./_user_permissions.ts";

const USER_CLI = fileURLToPath(new URL("./user.ts", import.meta.url));

/**
 * Run the admin CLI with the permissions `args` need.
 *
 * @param args The CLI's arguments, passed on unchanged.
 * @returns Its exit status; `TOOL_EXIT.usage` when `--cluster` does not parse.
 */
export async function main(args: string[]): Promise<number> {
  let cluster;
  try {
    cluster = clusterGrants(args);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    console.error(`user: ${error.message}`);
    return TOOL_EXIT.usage;
  }
  const { code } = await new Deno.Command("deno", {
    args: ["run", ...userRunFlags(cluster), USER_CLI, ...args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
