import type { z } from 'zod';
import type { Viewer } from './auth.ts';
import type { UserError } from './errors.ts';
import { userErrorsFrom } from './graphql.ts';
import { textProblems } from './validation.ts';

/**
 * Who may call a rule at all; throws a DomainError (UNAUTHENTICATED, FORBIDDEN) for anyone else,
 * and answers the caller as the rule needs it (e.g. `requireUser` answers the signed-in user).
 */
export type CallerCheck<Caller> = (viewer: Viewer, input: unknown) => Caller;

export interface RuleSpec<S extends z.ZodType, R, Caller> {
  /** The zod schema of the GraphQL input; its errors become INVALID_INPUT user errors. */
  input: S;
  /**
   * Checked before the input is read, so that outsiders learn nothing, not even which of their
   * inputs would be invalid. Omit it only for rules that anyone may call.
   */
  caller?: CallerCheck<Caller>;
  /** The payload to answer when the input is invalid (`{ event: null, errors }`). */
  invalid(errors: UserError[]): R;
}

/**
 * The opening every mutation rule shares, written once: check the caller, parse the input, answer
 * invalid input with user errors; then `run` the rule on the parsed input and the checked caller.
 * Rules take `(ctx, input)`.
 */
export function mutationRule<Ctx extends { viewer: Viewer }, S extends z.ZodType, R, Caller = undefined>(
  spec: RuleSpec<S, R, Caller>,
  run: (ctx: Ctx, input: z.output<S>, caller: Caller) => Promise<R>,
): (ctx: Ctx, input: unknown) => Promise<R> {
  return async (ctx, input) => {
    const caller = spec.caller?.(ctx.viewer, input) as Caller;
    const parsed = spec.input.safeParse(input);
    if (!parsed.success) return spec.invalid(userErrorsFrom(parsed.error));
    // Fields whose own schema lets any text through (a description, a URL) still get none of this.
    const unsafe = textProblems(input, ['input']);
    if (unsafe.length) {
      return spec.invalid(
        unsafe.map(({ path, problem }) => ({ code: 'INVALID_INPUT', message: problem, field: path })),
      );
    }
    return run(ctx, parsed.data, caller);
  };
}
