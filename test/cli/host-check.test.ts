// host-check against a shipped stack: its hypervisor address is a placeholder, which is named
// instead of dialled (no ssh runs: it would only time out).
import { join } from "node:path";
import { main } from "../../cli/host-check";
import { InputError } from "../../common/user-error";

const root = join(__dirname, "../..");

describe("npm run host-check", () => {
  it("refuses a shipped stack's documentation address before ssh, naming the key and the fix", () => {
    let error: unknown;
    try {
      main(["--stack", "single"], undefined, root);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^host numa-01: ssh\.address = 192\.0\.2\.10: a documentation address \(RFC 5737\).*pulumi config set --path 'numa-k3s:hosts\[N\]\.ssh\.address'/);
  });
});
