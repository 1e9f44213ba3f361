/**
 * What the simulator sends when Forge's `samples_format` is jpg or webp: small real images of that format (the
 * simulator has a PNG encoder only; a client must merely tell the format and keep the bytes).
 */
export const SAMPLE_JPEG = Buffer.from(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0o" +
    "MCUoKSgBBwcHCggKEwoKEygaFhooKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKP/AABEIABAAEAMBEQAC" +
    "EQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEV" +
    "UtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeo" +
    "qaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIE" +
    "BAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZ" +
    "WmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T1" +
    "9vf4+fr/2gAMAwEAAhEDEQA/AJ0h0S6hRIEsrNgwPmQJbliMHj55mGPwzxXwbniYNuV5evN+kUfbOeMpybk5S8m5/pBP8Q8qaySWZfsUtsjYUrJb" +
    "vIy5wD5aRMc9MgZx64GaOaNRqOqb8pJfe5L9A54VmovmUn5TS+9zS++1y/5UN68sy/bYrh1+UrJcJGrYwDsSJRjpkDGfXJzXPzSpJR0aXlFv73J/" +
    "qc3POilF8rivKDf3ubf33sNcaxp2Xzd3FukfmPPGs6IgGc5MkykYAznGPeqX1etpone1nytv7osqLwuI00i27JPkbfpywf8Amf/Z",
  "base64",
);

/** A 1×1 lossless WebP. */
export const SAMPLE_WEBP = Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64");
