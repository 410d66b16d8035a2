// A real Kubernetes control plane for tests, as K3s runs one: kine on SQLite as the datastore,
// kube-apiserver with Node and RBAC authorization, and (on request) kube-controller-manager and
// kube-scheduler, all at the pinned versions (`npm run tools`), with certificates made by openssl in
// a temporary directory. Nothing is installed, nothing outside that directory is written.
//
// API (stable: test/k8s and the kubelet tests of issue 20 use it):
//
//   const cp = await startControlPlane({ name: "my-test" });                    // loopback, free port
//   const cp = await startControlPlane({ netns: "numa-k3s-e2e", address: "10.77.0.1", port: 6443 });
//   cp.server                      https://ADDRESS:PORT
//   cp.kubeconfig                  admin kubeconfig (system:masters), certificates embedded
//   cp.serverCa / cp.clientCa      PEM paths: the CA that signed the API server's (and kubelets')
//                                  serving certificates / the CA every client certificate is signed by
//   cp.kubectl(["get", "ns"])      the pinned kubectl as admin, inside the namespace when there is one
//   cp.clientCredentials(user, groups)  a client certificate + a kubeconfig for it
//   cp.nodeCredentials(name, addresses) a kubelet's credentials: client `system:node:<name>` in
//                                  `system:nodes` (the Node authorizer and NodeRestriction apply to
//                                  it) and a serving certificate for `addresses`, both by the CAs
//   cp.logs()                      the last lines each process printed, for a failure message
//   cp.pids()                      the daemons still running
//   await cp.stop()                stops every process it started (TERM, then KILL), removes the
//                                  directory; idempotent. Also run on process exit.
//
// startControlPlane returns once /readyz answers ok (and, with `controllers`, once the controllers
// have created the `default` ServiceAccount): it polls for that state; the deadline (5 min by
// default) only guards against a hang. A process that exits early fails it at once, with its log.
//
// Where it listens (the only places allowed): a loopback address of this machine, or an address of
// a network namespace the project made (`netns`; the e2e test's `numa-k3s-e2e` has 10.77.0.1 on its
// bridge: .ci/libvirtd.sh netns-start). With `netns`, the API server, the controllers and kubectl
// run inside it (`nsenter --net`, which, unlike `ip netns exec`, leaves /sys alone); kine listens on
// a unix socket in the directory, so it needs no address at all.
//
// The flags are K3s's own (github.com/k3s-io/k3s pkg/daemons/control/server.go, apiServer,
// controllerManager and scheduler, as the code index holds it for the v1.3x releases; not read at
// the v1.36.3+k3s1 tag, whose commit does not touch that file: see test/fixtures/k3s/k3s-flags.json)
// with K3s's defaults (service CIDR 10.43.0.0/16, cluster CIDR 10.42.0.0/16, NodePorts
// 30000-32767, domain cluster.local), except:
// - no egress selector: it routes to K3s's own agent tunnel, which is not here;
// - the controllers and the scheduler serve no HTTPS (`--secure-port=0`): their health ports
//   (10257, 10259) would collide between tests run side by side, and nothing here scrapes them;
// - one pair of kubeconfigs per component, no supervisor (K3s's port 6443 proxy in front of 6444):
//   the API server is reached directly.
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toolPath } from "../real-tools";

/** The binaries a control plane runs (for requireRealTools). */
export const CONTROL_PLANE_TOOLS = ["kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"];

/** K3s's defaults, which kubelets of the cluster must agree with (clusterDNS is in SERVICE_CIDR). */
export const SERVICE_CIDR = "10.43.0.0/16";
export const CLUSTER_CIDR = "10.42.0.0/16";
export const CLUSTER_DOMAIN = "cluster.local";
export const CLUSTER_DNS = "10.43.0.10";
// The first address of SERVICE_CIDR: the `kubernetes` Service, named in the serving certificate.
const KUBERNETES_SERVICE_IP = "10.43.0.1";
// K3s's deps.RequestHeaderCN: the one name the API server accepts proxied user headers from.
const REQUEST_HEADER_CN = "system:auth-proxy";

