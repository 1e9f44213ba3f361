import { createHmac } from "node:crypto";

/** What a fingerprint is made from: a constant, keyed with the secret, so that it tells secrets apart but none of them. */
const FINGERPRINT_MESSAGE = "anvil webhook secret fingerprint";

/**
 * What the cluster's lease records of WEBHOOK_SECRET (see ClusterRole): the first 16 hex digits of
 * HMAC-SHA256(secret, "anvil webhook secret fingerprint"), or "none" when it is unset. Two servers with the same
 * secret have the same fingerprint; the fingerprint does not give the secret away.
 */
export const webhookSecretFingerprint = (secret: string | undefined): string =>
  secret === undefined ? "none" : createHmac("sha256", secret).update(FINGERPRINT_MESSAGE).digest("hex").slice(0, 16);
