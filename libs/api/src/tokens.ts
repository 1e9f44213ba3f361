import { createHash, randomBytes } from "node:crypto";

/** SHA-256 in hex: what is stored of a token or a session id (random 32 bytes need no slow hash). */
export const sha256 = (secret: string): string => createHash("sha256").update(secret).digest("hex");

/** A new random secret: 32 bytes, base64url. */
export const newSecret = (): string => randomBytes(32).toString("base64url");
