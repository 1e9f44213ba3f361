/** Puts `text` on the clipboard; rejects where the browser does not allow it. */
export const clipboardCopy = async (text: string): Promise<void> => {
  // navigator.clipboard is absent outside a secure context (http:// to another host): that is a refusal too.
  if (!navigator.clipboard) throw new Error("no clipboard");
  await navigator.clipboard.writeText(text);
};

/**
 * Copies `text` with `copy`; where the browser refuses, selects what `box` shows, so that Ctrl+C (or the context
 * menu) takes it as it is. Resolves true when it was copied, false when it was selected instead.
 */
export const copyOrSelect = (
  copy: (text: string) => Promise<void>,
  text: string,
  box: HTMLElement | undefined,
): Promise<boolean> =>
  copy(text).then(
    () => true,
    () => {
      const selection = getSelection();
      if (box && selection) selection.selectAllChildren(box);
      return false;
    },
  );
