// Pulumi's mock runtime with a recorder: the tests and `npm run render` run the real program
// offline and read back every resource it registered, with its inputs as the engine would get them.
//
// Order matters (docs/architecture.md, "Testing"): call startMockRuntime BEFORE the modules that create resources
// are loaded, then `await import(...)` the program; a module imported statically runs first and
// then silently talks to no mock at all.
import * as pulumi from "@pulumi/pulumi";

/** One registered resource as the mock saw it. */
export interface RecordedResource {
  /** Type token, e.g. `command:remote:Command`, `numa-k3s:libvirt:NumaPinnedVm`. */
  type: string;
  name: string;
  /** Inputs as the mock received them: secrets still wrapped (see unwrapSecrets). */
  inputs: Record<string, unknown>;
  /** false for components. */
  custom: boolean;
  /** URN of the parent, when the resource has one other than the stack. */
  parent?: string;
  /** URNs of the resources it depends on (dependsOn, with a component expanded to its children,
   * and the resources its input Outputs came from), as the engine is told. */
  dependencies?: string[];
  /** Properties whose changes the engine is told to ignore (the ignoreChanges option). */
  ignoreChanges?: string[];
  urn?: string;
}

export interface MockRuntimeOptions {
  project: string;
  stack: string;
  /** Stack config, keys with their namespace (`numa-k3s:layout`), values as Pulumi stores them
   * (strings; objects as JSON text). */
  config?: Record<string, string>;
  /** Config keys whose values are secret (`pulumi config set --secret`). */
  secretConfigKeys?: string[];
  /**
   * stdout of a `command:remote:Command` (default ""). A HostCheck needs the host's capture here,
   * or its `verified` rejects and the host's VMs never register (see hostCheckStdout).
   */
  commandStdout?: (resource: RecordedResource) => string | undefined;
}

/** The sig key and value Pulumi wraps a secret in when it serializes a property. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** The RandomPassword result offline: recognisable (so a test can look for it in everything
 * rendered), never a real credential. */
export const offlinePassword = (name: string, length = 32) => `offline-${name}-`.padEnd(length, "x");

/** Invoke tokens the mock answers; any other token throws (a missing mock should be loud). */
export const HANDLED_CALLS = ["pulumi:pulumi:getStack"] as const;

let recorded: RecordedResource[] = [];
let errors: Error[] = [];
let listening = false;

/**
 * Errors the program raised where nothing awaited them: an apply that threw (HostCheck's
 * `verified` when the live host differs), a resource whose inputs could not resolve. Under the real
 * engine these fail the run; under the mock they are collected here instead of killing the process,
 * so that a test can assert on them and render can print them as one line each.
 */
export function programErrors(): Error[] {
  return errors;
}

/** Everything registered since startMockRuntime, in registration order. */
export function recordedResources(): RecordedResource[] {
  return recorded;
}

/** Install the mocks (preview = false, so every apply runs) and start a new recording. */
export function startMockRuntime(opts: MockRuntimeOptions): void {
  recorded = [];
  errors = [];
  if (!listening) {
    listening = true;
    process.on("unhandledRejection", (reason) => {
      const error = reason instanceof Error ? reason : new Error(String(reason));
      // One failing apply rejects several promises of the same Output: keep one entry per error.
      if (!errors.includes(error)) errors.push(error);
    });
  }
  if (opts.config) pulumi.runtime.setAllConfig(opts.config, opts.secretConfigKeys);
  // The mock interface does not say which parent a resource has; the monitor's request does.
  // registerResource calls newResource synchronously, so the parent read here belongs to it.
  let nextParent: string | undefined;
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const resource: RecordedResource = { type: args.type, name: args.name, inputs: args.inputs ?? {}, custom: args.custom ?? false };
      if (nextParent) resource.parent = nextParent;
      recorded.push(resource);
      const state: Record<string, unknown> = { ...resource.inputs };
      if (args.type === "command:remote:Command" || args.type === "command:local:Command") {
        state.stdout = opts.commandStdout?.(resource) ?? "";
        state.stderr = "";
      }
      // The engine generates it; offline a fixed value stands in (never a real credential).
      if (args.type === "random:index/randomPassword:RandomPassword") state.result = offlinePassword(args.name, Number(resource.inputs.length ?? 32));
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      if (args.token === "pulumi:pulumi:getStack") return { stack: opts.stack };
      throw new Error(`mock runtime: no mock for the invoke ${args.token} (handled: ${HANDLED_CALLS.join(", ")})`);
    },
  };
  void pulumi.runtime.setMocks(mocks, opts.project, opts.stack, false);
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: { getParent(): string; getDependenciesList(): string[]; getIgnorechangesList(): string[] }, callback: (err: unknown, res: { getUrn(): string } | undefined) => void): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    nextParent = req.getParent() || undefined;
    const index = recorded.length;
    const dependencies = req.getDependenciesList();
    const ignoreChanges = req.getIgnorechangesList();
    const done = register(req, (err, res) => {
      if (res && recorded[index]) {
        recorded[index].urn = res.getUrn();
        recorded[index].dependencies = dependencies;
        if (ignoreChanges.length > 0) recorded[index].ignoreChanges = ignoreChanges;
      }
      callback(err, res);
    });
    nextParent = undefined;
    return done;
  };
}

