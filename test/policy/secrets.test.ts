// What secrets-stay-secret calls a credential in the clear: one table of texts a command, an env
// file, a config or a chart value may hold, in every quoting, and their harmless neighbours (a
// variable, a command's output, a file path, a redacted value, a YAML keyword).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { credentialIn, K3S_CREDENTIAL_FLAGS } from "../../policy/rules/secrets";

const ROOT = resolve(__dirname, "../..");

const CREDENTIALS = [
  "K3S_TOKEN=s3cr3t-t0ken k3s agent",
  "K3S_TOKEN='s3cr3t-t0ken' k3s agent",
  'K3S_TOKEN="s3cr3t-t0ken" k3s agent',
  "K3S_TOKEN=$'s3cr3t-t0ken' k3s agent",
  "export K3S_TOKEN=s3cr3t-t0ken",
  "env K3S_AGENT_TOKEN=s3cr3t k3s server",
  "K3S_VPN_AUTH='name=tailscale,joinKey=tskey-abc'",
  "k3s agent --token s3cr3t-t0ken",
  "k3s agent --token=s3cr3t-t0ken",
  "k3s agent --token 's3cr3t-t0ken'",
  'k3s server --agent-token="s3cr3t"',
  "k3s agent -s https://10.0.0.1:6443 -t s3cr3t-t0ken",
  "k3s server --etcd-s3-secret-key wJalrXUtnFEMI",
  '{"K3S_TOKEN":"s3cr3t-t0ken"}',
  "secretKey: hunter2-hunter2",
  "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG",
  "MINIO_ROOT_PASSWORD=hunter2",
  "mysql --password hunter2 db",
  "llama-server --metrics --api-key sk-live-0123456789 --flash-attn on",
  "K10" + "0".repeat(64) + "::server:abcdef123456",
  "cluster-token czNjcjN0LXQwa2Vu",
  "postgres://temporal:hunter2@db:5432/temporal",
  "-----BEGIN RSA PRIVATE KEY-----",
  "client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRF",
];

const HARMLESS = [
  'K3S_TOKEN="$TOKEN" k3s agent',
  "K3S_TOKEN=${TOKEN} k3s agent",
  'K3S_TOKEN="$(cat /etc/rancher/k3s/cluster-token)"',
  ': "${AWS_SECRET_ACCESS_KEY:?}"',
  'printf \'user = "%s:%s"\\n\' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"',
  "token-file: /etc/rancher/k3s/cluster-token",
  "k3s agent --token-file /etc/rancher/k3s/cluster-token",
  "k3s agent --token \"$K3S_TOKEN\"",
  "secrets-encryption: true",
  "automountServiceAccountToken: false",
  "password: ''",
  "password: [secret]",
  "password:",
  "existingSecret: temporal-db",
  "if [[ $token == x ]]; then :; fi",
  "sort -t , -k 2 list",
  "https://example.org:8443/path",
];

test.each(CREDENTIALS)("a credential in the clear: %s", (text) => {
  expect(credentialIn(text)).not.toBeNull();
});

test.each(HARMLESS)("no credential of its own: %s", (text) => {
  expect(credentialIn(text)).toBeNull();
});

test("every K3s flag the rule knows as a credential is a flag of the pinned K3s (test/fixtures/k3s/k3s-flags.json)", () => {
  const flags = JSON.parse(readFileSync(resolve(ROOT, "test/fixtures/k3s/k3s-flags.json"), "utf8")) as { server: string[]; agent: string[] };
  const known = new Set([...flags.server, ...flags.agent]);
  // -t is the short form of --token (pkg/cli/cmds/agent.go: Name "token,t").
  for (const f of K3S_CREDENTIAL_FLAGS.filter((f) => f !== "t")) expect([f, known.has(f)]).toEqual([f, true]);
});
