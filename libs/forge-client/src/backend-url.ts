/** A backend's address split from its credentials: only `baseUrl` is ever shown, logged or stored. */
export interface BackendAddress {
  /** E.g. "http://gpu-1:7860" or "https://host/forge": no credentials, no trailing slash. */
  readonly baseUrl: string;
  /** `Basic …` for Forge's `--api-auth user:pass`, from the URL's user info; null without credentials. */
  readonly authorization: string | null;
}

const withoutCredentials = (url: URL): string => {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href.replace(/\/+$/, "");
};

/**
 * Splits `http://user:pass@host:7860/` into its base URL and a Basic authorization header. Node's fetch refuses
 * a URL with credentials, so they must travel in the header. A string that is no URL is kept as it is, trimmed
 * of trailing slashes (the request then fails as Unreachable with "invalid URL").
 */
export const parseBackendUrl = (url: string): BackendAddress => {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return { baseUrl: url.trim().replace(/\/+$/, ""), authorization: null };
  }
  if (parsed.username === "" && parsed.password === "")
    return { baseUrl: withoutCredentials(parsed), authorization: null };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  return {
    baseUrl: withoutCredentials(parsed),
    authorization: `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`,
  };
};

/**
 * The one spelling of a backend's address, for telling whether two entries of a list name the same server:
 * case of the host, a default port, credentials and trailing slashes do not matter.
 */
export const normalizeBackendUrl = (url: string): string => parseBackendUrl(url).baseUrl;
