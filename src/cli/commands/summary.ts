export async function summaryCommand(_argv: string[]): Promise<number> {
  throw new Error('not yet');
}
