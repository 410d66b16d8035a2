// @pulumi/policy 1.21 hands policies every secret already unwrapped, so a policy cannot tell a
// K3s token that is a Pulumi secret from one in the clear. secrets-stay-secret needs exactly that.
// This keeps each secret as the SDK's own Secret instance (what it builds for remediations) in the
// props the policies get; rules/pulumi-resources.ts reads them as "[secret]" where it judges the
// clear text and unwraps them where it needs content.
//
// It replaces deserializeProperties on the SDK's module object: server.js calls it through that
// object (`deserialize_1.deserializeProperties(...)`) for both analyze and analyzeStack. If a
// later SDK changes that, the replacement is not called, secrets read unwrapped, and
// secrets-stay-secret reports secret values as in the clear (fails closed, not open).
// `import = require`, not `import * as`: an interop namespace is a copy, and replacing a function
// on the copy would change nothing the server calls.
import deserialize = require("@pulumi/policy/deserialize");

type Deserialize = (struct: unknown, proxySecrets: boolean) => Record<string, unknown>;
const module_ = deserialize as unknown as { deserializeProperties: Deserialize };
const original = module_.deserializeProperties;

/** The SDK's proxy's own key for its target (proxy.ts getSpecialProxyTarget). */
const TARGET = "__getSpecialProxyTarget";

module_.deserializeProperties = (struct: unknown): Record<string, unknown> => {
  // proxySecrets = true: secrets become Secret instances inside a proxy that unwraps on read; the
  // raw target keeps the instances, which is what the rules want to see.
  const proxied = original(struct, true) as Record<string, unknown>;
  return (proxied[TARGET] as Record<string, unknown> | undefined) ?? proxied;
};
