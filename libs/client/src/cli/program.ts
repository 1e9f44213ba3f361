import { TRPCClientError } from "@trpc/client";
import { Argument, Command, CommanderError, Option } from "commander";
import { version } from "../../package.json" with { type: "json" };
import { createAnvilClient } from "../create-client";
import type { AnvilClient } from "../create-client";
import { retrySafely, submitSafely } from "../submit-safely";
import type { Job, JobStatus, SubmitInput } from "../types";
import type { CliEnv } from "./env";
import { CliFailure, EXIT, checkUrl, classify, withoutCredentials } from "./exit-codes";
import { jobDetails, jobLine, serverLines, statusLines, userLines } from "./format";
import { checkOut, jobWaits } from "./job-waits";

/** Where the command writes; a terminal gets a progress bar, anything else plain lines. */
export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /**
   * Told once the command has an image to write (`--out`): from then on a reader of stdout that stops early
   * (`| head -1`) must not end it, or it would end with 0 and no file.
   */
  writesFile?: () => void;
}

/**
 * A numeric option's parser: a number as a person writes one (digits, with a sign and a decimal point; no exponent,
 * hex or spaces), else bad usage that names the option, what was given and what it takes. Commander's own wording
 * ("option '--steps <n>' argument 'abc' is invalid.", then the whole help) said neither what was wanted nor briefly.
 */
const numberFor =
  (flag: string, takes: string) =>
  (value: string): number => {
    if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(value)) {
      throw new CliFailure(`${flag} "${value}" is not a number: it takes ${takes}`, EXIT.usage);
    }
    return Number(value);
  };
/** What --width and --height take. */
const SIZE = "a whole number from 64 to 2048, a multiple of 8";
const STATUSES: JobStatus[] = ["queued", "processing", "complete", "error", "cancelled"];
const statusList = (value: string): JobStatus[] => {
  const list = value.split(",").map((s) => s.trim());
  const bad = list.find((s) => !STATUSES.includes(s as JobStatus));
  if (bad !== undefined) {
    throw new CliFailure(
      `--status "${bad}" is not a status: it takes ${STATUSES.join(", ")}, one or several comma-separated`,
      EXIT.usage,
    );
  }
  return list as JobStatus[];
};

interface SubmitOptions {
  wait?: boolean;
  out?: string;
  negative?: string;
  width?: number;
  height?: number;
  steps?: number;
  cfgScale?: number;
  seed?: number;
  distilledCfg?: number;
  sampler?: string;
  scheduler?: string;
  checkpoint?: string;
  module?: string[];
  conversation?: string;
  priority?: number;
  key?: string;
  callback?: string;
}

/** Each `--module` adds one file to the list. */
const collect = (value: string, list: string[] = []): string[] => [...list, value];

const submitInput = (prompt: string, o: SubmitOptions): SubmitInput => ({
  prompt,
  ...(o.negative !== undefined ? { negativePrompt: o.negative } : {}),
  ...(o.width !== undefined ? { width: o.width } : {}),
  ...(o.height !== undefined ? { height: o.height } : {}),
  ...(o.steps !== undefined ? { steps: o.steps } : {}),
  ...(o.cfgScale !== undefined ? { cfgScale: o.cfgScale } : {}),
  ...(o.seed !== undefined ? { seed: o.seed } : {}),
  ...(o.distilledCfg !== undefined ? { distilledCfgScale: o.distilledCfg } : {}),
  ...(o.sampler !== undefined ? { sampler: o.sampler } : {}),
  ...(o.scheduler !== undefined ? { scheduler: o.scheduler } : {}),
  ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
  ...(o.module !== undefined ? { modules: o.module } : {}),
  ...(o.conversation !== undefined ? { conversationId: o.conversation } : {}),
  ...(o.priority !== undefined ? { priority: o.priority } : {}),
  ...(o.key !== undefined ? { idempotencyKey: o.key } : {}),
  ...(o.callback !== undefined ? { callbackUrl: o.callback } : {}),
});

