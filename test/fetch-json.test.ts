import { describe, expect, it } from "vitest";
import { JsonParseError, jsonNestingDepth, parseJsonBounded } from "../src/federation/fetch.js";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("jsonNestingDepth", () => {
  it("counts arrays and objects, not brackets in strings", () => {
    expect(jsonNestingDepth("1")).toBe(0);
    expect(jsonNestingDepth('"[[[{{{"')).toBe(0);
    expect(jsonNestingDepth('{"a":[1,{"b":"]]]}}}"}]}')).toBe(3);
    expect(jsonNestingDepth('["\\"[[["]')).toBe(1);
    expect(jsonNestingDepth('["\\\\", [[]]]')).toBe(3);
    expect(jsonNestingDepth("[[],[[]],[]]")).toBe(3);
  });

  it("stops as soon as the limit is passed", () => {
    expect(jsonNestingDepth(nested(1000), 10)).toBe(11);
  });
});

describe("parseJsonBounded", () => {
  it("parses documents within the bound", () => {
    expect(parseJsonBounded('{"type":"Note","tag":[{"type":"Mention"}]}')).toEqual({
      type: "Note",
      tag: [{ type: "Mention" }],
    });
    expect(parseJsonBounded(nested(64))).toBeInstanceOf(Array);
    expect(parseJsonBounded(nested(3), 3)).toBeInstanceOf(Array);
  });

  it("refuses deeper nesting before parsing", () => {
    const err = (() => {
      try {
        parseJsonBounded(nested(65));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(JsonParseError);
    expect((err as JsonParseError).reason).toBe("too_deep");
    expect(() => parseJsonBounded(nested(4), 3)).toThrow(/deeper than 3/);
    // Far too deep for a recursive walker, refused cheaply.
    expect(() => parseJsonBounded(`${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}`)).toThrow(
      JsonParseError,
    );
  });

  it("reports syntax errors as JsonParseError", () => {
    for (const bad of ["", "{", "{'a':1}", "[1,]", "nul"]) {
      let caught: unknown;
      try {
        parseJsonBounded(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught, bad).toBeInstanceOf(JsonParseError);
      expect((caught as JsonParseError).reason).toBe("syntax");
    }
  });
});
