import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { UNREACHABLE } from "../lib/errors";
import type { ConnectionState } from "../lib/subscription";
import { makeJob } from "../lib/test-support";
import type { Job } from "../lib/types";
import { Composer } from "./composer";
import type { ComposerControl, ComposerRequest } from "./composer";

const badRequest = (fields: string[]) =>
  TRPCClientError.from({
    error: { code: -32600, message: fields.join("; "), data: { code: "BAD_REQUEST", httpStatus: 400, fields } },
  });

const prompt = () => screen.getByRole("textbox", { name: "Prompt" });

/** A composer that sent `text` with Enter and is still sending it: the send ends when `accept` is called. */
const sendingHeld = async (text: string) => {
  let accept: () => void = () => undefined;
  const onSubmit = vi.fn((_: ComposerRequest) => new Promise<void>((resolve) => (accept = resolve)));
  render(() => <Composer onSubmit={onSubmit} />);
  fireEvent.input(prompt(), { target: { value: text } });
  fireEvent.keyDown(prompt(), { key: "Enter" });
  await waitFor(() => expect(screen.getByRole("button", { name: "Sending…" })).toBeDisabled());
  return { onSubmit, accept: () => accept() };
};

describe("<Composer>", () => {
  it("sends nothing into another user's conversation, and says why before anything is typed in vain", () => {
    const onSubmit = vi.fn(async () => undefined);
    const [owner, setOwner] = createSignal<string | undefined>("ann");
    render(() => <Composer onSubmit={onSubmit} othersConversation={owner()} />);
    expect(screen.getByRole("note")).toHaveTextContent(
      "This conversation is ann's: your images go into conversations of your own.",
    );
    fireEvent.input(prompt(), { target: { value: "a fox" } });
    expect(screen.getByRole("button", { name: "Generate" })).toBeDisabled();
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(onSubmit).not.toHaveBeenCalled();
    // Their own conversation: it goes.
    setOwner(undefined);
    expect(screen.queryByRole("note")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Generate" })).toBeEnabled();
  });

  it("disables Generate while the prompt is blank", () => {
    render(() => <Composer onSubmit={async () => undefined} />);
    const send = screen.getByRole("button", { name: "Generate" });
    expect(send).toBeDisabled();
    fireEvent.input(prompt(), { target: { value: "   \n " } });
    expect(send).toBeDisabled();
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    expect(send).toBeEnabled();
  });

  it("shows how much of the prompt's 4,000 characters is used near the limit, and says when it is past it", () => {
    render(() => <Composer onSubmit={async () => undefined} />);
    fireEvent.input(prompt(), { target: { value: "a".repeat(3_000) } });
    expect(screen.queryByText(/characters/)).toBeNull();
    fireEvent.input(prompt(), { target: { value: "a".repeat(3_900) } });
    expect(screen.getByText("3,900 of 4,000 characters")).toBeInTheDocument();
    expect(prompt()).toHaveAttribute("aria-describedby", "prompt-count");
    fireEvent.input(prompt(), { target: { value: "a".repeat(4_001) } });
    expect(screen.getByText(/The prompt is 4,001 characters; at most 4,000/)).toBeInTheDocument();
  });

  it("does not send a prompt past 4,000 characters: it says so under the prompt, in its own words", async () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.input(prompt(), { target: { value: "a".repeat(4_001) } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The prompt is 4,001 characters; at most 4,000 are taken",
    );
    expect(onSubmit).not.toHaveBeenCalled();
    expect(prompt()).toHaveFocus();
    fireEvent.input(prompt(), { target: { value: "a".repeat(4_000) } });
    expect(screen.queryByRole("alert")).toBeNull();
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
  });

  it("tells a screen reader the prompt's length once the typing pauses, not at every keystroke", () => {
    vi.useFakeTimers();
    try {
      const { container } = render(() => <Composer onSubmit={async () => undefined} />);
      const spoken = () =>
        [...container.querySelectorAll("[aria-live], [role=status], [role=alert]")].map((e) => e.textContent).join("");
      for (const length of [3_600, 3_601, 3_602]) {
        fireEvent.input(prompt(), { target: { value: "a".repeat(length) } });
        vi.advanceTimersByTime(200);
        expect(spoken()).not.toMatch(/characters/);
      }
      vi.advanceTimersByTime(1_000);
      expect(spoken()).toContain("3,602 of 4,000 characters");
      expect(screen.getByText("3,602 of 4,000 characters", { selector: "#prompt-count" })).toBeVisible();
    } finally {
      vi.useRealTimers();
    }
  });

  it("says a prompt too long once when it is sent: in its alert, not in the length read out as well", async () => {
    vi.useFakeTimers();
    try {
      const { container } = render(() => <Composer onSubmit={async () => undefined} />);
      fireEvent.input(prompt(), { target: { value: "a".repeat(4_100) } });
      vi.advanceTimersByTime(1_100);
      const region = container.querySelector("[data-testid=prompt-count-spoken]")!;
      expect(region.textContent).toContain("4,100 characters");
      fireEvent.keyDown(prompt(), { key: "Enter" });
      await vi.advanceTimersByTimeAsync(10);
      expect(screen.getByRole("alert")).toHaveTextContent("The prompt is 4,100 characters");
      expect(region.textContent).toBe("");
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps an unsent prompt across a reload of the page, and forgets it once sent", async () => {
    const first = render(() => <Composer onSubmit={async () => undefined} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse, half typed" } });
    first.unmount();
    render(() => <Composer onSubmit={async () => undefined} />);
    expect(prompt()).toHaveValue("a lighthouse, half typed");
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(prompt()).toHaveValue(""));
    cleanup();
    render(() => <Composer onSubmit={async () => undefined} />);
    expect(prompt()).toHaveValue("");
  });

  it("shows what a number field left empty sends: the server's default, in the field and in the summary", async () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.click(screen.getByRole("button", { name: /^Settings/ }));
    const steps = screen.getByLabelText("Steps");
    fireEvent.input(steps, { target: { value: "" } });
    fireEvent.input(screen.getByLabelText("CFG scale"), { target: { value: "" } });
    expect(steps).toHaveAttribute("placeholder", "20");
    expect(screen.getByLabelText("CFG scale")).toHaveAttribute("placeholder", "1");
    expect(screen.getByRole("button", { name: /^Settings/ })).toHaveTextContent(/1024×1024 · 20 steps · CFG 1$/);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    // Nothing is sent for it: the server takes its default.
    expect(onSubmit.mock.calls[0]?.[0]).not.toHaveProperty("steps");
  });

  it("keeps the settings across a reload of the page, and after a send", async () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    const first = render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.click(screen.getByRole("button", { name: /^Settings/ }));
    const small = screen.getByRole("option", { name: "512×512 · Small" }) as HTMLOptionElement;
    fireEvent.change(screen.getByLabelText("Size"), { target: { value: small.value } });
    fireEvent.input(screen.getByLabelText("Steps"), { target: { value: "8" } });
    fireEvent.input(screen.getByLabelText("Seed"), { target: { value: "1234" } });
    expect(screen.getByRole("button", { name: /^Settings/ })).toHaveTextContent(
      /512×512 · 8 steps · CFG 1 · seed 1234$/,
    );
    fireEvent.input(screen.getByLabelText("Seed"), { target: { value: "-1" } });
    // A random seed, the default, is not worth a word.
    expect(screen.getByRole("button", { name: /^Settings/ })).toHaveTextContent(/512×512 · 8 steps · CFG 1$/);
    fireEvent.input(screen.getByLabelText("Steps"), { target: { value: "1" } });
    expect(screen.getByRole("button", { name: /^Settings/ })).toHaveTextContent(/512×512 · 1 step · CFG 1$/);
    fireEvent.input(screen.getByLabelText("Steps"), { target: { value: "8" } });
    fireEvent.input(screen.getByLabelText("Seed"), { target: { value: "1234" } });
    first.unmount();

    render(() => <Composer onSubmit={onSubmit} />);
    expect(screen.getByRole("button", { name: /^Settings/ })).toHaveTextContent("512×512 · 8 steps");
    expect(screen.getByLabelText("Seed")).toHaveValue(1234);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]?.[0]).toMatchObject({ width: 512, height: 512, steps: 8, seed: 1234 });
  });

  it("sends the prompt and settings on Enter, and clears the prompt once accepted", async () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]?.[0]).toMatchObject({ prompt: "a lighthouse", width: 1024, height: 1024, steps: 20 });
    await waitFor(() => expect(prompt()).toHaveValue(""));
  });

  it("keeps what was typed while the last prompt was being sent", async () => {
    const { onSubmit, accept } = await sendingHeld("a lighthouse");
    fireEvent.input(prompt(), { target: { value: "a harbour at night" } });
    accept();
    await waitFor(() => expect(screen.getByRole("button", { name: "Generate" })).toBeEnabled());
    expect(prompt()).toHaveValue("a harbour at night");
    expect(onSubmit).toHaveBeenCalledTimes(1);
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1]?.[0]).toMatchObject({ prompt: "a harbour at night" });
  });

  it("sends a prompt given Enter while the last one was being sent, once that one has gone, and says it will", async () => {
    const { onSubmit, accept } = await sendingHeld("a lighthouse");
    fireEvent.input(prompt(), { target: { value: "a harbour at night" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(screen.getByRole("status")).toHaveTextContent("The next prompt goes once this one has been sent.");
    expect(onSubmit).toHaveBeenCalledTimes(1);
    accept();
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1]?.[0]).toMatchObject({ prompt: "a harbour at night" });
    expect(screen.queryByText("The next prompt goes once this one has been sent.")).not.toBeInTheDocument();
  });

  it("takes Enter pressed again on the prompt being sent for no second prompt", async () => {
    const { onSubmit, accept } = await sendingHeld("a lighthouse");
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
    accept();
    await waitFor(() => expect(prompt()).toHaveValue(""));
    expect(onSubmit).toHaveBeenCalledTimes(1);
  });

  it("keeps the next prompt in the box when the one being sent is refused", async () => {
    let refuse: (error: Error) => void = () => undefined;
    const onSubmit = vi.fn((_: ComposerRequest) => new Promise<void>((_resolve, reject) => (refuse = reject)));
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(screen.getByRole("button", { name: "Sending…" })).toBeDisabled());
    fireEvent.input(prompt(), { target: { value: "a harbour at night" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    refuse(new TypeError("Failed to fetch"));
    await waitFor(() => expect(screen.getByRole("button", { name: "Generate" })).toBeEnabled());
    expect(onSubmit).toHaveBeenCalledTimes(1);
    expect(prompt()).toHaveValue("a harbour at night");
  });

  it("keeps only the new words when they were typed on after the prompt being sent", async () => {
    const { accept } = await sendingHeld("a lighthouse at dusk");
    // A quick typist goes on at once, after the words still in the box.
    fireEvent.input(prompt(), { target: { value: "a lighthouse at duska cat on a sofa" } });
    accept();
    await waitFor(() => expect(screen.getByRole("button", { name: "Generate" })).toBeEnabled());
    expect(prompt()).toHaveValue("a cat on a sofa");
  });

  it("keeps a prompt typed over the one being sent whole, though it begins with the same words", async () => {
    for (const typedOver of ["a lighthouse at dusk, oil painting", "a lighthouse"]) {
      const { onSubmit, accept } = await sendingHeld("a lighthouse");
      // The sent words selected and typed over (or pasted over) with a variation of them.
      (prompt() as HTMLTextAreaElement).setSelectionRange(0, "a lighthouse".length);
      fireEvent(prompt(), new InputEvent("beforeinput", { bubbles: true, inputType: "insertFromPaste" }));
      fireEvent.input(prompt(), { target: { value: typedOver } });
      accept();
      await waitFor(() => expect(screen.getByRole("button", { name: "Generate" })).toBeEnabled());
      expect(prompt()).toHaveValue(typedOver);
      fireEvent.keyDown(prompt(), { key: "Enter" });
      await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
      expect(onSubmit.mock.calls[1]?.[0]).toMatchObject({ prompt: typedOver });
      cleanup();
      localStorage.clear();
    }
  });

  it('takes "cannot be reached" away once the connection is back, and keeps the prompt', async () => {
    const [connection, setConnection] = createSignal<ConnectionState>("live");
    render(() => (
      <Composer onSubmit={() => Promise.reject(new TypeError("Failed to fetch"))} connection={connection()} />
    ));
    setConnection("reconnecting");
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(await screen.findByRole("alert")).toHaveTextContent(UNREACHABLE);
    setConnection("live");
    await waitFor(() => expect(screen.queryByRole("alert")).not.toBeInTheDocument());
    expect(prompt()).toHaveValue("a lighthouse");
  });

  it("does not send on Shift+Enter, which makes a new line", () => {
    const onSubmit = vi.fn(async () => undefined);
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.keyDown(prompt(), { key: "Enter", shiftKey: true });
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("sends the chosen size preset", async () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    render(() => <Composer onSubmit={onSubmit} />);
    fireEvent.click(screen.getByRole("button", { name: /Settings/ }));
    fireEvent.change(screen.getByLabelText("Size"), { target: { value: "1" } });
    fireEvent.input(prompt(), { target: { value: "a tall tower" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalled());
    expect(onSubmit.mock.calls[0]?.[0]).toMatchObject({ width: 832, height: 1216 });
  });

  it("shows the server's field error next to the field it names when the submit is refused", async () => {
    render(() => <Composer onSubmit={() => Promise.reject(badRequest(["steps must be at most 150"]))} />);
    fireEvent.click(screen.getByRole("button", { name: /Settings/ }));
    fireEvent.input(screen.getByLabelText("Steps"), { target: { value: "500" } });
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    const steps = screen.getByLabelText("Steps");
    await waitFor(() => expect(steps).toHaveAttribute("aria-invalid", "true"));
    expect(steps).toHaveAccessibleDescription("Steps must be at most 150");
    expect(prompt()).toHaveValue("a lighthouse");
  });

  it("puts the keyboard focus on the setting the server refused, so that a screen reader says it and why", async () => {
    render(() => <Composer onSubmit={() => Promise.reject(badRequest(["steps must be at most 150"]))} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    prompt().focus();
    fireEvent.keyDown(prompt(), { key: "Enter" });
    const steps = screen.getByLabelText("Steps");
    await waitFor(() => expect(steps).toHaveFocus());
    expect(steps).toHaveAttribute("aria-invalid", "true");
    expect(steps).toHaveAccessibleDescription("Steps must be at most 150");
  });

  it("takes a field's error away once the field is changed, and leaves the others", async () => {
    const refusal = badRequest(["steps must be at most 150", "width must be a multiple of 8"]);
    render(() => <Composer onSubmit={() => Promise.reject(refusal)} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    const steps = screen.getByLabelText("Steps");
    await waitFor(() => expect(steps).toHaveAttribute("aria-invalid", "true"));
    fireEvent.input(steps, { target: { value: "30" } });
    expect(steps).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByText("Steps must be at most 150")).not.toBeInTheDocument();
    expect(screen.getByText("Width must be a multiple of 8")).toBeVisible();
  });

  it("opens the settings to show an error about one of them", async () => {
    render(() => <Composer onSubmit={() => Promise.reject(badRequest(["width must be a multiple of 8"]))} />);
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    expect(await screen.findByText("Width must be a multiple of 8")).toBeVisible();
    expect(screen.getByLabelText("Size")).toHaveAccessibleDescription("Width must be a multiple of 8");
  });

  it("puts the focus in the first setting when the settings open, since they stand before their toggle", () => {
    render(() => <Composer onSubmit={async () => undefined} />);
    const toggle = screen.getByRole("button", { name: /Settings/ });
    toggle.focus();
    fireEvent.click(toggle);
    const first = document.querySelector<HTMLElement>("#composer-settings select, #composer-settings input")!;
    expect(first).toBeVisible();
    expect(first).toHaveFocus();
    // Closed with the toggle, the focus is where the click put it.
    toggle.focus();
    fireEvent.click(toggle);
    expect(toggle).toHaveFocus();
  });

  it("closes the settings on Escape from a field inside them or from their toggle, and focuses the toggle", () => {
    render(() => <Composer onSubmit={async () => undefined} />);
    const toggle = screen.getByRole("button", { name: /Settings/ });
    fireEvent.click(toggle);
    const steps = screen.getByLabelText("Steps");
    steps.focus();
    fireEvent.keyDown(steps, { key: "Escape" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(steps).not.toBeVisible();
    expect(toggle).toHaveFocus();
    fireEvent.click(toggle);
    fireEvent.keyDown(toggle, { key: "Escape" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
  });

  it("closes the settings on Escape from the prompt box too, where the focus stays", () => {
    render(() => <Composer onSubmit={async () => undefined} />);
    const toggle = screen.getByRole("button", { name: /Settings/ });
    fireEvent.click(toggle);
    const prompt = screen.getByLabelText("Prompt");
    prompt.focus();
    fireEvent.keyDown(prompt, { key: "Escape" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(prompt).toHaveFocus();
  });

  it("shows an error about the prompt under the prompt", async () => {
    render(() => <Composer onSubmit={() => Promise.reject(badRequest(["prompt must be at most 4000 characters"]))} />);
    fireEvent.input(prompt(), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    await waitFor(() => expect(prompt()).toHaveAccessibleDescription("Prompt must be at most 4000 characters"));
  });

  it("says an error about the prompt at once, where the focus stays in the prompt box", async () => {
    const refusal = badRequest(["prompt must be at most 4000 characters", "steps must be at most 150"]);
    render(() => <Composer onSubmit={() => Promise.reject(refusal)} />);
    fireEvent.input(prompt(), { target: { value: "x" } });
    prompt().focus();
    fireEvent.keyDown(prompt(), { key: "Enter" });
    expect(await screen.findByRole("alert")).toHaveTextContent("Prompt must be at most 4000 characters");
    expect(prompt()).toHaveFocus();
  });
});

describe("<Composer> reusing a job", () => {
  const reused = (params: Partial<Job["params"]>, prompt = "a koi pond, watercolor") =>
    makeJob({ prompt, status: "complete", params: { ...makeJob().params, ...params } });
  /** A composer on the page, what it submits, and its Reuse. */
  const composerReusing = () => {
    const onSubmit = vi.fn(async (_: ComposerRequest) => undefined);
    let control: ComposerControl | undefined;
    render(() => <Composer onSubmit={onSubmit} control={(c) => (control = c)} />);
    return { onSubmit, reuse: (job: Job) => control?.reuse(job) };
  };

  it("keeps a draft it replaced, with its settings, for Undo until the next prompt is sent", async () => {
    const { onSubmit, reuse } = composerReusing();
    fireEvent.input(prompt(), { target: { value: "my half-written careful prompt" } });
    fireEvent.input(screen.getByLabelText("Steps"), { target: { value: "33" } });
    reuse(reused({ steps: 12 }));
    // Reused again before anything was sent: the draft kept is still one's own, not the first reused prompt.
    reuse(reused({ steps: 14 }, "a heron at dusk"));
    expect(prompt()).toHaveValue("a heron at dusk");
    expect(screen.getByRole("status")).toHaveTextContent("Your draft was replaced by the reused prompt and settings.");
    fireEvent.click(screen.getByRole("button", { name: "Undo" }));
    expect(prompt()).toHaveValue("my half-written careful prompt");
    expect(screen.getByLabelText("Steps")).toHaveValue(33);
    expect(screen.queryByRole("button", { name: "Undo" })).not.toBeInTheDocument();

    // Sent after a Reuse: the draft is not offered back any more.
    reuse(reused({ steps: 12 }));
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(screen.queryByRole("button", { name: "Undo" })).not.toBeInTheDocument();
    // Nothing of one's own in the box: nothing to undo.
    reuse(reused({ steps: 12 }, "a third prompt"));
    expect(screen.queryByRole("button", { name: "Undo" })).not.toBeInTheDocument();
  });

  it("fills the prompt and every setting from the job, and sends them as they are", async () => {
    const { onSubmit, reuse } = composerReusing();
    reuse(
      reused({
        width: 832,
        height: 1216,
        steps: 30,
        seed: 1234,
        cfgScale: 6,
        distilledCfgScale: 3.5,
        sampler: "DPM++ 2M",
        scheduler: "karras",
        negativePrompt: "blurry",
      }),
    );
    expect(prompt()).toHaveValue("a koi pond, watercolor");
    expect(prompt()).toHaveFocus();
    // A fixed seed is said where the closed settings show: every next image would be alike.
    expect(screen.getByRole("button", { name: /Settings/ })).toHaveTextContent(
      /832×1216 · 30 steps · CFG 6 · seed 1234$/,
    );
    fireEvent.keyDown(prompt(), { key: "Enter" });
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]?.[0]).toEqual({
      prompt: "a koi pond, watercolor",
      width: 832,
      height: 1216,
      steps: 30,
      seed: 1234,
      cfgScale: 6,
      distilledCfgScale: 3.5,
      sampler: "DPM++ 2M",
      scheduler: "karras",
      negativePrompt: "blurry",
      checkpoint: null,
      modules: [],
    });
  });

  it("keeps a size no preset has as a Custom choice, and a random seed random", async () => {
    const { onSubmit, reuse } = composerReusing();
    reuse(reused({ width: 640, height: 384, seed: -1 }));
    fireEvent.click(screen.getByRole("button", { name: /Settings/ }));
    expect(screen.getByLabelText("Size")).toHaveDisplayValue("640×384 · Custom");
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit.mock.calls[0]?.[0]).toMatchObject({ width: 640, height: 384 });
    expect(onSubmit.mock.calls[0]?.[0]).not.toHaveProperty("seed");
    // A preset chosen afterwards is sent instead; the custom size stays offered.
    const small = screen.getByRole("option", { name: "512×512 · Small" }) as HTMLOptionElement;
    fireEvent.change(screen.getByLabelText("Size"), { target: { value: small.value } });
    fireEvent.input(prompt(), { target: { value: "again, smaller" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit.mock.calls[1]?.[0]).toMatchObject({ width: 512, height: 512 });
    expect(screen.getByRole("option", { name: "640×384 · Custom" })).toBeInTheDocument();
  });
});
