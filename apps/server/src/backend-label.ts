/** A backend's URL without credentials or a trailing slash, for metric labels and log lines. */
export function backendLabel(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}
