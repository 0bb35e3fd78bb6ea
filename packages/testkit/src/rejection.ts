/** What `promise` rejects with; fails (throws) when it resolves instead. For asserting on errors' kind and text. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure, the call succeeded');
    },
    (error: unknown) => error as Error,
  );
}
