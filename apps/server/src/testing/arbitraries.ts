import fc from "fast-check";

/** Anything a client could send in place of a field: `text`, a number, a boolean, null, or some JSON. */
export const anyValue = (text: fc.Arbitrary<string>) =>
  fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 2 }));
