// numa-guard: the numa-k3s policy pack. Only the pack itself is here; the policies are in
// rules/policies.ts (tested from the root jest), the checks in rules/*.ts.
import "./modules";
import "./secret-aware";
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules/policies";

new PolicyPack("numa-guard", { enforcementLevel: "mandatory", policies });
