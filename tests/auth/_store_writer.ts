/**
 * A child process for the store tests: `add PATH PREFIX COUNT` adds users
 * PREFIX0.. PREFIX(COUNT-1); `churn PATH` changes the file forever,
 * printing a line after each write, until killed.
 *
 * @module
 */
import { CredentialStore } from "../../lib/auth/store.ts";
import { GOOD_PASSWORD, testHasher } from "./_helpers.ts";

const [mode, path = "", prefix = "", count = "0"] = Deno.args;
const store = await CredentialStore.open(path, {
  hasher: testHasher(),
  createIfMissing: false,
});
if (mode === "add") {
  for (let i = 0; i < Number(count); i++) {
    await store.add(`${prefix}${i}`, GOOD_PASSWORD);
  }
} else {
  const encoder = new TextEncoder();
  for (let i = 0;; i++) {
    // Alternate growing and shrinking the file.
    if (i % 2 === 0) await store.add(`churn${i}`, GOOD_PASSWORD);
    else await store.remove(`churn${i - 1}`);
    await Deno.stdout.write(encoder.encode(`wrote ${i}\n`));
  }
}
