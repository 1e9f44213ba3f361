/**
 * Whether the keyboard focus fell to the page: nothing holds it, or the element that held it went from the document
 * (its row was drawn anew) or was disabled (the browser takes the focus from a disabled control). Then the next Tab
 * would begin at the top of the page, and the component that caused it puts the focus back near where it was.
 */
export function focusFellToPage(): boolean {
  const focused = document.activeElement;
  return !focused || focused === document.body || !focused.isConnected;
}
