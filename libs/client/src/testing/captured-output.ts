import { Writable } from "node:stream";

/**
 * A stream that keeps what is written, to stand for the command's stdout or stderr; `isTTY` makes the command draw
 * as on a terminal (its progress bar), 80 columns wide.
 */
export const capturedOutput = (isTTY = false) => {
  let text = "";
  const stream = new Writable({
    write: (chunk: Buffer | string, _encoding, done) => {
      text += String(chunk);
      done();
    },
  });
  if (isTTY) Object.assign(stream, { isTTY, columns: 80 });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
};
