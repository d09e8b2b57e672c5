/**
 * A copy of the checkout for tests that run the real tasks (`deno task
 * server`, `deno task compile`) without touching the repository's own
 * certs/, data/ or dist/.
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));

/**
 * Copy the checkout's files (tracked and new, not ignored; never certs/ or
 * data/) into `to`.
 *
 * @param to An empty directory.
 */
export async function copyCheckout(to: string): Promise<void> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: REPO,
    stdout: "piped",
  }).output();
  ok(listed.success);
  for (const name of new TextDecoder().decode(listed.stdout).split("\0")) {
    if (name === "" || name.startsWith("certs/") || name.startsWith("data/")) continue;
    const from = join(REPO, name);
    if (!(await Deno.lstat(from).catch(() => undefined))?.isFile) continue; // deleted, not committed
    await Deno.mkdir(join(to, dirname(name)), { recursive: true });
    await Deno.copyFile(from, join(to, name));
  }
}
