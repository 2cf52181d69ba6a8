export async function sessionsCommand(_argv: string[]): Promise<number> {
  throw new Error('not yet');
}
