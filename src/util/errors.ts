/**
 * An error the user can act on (wrong configuration, missing optional component): entry points
 * print its message as one line, without a stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
