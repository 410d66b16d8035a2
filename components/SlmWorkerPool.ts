// The finance ensemble on the cluster: one llama.cpp server per model, each a Guaranteed pod on
// whole cores of the VM the plan put it on, a Service per model and the `ensemble` ConfigMap the
// consensus workflow reads. Everything is built by slm/ (pure); this file only checks that the
// models fit and hands the objects to the cluster's provider.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { NodeNeighbour, SlmVm, TEMPORAL_WORKER, VmFit, checkCapacity } from "../slm/capacity";
import { ENSEMBLE_CONFIGMAP, K8sObject, SLM_NAMESPACE, deploymentOf, ensembleConfigMap, namespaceOf, serviceEndpoint, serviceOf } from "../slm/manifests";
import { SLM_CONFIG_KEY, SlmConfig } from "../slm/model-spec";

export interface SlmWorkerPoolArgs {
  /**
   * The pool's config, parsed (slm/model-spec.ts parseSlmConfig; slm/ensemble.ts withDefaultModels
   * for the layout's default ensemble): the llama.cpp image pinned by digest, the lake's endpoint
   * and credentials Secret for s3:// sources, and the models with their VM, cores and weight.
   * Decides how many resources exist, so a plain value. A model's change replaces its pod
   * (Recreate); its name is the Deployment's and the Service's (`slm-<name>`).
   */
  config: SlmConfig;
  /**
   * The SLM VMs of the stack as the plan placed them (the lock's entries) and their K3s role: the
   * node selector (hostname, host, NUMA node), the CPU per core, and the allocatable the models
   * are checked against. A model naming another VM is refused.
   */
  vms: SlmVm[];
  /** The cluster's provider (K3sControlPlane.provider). */
  provider: pulumi.ProviderResource;
  /** Namespace of the servers, the Services and the ConfigMap; created here. Default `slm`. */
  namespace?: string;
  /**
   * What else every SLM VM runs, by requests, counted before the models. Default: the Temporal
   * worker DaemonSet (2 CPU / 4096 MiB). [] when the layout runs no worker on the SLM VMs.
   */
  neighbours?: NodeNeighbour[];
  /**
   * The lake's S3 credentials (DataLake's `credentials`, a secret): the pool writes them into
   * the Secret `config.lake.credentialsSecret` of its namespace (keys AWS_ACCESS_KEY_ID,
   * AWS_SECRET_ACCESS_KEY), which the fetch containers read. Without it that Secret must exist.
   */
  lakeCredentials?: pulumi.Input<{ accessKeyId: string; secretAccessKey: string }>;
  /** Key the errors name (default `numa-k3s:slm`). */
  configKey?: string;
}

/**
 * Children (all through `provider`): the namespace `<name>-ns`; the lake credentials Secret
 * `<name>-lake-credentials` (with `lakeCredentials`); per model the Deployment `<name>-<model>`
 * and the Service `<name>-<model>-svc`; the ConfigMap `<name>-ensemble`.
 * Refuses at construction (preview) with one line when a VM's models do not fit.
 */
export class SlmWorkerPool extends pulumi.ComponentResource {
  /** model -> in-cluster URL of its server. */
  readonly endpoints: Record<string, string>;
  /** Namespace and name of the ensemble ConfigMap. */
  readonly ensemble: { namespace: string; name: string };
  /** Every object the pool creates, as given to the provider (for render's k8s/). */
  readonly objects: K8sObject[];
  /** Per VM: the models' CPU and memory against its allocatable. */
  readonly fits: VmFit[];

  constructor(name: string, args: SlmWorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    const namespace = args.namespace ?? SLM_NAMESPACE;
    const fits = checkCapacity(args.config.models, args.vms, args.neighbours ?? [TEMPORAL_WORKER], args.configKey ?? SLM_CONFIG_KEY);
    super("numa-k3s:slm:SlmWorkerPool", name, { namespace, models: args.config.models.map((m) => m.name) }, opts);
    this.fits = fits;

    const childOpts = { parent: this, provider: args.provider };
    const vmByName = new Map(args.vms.map((v) => [v.placement.name, v]));
    const ns = namespaceOf(namespace);
    const nsResource = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: ns.metadata }, childOpts);
    const inNamespace = { ...childOpts, dependsOn: [nsResource] };
    const lake = args.config.lake;
    const credentials =
      args.lakeCredentials && lake
        ? [
            new k8s.core.v1.Secret(
              `${name}-lake-credentials`,
              {
                metadata: { name: lake.credentialsSecret, namespace, labels: { "app.kubernetes.io/part-of": "slm-ensemble", "app.kubernetes.io/managed-by": "numa-k3s" } },
                type: "Opaque",
                stringData: pulumi.secret(
                  pulumi.output(args.lakeCredentials).apply((c) => ({ AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey })),
                ),
              },
              inNamespace,
            ),
          ]
        : [];
    const servers = { ...childOpts, dependsOn: [nsResource, ...credentials] };

    const objects: K8sObject[] = [ns];
    const endpoints: Record<string, string> = {};
    for (const model of args.config.models) {
      const deployment = deploymentOf(model, vmByName.get(model.vm)!, args.config, namespace);
      const service = serviceOf(model, namespace);
      new k8s.apps.v1.Deployment(`${name}-${model.name}`, { metadata: deployment.metadata, spec: deployment.spec as k8s.types.input.apps.v1.DeploymentSpec }, servers);
      new k8s.core.v1.Service(`${name}-${model.name}-svc`, { metadata: service.metadata, spec: service.spec as k8s.types.input.core.v1.ServiceSpec }, inNamespace);
      objects.push(deployment, service);
      endpoints[model.name] = serviceEndpoint(model, namespace);
    }
    const configMap = ensembleConfigMap(args.config.models, namespace);
    new k8s.core.v1.ConfigMap(`${name}-ensemble`, { metadata: configMap.metadata, data: configMap.data as Record<string, string> }, inNamespace);
    objects.push(configMap);

    this.objects = objects;
    this.endpoints = endpoints;
    this.ensemble = { namespace, name: ENSEMBLE_CONFIGMAP };
    this.registerOutputs({ endpoints, ensemble: this.ensemble });
  }
}