/**
 * Resolves once the program has registered everything it is going to: Pulumi's own queue of
 * outstanding RPCs, drained (it refills while applies register more resources; it is re-read until
 * it stays the same).
 */
export async function settle(): Promise<void> {
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  let count = -1;
  while (count !== recorded.length) {
    count = recorded.length;
    if (waitForRPCs) await waitForRPCs();
    await new Promise((r) => setImmediate(r));
  }
}

/** The value of an Output (rejects when the apply that makes it threw). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // An apply that throws rejects the promise behind the Output; apply() on it would never call
    // back, so listen on that promise directly.
    // Its isKnown/isSecret promises reject with the same error; they are marked handled here, or
    // Node reports them as unhandled once the test has moved on, and that kills the test process.
    const internal = output as unknown as { promise(): Promise<T>; isKnown: Promise<boolean>; isSecret: Promise<boolean> };
    internal.isKnown.catch(() => undefined);
    internal.isSecret.catch(() => undefined);
    internal.promise().then(resolve, reject);
  });
}

function isSecretWrapper(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG_VALUE;
}

/**
 * `value` with every secret wrapper replaced by what it holds, and the paths of the secrets
 * (`connection`, `connection.privateKey`, `items[2]`), so that a render can print the rest and
 * write `[secret]` where these were.
 */
export function unwrapSecrets(value: unknown): { value: unknown; secretPaths: string[] } {
  const secretPaths: string[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (isSecretWrapper(v)) {
      secretPaths.push(path);
      return walk(v.value, path);
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, path === "" ? k : `${path}.${k}`)]));
    }
    return v;
  };
  return { value: walk(value, ""), secretPaths };
}

/** `value` with every secret replaced by `placeholder`: what a render may print. */
export function redactSecrets(value: unknown, placeholder = "[secret]"): unknown {
  // A secret map (a Secret's stringData) keeps its keys: which keys a Secret holds is what a
  // reviewer checks, and no key name is a credential.
  if (isSecretWrapper(value)) {
    const inner = value.value;
    if (typeof inner === "object" && inner !== null && !Array.isArray(inner) && !isSecretWrapper(inner))
      return Object.fromEntries(Object.keys(inner).map((k) => [k, placeholder]));
    return placeholder;
  }
  if (Array.isArray(value)) return value.map((x) => redactSecrets(x, placeholder));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, redactSecrets(x, placeholder)]));
  }
  return value;
}

/** A commandStdout that answers by resource name (e.g. a HostCheck's command, named by
 * `HostCheck.commandName`, with the host's capture) and "" for every other command. */
export function stdoutByName(byName: Record<string, string>): (resource: RecordedResource) => string | undefined {
  return (resource) => byName[resource.name];
}

/**
 * A kubeconfig as K3s writes it, with no real credential in it: what the kubeconfig read-back
 * answers offline (render, program tests), so that the Kubernetes provider and everything after
 * it can be shown.
 */
export const OFFLINE_KUBECONFIG = `apiVersion: v1
clusters:
- cluster: {certificate-authority-data: T0ZGTElORQ==, server: "https://127.0.0.1:6443"}
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: T0ZGTElORQ==, client-key-data: T0ZGTElORQ==}
`;

/**
 * How the remote commands answer when no host exists: each host check with the host's committed
 * capture (`captures`: host name -> XML), the kubeconfig read-back with OFFLINE_KUBECONFIG,
 * every other command with "".
 */
export function offlineAnswers(captures: Record<string, string>, names: { hostCheck: (host: string) => string; kubeconfig: string }): (resource: RecordedResource) => string | undefined {
  return (r) => {
    for (const [host, xml] of Object.entries(captures)) if (r.name === names.hostCheck(host)) return xml;
    if (r.name === names.kubeconfig) return OFFLINE_KUBECONFIG;
    return undefined;
  };
}

/** The recorded resource called `name`; throws naming the ones there are (a test's typo shows). */
export function resourceNamed(resources: readonly RecordedResource[], name: string): RecordedResource {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource ${name} among ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

/** Alias of settle, under the name the tests of other components use. */
export const waitForOutputs = settle;