export interface ControlPlaneOptions {
  /** A word for the temporary directory and the log lines. Default `control-plane`. */
  name?: string;
  /** The network namespace (/run/netns/<netns>) to run in; it must exist and hold `address`. */
  netns?: string;
  /** The address the API server binds and its certificate names. Default 127.0.0.1; without
   * `netns` only a loopback address is accepted (nothing here listens on a real network). */
  address?: string;
  /** Default: 6443 in a namespace, a free port on the loopback otherwise. */
  port?: number;
  /** Also run kube-controller-manager (namespaces are finalized, PVs bind, tokens are made). */
  controllers?: boolean;
  /** Also run kube-scheduler. */
  scheduler?: boolean;
  /** Guard against a hang while waiting for readiness (ms). Default 5 minutes. */
  readyDeadlineMs?: number;
}

export interface ClientCredentials {
  cert: string;
  key: string;
  /** A kubeconfig for `server` with this certificate, everything embedded. */
  kubeconfig: string;
}

export interface NodeCredentials extends ClientCredentials {
  /** A serving certificate for the kubelet (signed by serverCa), for `addresses` and the node name. */
  servingCert: string;
  servingKey: string;
}

export interface ControlPlane {
  /** The temporary directory: certificates, kubeconfigs, the datastore, logs. */
  dir: string;
  /** `https://ADDRESS:PORT`. */
  server: string;
  address: string;
  port: number;
  netns?: string;
  /** Admin kubeconfig (user system:admin in system:masters). */
  kubeconfig: string;
  /** The CA of the API server's serving certificate (what a client trusts). */
  serverCa: string;
  /** The CA of every client certificate (what a kubelet's clientCAFile is). */
  clientCa: string;
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string; timeoutMs?: number }): SpawnSyncReturns<string>;
  clientCredentials(user: string, groups: string[]): ClientCredentials;
  nodeCredentials(nodeName: string, addresses: string[]): NodeCredentials;
  logs(lines?: number): string;
  /** The process ids of the daemons still running (kine, kube-apiserver, and the others asked for). */
  pids(): number[];
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Certificates: openssl, EC P-256 keys (fast to make on a loaded machine; Kubernetes takes them
// for every role, ES256 for service-account tokens).

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.error?.message ?? r.stderr}`);
}

function newKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], dir);
  return key;
}

function newCa(dir: string, name: string, cn: string): { cert: string; key: string } {
  const key = newKey(dir, name);
  const cert = join(dir, `${name}.crt`);
  openssl(["req", "-x509", "-new", "-key", key, "-subj", `/CN=${cn}`, "-days", "30", "-out", cert, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"], dir);
  return { cert, key };
}

interface CertRequest {
  cn: string;
  groups?: string[];
  usage: "client" | "server";
  /** DNS names and IP addresses (server certificates). */
  dns?: string[];
  ips?: string[];
}

function issue(dir: string, ca: { cert: string; key: string }, name: string, req: CertRequest): { cert: string; key: string } {
  const key = newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const cert = join(dir, `${name}.crt`);
  const subject = [...(req.groups ?? []).map((g) => `/O=${g}`), `/CN=${req.cn}`].join("");
  openssl(["req", "-new", "-key", key, "-subj", subject, "-out", csr], dir);
  const san = [...(req.dns ?? []).map((d) => `DNS:${d}`), ...(req.ips ?? []).map((i) => `IP:${i}`)];
  writeFileSync(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${req.usage === "client" ? "clientAuth" : "serverAuth"}`,
      ...(san.length ? [`subjectAltName=${san.join(",")}`] : []),
    ].join("\n") + "\n",
  );
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", cert], dir);
  return { cert, key };
}

