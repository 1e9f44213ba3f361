import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { TRPCClientError } from "@trpc/client";
import { describe, expect, it, vi } from "vitest";
import type { Catalog } from "../lib/catalog";
import { Composer } from "./composer";
import type { ComposerRequest } from "./composer";

const catalog: Catalog = {
  checkpoints: {
    items: [
      { title: "flux1-dev.safetensors [abc123]", name: "flux1-dev" },
      { title: "sd_xl_base_1.0.safetensors [31e35c80fc]", name: "sd_xl_base_1.0" },
    ],
  },
  modules: {
    items: [
      { name: "ae.safetensors", filename: "/models/VAE/ae.safetensors" },
      { name: "clip_l.safetensors", filename: "/models/text_encoder/clip_l.safetensors" },
    ],
  },
  samplers: {
    items: [
      { name: "Euler", aliases: ["k_euler"] },
      { name: "DPM++ 2M", aliases: ["k_dpmpp_2m"] },
    ],
  },
  schedulers: {
    items: [
      { name: "automatic", aliases: ["Automatic"] },
      { name: "karras", aliases: ["Karras"] },
      { name: "sgm_uniform", aliases: ["SGM Uniform"] },
    ],
  },
};

const prompt = () => screen.getByRole("textbox", { name: "Prompt" });

/** Renders the composer with its settings open; `send()` submits and gives the request it made. */
const setup = (
  options: { catalog?: Catalog; onSubmit?: (request: ComposerRequest) => Promise<unknown>; admin?: boolean } = {},
) => {
  const onSubmit = vi.fn(options.onSubmit ?? (async (_: ComposerRequest) => undefined));
  render(() => <Composer onSubmit={onSubmit} catalog={options.catalog ?? catalog} admin={options.admin ?? false} />);
  fireEvent.click(screen.getByRole("button", { name: /Settings/ }));
  const send = async () => {
    fireEvent.input(prompt(), { target: { value: "a lighthouse" } });
    fireEvent.click(screen.getByRole("button", { name: "Generate" }));
    await waitFor(() => expect(onSubmit).toHaveBeenCalled());
    return onSubmit.mock.calls.at(-1)?.[0];
  };
  return { send };
};

