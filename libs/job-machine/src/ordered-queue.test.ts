import { describe, expect, it } from "vitest";
import { OrderedQueue } from "./ordered-queue";

describe("OrderedQueue", () => {
  it("gives positions 1..n in arrival order", () => {
    const queue = new OrderedQueue();
    ["a", "b", "c"].forEach((id) => queue.push(id));
    expect(["a", "b", "c"].map((id) => queue.position(id))).toEqual([1, 2, 3]);
    expect(queue.peek()).toBe("a");
  });

  it("moves everyone behind up by one when a job leaves from the middle", () => {
    const queue = new OrderedQueue();
    ["a", "b", "c", "d"].forEach((id) => queue.push(id));
    queue.remove("b");
    expect(["a", "b", "c", "d"].map((id) => queue.position(id))).toEqual([1, 0, 2, 3]);
    expect([...queue]).toEqual(["a", "c", "d"]);
  });

  it("keeps exact positions across growth and compaction with 10,000 jobs", () => {
    const queue = new OrderedQueue();
    const ids = Array.from({ length: 10_000 }, (_, i) => `job-${i}`);
    ids.forEach((id) => queue.push(id));
    for (let i = 0; i < 6_000; i++) queue.remove(queue.peek()!);
    expect(queue.size).toBe(4_000);
    expect(queue.position("job-6000")).toBe(1);
    expect(queue.position("job-9999")).toBe(4_000);
    queue.push("late");
    expect(queue.position("late")).toBe(4_001);
  });

  it("ignores a second push of the same job", () => {
    const queue = new OrderedQueue();
    queue.push("a");
    queue.push("a");
    expect(queue.size).toBe(1);
  });

  it("puts a job back at the very front, ahead of every other, with exact positions", () => {
    const queue = new OrderedQueue();
    for (const id of ["a", "b", "c"]) queue.push(id);
    queue.remove("a");
    queue.unshift("x");
    queue.unshift("y");
    expect([...queue]).toEqual(["y", "x", "b", "c"]);
    expect(["y", "x", "b", "c"].map((id) => queue.position(id))).toEqual([1, 2, 3, 4]);
    expect(queue.peek()).toBe("y");
    expect(queue.remove("x")).toBe(2);
    expect(queue.remove("c")).toBe(3);
    expect(queue.remove("c")).toBe(0);
    queue.push("c");
    expect(queue.position("b")).toBe(2);
    expect(queue.size).toBe(3);
  });
});