/** What scripts need to know, after the commands in `anvil --help` (README, "The command line"). */
const HELP_AFTER = `
Environment:
  ANVIL_URL    the server (default http://127.0.0.1:3000)
  ANVIL_TOKEN  a user's token or API_TOKEN, when the server asks for one

Exit codes:
  0    done
  1    the job failed, or the server refused the call (not found, conflict, a refused token)
  2    bad usage: the command line, an --out that cannot take the image, an ANVIL_URL that is not Anvil's,
       input the server rejects
  3    the server is unreachable (submit first tries again for 30 s)
  130  Ctrl-C stopped the wait; the job goes on (anvil wait <id>, anvil cancel <id>)

--json prints each answer as JSON on stdout; messages go to stderr.
`;

/** Runs the `anvil` command with `argv` (without node and the script) and resolves with its exit code. */
export async function runCli(argv: string[], env: CliEnv, io: CliIo): Promise<number> {
  const print = (text: string): void => void io.stdout.write(`${text}\n`);
  /** A remark about an answer, for people: on stderr, out of the way of a pipe that reads the answer. */
  const note = (text: string): void => void io.stderr.write(`anvil: ${text}\n`);
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
  let exitCode: number = EXIT.done;
  let client: AnvilClient | undefined;
  const anvil = () => (client ??= createAnvilClient({ url: checkUrl(env.url), token: env.token }));

  const program = new Command("anvil")
    .description(
      `Anvil from the command line. Server: ANVIL_URL (now ${withoutCredentials(env.url)}); token: ANVIL_TOKEN.`,
    )
    .option("--json", "print JSON, for scripts")
    .version(version, "-V, --version", "print the version of anvil (of @anvil/client)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's refusals begin as the command's own messages do, not with a bare "error:".
      outputError: (s, write) => write(s.replace(/^error: /, "anvil: ")),
    })
    // Each command's --help lists --json too: it is given anywhere on the line (anvil get <id> --json).
    .configureHelp({ showGlobalOptions: true })
    .addHelpText("after", HELP_AFTER);
  const json = () => Boolean(program.opts<{ json?: boolean }>().json);
  /** A command's answer: its JSON with `--json`, else the lines `text` makes of it for people. */
  const show = <T>(value: T, text: (value: T) => string | string[]): void => {
    if (json()) printJson(value);
    else [text(value)].flat().forEach(print);
  };

  const { sayRetryOnce, sayIfStopped, follow } = jobWaits({ io, env, anvil, json, print, printJson });

  program
    .command("submit")
    .description("submit an image job")
    .argument("<prompt>", "what to draw")
    .option("-w, --wait", "wait for the job: its place in line, a progress bar, then the image")
    .option("-o, --out <file>", "write the image there (implies --wait)")
    .option("--negative <text>", "negative prompt")
    .option("--width <n>", "width in pixels (64..2048, a multiple of 8)", numberFor("--width", SIZE))
    .option("--height <n>", "height in pixels (64..2048, a multiple of 8)", numberFor("--height", SIZE))
    .option("--steps <n>", "sampling steps (1..150)", numberFor("--steps", "a whole number from 1 to 150"))
    .option("--cfg-scale <n>", "CFG scale (0..30)", numberFor("--cfg-scale", "a number from 0 to 30"))
    .option(
      "--distilled-cfg <n>",
      "distilled CFG scale, for Flux (0..30; default 3.5)",
      numberFor("--distilled-cfg", "a number from 0 to 30"),
    )
    .option(
      "--seed <n>",
      "seed (0..4294967295; -1: random)",
      numberFor("--seed", "a whole number from 0 to 4294967295, or -1 for a random one"),
    )
    .option("--sampler <name>", "sampler name")
    .option("--scheduler <name>", "noise schedule (e.g. Simple, Karras; default: Forge's choice)")
    .option("--checkpoint <title>", "checkpoint to load")
    .option("--module <file>", "VAE or text encoder the checkpoint needs (Flux: repeat for each)", collect)
    .option("--conversation <id>", "add the job to this conversation")
    .option(
      "--priority <n>",
      "before or after your other waiting jobs (-10..10, above 0 for admins; default 0)",
      numberFor("--priority", "a whole number from -10 to 10 (above 0: admins only)"),
    )
    .option("--key <key>", "idempotency key: the same key again answers with the same job")
    .option("--callback <url>", "POST the finished job to this URL (a webhook)")
    .action(async (prompt: string, options: SubmitOptions) => {
      const input = submitInput(prompt, options);
      const onRetry = sayRetryOnce();
      if (!options.wait && options.out === undefined) {
        const job = await submitSafely(anvil(), input, { onRetry });
        return json() ? printJson(job) : print(job.id);
      }
      await checkOut(options.out);
      await sayIfStopped();
      // The id first, on stderr (stdout keeps the progress, then the file or URL): a wait that fails or is stopped
      // still leaves the job findable.
      const sayId = (job: Job) => void io.stderr.write(`anvil: submitted job ${job.id}\n`);
      await follow((waiting) => anvil().submitAndWait(input, { ...waiting, onRetry }), options.out, sayId);
    });

  program
    .command("wait")
    .description("wait for a job submitted earlier: its place in line, a progress bar, then the image")
    .argument("<id>", "the job's id")
    .option("-o, --out <file>", "write the image there")
    .action(async (jobId: string, options: { out?: string }) => {
      await checkOut(options.out);
      if ((await anvil().jobs.get.query({ jobId })).status === "queued") await sayIfStopped();
      await follow((waiting) => anvil().wait(jobId, waiting), options.out);
    });

  program
    .command("get")
    .description("one job as it is now, without waiting: its line as in jobs, its attempt, image and error")
    .argument("<id>", "the job's id")
    .action(async (jobId: string) => {
      show(await anvil().jobs.get.query({ jobId }), (job) => jobDetails(job, env.url));
    });

  program
    .command("status")
    .description("the queue and the GPUs at a glance")
    .action(async () => {
      const status = await anvil().queue.status.query();
      show(status, statusLines);
    });

  program
    .command("servers")
    .description("admins: the servers of this Anvil (a cluster): which leads, their versions, when each was last seen")
    .action(async () => show(await anvil().cluster.servers.query(), (list) => serverLines(list)));

  program
    .command("jobs")
    .description("list jobs, oldest first (--newest: the latest first)")
    .addOption(new Option("--status <list>", "only these statuses, comma-separated").argParser(statusList))
    .option("--limit <n>", "at most this many (1..500)", numberFor("--limit", "a whole number from 1 to 500"), 50)
    .option("--newest", "the latest first")
    .option("--owner <name>", "admins: only this user's jobs (an admin sees everyone's)")
    .action(async (options: { status?: JobStatus[]; limit: number; newest?: boolean; owner?: string }) => {
      const page = await anvil().jobs.list.query({
        limit: options.limit,
        ...(options.status ? { status: options.status } : {}),
        ...(options.newest ? { order: "newest" as const } : {}),
        ...(options.owner !== undefined ? { owner: options.owner } : {}),
      });
      if (json()) return printJson(page);
      // Only the jobs' lines on stdout, so that a pipe (`| cut -c1-36`, `| wc -l`) reads jobs alone: what is said
      // about them (none, or more than shown) goes to stderr.
      const { items, nextCursor } = page;
      if (items.length === 0) {
        // Whose: "No jobs yet" of a user named by --owner read as if nobody had any (or the name were known).
        const of = options.owner !== undefined ? ` of ${options.owner}` : "";
        return note(options.status ? `No ${options.status.join(" or ")} jobs${of}` : `No jobs${of || " yet"}`);
      }
      items.map(jobLine).forEach(print);
      // Say that there are more than shown, and how to get at them.
      const hint = options.newest ? "narrow with --status, or raise --limit" : "--newest shows the latest first";
      if (nextCursor) note(`… and more after these ${items.length}: ${hint}`);
    });

  program
    .command("cancel")
    .description("cancel a queued or running job, or with --waiting all your waiting jobs at once")
    .argument("[id]", "the job's id")
    .option("--waiting", "every job of yours still waiting (one already generating goes on)")
    .option("--conversation <id>", "with --waiting: only the waiting jobs of this conversation")
    .option("--everyone", "with --waiting, admins: every user's waiting jobs (the line cleared)")
    .option("--owner <name>", "with --waiting, admins: that user's waiting jobs (a removed user's, say)")
    .action(
      async (
        jobId: string | undefined,
        options: { waiting?: boolean; conversation?: string; everyone?: boolean; owner?: string },
      ) => {
        if (!options.waiting) {
          if (options.conversation !== undefined || options.everyone || options.owner !== undefined) {
            throw new CliFailure("--conversation, --everyone and --owner go with --waiting", EXIT.usage);
          }
          if (jobId === undefined) throw new CliFailure("cancel needs a job id, or --waiting", EXIT.usage);
          return show(await anvil().jobs.cancel.mutate({ jobId }), jobLine);
        }
        if (jobId !== undefined) throw new CliFailure("cancel takes a job id or --waiting, not both", EXIT.usage);
        // Said in the command's own words: the server's refusal names its fields (conversationId, everyone).
        const scopes = [
          options.conversation !== undefined && "--conversation",
          options.everyone && "--everyone",
          options.owner !== undefined && "--owner",
        ].filter((scope) => typeof scope === "string");
        if (scopes.length > 1) {
          throw new CliFailure(
            `cancel --waiting takes one of --conversation, --everyone and --owner, not ${scopes.join(" and ")}`,
            EXIT.usage,
          );
        }
        const cancelled = await anvil().jobs.cancelWaiting.mutate({
          ...(options.conversation !== undefined ? { conversationId: options.conversation } : {}),
          everyone: options.everyone ?? false,
          ...(options.owner !== undefined ? { owner: options.owner } : {}),
        });
        show(cancelled, ({ jobIds }) =>
          jobIds.length === 0
            ? // Named: a name mistyped into another ("carl" for carol) is anyone's with nothing waiting; one no user
              // can have ("Carol") the server refuses with its rule.
              `No waiting jobs${options.owner === undefined ? "" : ` of ${options.owner}`} to cancel`
            : [`cancelled ${jobIds.length} waiting ${jobIds.length === 1 ? "job" : "jobs"}:`, ...jobIds],
        );
      },
    );

  program
    .command("retry")
    .description("run a job in error or cancelled again, as a new job")
    .argument("<id>", "the job's id")
    .action(async (jobId: string) => {
      const job = await retrySafely(anvil(), jobId, { onRetry: sayRetryOnce() });
      show(job, jobLine);
    });

  program
    .command("move")
    .description("move a waiting job to the front or the back of your waiting jobs")
    .argument("<id>", "the job's id")
    .addArgument(new Argument("<where>", "front or back").choices(["front", "back"]))
    .option("--global", "admins: with front, the very next job to start, whoever's it is")
    .action(async (jobId: string, to: "front" | "back", options: { global?: boolean }) => {
      const job = await anvil().jobs.move.mutate({ jobId, to, ...(options.global ? { global: true } : {}) });
      show(job, jobLine);
    });

  program
    .command("pause")
    .description("admins: start no more jobs (running ones finish) until resume")
    .action(async () => show(await anvil().queue.pause.mutate(), statusLines));

  program
    .command("resume")
    .description("admins: start jobs again after a pause")
    .action(async () => show(await anvil().queue.resume.mutate(), statusLines));

  const users = program.command("users").description("manage users (admins only)");
  users
    .command("add")
    // The API calls it users.create: one who types that finds it too.
    .alias("create")
    .description("make a user; prints its token, shown this once")
    .argument("<name>", "1..64 of a-z 0-9 . _ @ -")
    .option("--admin", "the user may manage users and see every job")
    .action(async (name: string, options: { admin?: boolean }) => {
      const user = await anvil()
        .users.create.mutate({ name, admin: Boolean(options.admin) })
        .catch((error: unknown) => {
          // The server's words for a name taken name the API's users.update: here, the commands that do it.
          if (!(error instanceof TRPCClientError) || !error.message.startsWith(`name ${name} is taken (`)) throw error;
          throw new CliFailure(
            `name ${name} is taken (anvil users update ${name} --admin or --no-admin changes their rights; for a ` +
              `new token, anvil users remove ${name}, then anvil users add ${name})`,
            EXIT.failed,
          );
        });
      show(user, (u) => `${u.name}${u.admin ? " (admin)" : ""}: token ${u.token}\n(shown this once: keep it)`);
    });
  users
    .command("list")
    .description("every user: admin or not, when made, how many of their jobs wait now")
    .action(async () => {
      show(await anvil().users.list.query(), userLines);
    });
  users
    .command("update")
    .description("make a user an admin (--admin), or no longer one (--no-admin), at once")
    .argument("<name>", "the user's name")
    .option("--admin", "the user may manage users and see every job")
    .option("--no-admin", "the user is no longer an admin (their own token and jobs stay)")
    .action(async (name: string, options: { admin?: boolean }) => {
      // Neither flag given: nothing says which way, and a default either way would change a user unasked.
      if (options.admin === undefined) {
        throw new CliFailure("users update needs --admin or --no-admin", EXIT.usage);
      }
      const user = await anvil().users.update.mutate({ name, admin: options.admin });
      show(user, (u) => (u.admin ? `${u.name} is an admin` : `${u.name} is not an admin`));
    });
  users
    .command("remove")
    .description("remove a user: its token stops working at once; its jobs stay (waiting ones still take turns)")
    .argument("<name>", "the user's name")
    .option("--cancel-waiting", "cancel the user's waiting jobs too (one already generating goes on)")
    .action(async (name: string, options: { cancelWaiting?: boolean }) => {
      const removed = await anvil().users.remove.mutate({ name });
      if (!options.cancelWaiting) return show(removed, ({ name: gone }) => `removed ${gone}`);
      // Removed first: the user's token stops working, so the cancellation takes what they had submitted.
      const cancelled = await anvil()
        .jobs.cancelWaiting.mutate({ owner: removed.name })
        .catch((error: unknown) => {
          const failure = classify(error, env);
          // No answer, or the server's 503: the cancellations may land all the same.
          const outcome =
            failure.code === EXIT.unreachable
              ? "whether their waiting jobs were cancelled is not known"
              : "their waiting jobs were not cancelled";
          throw new CliFailure(
            `${removed.name} is removed, but ${outcome}: ${failure.message} ` +
              `(anvil cancel --waiting --owner ${removed.name} tries again)`,
            failure.code,
          );
        });
      show({ name: removed.name, cancelledJobIds: cancelled.jobIds }, ({ name: gone, cancelledJobIds: ids }) => [
        `removed ${gone}`,
        ...(ids.length === 0
          ? ["no waiting jobs of theirs to cancel"]
          : [`cancelled ${ids.length} waiting ${ids.length === 1 ? "job" : "jobs"} of theirs:`, ...ids]),
      ]);
    });

  // After a refusal of the command line, where to read how to use it: one line, not the whole help (30 lines that
  // pushed the refusal itself off a small terminal).
  const hintHelp = (command: Command, path: string): void => {
    command.showHelpAfterError(`(anvil ${path}--help shows how to use it)`);
    for (const sub of command.commands) hintHelp(sub, `${path}${sub.name()} `);
  };
  hintHelp(program, "");

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version are not failures; anything else commander refuses is a usage error.
      exitCode = error.exitCode === 0 ? EXIT.done : EXIT.usage;
    } else {
      const failure = classify(error, env);
      io.stderr.write(`anvil: ${failure.message}\n`);
      exitCode = failure.code;
    }
  }
  return exitCode;
}
