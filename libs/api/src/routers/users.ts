import { TRPCError } from "@trpc/server";
import { ADMIN_NAME, RESERVED_NAMES } from "../caller";
import { createUserInput, noInput, removeUserInput, updateUserInput } from "../schemas";
import { newSecret, sha256 } from "../tokens";
import { adminProcedure, publicProcedure, router } from "../trpc";

/** What a built-in user is, for messages that say why it cannot be changed. */
const builtIn = (name: string): string =>
  name === ADMIN_NAME ? "API_TOKEN's admin: it goes when API_TOKEN is unset" : "the user when nobody signs in";

/** Refuses a change to a built-in user (CONFLICT: a well-formed call the state forbids); `cannot` says which. */
const refuseBuiltIn = (name: string, cannot: string): void => {
  if (RESERVED_NAMES.has(name)) {
    throw new TRPCError({ code: "CONFLICT", message: `${name} is built in (${builtIn(name)}) and ${cannot}` });
  }
};

/**
 * `users.*`: admins make, list, update and remove users; a token is shown once, at creation, and stored only hashed.
 */
export const usersRouter = router({
  create: adminProcedure.input(createUserInput).mutation(async ({ ctx, input }) => {
    if (RESERVED_NAMES.has(input.name)) {
      throw new TRPCError({ code: "CONFLICT", message: `name ${input.name} is reserved` });
    }
    const token = newSecret();
    const user = await ctx.users.create(input.name, input.admin, sha256(token));
    if (!user)
      throw new TRPCError({
        code: "CONFLICT",
        message:
          `name ${input.name} is taken (users.update makes a user an admin or no longer one; for a new token, ` +
          `remove them and make them again)`,
      });
    return { name: user.name, admin: user.admin, token };
  }),

  list: adminProcedure
    .input(noInput)
    .query(async ({ ctx }) =>
      (await ctx.users.list()).map(({ name, admin, createdAt, waiting }) => ({ name, admin, createdAt, waiting })),
    ),

  /**
   * Makes a user an admin or no longer one, at once: every call reads the user's rights anew, and what they have open
   * (streams, WebSockets, whose calls were admitted with the rights of their start) ends, to be opened again with the
   * new ones. An admin cannot take their own rights away (the last one would lock everyone out; another admin can),
   * and the built-in users are admins by what they are, not by a flag.
   */
  update: adminProcedure.input(updateUserInput).mutation(async ({ ctx, input }) => {
    refuseBuiltIn(input.name, "always an admin: it cannot be changed");
    if (input.name === ctx.user.name && !input.admin) {
      throw new TRPCError({
        code: "CONFLICT",
        message: "You cannot take away your own admin rights; another admin can",
      });
    }
    const updated = await ctx.users.setAdmin(input.name, input.admin);
    if (!updated) throw new TRPCError({ code: "NOT_FOUND", message: `No user named ${input.name}` });
    if (updated.changed) ctx.events.publish({ kind: "revoked", user: input.name });
    const { name, admin, createdAt } = updated.user;
    return { name, admin, createdAt };
  }),

  /**
   * The token and every session stop working at once; the user's jobs and conversations stay. An admin cannot remove
   * themselves (the last one would lock everyone out), nor the built-in users, which no row makes.
   */
  remove: adminProcedure.input(removeUserInput).mutation(async ({ ctx, input }) => {
    // A built-in user first: nobody can remove it, the admin it is included.
    refuseBuiltIn(input.name, "cannot be removed");
    if (input.name === ctx.user.name) {
      throw new TRPCError({ code: "CONFLICT", message: "You cannot remove yourself; another admin can" });
    }
    // In the submission lane: a submission of theirs on its way is stored before it (and in the line once it ends),
    // or refused after it; `jobs.cancelWaiting { owner }` then finds every job of theirs that waits.
    if (!(await ctx.service.removeUser(input.name, () => ctx.users.remove(input.name)))) {
      throw new TRPCError({ code: "NOT_FOUND", message: `No user named ${input.name}` });
    }
    ctx.events.publish({ kind: "revoked", user: input.name, removed: true });
    return { name: input.name };
  }),
});

/** `me`: who the caller is. */
export const meProcedure = publicProcedure
  .input(noInput)
  .query(({ ctx }) => ({ name: ctx.user.name, admin: ctx.user.admin }));
