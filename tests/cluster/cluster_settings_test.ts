import { deepEqual, equal, throws } from "node:assert/strict";
import { parseClusterUrls } from "../../lib/cluster/cluster_urls.ts";
import { serverPermissions } from "../../lib/server/permissions.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { ConfigError } from "../../lib/util/config.ts";

Deno.test("parseClusterUrls() takes several NATS URLs, adds the default port, drops repeats", () => {
  deepEqual(parseClusterUrls("nats://10.0.0.1:4333, nats://nats2,nats://10.0.0.1:4333"), [
    { url: "nats://10.0.0.1:4333", hostPort: "10.0.0.1:4333" },
    { url: "nats://nats2:4222", hostPort: "nats2:4222" },
  ]);
  deepEqual(parseClusterUrls("tls://[::1]:7422"), [
    { url: "tls://[::1]:7422", hostPort: "[::1]:7422" },
  ]);
});

Deno.test("parseClusterUrls() refuses what is not a NATS server address", () => {
  for (
    const [text, why] of [
      ["", /it is empty/],
      [" , ", /it is empty/],
      ["10.0.0.1:4222", /it is not a URL/],
      ["http://10.0.0.1:4222", /it is not nats:\/\/HOST:PORT/],
      ["nats://user:secret@10.0.0.1:4222", /no user or password/],
      ["nats://10.0.0.1:4222/path", /without a path/],
      ["not a url", /not a URL/],
      ["user:secret@10.0.0.1:4222", /not nats:\/\/HOST:PORT/],
    ] as const
  ) {
    throws(() => parseClusterUrls(text), (error: Error) => {
      equal(error.name, "SyntaxError");
      equal(why.test(error.message), true, error.message);
      equal(error.message.includes("secret"), false, "no password is echoed");
      return true;
    });
  }
});

Deno.test("--cluster is checked when the settings are read; its creds and CA need it", () => {
  throws(
    () => parseServerConfig(["--cluster=http://nats:4222"]),
    (error: ConfigError) => error instanceof ConfigError && error.key === "cluster",
  );
  throws(
    () => parseServerConfig(["--cluster-creds=/etc/banter/nats.creds"]),
    /clusterCreds needs cluster/,
  );
  throws(
    () => parseServerConfig(["--cluster-ca=/etc/banter/nats-ca.pem"]),
    /clusterCa needs cluster/,
  );
  const { config } = parseServerConfig(["--cluster", "nats://n1:4222,nats://n2:4222"]);
  equal(config.cluster, "nats://n1:4222,nats://n2:4222");
});

Deno.test("serverPermissions() lets a cluster instance reach its NATS servers and read their creds and CA", () => {
  const { config } = parseServerConfig([
    "--cluster=nats://10.0.0.1:4222,nats://nats2",
    "--cluster-creds=/etc/banter/nats.creds",
    "--cluster-ca=/etc/banter/nats-ca.pem",
  ]);
  const flags = serverPermissions(config, { cwd: "/opt/banter" });
  const net = flags.find((flag) => flag.startsWith("--allow-net="))!.split("=")[1]!.split(",");
  const read = flags.find((flag) => flag.startsWith("--allow-read="))!.split("=")[1]!.split(",");
  deepEqual(net.slice(-2), ["10.0.0.1:4222", "nats2:4222"]);
  deepEqual(read.slice(-2), ["/etc/banter/nats.creds", "/etc/banter/nats-ca.pem"]);
});
