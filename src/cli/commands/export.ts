export async function exportCommand(_argv: string[]): Promise<number> {
  throw new Error('not yet');
}