describe("<ComposerSettings>", () => {
  it("sends the server's defaults by default: CFG 1, distilled CFG 3.5, Euler, Forge's scheduler, no modules", async () => {
    const { send } = setup();
    expect(await send()).toMatchObject({
      cfgScale: 1,
      distilledCfgScale: 3.5,
      sampler: "Euler",
      scheduler: null,
      checkpoint: null,
      modules: [],
    });
  });

  it("sends the guidance as numbers and the chosen sampler and scheduler by name", async () => {
    const { send } = setup();
    fireEvent.input(screen.getByLabelText("CFG scale"), { target: { value: "6.5" } });
    fireEvent.input(screen.getByLabelText("Distilled CFG (Flux)"), { target: { value: "2" } });
    fireEvent.change(screen.getByLabelText("Sampler"), { target: { value: "DPM++ 2M" } });
    fireEvent.change(screen.getByLabelText("Scheduler"), { target: { value: "karras" } });
    expect(await send()).toMatchObject({
      cfgScale: 6.5,
      distilledCfgScale: 2,
      sampler: "DPM++ 2M",
      scheduler: "karras",
    });
  });

  it("lists schedulers by their labels, with Forge's own choice first and only once", () => {
    setup();
    const options = screen.getAllByRole("option", { name: /Automatic|Karras|SGM/ }).map((o) => o.textContent);
    expect(options).toEqual(["Automatic (Forge's choice)", "Karras", "SGM Uniform"]);
  });

  it("gives the number fields the API's bounds, so that their arrows stop there and a screen reader says them", () => {
    setup();
    const bounds = (label: string) => {
      const input = screen.getByLabelText(label);
      return [input.getAttribute("min"), input.getAttribute("max")];
    };
    expect(bounds("Steps")).toEqual(["1", "150"]);
    expect(bounds("Seed")).toEqual(["-1", "4294967295"]);
    expect(bounds("CFG scale")).toEqual(["0", "30"]);
  });

  it("shows the server's refusal of the sampler under Sampler, whole", async () => {
    const message = 'sampler "Eulr" is not known to the backend; known: Euler, DPM++ 2M';
    const { send } = setup({
      onSubmit: () =>
        Promise.reject(TRPCClientError.from({ error: { code: -32600, message, data: { code: "BAD_REQUEST" } } })),
    });
    await send();
    const sampler = screen.getByLabelText("Sampler");
    await waitFor(() => expect(sampler).toHaveAttribute("aria-invalid", "true"));
    expect(sampler).toHaveAccessibleDescription('Sampler "Eulr" is not known to the backend; known: Euler, DPM++ 2M');
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("offers modules only once a checkpoint is chosen, and sends the checked ones with it", async () => {
    const { send } = setup();
    expect(screen.queryByRole("group", { name: "Modules" })).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("Checkpoint"), { target: { value: "flux1-dev.safetensors [abc123]" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "ae.safetensors" }));
    expect(await send()).toMatchObject({
      checkpoint: "flux1-dev.safetensors [abc123]",
      modules: ["/models/VAE/ae.safetensors"],
    });
    fireEvent.change(screen.getByLabelText("Checkpoint"), { target: { value: "" } });
    expect(screen.queryByRole("group", { name: "Modules" })).not.toBeInTheDocument();
    expect(await send()).toMatchObject({ checkpoint: null, modules: [] });
  });

  it("suggests CFG 7 for a checkpoint that looks like SDXL, and changes CFG only when asked", () => {
    setup();
    const cfg = screen.getByLabelText("CFG scale");
    fireEvent.change(screen.getByLabelText("Checkpoint"), {
      target: { value: "sd_xl_base_1.0.safetensors [31e35c80fc]" },
    });
    expect(screen.getByText(/looks like SDXL/)).toBeVisible();
    // The suggestion is what a screen reader hears, in a status; the general hint around it is never in one.
    const spoken = () =>
      [...document.querySelectorAll("[aria-live], [role=status], [role=alert]")].map((e) => e.textContent).join("");
    expect(spoken()).toMatch(/looks like SDXL/);
    expect(cfg).toHaveValue(1);
    fireEvent.click(screen.getByRole("button", { name: "Use CFG 7" }));
    expect(cfg).toHaveValue(7);
    expect(screen.queryByText(/looks like SDXL/)).not.toBeInTheDocument();
    expect(screen.getByText(/CFG 1 suits Flux/)).toBeVisible();
    expect(spoken()).not.toMatch(/CFG 1 suits Flux/);
  });

  it("says under a field why its choices could not be loaded", () => {
    setup({ catalog: { ...catalog, samplers: { error: "The samplers could not be loaded: no backend answered" } } });
    expect(screen.getByLabelText("Sampler")).toHaveAccessibleDescription(
      "The samplers could not be loaded: no backend answered",
    );
    expect(screen.getByRole("option", { name: "Euler" })).toBeInTheDocument();
  });

  it("sends no priority at 0, the server's default, and the chosen one otherwise", async () => {
    const { send } = setup({ admin: true });
    expect(await send()).not.toHaveProperty("priority");
    fireEvent.input(screen.getByLabelText("Priority"), { target: { value: "7" } });
    expect(await send()).toMatchObject({ priority: 7 });
  });

  it("offers admins -10 to 10, and others -10 to 0 with a hint that above 0 is for admins", () => {
    setup({ admin: true });
    expect(screen.getByLabelText("Priority")).toHaveAttribute("max", "10");
    cleanup();
    setup({ admin: false });
    const priority = screen.getByLabelText("Priority");
    expect(priority).toHaveAttribute("min", "-10");
    expect(priority).toHaveAttribute("max", "0");
    expect(priority).toHaveAccessibleDescription(/Above 0 is for admins/);
  });

  it("sends a raised priority of a non-admin, and shows the server's FORBIDDEN under Priority", async () => {
    const message = "priority above 0 is for admins only";
    const { send } = setup({
      onSubmit: () =>
        Promise.reject(TRPCClientError.from({ error: { code: -32603, message, data: { code: "FORBIDDEN" } } })),
    });
    fireEvent.input(screen.getByLabelText("Priority"), { target: { value: "3" } });
    await send();
    const priority = screen.getByLabelText("Priority");
    await waitFor(() => expect(priority).toHaveAttribute("aria-invalid", "true"));
    expect(priority).toHaveAccessibleDescription(/^Priority above 0 is for admins only/);
  });

  it("names a chosen checkpoint in the summary, and none for the loaded model", () => {
    setup();
    const summary = () => screen.getByRole("button", { name: /Settings/ });
    expect(summary()).toHaveTextContent(/1024×1024 · 20 steps · CFG 1$/);
    fireEvent.change(screen.getByLabelText("Checkpoint"), { target: { value: "flux1-dev.safetensors [abc123]" } });
    expect(summary()).toHaveTextContent(/1024×1024 · 20 steps · CFG 1 · flux1-dev$/);
  });

  it("says in the summary when a priority other than 0 is set", () => {
    setup({ admin: true });
    fireEvent.input(screen.getByLabelText("Priority"), { target: { value: "-4" } });
    expect(screen.getByRole("button", { name: /Settings/ })).toHaveTextContent("priority -4");
  });
});
