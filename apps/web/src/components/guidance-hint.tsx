import { Show } from "solid-js";

/** The CFG scale SDXL checkpoints are usually run at. */
export const SDXL_CFG = 7;

/** Whether a checkpoint's name suggests SDXL (`sd_xl_base_1.0`, `juggernautXL_v9`): a guess, so it only suggests. */
export const looksLikeSdxl = (checkpoint: string): boolean => /xl/i.test(checkpoint);

/**
 * What CFG 1 means, under the guidance fields; for a checkpoint that looks like SDXL while CFG is 1, a suggestion to
 * use {@link SDXL_CFG} instead (shown, never applied behind the user's back).
 */
export function GuidanceHint(props: { id: string; checkpoint: string; cfgScale: string; onUseSdxlCfg: () => void }) {
  const suggest = () => looksLikeSdxl(props.checkpoint) && Number(props.cfgScale) === 1;
  return (
    <div class="field-hint guidance-hint" classList={{ "field-hint--suggest": suggest() }} id={props.id}>
      <Show when={!suggest()}>
        <p>
          CFG 1 suits Flux, which takes its guidance from Distilled CFG. At CFG 1 Forge ignores the negative prompt and
          SDXL images come out weak: use about 5–7 for SDXL.
        </p>
      </Show>
      {/* Only the suggestion is said as it appears, in a status there all along (a region added with its words is
          not read); the general hint coming back as CFG leaves 1 is not read out again at each change. */}
      <p role="status">
        {suggest()
          ? "This checkpoint looks like SDXL: at CFG 1 it ignores the negative prompt and gives weak images."
          : ""}
      </p>
      <Show when={suggest()}>
        <button type="button" class="button button--small" onClick={() => props.onUseSdxlCfg()}>
          Use CFG {SDXL_CFG}
        </button>
      </Show>
    </div>
  );
}
