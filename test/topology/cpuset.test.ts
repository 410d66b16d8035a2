import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { formatCpuset, MAX_CPUSET_ID, parseCpuset } from "../../topology/cpuset";

describe("parseCpuset", () => {
  const accepted: Array<[string, number[]]> = [
    ["0", [0]],
    ["0-3", [0, 1, 2, 3]],
    ["0,36", [0, 36]],
    ["0-3,8,^2", [0, 1, 3, 8]],
    ["0 , 2 ,4", [0, 2, 4]],
    [" 1-2 ", [1, 2]],
    ["8,0-1,1", [0, 1, 8]],
    // libvirt applies entries in order: an exclusion only removes what came before it
    ["^2,0-3", [0, 1, 2, 3]],
    ["0-17,36-53", [...range(0, 17), ...range(36, 53)]],
    ["5-5", [5]],
  ];
  test.each(accepted)("%j -> %j", (text, ids) => {
    expect(parseCpuset(text)).toEqual(ids);
  });

  const refused: Array<[string, RegExp]> = [
    ["", /is empty/],
    ["   ", /is empty/],
    ["0,,2", /empty entry/],
    ["0,", /empty entry/],
    ["a-b", /'a-b' is not N, N-M or \^N/],
    ["3-1", /'3-1' is descending; write 1-3/],
    ["-1", /'-1' is not/],
    ["1.5", /'1.5' is not/],
    ["^1-3", /excludes single ids only/],
    ["0-1,^0,^1", /selects no id/],
    [`0-${MAX_CPUSET_ID + 1}`, /above/],
  ];
  test.each(refused)("refuses %j", (text, why) => {
    let message = "";
    try {
      parseCpuset(text);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(why);
    expect(message).toContain(`'${text}'`);
    expect(message).not.toContain("\n");
  });
});

describe("formatCpuset", () => {
  const cases: Array<[number[], string]> = [
    [[0], "0"],
    [[0, 1], "0-1"],
    [[0, 1, 2, 3, 36, 37, 38, 39], "0-3,36-39"],
    [[0, 36], "0,36"],
    [[5, 3, 4, 4, 9], "3-5,9"],
    [[], ""],
  ];
  test.each(cases)("%j -> %j", (ids, text) => {
    expect(formatCpuset(ids)).toBe(text);
  });

  test("refuses ids that no cpuset can hold", () => {
    expect(() => formatCpuset([-1])).toThrow(/-1 is not a whole number/);
    expect(() => formatCpuset([1.5])).toThrow(/1.5/);
  });

  test("parse(format(ids)) is the sorted, unique ids", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 120 }), (ids) => {
        const expected = [...new Set(ids)].sort((a, b) => a - b);
        expect(parseCpuset(formatCpuset(ids))).toEqual(expected);
      }),
    );
  });

  test("format is canonical: format(parse(text)) is a fixed point and has no adjacent entries", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 1, maxLength: 60 }), (ids) => {
        const text = formatCpuset(ids);
        expect(formatCpuset(parseCpuset(text))).toBe(text);
        // canonical: no two entries could be merged into one range
        const bounds = text.split(",").map((entry) => entry.split("-").map(Number));
        for (let i = 1; i < bounds.length; i++) {
          expect(bounds[i][0]).toBeGreaterThan(bounds[i - 1][bounds[i - 1].length - 1] + 1);
        }
      }),
    );
  });

  // libvirt's own formatter is the reference for "canonical": pin the test driver's emulator to a
  // set and read back what virsh prints.
  test("matches what virsh prints for the same set", () => {
    const sets: number[][] = [[0, 1], [0, 1, 2, 4], [1, 3, 5, 6], [0, 2, 3, 4, 5, 7]];
    for (const ids of sets) {
      const out = execFileSync(
        "virsh",
        ["-c", "test:///default", `emulatorpin test ${ids.join(",")}; emulatorpin test`],
        { encoding: "utf8" },
      );
      const printed = /\*:\s*(\S+)/.exec(out)?.[1];
      expect(printed).toBe(formatCpuset(ids));
    }
  });
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