function kubeconfigText(server: string, serverCaPem: string, user: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "certificate-authority-data": b64(serverCaPem) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) } }],
    contexts: [{ name: "test", context: { cluster: "test", user } }],
    "current-context": "test",
  });
}

// ---------------------------------------------------------------------------------------------
// Where it may listen.

function isLoopback(address: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(address) || address === "::1";
}

function checkPlace(netns: string | undefined, address: string): void {
  if (!netns) {
    if (!isLoopback(address)) throw new Error(`control plane: address ${address}: without a netns only a loopback address (the API server must not listen on a real network)`);
    return;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(netns) || !existsSync(`/run/netns/${netns}`)) throw new Error(`control plane: no network namespace /run/netns/${netns} (bash .ci/libvirtd.sh netns-start makes numa-k3s-e2e)`);
  const r = spawnSync("ip", ["-n", netns, "-o", "addr", "show"], { encoding: "utf8" });
  const held = [...(r.stdout ?? "").matchAll(/\sinet6?\s+([0-9a-f.:]+)\//g)].map((m) => m[1]);
  if (!held.includes(address)) throw new Error(`control plane: ${address} is not an address of namespace ${netns} (it has ${held.join(", ") || "none"})`);
}

async function freeLoopbackPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, address, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes.

interface Daemon {
  name: string;
  child: ChildProcess;
  log: string;
  exited: { code: number | null; signal: string | null } | null;
}

const running = new Set<Daemon>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that dies before its afterAll still leaves nothing behind.
  process.on("exit", () => {
    for (const d of running) if (!d.exited) d.child.kill("SIGKILL");
  });
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const name = opts.name ?? "control-plane";
  const netns = opts.netns;
  const address = opts.address ?? "127.0.0.1";
  checkPlace(netns, address);
  const port = opts.port ?? (netns ? 6443 : await freeLoopbackPort(address));
  const deadline = Date.now() + (opts.readyDeadlineMs ?? 5 * 60_000);
  const server = `https://${address.includes(":") ? `[${address}]` : address}:${port}`;

  const dir = mkdtempSync(join(tmpdir(), `numa-k3s-${name}-`));
  const tls = join(dir, "tls");
  mkdirSync(tls, { mode: 0o700 });
  const inNetns = (argv: string[]) => (netns ? ["nsenter", `--net=/run/netns/${netns}`, "--", ...argv] : argv);

  // The CAs as K3s has them: server (serving certificates), client (every client), request header.
  const serverCa = newCa(tls, "server-ca", `numa-k3s-test-server-ca@${name}`);
  const clientCa = newCa(tls, "client-ca", `numa-k3s-test-client-ca@${name}`);
  const requestHeaderCa = newCa(tls, "request-header-ca", `numa-k3s-test-request-header-ca@${name}`);
  const serving = issue(tls, serverCa, "serving-kube-apiserver", {
    cn: "kube-apiserver",
    usage: "server",
    dns: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${CLUSTER_DOMAIN}`],
    ips: [...new Set([address, "127.0.0.1", KUBERNETES_SERVICE_IP])],
  });
  const apiToKubelet = issue(tls, clientCa, "client-kube-apiserver", { cn: "system:apiserver", groups: ["system:masters"], usage: "client" });
  const authProxy = issue(tls, requestHeaderCa, "client-auth-proxy", { cn: REQUEST_HEADER_CN, usage: "client" });
  const serviceKey = newKey(tls, "service");
  // The API server reads a PKCS#8 private key for signing, but verifies only with a public key.
  const servicePub = join(tls, "service.pub");
  openssl(["pkey", "-in", serviceKey, "-pubout", "-out", servicePub], tls);
  const serverCaPem = readFileSync(serverCa.cert, "utf8");

  const clientCredentials = (user: string, groups: string[]): ClientCredentials => {
    const file = user.replace(/[^A-Za-z0-9_.-]/g, "_");
    const c = issue(tls, clientCa, `client-${file}`, { cn: user, groups, usage: "client" });
    const kubeconfig = join(dir, `${file}.kubeconfig`);
    writeFileSync(kubeconfig, kubeconfigText(server, serverCaPem, user, readFileSync(c.cert, "utf8"), readFileSync(c.key, "utf8")), { mode: 0o600 });
    return { ...c, kubeconfig };
  };
  const admin = clientCredentials("system:admin", ["system:masters"]);

  const daemons: Daemon[] = [];
  const start = (daemon: string, argv: string[], cwd = dir): Daemon => {
    const log = join(dir, `${daemon}.log`);
    const fd = openSync(log, "a");
    const [cmd, ...args] = inNetns(argv);
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const d: Daemon = { name: daemon, child, log, exited: null };
    child.on("exit", (code, signal) => {
      d.exited = { code, signal };
      running.delete(d);
    });
    child.on("error", (e) => {
      d.exited = { code: null, signal: e.message };
      running.delete(d);
    });
    daemons.push(d);
    running.add(d);
    installExitHook();
    return d;
  };

  const logs = (lines = 30) => daemons.map((d) => `--- ${d.name}${d.exited ? ` (exited ${d.exited.code ?? d.exited.signal})` : ""}\n${tail(d.log, lines)}`).join("\n");

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The clients of the API server first, the datastore last.
    for (const d of [...daemons].reverse()) {
      if (d.exited) continue;
      d.child.kill("SIGTERM");
      const guard = Date.now() + 30_000;
      while (!d.exited && Date.now() < guard) await sleep(50);
      if (!d.exited) {
        d.child.kill("SIGKILL");
        while (!d.exited) await sleep(50);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const kubectl: ControlPlane["kubectl"] = (args, o = {}) => {
    const [cmd, ...rest] = inNetns([toolPath("kubectl"), `--kubeconfig=${o.kubeconfig ?? admin.kubeconfig}`, ...args]);
    return spawnSync(cmd, rest, { input: o.input, encoding: "utf8", timeout: o.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 });
  };

  /** Polls `ok()` until it holds; fails at once when a daemon has exited, or at the guard. */
  const waitFor = async (what: string, ok: () => boolean) => {
    for (;;) {
      const dead = daemons.find((d) => d.exited);
      if (dead) throw new Error(`control plane ${name}: ${dead.name} exited (${dead.exited!.code ?? dead.exited!.signal}) while waiting for ${what}\n${logs()}`);
      if (ok()) return;
      if (Date.now() > deadline) throw new Error(`control plane ${name}: ${what} not reached before the guard deadline\n${logs()}`);
      await sleep(250);
    }
  };

  try {
    const socket = join(dir, "kine.sock");
    // kine's default SQLite datastore (./db/state.db with its DefaultParams), as K3s starts it; no
    // metrics listener (its default :8080 would collide between tests).
    mkdirSync(join(dir, "db"));
    start("kine", [toolPath("kine"), `--listen-address=unix://${socket}`, "--metrics-bind-address=0"]);
    await waitFor("kine's socket", () => existsSync(socket));

    start("kube-apiserver", [
      toolPath("kube-apiserver"),
      "--storage-backend=etcd3",
      `--etcd-servers=unix://${socket}`,
      `--cert-dir=${join(dir, "temporary-certs")}`,
      "--allow-privileged=true",
      "--enable-bootstrap-token-auth=true",
      "--authorization-mode=Node,RBAC",
      "--anonymous-auth=false",
      `--service-account-signing-key-file=${serviceKey}`,
      `--service-account-key-file=${servicePub}`,
      `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
      `--api-audiences=https://kubernetes.default.svc.${CLUSTER_DOMAIN},k3s`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--service-node-port-range=30000-32767",
      `--advertise-address=${address}`,
      `--secure-port=${port}`,
      `--bind-address=${address}`,
      `--tls-cert-file=${serving.cert}`,
      `--tls-private-key-file=${serving.key}`,
      `--kubelet-certificate-authority=${serverCa.cert}`,
      `--kubelet-client-certificate=${apiToKubelet.cert}`,
      `--kubelet-client-key=${apiToKubelet.key}`,
      "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
      `--requestheader-client-ca-file=${requestHeaderCa.cert}`,
      `--requestheader-allowed-names=${REQUEST_HEADER_CN}`,
      `--proxy-client-cert-file=${authProxy.cert}`,
      `--proxy-client-key-file=${authProxy.key}`,
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-username-headers=X-Remote-User",
      `--client-ca-file=${clientCa.cert}`,
      "--enable-admission-plugins=NodeRestriction",
      "--profiling=false",
    ]);
    await waitFor("the API server's /readyz", () => {
      const r = kubectl(["get", "--raw=/readyz"], { timeoutMs: 30_000 });
      return r.status === 0 && r.stdout.trim() === "ok";
    });

    if (opts.controllers) {
      const c = clientCredentials("system:kube-controller-manager", []);
      start("kube-controller-manager", [
        toolPath("kube-controller-manager"),
        "--controllers=*,tokencleaner",
        `--kubeconfig=${c.kubeconfig}`,
        `--authorization-kubeconfig=${c.kubeconfig}`,
        `--authentication-kubeconfig=${c.kubeconfig}`,
        `--service-account-private-key-file=${serviceKey}`,
        "--allocate-node-cidrs=true",
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        `--cluster-cidr=${CLUSTER_CIDR}`,
        `--root-ca-file=${serverCa.cert}`,
        "--profiling=false",
        "--secure-port=0",
        "--use-service-account-credentials=true",
        `--cluster-signing-kube-apiserver-client-cert-file=${clientCa.cert}`,
        `--cluster-signing-kube-apiserver-client-key-file=${clientCa.key}`,
        `--cluster-signing-kubelet-client-cert-file=${clientCa.cert}`,
        `--cluster-signing-kubelet-client-key-file=${clientCa.key}`,
        `--cluster-signing-kubelet-serving-cert-file=${serverCa.cert}`,
        `--cluster-signing-kubelet-serving-key-file=${serverCa.key}`,
        `--cluster-signing-legacy-unknown-cert-file=${serverCa.cert}`,
        `--cluster-signing-legacy-unknown-key-file=${serverCa.key}`,
        "--leader-elect=false",
      ]);
    }
    if (opts.scheduler) {
      const s = clientCredentials("system:kube-scheduler", []);
      start("kube-scheduler", [
        toolPath("kube-scheduler"),
        `--kubeconfig=${s.kubeconfig}`,
        `--authorization-kubeconfig=${s.kubeconfig}`,
        `--authentication-kubeconfig=${s.kubeconfig}`,
        "--secure-port=0",
        "--profiling=false",
        "--leader-elect=false",
      ]);
    }
    if (opts.controllers) {
      // The serviceaccount controller's first act: the controllers are running, with their rights.
      await waitFor("the controllers (the default ServiceAccount)", () => kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"], { timeoutMs: 30_000 }).status === 0);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    dir,
    server,
    address,
    port,
    netns,
    kubeconfig: admin.kubeconfig,
    serverCa: serverCa.cert,
    clientCa: clientCa.cert,
    kubectl,
    clientCredentials,
    nodeCredentials: (nodeName, addresses) => {
      const client = clientCredentials(`system:node:${nodeName}`, ["system:nodes"]);
      const ips = addresses.filter((a) => /^[0-9.]+$|:/.test(a));
      const serving = issue(tls, serverCa, `serving-kubelet-${nodeName}`, { cn: nodeName, usage: "server", dns: [nodeName, ...addresses.filter((a) => !ips.includes(a))], ips });
      return { ...client, servingCert: serving.cert, servingKey: serving.key };
    },
    logs,
    pids: () => daemons.filter((d) => !d.exited && d.child.pid !== undefined).map((d) => d.child.pid!),
    stop,
  };
}
