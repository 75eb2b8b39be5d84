/**
 * postgres.js 3.4.9 can throw from one of its own timers after the database server restarted
 * (porsager/postgres#1154: "Cannot read properties of null (reading 'write')" in connection.js). The
 * pool recovers on the next query, so that one error must not take the process down; anything else
 * uncaught still does.
 */
export function surviveDatabaseRestarts(log: (message: string) => void = console.error): void {
  process.on('uncaughtException', (error) => {
    const known = error instanceof TypeError && error.message.includes("reading 'write'") && /postgres[\\/]src[\\/]connection/.test(error.stack ?? '');
    if (known) {
      log(`recovered from a postgres.js error after a database restart: ${error.message}`);
      return;
    }
    console.error(error);
    process.exit(1);
  });
}
