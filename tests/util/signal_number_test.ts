import { equal, throws } from "node:assert/strict";
import { signalNumber } from "../../lib/util/signal_number.ts";

Deno.test("signalNumber() numbers every signal a launcher passes on, as the shell's 128 + n needs", () => {
  equal(signalNumber("SIGHUP", "linux"), 1);
  equal(signalNumber("SIGINT", "linux"), 2);
  equal(signalNumber("SIGQUIT", "linux"), 3);
  equal(signalNumber("SIGKILL", "linux"), 9);
  equal(signalNumber("SIGUSR1", "linux"), 10);
  equal(signalNumber("SIGSEGV", "linux"), 11);
  equal(signalNumber("SIGTERM", "linux"), 15);
  equal(signalNumber("SIGUSR1", "darwin"), 30);
  equal(signalNumber("SIGCHLD", "darwin"), 20);
});

Deno.test("signalNumber() refuses a signal the system does not have", () => {
  throws(
    () => signalNumber("SIGINFO", "linux"),
    /Cannot number signal SIGINFO: it has no number on linux/,
  );
});
