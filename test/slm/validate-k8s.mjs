// Validates Kubernetes objects against the Kubernetes OpenAPI schemas with kubernetes-models
// (5.1.0). The package is ESM-only and jest here runs CommonJS, so the tests run this file with
// node: a JSON array of objects on stdin, a JSON array of { kind, name, error } on stdout
// (error null when valid). Unknown kinds are errors: a missing validator must be loud.
import { ConfigMap, Namespace, Pod, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";

const models = { "v1/ConfigMap": ConfigMap, "v1/Namespace": Namespace, "v1/Pod": Pod, "v1/Service": Service, "apps/v1/Deployment": Deployment };

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((object) => {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  const name = object.metadata?.name ?? null;
  if (!Model) return { kind: object.kind, name, error: `no validator for ${object.apiVersion}/${object.kind}` };
  try {
    new Model(object).validate();
    return { kind: object.kind, name, error: null };
  } catch (e) {
    return { kind: object.kind, name, error: String(e.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));
