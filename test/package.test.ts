// What `npm ci` installs runs on the Node.js that package.json's engines allow: a dependency that
// asks for a newer one makes npm warn EBADENGINE on every fresh machine (kubernetes-models 5.1.0
// asked for Node 22 while the project said 20) and may fail at run time.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";

const root = join(__dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { engines?: { node?: string } | string[] }> };

it("every locked package accepts the oldest Node.js package.json allows", () => {
  const oldest = semver.minVersion(pkg.engines.node)!.version;
  const refusing = Object.entries(lock.packages)
    .filter(([path, p]) => path !== "" && p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(oldest, p.engines.node))
    .map(([path, p]) => `${path.replace(/^.*node_modules\//, "")} wants node ${(p.engines as { node: string }).node}`);
  expect(refusing).toEqual([]);
  // And the Node.js running the tests is one package.json allows.
  expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
});
