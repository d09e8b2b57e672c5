import { equal } from "node:assert/strict";
import { exists } from "../../lib/util/exists.ts";
import { tempDir } from "../_helpers.ts";

Deno.test("exists() sees files, directories and dangling links, not missing paths", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/file`, "x");
  await Deno.symlink(`${dir.path}/nowhere`, `${dir.path}/link`);
  equal(await exists(`${dir.path}/file`), true);
  equal(await exists(dir.path), true);
  equal(await exists(`${dir.path}/link`), true);
  equal(await exists(`${dir.path}/nowhere`), false);
});
