/**
 * One assertion for both programs' `--help`: every setting of a table is
 * listed with its flag, its environment variable and its default.
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { envName, flagName, type Setting } from "../lib/util/config.ts";

/**
 * Assert `text` lists every one of `settings` as `--flag`, followed by a line
 * naming its variable and its default.
 */
export function assertHelpListsEvery(text: string, settings: readonly Setting[]): void {
  const lines = text.split("\n");
  for (const setting of settings) {
    const flag = `--${flagName(setting.key)}`;
    const at = lines.findIndex((l) => l.trimStart().split(/[ ,]/)[0] === flag);
    ok(at !== -1, `${flag} is listed`);
    const detail = lines[at + 1] ?? "";
    ok(detail.includes(envName(setting.key)), `${setting.key} names its variable`);
    const shown = setting.defaultHelp ??
      (setting.default === undefined ? "unset" : String(setting.default));
    ok(detail.includes(`default: ${shown}`), `${setting.key} shows default ${shown}: ${detail}`);
  }
}
